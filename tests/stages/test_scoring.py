"""Scores of a reduction: the same from its products read back as from memory."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from tso3.config import WhiteLightParams
from tso3.io.lightcurves import read_speclc
from tso3.io.x1dints import read_x1dints
from tso3.pipeline import run
from tso3.simulate import simulate
from tso3.stages import whitelight
from tso3.stages.scoring import SCORE_NAMES, light_curve_scores


@pytest.fixture(scope="module")
def spectroscopic_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("scores")
    sim = simulate("nrs_brightobj", root / "in", nints=80, segments=2, seed=4)
    result = run(sim.asn_path, root / "out", overrides=["white_light.nbins=6"], plots=False,
                 quiet=True)  # fmt: skip
    return result


def test_scores_from_products_equal_scores_from_memory(spectroscopic_run):
    """What a sweep computes from the light curves it holds is what the files of a run
    give (the sweep's honesty rests on it)."""
    result = spectroscopic_run
    spectra = read_x1dints(result.x1dints).spectra
    header = dict(Table.read(result.whtlt).meta)
    curves = whitelight.measure(spectra, header, WhiteLightParams(nbins=6))
    from_memory = light_curve_scores(curves.table, curves.binned)
    from_files = light_curve_scores(Table.read(result.whtlt), read_speclc(result.speclc))
    assert list(from_files) == list(SCORE_NAMES)
    for name in SCORE_NAMES:
        assert from_files[name] == pytest.approx(from_memory[name], rel=1e-12), name
    # white noise of a few hundred ppm in the simulation; the curves are not all NaN
    assert 20 < from_files["white_p2p_ppm"] < 5000
    assert 20 < from_files["white_mad_ppm"] < 5000
    assert from_files["spec_mad_ppm"] > from_files["white_mad_ppm"]  # fewer photons per bin
    assert result.summary["scatter_ppm"] == pytest.approx(from_files["white_p2p_ppm"])


def test_photometry_scores_and_no_binned_curves():
    rng = np.random.default_rng(2)
    table = Table({"MJD": np.arange(200.0),
                   "net_aperture_sum": 1e4 * (1 + rng.normal(0, 1e-3, 200)),
                   "net_aperture_sum_err": np.full(200, 10.0)})  # fmt: skip
    scores = light_curve_scores(table, prefix="net_aperture_sum")
    assert scores["white_p2p_ppm"] == pytest.approx(1000, rel=0.15)
    assert scores["white_mad_ppm"] == pytest.approx(1000, rel=0.15)
    assert np.isnan(scores["spec_mad_ppm"])
