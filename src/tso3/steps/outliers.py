"""Outlier detection for time-series observations: a rolling median in time.

Every pixel's time series is compared with its own running median; samples that
deviate by more than ``snr`` times their ERR are outliers (cosmic rays, snowballs,
random telegraph jumps).  The functions are pure: numpy arrays in, numpy arrays out,
axis 0 is time and any trailing shape is allowed, so the pipeline can hand over a
block of detector rows spanning all segments, and a notebook can hand over a cube.

Two behaviours share this code (``mode``):

``"default"``
    NaN- and DQ-aware centred median whose window is truncated at the ends of the
    series, computed on whatever series it is given (the pipeline gives the whole
    observation, so windows span segment boundaries).  ERR that is NaN or <= 0 is
    replaced by the pixel's robust scatter instead of flagging everything.
``"jwst"``
    Bit-for-bit the jwst 3.0.0 ``outlier_detection`` TSO mode, to be called once per
    segment: ``np.median`` windows with NaN propagation, edge copies, a whole-segment
    ``nanmedian`` fallback, and ``nan_to_num(ERR)``.

See ``docs/outliers.md`` for the choices and their effect on detection.
"""

from __future__ import annotations

import operator
import warnings
from dataclasses import dataclass

import bottleneck as bn
import numpy as np

from tso3.dqflags import DO_NOT_USE, interpret_bit_flags
from tso3.steps import MODES, _movmed

__all__ = [
    "OutlierResult",
    "detect_outliers",
    "find_outliers",
    "good_pixel_mask",
    "match_nans_and_flags",
    "rolling_median",
    "rolling_median_jwst",
]


#: Scale from the median absolute deviation to the Gaussian sigma.
_MAD_TO_SIGMA = 1.482602218505602


@dataclass
class OutlierResult:
    """What :func:`detect_outliers` found.

    Attributes
    ----------
    outliers : numpy.ndarray of bool
        New outlier flags, same shape as SCI.  The caller ORs
        ``tso3.dqflags.OUTLIER_FLAG`` (``DO_NOT_USE|OUTLIER`` = 17) into DQ there.
    median : numpy.ndarray of float32
        The reference ("median") cube the data were compared with, same shape as SCI;
        NaN where no valid sample was in the window.
    """

    outliers: np.ndarray
    median: np.ndarray

    @property
    def n_flagged(self) -> int:
        """Number of samples flagged."""
        return int(np.count_nonzero(self.outliers))


def good_pixel_mask(dq: np.ndarray, good_bits: str | int | None = "~DO_NOT_USE") -> np.ndarray:
    """Return True where a sample is usable according to its DQ bits.

    A sample is good iff ``(dq & ~good_bits) == 0`` (the jwst convention; with the
    default, iff DO_NOT_USE is not set).

    Parameters
    ----------
    dq : numpy.ndarray
        Integer DQ array (uint32 normally; signed arrays are read as their bit pattern).
    good_bits : str, int or None
        Acceptable bits, see :func:`tso3.dqflags.interpret_bit_flags`.

    Returns
    -------
    numpy.ndarray of bool
        Same shape as ``dq``.
    """
    dq = np.asarray(dq)
    if dq.dtype.kind not in "iu":
        raise TypeError(f"DQ must be an integer array, not {dq.dtype}")
    if dq.dtype.kind == "i":
        # DQ read raw from FITS is int32 with BZERO; the bits are what matter
        dq = dq.view(dq.dtype.str.replace("i", "u"))
    bad = interpret_bit_flags(good_bits) & ((1 << (8 * dq.dtype.itemsize)) - 1)
    return (dq & dq.dtype.type(bad)) == 0


def _check_width(width: int) -> int:
    try:
        width = operator.index(width)
    except TypeError:
        raise ValueError(f"rolling_window_width must be an integer, not {width!r}") from None
    if width < 1:
        raise ValueError(f"rolling_window_width must be >= 1, got {width}")
    return width


