"""Tests of tso3.steps.outliers: rolling-median outlier detection in time."""

from __future__ import annotations

import warnings

import bottleneck as bn
import numpy as np
import pytest
from scipy import special, stats

from tso3.dqflags import DO_NOT_USE, JUMP_DET, OUTLIER, SATURATED
from tso3.parallel import Cores
from tso3.steps import _movmed
from tso3.steps.outliers import (
    detect_outliers,
    find_outliers,
    good_pixel_mask,
    match_nans_and_flags,
    rolling_median,
    rolling_median_jwst,
)

# ---------------------------------------------------------------- median engines


# ---------------------------------------------------------------- synthetic data


def light_curve(n: int, depth: float = 0.02, ingress: int = 40, ramp: float = 0.004) -> np.ndarray:
    """Trapezoid transit (linear ingress/egress) on an exponential start-of-exposure ramp."""
    t = np.arange(n, dtype=float)
    t1, t4 = 0.3 * n, 0.7 * n  # first and last contact
    dip = np.clip(np.minimum(t - t1, t4 - t) / ingress, 0.0, 1.0)
    return (1.0 - depth * dip) * (1.0 - ramp * np.exp(-t / (0.05 * n)))


def stellar_scene(n: int, ny: int, nx: int, rng, peak: float = 1.0e6, depth: float = 0.02):
    """A star (Gaussian PSF) on a background; Poisson + read noise; returns sci, err, truth."""
    y, x = np.mgrid[:ny, :nx]
    psf = np.exp(-0.5 * ((y - ny / 2) ** 2 + (x - nx / 2) ** 2) / 2.0**2)
    flux0 = 80.0 + peak * psf  # e- per integration
    truth = light_curve(n, depth)[:, None, None] * flux0[None]
    err = np.sqrt(truth + 12.0**2).astype(np.float32)
    sci = (truth + err * rng.standard_normal(truth.shape)).astype(np.float32)
    return sci, err, truth


def inject_crs(sci, err, rng, rate: float = 0.004):
    """Cosmic rays of 10.5 to 1000 sigma, incl. the first/last integration and pairs."""
    hits = rng.random(sci.shape) < rate
    hits[0, 3, 4] = hits[-1, 5, 6] = True  # series ends
    hits[100:102, 7, 7] = True  # two in a row
    cy, cx = sci.shape[1] // 2, sci.shape[2] // 2
    hits[200:203, cy, cx] = True  # three in a row on the star's peak
    amp = np.exp(rng.uniform(np.log(10.5), np.log(1000.0), sci.shape)).astype(np.float32)
    sci[hits] += (amp * err)[hits]
    return hits


# ---------------------------------------------------------------- good_bits


def test_good_pixel_mask_semantics():
    dq = np.array([0, DO_NOT_USE, JUMP_DET, SATURATED | DO_NOT_USE, OUTLIER], dtype=np.uint32)
    assert good_pixel_mask(dq).tolist() == [True, False, True, False, True]
    # only JUMP_DET is acceptable: anything else set is bad
    assert good_pixel_mask(dq, "JUMP_DET").tolist() == [True, False, True, False, False]
    assert good_pixel_mask(dq, JUMP_DET | OUTLIER).tolist() == [True, False, True, False, True]
    assert good_pixel_mask(dq, None).tolist() == [True, False, False, False, False]
    assert good_pixel_mask(dq, "~DO_NOT_USE+OUTLIER").tolist() == [True, False, True, False, False]
    # raw FITS DQ is int32: the sign bit is just bit 31
    raw = np.array([0, -(2**31), -(2**31) + 1], dtype=np.int32)
    assert good_pixel_mask(raw).tolist() == [True, True, False]
    assert good_pixel_mask(raw, "~2147483648").tolist() == [True, False, False]


def test_good_bits_change_what_is_ignored():
    """A JUMP_DET sample is used by default but ignored when good_bits excludes it."""
    n = 41
    sci = np.ones((n, 1), np.float32)
    err = np.full_like(sci, 0.1)
    dq = np.zeros(sci.shape, np.uint32)
    sci[10:30] = 100.0  # a long "event" marked JUMP_DET
    dq[10:30] = JUMP_DET
    default = detect_outliers(sci, err, dq, rolling_window_width=25)
    strict = detect_outliers(
        sci, err, dq, rolling_window_width=25, good_bits="~DO_NOT_USE+JUMP_DET"
    )
    # used: the median of i=20 is 100 (20 of 25 high); ignored: only the 1.0 samples count
    assert default.median[20, 0] == 100.0
    assert strict.median[20, 0] == 1.0 and strict.median[0, 0] == 1.0
    assert not strict.outliers[10:30].any()  # bad samples are never flagged


