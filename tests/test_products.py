"""Tests of tso3.products: product names, overwrite rules, provenance, staging."""

from __future__ import annotations

import json
import logging

import pytest

from tso3.config import resolve_parameters
from tso3.errors import OutputExistsError
from tso3.io.observation import load_observation
from tso3.products import (
    crfints_keywords,
    plan_products,
    products_complete,
    provenance,
    provenance_keywords,
    refuse_existing,
    remove_stale,
    staged_products,
    x1dints_keywords,
)


@pytest.fixture
def spectroscopic(simulated):
    return load_observation(simulated("mir_lrs-slitless").asn_path)


@pytest.fixture
def imaging(simulated):
    return load_observation(simulated("nrc_tsimage").asn_path)


def test_names_of_a_spectroscopic_run(spectroscopic, tmp_path):
    obs = spectroscopic
    planned = plan_products(obs, tmp_path, set())
    name = obs.product_name
    assert planned.x1dints == tmp_path / f"{name}_x1dints.fits"
    assert planned.whtlt == tmp_path / f"{name}_whtlt.ecsv"
    assert planned.speclc == tmp_path / f"{name}_speclc.fits"
    assert planned.phot is None
    assert len(planned.crfints) == len(obs.segments)
    assert all(p.name.endswith(f"_{obs.asn_id}_crfints.fits") for p in planned.crfints)
    assert planned.log_file == tmp_path / f"{name}_tso3.log"


def test_skipped_steps_plan_no_product(spectroscopic, imaging, tmp_path):
    assert plan_products(spectroscopic, tmp_path, {"outlier_detection"}).crfints == []
    no_white = plan_products(spectroscopic, tmp_path, {"white_light"})
    assert no_white.whtlt is None and no_white.speclc is None and no_white.x1dints
    assert plan_products(spectroscopic, tmp_path, {"extract_1d"}).products == [
        *plan_products(spectroscopic, tmp_path, set()).crfints
    ]
    phot = plan_products(imaging, tmp_path, set())
    assert phot.phot.name.endswith("_phot.ecsv") and phot.x1dints is None
    assert plan_products(imaging, tmp_path, {"tso_photometry"}).phot is None


def test_existing_products_are_refused_unless_overwrite(spectroscopic, tmp_path):
    planned = plan_products(spectroscopic, tmp_path, set())
    refuse_existing(planned, overwrite=False)  # nothing there yet
    planned.whtlt.write_text("old")
    planned.log_file.write_text("old")
    with pytest.raises(OutputExistsError, match=r"product exists \(and 1 more\); use --overwrite"):
        refuse_existing(planned, overwrite=False)
    refuse_existing(planned, overwrite=True)


def test_stale_speclc_is_removed_only_when_not_replaced(spectroscopic, tmp_path):
    planned = plan_products(spectroscopic, tmp_path, set())
    old = planned.speclc
    old.write_text("earlier run")
    remove_stale(old, planned)  # this run writes one: keep until replaced
    assert old.exists()
    planned.speclc = None  # this run bins nothing
    remove_stale(old, planned)
    assert not old.exists()


def test_provenance_keywords(spectroscopic):
    params = resolve_parameters(None, ["outlier_detection.snr=6"])
    prov = provenance("jwst", params)
    keys = provenance_keywords(prov)
    assert keys["TSO3MODE"] == "jwst" and keys["TSO3VER"] == prov["version"]
    assert json.loads(keys["TSO3PARS"])["outlier_detection"]["snr"] == 6
    assert "S_OUTLIR" not in x1dints_keywords(prov, outliers_done=False)
    assert x1dints_keywords(prov, outliers_done=True)["S_OUTLIR"] == "COMPLETE"
    crf = crfints_keywords(spectroscopic, params, prov)
    assert crf["S_OUTLIR"][0] == "COMPLETE" and crf["TSO3SNR"][0] == 6
    assert crf["TSO3MODE"][0] == "jwst"


def test_staged_products_leave_nothing_after_a_failure(spectroscopic, tmp_path):
    out = tmp_path / "new"
    planned = plan_products(spectroscopic, out, set())
    with pytest.raises(RuntimeError), staged_products(planned) as staged:
        staged.reserve(planned.x1dints).write_text("partial")
        logging.getLogger("tso3").warning("written to the staged log")
        raise RuntimeError("failed run")
    assert not out.exists()  # made by the run, empty again: removed
    planned = plan_products(spectroscopic, out, set())
    with staged_products(planned) as staged:
        staged.reserve(planned.x1dints).write_text("done")
        staged.commit()
    assert planned.x1dints.read_text() == "done" and planned.log_file.exists()


def test_products_are_complete_only_when_every_planned_output_exists(spectroscopic, tmp_path):
    planned = plan_products(spectroscopic, tmp_path, set())
    needed = [*planned.crfints, planned.x1dints, planned.whtlt, planned.log_file]
    for path in needed:
        path.write_text("")
    assert products_complete(planned, binning=False, plots=False)
    assert not products_complete(planned, binning=True, plots=False)  # no speclc
    assert not products_complete(planned, binning=False, plots=True)  # no plots folder
    planned.plot_dir.mkdir()
    planned.speclc.write_text("")
    assert products_complete(planned, binning=True, plots=True)
    planned.crfints[0].unlink()
    assert not products_complete(planned, binning=True, plots=True)