def _check_snr(snr: float | str) -> float:
    # jwst's spec default is the string "5.0 4.0", of which TSO mode uses the first number
    value = float(snr.split()[0]) if isinstance(snr, str) else float(snr)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"snr must be a positive number, got {snr!r}")
    return value


def _as_2d(a: np.ndarray) -> np.ndarray:
    """View ``(nints, ...)`` as ``(nints, npix)`` (copies only if not reshapeable)."""
    return a.reshape(a.shape[0], -1)


def rolling_median(
    sci: np.ndarray,
    width: int = 25,
    good: np.ndarray | None = None,
    *,
    pool: _movmed.BlockMap | None = None,
) -> np.ndarray:
    """Centred rolling median along time that ignores NaN and bad samples (default mode).

    Parameters
    ----------
    sci : numpy.ndarray
        Data, shape ``(nints, ...)``.
    width : int
        Window length in integrations (>= 1).  For integration ``i`` the window is
        ``[i - width//2, i + (width-1)//2]``: symmetric for odd widths, one more
        integration before ``i`` than after it for even widths (as jwst).  At the ends
        of the series the window is truncated to the part inside it, so it stays centred
        as far as possible (this follows trends and transits at the ends better than a
        shifted window; the median then uses fewer samples, at least ``width//2 + 1``).
        A window as long as the series or longer is truncated the same way; only
        ``width >= 2 * nints - 1`` gives every pixel the median of its whole series;
        ``width == 1`` returns the data themselves (nothing can be an outlier).
    good : numpy.ndarray of bool, optional
        Same shape as ``sci``; False samples are ignored, like NaN.
    pool : object with ``map`` and ``workers``, optional
        Runs blocks of pixel columns at once (e.g. :class:`tso3.parallel.Cores`);
        serial without one.

    Returns
    -------
    numpy.ndarray
        Same shape as ``sci``, float32 for float32 input (float64 for float64).  NaN
        where the window holds no valid sample.

    Raises
    ------
    ValueError
        If ``width < 1`` or ``good`` has another shape.
    """
    width = _check_width(width)
    sci = np.asarray(sci)
    return _by_column_blocks(
        lambda x, g: _movmed.centred_nan_median(x, g, width),
        sci, good, _movmed.work_dtype(sci.dtype), pool,
    )  # fmt: skip


def _by_column_blocks(func, sci: np.ndarray, good, dtype, pool) -> np.ndarray:
    """``func(x, good)`` on blocks of pixel columns of ``(nints, ...)`` arrays (on ``pool``)."""
    if good is not None and np.shape(good) != sci.shape:
        raise ValueError(f"good has shape {np.shape(good)}, sci has {sci.shape}")
    out = np.empty(sci.shape, dtype=dtype)
    if sci.size == 0:
        return out
    x2, o2 = _as_2d(sci), _as_2d(out)
    g2 = None if good is None else _as_2d(np.asarray(good, dtype=bool))
    workers = _movmed.pool_workers(pool)

    def work(cols: slice) -> None:
        o2[:, cols] = func(x2[:, cols], None if g2 is None else g2[:, cols])

    # itemsize 8: the jwst median works in float64
    blocks = _movmed.column_blocks(sci.shape[0], x2.shape[1], max(8, out.itemsize), workers)
    _movmed.run_blocks(work, blocks, pool)
    return out


def _jwst_block(x: np.ndarray, good: np.ndarray | None, width: int) -> np.ndarray:
    """jwst's reference cube for one column block (rolling or fallback)."""
    if width <= 1 or width >= x.shape[0]:
        # stcal nanmedian3D: NaN-tolerant, ignores the DQ mask, keeps the input dtype
        # (bottleneck: np.nanmedian's values without its all-NaN warning)
        med = bn.nanmedian(x, axis=0).astype(x.dtype, copy=False)
        return np.broadcast_to(med, x.shape)
    med = _movmed.jwst_median(x, good, width)
    if width == 2:
        # jwst's even-width end fill ``M[-hw+1:] = M[-hw]`` is ``M[0:] = M[-1]`` for
        # width 2: every integration gets the last window's median.  Reproduced here
        # (README "Default vs jwst mode").
        med[:] = med[-1]
    return med


