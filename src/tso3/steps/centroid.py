"""Source centroids and Gaussian PSF widths of an imaging TSO cube, per integration.

Every function here works on a whole block of integrations at once (axis order
``[integration, y, x]``): cutouts are taken as one strided block (or one fancy-indexed
gather when the box moves), and the per-integration statistics are array reductions, so
there is no Python loop over integrations.

Conventions follow jwst's ``tso_photometry``: positions are 0-based pixel coordinates
(pixel centres on integers), a ``B x B`` box around ``p`` starts at ``ceil(p - B/2)`` (as
``astropy.nddata.overlap_slices`` places it), and the background is the median of the
frame's valid pixels beyond a radius from the box centre.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf

#: FWHM of a Gaussian in units of its sigma.
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


def rowwise_nanmedian(
    values: np.ndarray,
    *,
    exclude: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    chunk: int = 256,
) -> np.ndarray:
    """Median of the finite, unmasked values of each row of a 2-D array.

    ``np.partition`` at one rank (plus a max for even counts) is several times faster
    than ``bottleneck.nanmedian`` on rows holding NaNs.  Rows are grouped by their number
    of valid values so the median ranks are exact for every row, and processed in chunks
    of ``chunk`` rows so the temporaries stay in cache.

    Parameters
    ----------
    values : ndarray, shape (n, m)
        NaN marks a missing value.
    exclude : ndarray of bool, shape (m,), optional
        Columns to leave out of every row.
    mask : ndarray of bool, shape (n, m), optional
        Values to leave out.
    chunk : int
        Rows per chunk.

    Returns
    -------
    ndarray, shape (n,), float64
        NaN for rows with no valid value.
    """
    n = values.shape[0]
    out = np.full(n, np.nan)
    for c0 in range(0, n, chunk):
        c1 = min(c0 + chunk, n)
        filled = np.array(values[c0:c1], dtype=np.result_type(values.dtype, np.float32))
        bad = ~np.isfinite(filled)
        if exclude is not None:
            bad |= exclude
        if mask is not None:
            bad |= mask[c0:c1]
        # +inf sorts after every valid value, so ranks 0..nvalid-1 hold the valid ones.
        filled[bad] = np.inf
        nvalid = filled.shape[1] - bad.sum(axis=1)
        for k in np.unique(nvalid):
            if k == 0:
                continue
            rows = np.flatnonzero(nvalid == k)
            lo, hi = (k - 1) // 2, k // 2
            block = filled if rows.size == filled.shape[0] else filled[rows]
            # One kth: partitioning at two ranks costs ~3x more than at one plus a max.
            part = np.partition(block, hi, axis=1)
            upper = part[:, hi].astype(np.float64)
            lower = upper if lo == hi else part[:, :hi].max(axis=1)
            out[c0 + rows] = 0.5 * (lower + upper)
    return out


def frame_background(
    sci: np.ndarray,
    mask: np.ndarray | None,
    xc: float,
    yc: float,
    radius: float,
    *,
    box: int | None = None,
    valid: np.ndarray | None = None,
) -> np.ndarray:
    """Per-integration background: median of valid pixels at distance >= ``radius``.

    Parameters
    ----------
    sci : ndarray, shape (nints, ny, nx)
        Data.
    mask : ndarray of bool or None
        True where a pixel must not be used (same shape as ``sci``); NaNs are always
        ignored.
    xc, yc : float
        Centre of the excluded disc (0-based pixels).
    radius : float
        Radius of the excluded disc (jwst: ``radius_inner``).
    box : int or None
        ``None``: every pixel of the frame, as the reference (a full pass over the data
        per call).  An int: only the ``box x box`` square around (xc, yc) -- a local
        background that costs a fraction of the frame median on large subarrays.
    valid : ndarray of bool, optional
        False where a pixel must not be used: the complement of ``mask``, inverted only
        inside the boxes (no full-cube temporary).

    Returns
    -------
    ndarray, shape (nints,)
        NaN where no valid pixel remains.
    """
    n = sci.shape[0]
    if box is not None:
        region, xs, ys = extract_boxes(sci, xc, yc, box)
        bad = _bad_boxes(mask, valid, xc, yc, box)
        yy, xx = np.mgrid[0:box, 0:box]
        xx, yy = xx + xs[0], yy + ys[0]
    else:
        region = sci
        bad = mask if valid is None else ~valid if mask is None else mask | ~valid
        yy, xx = np.mgrid[0 : sci.shape[1], 0 : sci.shape[2]]
    inner = (xx - xc) ** 2 + (yy - yc) ** 2 < radius**2
    return rowwise_nanmedian(
        region.reshape(n, -1),
        exclude=inner.ravel(),
        mask=None if bad is None else bad.reshape(n, -1),
    )


def box_origin(pos: np.ndarray | float, width: int) -> np.ndarray:
    """First pixel index of a ``width``-wide box centred on ``pos`` (overlap_slices rule)."""
    return np.ceil(np.asarray(pos, dtype=float) - width / 2.0).astype(np.int64)


def extract_boxes(
    cube: np.ndarray,
    x: np.ndarray | float,
    y: np.ndarray | float,
    width: int,
    *,
    fill: float | bool = np.nan,
    start: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut a ``width x width`` box around (x, y) out of every integration.

    Parameters
    ----------
    cube : ndarray, shape (nints, ny, nx)
        Data.  Float data keep their dtype (float32 stays float32); bool masks stay bool.
    x, y : float or ndarray, shape (nints,)
        Box centres.  When every box is the same, one strided slice is copied; otherwise
        one fancy-indexed gather (no loop over integrations).
    width : int
        Box side in pixels.
    fill : float or bool
        Value of pixels outside the frame, and of whole boxes with a non-finite centre.
    start : (ndarray, ndarray), optional
        Explicit first column and row of each box (overrides the centring rule).

    Returns
    -------
    boxes : ndarray, shape (nints, width, width)
    x_start, y_start : ndarray of int, shape (nints,)
        Frame index of each box's first column and row.
    """
    n, ny, nx = cube.shape
    x = np.broadcast_to(np.asarray(x, dtype=float), (n,))
    y = np.broadcast_to(np.asarray(y, dtype=float), (n,))
    finite = np.isfinite(x) & np.isfinite(y)
    if start is None:
        xs = box_origin(np.where(finite, x, 0.0), width)
        ys = box_origin(np.where(finite, y, 0.0), width)
    else:
        xs = np.broadcast_to(np.asarray(start[0], dtype=np.int64), (n,))
        ys = np.broadcast_to(np.asarray(start[1], dtype=np.int64), (n,))
    dtype = cube.dtype if cube.dtype.kind in "fb" else np.float64
    if n and np.all(xs == xs[0]) and np.all(ys == ys[0]):
        # Fixed box: one slice of the frame, padded where it leaves the frame.
        boxes = np.full((n, width, width), fill, dtype=dtype)
        x0, y0 = int(xs[0]), int(ys[0])
        ix0, ix1 = max(x0, 0), min(x0 + width, nx)
        iy0, iy1 = max(y0, 0), min(y0 + width, ny)
        if ix0 < ix1 and iy0 < iy1:
            boxes[:, iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0] = cube[:, iy0:iy1, ix0:ix1]
    else:
        offs = np.arange(width)
        cols = xs[:, None] + offs
        rows = ys[:, None] + offs
        inside = ((cols >= 0) & (cols < nx))[:, None, :] & ((rows >= 0) & (rows < ny))[:, :, None]
        boxes = cube[
            np.arange(n)[:, None, None],
            np.clip(rows, 0, ny - 1)[:, :, None],
            np.clip(cols, 0, nx - 1)[:, None, :],
        ].astype(dtype, copy=False)
        boxes[~inside] = fill
    if not finite.all():
        boxes[~finite] = fill
    return boxes, xs, ys


