"""Aperture photometry of imaging TSO cubes, vectorised over integrations.

The reference (jwst ``tso_photometry``) calls photutils once per integration.  Here the
exact-overlap weights of the circular apertures and of the background annulus are
computed once (once per distinct position for a moving aperture) on a small box around
the source, and every integration of a block is measured with one matrix product of the
flattened box cutouts against the weight matrix.

Two behaviours share this code (``mode``):

``"jwst"``
    Invalid (flagged or NaN) pixels are dropped from the sums without renormalisation, as
    the reference does; the flux of an integration with a hole is biased low.
``"default"``
    Invalid pixels inside the largest aperture are first *repaired* (see
    :func:`repair_cutouts`) and their number is reported per integration
    (``n_repaired``).  The annulus is never repaired: the background is a mean, and the
    valid-pixel area already normalises it.

Column names follow the reference; each radius after the first adds
``net_aperture_sum_r{r:g}`` and ``net_aperture_sum_err_r{r:g}`` (e.g. ``_r4.5``), the
net (background-subtracted) flux and its error in that aperture.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from astropy.stats import sigma_clip
from photutils.geometry import circular_overlap_grid

from . import MODES
from .centroid import extract_boxes
from .phot_repair import repair_cutouts

log = logging.getLogger(__name__)

BACKGROUND_METHODS = ("mean", "sigma_clip")


def calibration_factor(
    bunit: str,
    pixar_sr: float | None,
    gain: float | np.ndarray | None,
    effinttm: float | None,
) -> tuple[float | np.ndarray, str]:
    """Multiplier that converts SCI and ERR to the reference's photometry unit.

    Parameters
    ----------
    bunit : str
        BUNIT of SCI (and ERR).
    pixar_sr : float or None
        PIXAR_SR (pixel solid angle, sr); needed for ``MJy/sr``.
    gain : float, ndarray (ny, nx) or None
        Gain (electron/DN), a number or the subarray-matched GAIN image; needed for
        ``DN/s``.
    effinttm : float or None
        EFFINTTM (effective integration time, s); needed for ``DN/s``.

    Returns
    -------
    factor : float or ndarray
        ``1e6 * PIXAR_SR`` for ``MJy/sr`` (unit ``Jy``), ``EFFINTTM * gain`` for ``DN/s``
        (unit ``electron``; an array if the gain is one), else ``1.0``.
    unit : str
        Unit of the converted data.  Any other BUNIT is kept, with a warning logged, as
        the reference does.

    Raises
    ------
    ValueError
        When a keyword the conversion needs is missing or not a positive number.
    """
    unit = (bunit or "").strip()
    if unit == "MJy/sr":
        if pixar_sr is None or not np.isfinite(pixar_sr) or pixar_sr <= 0:
            raise ValueError(f"BUNIT is MJy/sr but PIXAR_SR is {pixar_sr!r}")
        return 1e6 * float(pixar_sr), "Jy"
    if unit == "DN/s":
        if effinttm is None or not np.isfinite(effinttm) or effinttm <= 0:
            raise ValueError(f"BUNIT is DN/s but EFFINTTM is {effinttm!r}")
        if gain is None:
            raise ValueError("BUNIT is DN/s but no gain was given")
        if np.ndim(gain) == 0:
            return float(effinttm) * float(gain), "electron"
        return (float(effinttm) * np.asarray(gain, dtype=np.float32)).astype(np.float32), "electron"
    log.warning("BUNIT %r is neither MJy/sr nor DN/s: photometry is left in %r", unit, unit)
    return 1.0, unit


def apertures_text(
    radius: float, radius_inner: float, radius_outer: float, *, whole_frame: bool = False
) -> str:
    """The ``apertures`` meta text of the reference, word for word."""
    if whole_frame:
        return (
            "Photometry measured as the sum of all values in the subarray.  "
            "No background subtraction was performed."
        )
    return (
        f"Photometry measured in a circular aperture of r={radius} pixels.  "
        "Background calculated as the mean in a circular annulus with "
        f"r_inner={radius_inner} pixels and r_outer={radius_outer} pixels."
    )


def radius_suffix(r: float) -> str:
    """Column-name suffix of an extra aperture radius: ``_r{r:g}``."""
    return f"_r{float(r):g}"


def _overlap(x: float, y: float, x0: int, y0: int, size: int, r: float) -> np.ndarray:
    """Exact overlap of a circle (centre x, y, radius r) with a size x size pixel grid."""
    if r <= 0:
        return np.zeros((size, size))
    # Grid extent relative to the circle centre (pixel i spans i-0.5 .. i+0.5).
    xmin = x0 - 0.5 - x
    ymin = y0 - 0.5 - y
    return circular_overlap_grid(xmin, xmin + size, ymin, ymin + size, size, size, r, 1, 1)


def aperture_weights(
    x: np.ndarray, y: np.ndarray, radii: Sequence[float], radius_inner: float, radius_outer: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact-overlap weights of the apertures and the annulus on a box per position.

    Parameters
    ----------
    x, y : ndarray, shape (m,)
        Centres (0-based).  Must be finite.
    radii : sequence of float
        Aperture radii.
    radius_inner, radius_outer : float
        Annulus radii.

    Returns
    -------
    weights : ndarray, shape (m, len(radii) + 1, size, size)
        Aperture weights, then the annulus (outer minus inner disc, as photutils).
    x_start, y_start : ndarray of int, shape (m,)
        Frame index of each box's first column and row.
    """
    rmax = max(max(radii), radius_outer)
    size = 2 * int(np.ceil(rmax)) + 3
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    xs = np.floor(x).astype(np.int64) - size // 2
    ys = np.floor(y).astype(np.int64) - size // 2
    weights = np.empty((x.size, len(radii) + 1, size, size))
    # One Cython call per (position, radius); only moving apertures have many positions.
    for i in range(x.size):
        for k, r in enumerate(radii):
            weights[i, k] = _overlap(x[i], y[i], xs[i], ys[i], size, r)
        weights[i, -1] = _overlap(x[i], y[i], xs[i], ys[i], size, radius_outer) - _overlap(
            x[i], y[i], xs[i], ys[i], size, radius_inner
        )
    return weights, xs, ys


