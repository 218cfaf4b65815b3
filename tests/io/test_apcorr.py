"""tso3.io.apcorr and tso3.steps.apcorr: MIRI LRS aperture corrections."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from tests.builders import lrs_apcorr_file
from tso3.errors import InputError
from tso3.io.apcorr import read_lrs_apcorr
from tso3.steps.apcorr import apply_correction, lrs_correction


def test_reads_the_subarray_row_sorted_by_wavelength(tmp_path):
    ref = read_lrs_apcorr(lrs_apcorr_file(tmp_path / "a.fits"), "slitlessprism")
    assert ref.wavelength.size == 8 and np.all(np.diff(ref.wavelength) > 0)
    assert ref.size.tolist() == [3, 5, 7, 9, 11, 13] and ref.apcorr.shape == (8, 6)
    full = read_lrs_apcorr(tmp_path / "a.fits", "FULL")
    np.testing.assert_allclose(full.apcorr, 2 * ref.apcorr, rtol=1e-6)


def test_correction_is_bilinear_on_the_grid(tmp_path):
    ref = read_lrs_apcorr(lrs_apcorr_file(tmp_path / "a.fits"), "SLITLESSPRISM")
    # on grid points it is the table; between them linear in both size and wavelength
    c = lrs_correction(ref.wavelength, ref.size, ref.apcorr, [3.0, 4.0, np.nan], [5.0, 5.0, 7.0])
    np.testing.assert_allclose(c[0], 1 + 0.02 * 5 / 3, rtol=1e-6)
    np.testing.assert_allclose(c[1], 1 + 0.02 * 5 * (1 / 3 + 1 / 5) / 2, rtol=1e-6)
    assert c[2] == 1.0  # NaN NPIXELS: the flux is NaN anyway
    columns = {"flux": np.array([2.0]), "flux_var_poisson": np.array([4.0]), "dq": np.array([0])}
    apply_correction(columns, np.array([1.5]))
    assert columns["flux"][0] == 3.0 and columns["flux_var_poisson"][0] == 9.0


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        ("no_table", "not a MIRI LRS APCORR reference"),
        ("other_subarray", "0 APCORR rows for subarray"),
        ("arcsec", "only pixels"),
    ],
)
def test_bad_references(tmp_path, edit, needle):
    path = lrs_apcorr_file(tmp_path / "a.fits")
    subarray = "SLITLESSPRISM"
    if edit == "no_table":
        fits.PrimaryHDU().writeto(path, overwrite=True)
    elif edit == "other_subarray":
        subarray = "SUB64"
    else:
        with fits.open(path, mode="update") as hdul:
            hdul["APCORR"].header["SIZEUNIT"] = "arcsec"
    with pytest.raises(InputError, match=needle):
        read_lrs_apcorr(path, subarray)
