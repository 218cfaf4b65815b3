"""Tests of tso3.steps.whitelight: white-light flux and the whtlt table."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from tests.builders import spectra_set
from tso3.formats import whitelight_meta
from tso3.steps.whitelight import white_light_flux, white_light_table

WL = np.arange(1.0, 11.0)  # 1..10 um, one element per micron


def test_analytic_sum_inclusive_bounds():
    flux = np.vstack([WL, 2 * WL])  # f = lambda, 2 lambda
    var = np.full(flux.shape, 0.25)
    total, err = white_light_flux(WL, flux, var, min_wavelength=3.0, max_wavelength=6.0)
    np.testing.assert_allclose(total, [3 + 4 + 5 + 6, 2 * 18])
    np.testing.assert_allclose(err, [1.0, 1.0])  # sqrt(4 * 0.25)
    full, _ = white_light_flux(WL, flux, var)
    np.testing.assert_allclose(full, [55, 110])
    # 2-D wavelengths and a NaN element inside the range
    flux[0, 3] = np.nan
    total, err = white_light_flux(
        np.vstack([WL, WL + 0.5]), flux, var, min_wavelength=3.0, max_wavelength=6.0
    )
    # row 2 samples 3.5, 4.5, 5.5 um: elements 2-4 of 2*WL
    np.testing.assert_allclose(total, [3 + 5 + 6, 2 * (3 + 4 + 5)])
    np.testing.assert_allclose(err, [np.sqrt(0.75), np.sqrt(0.75)])


def test_all_nan_integration_default_vs_jwst():
    flux = np.vstack([WL, np.full(10, np.nan), np.r_[np.full(5, np.nan), WL[5:]]])
    d, de = white_light_flux(WL, flux, None, max_wavelength=5, mode="default")
    j, _ = white_light_flux(WL, flux, None, max_wavelength=5, mode="jwst")
    np.testing.assert_array_equal(d, [15, np.nan, np.nan])
    np.testing.assert_array_equal(j, [15, 0.0, 0.0])
    assert np.isnan(de).all()  # no variances given


def test_error_matches_monte_carlo():
    rng = np.random.default_rng(42)
    nwave, ndraw = 50, 20000
    var = rng.uniform(0.5, 2.0, nwave) ** 2
    truth = rng.uniform(10, 20, nwave)
    draws = truth + rng.normal(size=(ndraw, nwave)) * np.sqrt(var)
    wl = np.linspace(1, 5, nwave)
    total, err = white_light_flux(
        wl, draws, np.broadcast_to(var, draws.shape), min_wavelength=2, max_wavelength=4
    )
    assert np.std(total) == pytest.approx(err[0], rel=0.05)
    assert np.mean(total) == pytest.approx(truth[(wl >= 2) & (wl <= 4)].sum(), rel=1e-3)


def test_single_detector_columns_units_meta():
    s = spectra_set(np.ones((4, 10)), WL, 100 + np.arange(4))
    meta = {
        "INSTRUME": "MIRI",
        "EXP_TYPE": "MIR_LRS-SLITLESS",
        "SUBARRAY": "SLITLESSPRISM",
        "FILTER": "P750L",
        "TARGNAME": "WASP-39",
    }
    t = white_light_table([s], min_wavelength=2, max_wavelength=4, meta=whitelight_meta(meta))
    assert t.colnames == ["MJD_UTC", "BJD_TDB", "whitelight_flux", "whitelight_flux_err"]
    assert str(t["whitelight_flux"].unit) == "Jy"
    np.testing.assert_allclose(t["whitelight_flux"].value, 3.0)
    np.testing.assert_allclose(t["whitelight_flux_err"].value, np.sqrt(0.03))
    np.testing.assert_allclose(t["BJD_TDB"], t["MJD_UTC"] + 0.5)
    assert t.meta == {
        "instrument": "MIRI",
        "exp_type": "MIR_LRS-SLITLESS",
        "subarray": "SLITLESSPRISM",
        "filter": "P750L",
        "pupil": None,
        "target_name": "WASP-39",
        "number_of_integrations": 4,
    }


def test_nrs1_nrs2_names_and_padding():
    a = spectra_set(np.ones((3, 10)), WL, [1.0, 2.0, 3.0], detector="NRS1")
    b = spectra_set(2 * np.ones((2, 10)), WL, [1.0, 2.0], detector="NRS2")
    t = white_light_table([a, b])
    assert t.colnames == [
        "MJD_UTC_NRS1",
        "BJD_TDB_NRS1",
        "whitelight_flux_NRS1",
        "whitelight_flux_err_NRS1",
        "MJD_UTC_NRS2",
        "BJD_TDB_NRS2",
        "whitelight_flux_NRS2",
        "whitelight_flux_err_NRS2",
    ]
    np.testing.assert_array_equal(t["whitelight_flux_NRS2"].value, [20, 20, np.nan])
    np.testing.assert_array_equal(t["MJD_UTC_NRS2"], [1, 2, np.nan])
    # a single NRS1 detector still gets the suffix; a single other detector does not
    assert white_light_table([a]).colnames[0] == "MJD_UTC_NRS1"


def test_multi_order_and_per_order_ranges():
    o1 = spectra_set(np.ones((2, 10)), WL, [1.0, 2.0], order=1, detector="NIS")
    o2 = spectra_set(np.ones((2, 10)), WL, [1.0, 2.0], order=2, detector="NIS")
    t = white_light_table(
        [o1, o2], min_wavelength={1: 1.0, 2: 3.0}, max_wavelength={1: 7.0, 2: "7.0"}
    )
    assert t.colnames == [
        "MJD_UTC",
        "BJD_TDB",
        "whitelight_flux_order_1",
        "whitelight_flux_err_order_1",
        "whitelight_flux_order_2",
        "whitelight_flux_err_order_2",
    ]
    # jwst would reuse order 1's range (7 elements) for order 2; ours sums 5
    np.testing.assert_array_equal(t["whitelight_flux_order_1"].value, [7, 7])
    np.testing.assert_array_equal(t["whitelight_flux_order_2"].value, [5, 5])
    # several detectors x several orders
    o3 = spectra_set(np.ones((2, 10)), WL, [1.0, 2.0], order=1, detector="NRCA5")
    names = white_light_table([o1, o2, o3]).colnames
    assert "whitelight_flux_order_2_NIS" in names and "whitelight_flux_order_1_NRCA5" in names
    assert names.index("MJD_UTC_NRCA5") > names.index("whitelight_flux_err_order_2_NIS")


def test_duplicates_dropped_without_mutating_and_segments_sorted():
    seg2 = spectra_set(np.vstack([np.full(10, 3.0), np.full(10, 4.0)]), WL, [3.0, 4.0])
    seg1 = spectra_set(
        np.vstack([np.full(10, 1.0), np.full(10, 2.0), np.full(10, 9.0)]), WL, [1.0, 2.0, 2.0]
    )
    before = seg1.times["mjd_avg"].copy()
    for mode in ("default", "jwst"):
        t = white_light_table([seg2, seg1], mode=mode)
        np.testing.assert_array_equal(t["MJD_UTC"], [1, 2, 3, 4])
        np.testing.assert_array_equal(t["whitelight_flux"].value, [10, 20, 30, 40])
        assert t.meta["number_of_integrations"] == 4
    np.testing.assert_array_equal(seg1.times["mjd_avg"], before)


def test_any_object_with_the_attributes():
    s = spectra_set(np.arange(20.0).reshape(2, 10), WL, [1.0, 2.0], detector="NRS1")
    names = ("wavelength", "flux", "flux_var_poisson", "flux_var_rnoise", "flux_var_flat")
    like = SimpleNamespace(
        **{n: getattr(s, n) for n in names},
        nints=s.nints,
        times=s.times,
        spectral_order=1,
        detector="NRS1",
        flux_unit="Jy",
    )
    a, b = white_light_table([s], max_wavelength=5), white_light_table([like], max_wavelength=5)
    assert a.colnames == b.colnames
    for name in a.colnames:
        np.testing.assert_array_equal(a[name], b[name])


def test_every_order_and_detector_has_columns():
    """jwst writes whitelight_flux_order_2_NRS1 even when NRS1 has no order 2: NaN."""
    one = spectra_set(np.ones((2, 10)), WL, [1.0, 2.0], detector="NRS1", order=1)
    two = spectra_set(np.ones((2, 10)), WL, [1.0, 2.0], detector="NRS2", order=2)
    t = white_light_table([one, two])
    assert [c for c in t.colnames if "_order_" in c] == [
        "whitelight_flux_order_1_NRS1", "whitelight_flux_err_order_1_NRS1",
        "whitelight_flux_order_2_NRS1", "whitelight_flux_err_order_2_NRS1",
        "whitelight_flux_order_1_NRS2", "whitelight_flux_err_order_1_NRS2",
        "whitelight_flux_order_2_NRS2", "whitelight_flux_err_order_2_NRS2",
    ]  # fmt: skip
    assert np.isnan(t["whitelight_flux_order_2_NRS1"].value).all()
    assert np.isnan(t["whitelight_flux_order_1_NRS2"].value).all()
    np.testing.assert_array_equal(t["whitelight_flux_order_1_NRS1"].value, [10, 10])
