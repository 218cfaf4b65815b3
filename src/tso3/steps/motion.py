"""The motion model of outlier detection: frame-wide patterns of change in time.

Sub-pixel pointing jitter and breathing move a bright, undersampled trace or PSF by a
fraction of a pixel from one integration to the next; a per-pixel rolling median cannot
follow that, so its residuals would flag the trace's edges.  :func:`motion_basis`
learns the few frame-wide patterns of such change from a sample of integrations,
:func:`fit_motion` measures them in every integration, and :func:`relative_motion`
gives their departure from their own rolling median, which
:func:`tso3.steps.outliers.detect_outliers` adds to its model.  See ``docs/outliers.md``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import bottleneck as bn
import numpy as np

from tso3.steps import _movmed
from tso3.steps.outliers import _MAD_TO_SIGMA, rolling_median

__all__ = ["FitPatterns", "MotionModel", "fit_motion", "motion_basis", "relative_motion"]

#: A pattern enters the motion model when its whitened variance exceeds the largest
#: expected from noise alone by this factor.
SIGNIFICANT_MODE = 1.3


@dataclass
class MotionModel:
    """Frame-wide patterns of change learned from a sample (see :func:`motion_basis`).

    Attributes
    ----------
    reference : numpy.ndarray, shape (ny, nx)
        Median frame of the sample.
    basis : numpy.ndarray, shape (k, ny, nx)
        Unit-norm patterns (0 where the reference is NaN); ``k`` may be 0.
    scatter : numpy.ndarray, shape (ny, nx)
        Robust scatter of each pixel about the reference (0 where unknown).
    """

    reference: np.ndarray
    basis: np.ndarray
    scatter: np.ndarray

    @functools.cached_property
    def fit_patterns(self) -> FitPatterns:
        """What :func:`fit_motion` needs of the model, made once (the outlier pass fits
        every block on the same model; choosing the pixels alone sorts the whole frame)."""
        return FitPatterns.of(self)


@dataclass(frozen=True)
class FitPatterns:
    """The patterns of a :class:`MotionModel` prepared for the least-squares fit.

    Attributes
    ----------
    used : numpy.ndarray
        Flat indices of the pixels the fit uses (:func:`_informative_pixels`).
    a : numpy.ndarray, shape (k, len(used)), float32
        The whitened patterns on those pixels.
    inv : numpy.ndarray, shape (len(used),), float32
        1 / scatter there.
    reference : numpy.ndarray, shape (len(used),)
        The reference frame there.
    outer : numpy.ndarray, shape (len(used), k * k)
        Products of the whitened patterns, pixel by pixel (the normal equations' terms).
    """

    used: np.ndarray
    a: np.ndarray
    inv: np.ndarray
    reference: np.ndarray
    outer: np.ndarray

    @classmethod
    def of(cls, model: MotionModel) -> FitPatterns:
        """Prepare ``model``'s patterns."""
        k = model.basis.shape[0]
        scatter = model.scatter.reshape(-1)
        whitened = model.basis.reshape(k, -1) / np.where(scatter > 0, scatter, np.inf)
        used = _informative_pixels((whitened**2).sum(axis=0))
        a = whitened[:, used].astype(np.float32)
        inv = (1.0 / scatter[used]).astype(np.float32)
        reference = model.reference.reshape(-1)[used]
        outer = (a[:, None, :] * a[None, :, :]).reshape(k * k, -1).T
        return cls(used, a, inv, reference, outer)


def motion_basis(
    sample: np.ndarray, n_modes: int = 3, noise: np.ndarray | None = None
) -> MotionModel:
    """Reference frame and the main patterns by which integrations differ from it.

    Pointing jitter, focus changes and flux changes alter a whole frame coherently.
    The patterns are learned from the data: the leading principal components of a
    sample of integrations about their median frame, each pixel whitened by its robust
    scatter and its outliers (> 5 sigma, e.g. cosmic rays) set to zero so they cannot
    form a pattern.  Only patterns whose variance stands well above the noise
    (``SIGNIFICANT_MODE``) are kept.

    Parameters
    ----------
    sample : numpy.ndarray, shape (m, ny, nx)
        Integrations spread over the observation (a few hundred suffice).
    n_modes : int
        Largest number of patterns kept.
    noise : numpy.ndarray, shape (ny, nx), optional
        Expected 1-sigma noise per pixel (e.g. the median ERR).  Without it the robust
        scatter of the sample is used, which also contains the patterns themselves and
        so hides weak ones.

    Returns
    -------
    MotionModel
    """
    sample = np.asarray(sample, dtype=np.float32)
    m = sample.shape[0]
    # np.errstate, not a warning filter (tso3.parallel, the warnings rule)
    with np.errstate(invalid="ignore"):
        reference = bn.nanmedian(sample, axis=0).astype(np.float32)
        resid = (sample - reference).reshape(m, -1)
        sigma = _MAD_TO_SIGMA * bn.nanmedian(np.abs(resid), axis=0)
    scale = np.where(np.isfinite(sigma) & (sigma > 0), sigma, 0.0).astype(np.float64)
    with np.errstate(invalid="ignore"):
        keep = np.isfinite(resid) & (np.abs(resid) <= 5 * scale)
    if noise is not None:
        noise = np.asarray(noise, dtype=np.float64).reshape(-1)
        scale = np.where(np.isfinite(noise) & (noise > 0), noise, 0.0)
    inv = np.divide(1.0, scale, out=np.zeros_like(scale), where=scale > 0)
    white = np.where(keep, resid, 0.0).astype(np.float64) * inv
    # principal components through the small m x m Gram matrix
    values, vectors = np.linalg.eigh(white @ white.T)
    values, vectors = values[::-1], vectors[:, ::-1]
    # Pure noise gives eigenvalues up to about (1 + sqrt(m / pixels))^2 times the typical
    # one (Marchenko-Pastur); a coherent pattern stands above that edge.
    edge = (1 + np.sqrt(m / max(1, int((scale > 0).sum())))) ** 2
    k = max(0, min(int(n_modes), m - 1))
    k = int(np.sum(values[:k] > SIGNIFICANT_MODE * edge * np.median(values))) if k else 0
    basis = (vectors[:, :k].T @ white) * scale
    norm = np.sqrt((basis * basis).sum(axis=1))
    basis /= np.where(norm > 0, norm, 1.0)[:, None]
    basis[:, ~np.isfinite(reference).reshape(-1)] = 0.0
    shape = reference.shape
    return MotionModel(reference, basis.reshape(k, *shape).astype(np.float32), scale.reshape(shape))


def fit_motion(
    sci: np.ndarray, model: MotionModel, clip: float = 5.0, pool: _movmed.BlockMap | None = None
) -> np.ndarray:
    """Coefficients of each integration's change from the reference on the patterns.

    Weighted least squares (weights 1/scatter^2) over the valid pixels, then once more
    without the pixels more than ``clip`` scatters off the first fit, so a cosmic ray
    cannot pull an integration's coefficients.

    Parameters
    ----------
    sci : numpy.ndarray, shape (nints, ny, nx)
        Integrations (NaN pixels are left out of each integration's fit).
    model : MotionModel
        From :func:`motion_basis`.
    clip : float
        Rejection threshold of the second fit, in scatters.
    pool : object with ``map`` and ``workers``, optional
        Integrations are fitted independently, so blocks of them run at once on
        ``pool`` (e.g. :class:`tso3.parallel.Cores`); serial without one.

    Returns
    -------
    numpy.ndarray, shape (nints, k), float64
        NaN for an integration with too few valid pixels.
    """
    p = model.fit_patterns
    flat = np.asarray(sci, dtype=np.float32).reshape(len(sci), -1)
    coeffs = np.empty((len(sci), model.basis.shape[0]))

    def work(rows: slice) -> None:
        coeffs[rows] = _fit_rows(flat[rows], p.used, p.reference, p.inv, p.a, p.outer, clip)

    # blocks of >= 256 integrations: below that a thread costs more than it saves
    step = max(256, -(-len(sci) // _movmed.pool_workers(pool)))
    blocks = [slice(i, i + step) for i in range(0, len(sci), step)]
    _movmed.run_blocks(work, blocks, pool)
    return coeffs


def _fit_rows(flat, used, reference, inv, a, outer, clip) -> np.ndarray:
    """:func:`fit_motion` of the integrations ``flat`` (nints, npix) on prepared patterns."""
    k = a.shape[0]
    # np.take gathers columns several times faster than fancy indexing
    diff = np.take(flat, used, axis=1)
    diff -= reference
    diff *= inv
    valid = np.isfinite(diff)
    np.copyto(diff, 0.0, where=~valid)
    normal = (valid.astype(np.float32) @ outer).astype(np.float64)
    rhs = (diff @ a.T).astype(np.float64)
    coeffs = _solve(normal, rhs)
    resid = diff - coeffs.astype(np.float32) @ a
    clipped = np.abs(resid) > clip
    rows = np.flatnonzero(clipped.any(axis=1))
    if rows.size:
        # refit only the integrations that lost pixels, by taking those pixels out of
        # their normal equations (a handful of cosmic rays per integration)
        lost = clipped[rows]
        normal[rows] -= lost.astype(np.float32) @ outer
        rhs[rows] -= np.where(lost, diff[rows], np.float32(0)) @ a.T
        coeffs[rows] = _solve(normal[rows], rhs[rows])
        valid[rows] &= ~lost
    coeffs[valid.sum(axis=1) < 10 * max(k, 1)] = np.nan
    return coeffs


#: Most pixels an integration's motion coefficients are fitted on.
MOTION_FIT_PIXELS = 32768


def _informative_pixels(energy: np.ndarray, fraction: float = 0.99) -> np.ndarray:
    """Indices of the fewest pixels that hold ``fraction`` of the patterns' weight.

    A pattern usually lives on a few hundred pixels (a trace core, a PSF); the rest of
    the frame adds nothing to the fit but cost.  A pattern spread over a whole big frame
    (NIS_SOSS: background and 1/f stripes) is fitted on its ``MOTION_FIT_PIXELS``
    strongest pixels: a few coefficients are as well determined by those, at a fraction
    of the cost.
    """
    order = np.argsort(energy)[::-1]
    cumulative = np.cumsum(energy[order])
    if cumulative[-1] <= 0:
        return order[:0]
    n = int(np.searchsorted(cumulative, fraction * cumulative[-1])) + 1
    n = min(max(n, min(len(order), 100)), MOTION_FIT_PIXELS)
    return np.sort(order[:n])


def _solve(normal: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Per-integration least squares from flattened normal equations ``(n, k*k)`` and
    right-hand sides ``(n, k)`` (tiny ridge for stability).

    An integration without a valid pixel (all NaN or DO_NOT_USE: data lost in downlink)
    has no equations: NaN coefficients.
    """
    k = rhs.shape[1]
    matrix = normal.reshape(-1, k, k).copy()
    trace = np.trace(matrix, axis1=1, axis2=2)
    empty = ~(trace > 0)
    # the normal matrix is positive semi-definite: a ridge of its trace makes it definite
    matrix += 1e-9 * trace[:, None, None] * np.eye(k) + 1e-30
    matrix[empty] = np.eye(k)
    coeffs = np.linalg.solve(matrix, rhs[..., None])[..., 0]
    coeffs[empty] = np.nan
    return coeffs


def relative_motion(coefficients: np.ndarray, width: int) -> np.ndarray:
    """Coefficients minus their centred rolling median in time (what a window misses).

    The rolling median of the pixels already follows slow changes; only the departure
    of each integration from its window's typical motion belongs in the model.
    """
    c = np.asarray(coefficients, dtype=np.float32)
    return np.nan_to_num(c - rolling_median(c, width, np.isfinite(c)))
