"""Stages fed by the outlier pass measure what they would measure in the crfints files."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from astropy.io import ascii, fits

import tso3
from tso3 import pipeline
from tso3.simulate import simulate


@pytest.fixture(scope="module")
def prism(tmp_path_factory):
    return simulate("nrs_brightobj", tmp_path_factory.mktemp("sim"), nints=90, segments=3, seed=4)


def _spectra(path):
    with fits.open(path) as hdul:
        return {
            col: np.concatenate([h.data[col] for h in hdul if h.name == "EXTRACT1D"])
            for col in ("FLUX", "FLUX_ERROR", "FLUX_VAR_POISSON", "WAVELENGTH")
        }


@pytest.mark.parametrize("mode", ["default", "jwst"])
def test_streamed_extraction_matches_reading_the_crfints(prism, tmp_path, monkeypatch, mode):
    """Blocks handed over by the outlier pass = extraction of the crfints afterwards.

    The only difference allowed: the stream places its aperture on the median of the
    calints (the crfints do not exist yet), which moves the trace by a hair.
    """
    kw = {"mode": mode, "plots": False, "quiet": True}
    streamed = tso3.run(prism.asn_path, tmp_path / "streamed", **kw)
    monkeypatch.setattr(pipeline, "_measure_in_pass", lambda *a: contextlib.nullcontext())
    files = tso3.run(prism.asn_path, tmp_path / "files", **kw)
    a, b = _spectra(streamed.x1dints), _spectra(files.x1dints)
    assert streamed.summary["flagged_fraction"] > 0  # there were outliers to handle
    np.testing.assert_allclose(a["WAVELENGTH"], b["WAVELENGTH"], rtol=1e-6)
    finite = np.isfinite(b["FLUX"])
    assert finite.mean() > 0.9
    np.testing.assert_array_equal(np.isfinite(a["FLUX"]), finite)
    z = (a["FLUX"] - b["FLUX"])[finite] / b["FLUX_ERROR"][finite]
    assert np.abs(z).max() < 0.01  # in units of the flux error
    np.testing.assert_allclose(
        a["FLUX_VAR_POISSON"][finite], b["FLUX_VAR_POISSON"][finite], rtol=1e-2
    )


@pytest.fixture(scope="module")
def imaging(tmp_path_factory):
    sim = simulate("nrc_tsimage", tmp_path_factory.mktemp("img"), nints=120, segments=3, seed=5)
    # cosmic rays inside the aperture, which the outlier model has to repair
    for path in sim.files:
        with fits.open(path, mode="update") as hdul:
            x = round(hdul["SCI"].header["XREF_SCI"] - 1)
            y = round(hdul["SCI"].header["YREF_SCI"] - 1)
            sci = hdul["SCI"].data
            for k, i in enumerate(range(3, len(sci), 9)):
                sci[i, y + k % 3 - 1, x - k % 2] += 50 * hdul["ERR"].data[i, y, x]
    return sim


def test_streamed_photometry_matches_reading_the_crfints(imaging, tmp_path, monkeypatch):
    kw = {"plots": False, "quiet": True}
    streamed = tso3.run(imaging.asn_path, tmp_path / "streamed", **kw)
    monkeypatch.setattr(pipeline, "_measure_in_pass", lambda *a: contextlib.nullcontext())
    files = tso3.run(imaging.asn_path, tmp_path / "files", **kw)
    a, b = ascii.read(streamed.phot), ascii.read(files.phot)
    assert streamed.summary["flagged_fraction"] > 0
    assert a.colnames == b.colnames and len(a) == len(b)
    # the aperture is placed on the calints instead of the crfints: a hair apart
    np.testing.assert_allclose(a["aperture_x"], b["aperture_x"], atol=5e-3)
    np.testing.assert_allclose(a["aperture_y"], b["aperture_y"], atol=5e-3)
    np.testing.assert_allclose(a["centroid_x"], b["centroid_x"], atol=1e-4, equal_nan=True)
    # That moves the flux by a few hundredths of its error; leaving the cosmic rays
    # unrepaired would move it by most of one.
    z = (a["net_aperture_sum"] - b["net_aperture_sum"]) / b["net_aperture_sum_err"]
    assert np.isfinite(z).all() and np.abs(z).max() < 0.1
