"""Trace finding on the median image and per-integration trace motion."""

import numpy as np
import pytest

from tso3.steps.trace import find_trace, trace_timeseries

NY, NX = 40, 300


def _image(center, sigma, amp=1000.0, sky=5.0):
    y = np.arange(NY)[:, None]
    return amp * np.exp(-0.5 * ((y - center[None, :]) / sigma) ** 2) + sky


def test_find_trace_recovers_curved_trace_despite_bad_columns():
    x = np.arange(NX)
    center = 18.0 + 0.01 * (x - 150) + 2e-5 * (x - 150) ** 2
    rng = np.random.default_rng(4)
    img = _image(center, 1.5) + rng.normal(0, 1.0, (NY, NX))
    img[:, 40:44] = np.nan  # dead columns
    img[5, 100] = 1e5  # hot pixel far from the trace
    img[:, 250:] = 5.0 + rng.normal(0, 1.0, (NY, 50))  # no signal (no wavelength)
    tr = find_trace(img, poly_order=2)
    assert not tr.fitted[40:44].any() and not tr.fitted[250:].any()
    np.testing.assert_allclose(tr.center[:250], center[:250], atol=0.03)
    # extrapolated where there was no signal
    np.testing.assert_allclose(tr.center[250:], center[250:], atol=0.2)
    assert tr.sigma == pytest.approx(1.5, rel=0.05)


def test_find_trace_without_signal_raises():
    with pytest.raises(ValueError):
        find_trace(np.random.default_rng(0).normal(0, 1, (NY, NX)))


def test_trace_timeseries_recovers_shifts_and_widths():
    rng = np.random.default_rng(7)
    nints = 30
    x = np.arange(NX)
    ref = 20.3 + 0.004 * x
    shifts = 0.2 * np.sin(np.arange(nints) / 3.0)
    sigmas = 1.4 + 0.1 * np.cos(np.arange(nints) / 5.0)
    cube = np.stack([_image(ref + s, w) for s, w in zip(shifts, sigmas, strict=True)])
    cube += rng.normal(0, 0.5, cube.shape)
    cube = cube.astype(np.float32)
    cube[3, 20, 100] = np.nan
    pos, width = trace_timeseries(cube, ref, half_width=7)
    np.testing.assert_allclose(pos, shifts, atol=0.01)
    # second moment of a Gaussian truncated at +-7 px (= 5 sigma) is sigma within 0.1%
    np.testing.assert_allclose(width, sigmas, rtol=0.01)
