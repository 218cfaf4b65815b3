"""dask.distributed for ``tso3 batch``: a local cluster sized to the machine, or a scheduler.

One observation is one task, and a task keeps tso3's own threads (:mod:`tso3.parallel`).
So that tasks do not fight over the cores, a local cluster runs one worker *process* per
observation in flight, each with one dask thread, and pins each worker process to its own
``cores // workers`` cores: :func:`tso3.parallel.cores` counts the cores a process may
use, so tso3 then starts that many threads in every worker.  On a cluster the job
scheduler (SLURM, PBS through dask-jobqueue) gives each worker its cores; docs/cluster.md
says how to ask for them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import WorkerPlugin
from distributed.system import MEMORY_LIMIT

from .errors import InputError
from .parallel import cores

log = logging.getLogger("tso3")

#: The local cluster's dashboard (distributed picks another port when it is taken; there
#: is no dashboard unless bokeh is installed).
DASHBOARD_ADDRESS = ":8787"

#: Memory a run needs on top of its blocks: interpreter, stdatamodels, the products.
BASE_MEMORY = 1 << 30
#: Peak memory per byte of the largest segment (docs/architecture.md: bounded by blocks).
SEGMENT_MEMORY_FACTOR = 1.5


def observation_memory(segment_sizes: Sequence[int]) -> int:
    """Bytes one run needs at most: 1.5 x its largest segment file + 1 GiB.

    This is the bound the benchmarks check (benchmarks/RESULTS.md), whatever the number
    of segments, since a run streams blocks of one segment at a time.

    Parameters
    ----------
    segment_sizes : sequence of int
        Sizes in bytes of the observation's calints files.

    Returns
    -------
    int
    """
    return int(SEGMENT_MEMORY_FACTOR * max(segment_sizes, default=0)) + BASE_MEMORY


def local_workers(
    needs: Sequence[int], ncores: int | None = None, memory: int | None = None
) -> int:
    """Worker processes for a local cluster: as many as the cores and the memory allow.

    Parameters
    ----------
    needs : sequence of int
        Memory (bytes) each observation to run needs (:func:`observation_memory`).
    ncores : int, optional
        Cores to share (default: :func:`tso3.parallel.cores`).
    memory : int, optional
        Memory to share (default: the machine's, or its cgroup limit).

    Returns
    -------
    int
        At least 1, at most one per core and one per observation; enough memory for the
        largest observation in each.
    """
    ncores = ncores or cores()
    memory = memory or MEMORY_LIMIT
    by_memory = memory // max(needs, default=BASE_MEMORY)
    return max(1, min(ncores, by_memory, len(needs) or 1))


def pin_process(cpus: set[int]) -> None:
    """Let every thread of this process (and those it starts later) run on ``cpus`` only.

    ``os.sched_setaffinity(0, ...)`` changes the calling thread alone, so each thread
    listed in ``/proc/self/task`` is pinned.  Does nothing where affinity is not
    supported (macOS); tso3 then uses every core in every worker.
    """
    if not hasattr(os, "sched_setaffinity"):
        return
    try:
        threads = [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        threads = [0]
    for tid in threads:
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            os.sched_setaffinity(tid, cpus)


def core_share(index: int, workers: int, available: Sequence[int]) -> set[int]:
    """The cores of worker ``index`` of ``workers``: ``len(available) // workers`` of them.

    With more workers than cores the shares wrap around, one core each.
    """
    cpus = sorted(available)
    size = max(1, len(cpus) // workers)
    start = (index * size) % len(cpus)
    return set(cpus[start : start + size])


class PinCores(WorkerPlugin):
    """Pin each worker process of a local cluster to its own share of the cores.

    The workers of a :class:`distributed.LocalCluster` are named ``0 .. workers - 1``;
    worker ``i`` gets :func:`core_share` ``(i, workers, cores)``.
    """

    name = "tso3-pin-cores"
    idempotent = True

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def setup(self, worker) -> None:
        if not isinstance(worker.name, int) or not hasattr(os, "sched_getaffinity"):
            return
        share = core_share(worker.name, self.workers, os.sched_getaffinity(0))
        pin_process(share)


@contextlib.contextmanager
def local_client(
    workers: int, dashboard_address: str | None = DASHBOARD_ADDRESS
) -> Iterator[Client]:
    """A :class:`distributed.LocalCluster` of ``workers`` processes and its client.

    One dask thread per worker, each worker pinned to ``cores // workers`` cores
    (:class:`PinCores`), memory shared equally.  Closing it stops every worker process.
    """
    with _sigint_ignored():
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=dashboard_address,
            # the rows and the run logs say what went wrong; dask's own messages (a
            # worker stopped mid-task on Ctrl-C, ...) only with --verbose
            silence_logs=logging.WARNING if log.isEnabledFor(logging.DEBUG) else logging.CRITICAL,
        )
    try:
        with Client(cluster) as client:
            client.register_plugin(PinCores(workers))
            yield client
    finally:
        cluster.close()


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Worker processes started here ignore Ctrl-C (they inherit the ignored SIGINT).

    Ctrl-C reaches every process of the terminal's group.  Only the batch should act on
    it: it cancels the tasks and stops the workers, whose runs leave no product.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be changed on the main thread
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def scheduler_client(
    address: str | None = None, scheduler_file: str | os.PathLike | None = None
) -> Iterator[Client]:
    """A client of a running scheduler, by address or scheduler file.

    Raises
    ------
    InputError
        When the file is missing or the scheduler cannot be reached.
    """
    target = address if address is not None else os.fspath(scheduler_file)
    if scheduler_file is not None and not Path(scheduler_file).is_file():
        raise InputError(scheduler_file, "no such scheduler file")
    try:
        client = Client(address, scheduler_file=scheduler_file, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        problem = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(target, f"cannot reach the dask scheduler ({problem})") from None
    with client:
        yield client


def dashboard_link(client: Client) -> str | None:
    """The dashboard address of the client's scheduler, None when it has none."""
    if "dashboard" not in client.scheduler_info().get("services", {}):
        return None
    return client.dashboard_link


def check_worker_threads(client: Client) -> None:
    """Warn when a worker runs several observations at once, each on all its cores."""
    workers = client.scheduler_info().get("workers", {})
    busy = [w.get("name", addr) for addr, w in workers.items() if w.get("nthreads", 1) > 1]
    if busy:
        log.warning(
            "worker(s) %s run several observations at once, each with a thread per core: "
            "start workers with one thread (see docs/cluster.md)",
            ", ".join(map(str, busy)),
        )
