"""The extraction stage fed by the outlier pass gives the spectra of the crfints files."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from astropy.io import fits

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
    monkeypatch.setattr(pipeline, "_block_extraction", lambda ctx: contextlib.nullcontext())
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
