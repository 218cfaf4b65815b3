"""tso3.steps.soss: GR700XD trace geometry, wavelength polynomial, refinement, apertures."""

import numpy as np
import pytest

from tso3.steps.soss import (
    fit_trace_offset,
    measure_trace_centres,
    order_apertures,
    polynomial_features,
    rotated_trace,
    wavelength_polynomial,
)


def test_rotated_trace_zero_angle_is_the_reference_on_columns():
    x = np.arange(10.0, 90.0)
    y = 20.0 + 0.1 * x
    out = rotated_trace(x, y, 0.0, (50.0, 25.0), 100)
    assert np.isnan(out[:10]).all() and np.isnan(out[90:]).all()
    np.testing.assert_allclose(out[10:90], y, atol=1e-12)


def test_rotated_trace_rotates_about_the_pivot():
    x = np.arange(0.0, 200.0)
    y = np.full_like(x, 50.0)  # a horizontal line through the pivot
    out = rotated_trace(x, y, 1.0, (100.0, 50.0), 200)
    cols = np.arange(20, 180)
    np.testing.assert_allclose(out[cols], 50.0 + np.tan(np.radians(1.0)) * (cols - 100), atol=1e-9)


def test_polynomial_features_graded_order():
    u, v = np.array([2.0]), np.array([3.0])
    feats = polynomial_features(u, v, 2)[:, 0]
    np.testing.assert_array_equal(feats, [2, 3, 4, 6, 9])  # u, v, u^2, uv, v^2
    assert polynomial_features(u, v, 5).shape == (20, 1)


def test_wavelength_polynomial_scales_then_evaluates():
    coef = np.array([1.0, 2.0, -1.0, 0.5, 0.0, 0.25])  # 1 + 2u - v + 0.5u^2 + 0.25v^2
    ext = np.array([[0.0, -1.0], [100.0, 1.0]])
    x = np.array([0.0, 50.0, 100.0])
    u, v = x / 100.0, (0.2 + 1.0) / 2.0
    expected = 1 + 2 * u - v + 0.5 * u**2 + 0.25 * v**2
    np.testing.assert_allclose(wavelength_polynomial(x, 0.2, coef, ext, 2), expected)


def _horned(ny, centres, amplitude=1000.0, sep=9.0, fwhm=5.0):
    """Image of double-horned traces (one per centre array)."""
    rows = np.arange(ny)[:, None]
    s = fwhm / 2.355
    img = np.full((ny, centres[0].size), 5.0)
    for c in centres:
        for h in (-sep / 2, sep / 2):
            img += amplitude * 0.5 * np.exp(-0.5 * ((rows - c[None, :] - h) / s) ** 2)
    return img


def test_measure_trace_centres_finds_a_shifted_horned_trace():
    nx = 400
    x = np.arange(nx)
    true = 60.0 + 0.02 * x + 1e-5 * (x - 200) ** 2
    img = _horned(160, [true]) + np.random.default_rng(1).normal(0, 1.0, (160, nx))
    measured = measure_trace_centres(img, true - 0.7)  # the model is 0.7 px off
    ok = np.isfinite(measured)
    assert ok.sum() > 0.95 * nx
    assert np.max(np.abs(measured[ok] - true[ok])) < 0.05


def test_measure_trace_centres_skips_columns_near_another_order():
    nx = 300
    a = np.full(nx, 60.0)
    b = 60.0 + 60.0 * np.linspace(0, 1, nx)  # order b leaves a towards high x
    measured = measure_trace_centres(_horned(200, [a, b]), a, others=(b,), min_separation=30)
    assert np.isnan(measured[np.abs(b - a) < 30]).all()
    far = np.abs(b - a) > 40
    assert np.isfinite(measured[far]).all() and np.allclose(measured[far], 60.0, atol=0.05)


def test_fit_trace_offset_recovers_offset_and_smooth_correction():
    nx = 500
    x = np.arange(nx, dtype=float)
    pred = 50.0 + 0.01 * x
    measured = pred + 0.8 + 1e-6 * (x - 250) ** 2
    measured[:100] = np.nan  # not measured there: the correction is held at its end value
    measured[300] += 5.0  # a bad column, rejected
    centre, offset, used = fit_trace_offset(measured, pred)
    assert not used[300] and used[101:299].all()
    np.testing.assert_allclose(centre[110:290], (measured - 0.0)[110:290], atol=1e-6)
    assert offset == pytest.approx(np.nanmedian(measured[used] - pred[used]))
    np.testing.assert_allclose(centre[:100], pred[:100] + (centre[100] - pred[100]), atol=1e-9)


def test_fit_trace_offset_needs_columns():
    with pytest.raises(ValueError, match="trace not found"):
        fit_trace_offset(np.full(100, np.nan), np.zeros(100))


def test_order_apertures_split_the_overlap_and_share_a_background():
    nx = 200
    c1 = np.full(nx, 50.0)
    c2 = np.where(np.arange(nx) < 100, 80.0, 130.0)  # 30 px away, then 80 px away
    c2[190:] = np.nan  # order 2 leaves the subarray
    aps, overlap = order_apertures((256, nx), {1: c1, 2: c2}, width=40.0)
    p1, p2 = aps[1].profile, aps[2].profile
    assert np.all(p1 + p2 <= 1.0 + 1e-12)  # no pixel counted twice
    assert overlap[1][:100].all() and not overlap[1][100:].any()
    np.testing.assert_array_equal(overlap[1], overlap[2])
    np.testing.assert_allclose(p1[:, 150].sum(), 40.0)  # a full box away from the overlap
    assert p1[64, 50] == 1 and p1[66, 50] == 0 and p2[66, 50] == 1  # midline at 65
    assert p2[:, 195].sum() == 0
    bkg = aps[1].bkg_profile
    assert bkg is aps[2].bkg_profile
    assert not (bkg.astype(bool) & ((p1 > 0) | (p2 > 0))).any()
    assert bkg[0, 150] == 1 and bkg[50, 150] == 0 and bkg[71, 150] == 0 and bkg[72, 150] == 1
