"""Every thread tso3 starts, and the one rule that makes them safe together.

tso3 runs on threads, not processes: the hot work is numpy, bottleneck, file reads and
tso3's compiled kernel, which all release the GIL, and threads share the big cubes
without copying them.  The pools are:

* :class:`Cores` -- a thread per core for one call of a step (column blocks of the
  rolling median, integration blocks of the motion fit); the steps take it as their
  ``pool`` argument and run serially without one;
* :func:`ordered_map` -- independent tasks on a thread per core, results in order;
* :class:`BlockWorkers` -- measuring jobs fed by a block source, a bounded number
  waiting (so memory holds a few blocks only), results per segment in order;
* :func:`read_ahead` -- one reader thread that reads block ``i + 1`` during block ``i``;
* :func:`background` -- one thread for work that overlaps the run's start (the crfints
  copies, the preparations that need arrays but no metadata model).

The warnings rule
-----------------
``warnings.catch_warnings`` swaps the process-wide filter list, so two threads using it
at once can restore each other's filters wrongly (Python < 3.14).  Hence:

1. code that runs on these threads never changes the warning filters -- the steps use
   ``np.errstate`` (per thread) and bottleneck's NaN functions (which never warn);
2. only the thread that started the run changes them: the pools it starts set the one
   filter their workers may need (numpy RuntimeWarnings ignored, for code outside
   tso3 such as photutils) for the pool's whole life, and put the caller's filters back
   when the pool has ended.  :class:`Cores`, which a worker may start, sets none.

BLAS threads are held to one for a whole run (:func:`run_threads`): tso3 spreads its
own work over the cores, and OpenBLAS's spinning threads on top only steal them.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from threadpoolctl import threadpool_limits

Item = TypeVar("Item")
Result = TypeVar("Result")


def cores() -> int:
    """Number of worker threads: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def quiet_workers() -> Iterator[None]:
    """The filters of the warnings rule: numpy RuntimeWarnings, asdf's and the fitters' ignored.

    Enter it from the thread that starts a pool, around the pool's whole life.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        # asdf's, when a worker parses an ASDF tree (tags of packages not installed)
        warnings.filterwarnings("ignore", module=r"asdf(\.|$)")
        # photutils' and astropy's fitters, in jwst-mode photometry (PSF fit warnings)
        warnings.filterwarnings("ignore", module=r"(photutils|astropy\.modeling)(\.|$)")
        yield


@contextlib.contextmanager
def run_threads() -> Iterator[None]:
    """The threading settings of a whole run: BLAS on one thread, quiet workers."""
    with threadpool_limits(limits=1, user_api="blas"), quiet_workers():
        yield


class Cores:
    """A thread per core for one call of a step (the steps' ``pool`` argument).

    ``map(func, items)`` calls ``func`` on every item and returns the results in order;
    the first exception of any call is raised there.  ``workers`` lets a step cut its
    work into enough pieces to keep every thread busy.

    Parameters
    ----------
    workers : int, optional
        Threads (default: :func:`cores`).
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, int(workers or cores()))

    def map(self, func: Callable[[Item], Result], items: Iterable[Item]) -> list[Result]:
        todo = list(items)
        if self.workers <= 1 or len(todo) <= 1:
            return [func(item) for item in todo]
        # no filter set here: the steps it runs never warn (rule 1), and it may be used
        # from a thread that is not the run's main thread (rule 2)
        with ThreadPoolExecutor(min(self.workers, len(todo))) as pool:
            return list(pool.map(func, todo))


def ordered_map(work: Callable[[Item], Result], tasks: Iterable[Item]) -> Iterator[Result]:
    """``work(task)`` of every task on a thread per core, yielded in task order.

    Memory holds the results not yet consumed plus one task per thread.
    """
    with quiet_workers(), ThreadPoolExecutor(cores(), thread_name_prefix="tso3-map") as pool:
        yield from pool.map(work, tasks)


def read_ahead(read: Callable[[Item], Result], items: Iterable[Item]) -> Iterator[tuple]:
    """Yield ``(item, read(item))`` in order, reading one item ahead in a thread.

    File reads release the GIL, so the reading of item ``i + 1`` overlaps the work on
    item ``i``; memory holds at most two.  ``read`` runs only in the reader thread, one
    call at a time; an exception it raises is raised here, at that item.
    """
    todo = list(items)
    if not todo:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tso3-read") as reader:
        pending = reader.submit(read, todo[0])
        for index, item in enumerate(todo):
            data = pending.result()
            if index + 1 < len(todo):
                pending = reader.submit(read, todo[index + 1])
            yield item, data


@contextlib.contextmanager
def background(name: str) -> Iterator[ThreadPoolExecutor]:
    """One thread for work that overlaps the main thread's (a context manager).

    Leaving the block waits for what was submitted; leaving it with an exception
    cancels what has not started.
    """
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"tso3-{name}")
    try:
        with quiet_workers():
            yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


class BlockWorkers:
    """Run measuring jobs on a thread per core and collect their results per segment.

    At most ``max_pending`` jobs wait at any time: :meth:`submit` blocks until the
    oldest is done, so the blocks held in memory stay few however fast they come.
    Use as a context manager.

    Parameters
    ----------
    nints : dict of segment key to int
        The segments (``Segment.key``: path and EXTVER, or a path) and their
        integrations; :meth:`results` checks every one was covered.
    max_pending : int, optional
        Jobs queued or running at most (default: one per thread plus one queued, so no
        thread waits for the next block).
    """

    def __init__(self, nints: dict[Path, int], max_pending: int | None = None) -> None:
        self._nints = dict(nints)
        self._max_pending = max_pending or cores() + 1
        self._parts: dict[Path, list[tuple[int, int, Future]]] = {p: [] for p in nints}
        self._pending: list[Future] = []
        self._pool: ThreadPoolExecutor | None = None
        self._filters = quiet_workers()

    def __enter__(self) -> BlockWorkers:
        self._filters.__enter__()
        self._pool = ThreadPoolExecutor(cores(), thread_name_prefix="tso3-block")
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._pool.shutdown(wait=True, cancel_futures=exc[0] is not None)
        finally:
            self._filters.__exit__(*exc)

    def submit(self, segment, start: int, count: int, job: Callable[[], object]) -> None:
        """Run ``job()`` for integrations ``start:start+count`` of ``segment``."""
        while len(self._pending) >= self._max_pending:
            self._pending.pop(0).result()  # re-raises a failed job here
        future = self._pool.submit(job)
        self._parts[segment].append((start, count, future))
        self._pending.append(future)

    def results(self, segment) -> list:
        """The job results of ``segment`` in integration order (waits for them)."""
        parts = sorted(self._parts[segment], key=lambda part: part[0])
        done = sum(count for _, count, _ in parts)
        if done != self._nints[segment]:
            name = segment[0].name if isinstance(segment, tuple) else segment.name
            raise RuntimeError(
                f"{name}: {done} of {self._nints[segment]} integrations were measured"
            )
        return [future.result() for _, _, future in parts]
