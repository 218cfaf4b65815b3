"""crfints written from the outlier pass's blocks: byte for byte the patched copy."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

import tso3
from tso3.cli import main
from tso3.errors import OutputWriteError
from tso3.io import crfints, crfints_stream
from tso3.simulate import simulate
from tso3.stages import outliers as stage


@pytest.fixture(scope="module")
def segments(tmp_path_factory):
    """Two segments with cosmic rays, a lost integration and a NaN only in VAR_FLAT,
    so DQ and NaN both change (in both segments, across their boundary)."""
    sim = simulate("nrs_brightobj", tmp_path_factory.mktemp("sim"), nints=70, segments=2,
                   seed=21, cr_rate=2e-3)  # fmt: skip
    with fits.open(sim.files[0], mode="update") as hdul:
        hdul["SCI"].data[7] = np.nan
        hdul["VAR_FLAT"].data[9, 10, 100] = np.nan
    return sim


@pytest.fixture(autouse=True)
def streamed(monkeypatch):
    """Stream every crfints of these small sets (a run streams only observations too
    large for the page cache, see test_streaming_is_chosen_by_size)."""
    monkeypatch.setattr(stage, "streaming_pays", lambda sources: True)


def test_streaming_is_chosen_by_size(segments, monkeypatch):
    size = sum(path.stat().st_size for path in segments.files)
    monkeypatch.setattr(crfints_stream, "available_memory", lambda: 2 * size + 1)
    assert not crfints_stream.streaming_pays(segments.files)  # fits twice: copied
    monkeypatch.setattr(crfints_stream, "available_memory", lambda: 2 * size - 1)
    assert crfints_stream.streaming_pays(segments.files)
    monkeypatch.undo()
    assert 0 < crfints_stream.available_memory() < 2**50


def _run(inputs, out, **kw):
    return tso3.run(inputs, out, skip=["extract_1d"], plots=False, quiet=True, **kw)


def _copied(monkeypatch, inputs, out, **kw):
    """The run with every crfints copied from its calints and patched."""
    with monkeypatch.context() as m:
        m.setattr(crfints_stream, "stream_layout", lambda hdul: None)
        return _run(inputs, out, **kw)


def _bytes(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*_crfints.fits"))}


@pytest.mark.parametrize("mode", ["default", "jwst"])
def test_streamed_crfints_equal_the_patched_copies_byte_for_byte(
    segments, tmp_path, monkeypatch, mode
):
    # width 9 and short blocks: several blocks, one of them across the segments
    monkeypatch.setattr(stage, "BLOCK_BYTES", 32 * 512 * 4 * 6 * 25)
    kw = {"mode": mode, "overrides": ["outlier_detection.rolling_window_width=9"]}
    streamed = _run(segments.asn_path, tmp_path / "streamed", **kw)
    _copied(monkeypatch, segments.asn_path, tmp_path / "copied", **kw)
    assert streamed.summary["flagged_fraction"] > 0
    a, b = _bytes(tmp_path / "streamed"), _bytes(tmp_path / "copied")
    assert len(a) == 2 and a.keys() == b.keys()
    for name in a:
        assert a[name] == b[name], name
    with fits.open(tmp_path / "streamed" / sorted(a)[0]) as hdul:
        assert hdul[0].header["S_OUTLIR"] == "COMPLETE"
        assert np.isnan(hdul["VAR_POISSON"].data[9, 10, 100])  # NaN in every float cube


def test_a_cube_the_pass_does_not_read_is_copied(segments, tmp_path, monkeypatch):
    """VAR_FLAT missing from one segment: the pass reads it in none, and the other
    segment's crfints still gets its VAR_FLAT, as the copy had it."""
    parts = tmp_path / "in"
    parts.mkdir()
    for path in segments.files:
        with fits.open(path) as hdul:
            if path == segments.files[1]:
                del hdul["VAR_FLAT"]
            hdul.writeto(parts / path.name)
    inputs = sorted(parts.glob("*.fits"))
    _run(inputs, tmp_path / "streamed")
    _copied(monkeypatch, inputs, tmp_path / "copied")
    assert _bytes(tmp_path / "streamed") == _bytes(tmp_path / "copied")