def _gather(cube: np.ndarray, xs: np.ndarray, ys: np.ndarray, size: int, fill) -> np.ndarray:
    """Boxes cube[i, ys[i]:ys[i]+size, xs[i]:xs[i]+size], ``fill`` outside the frame."""
    n = cube.shape[0]
    return extract_boxes(cube, np.zeros(n), np.zeros(n), size, fill=fill, start=(xs, ys))[0]


def _clipped_annulus(
    dflat: np.ndarray, e2flat: np.ndarray, good: np.ndarray, wann: np.ndarray, wpow: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Annulus sum, variance and valid area after a 3-sigma, 5-iteration clip per row.

    ``dflat``/``e2flat`` (n, p) hold 0 at invalid pixels, ``good`` (n, p) marks valid
    ones and ``wann`` (1 or n, p) the exact annulus weights.
    """
    ring = (wann > 0).any(axis=0)
    vals = np.ma.masked_array(dflat[:, ring], mask=~good[:, ring])
    clipped = sigma_clip(vals, sigma=3.0, maxiters=5, axis=1, masked=True)
    keep = np.zeros_like(good)
    keep[:, ring] = ~np.ma.getmaskarray(clipped)
    k = keep.astype(np.float64)
    return (
        np.sum(k * dflat * wann, axis=1),
        np.sum(k * e2flat * wann**wpow, axis=1),
        np.sum(k * wann, axis=1),
    )


def aperture_photometry(
    sci: np.ndarray,
    err: np.ndarray,
    valid: np.ndarray | None,
    x: float | np.ndarray,
    y: float | np.ndarray,
    radius: float | Sequence[float],
    radius_inner: float,
    radius_outer: float,
    *,
    model: np.ndarray | None = None,
    background_method: str = "mean",
    mode: str = "default",
) -> dict[str, np.ndarray]:
    """Circular-aperture photometry with an annulus background, every integration.

    Parameters
    ----------
    sci, err : ndarray, shape (nints, ny, nx)
        Data and 1-sigma errors, already in the output unit (see
        :func:`calibration_factor`).  The arrays may be a cutout of the frame if ``x, y``
        are given in cutout coordinates.
    valid : ndarray of bool or None
        False where a pixel must not be used (e.g. ``DQ & DO_NOT_USE``); NaN in SCI or
        ERR is invalid too.
    x, y : float or ndarray, shape (nints,)
        Aperture centre (0-based); arrays give a moving aperture.  A non-finite centre
        gives NaN in that integration.
    radius : float or sequence of float
        Aperture radius, or radii (jwst's ``radius``, which tso3 extends to a list); the
        first gives the standard columns.
    radius_inner, radius_outer : float
        Annulus radii.
    model : ndarray, shape like ``sci``, optional
        Model cube to repair invalid aperture pixels from (``mode="default"``).
    background_method : {"mean", "sigma_clip"}
        Mean of the valid annulus pixels, or the same after a 3-sigma, 5-iteration
        clip per integration.
    mode : {"default", "jwst"}
        Repair invalid aperture pixels (default) or drop them (jwst).

    Returns
    -------
    dict of str to ndarray, each shape (nints,)
        The reference's photometry columns (``aperture_sum`` ... ``net_aperture_sum_err``),
        ``aperture_x``/``aperture_y``, one ``net_aperture_sum_r{r:g}`` and
        ``net_aperture_sum_err_r{r:g}`` per extra radius, and ``n_repaired`` in default
        mode.  Areas are exact-overlap areas of the valid (or repaired) pixels, so the
        background scales with the area really summed.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if background_method not in BACKGROUND_METHODS:
        raise ValueError(f"background_method must be one of {BACKGROUND_METHODS}")
    radii = [float(r) for r in np.atleast_1d(radius)]
    if not radii or min(radii) <= 0 or not 0 <= radius_inner < radius_outer:
        raise ValueError("radius must be positive and 0 <= radius_inner < radius_outer")
    n = sci.shape[0]
    x = np.broadcast_to(np.asarray(x, dtype=float), (n,))
    y = np.broadcast_to(np.asarray(y, dtype=float), (n,))
    finite = np.isfinite(x) & np.isfinite(y)

    # Weights once per distinct position: a fixed aperture costs one evaluation.
    pos = np.stack([np.where(finite, x, 0.0), np.where(finite, y, 0.0)], axis=1)
    if np.all(pos == pos[0]):
        upos, inverse = pos[:1], np.zeros(n, dtype=np.int64)
    else:
        upos, inverse = np.unique(pos, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
    wts, uxs, uys = aperture_weights(upos[:, 0], upos[:, 1], radii, radius_inner, radius_outer)
    size = wts.shape[-1]
    fixed = upos.shape[0] == 1
    xs, ys = uxs[inverse], uys[inverse]
    w_all = wts if fixed else wts[inverse]  # (1 or n, k+1, size, size)

    d = _gather(sci, xs, ys, size, np.nan).astype(np.float64)
    e = _gather(err, xs, ys, size, np.nan).astype(np.float64)
    bad = ~(np.isfinite(d) & np.isfinite(e))
    if valid is not None:
        bad |= ~_gather(valid, xs, ys, size, False)
    out: dict[str, np.ndarray] = {}
    if mode == "default":
        m = None if model is None else _gather(model, xs, ys, size, np.nan).astype(np.float64)
        wmax = w_all[:, : len(radii)].max(axis=1)  # union of the apertures
        d, e, nrep = repair_cutouts(d, e, bad, wmax if not fixed else wmax[0], m)
        out["n_repaired"] = np.where(finite, nrep, 0).astype(np.int32)
    else:
        d[bad] = np.nan
    good = np.isfinite(d) & np.isfinite(e)
    dflat = np.where(good, d, 0.0).reshape(n, -1)
    e2flat = np.where(good, e * e, 0.0).reshape(n, -1)
    gflat = good.reshape(n, -1).astype(np.float64)
    # photutils (the reference) sums w * err^2; the flux of a partial pixel is w * value,
    # whose variance is w^2 * err^2, so default mode propagates that.
    wpow = 1 if mode == "jwst" else 2
    wflat = w_all.reshape(w_all.shape[0], len(radii) + 1, -1)
    if fixed:
        # Apertures and annulus as the columns of one (p, k+1) matrix: three BLAS
        # products measure the whole block.
        wmat = wflat[0].T
        sums, var, area = dflat @ wmat, e2flat @ wmat**wpow, gflat @ wmat
    else:
        sums = np.einsum("np,nkp->nk", dflat, wflat)
        var = np.einsum("np,nkp->nk", e2flat, wflat**wpow)
        area = np.einsum("np,nkp->nk", gflat, wflat)
    ap_sum, ap_var, ap_area = sums[:, :-1], var[:, :-1], area[:, :-1]
    if background_method == "sigma_clip":
        ann_sum, ann_var, ann_area = _clipped_annulus(
            dflat, e2flat, good.reshape(n, -1), wflat[:, -1], wpow
        )
    else:
        ann_sum, ann_var, ann_area = sums[:, -1], var[:, -1], area[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        ann_mean = ann_sum / ann_area
        ann_mean_err = np.sqrt(ann_var) / ann_area
    bkg = ann_mean[:, None] * ap_area
    bkg_err = ann_mean_err[:, None] * ap_area
    net = ap_sum - bkg
    net_err = np.sqrt(ap_var + bkg_err**2)
    cols = {
        "aperture_sum": ap_sum[:, 0],
        "aperture_sum_err": np.sqrt(ap_var[:, 0]),
        "annulus_sum": ann_sum,
        "annulus_sum_err": np.sqrt(ann_var),
        "annulus_mean": ann_mean,
        "annulus_mean_err": ann_mean_err,
        "aperture_bkg": bkg[:, 0],
        "aperture_bkg_err": bkg_err[:, 0],
        "net_aperture_sum": net[:, 0],
        "net_aperture_sum_err": net_err[:, 0],
    }
    for name in cols:
        cols[name] = np.where(finite, cols[name], np.nan)
    cols["aperture_x"] = np.array(x, dtype=float)
    cols["aperture_y"] = np.array(y, dtype=float)
    for k, r in enumerate(radii[1:], start=1):
        cols[f"net_aperture_sum{radius_suffix(r)}"] = np.where(finite, net[:, k], np.nan)
        cols[f"net_aperture_sum_err{radius_suffix(r)}"] = np.where(finite, net_err[:, k], np.nan)
    cols.update(out)
    return cols


def whole_frame_photometry(
    sci: np.ndarray,
    err: np.ndarray,
    valid: np.ndarray | None,
    *,
    model: np.ndarray | None = None,
    mode: str = "default",
) -> dict[str, np.ndarray]:
    """Sum of the whole frame (reference behaviour for SUB64P with the WLP8 pupil).

    Parameters
    ----------
    sci, err : ndarray, shape (nints, ny, nx)
        Data and errors in the output unit.
    valid : ndarray of bool or None
        False where a pixel must not be used.
    model : ndarray, optional
        Model cube to repair invalid pixels from (default mode).
    mode : {"default", "jwst"}
        Repair invalid pixels (default) or drop them (jwst, a plain nansum).

    Returns
    -------
    dict of str to ndarray, each shape (nints,)
        ``aperture_sum(_err)``; the six annulus/background columns NaN;
        ``net_aperture_sum(_err)`` equal to the sums; ``n_repaired`` in default mode.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    n = sci.shape[0]
    bad = ~(np.isfinite(sci) & np.isfinite(err))
    if valid is not None:
        bad |= ~np.asarray(valid, dtype=bool)
    out: dict[str, np.ndarray] = {}
    if mode == "default":
        m = None if model is None else np.asarray(model, dtype=np.float64)
        sci, err, out["n_repaired"] = repair_cutouts(
            sci.astype(np.float64), err.astype(np.float64), bad, np.ones(sci.shape[1:]), m
        )
        bad = ~(np.isfinite(sci) & np.isfinite(err))
    total = np.where(bad, 0.0, sci).sum(axis=(1, 2), dtype=np.float64)
    total_err = np.sqrt(np.where(bad, 0.0, np.square(err, dtype=np.float64)).sum(axis=(1, 2)))
    nan = np.full(n, np.nan)
    cols = {
        "aperture_sum": total,
        "aperture_sum_err": total_err,
        "annulus_sum": nan,
        "annulus_sum_err": nan.copy(),
        "annulus_mean": nan.copy(),
        "annulus_mean_err": nan.copy(),
        "aperture_bkg": nan.copy(),
        "aperture_bkg_err": nan.copy(),
        "net_aperture_sum": total.copy(),
        "net_aperture_sum_err": total_err.copy(),
    }
    cols.update(out)
    return cols


def is_whole_frame(subarray: str | None, pupil: str | None) -> bool:
    """True for the reference's whole-frame case: SUBARRAY SUB64P with PUPIL WLP8."""
    return (subarray or "").upper() == "SUB64P" and (pupil or "").upper() == "WLP8"
