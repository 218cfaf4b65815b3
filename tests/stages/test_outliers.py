"""The outlier stage on files: segmentation and block invariance, the motion term."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from astropy.io import fits
from stdatamodels.jwst import datamodels

import tso3
from tso3.simulate import simulate
from tso3.stages import outliers as stage
from tso3.steps.outliers import detect_outliers, match_nans_and_flags


def split(path, bounds, out_dir):
    """Cut one calints segment into several at integration ``bounds`` (0-based)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = datamodels.open(path)
    paths = []
    pieces = list(zip(bounds[:-1], bounds[1:], strict=True))
    for k, (a, b) in enumerate(pieces, start=1):
        part = whole.copy()
        for name in ("data", "err", "dq", "var_poisson", "var_rnoise", "var_flat"):
            setattr(part, name, getattr(whole, name)[a:b].copy())
        part.int_times = whole.int_times[a:b].copy()
        part.meta.exposure.integration_start = a + 1
        part.meta.exposure.integration_end = b
        part.meta.exposure.segment_number = k
        part.meta.exposure.segment_total = len(pieces)
        name = path.name.replace("-seg001_", f"-seg{k:03d}_")
        part.save(out_dir / name)
        paths.append(out_dir / name)
    whole.close()
    return paths


def flags(out_dir):
    files = sorted(out_dir.glob("*_crfints.fits"))
    return np.concatenate([fits.getdata(f, "DQ") for f in files])


@pytest.fixture(scope="module")
def jittery(tmp_path_factory):
    """One segment with strong pointing jitter on an undersampled trace, and cosmic rays."""
    root = tmp_path_factory.mktemp("jitter")
    return simulate("nrs_brightobj", root / "one", nints=90, segments=1, seed=4, jitter=0.02)


def _run(inputs, out, **kw):
    return tso3.run(inputs, out, skip=["extract_1d"], plots=False, quiet=True, **kw)


def test_segmentation_does_not_change_a_flag(jittery, tmp_path):
    _run(jittery.asn_path, tmp_path / "whole")
    parts = split(jittery.files[0], [0, 17, 50, 90], tmp_path / "split")
    _run(parts, tmp_path / "split_out")
    np.testing.assert_array_equal(flags(tmp_path / "whole"), flags(tmp_path / "split_out"))


@pytest.mark.parametrize("mode", ["default", "jwst"])
def test_blocks_do_not_change_a_flag(jittery, tmp_path, monkeypatch, mode):
    # width 9: jwst mode also streams blocks (a segment of > 4 windows)
    kw = {"mode": mode, "overrides": ["outlier_detection.rolling_window_width=9"]}
    _run(jittery.asn_path, tmp_path / "one_block", **kw)
    # about 30 integrations per block: three blocks with halos
    monkeypatch.setattr(stage, "BLOCK_BYTES", 32 * 512 * 4 * 6 * 30)
    _run(jittery.asn_path, tmp_path / "blocks", **kw)
    np.testing.assert_array_equal(flags(tmp_path / "one_block"), flags(tmp_path / "blocks"))


def test_motion_term_stops_jitter_flags_but_not_cosmic_rays(jittery, tmp_path):
    plain = _run(
        jittery.asn_path, tmp_path / "plain", overrides=["outlier_detection.motion_modes=0"]
    )
    moved = _run(jittery.asn_path, tmp_path / "moved")
    assert plain.summary["flagged_fraction"] > 1e-3  # the jitter is flagged without it
    assert moved.summary["flagged_fraction"] < 1e-4
    dq = flags(tmp_path / "moved")
    strong = [(t, y, x) for t, y, x, _, s in jittery.truth["cosmic_rays"] if s > 10]
    assert np.mean([bool(dq[t, y, x] & 16) for t, y, x in strong]) > 0.95


def test_jwst_mode_has_no_motion_term(jittery, tmp_path):
    a = _run(jittery.asn_path, tmp_path / "a", mode="jwst")
    _run(
        jittery.asn_path, tmp_path / "b", mode="jwst",
        overrides=["outlier_detection.motion_modes=0"],
    )  # fmt: skip
    np.testing.assert_array_equal(flags(tmp_path / "a"), flags(tmp_path / "b"))
    assert a.summary["flagged_fraction"] > 1e-3


