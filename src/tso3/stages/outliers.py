"""Outlier stage: stream detector-row blocks of the whole time series through the
rolling-median step, write one crfints per segment, keep a sparse repair model.

Default mode: a block holds rows ``y0:y1`` of *every* integration of *every* segment of
one detector, concatenated in time, so the rolling window runs across segment
boundaries and cutting an observation into segments changes no flag.  ``--mode jwst``
runs the step on each segment's part of the block separately, as jwst does.
Peak memory is set by the block size, not by the observation.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..config import OutlierDetectionParams
from ..dqflags import OUTLIER_FLAG
from ..io.observation import Observation
from ..io.segments import FLOAT_CUBES
from ..steps.outliers import detect_outliers, match_nans_and_flags

log = logging.getLogger(__name__)

#: Bytes of input arrays per block (SCI, ERR, DQ, 3 VAR); temporaries add about 2x.
BLOCK_BYTES = 192 * 1024**2


@dataclass
class RepairModel:
    """Rolling-median values at the pixels a segment lost (sparse, per segment).

    ``index`` are flat indices into the segment cube ``(nints, ny, nx)``; ``value`` the
    outlier step's median there (finite only).  Later steps put these values back
    into flagged pixels instead of dropping them.
    """

    shape: tuple[int, int, int]
    index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    value: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    def block(self, start: int, stop: int) -> np.ndarray:
        """Dense model for integrations ``start:stop`` (NaN where no value is known)."""
        _, ny, nx = self.shape
        out = np.full((stop - start, ny, nx), np.nan, np.float32)
        plane = ny * nx
        lo, hi = np.searchsorted(self.index, [start * plane, stop * plane])
        out.reshape(-1)[self.index[lo:hi] - start * plane] = self.value[lo:hi]
        return out


@dataclass
class OutlierOutcome:
    """What the outlier pass produced and measured, per segment."""

    repair: dict[Path, RepairModel]
    flagged: dict[Path, np.ndarray]  # new outliers per integration
    invalid_map: dict[str, np.ndarray]  # detector -> (ny, nx) count of flagged integrations
    n_pixels: int = 0
    n_flagged: int = 0

    @property
    def flagged_fraction(self) -> float:
        return self.n_flagged / self.n_pixels if self.n_pixels else 0.0


def _rows_per_block(nints: int, nx: int, ny: int) -> int:
    per_row = nints * nx * 4 * 6
    return int(max(1, min(ny, BLOCK_BYTES // max(per_row, 1))))


def detect_and_write(
    obs: Observation,
    outputs: dict[Path, Path],
    params: OutlierDetectionParams,
    *,
    mode: str = "default",
    progress: Callable[[int], None] | None = None,
) -> OutlierOutcome:
    """Run outlier detection on every detector series and patch the crfints files.

    Parameters
    ----------
    obs : Observation
        The validated input.
    outputs : dict
        Segment path -> crfints file already created as a copy of the segment
        (see :func:`tso3.io.crfints.copy_with_primary_header`); patched in place.
    params : OutlierDetectionParams
        Step parameters.
    mode : {"default", "jwst"}
        Window across segments (default) or within each segment (jwst).
    progress : callable, optional
        Called with the number of integration-rows done (for progress bars).

    Returns
    -------
    OutlierOutcome
    """
    repair: dict[Path, RepairModel] = {}
    flagged: dict[Path, np.ndarray] = {}
    maps: dict[str, np.ndarray] = {}
    n_pixels = n_flagged = 0
    for det, segs in obs.series.items():
        nints = sum(s.nints for s in segs)
        _, ny, nx = segs[0].shape
        bounds = np.cumsum([0] + [s.nints for s in segs])
        maps[det] = np.zeros((ny, nx), np.int64)
        pieces: dict[Path, list[tuple[np.ndarray, np.ndarray]]] = {s.path: [] for s in segs}
        for s in segs:
            flagged[s.path] = np.zeros(s.nints, np.int64)
        step = _rows_per_block(nints, nx, ny)
        with contextlib.ExitStack() as stack:
            inputs = [stack.enter_context(s.arrays("readonly")) for s in segs]
            outs = [
                stack.enter_context(replace(s, path=outputs[s.path]).arrays("update")) for s in segs
            ]
            for y0 in range(0, ny, step):
                y1 = min(ny, y0 + step)
                rows = np.s_[:, y0:y1, :]
                cubes = {
                    name: np.concatenate(
                        [np.asarray(arr.cube(name)[rows], dtype=np.float32) for arr in inputs]
                    )
                    if all(arr.has(name) for arr in inputs)
                    else None
                    for name in FLOAT_CUBES
                }
                dq = np.concatenate([arr.read_dq(rows) for arr in inputs])
                dq_in = dq.copy()
                was_nan = {k: np.isnan(c) for k, c in cubes.items() if c is not None}
                if mode == "jwst":
                    outliers = np.zeros(dq.shape, bool)
                    median = np.full(dq.shape, np.nan, np.float32)
                    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
                        res = _detect(cubes, dq, params, "jwst", slice(a, b))
                        outliers[a:b], median[a:b] = res.outliers, res.median
                else:
                    res = _detect(cubes, dq, params, "default", slice(None))
                    outliers, median = res.outliers, res.median
                dq[outliers] |= np.uint32(OUTLIER_FLAG)
                invalid = match_nans_and_flags(
                    cubes["SCI"],
                    cubes["ERR"],
                    dq,
                    cubes["VAR_POISSON"],
                    cubes["VAR_RNOISE"],
                    cubes["VAR_FLAT"],
                )
                maps[det][y0:y1] += outliers.sum(axis=0)
                n_pixels += outliers.size
                n_flagged += int(outliers.sum())
                for seg, out, a, b in zip(segs, outs, bounds[:-1], bounds[1:], strict=True):
                    part = np.s_[a:b]
                    flagged[seg.path] += outliers[part].sum(axis=(1, 2))
                    _patch(
                        out,
                        rows,
                        dq_in[part],
                        dq[part],
                        invalid[part],
                        {k: m[part] for k, m in was_nan.items()},
                    )
                    keep = invalid[part] & np.isfinite(median[part])
                    t, yy, xx = np.nonzero(keep)
                    flat = (t * ny + (yy + y0)) * nx + xx
                    pieces[seg.path].append((flat.astype(np.int64), median[part][keep]))
                if progress:
                    progress((y1 - y0) * nints)
            for out in outs:
                out.flush()
        for s in segs:
            idx = (
                np.concatenate([p[0] for p in pieces[s.path]])
                if pieces[s.path]
                else np.zeros(0, np.int64)
            )
            val = (
                np.concatenate([p[1] for p in pieces[s.path]])
                if pieces[s.path]
                else np.zeros(0, np.float32)
            )
            order = np.argsort(idx, kind="stable")
            repair[s.path] = RepairModel(s.shape, idx[order], val[order].astype(np.float32))
        log.info(
            "%s: %d outliers flagged in %d integrations",
            det or "series",
            int(sum(flagged[s.path].sum() for s in segs)),
            nints,
        )
    return OutlierOutcome(repair, flagged, maps, n_pixels, n_flagged)


def _detect(cubes, dq, params: OutlierDetectionParams, mode: str, part: slice):
    return detect_outliers(
        cubes["SCI"][part],
        cubes["ERR"][part],
        dq[part],
        rolling_window_width=params.rolling_window_width,
        snr=params.snr,
        good_bits=params.good_bits,
        mode=mode,
    )


def _patch(out, rows, dq_old, dq_new, invalid, was_nan: dict) -> None:
    """Write only what changed: DQ where it differs, NaN where a value became invalid."""
    y0 = rows[1].start
    changed = np.nonzero(dq_new != dq_old)
    if changed[0].size:
        out.write_dq((changed[0], changed[1] + y0, changed[2]), dq_new[changed])
    for name, nan_before in was_nan.items():
        newly = np.nonzero(invalid & ~nan_before)
        if newly[0].size:
            out.cube(name)[newly[0], newly[1] + y0, newly[2]] = np.nan
