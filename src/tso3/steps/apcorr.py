"""Aperture correction of extracted spectra, as jwst 3.0 evaluates it: ``ApCorr`` (MIRI
LRS) and ``ApCorrPhase`` (NIRSpec fixed slit and BOTS)."""

from __future__ import annotations

import numpy as np

#: Columns scaled by the correction c; their variances are scaled by c**2.
FLUX_COLUMNS = ("flux", "surf_bright")
VARIANCE_COLUMNS = tuple(
    f"{base}_var_{x}" for base in ("flux", "sb") for x in ("poisson", "rnoise", "flat")
)


def lrs_correction(
    wavelength_grid: np.ndarray,
    size_grid: np.ndarray,
    apcorr: np.ndarray,
    npixels: np.ndarray,
    wavelength: np.ndarray,
) -> np.ndarray:
    """The correction of every spectral element, as jwst evaluates it.

    A bilinear spline (``RectBivariateSpline`` of degree 1 in size and wavelength, as
    jwst builds it) evaluated at each element's (NPIXELS, WAVELENGTH).

    Parameters
    ----------
    wavelength_grid : ndarray (nw,)
        Ascending wavelengths of the reference (um).
    size_grid : ndarray (ns,)
        Extraction sizes of the reference (pixels).
    apcorr : ndarray (nw, ns)
        Corrections.
    npixels, wavelength : ndarray, same shape
        NPIXELS and WAVELENGTH of the elements.

    Returns
    -------
    ndarray
        Same shape; 1.0 where NPIXELS or WAVELENGTH is not finite (those fluxes are NaN).
    """
    from scipy.interpolate import RectBivariateSpline  # 0.3 s to import: only when used

    spline = RectBivariateSpline(size_grid, wavelength_grid, np.asarray(apcorr).T, kx=1, ky=1)
    npixels, wavelength = np.broadcast_arrays(
        np.asarray(npixels, float), np.asarray(wavelength, float)
    )
    good = np.isfinite(npixels) & np.isfinite(wavelength)
    out = np.ones(npixels.shape)
    out[good] = spline.ev(npixels[good], wavelength[good])
    return out


def at_pixel_phase(
    pixphase: np.ndarray, apcorr: np.ndarray, phase: float = 0.5
) -> np.ndarray | None:
    """The correction grid at one pixel phase (linear in phase, jwst's default 0.5).

    ``apcorr`` has the phases on its last axis.  ``None`` when ``phase`` lies outside
    ``pixphase``: jwst then applies no correction.
    """
    pixphase = np.asarray(pixphase, dtype=np.float64)
    order = np.argsort(pixphase)
    pixphase, apcorr = pixphase[order], np.asarray(apcorr, dtype=np.float64)[..., order]
    if not pixphase[0] <= phase <= pixphase[-1]:
        return None
    if pixphase.size == 1:
        return apcorr[..., 0]
    p = int(np.clip(np.searchsorted(pixphase, phase, side="right") - 1, 0, pixphase.size - 2))
    t = (phase - pixphase[p]) / (pixphase[p + 1] - pixphase[p])
    return apcorr[..., p] + t * (apcorr[..., p + 1] - apcorr[..., p])


def phase_correction(
    wavelength_grid: np.ndarray,
    size_grid: np.ndarray,
    apcorr: np.ndarray,
    npixels: np.ndarray,
    wavelength: np.ndarray,
) -> np.ndarray:
    """The NIRSpec correction of every spectral element, as jwst's ``ApCorrPhase``.

    At an element's wavelength the sizes of the grid are interpolated linearly in
    wavelength; the correction is then bilinear in (wavelength, size) on that grid,
    sizes beyond its ends clamped to them (a degree-1 ``RectBivariateSpline``, as jwst).

    Parameters
    ----------
    wavelength_grid : ndarray (nw,)
        Ascending wavelengths of the reference (um).
    size_grid : ndarray (ns, nw)
        Extraction sizes at each wavelength, in pixels.
    apcorr : ndarray (ns, nw)
        Corrections at one pixel phase (:func:`at_pixel_phase`).
    npixels, wavelength : ndarray, same shape
        NPIXELS and WAVELENGTH of the elements.

    Returns
    -------
    ndarray
        Same shape.  1.0 where jwst applies none: a wavelength outside the grid, sizes
        that do not increase at that wavelength, a correction of exactly 0, or a
        non-finite NPIXELS or WAVELENGTH.
    """
    wl = np.asarray(wavelength_grid, dtype=np.float64)
    sizes, table = np.asarray(size_grid, np.float64), np.asarray(apcorr, np.float64)
    npixels, wavelength = np.broadcast_arrays(
        np.asarray(npixels, float), np.asarray(wavelength, float)
    )
    out = np.ones(npixels.shape)
    if np.any(np.diff(wl) <= 0):  # jwst's spline refuses such a grid: no correction
        return out
    good = np.isfinite(npixels) & np.isfinite(wavelength)
    good &= (wavelength >= wl[0]) & (wavelength <= wl[-1])
    w, s = wavelength[good], npixels[good]
    i = np.clip(np.searchsorted(wl, w, side="right") - 1, 0, wl.size - 2)
    t = (w - wl[i]) / (wl[i + 1] - wl[i])
    size_at = sizes[:, i] + t * (sizes[:, i + 1] - sizes[:, i])  # (ns, n)
    value_at = table[:, i] + t * (table[:, i + 1] - table[:, i])
    increasing = np.all(np.diff(size_at, axis=0) > 0, axis=0)
    j = np.clip(np.sum(size_at <= s, axis=0) - 1, 0, sizes.shape[0] - 2)
    n = np.arange(s.size)
    lo, hi = size_at[j, n], size_at[j + 1, n]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.clip((s - lo) / (hi - lo), 0.0, 1.0)
    value = value_at[j, n] + u * (value_at[j + 1, n] - value_at[j, n])
    value[~increasing | (value == 0)] = 1.0
    out[good] = value
    return out


def apply_correction(columns: dict[str, np.ndarray], correction: np.ndarray) -> None:
    """Scale the flux columns by ``correction`` and their variances by its square, in place
    (jwst's ``ApCorrBase.apply``; the errors follow from the variances)."""
    for name in FLUX_COLUMNS:
        if name in columns:
            columns[name] = columns[name] * correction
    for name in VARIANCE_COLUMNS:
        if name in columns:
            columns[name] = columns[name] * correction**2
