"""White-light stage: the ``whtlt`` table (and binned ``speclc`` curves) of extracted spectra.

``measure`` (white light of every spectrum, binned light curves when a binning is set)
-> ``write``.  Used by the pipeline and by ``tso3 whitelight``
(:mod:`tso3.commands.whitelight`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.table import QTable

from ..config import WhiteLightParams
from ..errors import ParameterError
from ..formats import PROVENANCE_KEYWORDS, whitelight_meta
from ..io.lightcurves import write_speclc, write_whitelight_table
from ..spectra import SpecLightCurve, SpectraSet
from ..steps.binning import bin_delays, bin_edges, bin_spectra
from ..steps.whitelight import value_for_order, white_light_table
from ..summary import light_curve_scatter_ppm

log = logging.getLogger(__name__)


@dataclass
class LightCurves:
    """The white-light table, binned light curves (if asked for) and the scatter."""

    table: QTable
    binned: list[SpecLightCurve] = field(default_factory=list)
    scatter_ppm: float = float("nan")


def binning_requested(params: WhiteLightParams) -> bool:
    """Whether ``params`` sets a binning (so that binned light curves are made).

    Parameters
    ----------
    params : WhiteLightParams

    Returns
    -------
    bool
        True when one of ``nbins``, ``bin_width``, ``resolving_power``, ``bin_edges`` is set.
    """
    p = params
    return any(v is not None for v in (p.nbins, p.bin_width, p.resolving_power, p.bin_edges))


def _edges_per_order(spectra: Sequence[SpectraSet], p: WhiteLightParams) -> dict[int, np.ndarray]:
    edges = {}
    for s in spectra:
        order = int(s.spectral_order)
        if order in edges:
            continue
        edges[order] = bin_edges(
            s.wavelength,
            nbins=p.nbins,
            width=p.bin_width,
            resolving_power=p.resolving_power,
            edges=p.bin_edges,
            wmin=value_for_order(p.min_wavelength, order, "white_light.min_wavelength"),
            wmax=value_for_order(p.max_wavelength, order, "white_light.max_wavelength"),
            max_bins=int(np.count_nonzero(np.isfinite(np.atleast_2d(s.wavelength)[0]))),
        )
    return edges


def binned_light_curves(
    spectra: Sequence[SpectraSet], edges: np.ndarray | dict[int, np.ndarray]
) -> list[SpecLightCurve]:
    """Bin every spectrum, one light-curve set per (series, order): per detector, or per
    stripe of NIRCam DHS (:attr:`tso3.spectra.SpectraSet.series`).

    Parameters
    ----------
    spectra : sequence of SpectraSet
        All segments; those of one detector and order must share a wavelength grid.
    edges : numpy.ndarray or dict {order: numpy.ndarray}
        Bin edges, or one set per spectral order (see :func:`tso3.steps.binning.bin_edges`).

    Returns
    -------
    list of SpecLightCurve
        In first-seen (detector, order) order; rows sorted by MJD, duplicate times (after
        the first) and NaN times dropped, like the white-light table.
    """
    groups: dict[tuple[str, int], list[SpectraSet]] = {}
    for s in spectra:
        groups.setdefault((s.series, int(s.spectral_order)), []).append(s)
    out = []
    for (_, order), sets in groups.items():
        e = np.asarray(edges[order] if isinstance(edges, dict) else edges, dtype=np.float64)
        parts = []
        striped = all(s.element_stripe is not None for s in sets)
        for s in sets:
            var = s.flux_var_poisson + s.flux_var_rnoise + s.flux_var_flat
            f, err, npts = bin_spectra(s.wavelength, s.flux, var, e)
            nan = np.full(s.nints, np.nan)
            mjd = np.asarray(s.times.get("mjd_avg", nan), np.float64)
            tdb = np.asarray(s.times.get("tdb_mid", nan), np.float64)
            delay = (
                bin_delays(s.wavelength, s.element_stripe, s.stripe_delay, e)
                if striped else np.zeros((s.nints, 0))
            )  # fmt: skip
            parts.append((mjd, tdb, np.asarray(s.int_num), f, err, npts, delay))
        mjd, tdb, num, f, err, npts, delay = (np.concatenate(p) for p in zip(*parts, strict=True))
        valid = np.flatnonzero(~np.isnan(mjd))
        _, first = np.unique(mjd[valid], return_index=True)  # sorted, first occurrence
        rows = valid[first]
        out.append(
            SpecLightCurve(
                edges=e,
                centres=0.5 * (e[1:] + e[:-1]),
                mjd_utc=mjd[rows],
                bjd_tdb=tdb[rows],
                int_num=num[rows],
                flux=f[rows],
                flux_err=err[rows],
                npoints=npts[rows],
                spectral_order=order,
                detector=sets[0].detector,
                slit=sets[0].slit,
                flux_unit=sets[0].flux_unit,
                bin_delay=delay[rows] if striped else None,
            )
        )
    return out


def check_wavelength_range(spectra: Sequence[SpectraSet], params: WhiteLightParams) -> None:
    """ParameterError when min/max_wavelength leave no wavelength of some order.

    The message gives the range the data cover, so the user can pick a valid one.
    """
    covered: dict[int, tuple[float, float]] = {}
    for s in spectra:
        wl = np.asarray(s.wavelength, dtype=np.float64)
        if not np.isfinite(wl).any():
            continue
        lo, hi = covered.get(int(s.spectral_order), (np.inf, -np.inf))
        covered[int(s.spectral_order)] = (min(lo, np.nanmin(wl)), max(hi, np.nanmax(wl)))
    for order, (lo, hi) in covered.items():
        wmin = value_for_order(params.min_wavelength, order, "white_light.min_wavelength")
        wmax = value_for_order(params.max_wavelength, order, "white_light.max_wavelength")
        low = lo if wmin is None else max(lo, wmin)
        high = hi if wmax is None else min(hi, wmax)
        if low > high:
            given = f"{'-' if wmin is None else wmin}..{'-' if wmax is None else wmax} um"
            label = f" order {order}" if len(covered) > 1 else ""
            raise ParameterError(
                "white_light.min_wavelength/max_wavelength",
                f"{given} selects no wavelength: the data{label} cover {lo:.4g}-{hi:.4g} um",
            )


def measure(
    spectra: Sequence[SpectraSet],
    primary: Mapping[str, object],
    params: WhiteLightParams,
    *,
    mode: str = "default",
    provenance: dict | None = None,
) -> LightCurves:
    """White light (and binned light curves when a binning is set) of all spectra.

    Parameters
    ----------
    spectra : sequence of SpectraSet
        Every segment x order x detector.
    primary : mapping
        Primary header keywords (INSTRUME ... TARGNAME) for the table meta.
    params : WhiteLightParams
        ``min_wavelength``/``max_wavelength`` (number or ``{order: number}``) and the
        binning (``nbins``, ``bin_width``, ``resolving_power`` or ``bin_edges``).
    mode : {"default", "jwst"}
    provenance : dict, optional
        Recorded in the table meta under ``tso3``.

    Returns
    -------
    LightCurves

    Raises
    ------
    ParameterError
        When the wavelength range selects no wavelength of an order.
    """
    check_wavelength_range(spectra, params)
    table = white_light_table(
        spectra,
        min_wavelength=params.min_wavelength,
        max_wavelength=params.max_wavelength,
        mode=mode,
        meta=whitelight_meta(primary),
    )
    if provenance:
        table.meta["tso3"] = provenance
    binned = []
    if binning_requested(params):
        binned = binned_light_curves(spectra, _edges_per_order(spectra, params))
        for curve in binned:
            log.info(
                "%s order %d: %d spectroscopic light curves %.3f-%.3f um",
                curve.series or "spectrum", curve.spectral_order, curve.centres.size,
                curve.edges[0], curve.edges[-1],
            )  # fmt: skip
    flux_col = next(c for c in table.colnames if c.startswith("whitelight_flux"))
    scatter = light_curve_scatter_ppm(np.asarray(table[flux_col].value))
    return LightCurves(table, binned, scatter)


def write(curves: LightCurves, whtlt: Path, speclc: Path | None) -> None:
    """Write ``whtlt.ecsv`` and, when there are binned curves, ``speclc.fits``."""
    write_whitelight_table(curves.table, whtlt)
    if curves.binned and speclc is not None:
        meta = {k: v for k, v in curves.table.meta.items() if np.isscalar(v)}
        tso3 = curves.table.meta.get("tso3") or {}
        if tso3:
            meta.update({PROVENANCE_KEYWORDS[k]: tso3.get(k) for k in ("version", "mode")})
        write_speclc(speclc, curves.binned, meta)
