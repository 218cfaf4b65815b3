"""White-light curves: the sum of each integration's spectrum over a wavelength range.

Pure functions on arrays and on lists of spectra (any objects with the attributes of a
:class:`tso3.spectra.SpectraSet` listed in :func:`white_light_table`); no file access.

Differences from jwst 3.0.0 ``white_light`` (``mode="jwst"`` keeps its numbers):

- default mode returns NaN (not 0.0) for an integration with no finite in-range element, and
  an uncertainty propagated from the variances (``whitelight_flux_err`` columns);
- per-order wavelength ranges apply to their own order (jwst reuses order 1's range for
  every order);
- duplicate time stamps are dropped from the table without touching the input spectra (jwst
  sets them to NaN inside the x1dints table before saving it);
- rows are sorted by time, so segments given out of order still give a monotonic table.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from astropy import units as u
from astropy.table import QTable

from tso3.errors import ParameterError

from . import MODES

log = logging.getLogger(__name__)

__all__ = ["white_light_flux", "white_light_table"]

# rows per block: bounds the temporaries to a few tens of MB for 2048-element spectra
_BLOCK = 4096

Range = float | Mapping[int, float] | None


def _deduplicated(groups: dict) -> dict[str, dict[int, tuple[np.ndarray, ...]]]:
    """Each (series, order)'s (mjd, tdb, flux, error), its parts joined and every time
    after its first occurrence dropped (as jwst keeps the first, without editing the
    input), NaN times dropped; said in the log."""
    out: dict[str, dict[int, tuple[np.ndarray, ...]]] = {}
    for det, per_order in groups.items():
        for order, parts in per_order.items():
            mjd, tdb, total, err = (np.concatenate(p) for p in zip(*parts, strict=True))
            keep = _first_unique(mjd)
            dropped = int(np.count_nonzero(~np.isnan(mjd)) - keep.sum())
            if dropped:
                log.warning("white light %s order %d: %d duplicate times", det, order, dropped)
            if not np.isfinite(mjd).any():
                log.warning("white light %s order %d: no integration times, no rows", det, order)
            out.setdefault(det, {})[order] = (mjd[keep], tdb[keep], total[keep], err[keep])
    return out


def _on_times(times: np.ndarray, curves: dict) -> tuple[np.ndarray, dict]:
    """BJD at ``times`` (the first order that has it) and each order's flux and error
    there (NaN where the order has none)."""
    bjd = np.full(times.shape, np.nan)
    values = {}
    for order, (mjd, tdb, total, err) in curves.items():
        idx = np.searchsorted(times, mjd)
        bjd_missing = np.isnan(bjd[idx])
        bjd[idx[bjd_missing]] = tdb[bjd_missing]
        f = np.full(times.shape, np.nan)
        e = np.full(times.shape, np.nan)
        f[idx], e[idx] = total, err
        values[order] = (f, e)
    return bjd, values


def _combined(curves: dict, orders: list[int]) -> dict[str, np.ndarray]:
    """The white light of several series summed (NIRCam DHS stripes: the whole light).

    At the times every series has (the stripes of one exposure share its INT_TIMES);
    NaN where a series has no flux, rather than a sum of some of them.
    """
    times = np.unique(np.concatenate([c[0] for per in curves.values() for c in per.values()]))
    placed = [_on_times(times, per) for per in curves.values()]
    bjd = np.full(times.shape, np.nan)
    for series_bjd, _ in placed:  # the first series that has a time gives its BJD
        bjd = np.where(np.isnan(bjd), series_bjd, bjd)
    out = {"MJD_UTC": times, "BJD_TDB": bjd}
    empty = (np.full(times.shape, np.nan),) * 2
    for order in orders:
        parts = [values.get(order, empty) for _, values in placed]
        o = f"_order_{order}" if len(orders) > 1 else ""
        out[f"whitelight_flux{o}"] = sum(f for f, _ in parts)
        out[f"whitelight_flux_err{o}"] = np.sqrt(sum(e**2 for _, e in parts))
    return out


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ParameterError("mode", f"must be one of {MODES}, not {mode!r}")


def white_light_flux(
    wavelength: np.ndarray,
    flux: np.ndarray,
    var: np.ndarray | None = None,
    *,
    min_wavelength: float | None = None,
    max_wavelength: float | None = None,
    mode: str = "default",
) -> tuple[np.ndarray, np.ndarray]:
    """Sum each integration's spectrum between two wavelengths (bounds inclusive).

    Parameters
    ----------
    wavelength : numpy.ndarray
        Shape ``(nwave,)`` or ``(nints, nwave)``, microns; NaN never counts as in range.
    flux : numpy.ndarray
        Shape ``(nints, nwave)``; summed as is (a plain sum of per-element fluxes, as jwst
        does, no wavelength-width weighting).
    var : numpy.ndarray or None
        Total variance of each flux element, same shape as ``flux``; None gives NaN errors.
    min_wavelength, max_wavelength : float or None
        Inclusive bounds; None means unbounded.
    mode : {"default", "jwst"}
        ``"default"``: NaN for an integration without any finite in-range flux.
        ``"jwst"``: plain ``nansum``, so such an integration gives 0.0 like jwst.

    Returns
    -------
    flux_sum, flux_err : numpy.ndarray
        Shape ``(nints,)``, float64.  ``flux_err = sqrt(sum var)`` over the elements summed
        (NaN if one of them has a NaN variance, or when no element is summed in default mode).
    """
    _check_mode(mode)
    flux = np.asarray(flux)
    if flux.ndim != 2:
        raise ValueError(f"flux must be 2-D (nints, nwave), got shape {flux.shape}")
    wl = np.asarray(wavelength)
    in_range = np.isfinite(wl)
    if min_wavelength is not None:
        in_range &= wl >= min_wavelength
    if max_wavelength is not None:
        in_range &= wl <= max_wavelength
    in_range = np.broadcast_to(in_range, flux.shape)
    nints = flux.shape[0]
    total = np.empty(nints)
    err = np.empty(nints)
    count = np.empty(nints, dtype=np.int64)
    for start in range(0, nints, _BLOCK):
        rows = slice(start, start + _BLOCK)
        f = flux[rows]
        use = in_range[rows] & np.isfinite(f)
        total[rows] = np.where(use, f, 0.0).sum(axis=1, dtype=np.float64)
        count[rows] = use.sum(axis=1)
        if var is None:
            err[rows] = np.nan
        else:
            v = np.asarray(var[rows], dtype=np.float64)
            err[rows] = np.sqrt(np.where(use, v, 0.0).sum(axis=1))
    if mode == "default":
        empty = count == 0
        total[empty] = np.nan
        err[empty] = np.nan
    return total, err


def value_for_order(value: Range, order: int, name: str) -> float | None:
    """The wavelength limit of ``order``: ``value`` itself, or its entry for the order.

    ``value`` is a number, ``{order: number}`` (keys may be strings, as TOML and
    ``--set`` give them) or None; ``name`` is the parameter named in an error.
    """
    if value is None:
        return None
    if isinstance(value, Mapping):
        # keys may come from TOML/--set as strings
        lookup = {int(k): v for k, v in value.items()}
        picked = lookup.get(int(order))
        return None if picked is None else float(picked)
    try:
        return float(value)
    except (TypeError, ValueError):
        problem = f"must be a number or {{order: number}}, not {value!r}"
        raise ParameterError(name, problem) from None


def _first_unique(t: np.ndarray) -> np.ndarray:
    """Mask of rows that are the first occurrence of a non-NaN time value."""
    keep = ~np.isnan(t)
    _, first = np.unique(t[keep], return_index=True)
    mask = np.zeros(t.shape, dtype=bool)
    mask[np.flatnonzero(keep)[first]] = True
    return mask


def _unit(flux_unit: str):
    try:
        return u.Unit(flux_unit) if flux_unit else None
    except ValueError:
        return u.Unit(flux_unit, parse_strict="silent")


def white_light_table(
    spectra: Sequence[Any],
    *,
    min_wavelength: Range = None,
    max_wavelength: Range = None,
    mode: str = "default",
    meta: Mapping[str, object] | None = None,
) -> QTable:
    """Build the ``whtlt`` table from every spectrum of an observation.

    Parameters
    ----------
    spectra : sequence of SpectraSet-like
        All segments x orders x detectors (any order; rows are sorted by time).  Each item
        is a :class:`tso3.spectra.SpectraSet` or any object with its attributes used here:
        ``wavelength`` ``(nwave,)`` or ``(nints, nwave)``; ``flux``,
        ``flux_var_poisson``, ``flux_var_rnoise``, ``flux_var_flat`` ``(nints, nwave)``;
        ``nints`` (int); ``times`` (mapping with ``mjd_avg`` and ``tdb_mid``, each
        ``(nints,)``; NaN times when absent); ``spectral_order`` (int); ``detector`` and
        ``flux_unit`` (str).
    min_wavelength, max_wavelength : float, dict {order: float} or None
        Inclusive range in microns; a dict gives one value per spectral order (orders missing
        from it are unbounded on that side).
    mode : {"default", "jwst"}
        See :func:`white_light_flux`.
    meta : mapping or None
        Table meta, copied as given (the pipeline passes
        :func:`tso3.formats.whitelight_meta` of the primary header).

    Returns
    -------
    astropy.table.QTable
        Per detector (first-seen order): ``MJD_UTC{d}``, ``BJD_TDB{d}``, then per order
        ``whitelight_flux{o}{d}`` and ``whitelight_flux_err{o}{d}``.  ``{d}`` is
        ``"_" + DETECTOR`` when there are several detectors or the detector is NRS1/NRS2
        (``"_STRIPE<n>"`` for the stripes of NIRCam DHS, the ``series`` of a SpectraSet;
        their sum comes first, in columns without a suffix, NaN where a stripe has none);
        ``{o}`` is ``"_order_N"`` when there are several orders.  Detectors with fewer rows
        are NaN-padded at the end; an order missing at a time of its detector is NaN, and
        a detector without an order has all-NaN columns for it (as jwst writes them).
        ``meta`` holds ``meta`` plus ``number_of_integrations`` (the row count).
    """
    _check_mode(mode)
    if not spectra:
        raise ValueError("white_light_table needs at least one SpectraSet")
    # (detector, order) -> list of per-set arrays, in input order
    groups: dict[str, dict[int, list[tuple[np.ndarray, ...]]]] = {}
    units: dict[tuple[str, int], str] = {}
    orders_seen: list[int] = []
    for s in spectra:
        order = int(s.spectral_order)
        wmin = value_for_order(min_wavelength, order, "white_light.min_wavelength")
        wmax = value_for_order(max_wavelength, order, "white_light.max_wavelength")
        var = s.flux_var_poisson + s.flux_var_rnoise + s.flux_var_flat
        total, err = white_light_flux(
            s.wavelength, s.flux, var, min_wavelength=wmin, max_wavelength=wmax, mode=mode
        )
        nan = np.full(s.nints, np.nan)
        mjd = np.asarray(s.times.get("mjd_avg", nan), np.float64)
        tdb = np.asarray(s.times.get("tdb_mid", nan), np.float64)
        series = getattr(s, "series", s.detector)
        groups.setdefault(series, {}).setdefault(order, []).append((mjd, tdb, total, err))
        units.setdefault((series, order), s.flux_unit)
        if order not in orders_seen:
            orders_seen.append(order)

    detectors = list(groups)
    many_orders = len(orders_seen) > 1
    columns: dict[str, np.ndarray] = {}
    col_units: dict[str, object] = {}
    n_rows = 0
    curves = _deduplicated(groups)
    stripes = len(detectors) > 1 and all(getattr(s, "slit", None) is not None for s in spectra)
    if stripes:  # NIRCam DHS: the light of every stripe together first
        combined = _combined(curves, orders_seen)
        n_rows = len(combined["MJD_UTC"])
        columns.update(combined)
        for order in orders_seen:
            o = f"_order_{order}" if many_orders else ""
            unit = _unit(next(u for (_, o2), u in units.items() if o2 == order))
            col_units[f"whitelight_flux{o}"] = col_units[f"whitelight_flux_err{o}"] = unit
    for det in detectors:
        d = f"_{det}" if len(detectors) > 1 or det in ("NRS1", "NRS2") else ""
        per_order = curves[det]
        times = np.unique(np.concatenate([v[0] for v in per_order.values()]))
        bjd, order_cols = _on_times(times, per_order)
        columns[f"MJD_UTC{d}"] = times
        columns[f"BJD_TDB{d}"] = bjd
        for order in orders_seen:
            # every order x detector, as jwst: all NaN where a detector lacks the order
            o = f"_order_{order}" if many_orders else ""
            unit = _unit(units.get((det, order), next(iter(units.values()))))
            empty = np.full(times.shape, np.nan)
            flux, err = order_cols.get(order, (empty, empty))
            columns[f"whitelight_flux{o}{d}"], columns[f"whitelight_flux_err{o}{d}"] = flux, err
            col_units[f"whitelight_flux{o}{d}"] = col_units[f"whitelight_flux_err{o}{d}"] = unit
        n_rows = max(n_rows, len(times))

    table = QTable()
    for name, values in columns.items():
        padded = np.full(n_rows, np.nan)
        padded[: len(values)] = values
        unit = col_units.get(name)
        table[name] = padded * unit if unit is not None else padded
        if name.startswith("BJD_TDB"):
            table[name].info.description = "mid-integration BJD_TDB - 2400000.5 (days)"
        elif name.startswith("MJD_UTC"):
            table[name].info.description = "mid-integration MJD (UTC)"
    table.meta.update(meta or {})
    table.meta["number_of_integrations"] = n_rows
    return table
