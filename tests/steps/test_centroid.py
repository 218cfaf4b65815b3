"""Tests of tso3.steps.centroid: centroids, PSF widths, frame background."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import j1

from tests.builders import gauss_image
from tso3.steps.centroid import (
    centroid_cube,
    frame_background,
    psf_widths,
    rowwise_nanmedian,
)


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
