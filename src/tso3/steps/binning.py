"""Spectroscopic light curves: spectra summed in wavelength bins, every integration at once.

Each spectral element covers the interval between the midpoints to its neighbours (the end
elements extend by half of their neighbour spacing).  An element that straddles a bin edge
contributes the fraction of its interval inside the bin, so bins need not align with
elements and the binned fluxes of adjacent bins add up to the white light.  The consequence
is that a straddling element's noise is shared by two bins (their errors are slightly
correlated); with bins many elements wide this is negligible.

The binning is one weight matrix ``W`` (nbins x nwave) applied by matrix product:
``flux_binned = flux @ W.T`` and ``var_binned = var @ (W**2).T``.  NaN elements contribute
nothing; ``npoints`` (the summed weights of finite elements) says how many did.

Plain numpy arrays in and out; the white-light stage (:mod:`tso3.stages.whitelight`)
applies them to every spectrum of an observation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tso3.errors import ParameterError

__all__ = ["bin_delays", "bin_edges", "bin_spectra", "element_edges", "weight_matrix"]

# relative tolerance when deciding whether a last, partial bin is really a full one
_EPS = 1e-9


def element_edges(wavelength: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper wavelength limits of each spectral element.

    Parameters
    ----------
    wavelength : numpy.ndarray
        Shape ``(nwave,)``, any monotonic direction; NaN elements get NaN limits.

    Returns
    -------
    lo, hi : numpy.ndarray
        Shape ``(nwave,)``, ``lo <= hi``.
    """
    wl = np.asarray(wavelength, dtype=np.float64)
    lo = np.full(wl.shape, np.nan)
    hi = np.full(wl.shape, np.nan)
    good = np.flatnonzero(np.isfinite(wl))
    if good.size == 0:
        return lo, hi
    order = good[np.argsort(wl[good], kind="stable")]
    w = wl[order]
    if w.size == 1:
        lo[order], hi[order] = w, w
        return lo, hi
    mid = 0.5 * (w[1:] + w[:-1])
    lo[order] = np.concatenate([[w[0] - (mid[0] - w[0])], mid])
    hi[order] = np.concatenate([mid, [w[-1] + (w[-1] - mid[-1])]])
    return lo, hi


