"""The one way integrations reach a measuring stage: blocks, from one of two sources.

A measuring stage (extraction, photometry) is planned once, then consumes
:class:`Block` s of integrations and finishes into its product::

    stage = ExtractionStage.plan(obs, params, mode=..., prepared=...)
    with stage:
        for block in source:          # the outlier pass, or file_blocks(...)
            stage.consume(block)
    spectra = stage.finish()

The source is the outlier pass when it runs (it hands over every block it has judged,
so the crfints are never read back), else :func:`file_blocks`, which reads the files.
Both give the stage the same thing: the arrays as the crfints hold them (NaN wherever
a sample is invalid) and the outlier model's values at the invalid samples (none
without an outlier pass).  Read from a crfints with its repair model,
:func:`file_blocks` gives exactly what the pass gave.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..dqflags import DO_NOT_USE
from ..io.observation import Observation
from ..io.segments import Segment
from ..parallel import BlockWorkers, read_ahead

#: Bytes of one float32 array per block read by :func:`file_blocks`.
BLOCK_BYTES = 48 * 1024**2

_EMPTY_INDEX = np.zeros(0, np.int64)
_EMPTY_VALUES = np.zeros(0, np.float32)


@dataclass
class Block:
    """Integrations ``start:start+nints`` of one segment, as the crfints hold them.

    Attributes
    ----------
    segment : (Path, int)
        The segment's identity in the observation (:attr:`tso3.io.segments.Segment.key`:
        its calints path and EXTVER).
    start : int
        First integration, 0-based within the segment.
    cubes : dict of str to ndarray or None
        ``(n, ny, nx)`` float32 arrays by extension name (SCI, ERR, VAR_*; None where
        the file has none).  They belong to the block: a stage may change them.
    invalid : ndarray of int
        Flat indices into a cube of the samples that are invalid (DO_NOT_USE after the
        outlier pass, or NaN in any float array).  :meth:`settle` makes them NaN.
    fill : (ndarray of int, ndarray of float32)
        The outlier model's flat indices and values at invalid samples, where it has one
        (the rolling median with its motion term); empty without an outlier pass.
    """

    segment: tuple[Path, int]
    start: int
    cubes: dict[str, np.ndarray | None]
    invalid: np.ndarray
    fill: tuple[np.ndarray, np.ndarray] = field(default=(_EMPTY_INDEX, _EMPTY_VALUES))
    _settled: bool = False

    @property
    def nints(self) -> int:
        return len(self.cubes["SCI"])

    def settle(self) -> dict[str, np.ndarray | None]:
        """The cubes with NaN at every invalid sample (done once, in place).

        Left to the stage's worker thread, where it overlaps the next block's reading.
        """
        if not self._settled:
            for cube in self.cubes.values():
                if cube is not None:
                    np.put(cube, self.invalid, np.nan)  # in place, contiguous or not
            self._settled = True
        return self.cubes


class MeasuringStage:
    """A measuring stage: :meth:`prepare`, :meth:`plan`, then :meth:`consume` every block,
    :meth:`finish`, :meth:`write`.

    Consumed blocks run on :class:`tso3.parallel.BlockWorkers` while the source reads
    the next one.  Subclasses say what one block's job is (:meth:`_job`) and build their
    product from ``self._workers.results(segment)`` in :meth:`finish`.  Use as a context
    manager around the consuming.

    Attributes
    ----------
    STEP : str
        The step (its parameter table in :mod:`tso3.config`).
    arrays : tuple of str
        The float extensions the stage measures (a file source reads only these).
    """

    STEP: str = ""
    arrays: tuple[str, ...] = ("SCI",)

    @classmethod
    def prepare(cls, obs: Observation, mode: str = "default") -> object:
        """Array-only work for :meth:`plan`, which a run does while the crfints copies
        start (a median image, a sample of integrations)."""
        return None

    @classmethod
    def wcs_segments(cls, obs: Observation) -> list[Segment]:
        """The segments whose WCS :meth:`plan` or :meth:`finish` evaluates (a run parses
        their ASDF trees in the background); none by default."""
        return []

    @classmethod
    def plan(cls, obs: Observation, params, *, mode: str = "default", prepared=None):
        """Place the apertures (once, on the calints) and return the stage."""
        raise NotImplementedError

    def write(self, product, path: Path, *args, **kwargs) -> None:
        """Write :meth:`finish`'s product to ``path``."""
        raise NotImplementedError

    def __init__(self, obs: Observation) -> None:
        self._obs = obs
        self._workers = BlockWorkers({s.key: s.nints for s in obs.segments})

    @property
    def obs(self) -> Observation:
        """The observation the stage measures."""
        return self._obs

    def __enter__(self):
        self._workers.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._workers.__exit__(*exc)

    def consume(self, block: Block) -> None:
        """Measure ``block`` in the background (it must not be used by the caller after)."""
        self._workers.submit(block.segment, block.start, block.nints, self._job(block))

    def _job(self, block: Block) -> Callable[[], object]:
        raise NotImplementedError

    def finish(self):
        """Wait for every block and build the product."""
        raise NotImplementedError


