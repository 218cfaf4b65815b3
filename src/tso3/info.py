"""``tso3 info``: what a calints/crfints, x1dints, ASN or folder holds."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits

from .errors import InputError


def describe(path: str | os.PathLike) -> str:
    """A short text description of ``path`` (segment, x1dints, ASN JSON or folder).

    Raises
    ------
    InputError
        If the path does not exist or is not something tso3 reads.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file or directory")
    if path.is_dir() or path.suffix.lower() == ".json":
        from .io.observation import load_observation

        return load_observation(path).describe()
    if path.suffix.lower() == ".ecsv":
        return _describe_table(path)
    try:
        with warnings.catch_warnings():  # a truncated file: the error below says it
            warnings.simplefilter("ignore")
            with fits.open(path) as hdul:
                names = [h.name for h in hdul]
    except (OSError, ValueError) as exc:
        raise InputError(path, f"cannot read FITS file ({exc})") from None
    if "EXTRACT1D" in names:
        return _describe_x1dints(path)
    if "SPECLC" in names:
        return _describe_speclc(path)
    return _describe_segment(path)


def _describe_table(path: Path) -> str:
    """A phot.ecsv or whtlt.ecsv light-curve table."""
    from astropy.table import QTable

    try:
        table = QTable.read(path, format="ascii.ecsv")
    except Exception as exc:  # astropy raises many types for malformed tables
        raise InputError(path, f"cannot read ECSV table ({exc})") from None
    lines = [f"{path.name}: table of {len(table)} rows"]
    time_col = next((c for c in table.colnames if c.startswith("MJD")), None)
    if time_col is not None and len(table):
        t = np.asarray(table[time_col], dtype=float)
        span_h = (np.nanmax(t) - np.nanmin(t)) * 24
        lines.append(
            f"time        {time_col} {np.nanmin(t):.6f} - {np.nanmax(t):.6f} ({span_h:.2f} h)"
        )
    meta = {k: v for k, v in table.meta.items() if k != "tso3" and np.isscalar(v)}
    if meta:
        lines.append("meta        " + ", ".join(f"{k}={v}" for k, v in meta.items()))
    if "tso3" in table.meta:
        lines.append(f"made by     tso3 {table.meta['tso3'].get('version')} "
                     f"({table.meta['tso3'].get('mode')} mode)")  # fmt: skip
    for name in table.colnames:
        unit = getattr(table[name], "unit", None)
        lines.append(f"  {name}" + (f" [{unit}]" if unit is not None else ""))
    return "\n".join(lines)


def _describe_segment(path: Path) -> str:
    from .io.segments import read_calints

    slits = read_calints(path)
    seg = slits[0]
    meta = seg.meta
    t = seg.int_times
    element = meta.instrument.grating or meta.instrument.pupil or ""
    kind = "crfints" if meta.cal_step.outlier_detection == "COMPLETE" else "calints"
    return "\n".join(
        [
            f"{path.name}: {kind} segment ({seg.keyword('DATAMODL', 'no DATAMODL')})",
            f"mode        {seg.exp_type}  {meta.instrument.name} {meta.instrument.detector} "
            f"{meta.instrument.filter or ''} {element}",
            f"segment     {meta.exposure.segment_number} of {meta.exposure.segment_total}: "
            f"integrations {seg.intstart}-{seg.intend} of {meta.exposure.nints}",
            *[
                f"shape       {s.shape[0]} x {s.shape[1]} x {s.shape[2]} (nints, ny, nx)"
                + ("" if s.slit is None else f", slit {s.slit} ({s.series})")
                for s in slits
            ],
            f"time        MJD {t['int_mid_MJD_UTC'][0]:.6f} - {t['int_mid_MJD_UTC'][-1]:.6f} UTC",
            f"units       {meta.bunit_data}",
        ]
    )


def _describe_speclc(path: Path) -> str:
    """tso3's binned spectroscopic light curves (``_speclc.fits``)."""
    with fits.open(path) as hdul:
        curves = [h for h in hdul if h.name == "SPECLC"]
        lines = [f"{path.name}: speclc with {len(curves)} set(s) of binned light curves"]
        for hdu in curves:
            data, head = hdu.data, hdu.header
            nbins = int(head.get("NBINS", np.shape(data["FLUX"])[-1] if len(data) else 0))
            mjd = np.asarray(data["MJD_UTC"], float)
            span = (f", MJD {np.nanmin(mjd):.6f} - {np.nanmax(mjd):.6f} UTC"
                    if np.isfinite(mjd).any() else "")  # fmt: skip
            lines.append(
                f"  order {head.get('SPORDER', '?')} {head.get('DETECTOR', '') or ''}: "
                f"{len(data)} integrations x {nbins} bins{span}"
            )
    return "\n".join(lines)


def _describe_x1dints(path: Path) -> str:
    from .io.x1dints import read_x1dints

    x1d = read_x1dints(path)
    layout = {"tso": "", "legacy": ", pre-2025 layout (one EXTRACT1D per integration)"}
    lines = [
        f"{path.name}: x1dints with {len(x1d.spectra)} spectrum table(s)"
        + layout.get(x1d.layout, f", {x1d.layout} layout")
    ]
    mjd = np.concatenate([np.asarray(s.times.get("mjd_avg", []), float) for s in x1d.spectra])
    if np.isfinite(mjd).any():
        lo, hi = np.nanmin(mjd), np.nanmax(mjd)
        lines.append(f"time        MJD {lo:.6f} - {hi:.6f} UTC ({(hi - lo) * 24:.2f} h)")
    for s in x1d.spectra:
        wl = np.asarray(s.wavelength, dtype=float)
        lines.append(
            f"  segment {s.segment} order {s.spectral_order} {s.series or ''}: "
            f"{s.nints} integrations x {s.nwave} wavelengths "
            f"({np.nanmin(wl):.3f}-{np.nanmax(wl):.3f} um), flux in {s.flux_unit}"
        )
    return "\n".join(lines)
