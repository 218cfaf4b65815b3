"""``tso3 batch`` (tso3.commands.batch): local and remote clusters, failures, bad usage."""

from __future__ import annotations

import importlib
import os
import re
import shutil

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from tso3.batch import read_summary
from tso3.cli import main

command = importlib.import_module("tso3.commands.batch")


#: What differs between any two runs: the time of writing (in the header and the ASDF
#: tree, with its hash).
RUN_SPECIFIC = ("DATE",)
RUN_SPECIFIC_YAML = re.compile(rb"\b(date): [^,}]*")


def _asdf_without_run_specifics(hdu) -> list[bytes]:
    lines = bytes(hdu.data["ASDF_METADATA"][0]).split(b"\n")  # YAML, then binary blocks
    lines = [RUN_SPECIFIC_YAML.sub(rb"\1: -", line) for line in lines]
    return [line for line in lines if not line.startswith(b"_fits_hash:")]


def _assert_same_products(made, reference):
    """The same files; FITS data and tables equal exactly (NaN where NaN), logs aside."""
    names = sorted(p.name for p in made.iterdir())
    assert names == sorted(p.name for p in reference.iterdir())
    for name in names:
        a, b = made / name, reference / name
        if name.endswith(".fits"):
            with fits.open(a) as ha, fits.open(b) as hb:
                assert [h.name for h in ha] == [h.name for h in hb]
                for x, y in zip(ha, hb, strict=True):
                    for key in set(x.header) - set(RUN_SPECIFIC):
                        assert x.header[key] == y.header[key], (name, x.name, key)
                    if x.name == "ASDF":
                        assert _asdf_without_run_specifics(x) == _asdf_without_run_specifics(y)
                    elif isinstance(x, fits.BinTableHDU):
                        for column in x.columns.names:
                            np.testing.assert_array_equal(x.data[column], y.data[column])
                    else:
                        np.testing.assert_array_equal(x.data, y.data)
        elif name.endswith(".ecsv"):
            ta, tb = Table.read(a), Table.read(b)
            assert ta.colnames == tb.colnames and ta.meta == tb.meta
            for column in ta.colnames:
                np.testing.assert_array_equal(ta[column], tb[column])


def test_local_cluster_makes_what_tso3_run_makes(simulated, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(command, "DASHBOARD_ADDRESS", ":0")  # any free port
    good = {mode: simulated(mode).asn_path for mode in ("nrc_tsimage", "nrs_brightobj")}
    visits = tmp_path / "program"
    visits.mkdir()
    for mode, asn in good.items():
        (visits / mode).symlink_to(asn.parent)
    broken = visits / "broken"
    shutil.copytree(simulated("mir_lrs-slitless").asn_path.parent, broken)
    segment = sorted(broken.glob("*_calints.fits"))[1]
    os.truncate(segment, segment.stat().st_size // 2)
    out = tmp_path / "out"

    status = main(["batch", str(visits), "-o", str(out), "--workers", "2", "--no-plots"])

    captured = capsys.readouterr()
    assert status == 2
    assert "Traceback" not in captured.err
    assert "1 of 3 observation(s) failed" in captured.err.splitlines()[-1]
    rows = {r.status: r for r in read_summary(out / "batch_summary.ecsv")}
    assert sorted(r.status for r in read_summary(out / "batch_summary.ecsv")) == [
        "done", "done", "failed"
    ]  # fmt: skip
    truncated = "FITS file is truncated (shorter than its headers declare)"
    assert rows["failed"].error == f"{segment}: {truncated}"
    assert rows["failed"].error in captured.out
    for mode, asn in good.items():
        reference = tmp_path / "reference" / mode
        assert main(["run", str(asn), "-o", str(reference), "--no-plots", "--quiet"]) == 0
        (log,) = reference.glob("*_tso3.log")
        _assert_same_products(out / log.name.removesuffix("_tso3.log"), reference)
    done = [r for r in read_summary(out / "batch_summary.ecsv") if r.status == "done"]
    assert {r.mode for r in done} == {"NRC_TSIMAGE", "NRS_BRIGHTOBJ"}
    assert all(r.integrations == 60 and r.scatter_ppm > 0 and r.elapsed_s > 0 for r in done)


def test_batch_through_a_scheduler_address(simulated, tmp_path, dask_scheduler, capsys):
    asn = simulated("nrc_tsimage").asn_path
    out = tmp_path / "out"
    args = ["batch", str(asn), "-o", str(out), "--scheduler", dask_scheduler, "--no-plots"]
    assert main(args) == 0
    (row,) = read_summary(out / "batch_summary.ecsv")
    assert (row.status, row.mode, row.error) == ("done", "NRC_TSIMAGE", "")
    assert (out / row.product / f"{row.product}_phot.ecsv").is_file()
    assert f"done      {row.product}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["x", "--scheduler", "tcp://127.0.0.1:1", "--workers", "2"], "not allowed with argument"),
        (["--workers", "2"], "the following arguments are required: INPUT"),
        (["missing"], "missing: no such file or directory"),
        (["x", "--workers", "0"], "expected an integer >= 1"),
        (["x", "--scheduler-file", "nothing.json"], "nothing.json: no such scheduler file"),
        (["x", "--set", "outlier_detection.snr=abc"], "parameter outlier_detection.snr"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a_calints.fits").write_bytes(b"")
    try:
        status = main(["batch", *args])
    except SystemExit as exc:  # argparse's usage errors
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
