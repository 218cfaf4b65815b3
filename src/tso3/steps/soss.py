"""NIRISS SOSS (GR700XD): trace and wavelength models, trace refinement, order apertures.

Pure functions on arrays.  The trace model is the one STScI's PASTASOSS defines: a
reference trace of each order at the commanded pupil-wheel position, rotated about a
pivot point by ``PWCPOS - pwcpos_cmd``; the wavelength of a column is a 2-D polynomial
in the min-max-scaled column and pupil-wheel coordinate (docs/soss.md).  The model data
are read by :mod:`tso3.io.soss_models`.

Orientation: DMS, as calints are written (dispersion along x, columns 0..2047;
cross-dispersion y, row 0 at the bottom of the subarray).
"""

from __future__ import annotations

import bottleneck as bn
import numpy as np

from .aperture import Aperture, box_profile

__all__ = [
    "fit_trace_offset",
    "measure_trace_centres",
    "order_apertures",
    "polynomial_features",
    "rotated_trace",
    "wavelength_polynomial",
]


def rotated_trace(
    x: np.ndarray, y: np.ndarray, angle: float, pivot: tuple[float, float], nx: int
) -> np.ndarray:
    """Cross-dispersion position of a rotated reference trace at every column.

    Parameters
    ----------
    x, y : ndarray
        Reference trace (px) at the commanded position, x increasing.
    angle : float
        Rotation (degrees, counter-clockwise in the x-y plane), ``PWCPOS - pwcpos_cmd``.
    pivot : (float, float)
        Rotation centre (x, y) in px.
    nx : int
        Columns of the detector.

    Returns
    -------
    ndarray (nx,)
        The rotated trace's y at each column of the reference's x range, NaN elsewhere.
    """
    a = np.radians(angle)
    c, s = np.cos(a), np.sin(a)
    dx, dy = np.asarray(x, np.float64) - pivot[0], np.asarray(y, np.float64) - pivot[1]
    xr = c * dx - s * dy + pivot[0]
    yr = s * dx + c * dy + pivot[1]
    order = np.argsort(xr)
    xr, yr = xr[order], yr[order]
    cols = np.arange(nx, dtype=np.float64)
    out = np.interp(cols, xr, yr)
    # the columns of the reference trace keep a position: the rotation moves the ends by
    # a fraction of a pixel, covered by linear extrapolation of the end segments
    lo, hi = cols < xr[0], cols > xr[-1]
    out[lo] = yr[0] + (cols[lo] - xr[0]) * (yr[1] - yr[0]) / (xr[1] - xr[0])
    out[hi] = yr[-1] + (cols[hi] - xr[-1]) * (yr[-1] - yr[-2]) / (xr[-1] - xr[-2])
    inside = (cols >= np.min(x)) & (cols <= np.max(x))
    return np.where(inside, out, np.nan)


def polynomial_features(u: np.ndarray, v: np.ndarray, degree: int) -> np.ndarray:
    """Monomials of two variables up to ``degree`` (no constant), graded order.

    Degree 1: ``u, v``; degree 2: ``u^2, u v, v^2``; ... — within a degree, the power
    of ``u`` decreases.  This is the feature order of PASTASOSS's wavelength models.

    Returns
    -------
    ndarray (n_features, ...)
    """
    feats = [u**i * v ** (k - i) for k in range(1, degree + 1) for i in range(k, -1, -1)]
    return np.array(feats)


def wavelength_polynomial(
    x: np.ndarray,
    pupil: float,
    coefficients: np.ndarray,
    extents: np.ndarray,
    degree: int,
) -> np.ndarray:
    """Wavelength (um) of columns ``x`` from a PASTASOSS-style polynomial model.

    Parameters
    ----------
    x : ndarray
        Columns (px).
    pupil : float
        The model's second coordinate: the pupil-wheel offset from the commanded
        position, or the position itself, as the model was trained.
    coefficients : ndarray
        ``[intercept, c_1, ..., c_n]`` for :func:`polynomial_features` of ``degree``.
    extents : ndarray (2, 2)
        ``[[x_min, pupil_min], [x_max, pupil_max]]`` of the min-max scaling.
    degree : int
    """
    ext = np.asarray(extents, np.float64)
    xs = (np.asarray(x, np.float64) - ext[0, 0]) / (ext[1, 0] - ext[0, 0])
    ps = np.full_like(xs, (float(pupil) - ext[0, 1]) / (ext[1, 1] - ext[0, 1]))
    coef = np.asarray(coefficients, np.float64)
    return coef[0] + coef[1:] @ polynomial_features(xs, ps, degree)