def rolling_median_jwst(
    sci: np.ndarray,
    width: int = 25,
    good: np.ndarray | None = None,
    *,
    pool: _movmed.BlockMap | None = None,
) -> np.ndarray:
    """Reference ("median") cube exactly as jwst 3.0.0 computes it for one segment.

    For ``1 < width < nints``: bad samples (``good`` False) become NaN; for every full
    window ``[s, s+width)`` inside the array, ``M[s + width//2] = np.median(window)``
    (NaN propagates: one NaN blanks every window containing it); ``M[:width//2]`` copies
    the first computed row and the last rows copy the last computed row.  Otherwise
    (``width == 1`` or ``width >= nints``) every integration gets the NaN-ignoring median
    of the whole array, **without** the ``good`` mask, as jwst.

    jwst's even-width edge fill ``M[-hw+1:] = M[-hw]`` overwrites the *entire* cube with
    the last window's median when ``width == 2``; that is reproduced, since this is
    jwst's reference.

    Parameters
    ----------
    sci : numpy.ndarray
        One segment's data, shape ``(nints, ...)``.
    width : int
        ``rolling_window_width`` (>= 1).
    good : numpy.ndarray of bool, optional
        Same shape as ``sci``; False samples are set to NaN (rolling case only).
    pool : object with ``map`` and ``workers``, optional
        Runs blocks of pixel columns at once (e.g. :class:`tso3.parallel.Cores`);
        serial without one.

    Returns
    -------
    numpy.ndarray
        Same shape as ``sci``: float64 in the rolling case (jwst's M is float64), the
        input dtype in the fallback case (stcal's nanmedian3D keeps it).
    """
    width = _check_width(width)
    sci = np.asarray(sci)
    rolling = 1 < width < sci.shape[0]
    dtype = np.float64 if rolling else _movmed.work_dtype(sci.dtype)
    return _by_column_blocks(lambda x, g: _jwst_block(x, g, width), sci, good, dtype, pool)


def find_outliers(
    sci: np.ndarray,
    err: np.ndarray,
    median: np.ndarray,
    snr: float = 5.0,
    *,
    good: np.ndarray | None = None,
    mode: str = "default",
) -> np.ndarray:
    """Flag samples with ``|SCI - median| > snr * ERR``.

    Parameters
    ----------
    sci, err, median : numpy.ndarray
        Same shape ``(nints, ...)``; ``median`` is the reference cube.
    snr : float
        Detection threshold in units of ERR.
    good : numpy.ndarray of bool, optional
        Default mode only: samples that may be flagged (bad ones are already unusable).
    mode : {"default", "jwst"}
        ``"default"``: NaN in SCI or median is never flagged; where ERR is NaN or
        <= 0 (no usable uncertainty) the pixel's robust scatter in time,
        ``1.4826 * median_t |SCI - median|`` over its good samples, stands in for
        ERR; if that is 0 or undefined the sample is not flagged.  ERR = +inf is
        never flagged.  ``"jwst"``: stcal's ``|SCI - M| > snr * nan_to_num(ERR)``, so
        ERR NaN becomes 0 and any nonzero deviation is flagged.

    Returns
    -------
    numpy.ndarray of bool
        Same shape as ``sci``.
    """
    snr = _check_snr(snr)
    if mode == "jwst":
        return np.greater(np.abs(sci - median), snr * np.nan_to_num(err))
    if mode != "default":
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    sci, err = np.asarray(sci), np.asarray(err)
    dev = np.subtract(sci, median)
    np.abs(dev, out=dev)
    with np.errstate(invalid="ignore"):
        flags = np.greater(dev, snr * err)  # NaN in SCI, median or ERR gives False
        err_ok = err > 0  # False for NaN
    if good is not None:
        flags &= good
    if err_ok.all():  # the normal case: one cheap check instead of the masks below
        return flags
    flags &= err_ok
    usable = np.isfinite(dev)
    if good is not None:
        usable &= good
    need = usable & ~err_ok
    if need.any():
        # ERR missing or zero: judge those samples against the pixel's own scatter
        pixels = need.any(axis=0)
        d = np.where(usable[:, pixels], dev[:, pixels], np.nan)
        # bottleneck: no warning for an all-NaN column
        sigma = _MAD_TO_SIGMA * bn.nanmedian(d, axis=0)
        with np.errstate(invalid="ignore"):
            alt = need[:, pixels] & (d > snr * sigma) & (sigma > 0)
        flags[:, pixels] |= alt
    return flags


