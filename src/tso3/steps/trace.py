"""Spectral trace: its position on the median image, and its motion in time.

DISPAXIS=1 orientation: cross-dispersion is axis -2 (y), dispersion axis -1 (x).
"""

from __future__ import annotations

from dataclasses import dataclass

import bottleneck as bn
import numpy as np

__all__ = ["Trace", "find_trace", "trace_timeseries"]


@dataclass
class Trace:
    """A cross-dispersion trace fitted along the dispersion axis.

    Attributes
    ----------
    center : ndarray (nx,)
        Polynomial-smoothed cross-dispersion centre (px, 0-based), defined for every
        column (extrapolated where there was no signal).
    width : ndarray (nx,)
        Gaussian-equivalent sigma (px) of the profile per column, from the second moment;
        NaN where not measured.
    sigma : float
        Median of ``width`` over the fitted columns.
    measured : ndarray (nx,)
        Raw centroid per column (NaN where not measured).
    fitted : ndarray (nx,) of bool
        Columns used in the final polynomial fit.
    poly : numpy.polynomial.Polynomial
        The fitted polynomial ``center = poly(x)``.
    """

    center: np.ndarray
    width: np.ndarray
    sigma: float
    measured: np.ndarray
    fitted: np.ndarray
    poly: np.polynomial.Polynomial


