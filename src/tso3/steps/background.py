"""Cross-dispersion background fits for box extraction, vectorised over integrations.

Per dispersion column jwst's extract1d (docs/extraction.md, "Background") fits, over the pixels of
the background profile, a polynomial in ``y' = linspace(-1, 1, ny)`` with unit weights
(``bkg_fit="poly"``; a normal matrix with condition number >= 1e10 gives 0), or takes the
median (``"median"``).  Here the fit is linear in the data, so for one mask pattern it is a
fixed pseudo-inverse: all integrations and all columns sharing a pattern are solved with
one matrix product.  Only (integration, column) pairs with a NaN inside the pattern are
re-solved, in one batched call.
"""

from __future__ import annotations

from dataclasses import dataclass

import bottleneck as bn
import numpy as np

__all__ = [
    "BackgroundFit",
    "background_operator",
    "boxcar_smooth",
    "fit_background",
    "poly_basis",
    "refit_pairs",
]

#: Normal matrices at least this ill-conditioned give a zero background (as the reference).
COND_LIMIT = 1e10
#: The reference's factor between the error of a median and that of a mean.
MEDIAN_ERROR_FACTOR = 1.2


def poly_basis(ny: int, order: int) -> np.ndarray:
    """Design matrix ``y'**k`` with ``y' = linspace(-1, 1, ny)``, shape (ny, order+1)."""
    y = np.linspace(-1.0, 1.0, ny)
    return y[:, None] ** np.arange(order + 1)[None, :]


def boxcar_smooth(data: np.ndarray, length: int) -> np.ndarray:
    """NaN-interpolating boxcar of ``length`` along the last axis, edges extended.

    Matches astropy ``convolve(kernel=ones(length)/length, boundary="extend")`` with its
    default NaN interpolation: each output is the mean of the finite inputs in the window
    (NaN when there are none).  Computed with cumulative sums, O(n) per row.

    Parameters
    ----------
    data : ndarray (..., nx)
    length : int
        Odd window length; values < 2 return a float64 copy.

    Returns
    -------
    ndarray, float64, same shape
    """
    out = np.asarray(data, dtype=np.float64)
    if length < 2:
        return out.copy()
    h = length // 2
    pad = np.concatenate(
        [np.repeat(out[..., :1], h, axis=-1), out, np.repeat(out[..., -1:], h, axis=-1)], axis=-1
    )
    good = np.isfinite(pad)
    zeros = np.zeros(pad.shape[:-1] + (1,))
    csum = np.concatenate([zeros, np.cumsum(np.where(good, pad, 0.0), axis=-1)], axis=-1)
    cnt = np.concatenate([zeros, np.cumsum(good, axis=-1, dtype=np.float64)], axis=-1)
    s = csum[..., length:] - csum[..., :-length]
    n = cnt[..., length:] - cnt[..., :-length]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0.5, s / np.maximum(n, 1.0), np.nan)


@dataclass
class BackgroundFit:
    """A fitted background: ``B[i, y, x] = sum_k basis[y, k] * coeffs[i, k, x]``.

    Attributes
    ----------
    coeffs : ndarray (nints, K, nx), float64
        Polynomial coefficients in ``y'`` (K = 1 for a median).
    basis : ndarray (ny, K)
    var_poisson, var_rnoise, var_flat : ndarray (nints, nx)
        Variance of the aperture-weighted background sum ``sum_y P*B`` (the reference's
        varB_X, computed with the full source profile P).
    """

    coeffs: np.ndarray
    basis: np.ndarray
    var_poisson: np.ndarray
    var_rnoise: np.ndarray
    var_flat: np.ndarray

    def evaluate(self, rows: slice | np.ndarray | None = None, dtype=np.float32) -> np.ndarray:
        """Background cube on ``rows`` (all rows by default), shape (nints, nrows, nx)."""
        basis = self.basis if rows is None else self.basis[rows]
        # (nrows, K) @ (nints, K, nx): one batched matrix product.
        return np.matmul(basis.astype(dtype), self.coeffs.astype(dtype, copy=False))


