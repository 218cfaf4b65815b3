"""Noise scores of light curves (tso3.steps.scores)."""

from __future__ import annotations

import numpy as np
import pytest

from tso3.steps.scores import mad_ppm, point_to_point_ppm, smooth_window
from tso3.summary import light_curve_scatter_ppm


def _transit(n: int, depth: float = 0.01) -> np.ndarray:
    """A box-shaped transit with 20-integration ingress and egress in the middle half."""
    t = np.arange(n)
    shape = np.clip(np.minimum(t - n // 4, 3 * n // 4 - t) / 20, 0, 1)
    return 1 - depth * shape


@pytest.mark.parametrize("score", [point_to_point_ppm, mad_ppm])
def test_white_noise_gives_its_sigma_with_or_without_a_transit(score):
    rng = np.random.default_rng(3)
    n, sigma = 4000, 300e-6
    noise = rng.normal(0, sigma, (n, 3))
    flat = 1000 * (1 + noise)
    transit = 1000 * (_transit(n)[:, None] + noise)
    for flux in (flat, transit):
        got = score(flux)
        assert got.shape == (3,)
        np.testing.assert_allclose(got, 300, rtol=0.08)
    assert score(flat[:, 0]) == pytest.approx(score(flat)[0])  # one curve: a float


def test_mad_sees_red_noise_that_differencing_misses():
    """A square wobble of 44-integration cycles (a heater, a pointing oscillation):
    successive differences barely change, the residuals from the smooth fit do."""
    rng = np.random.default_rng(4)
    n = 2000
    white = 1 + rng.normal(0, 200e-6, n)
    wiggle = white + 800e-6 * np.sign(np.sin(np.arange(n) / 7.0))  # 44-integration cycles
    assert point_to_point_ppm(wiggle) < 1.6 * point_to_point_ppm(white)
    assert mad_ppm(wiggle) > 2 * mad_ppm(white)


def test_nan_are_skipped_and_short_curves_give_nan():
    rng = np.random.default_rng(5)
    flux = 1 + rng.normal(0, 100e-6, (500, 2))
    holed = flux.copy()
    holed[::7, 0] = np.nan
    assert point_to_point_ppm(holed)[0] == pytest.approx(point_to_point_ppm(flux)[0], rel=0.1)
    assert mad_ppm(holed)[0] == pytest.approx(mad_ppm(flux)[0], rel=0.1)
    assert np.isnan(point_to_point_ppm(np.array([1.0, np.nan, 2.0])))
    assert np.isnan(mad_ppm(np.ones(3), window=5))
    assert np.isnan(point_to_point_ppm(np.zeros(10)))  # no level to scale by


def test_summary_scatter_is_the_point_to_point_score():
    rng = np.random.default_rng(6)
    flux = 50 * (1 + rng.normal(0, 1e-3, 300))
    flux[10] = np.nan
    expected = 1.4826 * np.median(np.abs(np.diff(flux[np.isfinite(flux)]))) / np.sqrt(2)
    expected /= np.median(flux[np.isfinite(flux)])
    assert light_curve_scatter_ppm(flux) == pytest.approx(expected * 1e6, rel=1e-12)


def test_smooth_window_is_odd_and_grows_with_the_observation():
    assert [smooth_window(n) for n in (10, 100, 1000, 6000)] == [5, 5, 51, 301]
    with pytest.raises(ValueError, match="window"):
        mad_ppm(np.ones(10), window=0)


def test_a_steep_short_light_curve_keeps_its_noise():
    """Where the flux rises or falls steadily by more than the noise per integration (a
    40-integration SOSS ingress), a running median passes through every point: the MAD
    must not collapse to 0."""
    rng = np.random.default_rng(7)
    sigma = 100e-6
    ramp = 1 - 1e-3 * np.arange(40) + rng.normal(0, sigma, 40)
    assert mad_ppm(ramp) == pytest.approx(100, rel=0.35)
