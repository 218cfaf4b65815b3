"""Tests of tso3.parallel: the pools and the warnings rule."""

from __future__ import annotations

import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from tso3.parallel import (
    BlockWorkers,
    Cores,
    background,
    cores,
    ordered_map,
    quiet_workers,
    read_ahead,
    run_threads,
)


def test_cores_is_at_least_one():
    assert cores() >= 1


def test_cores_map_keeps_order_and_runs_concurrently():
    barrier = threading.Barrier(2, timeout=10)  # only passes if two calls run at once

    def work(i):
        barrier.wait()
        return i * i

    assert Cores(2).map(work, [3, 4]) == [9, 16]


def test_cores_map_serial_and_errors():
    assert Cores(1).map(str, []) == []
    idents = Cores(1).map(lambda _: threading.get_ident(), range(3))
    assert set(idents) == {threading.get_ident()}  # no pool: the caller's thread

    def fail(i):
        if i == 2:
            raise ValueError("item 2")
        return i

    with pytest.raises(ValueError, match="item 2"):
        Cores(2).map(fail, range(4))


def test_ordered_map_yields_in_task_order():
    def slow_first(i):
        time.sleep(0.05 if i == 0 else 0.0)
        return i

    assert list(ordered_map(slow_first, range(6))) == list(range(6))


def test_read_ahead_reads_one_item_ahead_in_order():
    read: list[int] = []

    def reader(i):
        read.append(i)
        return 10 * i

    for item, data in read_ahead(reader, range(5)):
        assert data == 10 * item
        time.sleep(0.01)
        assert max(read) <= item + 1  # never more than one ahead
    assert read == list(range(5))
    assert list(read_ahead(reader, [])) == []


def test_read_ahead_raises_at_the_failing_item():
    def reader(i):
        if i == 2:
            raise OSError("disk")
        return i

    got = []
    with pytest.raises(OSError, match="disk"):
        for item, _ in read_ahead(reader, range(4)):
            got.append(item)
    assert got == [0, 1]


def test_background_waits_on_exit_and_cancels_on_error():
    done = []
    with background("test") as pool:
        pool.submit(lambda: (time.sleep(0.05), done.append(1)))
    assert done == [1]
    gate = threading.Event()
    with pytest.raises(KeyError), background("test") as pool:
        pool.submit(gate.wait, 5)
        never = pool.submit(done.append, 2)
        gate.set()
        raise KeyError("fail")
    assert never.cancelled() or done == [1, 2]


def test_block_workers_results_in_integration_order():
    a, b = Path("a"), Path("b")
    with BlockWorkers({a: 6, b: 2}) as workers:
        for start in (4, 0, 2):  # any submission order
            workers.submit(a, start, 2, lambda s=start: s)
        workers.submit(b, 0, 2, lambda: "b")
        assert workers.results(a) == [0, 2, 4]
        assert workers.results(b) == ["b"]


def test_block_workers_refuse_incomplete_segments_and_reraise():
    a = Path("a")
    with BlockWorkers({a: 5}) as workers:
        workers.submit(a, 0, 3, lambda: 0)
        with pytest.raises(RuntimeError, match="3 of 5 integrations"):
            workers.results(a)

    def fail():
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError), BlockWorkers({a: 4}, max_pending=1) as workers:
        workers.submit(a, 0, 2, fail)
        workers.submit(a, 2, 2, lambda: 1)  # waits for the failed one: raised here


def test_block_workers_bound_the_pending_jobs():
    a = Path("a")
    running = []
    peak = []

    def job():
        running.append(1)
        peak.append(len(running))
        time.sleep(0.02)
        running.pop()

    with BlockWorkers({a: 10}, max_pending=2) as workers:
        for start in range(10):
            workers.submit(a, start, 1, job)
            assert len(workers._pending) <= 2
        workers.results(a)
    assert max(peak) <= 2


def test_quiet_workers_silence_numpy_in_workers_and_restore_filters():
    before = list(warnings.filters)

    def mean_of_nothing(_):
        return np.mean(np.array([], float))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with quiet_workers():
            assert np.isnan(Cores(2).map(mean_of_nothing, [0, 1])).all()
        with pytest.raises(RuntimeWarning):
            mean_of_nothing(0)
    assert warnings.filters == before


def test_run_threads_holds_blas_to_one_thread():
    with run_threads():
        blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
        assert all(lib["num_threads"] == 1 for lib in blas)
