"""Checks on real JWST light curves (../shared/realdata; skipped when absent)."""

from __future__ import annotations

import numpy as np
import pytest

from tso3.steps.outliers import detect_outliers


@pytest.mark.parametrize("width", [9, 25, 51, 101])
def test_real_transit_is_not_flagged(width, wasp39_light_curve):
    """WASP-39b NIRSpec PRISM CO2-band light curve (1950 integrations, 2.7 % deep, with
    its published errors), treated as one pixel's time series: ingress, egress and the
    curved bottom must not raise an outlier flag.  The only point ever flagged is the light
    curve's largest excursion, -5.0 sigma at integration 391 (out of transit), which is
    borderline: some window widths put it just above 5 sigma, others just below."""
    t, flux, err = np.genfromtxt(wasp39_light_curve, usecols=(0, 1, 2)).T
    assert np.all(np.diff(t) > 0) and 1 - flux.min() > 0.02
    cube = flux.astype(np.float32)[:, None, None]
    sigma = err.astype(np.float32)[:, None, None]
    res = detect_outliers(cube, sigma, np.zeros(cube.shape, np.uint32), rolling_window_width=width)
    assert set(np.flatnonzero(res.outliers.ravel())) <= {391}
    # and a 20-sigma glitch injected at mid-transit is found
    glitched = cube.copy()
    glitched[975] += 20 * sigma[975]
    res = detect_outliers(
        glitched, sigma, np.zeros(cube.shape, np.uint32), rolling_window_width=width
    )
    assert 975 in np.flatnonzero(res.outliers.ravel())
    assert set(np.flatnonzero(res.outliers.ravel())) <= {391, 975}
