"""Tests of tso3.steps.tso_photometry: the jwst-compatible photometry flow."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from tests.builders import gauss_image
from tso3.steps.tso_photometry import measure, odd_box_width, place_aperture, tso_photometry


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


@pytest.mark.parametrize("moving", [False, True])
def test_placed_once_then_measured_by_blocks(moving):
    """The pipeline's default mode: place on a sample, then measure block after block
    at that placement; the same as measuring every integration at once there, and, when
    placed on the integrations themselves, what tso_photometry gives."""
    rng = np.random.default_rng(8)
    n = 30
    jx, jy = 40.3 + rng.normal(0, 0.05, n), 25.6 + rng.normal(0, 0.05, n)
    sci = 3.0 + gauss_image(n, 50, 80, jx, jy, 1.2, 1.4, 5e4) + rng.normal(0, 1, (n, 50, 80))
    err = np.ones_like(sci)
    kw = {"radius": 4, "radius_inner": 7, "radius_outer": 10, "moving_centroid": moving}
    placed = place_aperture(sci[::3], None, 39.0, 26.0, radius_inner=7)
    assert placed.box is not None and placed.centroids["centroid_x"].shape == (10,)
    whole = measure(sci, err, None, placed, **kw)
    blocks = [measure(sci[a : a + 8], err[a : a + 8], None, placed, **kw) for a in range(0, n, 8)]
    for name, values in whole.items():
        np.testing.assert_array_equal(np.concatenate([b[name] for b in blocks]), values, name)
    if not moving:
        assert np.all(whole["aperture_x"] == placed.aperture[0])
    here = place_aperture(sci, None, 39.0, 26.0, radius_inner=7)
    again = measure(sci, err, None, here, centroids=here.centroids, **kw)
    reference = tso_photometry(sci, err, None, 39.0, 26.0, **kw)
    for name, values in reference.items():
        np.testing.assert_array_equal(again[name], values, name)
    no_centroid = place_aperture(sci, None, 39.0, 26.0, centroid_source=False)
    assert no_centroid.box is None and no_centroid.aperture == (39.0, 26.0)
