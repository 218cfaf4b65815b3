"""NIRCam DHS end to end: a MultiSlit calints per segment, a slit per stripe (issue 29).

One simulated observation (four stripes, three segments) through ``tso3 run``: every
stripe is its own series, reduced and written as jwst's layout expects, with the white
light of each stripe and of all of them.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable
from stdatamodels.jwst import datamodels

from tso3.cli import main
from tso3.pipeline import run
from tso3.simulate import simulate

STRIPES = 4
# the science scores of benchmarks/mode_science.py, the same here as in its figures
sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from mode_science import cr_recall, fit_transit, white_models  # noqa: E402

sys.path.pop(0)


@pytest.fixture(scope="module")
def dhs(tmp_path_factory):
    root = tmp_path_factory.mktemp("dhs")
    sim = simulate("nrc_tsgrism", root / "in", nints=90, segments=3, seed=2,
                   subarray="SUB164STRIPE4_DHS")  # fmt: skip
    # the Python API: the command line would reconfigure the tso3 logger for the module
    run(sim.asn_path, root / "out", overrides=["white_light.nbins=5"], quiet=True)
    truth = json.loads(next((root / "in").glob("*_truth.json")).read_text())
    return truth, root / "out"


def _one(out, suffix):
    (path,) = out.glob(f"*{suffix}")
    return path


def test_crfints_one_per_file_every_slit_judged(dhs):
    """Three crfints (not one per slit), each a MultiSlitModel whose four slits carry
    their own stripe's outliers; every injected cosmic ray flagged."""
    truth, out = dhs
    crfints = sorted(out.glob("*_crfints.fits"))
    assert len(crfints) == 3
    assert cr_recall(truth, out) >= 0.99
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = datamodels.open(crfints[1])
    with model, fits.open(crfints[1]) as hdul:
        assert type(model).__name__ == "MultiSlitModel" and len(model.slits) == STRIPES
        assert model.meta.cal_step.outlier_detection == "COMPLETE"
        for k, slit in enumerate(model.slits, start=1):
            assert slit.name == str(k)
            np.testing.assert_array_equal(slit.dq, hdul["DQ", k].data)
        flagged = [int(np.count_nonzero(hdul["DQ", k].data & 16)) for k in (1, 2, 3, 4)]
    assert all(flagged)  # every stripe has its own cosmic rays flagged


def test_x1dints_a_spectrum_per_stripe_and_segment(dhs):
    truth, out = dhs
    path = _one(out, "_x1dints.fits")
    with datamodels.open(path) as model:
        assert type(model).__name__ == "TSOMultiSpecModel"
        assert [s.name for s in model.spec] == [str(k) for k in range(1, 5) for _ in range(3)]
        for k in range(STRIPES):
            stripe = model.spec[3 * k : 3 * k + 3]
            numbers = np.concatenate([s.spec_table["INT_NUM"] for s in stripe])
            assert numbers.tolist() == list(range(1, 91))
    with fits.open(path) as hdul:
        assert {h.header["DETECTOR"] for h in hdul if h.name == "EXTRACT1D"} == {"NRCA1"}
        assert hdul["TSO3_TRACE_CENTRE"].data["DETECTOR"].tolist() == [
            f"STRIPE{k}" for k in range(1, 5)
        ]


def test_white_light_per_stripe_and_summed_recovers_the_depth(dhs):
    """Each stripe's white light and their sum give the injected transit within 3 sigma
    here (benchmarks/RESULTS_modes.md has the pulls over seeds); the sum is the stripes'
    flux added, with their errors in quadrature."""
    truth, out = dhs
    table = QTable.read(_one(out, "_whtlt.ecsv"))
    assert table.colnames[:4] == ["MJD_UTC", "BJD_TDB", "whitelight_flux", "whitelight_flux_err"]
    stripes = [f"whitelight_flux_STRIPE{k}" for k in range(1, 5)]
    assert set(stripes) <= set(table.colnames) and len(table) == 90
    total = sum(np.asarray(table[c].value) for c in stripes)
    np.testing.assert_allclose(table["whitelight_flux"].value, total, rtol=1e-12)
    err = np.sqrt(sum(np.asarray(table[c.replace("flux", "flux_err")].value) ** 2
                      for c in stripes))  # fmt: skip
    np.testing.assert_allclose(table["whitelight_flux_err"].value, err, rtol=1e-12)
    np.testing.assert_array_equal(table["MJD_UTC"], table["MJD_UTC_STRIPE3"])
    for suffix, model in white_models(truth).items():
        column = f"whitelight_flux_{suffix}" if suffix else "whitelight_flux"
        k, sigma, _ = fit_transit(np.asarray(table[column].value, float), model)
        assert abs(k - 1) < 3 * sigma, (column, k, sigma)


def test_binned_curves_and_plots_per_stripe(dhs):
    from tso3.io.lightcurves import read_speclc

    _, out = dhs
    curves = read_speclc(_one(out, "_speclc.fits"))
    assert [(c.slit, c.series, c.detector) for c in curves] == [
        (str(k), f"STRIPE{k}", "NRCA1") for k in range(1, 5)
    ]
    assert all(c.flux.shape == (90, 5) for c in curves)
    plots = {p.name for p in next(out.glob("*_plots")).glob("*.png")}
    for k in range(1, 5):
        assert {f"median_frame_stripe{k}.png", f"spectral_light_curve_stripe{k}.png"} <= plots


def test_whitelight_command_reads_the_stripes_back(dhs, tmp_path):
    """``tso3 whitelight`` on the x1dints (SLTNAME names the stripe) gives the same table."""
    _, out = dhs
    assert main(["whitelight", str(_one(out, "_x1dints.fits")), "-o", str(tmp_path)]) == 0
    again = QTable.read(_one(tmp_path, "_whtlt.ecsv"))
    first = QTable.read(_one(out, "_whtlt.ecsv"))
    assert again.colnames == first.colnames
    for name in first.colnames:
        np.testing.assert_array_equal(np.asarray(again[name]), np.asarray(first[name]))
