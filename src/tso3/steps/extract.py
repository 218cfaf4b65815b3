"""Box extraction of time-series spectra, with profile repair of missing pixels.

All arrays are in the DISPAXIS=1 orientation, ``[integration, y (cross-dispersion),
x (dispersion)]``; DISPAXIS=2 data are passed as ``np.swapaxes(cube, -1, -2)`` views.
Sums follow jwst's extract1d (``S = sum P'(SCI-B)``, ``NPIX = sum P'``,
``VAR_X = sum VAR_X P'^2 + varB_X``, ``BKG = sum P' B``; docs/extraction.md).
Only the rows the aperture touches are read, every pass is over all integrations of
the block at once, and (integration, column) pairs with a missing pixel are handled
sparsely afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import bottleneck as bn
import numpy as np

from tso3.steps.aperture import Aperture
from tso3.steps.background import BackgroundFit, fit_background
from tso3.steps.optimal import optimal_extract
from tso3.steps.trace import trace_timeseries

__all__ = [
    "REPAIR_MIN_PROFILE",
    "ExtractParams",
    "box_extract",
    "box_pairs",
    "repair_profile",
    "extract_block",
    "fit_aperture_background",
    "profile_model",
    "fill_nan_columns",
    "spatial_profile",
]

#: Repair a column only if its good pixels hold at least this fraction of the
#: aperture-weighted model profile; otherwise the amplitude is too poorly constrained
#: and the pixels are dropped as the reference does.
REPAIR_MIN_PROFILE = 0.5

_VARS = ("var_poisson", "var_rnoise", "var_flat")


def fill_nan_columns(image: np.ndarray, max_shift: int = 3) -> np.ndarray:
    """Fill NaN pixels of a 2-D image from the nearest finite pixel along x (<= max_shift)."""
    out = np.array(image, dtype=np.float64)
    for s in range(1, max_shift + 1):
        hole = ~np.isfinite(out)
        if not hole.any():
            break
        left = np.full_like(out, np.nan)
        right = np.full_like(out, np.nan)
        left[:, s:] = out[:, :-s]
        right[:, :-s] = out[:, s:]
        fill = bn.nanmean(np.stack([left, right]), axis=0)  # all-NaN: NaN, no warning
        out[hole] = fill[hole]
    return out


def spatial_profile(
    median_image: np.ndarray,
    profile: np.ndarray,
    *,
    background: np.ndarray | None = None,
) -> np.ndarray:
    """Normalised, positive spatial profile of the source from the median image.

    Parameters
    ----------
    median_image : ndarray (ny, nx)
        Median over integrations of the science block or segment.
    profile : ndarray (ny, nx)
        Aperture; the model is normalised to unit sum over its rows in each column
        and is 0 outside it.
    background : ndarray (ny, nx) or (nx,), optional
        Background of the median image, subtracted first.

    Returns
    -------
    ndarray (ny, nx), float64; columns with no positive signal are 0.
    """
    img = fill_nan_columns(median_image)
    if background is not None:
        img = img - background
    f = np.where((profile > 0) & np.isfinite(img), np.clip(img, 0.0, None), 0.0)
    tot = f.sum(axis=0, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tot > 0, f / tot, 0.0)


def _row_span(profile: np.ndarray) -> slice:
    rows = np.flatnonzero(profile.any(axis=1))
    if rows.size == 0:
        return slice(0, 0)
    return slice(int(rows[0]), int(rows[-1]) + 1)


def _wsum(cube: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """sum_y cube*weights per (integration, column), float64 result (NaN propagates).

    The accumulation happens in the wider of the two dtypes.
    """
    return np.einsum("iyx,yx->ix", cube, weights).astype(np.float64)


def box_extract(
    sci: np.ndarray,
    var_poisson: np.ndarray | None,
    var_rnoise: np.ndarray | None,
    var_flat: np.ndarray | None,
    profile: np.ndarray,
    *,
    background: BackgroundFit | None = None,
    model: np.ndarray | None = None,
    repair: str | None = "profile",
    model_shift: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Box-extract every integration of a block.

    Parameters
    ----------
    sci : ndarray (nints, ny, nx)
        Science data (float32 typically; views fine, NaN = missing pixel).
    var_poisson, var_rnoise, var_flat : ndarray (nints, ny, nx) or None
        Variance components (None = zeros).
    profile : ndarray (ny, nx)
        Aperture weights P.
    background : BackgroundFit, optional
        Fitted background (:func:`tso3.steps.background.fit_background`), subtracted.
    model : ndarray (ny, nx), optional
        Normalised spatial profile (:func:`spatial_profile`) for repair; default is
        built from the nanmedian of this block.
    repair : {"profile", None}
        ``"profile"``: a missing pixel inside the aperture is replaced by
        ``a * model`` where ``a`` is the column's amplitude fitted (weights P) to its
        good pixels, and its variance is propagated linearly through ``a``.
        ``None``: the reference's behaviour, the pixel is dropped (P' = 0, no
        renormalisation).
    model_shift : ndarray (nints,), optional
        Cross-dispersion offset (px) of each integration's trace from the one the model
        was made at; the repair then uses the model moved by that much (first order,
        ``f - shift * df/dy``), so a trace that drifts is repaired with its own profile.

    Returns
    -------
    dict of ndarray
        ``flux`` (S), ``var_poisson``, ``var_rnoise``, ``var_flat`` (including the
        background terms), ``background`` (BKG), ``bkg_var_poisson``,
        ``bkg_var_rnoise``, ``bkg_var_flat``, ``npixels``: (nints, nx) float64;
        ``n_repaired``: (nints,) int.  ``flux`` is NaN where NPIX is ~0.
    """
    nints, ny, nx = sci.shape
    prof = np.asarray(profile, dtype=np.float64)
    rs = _row_span(prof)
    p = prof[rs]
    variances = {"var_poisson": var_poisson, "var_rnoise": var_rnoise, "var_flat": var_flat}
    data = sci[:, rs]

    # Dense pass: one product-sum per array over the aperture rows, no temporaries.
    # NaN anywhere in a column's span makes that (integration, column) sum NaN; those
    # few pairs are redone exactly below.  The flux accumulates in float64 (float64
    # weights); the variances in float32 (positive terms, <= ny of them: ~1e-7).
    flux = _wsum(data, p)
    out: dict[str, np.ndarray] = {"flux": flux}
    p2 = (p * p).astype(np.float32)
    for name, v in variances.items():
        out[name] = np.zeros((nints, nx)) if v is None else _wsum(v[:, rs], p2)
    npix = np.broadcast_to(p.sum(axis=0), (nints, nx)).copy()
    bkg = np.zeros((nints, nx))
    if background is not None:
        # sum_y P B = sum_k c_k (sum_y P y'^k): no background cube needed.
        m_k = p.T @ background.basis[rs]  # (nx, K)
        bkg = np.einsum("ikx,xk->ix", background.coeffs, m_k)
        flux -= bkg
    n_repaired = np.zeros(nints, dtype=np.int64)

    pairs = np.isnan(flux)
    for name in variances:
        pairs |= np.isnan(out[name])
    ii, xx = np.nonzero(pairs)
    if ii.size:
        f, slope = repair_profile(model, data, p, rs, ny, repair)
        exact = box_pairs(
            data, {n: None if v is None else v[:, rs] for n, v in variances.items()}, p,
            ii, xx, basis=None if background is None else background.basis[rs],
            coeffs=None if background is None else background.coeffs[ii, :, xx],
            repair=repair, model=f, model_slope=slope, model_shift=model_shift,
        )  # fmt: skip
        flux[ii, xx] = exact["flux"]
        for name, v in variances.items():
            if v is not None:
                out[name][ii, xx] = exact[name]
        npix[ii, xx] = exact["npixels"]
        if background is not None:
            bkg[ii, xx] = exact["background"]
        np.add.at(n_repaired, ii, exact["n_repaired"])

    if background is not None:
        for name in _VARS:
            bvar = getattr(background, name)
            out[name] = out[name] + bvar
            out["bkg_" + name] = bvar.copy()
    else:
        for name in _VARS:
            out["bkg_" + name] = np.zeros((nints, nx))
    flux[np.isclose(npix, 0.0)] = np.nan
    out["background"] = bkg
    out["npixels"] = npix
    out["n_repaired"] = n_repaired
    return out


