"""Tests of tso3.steps.binning: bin edges for each specification, weights, errors."""

from __future__ import annotations

import numpy as np
import pytest

from tso3.errors import ParameterError
from tso3.steps.binning import bin_edges, bin_spectra, element_edges, weight_matrix
from tso3.steps.whitelight import white_light_flux

WL = np.arange(1.0, 11.0)  # elements cover [0.5, 10.5], 1 um each


def test_element_edges_any_direction():
    lo, hi = element_edges(WL[::-1])
    np.testing.assert_allclose(lo, WL[::-1] - 0.5)
    np.testing.assert_allclose(hi, WL[::-1] + 0.5)
    lo, hi = element_edges(np.array([1.0, 2.0, 4.0, np.nan]))
    np.testing.assert_allclose(lo, [0.5, 1.5, 3.0, np.nan])
    np.testing.assert_allclose(hi, [1.5, 3.0, 5.0, np.nan])


def test_bin_edges_nbins_default_range():
    e = bin_edges(WL, nbins=5)
    np.testing.assert_allclose(e, [0.5, 2.5, 4.5, 6.5, 8.5, 10.5])
    np.testing.assert_allclose(bin_edges(WL, nbins=2, wmin=2, wmax=6), [2, 4, 6])


def test_bin_edges_width_drops_partial_bin():
    np.testing.assert_allclose(bin_edges(WL, width=0.5, wmin=5, wmax=7), [5, 5.5, 6, 6.5, 7])
    e = bin_edges(WL, width=0.3, wmin=5, wmax=6)  # 3 full bins, the 0.1 rest is dropped
    np.testing.assert_allclose(e, [5, 5.3, 5.6, 5.9])


def test_bin_edges_constant_resolving_power():
    e = bin_edges(None, resolving_power=50, wmin=1.0, wmax=3.0)
    centre, width = 0.5 * (e[1:] + e[:-1]), np.diff(e)
    np.testing.assert_allclose(centre / width, 50)
    assert e[0] == 1.0 and e[-1] <= 3.0 and e[-1] * (101 / 99) > 3.0
    assert len(e) - 1 == int(np.log(3.0) / np.log(101 / 99))


def test_bin_edges_explicit_and_errors():
    np.testing.assert_array_equal(bin_edges(WL, edges=[1, 2, 5]), [1, 2, 5])
    with pytest.raises(ParameterError):
        bin_edges(WL)
    with pytest.raises(ParameterError):
        bin_edges(WL, nbins=3, width=1.0)
    with pytest.raises(ParameterError):
        bin_edges(WL, edges=[1, 3, 2])
    with pytest.raises(ParameterError):
        bin_edges(WL, nbins=0)
    with pytest.raises(ParameterError):
        bin_edges(WL, resolving_power=0.4, wmin=1, wmax=2)


def test_weights_fractional_overlap():
    w = weight_matrix(WL, np.array([0.5, 3.0, 10.5]))
    # element 3 um covers [2.5, 3.5]: half in each bin
    np.testing.assert_allclose(w[:, 2], [0.5, 0.5])
    np.testing.assert_allclose(w.sum(axis=0), 1.0)
    np.testing.assert_allclose(w.sum(axis=1), [2.5, 7.5])


def test_bin_spectra_analytic_and_white_light_consistency():
    flux = np.vstack([WL, np.ones(10)])
    var = np.full(flux.shape, 0.04)
    edges = np.array([0.5, 3.0, 6.5, 10.5])
    f, e, n = bin_spectra(WL, flux, var, edges)
    np.testing.assert_allclose(f[0], [1 + 2 + 1.5, 1.5 + 4 + 5 + 6, 7 + 8 + 9 + 10])
    np.testing.assert_allclose(n[1], [2.5, 3.5, 4.0])
    np.testing.assert_allclose(e[0, 0], np.sqrt(0.04 * (1 + 1 + 0.25)))
    total, _ = white_light_flux(WL, flux, var)
    np.testing.assert_allclose(f.sum(axis=1), total)


def test_bin_spectra_nan_elements_and_empty_bins():
    flux = np.ones((2, 10))
    flux[1, :3] = np.nan
    f, e, n = bin_spectra(np.vstack([WL, WL]), flux, None, np.array([0.5, 3.5, 10.5, 12.0]))
    np.testing.assert_array_equal(f[:, 0], [3, np.nan])
    np.testing.assert_array_equal(n[:, 0], [3, 0])
    assert np.isnan(f[:, 2]).all() and np.isnan(e).all()
    with pytest.raises(ValueError, match="one wavelength grid"):
        bin_spectra(np.vstack([WL, WL + 1]), flux, None, np.array([0.5, 3.5]))


def test_binned_errors_match_monte_carlo():
    rng = np.random.default_rng(7)
    nwave, ndraw = 40, 20000
    wl = np.linspace(1.0, 3.0, nwave)
    sigma = rng.uniform(0.5, 2.0, nwave)
    draws = 100 + rng.normal(size=(ndraw, nwave)) * sigma
    edges = bin_edges(wl, nbins=3)  # edges fall inside elements: fractional weights
    f, e, _ = bin_spectra(wl, draws, np.broadcast_to(sigma**2, draws.shape), edges)
    np.testing.assert_allclose(np.std(f, axis=0), e[0], rtol=0.05)


def test_bin_delays_are_the_weighted_mean_of_the_elements_stripe_times():
    from tso3.steps.binning import bin_delays

    wl = np.linspace(1.0, 2.0, 10)  # elements 0-4 in stripe 2, 5-9 in stripe 1
    stripe = np.array([2] * 5 + [1] * 5)
    delay = np.array([[-3.0, 3.0], [-4.0, 4.0]])  # (nints, nstripes)
    edges = np.array([0.9, 1.5, 2.1])  # 1.5: the boundary of elements 4 and 5
    np.testing.assert_allclose(bin_delays(wl, stripe, delay, edges), [[3, -3], [4, -4]])
    # one bin over everything: the mean; a bin straddling the stripes: the weights' mean
    np.testing.assert_allclose(bin_delays(wl, stripe, delay, np.array([0.9, 2.1])), [[0], [0]])
    mixed = bin_delays(wl, stripe, delay, np.array([1.35, 1.65]))
    assert -3 < mixed[0, 0] < 3 and mixed[0, 0] != 0
    # reference elements (stripe 0) count with no delay; an empty bin is NaN
    out = bin_delays(wl, np.array([0] * 5 + [1] * 5), delay, np.array([0.9, 1.5, 2.1, 3.0]))
    np.testing.assert_allclose(out[0, :2], [0.0, -3.0])
    assert np.isnan(out[0, 2])