# ---------------------------------------------------------------- rolling median windows


def brute_rolling(x, w, good=None):
    """Literal definition: nanmedian over the centred window clipped to the series."""
    x = np.where(good, x, np.nan) if good is not None else x
    n = len(x)
    out = np.empty(x.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows
        for i in range(n):
            out[i] = np.nanmedian(x[max(0, i - w // 2) : i + (w - 1) // 2 + 1], axis=0)
    return out


def test_rolling_median_hand_values():
    x = np.arange(10, dtype=np.float32)
    # odd: [i-2, i+2], truncated at the ends
    assert rolling_median(x, 5).tolist() == [1, 1.5, 2, 3, 4, 5, 6, 7, 7.5, 8]
    # even: [i-2, i+1]
    assert rolling_median(x, 4).tolist() == [0.5, 1, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8]
    # as long as the series: still truncated, [i-5, i+4]
    assert rolling_median(x, 10).tolist() == [2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5]
    # from 2 * nints - 1 on, every window holds the whole series
    assert rolling_median(x, 18)[0] == 4 and rolling_median(x, 18)[9] == 4.5
    assert rolling_median(x, 19).tolist() == [4.5] * 10
    assert rolling_median(x, 1000).tolist() == [4.5] * 10
    # width 1: the data themselves, bad samples NaN
    m1 = rolling_median(x, 1, good=x != 3)
    assert np.isnan(m1[3]) and m1[4] == 4
    assert rolling_median(x, 5).dtype == np.float32
    with pytest.raises(ValueError):
        rolling_median(x, 0)
    with pytest.raises(ValueError):
        rolling_median(x, 2.5)


@pytest.mark.parametrize("w", [2, 3, 4, 7, 24, 25, 60, 61, 118, 119, 1000])
def test_rolling_median_matches_definition(w, engine):
    rng = np.random.default_rng(w)
    x = rng.normal(size=(60, 3, 4)).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan
    good = rng.random(x.shape) > 0.2
    x[:, 0, 0] = np.nan  # an all-NaN pixel gives NaN, not an error
    got = rolling_median(x, w, good, pool=Cores(2))
    want = brute_rolling(x, w, good)
    np.testing.assert_allclose(got, want, rtol=1e-6, equal_nan=True)
    assert np.isnan(got[:, 0, 0]).all()


@pytest.mark.parametrize("w", [2, 5, 25, 26, 101, _movmed.KERNEL_MAX_WIDTH])
def test_kernel_equals_bottleneck_bit_for_bit(w):
    """The compiled kernel reproduces bottleneck's moving median exactly."""
    if not _movmed.kernel_available():
        pytest.skip("the compiled moving-median kernel was not built")
    rng = np.random.default_rng(w)
    n = 3 * w + 7
    x = rng.normal(size=(n, 1500)).astype(np.float32)  # more columns than one block
    x[rng.random(x.shape) < 0.1] = np.nan
    x[rng.random(x.shape) < 0.02] = np.inf
    x[rng.random(x.shape) < 0.02] = -np.inf
    x[rng.random(x.shape) < 0.05] = 0.0
    x[rng.random(x.shape) < 0.05] = -0.0
    x[rng.random(x.shape) < 0.05] = 3.0e38  # the even-count mean must not overflow
    x[:, 7] = np.nan
    good = rng.random(x.shape) > 0.1
    view = x[:, 3:1400]  # a column slice: rows are strided, as the thread blocks are
    gview = good[:, 3:1400]
    for g in (None, gview):
        for left, right, min_count in ((w // 2, (w - 1) // 2, 1), (w // 2, (w - 1) // 2, w)):
            got = _movmed.kernel_median(view, g, left, right, min_count)
            buf = _movmed.masked_copy(view, g, np.dtype(np.float32), pad=right)
            want = bn.move_median(buf, w, min_count=min_count, axis=0)[right:]
            np.testing.assert_array_equal(got, want)
    assert _movmed.kernel_median(view.astype(np.float64), None, 2, 2, 1) is None
    assert _movmed.kernel_median(view, None, 0, 0, 1) is None


def test_compiled_detection_equals_numpy_path(monkeypatch):
    """Median and flags of the fused compiled pass equal the numpy path's, with motion."""
    if not _movmed.kernel_available():
        pytest.skip("the compiled moving-median kernel was not built")
    rng = np.random.default_rng(5)
    sci, err, _ = stellar_scene(300, 12, 40, rng)
    inject_crs(sci, err, rng)
    sci[rng.random(sci.shape) < 0.01] = np.nan
    dq = np.where(rng.random(sci.shape) < 0.02, DO_NOT_USE, 0).astype(np.uint32)
    dq[rng.random(sci.shape) < 0.02] |= JUMP_DET
    coeffs = rng.normal(size=(300, 2)).astype(np.float32)
    basis = rng.normal(size=(2, 12, 40)).astype(np.float32)
    for motion in (None, (coeffs, basis)):
        fast = detect_outliers(sci, err, dq, good_bits="~DO_NOT_USE", motion=motion)
        with monkeypatch.context() as m:
            m.setattr(_movmed, "_detect_kernel", lambda: None)
            slow = detect_outliers(sci, err, dq, good_bits="~DO_NOT_USE", motion=motion)
        np.testing.assert_array_equal(fast.outliers, slow.outliers)
        np.testing.assert_allclose(fast.median, slow.median, rtol=1e-6, atol=1e-3)
        assert fast.n_flagged > 100


# ---------------------------------------------------------------- detection on realistic data


def test_every_cosmic_ray_above_10_sigma_is_flagged(engine):
    rng = np.random.default_rng(1)
    sci, err, _ = stellar_scene(600, 24, 24, rng)
    hits = inject_crs(sci, err, rng)
    dq = np.zeros(sci.shape, np.uint32)
    res = detect_outliers(sci, err, dq)
    assert res.median.dtype == np.float32 and res.outliers.dtype == bool
    assert np.all(res.outliers[hits]), np.argwhere(hits & ~res.outliers)[:5]
    # Gaussian 5-sigma tail over 346k samples: ~0.3 expected false positives
    assert np.count_nonzero(res.outliers & ~hits) <= 3


def tail_rate(snr: float, w: int) -> float:
    """False-positive rate of |x - M| > snr*sigma on Gaussian noise, M including x.

    When x lies in a tail, the median of its window (x included) is the order
    statistic of the w-1 other samples just past their middle: rank w//2 + 1 of
    w - 1 on the side of x.  So the rate is 2 E[Q(snr + O)] with O that order
    statistic, O = Phi^-1(U), U ~ Beta(w//2 + 1, w - 1 - w//2).
    """
    a, b = w // 2 + 1, w - 1 - w // 2
    u = np.linspace(0, 1, 200001)[1:-1]
    pdf = stats.beta.pdf(u, a, b)
    q = 0.5 * special.erfc((snr + special.ndtri(u)) / np.sqrt(2))
    return float(2 * np.trapezoid(q * pdf, u))


def test_false_positive_rate_on_gaussian_noise(engine):
    rng = np.random.default_rng(7)
    w, snr = 25, 3.0
    sci = rng.standard_normal((2000, 40, 50), dtype=np.float32)
    err = np.ones_like(sci)
    res = detect_outliers(sci, err, np.zeros(sci.shape, np.uint32), rolling_window_width=w, snr=snr)
    rate = res.outliers[w:-w].mean()  # full windows only
    expected = tail_rate(snr, w)  # 0.00311: the median's own noise raises it
    naive = float(special.erfc(snr / np.sqrt(2)))  # 0.00270 if M were noiseless
    assert expected == pytest.approx(0.00311, abs=0.00003)
    assert rate == pytest.approx(expected, rel=0.04)
    assert abs(rate - naive) > 0.1 * naive


def test_transit_and_trend_are_not_flagged():
    """A 2 % transit (20 sigma per pixel at peak) with a 40-integration ingress, on a ramp."""
    rng = np.random.default_rng(3)
    n, shape = 1500, (24, 24)
    sci, err, truth = stellar_scene(n, *shape, rng, peak=1.0e6, depth=0.02)
    flat_sci = (sci - truth + truth[:1]).astype(np.float32)  # same noise, no signal
    dq = np.zeros(sci.shape, np.uint32)
    with_signal = detect_outliers(sci, err, dq)
    without = detect_outliers(flat_sci, err, dq)
    assert (truth[:, 12, 12].max() - truth[:, 12, 12].min()) / err[0, 12, 12] > 20
    np.testing.assert_array_equal(with_signal.outliers, without.outliers)
    assert with_signal.n_flagged <= 2
    # the median follows the signal: residual small compared with the 20-sigma depth
    resid = (with_signal.median - truth)[:, 12, 12] / err[:, 12, 12]
    assert np.abs(resid).max() < 1.5


def test_bad_integration_does_not_blind_neighbours():
    rng = np.random.default_rng(11)
    n = 30
    sci = rng.normal(100.0, 1.0, (n, 4, 4)).astype(np.float32)
    err = np.ones_like(sci)
    dq = np.zeros(sci.shape, np.uint32)
    sci[15] = np.nan  # a lost integration
    dq[15] = DO_NOT_USE
    sci[[14, 16], 1, 2] += 50.0  # CRs right beside it
    res = detect_outliers(sci, err, dq, rolling_window_width=5)
    assert res.outliers[14, 1, 2] and res.outliers[16, 1, 2]
    assert res.n_flagged == 2 and np.isfinite(res.median).all()
    # the reference is blind there: M is NaN at 13..17 for w=5
    ref = detect_outliers(sci, err, dq, rolling_window_width=5, mode="jwst")
    assert np.isnan(ref.median[13:18]).all() and not ref.outliers.any()


def test_segmentation_invariance(engine):
    rng = np.random.default_rng(5)
    sci, err, _ = stellar_scene(400, 8, 8, rng)
    inject_crs(sci, err, rng)
    dq = (rng.random(sci.shape) < 0.01).astype(np.uint32)
    whole = detect_outliers(sci, err, dq)
    cuts = [97, 200, 333]
    rejoined = [np.concatenate(np.split(a, cuts)) for a in (sci, err, dq)]
    joined = detect_outliers(*rejoined)
    np.testing.assert_array_equal(whole.outliers, joined.outliers)
    np.testing.assert_array_equal(whole.median, joined.median)
    two_threads = detect_outliers(sci, err, dq, pool=Cores(2))
    np.testing.assert_array_equal(whole.outliers, two_threads.outliers)


@pytest.mark.parametrize("w", [1, 2, 24, 25, 250, 400])
def test_window_widths_in_detect(w, engine):
    """Even, odd, width 1 and too-large windows behave as defined."""
    rng = np.random.default_rng(w)
    n = 200
    sci = rng.normal(10.0, 0.1, (n, 3, 3)).astype(np.float32)
    sci[77, 1, 1] += 5.0  # 50 sigma
    err = np.full_like(sci, 0.1)
    res = detect_outliers(sci, err, np.zeros(sci.shape, np.uint32), rolling_window_width=w)
    np.testing.assert_allclose(res.median, brute_rolling(sci, w), rtol=1e-6)
    if w == 1:
        assert not res.outliers.any()  # the model is the data
    elif w == 2:
        # window [i-1, i]: the mean of a pair, so the spike is 25 sigma off at 77 and 78
        assert res.outliers[77, 1, 1] and res.outliers[78, 1, 1]
    else:
        assert res.outliers[77, 1, 1] and res.n_flagged == 1


def test_err_nan_or_zero(engine):
    rng = np.random.default_rng(2)
    sci = rng.normal(0.0, 1.0, (300, 2)).astype(np.float32)
    err = np.ones_like(sci)
    err[:, 1] = np.nan  # pixel without uncertainties
    err[50, 0] = 0.0  # one sample without uncertainty
    sci[[40, 50, 60], :] += 20.0
    flags = find_outliers(sci, err, rolling_median(sci, 25))
    # the pixel's robust scatter (~1) stands in for the missing ERR
    assert np.flatnonzero(flags[:, 1]).tolist() == [40, 50, 60]
    assert np.flatnonzero(flags[:, 0]).tolist() == [40, 50, 60]
    # jwst: nan_to_num(ERR) = 0, so every nonzero deviation is an outlier
    med = rolling_median(sci, 25)
    jw = find_outliers(sci, err, med, mode="jwst")
    np.testing.assert_array_equal(jw[:, 1], sci[:, 1] != med[:, 1])
    assert jw[:, 1].sum() > 250
    # infinite ERR: never significant
    assert not find_outliers(sci, np.full_like(sci, np.inf), rolling_median(sci, 25)).any()


def test_parameter_validation():
    a = np.zeros((5, 2), np.float32)
    dq = np.zeros(a.shape, np.uint32)
    with pytest.raises(ValueError):
        detect_outliers(a, a, dq, mode="fast")
    with pytest.raises(ValueError):
        detect_outliers(a, a, dq, snr=-1)
    with pytest.raises(ValueError):
        detect_outliers(a, a, dq, rolling_window_width=0)
    with pytest.raises(ValueError):
        detect_outliers(a, a[:4], dq)
    # jwst's string form of snr: the first number is used
    sci = np.zeros((5, 1), np.float32)
    sci[2] = 4.5
    ones = np.ones_like(sci)
    assert find_outliers(sci, ones, np.zeros_like(sci), "4.0 3.0")[2, 0]
    assert not find_outliers(sci, ones, np.zeros_like(sci), "5.0 4.0")[2, 0]


# ---------------------------------------------------------------- mode="jwst"


def jwst_literal(sci, good, w):
    """jwst 3.0.0 TSO median as its reference describes it, written as a plain loop."""
    n = sci.shape[0]
    if w <= 1 or w >= n:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.broadcast_to(np.nanmedian(sci, axis=0), sci.shape)
    s = sci.copy()
    s[~good] = np.nan
    hw = w // 2
    m = np.zeros(sci.shape)
    for i in range(n - w + 1):
        m[i + hw] = np.median(s[i : i + w], axis=0)
    m[:hw] = m[hw]
    if w % 2:
        m[-hw:] = m[-hw - 1]
    else:  # for w=2 this is m[0:] = m[-1]: jwst's whole-cube overwrite, reproduced
        m[-hw + 1 :] = m[-hw]
    return m


def test_jwst_hand_example():
    x = np.array([1, 2, 3, 4, 5, 6, 7, 9], dtype=np.float32)[:, None]
    good = np.ones(x.shape, bool)
    # w=3: centres 1..6 computed, edges copied
    assert rolling_median_jwst(x, 3, good)[:, 0].tolist() == [2, 2, 3, 4, 5, 6, 7, 7]
    # a bad sample at 4 blanks M at 3, 4, 5 (np.median propagates NaN)
    good[4] = False
    m = rolling_median_jwst(x, 3, good)[:, 0]
    assert m.dtype == np.float64
    assert np.isnan(m[3:6]).all() and m[[0, 1, 2, 6, 7]].tolist() == [2, 2, 3, 7, 7]
    # even w=4: M[s+2] = median(x[s:s+4]); M[:2] = M[2]; M[7:] = M[6]
    assert rolling_median_jwst(x, 4)[:, 0].tolist() == [2.5, 2.5, 2.5, 3.5, 4.5, 5.5, 6.5, 6.5]
    # w=2: jwst's end fill M[0:] = M[-1] gives every row the last pair's median
    assert rolling_median_jwst(x, 2)[:, 0].tolist() == [8.0] * 8
    # fallback (w >= nints, or w == 1): whole-series nanmedian that ignores the mask
    fb = rolling_median_jwst(x, 8, good)
    assert fb.dtype == np.float32 and fb[:, 0].tolist() == [4.5] * 8
    assert rolling_median_jwst(x, 1, good)[:, 0].tolist() == [4.5] * 8


@pytest.mark.parametrize("w", [2, 3, 4, 5, 6, 9, 25, 40])
def test_jwst_mode_matches_literal_loop(w, engine):
    rng = np.random.default_rng(100 + w)
    n = 40
    sci = rng.normal(50.0, 2.0, (n, 5, 6)).astype(np.float32)
    sci[rng.random(sci.shape) < 0.02] = np.nan
    sci[rng.random(sci.shape) < 0.02] += 40.0
    err = np.full(sci.shape, 2.0, np.float32)
    err[rng.random(sci.shape) < 0.02] = np.nan
    dq = np.where(rng.random(sci.shape) < 0.03, DO_NOT_USE, 0).astype(np.uint32)
    dq[rng.random(sci.shape) < 0.05] |= JUMP_DET
    good = good_pixel_mask(dq)
    ref_m = jwst_literal(sci, good, w)
    np.testing.assert_array_equal(rolling_median_jwst(sci, w, good, pool=Cores(2)), ref_m)
    ref_flags = np.abs(sci - ref_m) > 5.0 * np.nan_to_num(err)
    res = detect_outliers(sci, err, dq, rolling_window_width=w, mode="jwst")
    np.testing.assert_array_equal(res.outliers, ref_flags)
    assert res.n_flagged > 0


def test_jwst_all_bad_segment_is_not_masked():
    """stcal's weight threshold is NaN when no sample is good: nothing is masked."""
    sci = np.arange(12, dtype=np.float32).reshape(12, 1)
    dq = np.full(sci.shape, DO_NOT_USE, np.uint32)
    res = detect_outliers(sci, np.ones_like(sci), dq, rolling_window_width=3, mode="jwst")
    assert res.median[:, 0].tolist() == [1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10]


# ---------------------------------------------------------------- match_nans_and_flags


def test_match_nans_and_flags():
    shape = (3, 2, 2)
    sci = np.ones(shape, np.float32)
    err, vp, vr, vf = (np.ones(shape, np.float32) for _ in range(4))
    dq = np.zeros(shape, np.uint32)
    sci[0, 0, 0] = np.nan
    vr[1, 1, 1] = np.nan
    dq[2, 0, 1] = DO_NOT_USE | OUTLIER
    dq[2, 1, 0] = JUMP_DET  # not invalid
    wrong = np.ones((2, 2), np.float32)  # skipped, with a warning, like jwst
    with pytest.warns(UserWarning, match="var_flat"):
        invalid = match_nans_and_flags(sci, err, dq, var_poisson=vp, var_rnoise=vr, var_flat=wrong)
    expect = np.zeros(shape, bool)
    expect[0, 0, 0] = expect[1, 1, 1] = expect[2, 0, 1] = True
    np.testing.assert_array_equal(invalid, expect)
    for arr in (sci, err, vp, vr):
        np.testing.assert_array_equal(np.isnan(arr), expect)
    assert np.isfinite(wrong).all()
    assert dq[0, 0, 0] == DO_NOT_USE and dq[1, 1, 1] == DO_NOT_USE
    assert dq[2, 0, 1] == DO_NOT_USE | OUTLIER and dq[2, 1, 0] == JUMP_DET
    assert dq.sum() == 2 * DO_NOT_USE + (DO_NOT_USE | OUTLIER) + JUMP_DET
    # without VAR arrays
    err[0, 1, 1] = np.nan
    match_nans_and_flags(sci, err, dq)
    assert np.isnan(sci[0, 1, 1]) and dq[0, 1, 1] == DO_NOT_USE


def test_no_kernel_environment_variable_selects_bottleneck(monkeypatch):
    """TSO3_NO_KERNEL forces the bottleneck engine, which gives the same medians."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(80, 40)).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan
    with_kernel = rolling_median(x, 9)
    monkeypatch.setenv(_movmed.NO_KERNEL_ENV, "1")
    _movmed._library.cache_clear()
    try:
        assert not _movmed.kernel_available()
        np.testing.assert_array_equal(rolling_median(x, 9), with_kernel)
    finally:
        monkeypatch.delenv(_movmed.NO_KERNEL_ENV)
        _movmed._library.cache_clear()


def test_big_endian_inputs_give_the_same_result():
    """Arrays straight from FITS (big-endian) are handled like native ones."""
    rng = np.random.default_rng(8)
    sci, err, _ = stellar_scene(300, 12, 40, rng)
    inject_crs(sci, err, rng)
    dq = np.where(rng.random(sci.shape) < 0.05, DO_NOT_USE, 0).astype(np.uint32)
    dq[rng.random(sci.shape) < 0.05] |= JUMP_DET
    native = detect_outliers(sci, err, dq, good_bits="~DO_NOT_USE")
    swapped = detect_outliers(
        sci.astype(">f4"), err.astype(">f4"), dq.astype(">u4"), good_bits="~DO_NOT_USE"
    )
    only_dq = detect_outliers(sci, err, dq.astype(">u4"), good_bits="~DO_NOT_USE")
    for other in (swapped, only_dq):
        np.testing.assert_array_equal(native.outliers, other.outliers)
        np.testing.assert_array_equal(native.median, other.median)
    assert native.n_flagged > 0