def bin_edges(
    wavelength: np.ndarray | None = None,
    *,
    nbins: int | None = None,
    width: float | None = None,
    resolving_power: float | None = None,
    edges: Sequence[float] | np.ndarray | None = None,
    wmin: float | None = None,
    wmax: float | None = None,
    max_bins: int | None = None,
) -> np.ndarray:
    """Wavelength bin edges from exactly one binning specification.

    Parameters
    ----------
    wavelength : numpy.ndarray or None
        Element wavelengths (1-D or 2-D), used for the default ``wmin``/``wmax``: the outer
        limits of the first and last finite elements (see :func:`element_edges`), so that
        the bins cover the whole spectrum.
    nbins : int, optional
        That many equal-width bins between ``wmin`` and ``wmax``.
    width : float, optional
        Bins of exactly ``width`` microns starting at ``wmin``; a last partial bin that would
        pass ``wmax`` is dropped.
    resolving_power : float, optional
        Constant ``R = centre / width`` (geometric edges, ratio ``(2R+1)/(2R-1)``) from
        ``wmin``; a last partial bin is dropped.  Needs ``R > 0.5``.
    edges : array_like, optional
        Explicit, strictly increasing edges (``wmin``/``wmax`` are ignored).
    wmin, wmax : float, optional
        Range to bin.
    max_bins : int, optional
        Most bins allowed (e.g. the number of wavelength elements: a narrower bin holds
        no element); checked before the edges are made.

    Returns
    -------
    numpy.ndarray
        Strictly increasing edges, shape ``(nbins + 1,)``.

    Raises
    ------
    ParameterError
        For an invalid or empty specification, or more than ``max_bins`` bins.
    """
    specs = {"nbins": nbins, "width": width, "resolving_power": resolving_power, "edges": edges}
    given = [k for k, v in specs.items() if v is not None]
    if len(given) != 1:
        raise ParameterError(
            "binning", f"give exactly one of nbins, width, resolving_power, edges (got {given})"
        )
    if edges is not None:
        out = np.asarray(edges, dtype=np.float64).ravel()
        if out.size < 2 or not np.all(np.isfinite(out)) or np.any(np.diff(out) <= 0):
            raise ParameterError("edges", "need >= 2 finite, strictly increasing values")
        return out
    if wmin is None or wmax is None:
        if wavelength is None:
            raise ParameterError("binning", "wmin and wmax are needed without wavelengths")
        lo, hi = element_edges(np.nanmedian(np.atleast_2d(wavelength), axis=0))
        if not np.isfinite(lo).any():
            raise ParameterError("binning", "no finite wavelength to bin")
        wmin = float(np.nanmin(lo)) if wmin is None else wmin
        wmax = float(np.nanmax(hi)) if wmax is None else wmax
    wmin, wmax = float(wmin), float(wmax)
    if not wmax > wmin:
        raise ParameterError("binning", f"wmax ({wmax}) must exceed wmin ({wmin})")
    if nbins is not None:
        if int(nbins) != nbins or nbins < 1:
            raise ParameterError("nbins", f"must be a positive integer, not {nbins!r}")
        _check_count("nbins", int(nbins), max_bins)
        return np.linspace(wmin, wmax, int(nbins) + 1)
    if width is not None:
        if not width > 0:
            raise ParameterError("width", f"must be > 0, not {width!r}")
        n = int(np.floor((wmax - wmin) / width * (1 + _EPS)))
        if n < 1:
            raise ParameterError("width", f"{width} um is wider than the range {wmin}-{wmax}")
        _check_count("bin_width", n, max_bins)
        return wmin + width * np.arange(n + 1)
    if not resolving_power > 0.5:
        raise ParameterError("resolving_power", f"must be > 0.5, not {resolving_power!r}")
    if wmin <= 0:
        raise ParameterError("resolving_power", "needs wmin > 0")
    ratio = (2 * resolving_power + 1) / (2 * resolving_power - 1)
    n = int(np.floor(np.log(wmax / wmin) / np.log(ratio) * (1 + _EPS)))
    if n < 1:
        raise ParameterError("resolving_power", f"R={resolving_power} bins wider than the range")
    _check_count("resolving_power", n, max_bins)
    return wmin * ratio ** np.arange(n + 1)


def _check_count(name: str, n: int, max_bins: int | None) -> None:
    if max_bins is not None and n > max_bins:
        raise ParameterError(
            f"white_light.{name}", f"{n} bins for {max_bins} wavelength elements: a bin "
            "narrower than an element holds no data",
        )  # fmt: skip


