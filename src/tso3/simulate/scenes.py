"""Noise-free scenes: PSFs, spectral traces, stellar spectra and backgrounds (pure numpy).

Every profile is integrated over pixels (differences of the normal CDF at pixel edges), so
a source's electrons are conserved exactly and centroids are unbiased.  Profiles are a
Gaussian core plus a wider Gaussian halo, a cheap stand-in for an Airy core with wings.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

#: FWHM / sigma of a Gaussian.
FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
#: Fraction of the light in the wide halo component, and its width relative to the core.
HALO_FRACTION = 0.15
HALO_SCALE = 3.0

_H_C_OVER_K = 14387.77  # um K


def pixel_integrated_gaussian(
    center: np.ndarray, sigma: np.ndarray | float, n_pix: int
) -> np.ndarray:
    """Fraction of a 1-D Gaussian falling in each of ``n_pix`` pixels.

    Pixel ``j`` covers ``[j - 0.5, j + 0.5]`` (pixel-centre coordinates, 0-based).

    Parameters
    ----------
    center : array_like
        Gaussian centres, any shape ``S``.
    sigma : array_like or float
        Widths, broadcastable to ``S``.
    n_pix : int
        Number of pixels.

    Returns
    -------
    numpy.ndarray
        float32, shape ``S + (n_pix,)``.
    """
    center = np.asarray(center, dtype=np.float32)[..., None]
    sigma = np.asarray(sigma, dtype=np.float32)[..., None]
    edges = np.arange(n_pix + 1, dtype=np.float32) - np.float32(0.5)
    cdf = ndtr((edges - center) / sigma)
    return np.diff(cdf, axis=-1)


def line_spread(center: np.ndarray, fwhm: np.ndarray | float, n_pix: int) -> np.ndarray:
    """Pixel-integrated 1-D profile (core + halo), normalised to 1 over the infinite line."""
    sigma = np.asarray(fwhm, dtype=np.float32) * np.float32(FWHM_TO_SIGMA)
    core = pixel_integrated_gaussian(center, sigma, n_pix)
    halo = pixel_integrated_gaussian(center, sigma * np.float32(HALO_SCALE), n_pix)
    return (1 - HALO_FRACTION) * core + HALO_FRACTION * halo


def psf_cube(x: np.ndarray, y: np.ndarray, fwhm: float, shape: tuple[int, int]) -> np.ndarray:
    """Images of a point source at per-integration positions.

    Each component (core, halo) is separable, so the image is a sum of two outer
    products: cheap for any number of integrations.

    Parameters
    ----------
    x, y : numpy.ndarray
        Source centre per integration (0-based pixel coordinates), shape ``(n,)``.
    fwhm : float
        Core FWHM in pixels.
    shape : tuple of int
        ``(ny, nx)``.

    Returns
    -------
    numpy.ndarray
        float32 ``(n, ny, nx)``; each image sums to the fraction of the PSF on the array.
    """
    ny, nx = shape
    sigma = np.float32(fwhm * FWHM_TO_SIGMA)
    image = np.zeros((len(x), ny, nx), dtype=np.float32)
    for weight, scale in ((1 - HALO_FRACTION, 1.0), (HALO_FRACTION, HALO_SCALE)):
        px = pixel_integrated_gaussian(x, sigma * np.float32(scale), nx)
        py = pixel_integrated_gaussian(y, sigma * np.float32(scale), ny)
        image += np.float32(weight) * py[:, :, None] * px[:, None, :]
    return image


def spectral_trace_cube(
    offset: np.ndarray, trace: np.ndarray, fwhm: np.ndarray, n_cross: int
) -> np.ndarray:
    """Cross-dispersion profiles of a spectral trace, per integration and dispersion pixel.

    Parameters
    ----------
    offset : numpy.ndarray
        Cross-dispersion shift of the trace per integration (px), shape ``(n,)``.
    trace : numpy.ndarray
        Nominal trace centre per dispersion pixel (0-based), shape ``(n_disp,)``.
    fwhm : numpy.ndarray
        Core FWHM per dispersion pixel, shape ``(n_disp,)``.
    n_cross : int
        Pixels along the cross-dispersion axis.

    Returns
    -------
    numpy.ndarray
        float32 ``(n, n_cross, n_disp)`` (cross-dispersion before dispersion); each
        column sums to the fraction of the profile on the array.
    """
    center = np.asarray(offset, np.float32)[:, None] + np.asarray(trace, np.float32)[None, :]
    width = np.broadcast_to(np.asarray(fwhm, np.float32), center.shape)
    profile = line_spread(center, width, n_cross)  # (n, n_disp, n_cross)
    return np.ascontiguousarray(profile.transpose(0, 2, 1))


def photon_sed(lam: np.ndarray, teff: float) -> np.ndarray:
    """Photon flux density of a blackbody per unit wavelength (arbitrary scale)."""
    lam = np.asarray(lam, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        sed = lam**-4 / np.expm1(_H_C_OVER_K / (lam * teff))
    return np.where(np.isfinite(sed), sed, 0.0)


def background_image(
    level: float, gradient: tuple[float, float], shape: tuple[int, int]
) -> np.ndarray:
    """Smooth background: ``level`` at the centre with fractional linear gradients.

    ``gradient = (gx, gy)`` is the fractional change across the full x and y extent.
    """
    ny, nx = shape
    gx, gy = gradient
    xs = (np.arange(nx) - (nx - 1) / 2) / max(nx, 1)
    ys = (np.arange(ny) - (ny - 1) / 2) / max(ny, 1)
    image = level * (1 + gy * ys[:, None] + gx * xs[None, :])
    return np.clip(image, 0.0, None).astype(np.float32)


def transit_depth_spectrum(
    lam: np.ndarray,
    depth: float,
    ref_wavelength: float,
    slope: float,
    feature_depth: float,
    feature_wavelength: float,
    feature_width: float,
) -> np.ndarray:
    """Transit depth (Rp/Rs)^2 versus wavelength: a linear slope plus a Gaussian feature.

    ``depth`` is the value at ``ref_wavelength`` without the feature; ``slope`` is the
    depth change per micron.  NaN wavelengths give NaN.
    """
    lam = np.asarray(lam, dtype=float)
    feature = feature_depth * np.exp(-0.5 * ((lam - feature_wavelength) / feature_width) ** 2)
    return depth + slope * (lam - ref_wavelength) + feature