def invalid_index(floats: Sequence[np.ndarray], dq: np.ndarray) -> np.ndarray:
    """Flat indices of the samples DO_NOT_USE in ``dq`` or NaN in any of ``floats``."""
    invalid = (dq & np.uint32(DO_NOT_USE)) != 0
    for arr in floats:
        invalid |= np.isnan(arr)
    return np.flatnonzero(invalid)


def series_blocks(segs: Sequence[Segment], length: int) -> list[tuple[Segment, int, int]]:
    """Blocks of ``length`` integrations over a series, cut at segment boundaries.

    Returns ``(segment, start, stop)`` with segment-local integrations, in time order.
    """
    bounds = np.cumsum([0] + [s.nints for s in segs])
    pieces = []
    for lo in range(0, int(bounds[-1]), max(1, length)):
        hi = min(int(bounds[-1]), lo + length)
        for seg, a, b in zip(segs, bounds[:-1], bounds[1:], strict=True):
            if a < hi and b > lo:
                pieces.append((seg, int(max(lo, a) - a), int(min(hi, b) - a)))
    return pieces


@dataclass
class RepairModel:
    """Rolling-median values at the pixels a segment lost (sparse, per segment), for
    measuring a crfints again with the outlier pass's repairs (:func:`file_blocks`).

    ``index`` are flat indices into the segment cube ``(nints, ny, nx)``; ``value`` the
    outlier step's median there (finite only).  A run does not keep one (its memory
    would grow with the flagged samples): the pass hands each block's values to the
    stage with the block; :meth:`from_blocks` collects them from blocks.
    """

    shape: tuple[int, int, int]
    index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    value: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    def entries(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Flat indices into the block ``start:stop`` of the cube, and their values."""
        plane = self.shape[1] * self.shape[2]
        lo, hi = np.searchsorted(self.index, [start * plane, stop * plane])
        return self.index[lo:hi] - start * plane, self.value[lo:hi]

    def block(self, start: int, stop: int) -> np.ndarray:
        """Dense model for integrations ``start:stop`` (NaN where no value is known)."""
        out = np.full((stop - start, *self.shape[1:]), np.nan, np.float32)
        index, values = self.entries(start, stop)
        out.reshape(-1)[index] = values
        return out

    @classmethod
    def from_blocks(cls, shape: tuple[int, int, int], blocks: Sequence[Block]) -> RepairModel:
        """The model of one segment of ``shape`` from its blocks' ``fill``."""
        plane = shape[1] * shape[2]
        index = [b.fill[0] + b.start * plane for b in blocks] or [np.zeros(0, np.int64)]
        value = [b.fill[1] for b in blocks] or [np.zeros(0, np.float32)]
        index, value = np.concatenate(index), np.concatenate(value)
        order = np.argsort(index, kind="stable")
        return cls(shape, index[order], value[order])


def file_blocks(
    obs: Observation,
    names: Sequence[str],
    sources: dict[Path, Path] | None = None,
    repair: dict | None = None,
    length: Callable[[int], int] | None = None,
) -> Iterator[Block]:
    """Blocks of every segment read from the files (the source without an outlier pass).

    Parameters
    ----------
    obs : Observation
        The observation.
    names : sequence of str
        The float extensions to read (a stage's ``arrays``); SCI first.
    sources : dict of Path to Path, optional
        Segment path -> file to read (default: the calints; a crfints after the pass).
    repair : dict of Segment.key to RepairModel, optional
        The outlier pass's model per segment: its values at the invalid samples become
        the blocks' ``fill``.
    length : callable, optional
        Integrations per block of a detector series, given the pixels per frame
        (default: :data:`BLOCK_BYTES` of float32 per array).  Blocks run over the whole
        series and are cut at segment boundaries, as the outlier pass cuts them: with
        its ``length`` (:func:`tso3.stages.outliers.block_length`) a stage sees exactly
        the blocks the pass would have handed over (repairs use block medians).

    Yields
    ------
    Block
        Segment by segment, in integration order; the next block is read while the
        caller works on one.
    """
    sources = sources or {}
    repair = repair or {}
    length = length or (lambda npix: max(1, BLOCK_BYTES // (npix * 4)))
    with contextlib.ExitStack() as stack:
        opened = {}
        tasks = []
        for segs in obs.series.values():
            for seg in segs:
                file = seg.stored_at(sources.get(seg.path, seg.path))
                opened[seg.key] = stack.enter_context(file.arrays("readonly"))
            _, ny, nx = segs[0].shape
            tasks += series_blocks(segs, length(ny * nx))

        def read(task) -> Block:
            seg, a, b = task
            arr = opened[seg.key]
            cubes = {name: arr.read(name, a, b) if arr.has(name) else None for name in names}
            floats = [c for c in cubes.values() if c is not None]
            invalid = invalid_index(floats, arr.read_dq_range(a, b))
            model = repair.get(seg.key)
            fill = model.entries(a, b) if model is not None else (_EMPTY_INDEX, _EMPTY_VALUES)
            return Block(seg.key, a, cubes, invalid, fill)

        for _, block in read_ahead(read, tasks):
            yield block
