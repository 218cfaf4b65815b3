"""``tso3 sweep``: score a grid of reduction parameters from one read of the data.

Check the grid (before any data are read) -> load the observation -> the median images
once -> for each distinct outlier setting, one outlier pass (no crfints written) whose
blocks every extraction configuration measures (:class:`tso3.stages.sweep.ExtractionSweep`)
-> white light and binned curves of each configuration in memory -> their scores
(:mod:`tso3.stages.scoring`, the numbers ``tso3 run`` with that configuration gives) ->
``<product>_sweep.ecsv``, ``<product>_sweep.png`` and ``<product>_best.toml``.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
from astropy.table import Table

from .config import Parameters, check_run_options, resolve_parameters
from .errors import OutputExistsError, ParameterError
from .grid import Grid, config_toml, configuration, make_grid, parse_vary, read_grid
from .io.atomic import StagedOutputs, output_folder
from .io.observation import load_observation
from .progress import Progress
from .stages import outliers, whitelight
from .stages.scoring import SCORE_NAMES, light_curve_scores
from .stages.sweep import ExtractionSweep

log = logging.getLogger("tso3")

#: ``--score``: the column a sweep ranks by (smallest first).
SCORES = {
    "p2p": "white_p2p_ppm",
    "mad": "white_mad_ppm",
    "white_mad+spec_mad": "white_mad+spec_mad_ppm",
}


def sweep(
    inputs: Sequence[str | os.PathLike] | str | os.PathLike,
    output_dir: str | os.PathLike = ".",
    *,
    vary: Iterable[str] = (),
    grid: str | os.PathLike | None = None,
    score: str = "mad",
    config: str | os.PathLike | Mapping | None = None,
    overrides: Iterable[str] | Mapping = (),
    mode: str = "default",
    overwrite: bool = False,
    plots: bool = True,
    quiet: bool = False,
) -> Table:
    """Score every configuration of a parameter grid, reading the data once per outlier
    setting.

    Parameters
    ----------
    inputs : path-like or sequence of path-like
        An ASN JSON, calints segment files, or a folder of them (spectroscopy).
    output_dir : path-like
        Where the sweep table, its figure and the best configuration go.
    vary : iterable of str
        ``"step.param=v1,v2,..."`` (:data:`tso3.grid.SWEEPABLE` lists what may vary).
    grid : path-like, optional
        A TOML grid file: one table per step, each parameter a list of values.
    score : {"p2p", "mad", "white_mad+spec_mad"}
        What ranks the configurations: the white light's point-to-point scatter, its MAD
        from a running median, or that plus the median MAD of the binned light curves
        (a binning must then be set: ``white_light.nbins`` ...).
    config, overrides
        The fixed settings of every configuration, as for :func:`tso3.run`.
    mode : {"default", "jwst"}
    overwrite : bool
        Replace earlier sweep products.
    plots : bool
        Write ``<product>_sweep.png``.
    quiet : bool
        No progress bars.

    Returns
    -------
    astropy.table.Table
        One row per configuration: ``rank``, the varied parameters, the scores (ppm).
    """
    check_run_options((), mode)
    if score not in SCORES:
        raise ParameterError("score", f"{score!r} is not one of {', '.join(SCORES)}")
    fixed = resolve_parameters(config, overrides)
    axes = [parse_vary(vary)] + ([read_grid(grid)] if grid is not None else [])
    found = make_grid(*axes, config=config, overrides=overrides, source=grid)
    if score == "white_mad+spec_mad" and not whitelight.binning_requested(fixed.white_light):
        raise ParameterError("score", "white_mad+spec_mad needs binned light curves: set "
                                      "white_light.nbins (or bin_width, resolving_power, "
                                      "bin_edges)")  # fmt: skip
    configs = [configuration(config, overrides, point) for point in found.points()]
    obs = load_observation(inputs)  # every input check (headers only) before any data
    _check_grid_applies(found, obs, score)
    out = Path(output_dir)
    paths = {kind: out / f"{obs.product_name}_{kind}" for kind in
             ("sweep.ecsv", "sweep.png", "best.toml")}  # fmt: skip
    if not plots:
        paths.pop("sweep.png")
    existing = [p for p in paths.values() if p.exists()]
    if existing and not overwrite:
        raise OutputExistsError(f"{existing[0]}: product exists; use --overwrite "
                                "(overwrite=True in Python)")  # fmt: skip
    scores = _measure(obs, configs, mode, quiet)
    table = _table(found, configs, scores, SCORES[score], spectra=not obs.is_imaging)
    best = int(np.argmin(table["rank"]))
    staged = StagedOutputs()  # published together, or not at all
    with output_folder(out):
        try:
            table.write(staged.reserve(paths["sweep.ecsv"]), format="ascii.ecsv")
            staged.reserve(paths["best.toml"]).write_text(
                _best_header(table, best, score) + config_toml(configs[best])
            )
            if plots:
                from .plots import plot_sweep  # matplotlib only when plotting

                plot_sweep(staged.reserve(paths["sweep.png"]), table, list(found.axes),
                           SCORES[score], title=f"{obs.product_name}: {score}")  # fmt: skip
            staged.commit()
        except BaseException:
            staged.abort()
            raise
    where = ", ".join(f"{name}={table[name][best]}" for name in found.axes)
    log.info("best of %d configurations by %s (%.1f ppm): %s; its settings: %s",
             len(table), score, table[SCORES[score]][best], where,
             paths["best.toml"])  # fmt: skip
    return table


def _check_grid_applies(grid: Grid, obs, score: str) -> None:
    """ParameterError when the grid varies a step this kind of observation never runs
    (every configuration would be the same) or the score needs spectra it lacks."""
    unused = ("extract_1d", "white_light") if obs.is_imaging else ("tso_photometry",)
    kind = "imaging" if obs.is_imaging else "spectroscopy"
    for name in grid.axes:
        step = name.split(".")[0]
        if step in unused:
            raise ParameterError(name, f"{obs.product_name} is {kind}, which has no {step} "
                                       "step: nothing would change")  # fmt: skip
    if score == "white_mad+spec_mad" and obs.is_imaging:
        raise ParameterError("score", "white_mad+spec_mad scores spectra: imaging has one "
                                      "light curve (use mad or p2p)")  # fmt: skip


def _measure(obs, configs: list[Parameters], mode: str, quiet: bool) -> list[dict]:
    """The scores of every configuration: one outlier pass per distinct outlier setting,
    each block measured by every extraction configuration of that setting."""
    groups: dict = {}
    for k, params in enumerate(configs):
        groups.setdefault(params.outlier_detection, []).append(k)
    if obs.is_imaging:
        from .stages.photometry_sweep import PhotometrySweep  # photutils only for imaging

        stage_class, step = PhotometrySweep, "tso_photometry"
    else:
        stage_class, step = ExtractionSweep, "extract_1d"
        for seg in ExtractionSweep.wcs_segments(obs):
            seg.open_wcs()
    prepared = stage_class.prepare(obs, mode)
    header = dict(obs.first.primary_header)
    scores: list[dict] = [{} for _ in configs]
    total = sum(s.nints for s in obs.segments) * len(groups)  # the pass counts integrations
    with Progress("sweep", total, enabled=not quiet) as bar:
        for setting, members in groups.items():
            stage = stage_class.plan(obs, [getattr(configs[k], step) for k in members],
                                     mode=mode, prepared=prepared)  # fmt: skip
            motions = outliers.learn_motions(obs, setting, mode)
            source = outliers.OutlierPass(obs, None, setting, mode, progress=bar,
                                          motions=motions)  # fmt: skip
            with stage:
                for block in source:
                    stage.consume(block)
                # each configuration scored as its light curves are made, then dropped
                for k, measured in zip(members, stage.finish(), strict=True):
                    if obs.is_imaging:
                        table = Table({"net_aperture_sum": measured})
                        scores[k] = light_curve_scores(table, prefix="net_aperture_sum")
                        continue
                    curves = whitelight.measure(measured.spectra, header,
                                                configs[k].white_light, mode=mode)  # fmt: skip
                    scores[k] = light_curve_scores(curves.table, curves.binned)
    return scores


def _table(
    grid: Grid, configs: list[Parameters], scores: list[dict], by: str, *, spectra: bool = True
) -> Table:
    """One row per configuration: its varied values (as the run takes them), the scores,
    and the rank by column ``by`` (1 = best; NaN scores last)."""
    table = Table()
    table["config"] = np.arange(1, len(configs) + 1)
    for name in grid.axes:
        step, param = name.split(".")
        values = [getattr(getattr(p, step), param) for p in configs]
        # a list of one (tso_photometry.radius) as the number it is: "3.0", not "[3.0]"
        values = [v[0] if isinstance(v, list) and len(v) == 1 else v for v in values]
        table[name] = [json.dumps(v) if isinstance(v, (list, dict)) or v is None else v
                       for v in values]  # fmt: skip
    for name in SCORE_NAMES if spectra else SCORE_NAMES[:2]:  # photometry: one light curve
        table[name] = [s[name] for s in scores]
    if spectra:
        table["white_mad+spec_mad_ppm"] = table["white_mad_ppm"] + table["spec_mad_ppm"]
    key = np.asarray(table[by], float)
    order = np.argsort(np.where(np.isfinite(key), key, math.inf), kind="stable")
    rank = np.empty(len(table), int)
    rank[order] = np.arange(1, len(table) + 1)
    table["rank"] = rank
    table.meta["score"] = by
    table.meta["varied"] = list(grid.axes)
    return table


def _best_header(table: Table, best: int, score: str) -> str:
    lines = [f"# the best of {len(table)} configurations of a tso3 sweep by {score}:"]
    lines += [f"#   {name} = {table[name][best]}" for name in SCORE_NAMES if name in table.colnames]
    lines.append("# use it with: tso3 run INPUT --config THIS_FILE")
    return "\n".join(lines) + "\n"


__all__ = ["SCORES", "sweep"]
