"""Closing numbers of a run: light-curve scatter and the summary text."""

from __future__ import annotations

import json
import time

import numpy as np

from .runlog import file_only
from .steps.scores import point_to_point_ppm


def light_curve_scatter_ppm(flux: np.ndarray) -> float:
    """Robust point-to-point scatter of a light curve, in ppm of its median.

    ``1.4826 * median(|diff(flux)|) / sqrt(2) / median(flux)``: the MAD of successive
    differences, scaled to a Gaussian sigma of one point.  Transits and slow trends
    barely change successive differences, so this measures the white noise.

    Parameters
    ----------
    flux : array_like
        One light curve (NaN ignored).

    Returns
    -------
    float
        Scatter in parts per million; NaN with fewer than 3 finite points.
    """
    return float(point_to_point_ppm(np.ravel(np.asarray(flux, dtype=float))))


def format_summary(result) -> str:
    """Human-readable closing summary of a :class:`tso3.pipeline.RunResult`."""
    s = result.summary
    lines = ["tso3 finished:"]
    for path in result.products:
        lines.append(f"  wrote {path}")
    if result.plots:
        lines.append(f"  plots in {result.plots[0].parent}/ ({len(result.plots)} PNG)")
    if result.log_file is not None:
        lines.append(f"  log   {result.log_file}")
    lines.append(f"  integrations         {s.get('integrations', 0)}")
    if s.get("flagged_fraction") is None:
        lines.append("  pixels flagged       - (outlier_detection skipped)")
    else:
        lines.append(f"  pixels flagged       {100 * s['flagged_fraction']:.4f} %")
    if "scatter_ppm" in s:
        lines.append(f"  light-curve scatter  {s['scatter_ppm']:.0f} ppm (point-to-point)")
    lines.append(f"  elapsed              {s.get('elapsed_s', 0.0):.1f} s")
    for caveat in s.get("caveats", ()):
        lines.append(f"  caveat: {caveat}")
    return "\n".join(lines)


def summarise(result, obs, outcome, timer, started: float) -> None:
    """Closing numbers into ``result.summary``; timings and summary into the log file."""
    result.summary.update(
        integrations=obs.nints(),
        caveats=list(obs.caveats),
        flagged_fraction=outcome.flagged_fraction if outcome else None,
        timings=dict(timer),
    )
    result.summary["elapsed_s"] = time.perf_counter() - started
    file_only.info("timings [s]: %s", json.dumps(timer.rounded()))
    file_only.info("%s", format_summary(result))