def _pinv_rows(basis: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Least-squares operators G (m, K, ny) for boolean row masks (m, ny); 0 if singular."""
    a = basis[None, :, :] * masks[:, :, None]
    normal = np.einsum("myk,myl->mkl", a, a)
    with np.errstate(all="ignore"):  # singular systems give inf, which is what we test
        ok = np.linalg.cond(normal) < COND_LIMIT
    g = np.zeros((masks.shape[0], basis.shape[1], masks.shape[1]))
    if ok.any():
        g[ok] = np.einsum("mkl,myl->mky", np.linalg.inv(normal[ok]), a[ok])
    return g


def fit_background(
    sci: np.ndarray,
    bkg_profile: np.ndarray,
    *,
    var_poisson: np.ndarray | None = None,
    var_rnoise: np.ndarray | None = None,
    var_flat: np.ndarray | None = None,
    src_profile: np.ndarray | None = None,
    bkg_fit: str = "poly",
    bkg_order: int = 0,
    smoothing_length: int = 0,
) -> BackgroundFit:
    """Fit the background of every column of every integration at once.

    Parameters
    ----------
    sci : ndarray (nints, ny, nx)
        Science block (any float dtype, may be a non-contiguous view).
    bkg_profile : ndarray (ny, nx)
        Nonzero where the background is measured.
    var_poisson, var_rnoise, var_flat : ndarray (nints, ny, nx), optional
        Variances (None = zeros, as the reference does for missing arrays).  Pixels with
        a non-finite variance are left out of the fit (the reference's boolean weights).
    src_profile : ndarray (ny, nx), optional
        Source aperture P, used to propagate the background variance to ``sum_y P*B``.
    bkg_fit : {"poly", "mean", "median"}
    bkg_order : int
        Polynomial order for "poly".
    smoothing_length : int
        Boxcar length along dispersion applied to the data before fitting (0 = none).
        The variance propagation ignores it, as the reference does.

    Returns
    -------
    BackgroundFit
    """
    if bkg_fit == "mean":
        bkg_fit, bkg_order = "poly", 0
    if bkg_fit not in ("poly", "median") or int(bkg_order) != bkg_order or bkg_order < 0:
        raise ValueError(f"bad background fit {bkg_fit!r} order {bkg_order!r}")
    nints, ny, nx = sci.shape
    order = 0 if bkg_fit == "median" else int(bkg_order)
    basis = poly_basis(ny, order)
    p_src = np.zeros((ny, nx)) if src_profile is None else np.asarray(src_profile, np.float64)
    rows = np.flatnonzero(np.asarray(bkg_profile).any(axis=1))
    variances = (var_poisson, var_rnoise, var_flat)
    if rows.size == 0:
        z = np.zeros((nints, nx))
        return BackgroundFit(np.zeros((nints, order + 1, nx)), basis, z, z.copy(), z.copy())
    mask0 = np.asarray(bkg_profile)[rows] != 0
    if bkg_fit == "poly" and smoothing_length <= 1:
        return _fit_poly_fast(sci, variances, rows, mask0, basis, p_src)
    return _fit_general(sci, variances, rows, mask0, basis, p_src, bkg_fit, smoothing_length)


def refit_pairs(sci, variances, rows, mask0, basis, m_k, ii, xx, data=None, good=None):
    """Exact solutions for the (integration, column) pairs ``(ii, xx)``.

    Usable pixels: background profile, finite data (``data`` if given, e.g. smoothed)
    and finite SCI and variances.  Returns coefficients (m, K) and varB per component.
    """
    if good is None:
        d = sci[ii[:, None], rows[None, :], xx[:, None]].astype(np.float64)  # (m, nyb)
        ok = np.isfinite(d)
        for v in variances:
            if v is not None:
                ok &= np.isfinite(v[ii[:, None], rows[None, :], xx[:, None]])
    else:
        d = data[ii, :, xx].astype(np.float64)
        ok = good[ii, :, xx]
    masks = mask0.T[xx] & ok
    g_m = _pinv_rows(basis[rows], masks)
    coeffs = np.einsum("mky,my->mk", g_m, np.where(masks, d, 0.0))
    w_m = np.einsum("mk,mky->my", m_k[xx], g_m) ** 2
    out = []
    for v in variances:
        if v is None:
            out.append(np.zeros(ii.size))
            continue
        vv = v[ii[:, None], rows[None, :], xx[:, None]].astype(np.float64)
        out.append((np.where(masks, vv, 0.0) * w_m).sum(axis=1))
    return coeffs, out


def _runs(rows: np.ndarray) -> list[tuple[slice, slice]]:
    """Contiguous runs of sorted row indices: (slice in the image, slice in ``rows``)."""
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    starts = np.r_[0, breaks]
    stops = np.r_[breaks, rows.size]
    return [
        (slice(int(rows[a]), int(rows[b - 1]) + 1), slice(int(a), int(b)))
        for a, b in zip(starts, stops, strict=True)
    ]


def _zero_nan(cube: np.ndarray, used: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """``cube`` with NaN set to 0; counts the NaN on ``used`` pixels into ``missing``."""
    nan = np.isnan(cube)
    if not nan.any():
        return cube
    missing += np.einsum("iyx,yx->ix", nan.astype(np.float32), used)
    return np.where(nan, np.float32(0), cube)


def background_operator(basis: np.ndarray, mask0: np.ndarray) -> np.ndarray:
    """The least-squares operator of each column's background pixels.

    Parameters
    ----------
    basis : ndarray (nyb, K)
        The polynomial basis on the background rows.
    mask0 : ndarray of bool (nyb, nx)
        Each column's background pixels on those rows.

    Returns
    -------
    ndarray (K, nyb, nx)
        ``G`` such that the coefficients of a column are ``c_k = sum_y G[k, y] d[y]``
        (0 for a column whose system is singular).
    """
    patterns, inverse = np.unique(mask0.T, axis=0, return_inverse=True)
    g_pat = _pinv_rows(basis, patterns)  # (npat, K, nyb)
    return np.moveaxis(g_pat[inverse.reshape(-1)], 0, -1)


def _fit_poly_fast(sci, variances, rows, mask0, basis, p_src) -> BackgroundFit:
    """Polynomial fit as per-column weighted row sums, one pass per array and run of rows.

    The least-squares operator of each column's mask pattern is expanded to per-pixel
    weights ``G[k, y, x]``; the coefficients are ``sum_y G[k] * SCI`` and the background
    variances ``sum_y W**2 * VAR`` with ``W = sum_k M_k G[k]``, ``M_k = sum_y P y'^k``.
    Missing pixels are not searched for up front: a NaN makes that (integration, column)
    result NaN, and only those pairs are re-solved exactly.  Coefficients accumulate in
    float64, variances in float32 (positive terms, <= ny of them: ~1e-7 relative).
    """
    nints, _, nx = sci.shape
    k = basis.shape[1]
    g_col = background_operator(basis[rows], mask0)  # (K, nyb, nx)
    m_k = p_src.T @ basis  # (nx, K)
    w2 = (np.einsum("xk,kyx->yx", m_k, g_col) ** 2).astype(np.float32)
    coeffs = np.zeros((nints, k, nx))
    out = [np.zeros((nints, nx)) for _ in variances]
    # (integration, column) pairs with a missing background pixel: re-solved below.
    # A NaN elsewhere in the column has weight 0 and is zeroed instead (when the region
    # spans most rows, as for NIS_SOSS, nearly every column has a bad pixel somewhere).
    missing = np.zeros((nints, nx), np.float32)
    for img_rows, sub in _runs(rows):
        used = mask0[sub].astype(np.float32)
        block = _zero_nan(sci[:, img_rows], used, missing)
        for kk in range(k):
            # float64 operator: the coefficients (which enter the flux) accumulate in
            # float64; the variances below in float32.
            coeffs[:, kk] += np.einsum("iyx,yx->ix", block, g_col[kk, sub])
        for o, v in zip(out, variances, strict=True):
            if v is not None:
                o += np.einsum("iyx,yx->ix", _zero_nan(v[:, img_rows], used, missing), w2[sub])
    flag = missing > 0
    ii, xx = np.nonzero(flag)
    if ii.size:
        c, vs = refit_pairs(sci, variances, rows, mask0, basis, m_k, ii, xx)
        coeffs[ii, :, xx] = c
        for o, v in zip(out, vs, strict=True):
            o[ii, xx] = v
    return BackgroundFit(coeffs, basis, *out)


def _fit_general(sci, variances, rows, mask0, basis, p_src, bkg_fit, smoothing_length):
    """Median fits and smoothed data: explicit masks over the background rows."""
    nints, _, nx = sci.shape
    raw = sci[:, rows]
    vrows = [None if v is None else v[:, rows] for v in variances]
    good = np.isfinite(raw)
    present = [v for v in vrows if v is not None]
    if present:
        good &= np.isfinite(sum(present[1:], present[0]))
    data = raw
    if smoothing_length > 1:
        data = boxcar_smooth(raw, smoothing_length)
        good &= np.isfinite(data)

    if bkg_fit == "median":
        # The reference's nanmedian sees the (smoothed) image only, not the variances.
        vals = np.where(np.isfinite(data) & mask0[None], data, np.nan)
        med = bn.nanmedian(vals, axis=1).astype(np.float64)
        # Reference: 1.2**2 * (sum_y P)**2 * sum VAR*(m/sum m)**2, m = finite data & var.
        wgt = (good & mask0[None]).astype(np.float32)
        with np.errstate(invalid="ignore", divide="ignore"):
            pixw2 = np.nan_to_num(wgt / wgt.sum(axis=1, keepdims=True)) ** 2
        scale = MEDIAN_ERROR_FACTOR**2 * p_src.sum(axis=0)[None, :] ** 2
        out = [
            np.zeros((nints, nx)) if v is None else scale * bn.nansum(v * pixw2, axis=1)
            for v in vrows
        ]
        return BackgroundFit(med[:, None, :], basis, *out)

    used = good & mask0[None]
    # Static pattern per column: profile pixels usable in at least one integration, so
    # that only integrations with a sporadic missing pixel need their own solution.
    base = mask0 & used.any(axis=0)
    patterns, inverse = np.unique(base.T, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    g_pat = _pinv_rows(basis[rows], patterns)  # (npat, K, nyb)
    d0 = np.where(used, data, 0.0)
    coeffs = np.empty((nints, basis.shape[1], nx))
    m_k = p_src.T @ basis  # (nx, K)
    w_pix = np.zeros((rows.size, nx))
    for ip in range(patterns.shape[0]):
        cols = np.flatnonzero(inverse == ip)
        coeffs[:, :, cols] = np.matmul(g_pat[ip], d0[:, :, cols])
        w_pix[:, cols] = (m_k[cols] @ g_pat[ip]).T
    w2 = w_pix**2
    out = [
        np.zeros((nints, nx)) if v is None else bn.nansum(v * w2, axis=1).astype(np.float64)
        for v in vrows
    ]
    ii, xx = np.nonzero((base[None] & ~used).any(axis=1))
    if ii.size:
        c, vs = refit_pairs(sci, variances, rows, mask0, basis, m_k, ii, xx, data=data, good=good)
        coeffs[ii, :, xx] = c
        for o, v in zip(out, vs, strict=True):
            o[ii, xx] = v
    return BackgroundFit(coeffs, basis, *out)
