"""Tests of tso3.batch: finding observations, the task, the summary, reruns, interruption."""

from __future__ import annotations

import importlib
import json
import os
import time

import pytest
from distributed import Client

import tso3
from tso3.batch import (
    BatchResult,
    BatchRow,
    ObservationInput,
    RunOptions,
    find_observations,
    read_summary,
    run_observation,
)
from tso3.config import resolve_parameters
from tso3.errors import InputError, OutputExistsError

from .builders import write_asn

batch_module = importlib.import_module("tso3.batch")  # tso3.batch is the function

EXPOSURE = "jw01366004001_04101_0000{n}-seg00{s}_{det}_calints.fits"


def _touch(folder, *names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")
    return [(folder / n).resolve() for n in names]


def test_api_names():
    assert tso3.batch is batch_module.batch
    assert tso3.BatchResult is BatchResult


def test_one_observation_per_asn_and_per_exposure(tmp_path):
    visit = tmp_path / "program" / "visit1"
    listed = _touch(
        visit, EXPOSURE.format(n=1, s=1, det="nrs1"), EXPOSURE.format(n=1, s=2, det="nrs1")
    )
    asn = write_asn(visit / "jw01366-o004_asn.json", [p.name for p in listed])
    other = _touch(
        visit,
        EXPOSURE.format(n=2, s=1, det="nrs1"),
        EXPOSURE.format(n=2, s=1, det="nrs2"),  # the other detector: same exposure
        EXPOSURE.format(n=2, s=2, det="nrs1"),
    )
    odd = _touch(visit, "my_own_calints.fits")  # not a JWST name: one per folder
    nested = tmp_path / "program" / "visit2" / "deeper"
    nested_asn = write_asn(nested / "b_asn.json", [_touch(nested, "x_calints.fits")[0].name])
    found = find_observations([tmp_path / "program"])
    assert [f.paths for f in found] == [
        (asn.resolve(),),
        tuple(sorted(other)),
        tuple(odd),
        (nested_asn.resolve(),),
    ]
    assert found[1].label == "jw01366004001_04101_00002"
    assert found[0].label == str(asn)


def test_files_given_directly_are_grouped_and_duplicates_dropped(tmp_path):
    a, b = _touch(
        tmp_path, EXPOSURE.format(n=1, s=1, det="nrs1"), EXPOSURE.format(n=3, s=1, det="nrs1")
    )
    asn = write_asn(tmp_path / "one_asn.json", [a.name])
    found = find_observations([asn, a, b, asn])
    assert [f.paths for f in found] == [(asn.resolve(),), (a,), (b,)]


def test_the_output_folder_is_not_searched(tmp_path):
    _touch(tmp_path / "in", "a_calints.fits")
    _touch(tmp_path / "out", "b_calints.fits")
    found = find_observations([tmp_path], exclude=[tmp_path / "out"])
    assert [f.label for f in found] == ["in"]


@pytest.mark.parametrize(
    "inputs, message",
    [
        ([], "no input given"),
        (["missing"], "missing: no such file or directory"),
        (["empty"], "holds no *_asn.json or *_calints.fits files"),
    ],
)
def test_bad_inputs_stop_the_batch_before_it_starts(tmp_path, inputs, message):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(InputError, match=message.replace("*", r"\*")):
        find_observations([tmp_path / p for p in inputs])


def test_exit_status_prefers_bad_input():
    done = BatchRow("a", status="done")
    bad = BatchRow("b").failed(InputError("f.fits", "truncated"))
    bug = BatchRow("c").failed(ZeroDivisionError("division by zero"))
    assert bad.error == "f.fits: truncated" and bad.failure == "input"
    assert bug.error == "internal error: ZeroDivisionError: division by zero"
    assert BatchResult([done], None).exit_status == 0
    assert BatchResult([done, bug], None).exit_status == 1
    assert BatchResult([bug, bad], None).exit_status == 2


def test_a_failing_run_is_a_row_not_an_exception(simulated, tmp_path, monkeypatch):
    sim = simulated("nrc_tsimage")
    item = ObservationInput("x", (sim.asn_path,))
    out = tmp_path / "product"
    out.mkdir()
    options = RunOptions(resolve_parameters().as_dict(), plots=False)
    (out / sorted(sim.files)[0].name.replace("_calints", "_o004_crfints")).write_text("")
    exists = run_observation(item, out, options)
    assert exists.status == "failed" and exists.failure == "input"
    assert "product exists" in exists.error and exists.elapsed_s >= 0

    def broken(*args, **kwargs):
        raise RuntimeError("a bug\nover two lines")

    monkeypatch.setattr("tso3.pipeline.run", broken)
    bug = run_observation(item, out, options)
    assert bug.failure == "bug"
    assert bug.error == "internal error: RuntimeError: a bug over two lines"


def test_orphaned_temporaries_of_stopped_processes_are_removed(tmp_path):
    dead = 2**22 + 12345  # above the largest pid Linux gives
    (tmp_path / f".p_x1dints.tmp{dead}.fits").write_text("")
    (tmp_path / f".p_plots.tmp{dead}").mkdir()
    batch_module._remove_orphans(tmp_path)
    assert not tmp_path.exists()  # emptied, so removed
    tmp_path.mkdir()
    mine = tmp_path / f".p_x1dints.tmp{os.getpid()}.fits"
    mine.write_text("")
    batch_module._remove_orphans(tmp_path)
    assert mine.exists()  # this process is running


def test_rerun_skips_complete_products_and_overwrite_reruns(simulated, tmp_path, dask_scheduler):
    sim = simulated("nrs_brightobj")
    options = {"plots": False, "overrides": ["white_light.nbins=4"]}
    with Client(dask_scheduler) as client:
        first = tso3.batch([sim.asn_path], tmp_path, client, **options)
        (row,) = first.rows
        assert (row.status, row.mode, row.integrations) == ("done", "NRS_BRIGHTOBJ", 60)
        products = sorted((tmp_path / row.product).iterdir())
        assert any(p.name.endswith("_speclc.fits") for p in products)
        stamps = [p.stat().st_mtime_ns for p in products]

        again = tso3.batch([sim.asn_path], tmp_path, client, **options)
        assert again.rows[0].status == "skipped" and again.exit_status == 0
        assert again.rows[0].scatter_ppm == row.scatter_ppm  # from the first summary
        assert [p.stat().st_mtime_ns for p in products] == stamps

        # binning off plans no speclc: still complete
        assert tso3.batch([sim.asn_path], tmp_path, client, plots=False).rows[0].status == "skipped"

        redone = tso3.batch([sim.asn_path], tmp_path, client, overwrite=True, **options)
        assert redone.rows[0].status == "done"
        restamped = [p.stat().st_mtime_ns for p in products]
        assert all(a != b for a, b in zip(restamped, stamps, strict=True))

        # plots were not made: incomplete, and without --overwrite the run refuses
        refused = tso3.batch([sim.asn_path], tmp_path, client, overrides=options["overrides"])
        assert refused.rows[0].status == "failed" and refused.exit_status == 2
        assert "product exists" in refused.rows[0].error


def test_interrupt_cancels_the_tasks_and_writes_the_summary(tmp_path, dask_scheduler, monkeypatch):
    asn = tmp_path / "in" / "a_asn.json"
    asn.parent.mkdir()
    planned = batch_module._Planned(ObservationInput("a", (asn,)), tmp_path / "p", 1, BatchRow("p"))
    monkeypatch.setattr(batch_module, "_plan", lambda *args: planned)
    monkeypatch.setattr(batch_module, "run_observation", _never_finished)

    class Interrupted:
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            raise KeyboardInterrupt

        def __exit__(self, *exc):
            pass

    monkeypatch.setattr(batch_module, "Progress", Interrupted)
    asn.write_text(json.dumps({}))
    with Client(dask_scheduler) as client:
        with pytest.raises(KeyboardInterrupt):
            tso3.batch([asn], tmp_path, client)
        left = client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
        for _ in range(50):  # the scheduler forgets cancelled tasks soon after
            if not left:
                break
            time.sleep(0.1)
            left = client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
        assert left == 0
    (row,) = read_summary(tmp_path / "batch_summary.ecsv")
    assert (row.product, row.status) == ("p", "cancelled")


def _never_finished(item, output_dir, options):
    raise OutputExistsError("not reached: the task is cancelled before it runs")
