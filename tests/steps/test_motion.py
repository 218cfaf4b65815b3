"""Tests of tso3.steps.motion: the frame-wide motion model of outlier detection."""

from __future__ import annotations

import numpy as np

from tso3.parallel import Cores
from tso3.steps.motion import fit_motion, motion_basis


def test_motion_basis_keeps_nothing_for_pure_noise():
    rng = np.random.default_rng(0)
    sample = (100 + rng.normal(0, 3, (80, 20, 30))).astype(np.float32)
    assert motion_basis(sample, 3).basis.shape[0] == 0
    assert motion_basis(sample, 3, noise=np.full((20, 30), 3.0)).basis.shape[0] == 0


def test_motion_fit_explains_subpixel_shifts():
    rng = np.random.default_rng(1)
    y, x = np.mgrid[:32, :128]

    def frame(dy, dx):
        return 1e5 * np.exp(-0.5 * ((y - 15.3 - dy) / 0.6) ** 2 - 0.5 * ((x - 60 - dx) / 1.5) ** 2)

    shifts = rng.normal(0, 0.01, (200, 2))
    clean = np.stack([frame(*d) for d in shifts]) + 10.0
    noisy = (clean + rng.normal(0, 1, clean.shape) * np.sqrt(clean)).astype(np.float32)
    model = motion_basis(noisy, 3, noise=np.sqrt(clean.mean(axis=0)))
    assert model.basis.shape[0] >= 2  # a shift in y and one in x at least
    expected = np.stack([frame(0.03, -0.03), frame(-0.03, 0.0)]) + 10.0
    sigma = np.sqrt(expected)
    test = (expected + rng.normal(0, 1, expected.shape) * sigma).astype(np.float32)
    test[0, 15, 60] += 50 * sigma[0, 15, 60]  # a cosmic ray must not pull the fit
    coeffs = fit_motion(test, model)
    resid = (test - model.reference - np.tensordot(coeffs, model.basis, 1)) / sigma
    before = (test - model.reference) / sigma
    assert np.abs(before[1]).max() > 8  # 0.03 px is a many-sigma change on the trace
    assert np.abs(resid[1]).max() < 6
    assert resid[0, 15, 60] > 40  # the cosmic ray stays in the residual


def test_motion_fit_is_the_same_on_any_number_of_threads():
    rng = np.random.default_rng(2)
    sample = (100 + rng.normal(0, 1, (120, 8, 16))).astype(np.float32)
    sample[:, 3:5, 6:9] += rng.normal(0, 20, (120, 1, 1)).astype(np.float32)  # a pattern
    model = motion_basis(sample, 2)
    assert model.basis.shape[0] >= 1
    series = (100 + rng.normal(0, 1, (700, 8, 16))).astype(np.float32)
    series[5, 2, 2] = np.nan
    one = fit_motion(series, model)
    assert np.array_equal(one, fit_motion(series, model, pool=Cores(3)), equal_nan=True)