def _gather(img: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``img[..., rows[k, x], x]`` for row indices (k, nx): shape (..., k, nx)."""
    cols = np.arange(rows.shape[-1])[None, :]
    return img[..., rows, cols]


def _half_window(img: np.ndarray) -> int:
    """Default half window: an eighth of the rows, or of the usable rows per column when
    the frame is mostly outside the slit (MIRI LRS fixed slit: ~44 of 1032)."""
    ny = img.shape[0]
    finite = np.isfinite(img).sum(axis=0)
    usable = int(np.median(finite[finite > 0])) if finite.any() else ny
    hw = ny // 8
    return max(3, hw if 2 * hw + 1 <= usable else usable // 8)


def find_trace(
    median_image: np.ndarray,
    *,
    valid: np.ndarray | None = None,
    poly_order: int = 2,
    half_window: int | None = None,
    min_snr: float = 5.0,
    clip: float = 4.0,
    n_iter: int = 5,
) -> Trace:
    """Locate the spectral trace on a median image.

    Per column: subtract the column median (the trace covers few pixels), find the peak,
    take the flux-weighted centroid and second moment of the positive signal within
    ``half_window`` rows of it; columns whose peak is below ``min_snr`` times the robust
    column noise (or that ``valid`` excludes) are not used.  The centroids are then fitted
    with a polynomial in x with iterative ``clip``-sigma rejection, so bad columns and
    columns without wavelength do not bend the trace; the polynomial is evaluated (and
    extrapolated) for every column.

    Parameters
    ----------
    median_image : ndarray (ny, nx)
        Median over integrations (NaN allowed).
    valid : ndarray of bool, (nx,) or (ny, nx), optional
        Columns (or pixels) allowed in the fit, e.g. finite wavelength.
    poly_order : int
        Degree of the polynomial in x.
    half_window : int, optional
        Rows on each side of the peak used for centroid and width (default
        ``max(3, ny // 8)``, or an eighth of the usable rows when ``valid`` leaves fewer
        than ``2 ny // 8 + 1`` per column, as in a slit within a larger frame).
    min_snr : float
        Minimum peak signal-to-noise for a column to count.
    clip : float
        Rejection threshold (in robust sigma) of the polynomial fit.
    n_iter : int
        Maximum rejection iterations.

    Returns
    -------
    Trace

    Raises
    ------
    ValueError
        Fewer usable columns than ``poly_order + 1`` (no detectable trace).
    """
    img = np.array(median_image, dtype=np.float64)
    ny, nx = img.shape
    if valid is not None:
        v = np.asarray(valid, dtype=bool)
        img[~(v if v.ndim == 2 else np.broadcast_to(v[None, :], img.shape))] = np.nan
    hw = int(half_window) if half_window is not None else _half_window(img)
    img -= bn.nanmedian(img, axis=0)[None, :]
    noise = 1.4826 * bn.nanmedian(np.abs(img), axis=0)
    finite_col = np.isfinite(img).sum(axis=0) >= min(ny, 2 * hw + 1)
    peak = np.argmax(np.where(np.isfinite(img), img, -np.inf), axis=0)
    peak = np.clip(peak, hw, ny - 1 - hw) if ny > 2 * hw else np.full(nx, ny // 2)
    rows = np.clip(peak[None, :] + np.arange(-hw, hw + 1)[:, None], 0, ny - 1)
    cut = np.clip(np.nan_to_num(_gather(img, rows)), 0.0, None)
    tot = cut.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cen = (cut * rows).sum(axis=0) / tot
        var2 = (cut * (rows - cen[None, :]) ** 2).sum(axis=0) / tot
        snr = img[peak, np.arange(nx)] / noise
    ok = finite_col & np.isfinite(cen) & (tot > 0) & (snr >= min_snr)
    measured = np.where(ok, cen, np.nan)
    width = np.where(ok, np.sqrt(var2), np.nan)
    x = np.arange(nx, dtype=np.float64)
    use = ok.copy()
    if use.sum() <= poly_order:
        raise ValueError(f"no detectable trace: only {int(use.sum())} usable columns")
    domain = [0.0, max(nx - 1.0, 1.0)]
    for _ in range(n_iter):
        poly = np.polynomial.Polynomial.fit(x[use], measured[use], poly_order, domain=domain)
        resid = measured - poly(x)
        sig = 1.4826 * np.median(np.abs(resid[use])) + 1e-6
        new = ok & (np.abs(resid) <= clip * sig)
        if new.sum() <= poly_order or np.array_equal(new, use):
            break
        use = new
    poly = np.polynomial.Polynomial.fit(x[use], measured[use], poly_order, domain=domain)
    return Trace(
        center=poly(x),
        width=width,
        sigma=float(np.nanmedian(width[use])),
        measured=measured,
        fitted=use,
        poly=poly,
    )


def trace_timeseries(
    sci: np.ndarray,
    trace: Trace | np.ndarray,
    half_width: int,
    *,
    columns: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cross-dispersion position and width of the trace in every integration.

    The pixels within ``half_width`` rows of the trace are taken in each column; their
    offsets ``y - center(x)`` and values form one trace-aligned, column-collapsed
    profile per integration.  A per-(integration, column) background, the mean of the
    outermost row on each side, is subtracted first.  The position is the flux-weighted
    mean offset, the width the square root of the second moment about it.

    Parameters
    ----------
    sci : ndarray (nints, ny, nx)
        Science block (views fine; NaN pixels are ignored).
    trace : Trace or ndarray (nx,)
        Reference trace centre.
    half_width : int
        Rows on each side of the trace (a few sigma of the PSF).
    columns : ndarray of bool (nx,), optional
        Columns to use (default: where the trace was fitted, or all).

    Returns
    -------
    position : ndarray (nints,)
        Centroid offset (px) relative to the reference trace.
    width : ndarray (nints,)
        RMS width (px) of the collapsed profile.
    """
    center = trace.center if isinstance(trace, Trace) else np.asarray(trace, np.float64)
    nints, ny, nx = sci.shape
    if columns is None:
        columns = trace.fitted if isinstance(trace, Trace) else np.ones(nx, bool)
    cols = np.flatnonzero(columns)
    base = np.rint(center[cols]).astype(np.intp)
    inside = (base - half_width >= 0) & (base + half_width < ny)
    cols, base = cols[inside], base[inside]
    c = center[cols]
    if cols.size == 0:
        return np.full(nints, np.nan), np.full(nints, np.nan)
    r0, r1 = int(base.min()) - half_width, int(base.max()) + half_width + 1
    y = np.arange(r0, r1, dtype=np.float64)[:, None]
    win = np.zeros((r1 - r0, nx))
    win[:, cols] = np.abs(y - base[None, :]) <= half_width
    offs = np.zeros_like(win)
    offs[:, cols] = (y - c[None, :]) * win[:, cols]
    # Per-(integration, column) moments of the window as weighted sums over the rows:
    # one product-sum each over the block, no gathered copy (unused columns weigh 0).
    block = sci[:, r0:r1]
    m0, m1, m2 = (
        np.einsum("iyx,yx->ix", block, w.astype(np.float32))[:, cols].astype(np.float64)
        for w in (win, offs, offs * offs)
    )
    win, offs = win[:, cols], offs[:, cols]
    # Background per (integration, column): mean of the outermost window rows.
    lo = sci[:, base - half_width, cols].astype(np.float64)
    hi = sci[:, base + half_width, cols].astype(np.float64)
    bkg = np.nan_to_num(bn.nanmean(np.stack([lo, hi]), axis=0))
    n0 = win.sum(axis=0)
    n1 = offs.sum(axis=0)
    n2 = (offs * offs).sum(axis=0)
    s0 = m0 - bkg * n0
    s1 = m1 - bkg * n1
    s2 = m2 - bkg * n2
    # A NaN pixel drops its column from that integration's profile.
    ok = np.isfinite(s0) & np.isfinite(s1) & np.isfinite(s2)
    tot = np.where(ok, s0, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        pos = np.where(ok, s1, 0.0).sum(axis=1) / tot
        var = np.where(ok, s2, 0.0).sum(axis=1) / tot - pos**2
    return pos, np.sqrt(np.clip(var, 0.0, None))
