"""Tests of tso3.io.x1dints_read: reading current and pre-2025 x1dints layouts."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from stdatamodels.jwst import datamodels

from tso3.formats import INT_TIMES_DTYPE
from tso3.io.x1dints import read_x1dints, write_x1dints


def int_times(n: int) -> np.ndarray:
    rows = np.zeros(n, dtype=INT_TIMES_DTYPE)
    rows["integration_number"] = np.arange(1, n + 1)
    mid = 60000.0 + 0.001 * np.arange(n)
    for col, off in (("start", -0.0004), ("mid", 0.0), ("end", 0.0004)):
        rows[f"int_{col}_MJD_UTC"] = mid + off
        rows[f"int_{col}_BJD_TDB"] = mid + off + 0.003
    return rows


def _legacy_file(path, nints, *, with_int_times, with_keywords, nwave=4):
    hdus = [fits.PrimaryHDU()]
    hdus[0].header["DETECTOR"] = "NRS1"
    it = int_times(nints)
    if with_int_times:
        hdus.append(fits.BinTableHDU(it, name="INT_TIMES"))
    for k in range(nints):
        cols = [
            fits.Column("WAVELENGTH", "D", unit="um", array=np.arange(nwave) + 1.0),
            fits.Column("FLUX", "D", unit="Jy", array=np.full(nwave, k + 1.0)),
            fits.Column("FLUX_VAR_POISSON", "D", unit="Jy^2", array=np.full(nwave, 0.1)),
            fits.Column("DQ", "J", array=np.zeros(nwave, np.int32)),
        ]
        hdu = fits.BinTableHDU.from_columns(cols, name="EXTRACT1D")
        hdu.header["SPORDER"] = 1
        if with_keywords:
            hdu.header["INT_NUM"] = k + 1
            hdu.header["MJD-AVG"] = 59000.0 + k
        hdus.append(hdu)
    fits.HDUList(hdus).writeto(path)
    return it


@pytest.mark.parametrize(
    "with_int_times,with_keywords", [(True, True), (False, True), (False, False)]
)
def test_legacy_synthetic(tmp_path, with_int_times, with_keywords):
    path = tmp_path / "old.fits"
    it = _legacy_file(path, 3, with_int_times=with_int_times, with_keywords=with_keywords)
    x = read_x1dints(path)
    assert x.layout == "legacy" and len(x.spectra) == 1
    s = x.spectra[0]
    np.testing.assert_array_equal(s.flux[:, 0], [1, 2, 3])
    np.testing.assert_array_equal(s.int_num, [1, 2, 3])
    assert s.detector == "NRS1"
    np.testing.assert_array_equal(s.flux_var_rnoise, np.nan)  # absent column -> NaN
    if with_int_times:
        np.testing.assert_array_equal(s.times["mjd_avg"], it["int_mid_MJD_UTC"])
    elif with_keywords:
        np.testing.assert_array_equal(s.times["mjd_avg"], [59000.0, 59001.0, 59002.0])
    else:
        assert np.isnan(s.times["mjd_avg"]).all()


def test_real_archive_legacy_layout(archive_x1dints):
    x = read_x1dints(archive_x1dints)
    assert x.layout == "legacy" and x.primary["INSTRUME"] == "MIRI"
    (s,) = x.spectra
    assert (s.nints, s.nwave) == (10, 388)
    np.testing.assert_array_equal(s.int_num, np.arange(1, 11))
    np.testing.assert_array_equal(s.times["mjd_avg"], x.int_times["int_mid_MJD_UTC"])
    with fits.open(archive_x1dints) as h:
        np.testing.assert_array_equal(s.flux[7], h["EXTRACT1D", 8].data["FLUX"])
        assert h["EXTRACT1D", 8].header["MJD-AVG"] == pytest.approx(s.times["mjd_avg"][7], abs=1e-9)
    assert s.flux_unit == "Jy" and s.spectral_order == 1 and s.detector == "MIRIMAGE"
    assert np.nanmin(s.wavelength) == pytest.approx(3.71, abs=0.01)


def test_real_archive_converts_to_current_layout(tmp_path, archive_x1dints):
    x = read_x1dints(archive_x1dints)
    path = tmp_path / "conv_x1dints.fits"
    write_x1dints(path, x.spectra, x.int_times, primary=x.primary)
    with datamodels.open(path) as m:
        assert isinstance(m, datamodels.TSOMultiSpecModel)
        assert m.spec[0].spec_table["FLUX"].shape == (10, 388)
    y = read_x1dints(path)
    np.testing.assert_array_equal(y.spectra[0].flux, x.spectra[0].flux)
