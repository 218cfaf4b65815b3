"""Tests of tso3.io.lightcurves: speclc and whtlt files."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import QTable, Table

from tests.builders import spectra_set
from tso3.errors import InputError
from tso3.formats import whitelight_meta
from tso3.io.lightcurves import read_speclc, write_speclc, write_whitelight_table
from tso3.io.x1dints import read_x1dints
from tso3.stages.whitelight import binned_light_curves
from tso3.steps.binning import bin_edges
from tso3.steps.whitelight import white_light_table

WL = np.arange(1.0, 11.0)  # elements cover [0.5, 10.5], 1 um each


def _set(int_num, mjd, *, order=1):
    """Integration i has flux i in every element."""
    flux = np.outer(np.arange(1, len(int_num) + 1), np.ones(WL.size))
    return spectra_set(flux, WL, mjd, int_num=int_num, order=order, detector="NRS1", tdb_offset=0.1)


def test_light_curves_and_speclc_roundtrip(tmp_path):
    seg1 = _set([1, 2], [10.0, 11.0])
    seg2 = _set([3, 4], [12.0, 11.0])  # time 11 twice: the first given (seg2's) is kept
    other = _set([1, 2], [10.0, 11.0], order=2)
    edges = {1: bin_edges(WL, nbins=2), 2: bin_edges(WL, edges=[1.5, 4.5])}
    curves = binned_light_curves([seg2, seg1, other], edges)
    assert [(c.detector, c.spectral_order) for c in curves] == [("NRS1", 1), ("NRS1", 2)]
    c = curves[0]
    np.testing.assert_array_equal(c.mjd_utc, [10, 11, 12])
    np.testing.assert_array_equal(c.int_num, [1, 4, 3])
    np.testing.assert_allclose(c.flux, [[5, 5], [10, 10], [5, 5]])
    np.testing.assert_allclose(c.flux_err, np.sqrt(0.05))
    np.testing.assert_allclose(curves[1].flux[:, 0], [3, 6])
    path = tmp_path / "p_speclc.fits"
    write_speclc(path, curves, {"instrument": "NIRSPEC", "EXP_TYPE": "NRS_BRIGHTOBJ"})
    back = read_speclc(path)
    assert len(back) == 2 and back[0].meta["INSTRUME"] == "NIRSPEC"
    np.testing.assert_array_equal(back[0].flux, c.flux)
    np.testing.assert_array_equal(back[0].edges, c.edges)
    np.testing.assert_array_equal(back[1].centres, [3.0])
    np.testing.assert_allclose(back[0].bjd_tdb, c.mjd_utc + 0.1)
    t = Table.read(path, hdu="SPECLC")
    assert t["FLUX"].shape == (3, 2) and str(t["FLUX"].unit) == "Jy"
    with pytest.raises(InputError):
        read_speclc(tmp_path / "nope.fits")


def test_ecsv_roundtrip(tmp_path):
    s = spectra_set(np.ones((3, 10)), WL, [1.0, 2.0, 3.0], unit="DN/s")
    t = white_light_table([s], meta={"instrument": "NIRCAM"})
    path = tmp_path / "p_whtlt.ecsv"
    write_whitelight_table(t, path)
    back = QTable.read(path)
    assert back.colnames == t.colnames and str(back["whitelight_flux"].unit) == "DN / s"
    np.testing.assert_array_equal(back["whitelight_flux"].value, 10.0)
    assert back.meta["instrument"] == "NIRCAM" and back.meta["number_of_integrations"] == 3


@pytest.mark.parametrize("mode", ["jwst", "default"])
def test_archive_pair_reproduced(mode, archive_x1dints, archive_whtlt):
    x = read_x1dints(archive_x1dints)
    t = white_light_table(
        x.spectra,
        min_wavelength=5.0,
        max_wavelength=12.0,
        mode=mode,
        meta=whitelight_meta(x.primary),
    )
    ref = Table.read(archive_whtlt)  # old file: columns MJD, whitelight_flux
    assert len(t) == len(ref) == 10
    np.testing.assert_allclose(t["whitelight_flux"].value, ref["whitelight_flux"], rtol=1e-6)
    np.testing.assert_array_equal(t["MJD_UTC"], ref["MJD"])
    assert np.all(t["whitelight_flux_err"].value > 0)
    for key in ("instrument", "exp_type", "subarray", "filter", "target_name"):
        assert t.meta[key] == ref.meta[key]


def test_speclc_bin_times_of_striped_readouts_round_trip(tmp_path):
    """Striped readouts: each bin's own exposure time, as MJD_UTC_BIN / BJD_TDB_BIN."""
    wl = np.linspace(1.0, 2.0, 10)
    s = spectra_set(np.ones((3, 10)), wl, 60000.0 + np.arange(3) / 1440)
    s.element_stripe = np.array([2] * 5 + [1] * 5)
    s.stripe_delay = np.tile([-10.0, 10.0], (3, 1)) / 86400
    (curve,) = binned_light_curves([s], np.array([0.9, 1.5, 2.1]))  # 1.5: elements 4|5
    np.testing.assert_allclose(curve.bin_delay * 86400, [[10, -10]] * 3)
    write_speclc(tmp_path / "x_speclc.fits", [curve])
    table = Table.read(tmp_path / "x_speclc.fits", hdu="SPECLC")
    seconds = (np.asarray(table["BJD_TDB_BIN"]) - np.asarray(table["BJD_TDB"])[:, None]) * 86400
    np.testing.assert_allclose(seconds, [[10, -10]] * 3, atol=1e-4)
    (back,) = read_speclc(tmp_path / "x_speclc.fits")
    np.testing.assert_allclose(back.bin_delay * 86400, curve.bin_delay * 86400, atol=1e-4)
    plain = binned_light_curves([spectra_set(np.ones((3, 10)), wl, 60000.0 + np.arange(3))],
                                np.array([0.95, 2.05]))  # fmt: skip
    write_speclc(tmp_path / "y_speclc.fits", plain)
    assert "BJD_TDB_BIN" not in Table.read(tmp_path / "y_speclc.fits", hdu="SPECLC").colnames
