"""White-light stage: ``whtlt.ecsv`` (and binned ``speclc.fits``) from extracted spectra,
in a pipeline run or from an existing x1dints file (``tso3 whitelight``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.table import QTable

from .. import __version__
from ..config import WhiteLightParams, parse_set_options, resolve_parameters
from ..errors import OutputExistsError, ParameterError
from ..io.atomic import StagedOutputs
from ..io.lightcurves import write_speclc, write_whitelight_table
from ..io.x1dints_read import read_x1dints
from ..spectra import SpectraSet
from ..steps.binning import SpecLightCurve, bin_edges, binned_light_curves
from ..steps.whitelight import white_light_table
from ..summary import light_curve_scatter_ppm

log = logging.getLogger(__name__)


@dataclass
class LightCurves:
    """The white-light table, binned light curves (if asked for) and the scatter."""

    table: QTable
    binned: list[SpecLightCurve] = field(default_factory=list)
    scatter_ppm: float = float("nan")


def _binning_requested(p: WhiteLightParams) -> bool:
    return any(v is not None for v in (p.nbins, p.bin_width, p.resolving_power, p.bin_edges))


def _order_value(value, order: int) -> float | None:
    if isinstance(value, Mapping):
        picked = {int(k): v for k, v in value.items()}.get(order)
        return None if picked is None else float(picked)
    return None if value is None else float(value)


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
            wmin=_order_value(p.min_wavelength, order),
            wmax=_order_value(p.max_wavelength, order),
        )
    return edges


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
    """
    table = white_light_table(
        spectra,
        min_wavelength=params.min_wavelength,
        max_wavelength=params.max_wavelength,
        mode=mode,
        meta=primary,
    )
    if provenance:
        table.meta["tso3"] = provenance
    binned = []
    if _binning_requested(params):
        binned = binned_light_curves(spectra, _edges_per_order(spectra, params))
        for curve in binned:
            log.info(
                "%s order %d: %d spectroscopic light curves %.3f-%.3f um",
                curve.detector or "spectrum", curve.spectral_order, curve.centres.size,
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
            meta.update(TSO3VER=tso3.get("version"), TSO3MODE=tso3.get("mode"))
        write_speclc(speclc, curves.binned, meta)


def product_base(x1dints: str | os.PathLike) -> str:
    """``jw..._x1dints.fits`` -> ``jw...`` (the product name)."""
    name = Path(x1dints).name
    for suffix in ("_x1dints.fits", ".fits"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def whitelight_from_x1dints(
    x1dints: str | os.PathLike,
    output_dir: str | os.PathLike = ".",
    *,
    overrides: Iterable[str] | Mapping = (),
    mode: str = "default",
    overwrite: bool = False,
) -> list[Path]:
    """White light (and binned curves) from an existing x1dints file, either layout.

    Parameters
    ----------
    x1dints : path-like
        A ``*_x1dints.fits`` from tso3 or from the archive (current or pre-2025 layout).
    output_dir : path-like
        Where ``<product>_whtlt.ecsv`` (and ``<product>_speclc.fits``) go.
    overrides : iterable of str or mapping
        ``white_light.PARAM=VALUE`` settings.
    mode : {"default", "jwst"}
    overwrite : bool
        Replace existing files instead of refusing.

    Returns
    -------
    list of Path
        The files written.
    """
    steps = overrides if isinstance(overrides, Mapping) else parse_set_options(overrides)
    for step in steps:
        if step != "white_light":
            raise ParameterError(
                f"{step}", "tso3 whitelight only takes white_light.PARAM=VALUE settings"
            )
    params = resolve_parameters(None, steps).white_light
    provenance = {
        "version": __version__,
        "mode": mode,
        "parameters": {"white_light": resolve_parameters(None, steps).as_dict()["white_light"]},
    }
    data = read_x1dints(x1dints)
    out = Path(output_dir)
    base = product_base(x1dints)
    whtlt, speclc = out / f"{base}_whtlt.ecsv", out / f"{base}_speclc.fits"
    planned = [whtlt] + ([speclc] if _binning_requested(params) else [])
    if not overwrite:
        for path in planned:
            if path.exists():
                raise OutputExistsError(f"{path}: product exists; use --overwrite")
    curves = measure(data.spectra, data.primary, params, mode=mode, provenance=provenance)
    out.mkdir(parents=True, exist_ok=True)
    staged = StagedOutputs()
    try:
        write(
            curves,
            staged.reserve(whtlt),
            staged.reserve(speclc) if curves.binned else None,
        )
        staged.commit()
    except BaseException:
        staged.abort()
        raise
    return [whtlt, speclc] if curves.binned else [whtlt]
