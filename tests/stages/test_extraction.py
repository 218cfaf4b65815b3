"""Tests of tso3.stages.extraction: plan once, consume blocks in any order, finish."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tso3.config import resolve_parameters
from tso3.io.observation import load_observation
from tso3.io.x1dints import read_x1dints
from tso3.stages import extraction
from tso3.stages.blocks import file_blocks


def _observation(simulated, mode_name="nrs_brightobj", **options):
    obs = load_observation(simulated(mode_name, **options).asn_path)
    obs.open_wcs()
    return obs


def _measure(obs, mode, blocks, stage=None):
    params = resolve_parameters(None, ()).extract_1d
    stage = stage or extraction.ExtractionStage.plan(obs, params, mode=mode)
    with stage:
        for block in blocks:
            stage.consume(block)
        return stage.finish()


def _assert_same(a, b):
    assert len(a.spectra) == len(b.spectra)
    for x, y in zip(a.spectra, b.spectra, strict=True):
        for f in dataclasses.fields(x):
            u, v = getattr(x, f.name), getattr(y, f.name)
            if isinstance(u, np.ndarray):
                np.testing.assert_array_equal(u, v, err_msg=f.name)


def test_prepare_gives_a_median_image_per_detector(simulated):
    obs = _observation(simulated)
    medians = extraction.ExtractionStage.prepare(obs)
    assert set(medians) == set(obs.series)
    for det, image in medians.items():
        assert image.shape == obs.series[det][0].shape[1:]
        assert np.isfinite(image).mean() > 0.99


@pytest.mark.parametrize("mode", ["default", "jwst"])
def test_block_size_and_order_do_not_change_a_number(simulated, mode):
    obs = _observation(simulated)
    names = extraction.ExtractionStage.arrays
    whole = _measure(obs, mode, file_blocks(obs, names))
    small = list(file_blocks(obs, names, length=lambda npix: 7))
    rng = np.random.default_rng(0)
    shuffled = [small[i] for i in rng.permutation(len(small))]
    _assert_same(whole, _measure(obs, mode, shuffled))
    spectra = whole.spectra
    assert sum(s.nints for s in spectra) == sum(s.nints for s in obs.segments)
    assert all(np.isfinite(s.flux).mean() > 0.95 for s in spectra)


def test_prepared_median_images_give_the_same_apertures(simulated):
    """A run prepares the median images in the background; plan must use them as its own."""
    obs = _observation(simulated)
    params = resolve_parameters(None, ()).extract_1d
    names = extraction.ExtractionStage.arrays
    stage = extraction.ExtractionStage.plan(
        obs, params, prepared=extraction.ExtractionStage.prepare(obs)
    )
    given = _measure(obs, "default", file_blocks(obs, names), stage=stage)
    own = _measure(obs, "default", file_blocks(obs, names))
    for det, setup in own.setups.items():
        np.testing.assert_array_equal(given.setups[det].aperture.profile, setup.aperture.profile)
    _assert_same(given, own)


def test_a_missing_block_is_an_error(simulated):
    obs = _observation(simulated)
    blocks = list(file_blocks(obs, extraction.ExtractionStage.arrays, length=lambda npix: 16))
    with pytest.raises(RuntimeError, match="integrations were measured"):
        _measure(obs, "default", blocks[1:])


def test_write_gives_an_x1dints_with_every_integration(simulated, tmp_path):
    obs = _observation(simulated)
    result = _measure(obs, "default", file_blocks(obs, extraction.ExtractionStage.arrays))
    path = tmp_path / "p_x1dints.fits"
    stage = extraction.ExtractionStage.plan(obs, resolve_parameters(None, ()).extract_1d)
    stage.write(result, path, {"TSO3MODE": "default"})
    back = read_x1dints(path)
    assert sum(s.nints for s in back.spectra) == sum(s.nints for s in result.spectra)
    np.testing.assert_array_equal(back.spectra[0].flux, result.spectra[0].flux)
    assert back.primary["TSO3MODE"] == "default"


@pytest.mark.parametrize(
    ("exp_type", "sltname", "expected"),
    [
        ("NRC_TSGRISM", "SOMESLIT", "NRC_TSGRISM"),  # jwst names slitless spectra by EXP_TYPE
        ("MIR_LRS-SLITLESS", None, "MIR_LRS-SLITLESS"),
        ("NRS_BRIGHTOBJ", "S1600A1", "S1600A1"),
        ("NRS_BRIGHTOBJ", None, "NRS_BRIGHTOBJ"),
    ],
)
def test_spectrum_name_and_order_as_jwst(tmp_path, exp_type, sltname, expected):
    from astropy.io import fits

    from tests.builders import make_segment
    from tso3.io.segments import read_segment
    from tso3.stages.extraction import _slit_name, _spectral_order

    path = make_segment(tmp_path, exp_type=exp_type)
    with fits.open(path, mode="update") as hdul:
        hdul["SCI"].header.remove("SLTNAME", ignore_missing=True)
        if sltname:
            hdul["SCI"].header["SLTNAME"] = sltname
        hdul["SCI"].header["SPORDER"] = 0
    seg = read_segment(path)
    assert _slit_name(seg) == expected
    assert _spectral_order(seg) == 0  # copied, not replaced by 1
