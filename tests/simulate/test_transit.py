"""Tests of tso3.simulate.transit: the transit light-curve model."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad

from tso3.simulate import transit_flux
from tso3.simulate.transit import orbit_from_duration, orbit_separation, overlap_area


def test_transit_no_limb_darkening_depth_is_k_squared():
    k = 0.1
    assert transit_flux(0.0, k) == pytest.approx(1 - k**2, abs=1e-12)
    assert transit_flux(0.5, k) == pytest.approx(1 - k**2, abs=1e-12)  # flat bottom
    np.testing.assert_array_equal(transit_flux([1 + k, 1.2, np.inf], k, 0.3, 0.2), 1.0)


def test_transit_limb_darkened_centre_matches_analytic_integral():
    k, u1, u2 = 0.12, 0.45, 0.2

    def intensity(r):
        mu = np.sqrt(1 - r * r)
        return 1 - u1 * (1 - mu) - u2 * (1 - mu) ** 2

    blocked = quad(lambda r: intensity(r) * 2 * np.pi * r, 0, k, epsabs=1e-14)[0]
    expected = 1 - blocked / (np.pi * (1 - u1 / 3 - u2 / 6))
    assert transit_flux(0.0, k, u1, u2) == pytest.approx(expected, abs=1e-10)
    # Limb darkening makes the centre deeper than k^2.
    assert 1 - transit_flux(0.0, k, u1, u2) > k**2 * 1.2


def test_transit_ingress_matches_brute_force_area_integral():
    k, u1, u2, z = 0.1, 0.4, 0.25, 0.97  # planet straddling the limb

    def d_area(r):  # d(overlap area)/dr = 2 r * (angle of the annulus inside the planet)
        if r <= z - k or r >= z + k:
            return 0.0
        return 2 * r * np.arccos(np.clip((r * r + z * z - k * k) / (2 * r * z), -1, 1))

    def intensity(r):
        mu = np.sqrt(1 - r * r)
        return 1 - u1 * (1 - mu) - u2 * (1 - mu) ** 2

    blocked = quad(lambda r: intensity(r) * d_area(r), z - k, 1, limit=200, epsabs=1e-13)[0]
    expected = 1 - blocked / (np.pi * (1 - u1 / 3 - u2 / 6))
    assert transit_flux(z, k, u1, u2) == pytest.approx(expected, abs=1e-8)


def test_overlap_area_limits():
    assert overlap_area(1.0, 0.3, 0.1) == pytest.approx(np.pi * 0.01)
    assert overlap_area(1.0, 1.2, 0.1) == 0.0
    # Half-plane limit: a small disk centred on a large disk's edge is half covered.
    assert overlap_area(1000.0, 1000.0, 1.0) == pytest.approx(np.pi / 2, rel=1e-3)


def test_orbit_from_duration_reproduces_contacts():
    k, period, duration, impact = 0.1, 3.0, 0.12, 0.4
    a_rs, inc = orbit_from_duration(duration, period, impact, k)
    z = orbit_separation(np.array([0.0, duration / 2, -duration / 2]), 0.0, period, a_rs, inc)
    np.testing.assert_allclose(z, [impact, 1 + k, 1 + k], atol=1e-9)
    assert np.isinf(orbit_separation(period / 2, 0.0, period, a_rs, inc))  # behind the star
