"""Repair of invalid aperture pixels for default-mode photometry.

An invalid (flagged or NaN) pixel inside the aperture biases the flux of its integration
low if it is simply dropped, as the reference does.  Default mode replaces it by a model
value first; see :func:`repair_cutouts`.
"""

from __future__ import annotations

import bottleneck as bn
import numpy as np
from scipy import ndimage


def _fill_from_neighbours(image: np.ndarray) -> np.ndarray:
    """Fill the NaNs of a 2-D image by interpolation from valid neighbours.

    Where a pixel has two valid neighbours on each side along a row or column, the
    4-point cubic (-f[-2] + 4 f[-1] + 4 f[+1] - f[+2]) / 6 is used (averaged over the
    axes that allow it): unlike a plain neighbour mean it does not flatten a PSF peak.
    Elsewhere the mean of the valid 3x3 neighbours is used, repeatedly until filled.
    """
    image = np.array(image, dtype=np.float64)
    bad = ~np.isfinite(image)
    if not bad.any() or bad.all():
        return image
    p = np.pad(image, 2, constant_values=np.nan)
    ny, nx = image.shape
    est = []
    # Rows then columns: the four neighbours at offsets -2, -1, +1, +2 along each axis.
    row = [p[2 + k : 2 + k + ny, 2 : 2 + nx] for k in (-2, -1, 1, 2)]
    col = [p[2 : 2 + ny, 2 + k : 2 + k + nx] for k in (-2, -1, 1, 2)]
    est = [(-a + 4 * b + 4 * c - d) / 6.0 for a, b, c, d in (row, col)]
    stack = np.stack(est)
    count = np.isfinite(stack).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cubic = np.where(np.isfinite(stack), stack, 0.0).sum(axis=0) / count
    use = bad & np.isfinite(cubic)
    image[use] = cubic[use]
    kernel = np.ones((3, 3))
    for _ in range(max(image.shape)):
        bad = ~np.isfinite(image)
        if not bad.any():
            break
        good = (~bad).astype(float)
        num = ndimage.convolve(np.where(bad, 0.0, image), kernel, mode="constant")
        den = ndimage.convolve(good, kernel, mode="constant")
        fill = bad & (den > 0)
        image[fill] = num[fill] / den[fill]
    return image


def _nanmedian0(cube: np.ndarray) -> np.ndarray:
    """Median over integrations ignoring NaN; all-NaN pixels give NaN without a warning."""
    return bn.nanmedian(cube, axis=0)


def repair_cutouts(
    sci: np.ndarray,
    err: np.ndarray,
    invalid: np.ndarray,
    weight: np.ndarray,
    model: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Replace invalid pixels where ``weight > 0`` by a model value; count them.

    The value comes from ``model`` (the outlier step's rolling-median cube, which follows
    the light curve) where it is finite.  Where it is not (a pixel bad in the whole
    window, e.g. a persistent bad pixel), the spatial estimate is the median image of the
    block (NaNs filled from their neighbours), scaled to this integration by the ratio of
    the weighted valid flux to the weighted median-image flux.  The error of a repaired
    pixel is the median ERR of that pixel over the block (neighbour-filled likewise).

    Parameters
    ----------
    sci, err : ndarray, shape (nints, h, w)
        Cutouts (modified copies are returned).
    invalid : ndarray of bool, shape (nints, h, w)
        Pixels to leave out unless repaired.
    weight : ndarray, shape (h, w) or (nints, h, w)
        Aperture weights; only pixels with weight > 0 are repaired.
    model : ndarray, shape (nints, h, w) or None
        Model cutouts.

    Returns
    -------
    sci, err : ndarray
        Repaired cutouts (invalid pixels that could not be repaired stay NaN).
    n_repaired : ndarray of int, shape (nints,)
    """
    weight = np.broadcast_to(weight, sci.shape)
    need = invalid & (weight > 0)
    sci = sci.copy()
    err = err.copy()
    sci[invalid] = np.nan
    err[invalid] = np.nan
    counts = np.zeros(sci.shape[0], dtype=np.int32)
    # Only integrations with a hole are touched (usually a small minority).
    rows = np.flatnonzero(need.any(axis=(1, 2)))
    if rows.size == 0:
        return sci, err, counts
    need_r = need[rows]
    d = sci[rows]
    fixed = np.zeros_like(need_r)
    if model is not None:
        m = model[rows]
        use = need_r & np.isfinite(m)
        d[use] = m[use]
        fixed |= use
    left = need_r & ~fixed
    if left.any():
        med = _fill_from_neighbours(_nanmedian0(sci))
        w = weight[rows]
        good = ~invalid[rows] & (w > 0) & np.isfinite(med)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.sum(np.where(good, d * w, 0.0), axis=(1, 2)) / np.sum(
                np.where(good, w * med, 0.0), axis=(1, 2)
            )
        est = scale[:, None, None] * med
        use = left & np.isfinite(est)
        d[use] = est[use]
        fixed |= use
    sci[rows] = d
    if fixed.any():
        # err is NaN at invalid pixels; the median over integrations is only needed at the
        # few repaired pixels (the whole-image median, neighbour-filled, only if one of
        # them has no valid error in any integration).
        pix = fixed.any(axis=0)
        med_err = np.full(err.shape[1:], np.nan)
        med_err[pix] = _nanmedian0(err[:, pix])
        if np.isnan(med_err[pix]).any():
            med_err = _fill_from_neighbours(_nanmedian0(err))
        e = err[rows]
        e[fixed] = np.broadcast_to(med_err, e.shape)[fixed]
        err[rows] = e
    counts[rows] = fixed.sum(axis=(1, 2))
    return sci, err, counts
