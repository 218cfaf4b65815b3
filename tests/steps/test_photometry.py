"""Tests of tso3.steps.photometry: aperture sums, backgrounds, repair, units."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from photutils.aperture import CircularAperture

from tests.builders import gauss_image
from tso3.steps.photometry import (
    aperture_photometry,
    apertures_text,
    calibration_factor,
    is_whole_frame,
    whole_frame_photometry,
)

# ------------------------------------------------------------------------------- units


def test_calibration_factor_mjy_sr_to_jy():
    factor, unit = calibration_factor("MJy/sr", 2.5e-13, None, None)
    assert unit == "Jy"
    assert factor == pytest.approx(2.5e-7, rel=1e-12)


def test_calibration_factor_dn_s_to_electron_number_and_array():
    factor, unit = calibration_factor("DN/s", None, 1.8, 10.0)
    assert unit == "electron" and factor == pytest.approx(18.0)
    gain = np.array([[1.5, 2.0], [2.5, 3.0]], np.float32)
    factor, unit = calibration_factor("DN/s", None, gain, 4.0)
    np.testing.assert_allclose(factor, [[6.0, 8.0], [10.0, 12.0]])


def test_calibration_factor_other_unit_kept_and_missing_keywords(caplog):
    with caplog.at_level(logging.WARNING):
        factor, unit = calibration_factor("DN", None, None, None)
    assert (factor, unit) == (1.0, "DN")
    assert "neither" in caplog.text
    with pytest.raises(ValueError, match="PIXAR_SR"):
        calibration_factor("MJy/sr", None, None, None)
    with pytest.raises(ValueError, match="gain"):
        calibration_factor("DN/s", None, None, 3.0)


# ---------------------------------------------------------------------- aperture sums


@pytest.mark.parametrize(("x", "y"), [(20.0, 15.0), (20.37, 14.81), (19.5, 15.5)])
def test_uniform_surface_brightness_exact_areas(x, y):
    sci = np.full((3, 32, 40), 2.5, np.float32)
    err = np.full_like(sci, 0.1)
    cols = aperture_photometry(sci, err, None, x, y, 3.0, 4.0, 5.5, mode="jwst")
    np.testing.assert_allclose(cols["aperture_sum"], np.pi * 9 * 2.5, rtol=1e-6)
    np.testing.assert_allclose(cols["annulus_sum"], np.pi * (5.5**2 - 16) * 2.5, rtol=1e-6)
    np.testing.assert_allclose(cols["annulus_mean"], 2.5, rtol=1e-6)
    np.testing.assert_allclose(cols["net_aperture_sum"], 0.0, atol=1e-4)
    # jwst/photutils errors: sqrt(sum w err^2) = err * sqrt(area)
    np.testing.assert_allclose(cols["aperture_sum_err"], 0.1 * np.sqrt(np.pi * 9), rtol=1e-6)


def test_gaussian_enclosed_fraction_off_centre():
    sigma, flux, r = 3.0, 1e5, 6.0
    sci = gauss_image(2, 60, 60, 30.3, 28.7, sigma, sigma, flux)
    cols = aperture_photometry(sci, np.ones_like(sci), None, 30.3, 28.7, [r, 9.0], 20, 25)
    # The exact-overlap sum integrates the piecewise-constant pixel image: pixel
    # integration and the constant reconstruction each convolve with a 1-px box, adding
    # 1/12 px^2 of variance per axis twice.  Without that the sum is 0.6 % lower.
    s2 = sigma**2 + 2 / 12
    np.testing.assert_allclose(
        cols["aperture_sum"], flux * (1 - np.exp(-(r**2) / (2 * s2))), rtol=3e-4
    )
    np.testing.assert_allclose(
        cols["net_aperture_sum_r9"], flux * (1 - np.exp(-81 / (2 * s2))), rtol=3e-4
    )


def test_errors_default_mode_propagate_w_squared():
    sci = np.zeros((2, 30, 30), np.float32)
    err = np.full_like(sci, 2.0)
    x, y, r = 14.3, 15.6, 3.0
    cols = aperture_photometry(sci, err, None, x, y, r, 5.0, 7.0)
    w = CircularAperture((x, y), r).to_mask(method="exact").data
    np.testing.assert_allclose(cols["aperture_sum_err"], 2.0 * np.sqrt((w**2).sum()), rtol=1e-9)
    assert (w**2).sum() < w.sum() - 1.0  # the two conventions really differ here
    ann_area = np.pi * (49 - 25)
    ann_err = cols["annulus_sum_err"] / ann_area
    np.testing.assert_allclose(cols["annulus_mean_err"], ann_err, rtol=1e-12)
    bkg_err = ann_err * np.pi * 9
    np.testing.assert_allclose(
        cols["net_aperture_sum_err"], np.hypot(cols["aperture_sum_err"], bkg_err), rtol=1e-6
    )


def test_background_mean_ignores_masked_annulus_pixels():
    sci = np.full((2, 30, 30), 5.0)
    sci += gauss_image(2, 30, 30, 15, 15, 1.0, 1.0, 1000.0)
    valid = np.ones(sci.shape, bool)
    sci[:, 15, 22:24] = 1e6  # in the annulus (r 6..9), flagged
    valid[:, 15, 22:24] = False
    sci[1, 8, 15] = np.nan  # r = 7: annulus, NaN
    cols = aperture_photometry(sci, np.ones_like(sci), valid, 15.0, 15.0, 3.0, 6.0, 9.0)
    np.testing.assert_allclose(cols["annulus_mean"], 5.0, rtol=1e-6)
    full = np.pi * (81 - 36)
    area = cols["annulus_sum"] / cols["annulus_mean"]
    assert area[0] == pytest.approx(full - 2.0, abs=1e-6)  # two whole pixels masked
    assert area[1] == pytest.approx(full - 3.0, abs=1e-6)
    s2 = 1 + 2 / 12  # see test_gaussian_enclosed_fraction_off_centre
    np.testing.assert_allclose(cols["net_aperture_sum"], 1000 * (1 - np.exp(-9 / (2 * s2))), 1e-3)


def test_sigma_clip_background_rejects_unflagged_hot_pixel():
    rng = np.random.default_rng(3)
    sci = 10.0 + rng.normal(0, 0.1, (4, 30, 30))
    sci[:, 15, 20] = 500.0  # hot pixel in the annulus, not flagged
    mean = aperture_photometry(sci, np.ones_like(sci), None, 15.0, 15.0, 3.0, 4.0, 7.0)
    clip = aperture_photometry(
        sci, np.ones_like(sci), None, 15.0, 15.0, 3.0, 4.0, 7.0, background_method="sigma_clip"
    )
    assert np.all(mean["annulus_mean"] > 12.0)
    np.testing.assert_allclose(clip["annulus_mean"], 10.0, atol=0.02)


def test_repair_vs_drop_of_nan_aperture_pixel():
    truth = 20.0 + gauss_image(5, 40, 40, 20.2, 19.7, 1.5, 1.5, 1e4)
    err = np.ones_like(truth)
    clean = aperture_photometry(truth, err, None, 20.2, 19.7, 3.0, 5.0, 8.0, mode="jwst")
    sci = truth.copy()
    sci[2, 20, 20] = np.nan  # the brightest pixel
    valid = np.isfinite(sci)
    lost = truth[2, 20, 20]
    fixed = aperture_photometry(sci, err, valid, 20.2, 19.7, 3.0, 5.0, 8.0, model=truth)
    dropped = aperture_photometry(sci, err, valid, 20.2, 19.7, 3.0, 5.0, 8.0, mode="jwst")
    np.testing.assert_allclose(fixed["net_aperture_sum"], clean["net_aperture_sum"], rtol=1e-12)
    np.testing.assert_array_equal(fixed["n_repaired"], [0, 0, 1, 0, 0])
    assert "n_repaired" not in dropped
    # Dropping loses the pixel's value, and its (whole-pixel) background share leaves
    # with its area.
    expected = clean["net_aperture_sum"][2] - lost + dropped["annulus_mean"][2]
    assert dropped["net_aperture_sum"][2] == pytest.approx(expected, rel=1e-12)
    # Model NaN too (persistent bad pixel): the scaled median image repairs it.
    model = truth.copy()
    model[:, 20, 20] = np.nan
    sci[:, 20, 20] = np.nan
    spatial = aperture_photometry(sci, err, np.isfinite(sci), 20.2, 19.7, 3, 5, 8, model=model)
    np.testing.assert_array_equal(spatial["n_repaired"], 1)
    ratio = spatial["net_aperture_sum"] / clean["net_aperture_sum"]
    # The peak pixel from a cubic through its neighbours: 0.5 % of the flux (a plain
    # neighbour mean would lose 2 %); the ratio is the same in every integration, so the
    # light curve keeps its shape.
    assert np.all(np.abs(ratio - 1) < 6e-3)
    assert np.ptp(ratio) < 1e-12
    assert np.all(spatial["net_aperture_sum"] > dropped["net_aperture_sum"][2] + 0.5 * (lost - 20))


def test_multi_radius_columns_match_single_radius_runs():
    sci = 3.0 + gauss_image(2, 40, 40, 20.4, 20.1, 2.0, 2.0, 5000.0)
    err = np.full_like(sci, 0.3)
    multi = aperture_photometry(sci, err, None, 20.4, 20.1, [3.0, 4.5, 6], 8, 10)
    for r, name in ((4.5, "r4.5"), (6.0, "r6")):
        single = aperture_photometry(sci, err, None, 20.4, 20.1, r, 8, 10)
        np.testing.assert_allclose(multi[f"net_aperture_sum_{name}"], single["net_aperture_sum"])
        np.testing.assert_allclose(
            multi[f"net_aperture_sum_err_{name}"], single["net_aperture_sum_err"]
        )
    assert multi["net_aperture_sum_r6"][0] == pytest.approx(5000 * (1 - np.exp(-36 / 8)), rel=3e-3)


def test_moving_aperture_follows_the_source():
    xs = np.array([20.0, 20.3, 21.1, 19.6])
    ys = np.array([18.0, 18.4, 17.7, 18.9])
    sci = 1.0 + gauss_image(4, 40, 40, xs, ys, 1.2, 1.2, 1e4)
    cols = aperture_photometry(sci, np.ones_like(sci), None, xs, ys, 4.0, 6.0, 9.0)
    s2 = 1.44 + 2 / 12  # see test_gaussian_enclosed_fraction_off_centre
    np.testing.assert_allclose(cols["net_aperture_sum"], 1e4 * (1 - np.exp(-8 / s2)), rtol=2e-4)
    fixed = aperture_photometry(sci, np.ones_like(sci), None, 20.0, 18.0, 4.0, 6.0, 9.0)
    assert fixed["net_aperture_sum"][2] < cols["net_aperture_sum"][2] - 50
    nan = aperture_photometry(
        sci, np.ones_like(sci), None, np.array([1.0, np.nan] * 2), 18, 4, 6, 9
    )
    assert np.isnan(nan["net_aperture_sum"][1]) and nan["n_repaired"][1] == 0


def test_whole_frame_sum_and_nan_background():
    rng = np.random.default_rng(0)
    sci = rng.normal(10, 1, (3, 8, 16))
    err = np.full_like(sci, 0.5)
    sci[1, 2, 3] = np.nan
    model = np.full_like(sci, 10.0)
    default = whole_frame_photometry(sci, err, np.isfinite(sci), model=model)
    jwst = whole_frame_photometry(sci, err, np.isfinite(sci), mode="jwst")
    np.testing.assert_allclose(jwst["aperture_sum"], np.nansum(sci, axis=(1, 2)))
    np.testing.assert_allclose(
        jwst["aperture_sum_err"], [0.5 * np.sqrt(128), 0.5 * np.sqrt(127)] + [0.5 * np.sqrt(128)]
    )
    assert default["aperture_sum"][1] == pytest.approx(jwst["aperture_sum"][1] + 10.0)
    np.testing.assert_array_equal(default["n_repaired"], [0, 1, 0])
    np.testing.assert_array_equal(jwst["net_aperture_sum"], jwst["aperture_sum"])
    for name in ("annulus_sum", "annulus_mean_err", "aperture_bkg", "aperture_bkg_err"):
        assert np.all(np.isnan(jwst[name]))
    assert is_whole_frame("SUB64P", "WLP8") and not is_whole_frame("SUB64P", "CLEAR")
    assert apertures_text(3.0, 4.0, 5.0, whole_frame=True).startswith("Photometry measured as")
    assert apertures_text(3.0, 4.0, 5.0) == (
        "Photometry measured in a circular aperture of r=3.0 pixels.  Background calculated "
        "as the mean in a circular annulus with r_inner=4.0 pixels and r_outer=5.0 pixels."
    )


# --------------------------------------------------------------------------- centroids