def weight_matrix(wavelength: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Fraction of each element inside each bin, shape ``(nbins, nwave)``.

    Parameters
    ----------
    wavelength : numpy.ndarray
        Element wavelengths, shape ``(nwave,)``.
    edges : numpy.ndarray
        Bin edges, shape ``(nbins + 1,)``, increasing.

    Returns
    -------
    numpy.ndarray
        ``W[k, j]`` = overlap of element j's interval with bin k / element j's width
        (0 for NaN elements; a zero-width element counts fully in the bin holding it).
    """
    lo, hi = element_edges(wavelength)
    edges = np.asarray(edges, dtype=np.float64)
    b_lo, b_hi = edges[:-1, None], edges[1:, None]
    overlap = np.clip(np.minimum(hi, b_hi) - np.maximum(lo, b_lo), 0.0, None)
    widths = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(widths > 0, overlap / widths, 0.0)
    point = widths == 0
    if point.any():
        w[:, point] = (lo[point] >= b_lo) & (lo[point] < b_hi)
    return np.nan_to_num(w, nan=0.0)


def bin_spectra(
    wavelength: np.ndarray,
    flux: np.ndarray,
    var: np.ndarray | None,
    edges: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum spectra in wavelength bins, with fractional overlap at bin edges.

    Parameters
    ----------
    wavelength : numpy.ndarray
        ``(nwave,)``, or ``(nints, nwave)`` with identical rows (one grid for all
        integrations, as box extraction gives).
    flux : numpy.ndarray
        ``(nints, nwave)`` per-element fluxes (e.g. Jy).
    var : numpy.ndarray or None
        ``(nints, nwave)`` total variances; None gives NaN errors.
    edges : numpy.ndarray
        Bin edges, ``(nbins + 1,)`` (see :func:`bin_edges`).

    Returns
    -------
    flux_binned, err_binned : numpy.ndarray
        ``(nints, nbins)`` float64; NaN where no finite element contributes.
    npoints : numpy.ndarray
        ``(nints, nbins)`` summed weights of the finite elements (fractional element count).
    """
    wl = np.asarray(wavelength, dtype=np.float64)
    if wl.ndim == 2:
        if not np.array_equal(wl, np.broadcast_to(wl[0], wl.shape), equal_nan=True):
            raise ValueError("bin_spectra needs one wavelength grid for every integration")
        wl = wl[0]
    flux = np.asarray(flux)
    if flux.ndim != 2 or flux.shape[1] != wl.size:
        raise ValueError(f"flux shape {flux.shape} does not match {wl.size} wavelengths")
    # A dense product is used on purpose: BLAS beats scipy.sparse here even though W is
    # almost empty (measured 0.6 s vs 1.1 s for 20000 x 2048 -> 218 bins).
    w = weight_matrix(wl, edges)
    finite = np.isfinite(flux)
    f = np.where(finite, flux, 0.0).astype(np.float64, copy=False)
    binned = f @ w.T
    if finite.all():
        npoints = np.broadcast_to(w.sum(axis=1), binned.shape).copy()
    else:
        npoints = finite.astype(np.float64) @ w.T
    if var is None:
        err = np.full(binned.shape, np.nan)
    else:
        v = np.where(finite, np.asarray(var, dtype=np.float64), 0.0)
        err = np.sqrt(v @ (w * w).T)
    empty = npoints <= 0
    binned[empty] = np.nan
    err[empty] = np.nan
    return binned, err, npoints


def bin_delays(
    wavelength: np.ndarray,
    element_stripe: np.ndarray,
    stripe_delay: np.ndarray,
    edges: np.ndarray,
) -> np.ndarray:
    """When each bin was exposed, relative to the integration's time, for striped readouts.

    A striped readout (SOSS superstripes, NIRSpec PRISM multistripes) exposes each stripe
    of columns at its own time; a bin's time is the mean of its elements' stripe times,
    with the fractional weights of :func:`bin_spectra`.

    Parameters
    ----------
    wavelength : numpy.ndarray
        ``(nwave,)`` (or ``(nints, nwave)`` with identical rows).
    element_stripe : numpy.ndarray
        ``(nwave,)`` stripe number (1-based) of each element; 0 for an element no stripe
        covers (its delay is 0).
    stripe_delay : numpy.ndarray
        ``(nints, nstripes)`` mid time of each stripe minus the integration's mid time.
    edges : numpy.ndarray
        Bin edges, ``(nbins + 1,)``.

    Returns
    -------
    numpy.ndarray
        ``(nints, nbins)`` delays, in the unit of ``stripe_delay``; NaN for a bin that
        holds no element.
    """
    wl = np.asarray(wavelength, dtype=np.float64)
    wl = wl[0] if wl.ndim == 2 else wl
    w = weight_matrix(wl, edges)  # (nbins, nwave)
    stripe = np.asarray(element_stripe, dtype=np.int64)
    delay = np.asarray(stripe_delay, dtype=np.float64)
    # share of each bin's weight in each stripe: (nstripes, nbins)
    share = np.zeros((delay.shape[1], w.shape[0]))
    covered = stripe > 0
    np.add.at(share, stripe[covered] - 1, w[:, covered].T)
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (delay @ share) / np.where(total > 0, total, np.nan)
