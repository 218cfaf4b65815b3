"""Box and optimal extraction, repair, DISPAXIS=2 views, unit columns, SpectraSet."""

import numpy as np
import pytest

from tso3.dqflags import DO_NOT_USE
from tso3.spectra import spectra_columns, to_spectra_set
from tso3.steps.aperture import aperture_wavelength, box_profile, default_aperture
from tso3.steps.extract import ExtractParams, box_extract, extract_block, profile_model
from tso3.steps.optimal import optimal_extract

NY, NX = 32, 60
SIGMA = 1.3


def _gauss(center=15.2, ny=NY, nx=NX):
    y = np.arange(ny)[:, None]
    g = np.exp(-0.5 * ((y - center) / SIGMA) ** 2)
    return np.broadcast_to(g / g.sum(axis=0), (ny, nx))


def test_exact_box_sums_and_variances():
    amp = np.linspace(100, 200, NX)
    sci = (_gauss() * amp)[None].repeat(3, axis=0).astype(np.float32)
    sci *= np.array([1.0, 0.5, 2.0], np.float32)[:, None, None]
    var = np.full_like(sci, 0.25)
    p = box_profile((NY, NX), 12.7, 17.7)  # 0.3, 1 x5, 0.7 -> NPIX 6
    out = box_extract(sci, var, 2 * var, None, p, repair=None)
    expected = (sci.astype(np.float64) * p).sum(axis=1)
    np.testing.assert_allclose(out["flux"], expected, rtol=1e-6)
    np.testing.assert_allclose(out["npixels"], 6.0)
    p2 = (p**2).sum(axis=0)[None]
    np.testing.assert_allclose(out["var_poisson"], np.repeat(0.25 * p2, 3, axis=0), rtol=1e-6)
    np.testing.assert_allclose(out["var_rnoise"], np.repeat(0.5 * p2, 3, axis=0), rtol=1e-6)
    np.testing.assert_array_equal(out["var_flat"], 0.0)


def test_dispaxis2_view_equals_transposed_copy():
    rng = np.random.default_rng(5)
    cube = rng.normal(50, 3, (4, 72, 40)).astype(np.float32)  # LRS-like: [int, y=disp, x=cross]
    cube[1, 30, 20] = np.nan
    var = np.abs(rng.normal(1, 0.1, cube.shape)).astype(np.float32)
    view = np.swapaxes(cube, -1, -2)  # (4, 40 cross, 72 disp), non-contiguous
    copy = np.ascontiguousarray(view)
    trace = np.full(72, 20.0)
    ap = default_aperture((40, 72), trace, extract_width=8, bkg_gap=4, bkg_order=1)
    params = ExtractParams()
    a = extract_block(view, np.swapaxes(var, -1, -2), None, None, aperture=ap, params=params)
    b = extract_block(copy, np.ascontiguousarray(np.swapaxes(var, -1, -2)), None, None,
                      aperture=ap, params=params)  # fmt: skip
    for key in ("flux", "var_poisson", "background", "npixels"):
        # float32 data: agreement to float32 precision of the summed values (~8 x 50)
        np.testing.assert_allclose(a[key], b[key], rtol=1e-6, atol=1e-5, equal_nan=True)
    np.testing.assert_allclose(a["trace_position"], b["trace_position"], atol=1e-5)
    assert a["n_repaired"].sum() == 1


