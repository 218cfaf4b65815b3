"""Tests of tso3.stages.blocks: blocks, their invalid samples, and the file source."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from stdatamodels.jwst import datamodels

from tso3.dqflags import DO_NOT_USE, JUMP_DET
from tso3.io.observation import load_observation
from tso3.stages.blocks import Block, file_blocks, invalid_index, series_blocks


def test_invalid_index_is_do_not_use_or_nan_in_any_array():
    dq = np.zeros((2, 3, 4), np.uint32)
    dq[0, 1, 2] = DO_NOT_USE
    dq[1, 0, 0] = JUMP_DET  # flagged but usable: not invalid
    sci = np.ones(dq.shape, np.float32)
    var = np.ones(dq.shape, np.float32)
    var[1, 2, 3] = np.nan
    got = invalid_index([sci, var], dq)
    expected = [np.ravel_multi_index(i, dq.shape) for i in [(0, 1, 2), (1, 2, 3)]]
    np.testing.assert_array_equal(got, expected)


def test_settle_puts_nan_at_invalid_samples_once_even_in_views():
    base = np.arange(2 * 4 * 6, dtype=np.float32).reshape(2, 4, 6)
    view = np.swapaxes(base, 1, 2)  # not contiguous, as a DISPAXIS=2 cube
    index = np.array([1, 13])
    block = Block(segment=None, start=0, cubes={"SCI": view, "VAR_FLAT": None}, invalid=index)
    assert block.nints == 2
    settled = block.settle()
    assert settled["SCI"] is view and settled["VAR_FLAT"] is None
    assert np.isnan(np.take(view, index)).all()
    assert np.isfinite(view).sum() == view.size - 2
    np.put(view, index, 0.0)  # a second settle must not touch the cubes again
    block.settle()
    assert np.isfinite(view).all()


def _segments(*nints):
    return [SimpleNamespace(nints=n, name=f"seg{i}") for i, n in enumerate(nints)]


@pytest.mark.parametrize("length", [1, 4, 7, 25, 1000])
def test_series_blocks_cover_each_integration_once_cut_at_segments(length):
    segs = _segments(5, 9, 3)
    pieces = series_blocks(segs, length)
    seen = []
    for seg, start, stop in pieces:
        assert 0 <= start < stop <= seg.nints
        assert stop - start <= length
        seen += [(seg.name, i) for i in range(start, stop)]
    assert seen == [(s.name, i) for s in segs for i in range(s.nints)]
    # series-wide blocks: a new block starts every `length` integrations of the series
    starts = np.cumsum([0, 5, 9])
    firsts = {int(starts[int(s.name[3:])] + a) for s, a, _ in pieces}
    assert set(range(0, 17, length)) <= firsts


def test_file_blocks_read_what_the_files_hold(simulated):
    sim = simulated("nrs_brightobj", seed=21)  # with bad pixels: some samples invalid
    obs = load_observation(sim.asn_path)
    first = obs.segments[0].key  # (path, EXTVER)
    with datamodels.open(first[0]) as model:
        dq = np.array(model.dq)
        sci = np.array(model.data, dtype=np.float32)
        var_flat = np.array(model.var_flat, dtype=np.float32)
    blocks = list(file_blocks(obs, ("SCI", "VAR_FLAT", "NOT_THERE"), length=lambda npix: 7))
    assert [b.segment for b in blocks][0] == first
    for seg in obs.segments:
        mine = [b for b in blocks if b.segment == seg.key]
        assert sum(b.nints for b in mine) == seg.nints
        assert [b.start for b in mine] == sorted(b.start for b in mine)
    got = np.concatenate([b.cubes["SCI"] for b in blocks if b.segment == first])
    np.testing.assert_array_equal(got, sci)
    assert all(b.cubes["NOT_THERE"] is None for b in blocks)
    assert all(b.fill[0].size == 0 for b in blocks)  # no outlier model: nothing to fill
    offset = 0
    expected = invalid_index([sci, var_flat], dq)
    assert expected.size > 0
    found = []
    for b in blocks:
        if b.segment == first:
            found.append(b.invalid + offset)
            offset += b.cubes["SCI"].size
    np.testing.assert_array_equal(np.concatenate(found), expected)
