"""Measuring while the outlier pass goes on.

The outlier pass holds every block of integrations in memory once it has judged it.
A measuring stage (extraction, photometry) can take the block from there instead of
reading the crfints back: the pass calls ``sink(segment, start, cubes, invalid, fill)``
for each segment's part of a block, and the stage does its work on worker threads
while the pass reads and judges the next block.  :class:`BlockWorkers` is the common
part: the threads, a bound on the blocks waiting (memory), and the results of each
segment in integration order.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..steps._movmed import default_threads


def as_in_crfints(cubes: Sequence[np.ndarray | None], invalid: np.ndarray) -> None:
    """Make blocks read from the calints what the crfints hold: NaN where invalid.

    ``invalid`` are flat indices into each block (every sample the outlier pass
    left DO_NOT_USE); the blocks are changed in place.
    """
    for cube in cubes:
        if cube is not None:
            np.put(cube, invalid, np.nan)  # in place, contiguous or not


def threaded_map(work: Callable, tasks: Iterable) -> Iterator:
    """``work(task)`` of every task on a thread per core, results in task order.

    Block work is numpy that releases the GIL.  The steps silence numpy's
    RuntimeWarnings with catch_warnings, which swaps the process-wide filter list; from
    several threads at once the swaps can interleave.  With the same filter set here
    first, every list they swap in or back holds it, and the caller's filters come back
    once the threads are done.
    """
    with warnings.catch_warnings(), ThreadPoolExecutor(default_threads()) as pool:
        warnings.simplefilter("ignore", RuntimeWarning)
        yield from pool.map(work, tasks)


class BlockWorkers:
    """Run block jobs on a thread per core and collect their results per segment.

    At most ``max_pending`` jobs wait at any time: :meth:`submit` blocks until the
    oldest is done, so the blocks held in memory stay few however fast the pass runs.
    Use as a context manager.

    Parameters
    ----------
    nints : dict of Path to int
        The segments and their integrations; :meth:`results` checks every one was
        covered.
    max_pending : int, optional
        Jobs queued or running at most (default: one more than the threads).
    """

    def __init__(self, nints: dict[Path, int], max_pending: int | None = None) -> None:
        self._nints = dict(nints)
        # one job per thread plus one queued, so no thread waits for the next block
        self._max_pending = max_pending or default_threads() + 1
        self._parts: dict[Path, list[tuple[int, int, Future]]] = {p: [] for p in nints}
        self._pending: list[Future] = []
        self._pool: ThreadPoolExecutor | None = None
        self._warnings = warnings.catch_warnings()

    def __enter__(self) -> BlockWorkers:
        # one RuntimeWarning filter for every thread's swaps (see threaded_map)
        self._warnings.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)
        self._pool = ThreadPoolExecutor(default_threads(), thread_name_prefix="tso3-block")
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._pool.shutdown(wait=True, cancel_futures=exc[0] is not None)
        finally:
            self._warnings.__exit__(*exc)

    def submit(self, segment: Path, start: int, count: int, job: Callable[[], object]) -> None:
        """Run ``job()`` for integrations ``start:start+count`` of ``segment``."""
        while len(self._pending) >= self._max_pending:
            self._pending.pop(0).result()  # re-raises a failed job here
        future = self._pool.submit(job)
        self._parts[segment].append((start, count, future))
        self._pending.append(future)

    def results(self, segment: Path) -> list:
        """The job results of ``segment`` in integration order (waits for them)."""
        parts = sorted(self._parts[segment], key=lambda part: part[0])
        done = sum(count for _, count, _ in parts)
        if done != self._nints[segment]:
            raise RuntimeError(
                f"{segment.name}: {done} of {self._nints[segment]} integrations were measured"
            )
        return [future.result() for _, _, future in parts]


class BlockStage:
    """A measuring stage fed by the outlier pass: its blocks run on :class:`BlockWorkers`.

    Subclasses say what one block's job is (:meth:`_job`) and build their product from
    ``self._workers.results(segment)``.  Use as a context manager.
    """

    def __init__(self, nints: dict[Path, int]) -> None:
        self._workers = BlockWorkers(nints)

    def __enter__(self):
        self._workers.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._workers.__exit__(*exc)

    def submit(
        self,
        segment: Path,
        start: int,
        cubes: dict[str, np.ndarray | None],
        invalid: np.ndarray,
        fill: tuple[np.ndarray, np.ndarray],
    ) -> None:
        """Measure integrations ``start:`` of ``segment`` in the background (the sink).

        ``cubes`` are the block's arrays as read from the calints (by extension name);
        the ones the stage uses are changed in place: NaN at the flat indices
        ``invalid`` (as in the crfints, see :func:`as_in_crfints`), and the outlier
        model's ``fill`` (flat indices, values) used for the repair.
        """
        job = self._job(segment, cubes, invalid, fill)
        self._workers.submit(segment, start, len(cubes["SCI"]), job)

    def _job(self, segment: Path, cubes, invalid, fill) -> Callable[[], object]:
        raise NotImplementedError
