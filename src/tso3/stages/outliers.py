"""Outlier stage: stream the time series through the rolling-median step in blocks of
integrations, write one crfints per segment, and hand every judged block, with the
rolling median's values at its flagged samples, to the measuring stage.

Default mode: the whole observation of one detector is one series, so the rolling
window runs across segment boundaries and cutting an observation into segments changes
no flag.  Each block of integrations is read with a halo of half a window on both
sides, so every sample of the block sees its full window; blocks are contiguous in the
files (sequential reads) and peak memory is set by the block size, not the observation.
``--mode jwst`` treats each segment as its own series, as jwst does.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import bottleneck as bn
import numpy as np

from ..config import OutlierDetectionParams
from ..dqflags import DO_NOT_USE, OUTLIER_FLAG
from ..io.crfints import primary_header_bytes
from ..io.crfints_stream import CrfintsStream, RowWriter, start_crfints, streaming_pays
from ..io.observation import Observation
from ..io.sampling import sample_integrations
from ..io.segments import Segment
from ..parallel import Cores, background, read_ahead
from ..steps import _movmed
from ..steps.motion import MotionModel, fit_motion, motion_basis, relative_motion
from ..steps.outliers import detect_outliers
from .blocks import Block

log = logging.getLogger(__name__)

#: Integrations the motion patterns are learned from, at most MOTION_BYTES of SCI of them
#: (big frames, e.g. NIS_SOSS: fewer integrations, each with many more pixels).
MOTION_SAMPLE = 200
MOTION_BYTES = 128 * 1024**2
_VARIANCES = ("VAR_POISSON", "VAR_RNOISE", "VAR_FLAT")

#: Bytes of input arrays per block (SCI, ERR, DQ, 3 VAR); temporaries add about 2x.
BLOCK_BYTES = 128 * 1024**2


@dataclass
class OutlierOutcome:
    """What the outlier pass produced and measured, per segment."""

    flagged: dict[tuple[Path, int], np.ndarray]  # Segment.key -> new outliers per integration
    invalid_map: dict[str, np.ndarray]  # detector -> (ny, nx) count of flagged integrations
    n_pixels: int = 0
    n_flagged: int = 0

    @property
    def flagged_fraction(self) -> float:
        return self.n_flagged / self.n_pixels if self.n_pixels else 0.0


def block_length(npix: int, width: int) -> int:
    """Integrations per block of the pass: BLOCK_BYTES of inputs, and at least twice the
    window, so that the halo on each side costs at most ~50 % extra reading (big frames
    such as NIS_SOSS'; smaller frames get longer blocks and less)."""
    return int(max(BLOCK_BYTES // (npix * 4 * 6), 2 * width, 16))


class _LazyOutputs:
    """The crfints of a detector's segments, opened on first use.

    Opening waits (``ready``) for the segment's crfints to be started: a stream to
    write rows to, or a copy of the calints to patch (awaited only before the first
    patch of its own segment).
    """

    def __init__(self, segs: list[Segment], outputs: dict, stack, ready) -> None:
        self._segs, self._outputs, self._stack, self._ready = segs, outputs, stack, ready
        self._open: dict[int, object] = {}

    def __getitem__(self, k: int):
        if k not in self._open:
            seg = self._segs[k]
            stream = self._ready(seg.path) if self._ready is not None else None
            if stream is None:  # a complete copy to patch
                stream = seg.stored_at(self._outputs[seg.path]).arrays("update")
            self._open[k] = self._stack.enter_context(stream)
        return self._open[k]


class _Series:
    """Consecutive segments read as one time series (global integration indices)."""

    def __init__(self, segs: list[Segment], inputs: list, outputs: _LazyOutputs) -> None:
        self.segs, self.inputs, self.outputs = segs, inputs, outputs
        self.bounds = np.cumsum([0] + [s.nints for s in segs])

    @property
    def nints(self) -> int:
        return int(self.bounds[-1])

    def pieces(self, lo: int, hi: int):
        """(segment index, local start, local stop, global start) overlapping lo:hi."""
        for k, (a, b) in enumerate(zip(self.bounds[:-1], self.bounds[1:], strict=True)):
            if a < hi and b > lo:
                yield k, max(lo, a) - a, min(hi, b) - a, max(lo, a)

    def read(self, name: str, lo: int, hi: int) -> np.ndarray | None:
        if not all(arr.has(name) for arr in self.inputs):
            return None
        parts = [self.inputs[k].read(name, a, b) for k, a, b, _ in self.pieces(lo, hi)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def read_dq(self, lo: int, hi: int) -> np.ndarray:
        parts = [self.inputs[k].read_dq_range(a, b) for k, a, b, _ in self.pieces(lo, hi)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


@contextlib.contextmanager
def crfints_copies(targets: dict[Path, Path], keywords: dict):
    """Start every crfints on a background thread (a context manager).

    ``targets``: segment path -> (temporary) crfints path; ``keywords`` go into the
    primary header.  When the observation is too large for the page cache to hold it
    twice, a crfints of the plain layout is started as a stream the pass writes its
    blocks to (:mod:`tso3.io.crfints_stream`: every byte it does not read is copied
    now, the cubes as they are judged, on the same thread); any other is a complete
    copy of its segment that the pass patches.  Yields a function that waits
    for one segment's start and returns its stream (None for a copy), for the ``ready``
    of :class:`OutlierPass`.  Leaving the block waits for every write, so a failed one
    fails the run; an error inside the block cancels what has not started.
    """
    if not targets:
        yield None
        return
    with background("copy") as copier:
        writer = RowWriter(copier) if streaming_pays(list(targets)) else None
        copies = {
            src: copier.submit(
                start_crfints, src, tmp, primary_header_bytes(src, keywords), writer
            )  # fmt: skip
            for src, tmp in targets.items()
        }
        try:
            yield lambda src: copies[src].result()
            for done in copies.values():
                stream = done.result()
                if stream is not None and not stream.entered:  # its cubes: never written
                    raise RuntimeError(f"{stream.destination.name}: no block was written")
            if writer is not None:
                writer.flush()
        finally:  # a run failing early: close the streams the pass never opened
            for done in copies.values():
                done.cancel()
            for done in copies.values():  # exception() waits for a start still running
                if not done.cancelled() and done.exception() is None and done.result():
                    done.result().discard()


class OutlierPass:
    """The outlier pass as the source of a run's blocks (iterate over it once).

    Iterating runs outlier detection on every detector series, block by block: it
    patches the crfints files as it goes and yields every judged block, segment by
    segment, as a :class:`~tso3.stages.blocks.Block` for the measuring stage (the arrays
    as read from the calints, the flat indices that are NaN in the crfints, and the
    rolling-median model's values there; see :mod:`tso3.stages.blocks`).  After the
    iteration :attr:`outcome` holds the counts and maps.

    Parameters
    ----------
    obs : Observation
        The validated input.
    outputs : dict or None
        Segment path -> crfints file.  Without ``ready`` (or where it gives None) the
        file is a copy of the segment (:func:`tso3.io.crfints.write_copy`) patched in
        place.  None (or empty): the blocks are judged and handed over, no file is
        written (``tso3 sweep``).
    params : OutlierDetectionParams
        Step parameters.
    mode : {"default", "jwst"}
        Window across segments (default) or within each segment (jwst).
    progress : callable, optional
        Called with the number of integrations done.
    ready : callable, optional
        Called with a segment path before its crfints is first written; returns the
        :class:`~tso3.io.crfints_stream.CrfintsStream` to write every row to, or None
        once the copy to patch is complete (see :func:`crfints_copies`).
    motions : dict, optional
        :func:`learn_motions` of this observation, when already done.
    """

    def __init__(
        self,
        obs: Observation,
        outputs: dict[Path, Path] | None,
        params: OutlierDetectionParams,
        mode: str = "default",
        *,
        progress: Callable[[int], None] | None = None,
        ready: Callable[[Path], None] | None = None,
        motions: dict[str, MotionModel | None] | None = None,
    ) -> None:
        self.obs, self.outputs, self.params, self.mode = obs, outputs, params, mode
        self.progress, self.ready, self.motions = progress, ready, motions
        self.outcome = OutlierOutcome({}, {})

    def __iter__(self) -> Iterator[Block]:
        obs, params, mode, outcome = self.obs, self.params, self.mode, self.outcome
        if _movmed.kernel_available():
            log.info("rolling median: tso3's compiled kernel")
        else:
            log.info("rolling median: tso3's compiled kernel is not built, using bottleneck "
                     "(slower)")  # fmt: skip
        motions = self.motions
        for det, segs in obs.series.items():
            _, ny, nx = segs[0].shape
            outcome.invalid_map[det] = np.zeros((ny, nx), np.int64)
            if motions is None:
                motions = learn_motions(obs, params, mode)
            motion = motions.get(det)
            if motion is not None:
                log.info("%s: motion term: %d frame-wide pattern(s) in the rolling-median "
                         "model", det or "series", len(motion.basis))  # fmt: skip
            elif mode != "jwst" and params.motion_modes > 0:
                log.info("%s: no frame-wide change above the noise: no motion term",
                         det or "series")  # fmt: skip
            for s in segs:
                outcome.flagged[s.key] = np.zeros(s.nints, np.int64)
            with contextlib.ExitStack() as stack:
                inputs = [stack.enter_context(s.arrays("readonly")) for s in segs]
                # default: one series per detector; jwst: one per segment
                groups = [range(len(segs))] if mode != "jwst" else [[k] for k in range(len(segs))]
                for group in groups:
                    members = [segs[k] for k in group]
                    opened = self.outputs and _LazyOutputs(members, self.outputs, stack,
                                                           self.ready)  # fmt: skip
                    series = _Series(members, [inputs[k] for k in group], opened)
                    yield from _judged_blocks(det, series, params, mode, motion, outcome,
                                              self.progress)  # fmt: skip
            log.info(
                "%s: %d outliers flagged in %d integrations",
                det or "series",
                int(sum(outcome.flagged[s.key].sum() for s in segs)),
                sum(s.nints for s in segs),
            )


def detect_and_write(
    obs: Observation,
    outputs: dict[Path, Path],
    params: OutlierDetectionParams,
    mode: str = "default",
    **options,
) -> OutlierOutcome:
    """The whole pass without a measuring stage (a notebook, the tests): iterate an
    :class:`OutlierPass` (same arguments) to its end and return its outcome."""
    source = OutlierPass(obs, outputs, params, mode, **options)
    for _ in source:
        pass
    return source.outcome


def _judged_blocks(det, series: _Series, params, mode, motion, outcome, progress):
    """Median, flags, NaN matching and crfints patches for one series, block by block;
    yields each segment's part of every judged block."""
    n = series.nints
    _, ny, nx = series.segs[0].shape
    width = params.rolling_window_width
    if width <= 1:
        # jwst: 0 or 1 means no rolling window but one median of the whole segment; the
        # default mode takes the median of its whole series, which a window of 2n - 1
        # gives every integration (windows are truncated, never shifted, at the ends)
        width = 1 if mode == "jwst" else 2 * n - 1
    halo = width // 2 + 1
    static = mode == "jwst" and (width == 1 or n <= 4 * width)  # the segment in one block
    length = n if static else block_length(ny * nx, width)

    def read(block: tuple[int, int]):
        a, b = block
        lo, hi = (0, n) if length >= n else (max(0, a - halo), min(n, b + halo))
        # a block no longer than the window would be taken for a whole segment in jwst
        # mode (its static median: w >= nints); the last block can be that short, so it
        # reaches further back, which changes no window of its own integrations
        lo = max(0, min(lo, hi - width - 1))
        arrays = (series.read("SCI", lo, hi), series.read("ERR", lo, hi), series.read_dq(lo, hi))
        return lo, arrays, {k: series.read(k, a, b) for k in _VARIANCES}

    blocks = [(a, min(n, a + length)) for a in range(0, n, length)]
    cores = Cores()
    for (a, b), (lo, (sci, err, dq), variances) in read_ahead(read, blocks):
        term = None
        if motion is not None:
            # the halo holds every window of the block, so the relative coefficients of
            # the block are exactly those of the whole series
            term = (relative_motion(fit_motion(sci, motion, pool=cores), width), motion.basis)
        res = detect_outliers(
            sci, err, dq, rolling_window_width=width, snr=params.snr,
            good_bits=params.good_bits, mode=mode, motion=term, pool=cores,
        )  # fmt: skip
        core = slice(a - lo, b - lo)
        outliers, median = res.outliers[core], res.median[core]
        floats = [sci[core], err[core]] + [v for v in variances.values() if v is not None]
        changes = _block_changes(floats, dq[core], outliers)
        npix = ny * nx
        flagged = np.flatnonzero(outliers)
        outcome.invalid_map[det] += np.bincount(flagged % npix, minlength=npix).reshape(ny, nx)
        per_int = np.bincount(flagged // npix, minlength=b - a)
        outcome.n_pixels += outliers.size
        outcome.n_flagged += flagged.size
        flat_median = median.reshape(-1)
        for k, la, lb, g in series.pieces(a, b):
            seg = series.segs[k]
            outcome.flagged[seg.key][la:lb] += per_int[g - a : g - a + (lb - la)]
            # flat indices of this segment's part of the block
            start, stop = (g - a) * npix, (g - a + lb - la) * npix
            part = changes.part(start, stop)
            rows = slice(g - a, g - a + lb - la)
            cubes = {"SCI": sci[core][rows], "ERR": err[core][rows]}
            cubes.update((k, None if v is None else v[rows]) for k, v in variances.items())
            if series.outputs:  # no crfints for a sweep; written before the stage owns cubes
                _write_crfints(series.outputs[k], la, cubes, dq[core][rows], part, start)
            keep = _repairable(part.invalid, start, npix, flat_median)
            fill = (keep - start, flat_median[keep])
            yield Block(seg.key, la, cubes, part.invalid - start, fill)
        if progress:
            progress(b - a)


def learn_motions(
    obs: Observation, params: OutlierDetectionParams, mode: str = "default"
) -> dict[str, MotionModel | None]:
    """The motion model of every detector series (none in jwst mode or with 0 modes).

    Needs the arrays only, not the metadata models, so a run can learn them while it
    parses those.
    """
    if mode == "jwst" or params.motion_modes <= 0:
        return {det: None for det in obs.series}
    return {det: learn_motion(segs, params.motion_modes) for det, segs in obs.series.items()}


def learn_motion(segs: list[Segment], n_modes: int) -> MotionModel | None:
    """Frame-wide patterns of one detector series, from a sample of its integrations."""
    _, ny, nx = segs[0].shape
    count = min(MOTION_SAMPLE, max(50, MOTION_BYTES // (4 * ny * nx)))
    sample, _ = sample_integrations(segs, count)
    err, _ = sample_integrations(segs, count, name="ERR")
    noise = bn.nanmedian(err, axis=0)  # NaN where no sample is valid, without a warning
    model = motion_basis(sample, n_modes, noise=noise)
    return model if model.basis.shape[0] else None


#: An integration with more of its frame invalid than this (data lost in downlink, a
#: frame of NaN) is not repaired from the rolling median: that would invent it.
LOST_FRAME_FRACTION = 0.5


def _repairable(invalid: np.ndarray, start: int, npix: int, flat_median: np.ndarray):
    """The invalid samples (flat block indices from ``start``) that the rolling median may
    fill: where it is finite, and not in a mostly lost integration."""
    rows = (invalid - start) // npix
    lost = np.bincount(rows, minlength=1) > LOST_FRAME_FRACTION * npix
    keep = np.isfinite(flat_median[invalid]) & ~lost[rows]
    return invalid[keep]


@dataclass
class _Changes:
    """What the outlier pass changes in one block (flat indices into the block)."""

    dq_index: np.ndarray  # where DQ changes
    dq_value: np.ndarray  # its new value there
    newly_invalid: np.ndarray  # where a value becomes NaN
    invalid: np.ndarray  # every invalid sample (DO_NOT_USE or NaN after the pass)

    def part(self, start: int, stop: int) -> _Changes:
        """The changes at flat indices ``start:stop`` (still block indices)."""

        def inside(index: np.ndarray) -> slice:
            lo, hi = np.searchsorted(index, [start, stop])
            return slice(lo, hi)

        dq = inside(self.dq_index)
        new = inside(self.newly_invalid)
        return _Changes(self.dq_index[dq], self.dq_value[dq], self.newly_invalid[new],
                        self.invalid[inside(self.invalid)])  # fmt: skip


def _block_changes(floats: list[np.ndarray], dq: np.ndarray, outliers: np.ndarray) -> _Changes:
    """DQ and NaN changes of the pass, as :func:`tso3.steps.outliers.match_nans_and_flags`
    would make them.

    New outliers get ``DO_NOT_USE|OUTLIER``; a sample that is NaN in any float array
    gets DO_NOT_USE; every float array becomes NaN where a sample is invalid.  Only the
    indices are computed: the arrays themselves are never rewritten, since the crfints
    are patched only where something changes (a small fraction of the samples).
    """
    anynan = np.isnan(floats[0])
    allnan = anynan.copy()
    for arr in floats[1:]:
        nan = np.isnan(arr)
        anynan |= nan
        allnan &= nan
    flagged_before = (dq & np.uint32(DO_NOT_USE)) != 0
    invalid = anynan | flagged_before | outliers
    touched = np.flatnonzero(outliers | (anynan & ~flagged_before))
    flat_dq = dq.reshape(-1)
    old = flat_dq[touched]
    extra = np.where(outliers.reshape(-1)[touched], np.uint32(OUTLIER_FLAG), np.uint32(0))
    new = old | np.uint32(DO_NOT_USE) | extra
    differs = new != old
    return _Changes(
        touched[differs], new[differs], np.flatnonzero(invalid & ~allnan), np.flatnonzero(invalid)
    )


def _write_crfints(out, first: int, cubes: dict, dq: np.ndarray, part: _Changes, start: int):
    """Rows ``first:`` of a segment's crfints from one judged block: every cube row with
    its changes (a stream), or only the changes (a copy of the calints).  ``part``'s
    flat indices count from ``start``."""
    floats = {name: rows for name, rows in cubes.items() if rows is not None}
    if isinstance(out, CrfintsStream):
        nan_at = part.newly_invalid - start
        for name, rows in floats.items():
            out.write_floats(name, first, rows, nan_at)
        out.write_dq(first, dq, part.dq_index - start, part.dq_value)
    else:
        _patch(out, part, first * dq[0].size - start, list(floats))


def _patch(out, changes: _Changes, shift: int, names: list[str]) -> None:
    """Write only what changed into a crfints: DQ where it differs, NaN where a value
    became invalid.  ``shift`` turns the block's flat indices into the file cube's."""
    if changes.dq_index.size:
        out.write_dq(changes.dq_index + shift, changes.dq_value)
    if changes.newly_invalid.size:
        for name in names:
            out.cube(name).reshape(-1)[changes.newly_invalid + shift] = np.nan
