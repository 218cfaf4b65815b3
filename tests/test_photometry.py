"""Imaging TSO photometry: centroids, PSF widths, aperture sums, repair, units."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from photutils.aperture import CircularAperture
from scipy.special import erf, j1

from tso3.steps.centroid import (
    centroid_cube,
    frame_background,
    psf_widths,
    rowwise_nanmedian,
)
from tso3.steps.photometry import (
    aperture_photometry,
    apertures_text,
    calibration_factor,
    is_whole_frame,
    whole_frame_photometry,
)
from tso3.steps.tso_photometry import odd_box_width, tso_photometry


def gauss_image(n, ny, nx, xc, yc, sx, sy, flux):
    """Pixel-integrated elliptical Gaussian, shape (n, ny, nx); centres may vary per row."""
    xc = np.broadcast_to(np.asarray(xc, float), (n,))[:, None]
    yc = np.broadcast_to(np.asarray(yc, float), (n,))[:, None]
    x = np.arange(nx)[None, :]
    y = np.arange(ny)[None, :]
    ex = 0.5 * (erf((x - xc + 0.5) / (np.sqrt(2) * sx)) - erf((x - xc - 0.5) / (np.sqrt(2) * sx)))
    ey = 0.5 * (erf((y - yc + 0.5) / (np.sqrt(2) * sy)) - erf((y - yc - 0.5) / (np.sqrt(2) * sy)))
    return flux * ey[:, :, None] * ex[:, None, :]


def airy_image(n, ny, nx, xc, yc, flux, lam_d=1.6, sub=4, half=10):
    """Pixel-integrated (sub x sub supersampled) Airy PSF on a stamp, unit total in stamp."""
    xc = np.broadcast_to(np.asarray(xc, float), (n,))
    yc = np.broadcast_to(np.asarray(yc, float), (n,))
    out = np.zeros((n, ny, nx))
    ix, iy = np.round(xc).astype(int), np.round(yc).astype(int)
    o = (np.arange(sub) + 0.5) / sub - 0.5
    k = np.arange(-half, half + 1)
    gx = (ix[:, None] + k)[:, None, :, None, None] + o[None, None, None, None, :]
    gy = (iy[:, None] + k)[:, :, None, None, None] + o[None, None, None, :, None]
    r = np.pi * np.hypot(gx - xc[:, None, None, None, None], gy - yc[:, None, None, None, None])
    r = np.maximum(r / lam_d, 1e-9)
    stamp = ((2 * j1(r) / r) ** 2).mean(axis=(3, 4))
    stamp *= flux / stamp.sum(axis=(1, 2), keepdims=True)
    rows = (iy[:, None] + k)[:, :, None]
    cols = (ix[:, None] + k)[:, None, :]
    out[np.arange(n)[:, None, None], rows, cols] = stamp
    return out


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


def test_rowwise_nanmedian_matches_numpy():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(50, 31)).astype(np.float32)
    a[rng.random(a.shape) < 0.2] = np.nan
    a[7] = np.nan
    expected = np.array([np.nanmedian(row) if np.isfinite(row).any() else np.nan for row in a])
    np.testing.assert_allclose(rowwise_nanmedian(a), expected, rtol=1e-6)


def test_centroid_follows_subpixel_jitter_airy_with_noise():
    rng = np.random.default_rng(7)
    n, ny, nx = 300, 64, 96
    jx = 47.3 + rng.normal(0, 0.1, n)
    jy = 31.6 + rng.normal(0, 0.1, n)
    flux = 2e6
    truth = 80.0 + airy_image(n, ny, nx, jx, jy, flux)
    sci = rng.poisson(truth) + rng.normal(0, 12.0, truth.shape)
    sci = sci.astype(np.float32)
    mask = np.zeros(sci.shape, bool)
    sci[5, 30, 40] = np.nan
    cx1, cy1 = centroid_cube(sci, mask, 46.0, 33.0, 41, bkg_radius=4.0)
    bx, by = np.nanmedian(cx1), np.nanmedian(cy1)
    cx, cy = centroid_cube(sci, mask, bx, by, 11, bkg_radius=4.0)
    dx, dy = cx - jx, cy - jy
    # Relative (jitter) accuracy: rms about the mean offset.
    assert np.std(dx) < 0.02 and np.std(dy) < 0.02
    assert abs(np.mean(dx)) < 0.05 and abs(np.mean(dy)) < 0.05
    # A start position off the frame gives NaN, as the reference.
    assert np.all(np.isnan(centroid_cube(sci, mask, -3.0, 10.0, 11, bkg_radius=4)[0]))


def test_frame_background_excludes_disc_and_mask():
    sci = np.full((2, 20, 20), 3.0)
    sci[:, 8:13, 8:13] = 100.0
    sci[1, :, :4] = 7.0  # a fifth of the frame: median still 3
    mask = np.zeros(sci.shape, bool)
    mask[1, :, 4:] = True  # only the 7s remain valid in integration 1
    np.testing.assert_allclose(frame_background(sci, mask, 10, 10, 4.0), [3.0, 7.0])


def test_psf_widths_recover_injected_gaussian():
    rng = np.random.default_rng(2)
    n = 200
    cx = 30.0 + rng.uniform(-0.5, 0.5, n)
    cy = 20.0 + rng.uniform(-0.5, 0.5, n)
    img = gauss_image(n, 40, 60, cx, cy, 1.2, 1.7, 5e5)
    sci = img + rng.normal(0, 20.0, img.shape)
    mask = np.zeros(sci.shape, bool)
    mask[:, 20, 31] = True
    sx, sy, f = psf_widths(sci, mask, cx, cy, 11)
    assert np.median(sx) == pytest.approx(1.2, rel=3e-3)
    assert np.median(sy) == pytest.approx(1.7, rel=3e-3)
    # Flux of the Gaussian itself (the 11 px box truncates 0.1 % in y)
    assert np.median(f) == pytest.approx(5e5, rel=3e-3)
    bad = psf_widths(sci[:2], mask[:2], np.array([np.nan, 30.0]), np.array([20.0, 20.0]), 11)
    assert np.isnan(bad[0][0]) and bad[0][1] == pytest.approx(1.2, rel=0.02)


def test_tso_photometry_full_flow_and_odd_box(caplog):
    rng = np.random.default_rng(5)
    n = 40
    jx, jy = 50.4 + rng.normal(0, 0.05, n), 30.2 + rng.normal(0, 0.05, n)
    sci = 5.0 + gauss_image(n, 64, 100, jx, jy, 1.3, 1.3, 1e5) + rng.normal(0, 1, (n, 64, 100))
    err = np.ones_like(sci)
    with caplog.at_level(logging.WARNING):
        cols = tso_photometry(
            sci,
            err,
            None,
            49.0,
            31.0,
            fit_box_width=12,
            radius=[4, 6],
            radius_inner=8,
            radius_outer=12,
        )
    assert "fit_box_width=12" in caplog.text and odd_box_width("x", 12) == 11
    assert np.std(cols["centroid_x"] - jx) < 0.02
    assert cols["aperture_x"][0] == pytest.approx(np.median(cols["centroid_x"]))
    np.testing.assert_allclose(cols["psf_width_x"], 1.3, rtol=0.03)
    net = 1e5 * (1 - np.exp(-16 / (2 * (1.69 + 2 / 12))))
    assert np.median(cols["net_aperture_sum"]) == pytest.approx(net, rel=2e-3)
    assert "net_aperture_sum_r6" in cols
    # No source anywhere: planned position, no centroid columns.
    empty = tso_photometry(np.zeros((3, 20, 20)), np.ones((3, 20, 20)), None, 10, 10)
    assert "centroid_x" not in empty and empty["aperture_x"][0] == 10.0
    moving = tso_photometry(sci, err, None, 49.0, 31.0, moving_centroid=True, whole_frame=True)
    np.testing.assert_array_equal(moving["aperture_x"], moving["centroid_x"])
    np.testing.assert_allclose(moving["aperture_sum"], sci.sum(axis=(1, 2)))
