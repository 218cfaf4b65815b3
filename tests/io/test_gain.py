"""Tests of tso3.io.gain: the gain reference file."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from tso3.errors import InputError
from tso3.io.gain import load_gain


def _gain_file(path, data, **keys):
    hdu = fits.ImageHDU(np.asarray(data, np.float32), name="SCI")
    for key, value in keys.items():
        hdu.header[key] = value
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    return path


def test_load_gain_cuts_subarray(tmp_path):
    full = np.arange(40 * 50, dtype=np.float32).reshape(40, 50)
    path = _gain_file(tmp_path / "gain.fits", full)
    cut = load_gain(path, substrt=(11, 6), subsize=(8, 4))
    assert cut.shape == (4, 8) and cut.dtype == np.float32
    np.testing.assert_array_equal(cut, full[5:9, 10:18])
    np.testing.assert_array_equal(load_gain(path), full)
    # A subarray reference placed at SUBSTRT 5,3 of the full frame
    sub = _gain_file(tmp_path / "sub.fits", full[2:22, 4:34], SUBSTRT1=5, SUBSTRT2=3)
    np.testing.assert_array_equal(load_gain(sub, substrt=(11, 6), subsize=(8, 4)), full[5:9, 10:18])
    # Exactly the science subarray already
    same = _gain_file(tmp_path / "same.fits", full[:4, :8], SUBSTRT1=11, SUBSTRT2=6)
    np.testing.assert_array_equal(load_gain(same, substrt=(11, 6), subsize=(8, 4)), full[:4, :8])


def test_load_gain_errors(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        load_gain(tmp_path / "missing.fits")
    (tmp_path / "junk.fits").write_text("not a fits file")
    with pytest.raises(InputError, match="cannot read"):
        load_gain(tmp_path / "junk.fits")
    fits.HDUList([fits.PrimaryHDU()]).writeto(tmp_path / "nosci.fits")
    with pytest.raises(InputError, match="no SCI"):
        load_gain(tmp_path / "nosci.fits")
    path = _gain_file(tmp_path / "g.fits", np.ones((10, 10)))
    with pytest.raises(InputError, match="does not cover") as info:
        load_gain(path, substrt=(5, 5), subsize=(8, 8))
    assert info.value.path == str(path)
    cube = tmp_path / "cube.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((2, 3, 3)), name="SCI")]).writeto(cube)
    with pytest.raises(InputError, match="2-D"):
        load_gain(cube)
