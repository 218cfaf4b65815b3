"""Background fits: exact polynomial removal, variances, median, smoothing, singular fits."""

import numpy as np
import pytest
from astropy.convolution import convolve

from tso3.steps.aperture import box_profile
from tso3.steps.background import boxcar_smooth, fit_background, poly_basis
from tso3.steps.extract import box_extract

NY, NX, NI = 24, 40, 6


def _regions():
    src = box_profile((NY, NX), 10.0, 14.0)
    bkg = np.zeros((NY, NX))
    bkg[:6] = 1.0
    bkg[-6:] = 1.0
    return src, bkg


def test_linear_gradient_removed_exactly_with_nan_pixels():
    src, bkg = _regions()
    y = np.arange(NY)[None, :, None]
    gradient = 5.0 + 0.3 * y + 0.01 * np.arange(NX)[None, None, :] + np.arange(NI)[:, None, None]
    star = np.zeros((NI, NY, NX))
    star[:, 11:14] = 100.0
    sci = (gradient + star).astype(np.float32)
    sci[2, 3, 7] = np.nan  # sporadic NaN in the background region: exact refit
    sci[:, 20, 9] = np.nan  # permanently bad background pixel
    fit = fit_background(sci, bkg, src_profile=src, bkg_fit="poly", bkg_order=1)
    model = fit.evaluate(dtype=np.float64)
    np.testing.assert_allclose(model, gradient, rtol=2e-6)
    out = box_extract(sci, None, None, None, src, background=fit, repair=None)
    np.testing.assert_allclose(out["flux"], 300.0, rtol=1e-5)
    np.testing.assert_allclose(out["background"], (gradient * src).sum(axis=1), rtol=1e-5)


def test_poly_variance_matches_brute_force_propagation():
    rng = np.random.default_rng(3)
    src, bkg = _regions()
    sci = rng.normal(10, 1, (NI, NY, NX)).astype(np.float32)
    var = rng.uniform(0.5, 2.0, (NI, NY, NX)).astype(np.float32)
    sci[1, 2, 5] = np.nan
    fit = fit_background(sci, bkg, var_rnoise=var, src_profile=src, bkg_order=2)
    basis = poly_basis(NY, 2)
    for i, x in [(0, 0), (1, 5), (3, 17)]:
        use = (bkg[:, x] != 0) & np.isfinite(sci[i, :, x])
        a = basis[use]
        g = np.linalg.pinv(a)  # (K, n): d coeffs / d pixel
        dbdpix = basis @ g  # (ny, n): d B_row / d pixel
        w = src[:, x] @ dbdpix
        expected = np.sum(var[i, use, x] * w**2)
        assert fit.var_rnoise[i, x] == pytest.approx(expected, rel=1e-5)
        coef = g @ sci[i, use, x].astype(np.float64)
        np.testing.assert_allclose(fit.coeffs[i, :, x], coef, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(fit.var_poisson, 0.0)


def test_median_background_and_its_variance():
    src, bkg = _regions()
    sci = np.full((NI, NY, NX), 2.0, np.float32)
    sci[:, 0, :] = 50.0  # one bright background row: the median ignores it
    sci[:, 1, :] = -40.0
    var = np.full((NI, NY, NX), 4.0, np.float32)
    fit = fit_background(sci, bkg, var_poisson=var, src_profile=src, bkg_fit="median")
    np.testing.assert_allclose(fit.coeffs[:, 0], 2.0)
    n = 12  # background pixels per column
    expected = 1.2**2 * src[:, 0].sum() ** 2 * n * 4.0 / n**2
    np.testing.assert_allclose(fit.var_poisson, expected, rtol=1e-6)


def test_boxcar_smooth_matches_astropy_convolve():
    rng = np.random.default_rng(0)
    row = rng.normal(size=(3, 30))
    row[0, 4] = np.nan
    row[1, 0] = np.nan
    kernel = np.ones((1, 5)) / 5.0
    expected = convolve(row, kernel, boundary="extend")
    np.testing.assert_allclose(boxcar_smooth(row, 5), expected, rtol=1e-12)


def test_smoothing_length_changes_background_to_boxcar_of_columns():
    src, bkg = _regions()
    x = np.arange(NX)
    sci = np.broadcast_to((x % 2).astype(np.float32) * 10.0, (NI, NY, NX)).copy()
    fit = fit_background(sci, bkg, src_profile=src, smoothing_length=3)
    # interior columns alternate 0/10 -> 3-boxcar gives 10/3 or 20/3
    expected = np.where(x % 2 == 1, 10.0 / 3.0, 20.0 / 3.0)[1:-1]
    np.testing.assert_allclose(fit.coeffs[0, 0, 1:-1], expected, rtol=1e-6)
    raw = fit_background(sci, bkg, src_profile=src)
    np.testing.assert_allclose(raw.coeffs[0, 0], (x % 2) * 10.0, atol=1e-5)


def test_singular_fit_gives_zero_background():
    src = box_profile((NY, NX), 10.0, 14.0)
    bkg = np.zeros((NY, NX))
    bkg[3] = 1.0  # one row cannot constrain a slope
    sci = np.full((2, NY, NX), 7.0, np.float32)
    fit = fit_background(sci, bkg, src_profile=src, bkg_order=1)
    np.testing.assert_array_equal(fit.coeffs, 0.0)
    mean = fit_background(sci, bkg, src_profile=src, bkg_fit="mean", bkg_order=3)
    np.testing.assert_allclose(mean.coeffs[:, 0], 7.0)