def test_crfints_match_the_step_functions(tmp_path):
    """The stage's sparse patches give what detect_outliers + match_nans_and_flags give."""
    sim = simulate("nrs_brightobj", tmp_path / "sim", nints=60, segments=2, seed=11)
    # a lost integration and a NaN only in VAR_FLAT, so DQ and NaN both have to change
    with fits.open(sim.files[0], mode="update") as hdul:
        hdul["SCI"].data[7] = np.nan
        hdul["VAR_FLAT"].data[9, 10, 100] = np.nan
    out = tmp_path / "out"
    _run(sim.asn_path, out, overrides=["outlier_detection.motion_modes=0"])
    names = ("SCI", "ERR", "DQ", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT")
    cubes = {n: np.concatenate([fits.getdata(f, n) for f in sim.files]) for n in names}
    cubes["DQ"] = cubes["DQ"].astype(np.uint32)
    res = detect_outliers(cubes["SCI"], cubes["ERR"], cubes["DQ"])
    assert res.n_flagged > 0
    cubes["DQ"][res.outliers] |= np.uint32(17)
    match_nans_and_flags(*(cubes[n] for n in names[:3]), *(cubes[n] for n in names[3:]))
    written = sorted(out.glob("*_crfints.fits"))
    for name in names:
        got = np.concatenate([fits.getdata(f, name) for f in written])
        np.testing.assert_array_equal(got, cubes[name], err_msg=name)


def test_width_1_takes_the_whole_series_median_in_default_mode(tmp_path, engine):
    """jwst's "no rolling window" (w <= 1): the default mode judges every integration
    against its pixel's whole series, at the ends too (the windows are truncated there,
    so the stage needs a window of 2 * nints - 1 for that)."""
    sim = simulate("nrs_brightobj", tmp_path / "sim", nints=60, segments=2, seed=12)
    out = tmp_path / "out"
    overrides = ["outlier_detection.rolling_window_width=1", "outlier_detection.motion_modes=0"]
    _run(sim.asn_path, out, overrides=overrides)
    cubes = {n: np.concatenate([fits.getdata(f, n) for f in sim.files]) for n in ("SCI", "ERR")}
    dq = np.concatenate([fits.getdata(f, "DQ") for f in sim.files]).astype(np.uint32)
    whole = detect_outliers(cubes["SCI"], cubes["ERR"], dq, rolling_window_width=10**6)
    assert whole.n_flagged > 0
    got = flags(out)
    np.testing.assert_array_equal(got & 16 > 0, whole.outliers | (dq & 16 > 0))


def _model_at_invalid(sim, mode: str, width: int) -> dict:
    """The outlier model the pass hands to the measuring stage at every invalid sample
    ((segment, flat index in the segment) -> value), without writing crfints."""
    from tso3.config import resolve_parameters
    from tso3.io.observation import load_observation

    obs = load_observation(sim.asn_path)
    params = resolve_parameters(None, [f"outlier_detection.rolling_window_width={width}"])
    model = {}
    for block in stage.OutlierPass(obs, None, params.outlier_detection, mode):
        index, values = block.fill
        offset = block.start * block.cubes["SCI"][0].size
        keys = ((block.segment, int(i) + offset) for i in index)
        model.update(zip(keys, values.tolist(), strict=True))
    return model


@pytest.mark.parametrize("mode, width", [("default", 25), ("jwst", 9)])
def test_a_last_block_shorter_than_the_window_changes_no_model_value(
    jittery, monkeypatch, engine, mode, width
):
    """The last block of a series can hold fewer integrations than the window, halo
    included: it is still judged with the series' windows (and, in default mode, the
    series' relative motion), not as a whole series of its own (w >= nints)."""
    whole = _model_at_invalid(jittery, mode, width)
    # 90 integrations in blocks of 44: the last holds 2 (and a halo of width // 2 + 1)
    monkeypatch.setattr(stage, "block_length", lambda npix, width: 44)
    blocks = _model_at_invalid(jittery, mode, width)
    assert whole and whole.keys() == blocks.keys()
    # the same windows; the motion fit's matrix products may round in another order for
    # another number of integrations (1e-6), a block judged as a whole series moves the
    # model by percents
    np.testing.assert_allclose([blocks[k] for k in whole], list(whole.values()), rtol=1e-5)