def test_repaired_pixel_unbiased_dropped_pixel_biased_low():
    rng = np.random.default_rng(11)
    nints = 50
    truth = 1000.0
    clean = truth * _gauss()[None] + rng.normal(0, 0.5, (nints, NY, NX))
    sci = clean.astype(np.float32)
    p = box_profile((NY, NX), 15.2 - 3.5, 15.2 + 3.5)
    sci[7, 15, 30] = np.nan  # the trace peak pixel
    model = profile_model(np.nanmedian(sci, axis=0), default_aperture(
        (NY, NX), np.full(NX, 15.2), extract_width=8, subtract_background=False))  # fmt: skip
    rep = box_extract(sci, None, None, None, p, model=model, repair="profile")
    drop = box_extract(sci, None, None, None, p, repair=None)
    noise = 0.5 * np.sqrt(8)
    share = truth * _gauss()[15, 30]
    assert rep["flux"][7, 30] == pytest.approx(truth * p[:, 30] @ _gauss()[:, 30], abs=5 * noise)
    assert drop["flux"][7, 30] == pytest.approx(rep["flux"][7, 30] - share, abs=5 * noise)
    assert rep["n_repaired"].tolist() == [0] * 7 + [1] + [0] * 42
    assert rep["npixels"][7, 30] == pytest.approx(8.0)
    assert drop["npixels"][7, 30] == pytest.approx(7.0)
    # untouched columns identical in both modes
    np.testing.assert_array_equal(rep["flux"][:, 29], drop["flux"][:, 29])


def test_empty_aperture_column_gives_nan_flux():
    sci = np.ones((2, NY, NX), np.float32)
    sci[:, 10:14, 5] = np.nan
    p = box_profile((NY, NX), 10, 13)
    out = box_extract(sci, None, None, None, p, repair="profile")
    assert np.isnan(out["flux"][:, 5]).all() and (out["npixels"][:, 5] == 0).all()
    assert np.isfinite(out["flux"][:, 4]).all()


def test_optimal_beats_box_on_faint_data():
    rng = np.random.default_rng(2)
    nints, rn = 200, 3.0
    f = _gauss()
    truth = 40.0
    sci = (truth * f[None] + rng.normal(0, rn, (nints, NY, NX))).astype(np.float32)
    sci[3, 15, 10] = 500.0  # cosmic ray: rejected by the optimal fit
    vr = np.full_like(sci, rn**2)
    vp = np.maximum(truth * f, 0)[None].repeat(nints, axis=0).astype(np.float32) * 0.0
    p = box_profile((NY, NX), 15.2 - 4.5, 15.2 + 4.5)
    box = box_extract(sci, vp, vr, None, p, repair=None)
    wide = box_profile((NY, NX), 15.2 - 6, 15.2 + 6)
    opt = optimal_extract(sci, vp, vr, None, f * (wide > 0) / (f * (wide > 0)).sum(axis=0))
    assert opt["n_rejected"][3] >= 1
    good = np.ones(nints, bool)
    good[3] = False
    box_scatter = np.std(box["flux"][good])
    opt_scatter = np.std(opt["flux"][good])
    assert opt_scatter < 0.8 * box_scatter
    assert abs(np.mean(opt["flux"][good]) - truth) < 4 * opt_scatter / np.sqrt(good.sum() * NX)
    # propagated error matches the measured scatter
    assert np.sqrt(np.median(opt["var_rnoise"])) == pytest.approx(opt_scatter, rel=0.1)


def test_spectra_columns_units():
    sums = {
        "flux": np.array([[2.0, np.nan]]),
        "npixels": np.array([[4.0, 0.0]]),
        "background": np.array([[8.0, 0.0]]),
        "var_poisson": np.array([[1.0, 0.0]]),
        "var_rnoise": np.array([[2.0, 0.0]]),
        "var_flat": np.array([[0.0, 0.0]]),
        "bkg_var_poisson": np.array([[0.5, 0.0]]),
        "bkg_var_rnoise": np.array([[0.0, 0.0]]),
        "bkg_var_flat": np.array([[0.0, 0.0]]),
    }
    om = 2e-13
    cols, units = spectra_columns(
        sums, bunit="MJy/sr", pixar_sr=om, source_type="POINT", instrument="NIRCAM"
    )
    assert units["flux"] == "Jy"
    assert cols["flux"][0, 0] == pytest.approx(2.0 * om * 1e6)
    assert cols["flux_var_rnoise"][0, 0] == pytest.approx(2.0 * om**2 * 1e12)
    assert cols["surf_bright"][0, 0] == pytest.approx(0.5)
    assert cols["sb_var_poisson"][0, 0] == pytest.approx(1.0 / 16)
    assert cols["background"][0, 0] == pytest.approx(2.0)
    assert cols["bkgd_var_poisson"][0, 0] == pytest.approx(0.5 / 16)
    assert cols["dq"].tolist() == [[0, DO_NOT_USE]] and cols["dq"].dtype == np.uint32
    nrs, _ = spectra_columns(sums, bunit="MJy", pixar_sr=om, source_type="POINT",
                             instrument="NIRSPEC")  # fmt: skip
    assert nrs["flux"][0, 0] == pytest.approx(2e6)
    assert nrs["flux_var_poisson"][0, 0] == pytest.approx(1e12)
    assert nrs["surf_bright"][0, 0] == 0.0 and nrs["sb_var_rnoise"][0, 0] == 0.0
    assert nrs["background"][0, 0] == pytest.approx(2.0 / om)
    assert nrs["bkgd_var_poisson"][0, 0] == pytest.approx(0.5 / 16 / om**2)
    raw, units = spectra_columns(sums, bunit="DN/s", pixar_sr=om, source_type="POINT",
                                 instrument="NIRCAM", photom_complete=False)  # fmt: skip
    assert raw["flux"][0, 0] == 2.0 and units["flux"] == "DN/s"