def test_layouts_that_are_not_streamed(segments, tmp_path):
    with fits.open(segments.files[0], do_not_scale_image_data=True) as hdul:
        layout = crfints_stream.stream_layout(hdul)
        assert set(layout) == set(crfints_stream.STREAMED_CUBES)
        hdul["ERR"].header["BITPIX"] = -64  # float64: the pass reads it as float32
        assert crfints_stream.stream_layout(hdul) is None
    with fits.open(segments.files[0]) as hdul:
        second = hdul["SCI"].copy()
        second.ver = 2  # a MultiSlit calints: one SCI per slit
        hdul.append(second)
        hdul.writeto(tmp_path / "slits.fits")
    with fits.open(tmp_path / "slits.fits", do_not_scale_image_data=True) as hdul:
        assert crfints_stream.stream_layout(hdul) is None


@pytest.mark.parametrize("streamed", [True, False])
def test_a_full_disk_is_one_line_exit_2_and_leaves_nothing(
    segments, tmp_path, monkeypatch, capsys, streamed
):
    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(stage, "streaming_pays", lambda sources: streamed)
    monkeypatch.setattr(crfints_stream, "_pwrite", full)
    if not streamed:  # a stream's start copies few bytes: its rows' writes fail instead
        monkeypatch.setattr(crfints, "copy_bytes", full)
    out = tmp_path / "out"
    with pytest.raises(OutputWriteError, match="No space left on device"):
        _run(segments.asn_path, out)
    assert not out.exists() or not any(out.iterdir())
    capsys.readouterr()
    assert main(["run", str(segments.asn_path), "-o", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"tso3: error: {out}: cannot write the products: No space left on device"
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(
    "exp, kw",
    [
        ("nis_soss", {"subarray": "SUB680STRIPE_SOSS", "nints": 24}),
        ("nrs_brightobj", {"subarray": "SUB256M2_PRISM", "nints": 40}),
        ("nrc_tsgrism", {"subarray": "SUB164STRIPE4_DHS", "nints": 30}),  # MultiSlit: copied
        ("nrc_tsimage", {"nints": 40}),
    ],
)
def test_every_layout_gives_the_bytes_of_the_copy(exp, kw, tmp_path, monkeypatch):
    sim = simulate(exp, tmp_path / "in", segments=2, seed=5, cr_rate=2e-3, **kw)
    run = {"plots": False, "quiet": True}
    tso3.run(sim.asn_path, tmp_path / "streamed", **run)
    with monkeypatch.context() as m:
        m.setattr(crfints_stream, "stream_layout", lambda hdul: None)
        tso3.run(sim.asn_path, tmp_path / "copied", **run)
    a, b = _bytes(tmp_path / "streamed"), _bytes(tmp_path / "copied")
    assert len(a) == 2 and a.keys() == b.keys()
    for name in a:
        assert a[name] == b[name], name
    with fits.open(sim.files[0], do_not_scale_image_data=True) as hdul:
        streamed = crfints_stream.stream_layout(hdul) is not None
    assert streamed == (exp != "nrc_tsgrism")  # a MultiSlit calints is always copied


def test_a_run_failing_before_the_pass_writes_leaves_no_file_open(segments, tmp_path, monkeypatch):
    def broken(self):
        raise ValueError("a failure before the first block")
        yield  # pragma: no cover

    monkeypatch.setattr(stage.OutlierPass, "__iter__", broken)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="first block"):
        _run(segments.asn_path, out)
    fds = Path("/proc/self/fd")
    if fds.is_dir():
        open_here = [p for p in fds.iterdir() if str(out) in os.path.realpath(p)]
        assert not open_here
    assert not out.exists() or not any(out.iterdir())


def test_a_stream_the_pass_never_wrote_fails_the_run(segments, tmp_path):
    """A crfints whose cubes were never written would be published with empty cubes."""
    targets = {path: tmp_path / path.name for path in segments.files}
    with pytest.raises(RuntimeError, match="no block was written"):
        with stage.crfints_copies(targets, {}) as ready:
            ready(segments.files[0])  # started, never written to