def repair_profile(
    model: np.ndarray | None,
    data: np.ndarray,
    p: np.ndarray,
    rows: slice,
    ny: int,
    repair: str | None,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The repair's spatial profile and its derivative along y on the box's ``rows``, as
    :func:`box_pairs` takes them (None, None when nothing is repaired).

    ``model`` is the full-frame profile (default: the one of ``data``'s median, ``data``
    and ``p`` being the block and the aperture on ``rows``); the derivative is taken on
    the full frame.
    """
    if repair != "profile":
        return None, None
    if model is None:
        full = np.zeros((ny, p.shape[1]))
        full[rows] = spatial_profile(bn.nanmedian(data, axis=0), p)
    else:
        full = np.asarray(model, dtype=np.float64)
    return full[rows], np.gradient(full, axis=0)[rows]


def box_pairs(
    data: np.ndarray,
    variances: dict[str, np.ndarray | None],
    p: np.ndarray,
    ii: np.ndarray,
    xx: np.ndarray,
    *,
    basis: np.ndarray | None = None,
    coeffs: np.ndarray | None = None,
    repair: str | None = "profile",
    model: np.ndarray | None = None,
    model_slope: np.ndarray | None = None,
    model_shift: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The box sums of the (integration, column) pairs ``(ii, xx)``, missing pixels
    dropped or repaired (see :func:`box_extract`, which calls it for the pairs with a
    missing pixel).

    Parameters
    ----------
    data : ndarray (nints, nyr, nx)
        SCI on the aperture's rows (NaN = missing).
    variances : dict of str to ndarray (nints, nyr, nx) or None
        ``var_poisson``, ``var_rnoise``, ``var_flat`` on the same rows.
    p : ndarray (nyr, nx)
        Aperture weights P on those rows.
    ii, xx : ndarray (m,)
        The pairs.
    basis, coeffs : ndarray (nyr, K) and (m, K), optional
        The background polynomial on those rows and each pair's coefficients.
    repair : {"profile", None}
    model, model_slope : ndarray (nyr, nx), optional
        The repair's spatial profile and its derivative along y (needed to repair).
    model_shift : ndarray (nints,), optional

    Returns
    -------
    dict of ndarray (m,)
        ``flux``, the variances given, ``npixels``, ``background`` (with a background)
        and ``n_repaired`` (pixels repaired in each pair).
    """
    d = data[ii, :, xx].astype(np.float64)  # (m, nyr)
    bpix = None
    if coeffs is not None:
        bpix = np.einsum("yk,mk->my", basis, coeffs)
        d -= bpix
    pc = p.T[xx]  # (m, nyr)
    b = ~np.isfinite(d) & (pc > 0)
    w = np.where(b, 0.0, pc)  # P'
    n_repaired = np.zeros(ii.size, dtype=np.int64)
    if repair == "profile":
        f = unshifted = model.T[xx]  # (m, nyr)
        if model_shift is not None:
            shift = np.nan_to_num(np.asarray(model_shift, dtype=np.float64))[ii]
            f = f - shift[:, None] * model_slope.T[xx]
        # Whether a column is repaired is judged on the unshifted model: a pixel bad in
        # every integration is then repaired in all of them or in none.  Judged on the
        # moving trace, a column whose good pixels hold about REPAIR_MIN_PROFILE of it
        # would switch as the trace drifts: a step in the light curve.
        good_pf = (w * unshifted).sum(axis=1)
        all_pf = (pc * unshifted).sum(axis=1)
        den = (w * f * f).sum(axis=1)
        ok = b.any(axis=1) & (den > 0) & (good_pf >= REPAIR_MIN_PROFILE * all_pf)
        # S = sum_good P d + a * Q, a = sum_good P f d / den, Q = sum_bad P f:
        # a linear combination of good pixels with weights P (1 + Q f / den).
        q = np.where(b, pc * f, 0.0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            gain = np.where(ok, q / den, 0.0)
        w = np.where(ok[:, None], w * (1.0 + gain[:, None] * f), w)
        n_repaired[ok] = b[ok].sum(axis=1)
        npix_w = np.where(ok[:, None], pc, np.where(b, 0.0, pc))
    else:
        npix_w = w
    out = {"flux": np.where(w != 0, np.nan_to_num(d) * w, 0.0).sum(axis=1)}
    for name, v in variances.items():
        if v is not None:
            vv = np.nan_to_num(v[ii, :, xx].astype(np.float64))
            out[name] = (np.where(b, 0.0, vv) * w * w).sum(axis=1)
    out["npixels"] = npix_w.sum(axis=1)
    if bpix is not None:
        out["background"] = (bpix * npix_w).sum(axis=1)
    out["n_repaired"] = n_repaired
    return out


@dataclass
class ExtractParams:
    """Settings of :func:`extract_block`.

    Attributes
    ----------
    extraction_type : {"box", "optimal"}
    repair : {"profile", None}
        Box only: repair missing aperture pixels from the profile (default), or drop
        them as the reference does (``None``, ``--mode jwst``).
    subtract_background : bool
        Subtract the aperture's background when it has one.
    nsigma, max_iter : float, int
        Optimal-extraction rejection threshold and iterations.
    measure_trace : bool
        Measure the per-integration trace position/width when the aperture has a trace.
    trace_half_width : int or None
        Rows each side of the trace for that measurement (default: half the aperture
        width, rounded up, plus 1).
    """

    extraction_type: str = "box"
    repair: str | None = "profile"
    subtract_background: bool = True
    nsigma: float = 5.0
    max_iter: int = 3
    measure_trace: bool = True
    trace_half_width: int | None = None


def fit_aperture_background(
    sci: np.ndarray,
    var_poisson: np.ndarray | None,
    var_rnoise: np.ndarray | None,
    var_flat: np.ndarray | None,
    aperture: Aperture,
) -> BackgroundFit | None:
    """Fit the aperture's background on a block, or None when it has no background region."""
    if aperture.bkg_profile is None:
        return None
    return fit_background(
        sci,
        aperture.bkg_profile,
        var_poisson=var_poisson,
        var_rnoise=var_rnoise,
        var_flat=var_flat,
        src_profile=aperture.profile,
        bkg_fit=aperture.bkg_fit,
        bkg_order=aperture.bkg_order,
        smoothing_length=aperture.smoothing_length,
    )


def profile_model(
    median_image: np.ndarray,
    aperture: Aperture,
    *,
    subtract_background: bool = True,
    region: np.ndarray | None = None,
) -> np.ndarray:
    """Spatial-profile model of a segment for repair and optimal extraction.

    The background of the median image (the aperture's own model) is removed first.

    Parameters
    ----------
    median_image : ndarray (ny, nx)
        Median over the integrations of the segment.
    aperture : Aperture
    subtract_background : bool
    region : ndarray (ny, nx), optional
        Pixels the model covers (default: the aperture).

    Returns
    -------
    ndarray (ny, nx), normalised per column over ``region``.
    """
    bkg = None
    if subtract_background and aperture.bkg_profile is not None:
        fit = fit_aperture_background(median_image[None], None, None, None, aperture)
        bkg = fit.evaluate(dtype=np.float64)[0]
    return spatial_profile(
        median_image, aperture.profile if region is None else region, background=bkg
    )


def extract_block(
    sci: np.ndarray,
    var_poisson: np.ndarray | None,
    var_rnoise: np.ndarray | None,
    var_flat: np.ndarray | None,
    *,
    aperture: Aperture,
    params: ExtractParams | None = None,
    model: np.ndarray | None = None,
    reference_position: float | None = None,
) -> dict[str, np.ndarray]:
    """Background, extraction and trace motion for one block of integrations.

    Parameters
    ----------
    sci, var_poisson, var_rnoise, var_flat : ndarray (nints, ny, nx)
        DISPAXIS=1 orientation (swapped views for DISPAXIS=2).
    aperture : Aperture
    params : ExtractParams, optional
    model : ndarray (ny, nx), optional
        Segment profile model (:func:`profile_model`); built from this block if None.
    reference_position : float, optional
        Trace position (as :func:`tso3.steps.trace.trace_timeseries` measures it) of the
        image the model was made from; with it, the profile repair follows each
        integration's trace offset from that position.

    Returns
    -------
    dict of ndarray
        The raw sums of :func:`box_extract` / :func:`optimal_extract` (data units),
        plus ``trace_position`` and ``trace_width`` (nints,) when measured.  Convert
        with :func:`tso3.spectra.spectra_columns`.
    """
    params = params or ExtractParams()
    trace = None
    if params.measure_trace and aperture.trace is not None:
        trace = trace_timeseries(
            sci, aperture.trace, trace_half_width(aperture, params),
            columns=aperture.profile.any(axis=0),
        )  # fmt: skip
    shift = None
    if trace is not None and reference_position is not None and model is not None:
        shift = trace[0] - reference_position
    bkg = None
    if params.subtract_background:
        bkg = fit_aperture_background(sci, var_poisson, var_rnoise, var_flat, aperture)
    if params.extraction_type == "optimal":
        if model is None:
            med = bn.nanmedian(sci, axis=0)
            model = profile_model(med, aperture, subtract_background=bkg is not None)
        out = optimal_extract(
            sci, var_poisson, var_rnoise, var_flat, model,
            background=bkg, nsigma=params.nsigma, max_iter=params.max_iter,
            profile_shift=shift,
        )  # fmt: skip
    elif params.extraction_type == "box":
        out = box_extract(
            sci, var_poisson, var_rnoise, var_flat, aperture.profile,
            background=bkg, model=model, repair=params.repair, model_shift=shift,
        )  # fmt: skip
    else:
        raise ValueError(f"unknown extraction_type {params.extraction_type!r}")
    if trace is not None:
        out["trace_position"], out["trace_width"] = trace
    return out


def trace_half_width(aperture: Aperture, params: ExtractParams) -> int:
    """Rows each side of the trace used to measure its position and width."""
    if params.trace_half_width is not None:
        return int(params.trace_half_width)
    width = float(np.nanmax(aperture.profile.sum(axis=0)))
    return int(math.ceil(width / 2.0)) + 1


def fill_from_model(
    sci: np.ndarray,
    variances: list[np.ndarray | None],
    index: np.ndarray,
    values: np.ndarray,
) -> np.ndarray:
    """Put model values into invalid (NaN) pixels of a block, in place.

    Parameters
    ----------
    sci : ndarray (nints, ny, nx)
        Block of data; NaN where a pixel is invalid.
    variances : list of ndarray (nints, ny, nx) or None
        VAR_* blocks; a filled pixel's NaN variance becomes that pixel's median over the
        block (its typical noise).
    index, values : ndarray
        Flat indices into the block and the model's values there (e.g. the outlier
        step's rolling median, :meth:`tso3.stages.blocks.RepairModel.entries`).

    Returns
    -------
    ndarray
        Flat indices of the pixels filled (those of ``index`` where ``sci`` was NaN).
    """
    flat = sci.reshape(-1)
    take = np.isnan(flat[index])
    index = index[take]
    if not index.size:
        return index
    flat[index] = values[take]
    pixel = index % (flat.size // len(sci))
    columns, where = np.unique(pixel, return_inverse=True)
    for var in variances:
        if var is None:
            continue
        typical = bn.nanmedian(var.reshape(len(var), -1)[:, columns], axis=0)
        vflat = var.reshape(-1)
        lost = np.isnan(vflat[index])
        vflat[index[lost]] = typical[where.ravel()[lost]]
    return index
