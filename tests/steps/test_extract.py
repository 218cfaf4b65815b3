"""Tests of tso3.steps.extract: box sums, variances, repair, DISPAXIS=2 views."""

import numpy as np
import pytest

from tests.builders import gaussian_profile
from tso3.steps.aperture import box_profile, default_aperture
from tso3.steps.extract import ExtractParams, box_extract, extract_block, profile_model

NY, NX = 32, 60


def test_exact_box_sums_and_variances():
    amp = np.linspace(100, 200, NX)
    sci = (gaussian_profile() * amp)[None].repeat(3, axis=0).astype(np.float32)
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
    clean = truth * gaussian_profile()[None] + rng.normal(0, 0.5, (nints, NY, NX))
    sci = clean.astype(np.float32)
    p = box_profile((NY, NX), 15.2 - 3.5, 15.2 + 3.5)
    sci[7, 15, 30] = np.nan  # the trace peak pixel
    model = profile_model(np.nanmedian(sci, axis=0), default_aperture(
        (NY, NX), np.full(NX, 15.2), extract_width=8, subtract_background=False))  # fmt: skip
    rep = box_extract(sci, None, None, None, p, model=model, repair="profile")
    drop = box_extract(sci, None, None, None, p, repair=None)
    noise = 0.5 * np.sqrt(8)
    share = truth * gaussian_profile()[15, 30]
    assert rep["flux"][7, 30] == pytest.approx(
        truth * p[:, 30] @ gaussian_profile()[:, 30], abs=5 * noise
    )
    assert drop["flux"][7, 30] == pytest.approx(rep["flux"][7, 30] - share, abs=5 * noise)
    assert rep["n_repaired"].tolist() == [0] * 7 + [1] + [0] * 42
    assert rep["npixels"][7, 30] == pytest.approx(8.0)
    assert drop["npixels"][7, 30] == pytest.approx(7.0)
    # untouched columns identical in both modes
    np.testing.assert_array_equal(rep["flux"][:, 29], drop["flux"][:, 29])


def test_a_pixel_bad_throughout_is_repaired_in_every_integration_or_none():
    """A bad pixel near the trace peak whose column keeps about REPAIR_MIN_PROFILE of the
    model in its good pixels: as the trace drifts, the shifted model's share crosses the
    threshold (0.49-0.51 here).  The column must not switch between repaired and
    dropped (a step of the pixel's light in the light curve): the choice is the
    unshifted model's, for every integration."""
    shifts = np.array([-0.1, 0.0, 0.1, -0.1, 0.1])
    sci = np.stack([1000.0 * gaussian_profile(center=15.3 + d, sigma=0.74) for d in shifts])
    sci = sci.astype(np.float32)
    sci[:, 15, 30] = np.nan  # about half of the column's light, in every integration
    p = box_profile((NY, NX), 11.5, 18.5)
    model = np.array(gaussian_profile(center=15.3, sigma=0.74))
    out = box_extract(sci, None, None, None, p, model=model, repair="profile",
                      model_shift=shifts)  # fmt: skip
    assert out["n_repaired"].tolist() == [1] * 5
    # repaired with the model moved to first order in the shift (4 % off for this very
    # narrow profile); dropped, the column would hold 480
    np.testing.assert_allclose(out["flux"][:, 30], 1000.0, rtol=0.05)


def test_empty_aperture_column_gives_nan_flux():
    sci = np.ones((2, NY, NX), np.float32)
    sci[:, 10:14, 5] = np.nan
    p = box_profile((NY, NX), 10, 13)
    out = box_extract(sci, None, None, None, p, repair="profile")
    assert np.isnan(out["flux"][:, 5]).all() and (out["npixels"][:, 5] == 0).all()
    assert np.isfinite(out["flux"][:, 4]).all()


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
