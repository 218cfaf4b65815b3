"""Aperture correction of extracted spectra (jwst 3.0's ``ApCorr`` for MIRI LRS)."""

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


def apply_correction(columns: dict[str, np.ndarray], correction: np.ndarray) -> None:
    """Scale the flux columns by ``correction`` and their variances by its square, in place
    (jwst's ``ApCorrBase.apply``; the errors follow from the variances)."""
    for name in FLUX_COLUMNS:
        if name in columns:
            columns[name] = columns[name] * correction
    for name in VARIANCE_COLUMNS:
        if name in columns:
            columns[name] = columns[name] * correction**2
