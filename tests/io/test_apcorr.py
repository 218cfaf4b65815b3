"""tso3.io.apcorr and tso3.steps.apcorr: MIRI LRS and NIRSpec aperture corrections."""

from __future__ import annotations

import re

import numpy as np
import pytest
from astropy.io import fits

from tests.builders import lrs_apcorr_file, nrs_apcorr_file
from tso3.errors import InputError
from tso3.io.apcorr import read_lrs_apcorr, read_nrs_apcorr
from tso3.steps.apcorr import apply_correction, at_pixel_phase, lrs_correction, phase_correction


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


# --- NIRSpec fixed slit and BOTS (NrsFsApcorrModel) ---


def test_nrs_layouts_read_the_same_grid(tmp_path):
    ours = read_nrs_apcorr(nrs_apcorr_file(tmp_path / "a.fits"), "f290lp", "G395H", "s1600a1")
    theirs = read_nrs_apcorr(
        nrs_apcorr_file(tmp_path / "b.fits", layout="reference"), "F290LP", "G395H", "S1600A1"
    )
    assert ours.jwst_layout and not theirs.jwst_layout
    assert ours.apcorr.shape == (6, 14, 3) and ours.size.shape == (6, 14)
    assert np.all(np.diff(ours.wavelength) > 0)
    np.testing.assert_array_equal(ours.apcorr, theirs.apcorr)
    other = read_nrs_apcorr(tmp_path / "a.fits", "F290LP", "G395H", "S200A1")
    np.testing.assert_allclose(other.apcorr, 2 * ours.apcorr, rtol=1e-6)


def _jwst_phase_correction(ref, grid, npixels, wavelength):
    """jwst 3.0's ApCorrPhase evaluation, one element at a time (scipy, as jwst)."""
    from scipy.interpolate import RectBivariateSpline, interp1d

    out = []
    for s, w in zip(npixels, wavelength, strict=True):
        try:
            size_wl = interp1d(ref.wavelength, ref.size)(w)
            spline = RectBivariateSpline(ref.wavelength, size_wl, grid.T, kx=1, ky=1)
            out.append(spline(w, s).item() or 1.0)
        except ValueError:
            out.append(1.0)
    return np.array(out)


def test_nrs_correction_is_jwsts_interpolation(tmp_path):
    ref = read_nrs_apcorr(nrs_apcorr_file(tmp_path / "a.fits"), "F290LP", "G395H", "S1600A1")
    grid = at_pixel_phase(ref.pixphase, ref.apcorr)
    np.testing.assert_allclose(grid, ref.apcorr[..., 2])  # phase 0.5 is on the grid
    rng = np.random.default_rng(3)
    npixels = rng.uniform(1.0, 16.0, 400)  # beyond both ends of the sizes: clamped
    wavelength = rng.uniform(7.4, 8.3, 400)  # beyond the grid: no correction
    have = phase_correction(ref.wavelength, ref.size, grid, npixels, wavelength)
    want = _jwst_phase_correction(ref, grid, npixels, wavelength)
    np.testing.assert_allclose(have, want, rtol=1e-12)
    assert np.any(have == 1.0) and np.any(have > 1.02)
    assert phase_correction(ref.wavelength, ref.size, grid, [np.nan], [7.8])[0] == 1.0
    assert at_pixel_phase(ref.pixphase, ref.apcorr, phase=0.75) is None


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        ("other_slit", "0 APCORR rows for filter F290LP, grating G395H, slit S400A1"),
        ("unit", "pixels or arcsec expected"),
        ("shape", "does not fit 6 sizes x 14 wavelengths x 3 phases"),
        ("lrs_file", "not a NIRSpec APCORR reference: no column(s) filter, grating, slit"),
    ],
)
def test_bad_nrs_references(tmp_path, edit, needle):
    path = nrs_apcorr_file(tmp_path / "a.fits")
    slit = "S1600A1"
    if edit == "other_slit":
        slit = "S400A1"
    elif edit == "lrs_file":
        lrs_apcorr_file(path)
    else:
        with fits.open(path, mode="update") as hdul:
            if edit == "unit":
                hdul["APCORR"].header["SIZEUNIT"] = "furlongs"
            else:
                cols = hdul["APCORR"].columns
                cols["APCORR"].dim = "(6,14,3)"  # the sizes where the phases should be
    with pytest.raises(InputError, match=re.escape(needle)):
        read_nrs_apcorr(path, "F290LP", "G395H", slit)