def _bad_boxes(
    mask: np.ndarray | None,
    valid: np.ndarray | None,
    x: np.ndarray | float,
    y: np.ndarray | float,
    width: int,
) -> np.ndarray | None:
    """Boxes of unusable pixels from ``mask`` (True = bad) and/or ``valid`` (True = good)."""
    bad = None
    if mask is not None:
        bad = extract_boxes(mask, x, y, width, fill=True)[0]
    if valid is not None:
        invalid = ~extract_boxes(valid, x, y, width, fill=False)[0]
        bad = invalid if bad is None else bad | invalid
    return bad


def centroid_cube(
    sci: np.ndarray,
    mask: np.ndarray | None,
    x0: float,
    y0: float,
    box_width: int,
    *,
    bkg_radius: float,
    bkg: np.ndarray | None = None,
    bkg_box: int | None = None,
    valid: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Background-subtracted centre of mass in a box, for every integration.

    This is the reference's ``centroid_sources(..., centroid_com)`` step: the
    per-integration background (:func:`frame_background`) is subtracted, masked and
    NaN pixels count as zero, negative pixels are kept.

    Parameters
    ----------
    sci : ndarray, shape (nints, ny, nx)
        Data.
    mask : ndarray of bool or None
        True where a pixel must not be used.
    x0, y0 : float
        Box centre (0-based).
    box_width : int
        Box side (odd).
    bkg_radius : float
        Pixels at least this far from (x0, y0) give the background.
    bkg : ndarray, shape (nints,), optional
        Precomputed background (skips the frame median).
    bkg_box : int or None
        Background region (see :func:`frame_background`): None = whole frame.
    valid : ndarray of bool, optional
        Alternative to ``mask``: False where a pixel must not be used.

    Returns
    -------
    cx, cy : ndarray, shape (nints,)
        Centroids (0-based); NaN where the centre is outside the frame, the box holds no
        flux, or the result leaves the frame.
    """
    n, ny, nx = sci.shape
    if not (np.isfinite(x0) and np.isfinite(y0)) or not (0 <= x0 <= nx - 1 and 0 <= y0 <= ny - 1):
        # The reference raises (and returns NaN) when the start position is off the frame.
        return np.full(n, np.nan), np.full(n, np.nan)
    if bkg is None:
        bkg = frame_background(sci, mask, x0, y0, bkg_radius, box=bkg_box, valid=valid)
    box, xs, ys = extract_boxes(sci, x0, y0, box_width)
    box = box.astype(np.float64) - bkg[:, None, None]
    bad = ~np.isfinite(box)
    masked = _bad_boxes(mask, valid, x0, y0, box_width)
    if masked is not None:
        bad |= masked
    box[bad] = 0.0
    offs = np.arange(box_width, dtype=float)
    prof_x = box.sum(axis=1)
    prof_y = box.sum(axis=2)
    total = prof_x.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cx = prof_x @ offs / total + xs
        cy = prof_y @ offs / total + ys
    bad = (total == 0) | ~(cx >= 0) | ~(cx < nx) | ~(cy >= 0) | ~(cy < ny)
    cx[bad] = np.nan
    cy[bad] = np.nan
    return cx, cy


def _pixel_gauss(offsets: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-integrated unit Gaussian and its derivative with respect to sigma.

    ``offsets`` (n, B) are consecutive pixel centres minus the source centre; ``sigma``
    is (n, 1).  The B + 1 pixel edges are shared by neighbouring pixels, so erf and exp
    are evaluated once per edge.
    """
    edges = np.concatenate([offsets - 0.5, offsets[:, -1:] + 0.5], axis=1)
    cdf = 0.5 * erf(edges / (np.sqrt(2.0) * sigma))
    g = edges * np.exp(-0.5 * (edges / sigma) ** 2)
    prof = cdf[:, 1:] - cdf[:, :-1]
    dprof = -(g[:, 1:] - g[:, :-1]) / (np.sqrt(2.0 * np.pi) * sigma**2)
    return prof, dprof


def psf_widths(
    sci: np.ndarray,
    mask: np.ndarray | None,
    cx: np.ndarray,
    cy: np.ndarray,
    box_width: int,
    *,
    bkg: np.ndarray | None = None,
    max_iter: int = 40,
    valid: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit a pixel-integrated elliptical Gaussian (fixed centre) in every integration.

    The model is photutils' ``GaussianPRF`` with ``x_0, y_0`` fixed at the centroid and
    free ``flux, sigma_x, sigma_y``, fitted by unweighted least squares on the valid
    pixels of a ``box_width`` box around the centroid, as the reference does.  The fit is
    a Levenberg-Marquardt iteration run on all integrations at once; the Gaussian is
    separable, so the normal equations reduce to small matrix products.  Bounds as the
    reference: flux >= 0, 0 < FWHM <= box_width.

    Parameters
    ----------
    sci : ndarray, shape (nints, ny, nx)
        Data.
    mask : ndarray of bool or None
        True where a pixel must not be used.
    cx, cy : ndarray, shape (nints,)
        Fixed centres (0-based); NaN gives NaN results.
    box_width : int
        Fit box side.
    bkg : ndarray, shape (nints,), optional
        Background subtracted before the fit (the reference fits the
        background-subtracted image).
    max_iter : int
        Iteration limit.
    valid : ndarray of bool, optional
        Alternative to ``mask``: False where a pixel must not be used.

    Returns
    -------
    sigma_x, sigma_y, flux : ndarray, shape (nints,)
        1-sigma widths in pixels and total flux of the fitted Gaussian; NaN where the
        centre is NaN or the box has fewer than 4 valid pixels.
    """
    n = sci.shape[0]
    cx = np.broadcast_to(np.asarray(cx, dtype=float), (n,))
    cy = np.broadcast_to(np.asarray(cy, dtype=float), (n,))
    box, xs, ys = extract_boxes(sci, cx, cy, box_width)
    box = box.astype(np.float64)
    masked = _bad_boxes(mask, valid, cx, cy, box_width)
    if masked is not None:
        box[masked] = np.nan
    if bkg is not None:
        box = box - np.asarray(bkg, dtype=float)[:, None, None]
    w = np.isfinite(box).astype(float)
    data = np.where(w > 0, box, 0.0)
    offs = np.arange(box_width, dtype=float)
    dx = xs[:, None] + offs - cx[:, None]  # (n, B) pixel centre - source centre
    dy = ys[:, None] + offs - cy[:, None]

    smax = box_width / FWHM_PER_SIGMA
    start = np.array([np.nan, np.log(smax / 2), np.log(smax / 2)])  # reference: FWHM = B/2
    flux0 = np.maximum(data.sum(axis=(1, 2)), 0.0)
    ok = np.isfinite(cx) & np.isfinite(cy) & (w.sum(axis=(1, 2)) >= 4)
    rows = np.flatnonzero(ok)
    p = np.full((n, 3), np.nan)
    if rows.size > 64:
        # Warm start: fit an evenly spaced sample from the reference's start, then start
        # every integration from the sample's median widths (a few iterations instead of
        # tens; the optimum is the same).
        sample = rows[np.linspace(0, rows.size - 1, 64).astype(int)]
        p0 = np.column_stack([flux0[sample], np.broadcast_to(start[1:], (64, 2))])
        fit = _lm_gauss(data[sample], w[sample], dx[sample], dy[sample], p0, smax, max_iter)
        start[1:] = np.nanmedian(fit[:, 1:], axis=0)
    p0 = np.column_stack([flux0[rows], np.broadcast_to(start[1:], (rows.size, 2))])
    p[rows] = _lm_gauss(data[rows], w[rows], dx[rows], dy[rows], p0, smax, max_iter)
    return np.exp(p[:, 1]), np.exp(p[:, 2]), p[:, 0]


def psf_widths_photutils(
    sci: np.ndarray,
    valid: np.ndarray | None,
    cx: np.ndarray,
    cy: np.ndarray,
    box_width: int,
    *,
    bkg: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The reference's PSF fit (``--mode jwst``): photutils' fitter, integration by integration.

    Same model, box, start (FWHM = box/2, flux = sum of the valid box pixels) and bounds
    as :func:`psf_widths`, but fitted by ``photutils.psf.PSFPhotometry`` with its default
    fitter, as jwst 3.0 does.  That fitter (scipy's trust-region least squares) stops on
    an absolute gradient tolerance: on data in Jy (values ~1e-5) it stops before the
    optimum, so its widths depend on the data's units (0.5 % on a well-sampled PSF, tens
    of percent on an undersampled one).  :func:`psf_widths` converges in any unit; this
    function exists to give jwst's numbers.

    Parameters
    ----------
    sci : ndarray, shape (nints, ny, nx)
        Data.
    valid : ndarray of bool or None
        False where a pixel must not be used; NaN pixels are never used.
    cx, cy : ndarray, shape (nints,)
        Fixed centres (0-based); NaN gives NaN results.
    box_width : int
        Fit box side.
    bkg : ndarray, shape (nints,)
        Background subtracted from each image before the fit.

    Returns
    -------
    sigma_x, sigma_y, flux : ndarray, shape (nints,)
    """
    from astropy.table import QTable
    from photutils.psf import GaussianPRF, PSFPhotometry
    from photutils.utils import CutoutImage

    n = sci.shape[0]
    out = np.full((3, n), np.nan)
    shape = (box_width, box_width)
    for i in range(n):  # the reference's loop: jwst mode only
        if not (np.isfinite(cx[i]) and np.isfinite(cy[i])):
            continue
        image = np.asarray(sci[i], dtype=np.float64) - bkg[i]
        mask = np.isnan(image) if valid is None else ~valid[i] | np.isnan(image)
        cutout = CutoutImage(image, [cy[i], cx[i]], shape).data
        inside = ~CutoutImage(mask, [cy[i], cx[i]], shape).data
        flux = np.sum(cutout[inside])
        model = GaussianPRF(flux=flux, x_0=cx[i], y_0=cy[i], x_fwhm=box_width / 2,
                            y_fwhm=box_width / 2)  # fmt: skip
        model.x_0.fixed = model.y_0.fixed = True
        model.flux.fixed = model.x_fwhm.fixed = model.y_fwhm.fixed = False
        model.flux.min, model.flux.max = 0.0, np.inf
        model.x_fwhm.min, model.x_fwhm.max = 0.0, box_width
        model.y_fwhm.min, model.y_fwhm.max = 0.0, box_width
        init = QTable({"x": [cx[i]], "y": [cy[i]], "flux": [flux],
                       "x_fwhm": [box_width / 2], "y_fwhm": [box_width / 2]})  # fmt: skip
        try:  # its fit warnings are silenced by the run (tso3.parallel.quiet_workers)
            fit = PSFPhotometry(model, shape)(image, mask=mask, init_params=init)
        except ValueError:
            continue
        out[:, i] = fit["x_fwhm_fit"][0], fit["y_fwhm_fit"][0], fit["flux_fit"][0]
    return out[0] / FWHM_PER_SIGMA, out[1] / FWHM_PER_SIGMA, out[2]


def _lm_gauss(
    data: np.ndarray,
    w: np.ndarray,
    dx: np.ndarray,
    dy: np.ndarray,
    p0: np.ndarray,
    smax: float,
    max_iter: int,
    tol: float = 1e-5,
) -> np.ndarray:
    """Levenberg-Marquardt fit of F * gy(y) * gx(x), parameters (F, log sx, log sy).

    Widths are fitted as log(sigma): a Gauss-Newton step in sigma itself can jump through
    zero into the flat sigma -> 0 region (all flux in one pixel) and stick there.  The
    model is separable, so every sum over the box reduces to
    ``Q = w @ [ex*ex, ex*dex, dex*dex]`` and ``P = (w*data) @ [ex, dex]`` (one small
    batched matmul each) contracted with the y profiles.  A row stops when an accepted
    step changes the flux and both log-widths by less than ``tol`` (relative), far below
    the noise of any real integration.
    """
    m = data.shape[0]
    lmin, lmax = np.log(1e-3), np.log(smax)
    wd = w * data
    sdd = np.einsum("nyx,nyx->n", wd, data)
    p = p0.copy()
    lam = np.full(m, 1e-3)

    # Arrays of the still-active rows, re-cut only when some rows converge.
    act = {"w": w, "wd": wd, "dx": dx, "dy": dy, "sdd": sdd}

    def moments(par: np.ndarray):
        sx, sy = np.exp(par[:, 1:2]), np.exp(par[:, 2:3])
        ex, dex = _pixel_gauss(act["dx"], sx)
        ey, dey = _pixel_gauss(act["dy"], sy)
        dex, dey = dex * sx, dey * sy  # d/dlog(sigma) = sigma * d/dsigma
        xprod = np.stack([ex * ex, ex * dex, dex * dex], axis=-1)
        q = np.einsum("nyx,nxk->nyk", act["w"], xprod, optimize=True)
        pp = np.einsum("nyx,nxk->nyk", act["wd"], np.stack([ex, dex], axis=-1), optimize=True)
        f = par[:, 0]
        s_ey_p0 = np.sum(ey * pp[..., 0], axis=1)
        s_ey2_q0 = np.sum(ey * ey * q[..., 0], axis=1)
        cost = act["sdd"] - 2 * f * s_ey_p0 + f**2 * s_ey2_q0
        return ey, dey, q, pp, s_ey_p0, s_ey2_q0, cost

    active = np.arange(m)
    for _it in range(max_iter):
        if active.size == 0:
            break
        par = p[active]
        ey, dey, q, pp, s_ey_p0, s_ey2_q0, cost = moments(par)
        f = par[:, 0]
        ey2, eyd, dey2 = ey * ey, ey * dey, dey * dey
        jtj = np.empty((active.size, 3, 3))
        jtj[:, 0, 0] = s_ey2_q0
        jtj[:, 0, 1] = jtj[:, 1, 0] = f * np.sum(ey2 * q[..., 1], axis=1)
        jtj[:, 0, 2] = jtj[:, 2, 0] = f * np.sum(eyd * q[..., 0], axis=1)
        jtj[:, 1, 1] = f**2 * np.sum(ey2 * q[..., 2], axis=1)
        jtj[:, 1, 2] = jtj[:, 2, 1] = f**2 * np.sum(eyd * q[..., 1], axis=1)
        jtj[:, 2, 2] = f**2 * np.sum(dey2 * q[..., 0], axis=1)
        jtr = np.stack(
            [
                s_ey_p0 - f * s_ey2_q0,
                f * (np.sum(ey * pp[..., 1], axis=1) - f * np.sum(ey2 * q[..., 1], axis=1)),
                f * (np.sum(dey * pp[..., 0], axis=1) - f * np.sum(eyd * q[..., 0], axis=1)),
            ],
            axis=1,
        )
        diag = np.maximum(np.einsum("nii->ni", jtj), 1e-30)
        lhs = jtj + lam[active, None, None] * np.eye(3) * diag[:, :, None]
        step = np.linalg.solve(lhs, jtr[:, :, None])[:, :, 0]
        trial = par + step
        trial[:, 0] = np.maximum(trial[:, 0], 0.0)
        trial[:, 1:] = np.clip(
            np.clip(trial[:, 1:], par[:, 1:] - 1.0, par[:, 1:] + 1.0), lmin, lmax
        )
        new_cost = moments(trial)[-1]
        better = new_cost <= cost
        p[active[better]] = trial[better]
        lam[active] = np.where(better, lam[active] * 0.3, lam[active] * 10.0)
        change = np.abs(trial - par)
        change[:, 0] /= np.maximum(np.abs(par[:, 0]), 1e-12)
        done = (better & (change.max(axis=1) < tol)) | (lam[active] > 1e8)
        if done.any():
            keep = ~done
            active = active[keep]
            act = {key: val[keep] for key, val in act.items()}
    return p