def _column_background(image: np.ndarray, centres: list[np.ndarray], keep_out: float):
    """Per-column median of the pixels farther than ``keep_out`` from every trace."""
    rows = np.arange(image.shape[0], dtype=np.float64)[:, None]
    far = np.ones(image.shape, bool)
    for c in centres:
        far &= ~(np.abs(rows - c[None, :]) < keep_out)  # NaN centre: far from it
    return bn.nanmedian(np.where(far, image, np.nan), axis=0)


def measure_trace_centres(
    median_image: np.ndarray,
    predicted: np.ndarray,
    *,
    others: tuple[np.ndarray, ...] = (),
    half_width: float = 12.0,
    min_separation: float = 30.0,
    min_snr: float = 10.0,
    n_iter: int = 6,
) -> np.ndarray:
    """Centre of a SOSS order in every column, measured on a median image.

    In each column the background (median of the pixels away from every trace) is
    subtracted and the flux-weighted centroid is taken in a window of ``half_width``
    rows each side of the current estimate, with fractional edge weights, starting at
    the prediction; the window follows the centroid ``n_iter`` times.  The SOSS profile
    is double-horned but symmetric, so the centroid of a symmetric window converges on
    its centre.  Columns are not measured where another order is closer than
    ``min_separation`` (its wings would pull the centroid), where the window leaves the
    subarray, or where the window's signal is below ``min_snr`` times its noise.

    Parameters
    ----------
    median_image : ndarray (ny, nx)
    predicted : ndarray (nx,)
        Model centre (NaN where the order is not on the detector).
    others : tuple of ndarray (nx,)
        Centres of the other orders on the detector.

    Returns
    -------
    ndarray (nx,)
        Measured centre, NaN where not measured.
    """
    img = np.asarray(median_image, np.float64)
    ny, nx = img.shape
    pred = np.asarray(predicted, np.float64)
    img = img - _column_background(img, [pred, *others], 1.5 * half_width + 6.0)[None, :]
    ok = np.isfinite(pred) & (pred - half_width - 1 >= 0) & (pred + half_width + 1 <= ny - 1)
    for o in others:
        with np.errstate(invalid="ignore"):
            ok &= ~(np.abs(np.asarray(o) - pred) < min_separation)
    cols = np.flatnonzero(ok)
    if cols.size == 0:
        return np.full(nx, np.nan)
    sub = np.nan_to_num(img[:, cols])
    rows = np.arange(ny, dtype=np.float64)[:, None]
    centre = pred[cols].copy()
    for _ in range(n_iter):
        w = box_profile((ny, cols.size), centre - half_width, centre + half_width)
        tot = (w * sub).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            new = (w * sub * rows).sum(axis=0) / tot
        new = np.where(np.isfinite(new) & (np.abs(new - pred[cols]) < half_width), new, centre)
        new = np.clip(new, half_width + 1, ny - half_width - 2)
        if np.allclose(new, centre, atol=1e-3):
            centre = new
            break
        centre = new
    # Noise of the window sum from the spread of the background pixels.
    far = _column_background(np.abs(img), [pred, *others], 1.5 * half_width + 6.0)
    noise = 1.4826 * far[cols] * np.sqrt(2 * half_width + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        good = tot > min_snr * noise
    out = np.full(nx, np.nan)
    out[cols[good]] = centre[good]
    return out


def fit_trace_offset(
    measured: np.ndarray,
    predicted: np.ndarray,
    *,
    degree: int = 2,
    clip: float = 4.0,
    n_iter: int = 5,
    min_columns: int = 20,
) -> tuple[np.ndarray, float, np.ndarray]:
    """Refined trace: the model plus a fitted offset and a smooth correction.

    The residuals ``measured - predicted`` are fitted with a polynomial of ``degree``
    in x with iterative ``clip``-sigma rejection; the refined centre is the prediction
    plus that polynomial inside the measured column range and plus its end values
    beyond (no extrapolated polynomial).

    Returns
    -------
    centre : ndarray (nx,)
        Refined centre (NaN where ``predicted`` is NaN).
    offset : float
        Median residual over the used columns: the global shift of the model.
    used : ndarray of bool (nx,)
        Columns used in the final fit.

    Raises
    ------
    ValueError
        Fewer than ``min_columns`` measured columns.
    """
    resid = np.asarray(measured, np.float64) - np.asarray(predicted, np.float64)
    use = np.isfinite(resid)
    if use.sum() < min_columns:
        raise ValueError(f"trace not found: only {int(use.sum())} measured columns")
    x = np.arange(resid.size, dtype=np.float64)
    domain = [0.0, max(resid.size - 1.0, 1.0)]
    keep = use.copy()
    for _ in range(n_iter):
        poly = np.polynomial.Polynomial.fit(x[keep], resid[keep], degree, domain=domain)
        dev = np.abs(resid - poly(x))
        sig = 1.4826 * np.median(dev[keep]) + 1e-3
        new = use & (dev <= clip * sig)
        if new.sum() < min_columns or np.array_equal(new, keep):
            break
        keep = new
    poly = np.polynomial.Polynomial.fit(x[keep], resid[keep], degree, domain=domain)
    lo, hi = np.flatnonzero(keep)[[0, -1]]
    correction = poly(np.clip(x, lo, hi))
    return predicted + correction, float(np.median(resid[keep])), keep


def order_apertures(
    shape: tuple[int, int],
    centres: dict[int, np.ndarray],
    *,
    width: float,
    bkg_gap: float = 2.0,
    valid: np.ndarray | None = None,
) -> tuple[dict[int, Aperture], dict[int, np.ndarray]]:
    """Box apertures of every order, with the overlap split, and a shared background.

    Each order's box is ``width`` px centred on its trace (jwst's ``soss_width``
    convention, fractional weights at the edges).  Where two boxes cover the same
    pixel, the pixel goes to the order whose trace is nearer, so no pixel is counted
    twice; those columns are returned as *overlap* columns of both orders (the box there
    also holds the other order's wings: the spectra are contaminated, docs/soss.md).
    The background region, common to all orders, is every pixel farther than
    ``width/2 + bkg_gap`` from every trace.

    Parameters
    ----------
    shape : (ny, nx)
    centres : dict {order: ndarray (nx,)}
        Trace centre of each order, NaN where the order is not on the detector.
    valid : ndarray of bool (ny, nx), optional
        Pixels usable for the background (e.g. finite in the median image); dead pixels
        are left out up front, so the fit need not re-solve their columns.

    Returns
    -------
    apertures : dict {order: Aperture}
        Source profile, background profile, trace and limits per order (``origin``
        ``"soss"``); ``info["overlap"]`` holds the overlap columns.
    overlap : dict {order: ndarray of bool (nx,)}
    """
    ny, nx = shape
    rows = np.arange(ny, dtype=np.float64)[:, None]
    half = 0.5 * (width - 1.0)
    profiles, dist = {}, {}
    for order, c in centres.items():
        c = np.asarray(c, np.float64)
        on = np.isfinite(c)
        cc = np.where(on, c, -1e6)  # off-detector columns get an empty box
        profiles[order] = box_profile(shape, cc - half, cc + half)
        dist[order] = np.abs(rows - cc[None, :])
    overlap = {o: np.zeros(nx, bool) for o in centres}
    orders = list(centres)
    for i, a in enumerate(orders):
        for b in orders[i + 1 :]:
            shared = (profiles[a] > 0) & (profiles[b] > 0)
            cols = shared.any(axis=0)
            overlap[a] |= cols
            overlap[b] |= cols
            nearer_a = dist[a] <= dist[b]
            profiles[a][shared & ~nearer_a] = 0.0
            profiles[b][shared & nearer_a] = 0.0
    far = np.ones(shape, bool) if valid is None else np.asarray(valid, bool).copy()
    for d in dist.values():
        far &= d >= width / 2.0 + bkg_gap
    bkg = far.astype(np.float64) if far.any() else None
    apertures = {}
    for order, c in centres.items():
        c = np.asarray(c, np.float64)
        apertures[order] = Aperture(
            profile=profiles[order],
            bkg_profile=bkg,
            bkg_fit="poly",
            bkg_order=0,
            lower=float(np.nanmean(c) - half),
            upper=float(np.nanmean(c) + half),
            origin="soss",
            trace=np.where(np.isfinite(c), c, np.nan),
            background_ok=bkg is not None,
            info={"overlap": overlap[order]},
        )
    return apertures, overlap