def test_extract_block_to_spectra_set_drops_nan_wavelength():
    rng = np.random.default_rng(8)
    nints = 5
    sci = (500 * _gauss()[None] + 3.0 + rng.normal(0, 0.1, (nints, NY, NX))).astype(np.float32)
    wl = np.broadcast_to(np.linspace(3, 5, NX), (NY, NX)).copy()
    wl[:, :4] = np.nan
    ap = default_aperture((NY, NX), np.full(NX, 15.2), extract_width=8, wavelength=wl)
    sums = extract_block(sci, np.full_like(sci, 0.01), None, None, aperture=ap)
    cols, units = spectra_columns(sums, bunit="MJy/sr", pixar_sr=1e-12, source_type="POINT",
                                  instrument="NIRCAM")  # fmt: skip
    lam = aperture_wavelength(ap.profile, wl)
    ss = to_spectra_set(cols, lam, int_num=np.arange(1, nints + 1), units=units,
                        extras=sums, segment=2, detector="NRCALONG")  # fmt: skip
    assert ss.nwave == NX - 4 and ss.nints == nints
    np.testing.assert_allclose(ss.wavelength, np.linspace(3, 5, NX)[4:])
    in_ap = _gauss()[:, 10] @ ap.profile[:, 10]
    # noise 0.1 per pixel (x sqrt(8)) on 500 * 0.997: 0.3/500 = 6e-4 -> 5 sigma = 3e-3
    np.testing.assert_allclose(ss.flux, 500 * in_ap * 1e-12 * 1e6, rtol=3e-3)
    # per-column mean of ~18 background pixels with noise 0.1: sigma 0.024
    np.testing.assert_allclose(ss.background, 3.0, atol=0.12)
    assert np.mean(ss.background) == pytest.approx(3.0, abs=0.005)
    assert ss.trace_position.shape == (nints,) and ss.segment == 2


def test_fill_from_model_only_fills_nan_and_sets_typical_variance():
    from tso3.steps.extract import fill_from_model

    sci = np.ones((3, 2, 4), np.float32)
    var = np.full(sci.shape, 0.5, np.float32)
    var[:, 0, 1] = [0.1, 0.3, 0.2]
    sci[1, 0, 1] = np.nan
    var[1, 0, 1] = np.nan
    sci[2, 1, 3] = np.nan  # no model value here: stays NaN
    index = np.array([1 * 8 + 1, 0 * 8 + 2])  # (1, 0, 1) is NaN, (0, 0, 2) is valid
    filled = fill_from_model(sci, [var, None], index, np.array([7.0, 9.0]))
    assert filled.tolist() == [9]
    assert sci[1, 0, 1] == 7.0 and sci[0, 0, 2] == 1.0 and np.isnan(sci[2, 1, 3])
    assert var[1, 0, 1] == pytest.approx(0.15)  # median of the pixel's other variances