def _motion_term(coeffs: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """``coeffs @ basis`` (float32) summed as the compiled kernel sums it: pattern by
    pattern, each product rounded, so that both routes flag the same samples (a matrix
    product rounds otherwise, and moves a sample at the threshold across it)."""
    term = coeffs[:, :1] * basis[:1]
    for k in range(1, coeffs.shape[1]):
        term += coeffs[:, k : k + 1] * basis[k : k + 1]
    return term


def detect_outliers(
    sci: np.ndarray,
    err: np.ndarray,
    dq: np.ndarray,
    *,
    rolling_window_width: int = 25,
    snr: float = 5.0,
    good_bits: str | int | None = "~DO_NOT_USE",
    mode: str = "default",
    pool: _movmed.BlockMap | None = None,
    motion: tuple[np.ndarray, np.ndarray] | None = None,
) -> OutlierResult:
    """Find outliers in a time series of images or spectra (median + flag in one pass).

    Parameters
    ----------
    sci, err : numpy.ndarray
        Data and uncertainties, shape ``(nints, ...)``.  Not modified.
    dq : numpy.ndarray
        DQ, same shape.  Not modified.
    rolling_window_width : int
        Window length in integrations, see :func:`rolling_median`.
    snr : float
        Detection threshold in units of ERR (a jwst-style string ``"5.0 4.0"`` uses its
        first number).
    good_bits : str, int or None
        DQ bits that do not make a sample bad, see :func:`good_pixel_mask`.
    mode : {"default", "jwst"}
        ``"default"``: :func:`rolling_median` over the series given (whole observation)
        and :func:`find_outliers` restricted to good samples.  ``"jwst"``: call once per
        segment; :func:`rolling_median_jwst` and jwst's flag test (bad samples with a
        finite SCI can then be flagged in the fallback case, as in jwst).
    pool : object with ``map`` and ``workers``, optional
        Runs blocks of pixel columns at once (e.g. :class:`tso3.parallel.Cores`);
        serial without one.
    motion : (coefficients, basis), optional
        Default mode only: per-integration coefficients ``(nints, k)`` relative to their
        own rolling median (see :func:`tso3.steps.motion.relative_motion`) and a pixel
        basis ``(k, ...)`` (see :func:`tso3.steps.motion.motion_basis`); their product
        is added to the rolling median, so sub-pixel pointing jitter and fast flux
        changes are part of the model instead of being flagged.

    Returns
    -------
    OutlierResult
        ``outliers`` (new flags) and ``median`` (float32 reference cube, including the
        motion term when given).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    width = _check_width(rolling_window_width)
    snr = _check_snr(snr)
    sci, err, dq = np.asarray(sci), np.asarray(err), np.asarray(dq)
    if not (sci.shape == err.shape == dq.shape):
        raise ValueError(f"sci {sci.shape}, err {err.shape} and dq {dq.shape} differ in shape")
    median = np.empty(sci.shape, dtype=np.float32)
    outliers = np.empty(sci.shape, dtype=bool)
    if sci.size == 0:
        return OutlierResult(outliers, median)
    n = sci.shape[0]
    x2, e2, d2 = _as_2d(sci), _as_2d(err), _as_2d(dq)
    m2, f2 = _as_2d(median), _as_2d(outliers)
    workers = _movmed.pool_workers(pool)
    coeffs = basis2d = None
    if motion is not None and mode == "default":
        coeffs = np.nan_to_num(np.asarray(motion[0], dtype=np.float32))
        basis2d = np.asarray(motion[1], dtype=np.float32).reshape(coeffs.shape[1], -1)
        if coeffs.shape[0] != n or basis2d.shape[1] != x2.shape[1]:
            raise ValueError("motion coefficients or basis do not match sci")
    mask_median = True
    if mode == "jwst":
        # stcal's weight threshold is NaN when every sample is bad; nothing is masked then
        mask_median = bool(good_pixel_mask(dq, good_bits).any())

    bad_bits = interpret_bit_flags(good_bits)

    def work(cols: slice) -> None:
        x, e = x2[:, cols], e2[:, cols]
        if mode == "default":
            block_motion = None if coeffs is None else (coeffs, basis2d[:, cols])
            unjudged = _movmed.kernel_detect(
                x, e, d2[:, cols], bad_bits, width, snr, block_motion, m2[:, cols], f2[:, cols]
            )
            if unjudged == 0:
                return
            if unjudged is not None:  # ERR missing somewhere: the full test below
                g = good_pixel_mask(d2[:, cols], good_bits)
                f2[:, cols] = find_outliers(x, e, m2[:, cols], snr, good=g)
                return
        g = good_pixel_mask(d2[:, cols], good_bits)
        if mode == "jwst":
            m = _jwst_block(x, g if mask_median else None, width)
            f2[:, cols] = find_outliers(x, e, m, snr, mode="jwst")
        else:
            m = _movmed.centred_nan_median(x, g, width)
            if coeffs is not None:
                m += _motion_term(coeffs, basis2d[:, cols])
            f2[:, cols] = find_outliers(x, e, m, snr, good=g)
        m2[:, cols] = m

    itemsize = 8 if mode == "jwst" else 4
    # the compiled pass copies nothing, so it takes wide column blocks; numpy does not
    in_place = mode == "default" and _movmed.detect_supported(x2, e2, d2, width)
    blocks = _movmed.column_blocks(n, x2.shape[1], itemsize, workers, in_place=in_place)
    _movmed.run_blocks(work, blocks, pool)
    return OutlierResult(outliers, median)


def match_nans_and_flags(
    sci: np.ndarray,
    err: np.ndarray,
    dq: np.ndarray,
    var_poisson: np.ndarray | None = None,
    var_rnoise: np.ndarray | None = None,
    var_flat: np.ndarray | None = None,
) -> np.ndarray:
    """Make NaN and DO_NOT_USE agree across SCI, ERR, DQ and VAR_*, in place (as jwst).

    A sample is invalid where DQ has DO_NOT_USE or any of the float arrays is NaN.
    There, DO_NOT_USE is OR-ed into ``dq`` and every float array is set to NaN.  A float
    array whose shape differs from ``sci`` is skipped with a warning (as jwst).

    Parameters
    ----------
    sci, err : numpy.ndarray
        Float arrays, modified in place.
    dq : numpy.ndarray
        Integer DQ, same shape as ``sci``, modified in place.
    var_poisson, var_rnoise, var_flat : numpy.ndarray, optional
        Float arrays, modified in place when given.

    Returns
    -------
    numpy.ndarray of bool
        The invalid mask.
    """
    if dq.shape != sci.shape:
        raise ValueError(f"dq has shape {dq.shape}, sci has {sci.shape}")
    arrays = []
    named = {"sci": sci, "err": err, "var_poisson": var_poisson}
    named |= {"var_rnoise": var_rnoise, "var_flat": var_flat}
    for name, arr in named.items():
        if arr is None:
            continue
        if arr.shape != sci.shape:
            warnings.warn(
                f"match_nans_and_flags: {name} has shape {arr.shape}, not {sci.shape}; skipped",
                stacklevel=2,
            )
            continue
        arrays.append(arr)
    invalid = (dq & dq.dtype.type(DO_NOT_USE)) != 0
    for arr in arrays:
        invalid |= np.isnan(arr)
    np.bitwise_or(dq, dq.dtype.type(DO_NOT_USE), out=dq, where=invalid)
    for arr in arrays:
        np.copyto(arr, np.nan, where=invalid)
    return invalid
