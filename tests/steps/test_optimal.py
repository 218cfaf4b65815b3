"""Tests of tso3.steps.optimal: optimal extraction."""

import numpy as np
import pytest

from tests.builders import gaussian_profile
from tso3.steps.aperture import box_profile
from tso3.steps.extract import box_extract
from tso3.steps.optimal import optimal_extract

SIGMA = 1.3

NY, NX = 32, 60  # the frame of tests.builders.gaussian_profile


def test_optimal_beats_box_on_faint_data():
    rng = np.random.default_rng(2)
    nints, rn = 200, 3.0
    f = gaussian_profile()
    truth = 40.0
    sci = (truth * f[None] + rng.normal(0, rn, (nints, NY, NX))).astype(np.float32)
    sci[3, 15, 10] = 500.0  # cosmic ray: rejected by the optimal fit
    vr = np.full_like(sci, rn**2)
    vp = np.maximum(truth * f, 0)[None].repeat(nints, axis=0).astype(np.float32) * 0.0
    p = box_profile((NY, NX), 15.2 - 4.5, 15.2 + 4.5)
    box = box_extract(sci, vp, vr, None, p, repair=None)
    wide = box_profile((NY, NX), 15.2 - 6, 15.2 + 6)
    opt = optimal_extract(sci, vp, vr, None, f * (wide > 0) / (f * (wide > 0)).sum(axis=0))
    assert opt["n_rejected"][3] >= 1
    good = np.ones(nints, bool)
    good[3] = False
    box_scatter = np.std(box["flux"][good])
    opt_scatter = np.std(opt["flux"][good])
    assert opt_scatter < 0.8 * box_scatter
    assert abs(np.mean(opt["flux"][good]) - truth) < 4 * opt_scatter / np.sqrt(good.sum() * NX)
    # propagated error matches the measured scatter
    assert np.sqrt(np.median(opt["var_rnoise"])) == pytest.approx(opt_scatter, rel=0.1)
