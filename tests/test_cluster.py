"""Tests of tso3.cluster: sizing a local cluster, the cores of each worker, schedulers."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from tso3 import cluster
from tso3.cluster import (
    BASE_MEMORY,
    PinCores,
    check_worker_threads,
    core_share,
    local_workers,
    observation_memory,
    scheduler_client,
)
from tso3.errors import InputError

GB = 1 << 30


def test_memory_of_an_observation_follows_its_largest_segment():
    assert observation_memory([GB, 2 * GB]) == 3 * GB + BASE_MEMORY
    assert observation_memory([]) == BASE_MEMORY


@pytest.mark.parametrize(
    "needs, ncores, memory, expected",
    [
        ([2 * GB] * 8, 8, 64 * GB, 8),  # cores are the limit
        ([2 * GB] * 8, 8, 7 * GB, 3),  # memory is: three 2 GB runs fit in 7 GB
        ([2 * GB, 9 * GB], 8, 20 * GB, 2),  # the largest decides, then the count
        ([30 * GB], 8, 16 * GB, 1),  # never fewer than one
    ],
)
def test_local_workers(needs, ncores, memory, expected):
    assert local_workers(needs, ncores, memory) == expected


def test_each_worker_gets_its_own_cores():
    assert [core_share(i, 2, [0, 1, 2, 3]) for i in range(2)] == [{0, 1}, {2, 3}]
    assert [core_share(i, 3, [4, 5]) for i in range(3)] == [{4}, {5}, {4}]  # wraps around


def test_pin_cores_plugin_pins_named_workers(monkeypatch):
    pinned = []
    monkeypatch.setattr(cluster, "pin_process", pinned.append)
    monkeypatch.setattr(cluster.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    plugin = PinCores(2)
    plugin.setup(SimpleNamespace(name=1))
    plugin.setup(SimpleNamespace(name="not-local"))  # a worker of another cluster
    assert pinned == [{2, 3}]


def test_pinning_this_process_to_its_own_cores_changes_nothing():
    mine = cluster.os.sched_getaffinity(0)
    cluster.pin_process(mine)
    assert cluster.os.sched_getaffinity(0) == mine


def test_workers_with_several_threads_are_reported(caplog, monkeypatch):
    info = {"workers": {"tcp://a": {"name": "a", "nthreads": 4}, "tcp://b": {"nthreads": 1}}}
    client = SimpleNamespace(scheduler_info=lambda: info)
    monkeypatch.setattr(logging.getLogger("tso3"), "propagate", True)  # the CLI turns it off
    with caplog.at_level(logging.WARNING, logger="tso3"):
        check_worker_threads(client)
    assert "worker(s) a run several observations at once" in caplog.text


def test_a_missing_scheduler_file_is_bad_input(tmp_path):
    with pytest.raises(InputError, match="no such scheduler file"):
        with scheduler_client(scheduler_file=tmp_path / "scheduler.json"):
            pass
