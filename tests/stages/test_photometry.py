"""Tests of tso3.stages.photometry: one plan, blocks in any order, jwst mode per segment."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import ascii

from tso3.config import resolve_parameters
from tso3.io.observation import load_observation
from tso3.stages import photometry
from tso3.stages.blocks import file_blocks


def _observation(simulated):
    obs = load_observation(simulated("nrc_tsimage").asn_path)
    obs.open_wcs()
    return obs


def _measure(obs, mode, blocks, prepared=None):
    params = resolve_parameters(None, ()).tso_photometry
    stage = photometry.PhotometryStage.plan(obs, params, mode=mode, prepared=prepared)
    with stage:
        for block in blocks:
            stage.consume(block)
        return stage.finish()


def _numbers(table) -> dict[str, np.ndarray]:
    return {c: np.asarray(table[c]) for c in table.colnames if table[c].dtype.kind in "fiu"}


def test_prepare_samples_in_default_mode_only(simulated):
    obs = _observation(simulated)
    sci, valid = photometry.PhotometryStage.prepare(obs)
    assert sci.ndim == 3 and sci.shape == valid.shape and valid.dtype == bool
    # jwst mode centroids every integration
    assert photometry.PhotometryStage.prepare(obs, "jwst") is None


@pytest.mark.parametrize("mode", ["default", "jwst"])
def test_block_size_and_order_do_not_change_a_number(simulated, mode):
    obs = _observation(simulated)
    names = photometry.PhotometryStage.arrays
    whole = _numbers(_measure(obs, mode, file_blocks(obs, names)))
    small = list(file_blocks(obs, names, length=lambda npix: 9))
    shuffled = [small[i] for i in np.random.default_rng(1).permutation(len(small))]
    pieces = _numbers(_measure(obs, mode, shuffled))
    assert whole.keys() == pieces.keys() and "aperture_sum" in whole
    for name in whole:  # the same sums, added in another order at most
        np.testing.assert_allclose(whole[name], pieces[name], rtol=1e-13, atol=0, err_msg=name)
    assert len(whole["aperture_sum"]) == sum(s.nints for s in obs.segments)


def test_default_mode_places_one_aperture_for_the_whole_observation(simulated):
    obs = _observation(simulated)
    blocks = file_blocks(obs, photometry.PhotometryStage.arrays)
    table = _measure(obs, "default", blocks, prepared=photometry.PhotometryStage.prepare(obs))
    x, y = np.asarray(table["aperture_x"]), np.asarray(table["aperture_y"])
    assert np.ptp(x) == 0 and np.ptp(y) == 0  # fixed aperture (moving_centroid off)
    # ... on the source: the centroids scatter around it by the pointing jitter only
    assert abs(np.nanmedian(np.asarray(table["centroid_x"])) - x[0]) < 0.05
    assert abs(np.nanmedian(np.asarray(table["centroid_y"])) - y[0]) < 0.05


def test_jwst_mode_places_each_segment_on_its_own(simulated):
    obs = _observation(simulated)
    table = _measure(obs, "jwst", file_blocks(obs, photometry.PhotometryStage.arrays))
    x = np.asarray(table["aperture_x"])
    bounds = np.cumsum([0] + [s.nints for s in obs.segments])
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        assert np.ptp(x[a:b]) == 0  # one aperture per segment, from its own centroids
    assert len(set(np.round(x[bounds[:-1]], 12))) == len(obs.segments)


def test_a_missing_block_is_an_error(simulated):
    obs = _observation(simulated)
    blocks = list(file_blocks(obs, photometry.PhotometryStage.arrays, length=lambda npix: 8))
    with pytest.raises(RuntimeError, match="integrations were measured"):
        _measure(obs, "default", blocks[:-1])


def test_write_round_trips_the_table(simulated, tmp_path):
    obs = _observation(simulated)
    table = _measure(obs, "default", file_blocks(obs, photometry.PhotometryStage.arrays))
    path = tmp_path / "p_phot.ecsv"
    stage = photometry.PhotometryStage.plan(obs, resolve_parameters(None, ()).tso_photometry)
    stage.write(table, path, {"version": "x", "mode": "default", "parameters": {}})
    back = ascii.read(path)
    np.testing.assert_allclose(
        np.asarray(back["aperture_sum"]), np.asarray(table["aperture_sum"].value)
    )
