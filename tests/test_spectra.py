"""Tests of tso3.spectra: unit columns and SpectraSet building."""

import numpy as np
import pytest

from tests.builders import gaussian_profile
from tso3.dqflags import DO_NOT_USE
from tso3.spectra import spectra_columns, to_spectra_set
from tso3.steps.aperture import aperture_wavelength, default_aperture
from tso3.steps.extract import extract_block

NY, NX = 32, 60  # the frame of tests.builders.gaussian_profile


def test_spectra_columns_units():
    sums = {
        "flux": np.array([[2.0, np.nan]]),
        "npixels": np.array([[4.0, 0.0]]),
        "background": np.array([[8.0, 0.0]]),
        "var_poisson": np.array([[1.0, 0.0]]),
        "var_rnoise": np.array([[2.0, 0.0]]),
        "var_flat": np.array([[0.0, 0.0]]),
        "bkg_var_poisson": np.array([[0.5, 0.0]]),
        "bkg_var_rnoise": np.array([[0.0, 0.0]]),
        "bkg_var_flat": np.array([[0.0, 0.0]]),
    }
    om = 2e-13
    cols, units = spectra_columns(sums, pixar_sr=om, source_type="POINT", instrument="NIRCAM")
    assert units["flux"] == "Jy"
    assert cols["flux"][0, 0] == pytest.approx(2.0 * om * 1e6)
    assert cols["flux_var_rnoise"][0, 0] == pytest.approx(2.0 * om**2 * 1e12)
    assert cols["surf_bright"][0, 0] == pytest.approx(0.5)
    assert cols["sb_var_poisson"][0, 0] == pytest.approx(1.0 / 16)
    assert cols["background"][0, 0] == pytest.approx(2.0)
    assert cols["bkgd_var_poisson"][0, 0] == pytest.approx(0.5 / 16)
    assert cols["dq"].tolist() == [[0, DO_NOT_USE]] and cols["dq"].dtype == np.uint32
    nrs, _ = spectra_columns(sums, pixar_sr=om, source_type="POINT",
                             instrument="NIRSPEC")  # fmt: skip
    assert nrs["flux"][0, 0] == pytest.approx(2e6)
    assert nrs["flux_var_poisson"][0, 0] == pytest.approx(1e12)
    assert nrs["surf_bright"][0, 0] == 0.0 and nrs["sb_var_rnoise"][0, 0] == 0.0
    assert nrs["background"][0, 0] == pytest.approx(2.0 / om)
    assert nrs["bkgd_var_poisson"][0, 0] == pytest.approx(0.5 / 16 / om**2)
    raw, units = spectra_columns(sums, pixar_sr=om, source_type="POINT",
                                 instrument="NIRCAM", photom_complete=False)  # fmt: skip
    assert raw["flux"][0, 0] == 2.0 and units["flux"] == "DN/s"


def test_extract_block_to_spectra_set_drops_nan_wavelength():
    rng = np.random.default_rng(8)
    nints = 5
    sci = (500 * gaussian_profile()[None] + 3.0 + rng.normal(0, 0.1, (nints, NY, NX))).astype(
        np.float32
    )
    wl = np.broadcast_to(np.linspace(3, 5, NX), (NY, NX)).copy()
    wl[:, :4] = np.nan
    ap = default_aperture((NY, NX), np.full(NX, 15.2), extract_width=8, wavelength=wl)
    sums = extract_block(sci, np.full_like(sci, 0.01), None, None, aperture=ap)
    cols, units = spectra_columns(sums, pixar_sr=1e-12, source_type="POINT",
                                  instrument="NIRCAM")  # fmt: skip
    lam = aperture_wavelength(ap.profile, wl)
    ss = to_spectra_set(cols, lam, int_num=np.arange(1, nints + 1), units=units,
                        extras=sums, segment=2, detector="NRCALONG")  # fmt: skip
    assert ss.nwave == NX - 4 and ss.nints == nints
    np.testing.assert_allclose(ss.wavelength, np.linspace(3, 5, NX)[4:])
    in_ap = gaussian_profile()[:, 10] @ ap.profile[:, 10]
    # noise 0.1 per pixel (x sqrt(8)) on 500 * 0.997: 0.3/500 = 6e-4 -> 5 sigma = 3e-3
    np.testing.assert_allclose(ss.flux, 500 * in_ap * 1e-12 * 1e6, rtol=3e-3)
    # per-column mean of ~18 background pixels with noise 0.1: sigma 0.024
    np.testing.assert_allclose(ss.background, 3.0, atol=0.12)
    assert np.mean(ss.background) == pytest.approx(3.0, abs=0.005)
    assert ss.trace_position.shape == (nints,) and ss.segment == 2
