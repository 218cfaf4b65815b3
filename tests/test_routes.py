"""One measuring path: whichever source feeds a stage, it measures the same numbers.

* A run with the outlier pass and one with ``--skip outlier_detection`` on clean data
  (nothing to flag, nothing to repair) write the same phot/x1dints values.
* A stage fed by the outlier pass and the same stage fed by the crfints files (with the
  pass's repair model) measure exactly the same thing.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from astropy.io import ascii, fits

import tso3
from tests.conftest import CLEAN, SMALL
from tso3.config import resolve_parameters
from tso3.io.observation import load_observation
from tso3.stages import extraction, outliers, photometry
from tso3.stages.blocks import Block, RepairModel, file_blocks


def _numbers(result) -> dict[str, np.ndarray]:
    """Every numeric column of the phot.ecsv or of all x1dints spectra."""
    if result.phot is not None:
        table = ascii.read(result.phot)
        return {
            c: np.asarray(table[c], float) for c in table.colnames if table[c].dtype.kind == "f"
        }
    with fits.open(result.x1dints) as hdul:
        spectra = [h.data for h in hdul if h.name == "EXTRACT1D"]
        names = [n for n in spectra[0].names if spectra[0][n].dtype.kind == "f"]
        return {n: np.concatenate([np.ravel(s[n]) for s in spectra]) for n in names}


@pytest.mark.parametrize("mode", ["default", "jwst"])
@pytest.mark.parametrize("exp", list(SMALL))
def test_outlier_pass_and_skip_measure_the_same_on_clean_data(simulated, tmp_path, exp, mode):
    sim = simulated(exp, **CLEAN)
    # snr 8: Gaussian noise alone never gets there (at 5 a few of 1e6 samples would)
    kw = {"mode": mode, "plots": False, "quiet": True, "overrides": ["outlier_detection.snr=8"]}
    with_pass = tso3.run(sim.asn_path, tmp_path / "pass", **kw)
    skipped = tso3.run(sim.asn_path, tmp_path / "skip", skip=["outlier_detection"], **kw)
    assert with_pass.summary["flagged_fraction"] == 0  # clean: the pass changes nothing
    a, b = _numbers(with_pass), _numbers(skipped)
    assert a.keys() == b.keys() and len(a) > 5
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-10, atol=0, err_msg=name)
        assert np.isfinite(a[name]).any(), name


def _through_both_sources(sim, tmp_path, exp, mode):
    """(pass-fed result, file-fed result, outcome) of the stage of ``exp``."""
    obs = load_observation(sim.asn_path)
    obs.open_wcs()
    params = resolve_parameters(None, ())
    module = photometry.PhotometryStage if obs.is_imaging else extraction.ExtractionStage
    step = params.tso_photometry if obs.is_imaging else params.extract_1d
    targets = {s.path: tmp_path / f"{s.path.stem}_crf.fits" for s in obs.segments}
    stage = module.plan(obs, step, mode=mode)
    seen: dict = {s.key: [] for s in obs.segments}  # the blocks' repairs, per segment
    with outliers.crfints_copies(targets, {}) as ready, stage:
        source = outliers.OutlierPass(obs, targets, params.outlier_detection, mode, ready=ready)
        for block in source:
            fill = (block.fill[0].copy(), block.fill[1].copy())
            seen[block.segment].append(Block(block.segment, block.start, {}, block.invalid, fill))
            stage.consume(block)
        streamed = stage.finish()
    outcome = source.outcome
    repair = {s.key: RepairModel.from_blocks(s.shape, seen[s.key]) for s in obs.segments}
    width = params.outlier_detection.rolling_window_width
    again = module.plan(obs, step, mode=mode)
    blocks = file_blocks(
        obs, again.arrays, sources=targets, repair=repair,
        length=lambda npix: outliers.block_length(npix, width),
    )  # fmt: skip
    with again:
        for block in blocks:
            again.consume(block)
        from_files = again.finish()
    return streamed, from_files, outcome


@pytest.mark.parametrize("mode", ["default", "jwst"])
@pytest.mark.parametrize("exp", list(SMALL))
def test_pass_fed_and_file_fed_stages_agree_exactly(simulated, tmp_path, exp, mode):
    # cosmic rays and bad pixels: the outlier model repairs them in default mode
    sim = simulated(exp, seed=12, cr_rate=2e-3)
    streamed, from_files, outcome = _through_both_sources(sim, tmp_path, exp, mode)
    assert outcome.n_flagged > 0
    if exp == "nrc_tsimage":
        assert streamed.colnames == from_files.colnames
        for name in streamed.colnames:
            a, b = np.asarray(streamed[name]), np.asarray(from_files[name])
            if a.dtype.kind in "fiu":
                np.testing.assert_array_equal(a, b, err_msg=name)
        if mode == "default":
            assert np.asarray(streamed["n_repaired"]).sum() > 0
        return
    assert len(streamed.spectra) == len(from_files.spectra)
    compared = 0
    for a, b in zip(streamed.spectra, from_files.spectra, strict=True):
        for f in dataclasses.fields(a):
            x, y = getattr(a, f.name), getattr(b, f.name)
            if isinstance(x, np.ndarray):
                np.testing.assert_array_equal(x, y, err_msg=f.name)
                compared += 1
    assert compared > 10
    if mode == "default":
        assert sum(int(np.sum(s.n_repaired)) for s in streamed.spectra) > 0
