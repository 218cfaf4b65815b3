"""Horne (1986) optimal extraction, vectorised over integrations and columns.

The spatial profile comes from the median image (normalised per column, positive);
the pixel variance is a model, ``VAR_RNOISE + VAR_FLAT + r * max(F f, 0)``, where the
Poisson part scales with the fitted flux through ``r = sum_t VAR_POISSON / sum_t SCI``
per pixel.  A model variance instead of each pixel's own VAR_POISSON avoids the bias
of weighting low (noise-down) pixels more.  Each iteration rejects, per column, the
worst pixel deviating by more than ``nsigma``.
"""

from __future__ import annotations

import numpy as np

from tso3.steps.background import BackgroundFit

__all__ = ["optimal_extract"]


def optimal_extract(
    sci: np.ndarray,
    var_poisson: np.ndarray | None,
    var_rnoise: np.ndarray | None,
    var_flat: np.ndarray | None,
    profile_image: np.ndarray,
    *,
    background: BackgroundFit | None = None,
    nsigma: float = 5.0,
    max_iter: int = 3,
    profile_shift: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Optimally extract every integration of a block.

    Parameters
    ----------
    sci : ndarray (nints, ny, nx)
    var_poisson, var_rnoise, var_flat : ndarray (nints, ny, nx) or None
    profile_image : ndarray (ny, nx)
        Spatial profile f >= 0, normalised to unit sum per column over the pixels
        to use (0 elsewhere), e.g. :func:`tso3.steps.extract.spatial_profile`.
    background : BackgroundFit, optional
        Subtracted before the fit.
    nsigma : float
        Rejection threshold.
    max_iter : int
        Rejection iterations.
    profile_shift : ndarray (nints,), optional
        Cross-dispersion offset (px) of each integration's trace from the profile's;
        the profile is moved by it to first order (``f - shift * df/dy``).  Optimal
        weights lean on the profile's core, so a trace that drifts by a few hundredths
        of a pixel biases an unmoved fit by percents on an undersampled trace.

    Returns
    -------
    dict of ndarray
        Same keys as :func:`tso3.steps.extract.box_extract` plus ``n_rejected``
        (nints,).  ``flux`` is the profile amplitude (the total flux, comparable to a
        box sum), the variances are propagated linearly through the final weights,
        ``npixels = sum(f M) / sum(f^2)`` as the reference reports for optimal fits.
    """
    nints, ny, nx = sci.shape
    f_all = np.clip(np.nan_to_num(np.asarray(profile_image, dtype=np.float64)), 0.0, None)
    rows = np.flatnonzero(f_all.any(axis=1))
    rs = slice(int(rows[0]), int(rows[-1]) + 1) if rows.size else slice(0, 0)
    f = f_all[rs][None]  # (1, nyr, nx)
    if profile_shift is not None:
        shift = np.nan_to_num(np.asarray(profile_shift, dtype=np.float64))
        slope = np.gradient(f_all, axis=0)[rs][None]
        f = np.clip(f - shift[:, None, None] * slope, 0.0, None) * (f > 0)
    d = sci[:, rs].astype(np.float64)
    bpix = None
    if background is not None:
        bpix = background.evaluate(rs, dtype=np.float64)
        d -= bpix
    zeros = np.zeros_like(d)
    v = {
        "var_poisson": zeros if var_poisson is None else var_poisson[:, rs].astype(np.float64),
        "var_rnoise": zeros if var_rnoise is None else var_rnoise[:, rs].astype(np.float64),
        "var_flat": zeros if var_flat is None else var_flat[:, rs].astype(np.float64),
    }
    vtot = v["var_poisson"] + v["var_rnoise"] + v["var_flat"]
    m = np.isfinite(d) & np.isfinite(vtot) & (f > 0)
    d0 = np.where(m, d, 0.0)
    for key in v:
        v[key] = np.where(m, v[key], 0.0)
    # Poisson variance per unit signal, from the block's sums over time.
    sig_src = d0 if bpix is None else d0 + np.where(m, bpix, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = v["var_poisson"].sum(axis=0) / sig_src.sum(axis=0)
    r = np.where(np.isfinite(r) & (r > 0), r, 0.0)[None]
    base_var = v["var_rnoise"] + v["var_flat"]
    floor = np.where(base_var > 0, base_var, np.inf).min() if (base_var > 0).any() else 1e-30

    with np.errstate(invalid="ignore", divide="ignore"):
        flux = (d0).sum(axis=1) / (f * m).sum(axis=1)
    n_rejected = np.zeros(nints, dtype=np.int64)
    for it in range(max_iter + 1):
        model = flux[:, None, :] * f
        sky = 0.0 if bpix is None else bpix
        var_model = base_var + r * np.clip(np.nan_to_num(model + sky), 0.0, None)
        var_model = np.maximum(var_model, floor)
        wgt = m * f / var_model
        den = (wgt * f).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            flux = (wgt * d0).sum(axis=1) / den
        if it == max_iter:
            break
        r2 = np.where(m, (d0 - flux[:, None, :] * f) ** 2 / var_model, -1.0)
        worst = np.argmax(r2, axis=1)[:, None, :]
        hit = np.take_along_axis(r2, worst, axis=1)[:, 0, :] > nsigma**2
        if not hit.any():
            break
        cur = np.take_along_axis(m, worst, axis=1)
        np.put_along_axis(m, worst, cur & ~hit[:, None, :], axis=1)
        d0 = np.where(m, d0, 0.0)
        n_rejected += hit.sum(axis=1)

    with np.errstate(invalid="ignore", divide="ignore"):
        c = wgt / den[:, None, :]  # flux = sum c * d
    c = np.nan_to_num(c)
    out: dict[str, np.ndarray] = {"flux": flux}
    for key, arr in v.items():
        out[key] = (c * c * np.where(m, arr, 0.0)).sum(axis=1)
    if background is not None:
        out["background"] = (c * bpix).sum(axis=1)
        for key in v:
            bvar = getattr(background, key)
            out[key] = out[key] + bvar
            out["bkg_" + key] = bvar.copy()
    else:
        out["background"] = np.zeros((nints, nx))
        for key in v:
            out["bkg_" + key] = np.zeros((nints, nx))
    with np.errstate(invalid="ignore", divide="ignore"):
        npix = (f * m).sum(axis=1) / (f * f).sum(axis=1)
    npix = np.nan_to_num(npix)
    flux[np.isclose(npix, 0.0) | ~np.isfinite(flux)] = np.nan
    out["npixels"] = npix
    out["n_repaired"] = np.zeros(nints, dtype=np.int64)
    out["n_rejected"] = n_rejected
    return out
