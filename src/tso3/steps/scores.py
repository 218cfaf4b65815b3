"""Noise scores of light curves: how well a reduction did, with the transit taken out.

Pure functions on arrays, vectorised over many light curves at once (the columns of a
``(nints, ncurves)`` array).  ``tso3 sweep`` ranks configurations by them (issue 31);
the run summary's scatter is :func:`point_to_point_ppm`.

Two ways to take an astrophysical signal out without a model of it:

- **differencing** (:func:`point_to_point_ppm`): the scatter of successive differences.  A
  transit or a slow trend hardly changes neighbouring integrations, so it measures the
  white noise, integration to integration;
- **a smooth fit** (:func:`mad_ppm`): the residuals from a centred running median over
  ``window`` integrations, averaged over a few.  Red noise on time
  scales shorter than the window stays in the residuals, so it also sees jumps and
  wiggles that differencing misses; ingress and egress leave a little of the transit in
  them when the window is long.
"""

from __future__ import annotations

import bottleneck as bn
import numpy as np

__all__ = ["mad_ppm", "point_to_point_ppm", "smooth_window"]

#: Integrations in the running mean of the running median (:func:`mad_ppm`): enough to
#: keep the fit off the data where they rise or fall steadily, too few to blur an ingress.
MEAN_WINDOW = 5
#: 1 / Phi^-1(3/4): the MAD of Gaussian noise times this is its sigma.
MAD_TO_SIGMA = 1.4826


def _relative(flux: np.ndarray) -> np.ndarray:
    """Each column divided by its median (NaN where the median is 0 or NaN)."""
    f = np.asarray(flux, dtype=np.float64)
    f = f[:, None] if f.ndim == 1 else f
    with np.errstate(invalid="ignore", divide="ignore"):
        level = bn.nanmedian(f, axis=0)
        return f / np.where(level == 0, np.nan, level)


def _result(values: np.ndarray, flux) -> np.ndarray | float:
    return float(values[0]) if np.ndim(flux) == 1 else values


def point_to_point_ppm(flux: np.ndarray) -> np.ndarray | float:
    """Robust point-to-point scatter, in ppm of each light curve's median.

    ``1.4826 * median(|diff|) / sqrt(2)``: the MAD of successive differences, scaled to
    the Gaussian sigma of one point.

    Parameters
    ----------
    flux : numpy.ndarray
        One light curve ``(nints,)`` or many, ``(nints, ncurves)``; NaN ignored.

    Returns
    -------
    float or numpy.ndarray
        Per curve; NaN with fewer than 3 finite points.
    """
    rel = _relative(flux)
    finite = np.isfinite(rel)
    # each curve's finite points moved to the top, in order: their successive differences
    # skip the NaN (differences reaching past the last finite point are NaN, ignored)
    order = np.argsort(~finite, axis=0, kind="stable")
    diffs = np.diff(np.take_along_axis(rel, order, axis=0), axis=0)
    out = MAD_TO_SIGMA * bn.nanmedian(np.abs(diffs), axis=0) / np.sqrt(2)
    out[finite.sum(axis=0) < 3] = np.nan
    return _result(out * 1e6, flux)


def _centred(moving, values: np.ndarray, window: int) -> np.ndarray:
    """A bottleneck moving statistic centred on each point (the trailing one shifted by
    half a window), using the points there are near the ends."""
    half = window // 2
    padded = np.concatenate([values, np.full((half, values.shape[1]), np.nan)])
    return moving(padded, window, min_count=1, axis=0)[half : half + len(values)]


def smooth_window(nints: int) -> int:
    """The running-median window of :func:`mad_ppm` by default: about a twentieth of the
    observation, odd, at least 5 integrations (a transit of a few hours in a visit of
    twice that length keeps its shape, short-term noise is left out of the fit)."""
    return max(5, (nints // 20) | 1)


def mad_ppm(flux: np.ndarray, window: int | None = None) -> np.ndarray | float:
    """Median absolute deviation from a smooth fit, in ppm (Gaussian sigma of one point).

    The fit is a centred running median over ``window`` integrations (fewer at the ends),
    then its running mean over :data:`MEAN_WINDOW`: robust to outliers, and not passing
    through the data where they rise or fall steadily.

    Parameters
    ----------
    flux : numpy.ndarray
        One light curve ``(nints,)`` or many, ``(nints, ncurves)``; NaN ignored.
    window : int, optional
        Integrations in the running median; default :func:`smooth_window`.

    Returns
    -------
    float or numpy.ndarray
        Per curve; NaN with fewer than ``window`` finite points.
    """
    rel = _relative(flux)
    n = rel.shape[0]
    window = smooth_window(n) if window is None else int(window)
    if window < 1:
        raise ValueError("window must be >= 1")
    # A running median alone passes through the data wherever they rise or fall
    # steadily (ingress, egress, a ramp): the residual there is exactly 0 and the MAD
    # of a short, steep light curve collapses.  Its running mean does not.
    median = _centred(bn.move_median, rel, window)
    smooth = _centred(bn.move_mean, median, min(window, MEAN_WINDOW))
    residual = rel - smooth
    centre = bn.nanmedian(residual, axis=0)
    mad = MAD_TO_SIGMA * bn.nanmedian(np.abs(residual - centre), axis=0)
    mad[np.isfinite(rel).sum(axis=0) < window] = np.nan
    return _result(mad * 1e6, flux)
