"""Reading ``*_x1dints.fits``: the current TSOMultiSpecModel layout and the pre-2025 layout.

Uses astropy directly (faster than building a datamodel, and it copes with the old layout of
one EXTRACT1D per integration with scalar columns).  :mod:`tso3.io.x1dints` re-exports
:func:`read_x1dints`; the format is described in ``docs/products.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
from astropy.io import fits

from tso3.errors import InputError
from tso3.formats import DHS_SUBARRAYS, INT_TIMES_DTYPE, TIME_COLUMNS, VECTOR_COLUMNS
from tso3.spectra import SpectraSet

__all__ = ["TRACE_CENTRE_HDU", "TRACE_HDU", "X1dInts", "open_fits", "read_x1dints"]

# INT_TIMES column feeding each per-row time column, as jwst's populate_time_keywords does
_INT_TIMES_FOR = {
    "mjd_beg": "int_start_MJD_UTC",
    "mjd_avg": "int_mid_MJD_UTC",
    "mjd_end": "int_end_MJD_UTC",
    "tdb_beg": "int_start_BJD_TDB",
    "tdb_mid": "int_mid_BJD_TDB",
    "tdb_end": "int_end_BJD_TDB",
}
# Header cards that describe the table structure, not the spectrum
_STRUCTURAL = ("XTENSION", "BITPIX", "NAXIS", "PCOUNT", "GCOUNT", "TFIELDS", "EXTNAME", "EXTVER")
_STRUCTURAL_PREFIX = ("TTYPE", "TFORM", "TUNIT", "TDIM", "TZERO", "TSCAL", "TNULL", "TDISP")
# Old-layout per-extension keywords that become per-row values on reading
_ROW_KEYWORDS = ("INT_NUM", *TIME_COLUMNS.values())
TRACE_HDU = "TSO3_TRACE"
TRACE_CENTRE_HDU = "TSO3_TRACE_CENTRE"


@dataclass
class X1dInts:
    """Contents of an x1dints file.

    Attributes
    ----------
    spectra : list of SpectraSet
        One per EXTRACT1D extension (current layout), or one per (order, detector, slit)
        group of extensions (pre-2025 layout, one extension per integration).
    int_times : numpy.ndarray or None
        INT_TIMES rows (structured, :data:`tso3.formats.INT_TIMES_DTYPE`), None when absent.
    primary : dict
        Primary header keywords.
    layout : str
        ``"tso"`` (TSOMultiSpecModel, jwst >= 1.19) or ``"legacy"`` (one extension per
        integration).
    """

    spectra: list[SpectraSet]
    int_times: np.ndarray | None
    primary: dict[str, object] = field(default_factory=dict)
    layout: str = "tso"


# ---------------------------------------------------------------------------------------
# reading


def _extension_meta(header: fits.Header) -> dict[str, object]:
    meta = {}
    for key, value in header.items():
        if not key or key in ("COMMENT", "HISTORY") or key in _STRUCTURAL:
            continue
        if key.startswith(_STRUCTURAL_PREFIX) or key.startswith("NAXIS"):
            continue
        if key in ("SPORDER", "DETECTOR") or key in _ROW_KEYWORDS:
            continue
        meta[key] = value
    return meta


def _units(columns: fits.ColDefs) -> tuple[str, str]:
    names = {c.name.upper(): c for c in columns}
    flux = names.get("FLUX")
    sb = names.get("SURF_BRIGHT")
    return (flux.unit or "" if flux is not None else ""), (sb.unit or "" if sb is not None else "")


def _times_from_int_times(int_times: np.ndarray | None, int_num: np.ndarray) -> dict | None:
    """Per-row times looked up in INT_TIMES by integration number (None if not all found)."""
    if int_times is None or len(int_times) == 0:
        return None
    numbers = np.asarray(int_times["integration_number"])
    order = np.argsort(numbers, kind="stable")
    pos = np.searchsorted(numbers[order], int_num)
    pos = np.clip(pos, 0, len(numbers) - 1)
    idx = order[pos]
    if not np.array_equal(numbers[idx], int_num):
        return None
    return {a: np.asarray(int_times[c], np.float64)[idx] for a, c in _INT_TIMES_FOR.items()}


def _set_from_columns(data, header, n_along=None, **fixed) -> SpectraSet:
    """Build a SpectraSet from (nrows, nwave) column arrays of one EXTRACT1D group."""
    cols = {}
    for name in VECTOR_COLUMNS:
        key = name.upper()
        if key in data:
            cols[name] = data[key]
        elif name != "flux_error":
            fill = 0 if name in ("dq", "npixels") else np.nan
            cols[name] = np.full(data["FLUX"].shape, fill)
    nmax = cols["flux"].shape[1]
    if n_along is not None and len(n_along):
        nmax = int(max(n_along.max(), 0))
    for name, values in cols.items():
        values = np.asarray(values)[:, :nmax]
        if name == "dq":
            cols[name] = values.astype(np.uint32)
        else:
            cols[name] = values.astype(np.float64)
    cols.pop("flux_error", None)
    cols.pop("sb_error", None)
    cols.pop("bkgd_error", None)
    wl = cols.pop("wavelength")
    # box extraction has one wavelength grid: keep it 1-D (as extraction produces it)
    if len(wl) and np.array_equal(wl, np.broadcast_to(wl[0], wl.shape), equal_nan=True):
        wl = wl[0].copy()
    return SpectraSet(wavelength=wl, **cols, meta=_extension_meta(header), **fixed)


def _read_tso(ext_hdus, slits: bool = False) -> list[SpectraSet]:
    """One SpectraSet per EXTRACT1D; ``slits``: NIRCam DHS, whose SLTNAME names the
    stripe (a series of its own, :attr:`tso3.spectra.SpectraSet.series`)."""
    spectra = []
    for hdu in ext_hdus:
        data = hdu.data
        names = [c.upper() for c in data.columns.names]
        table = {n: np.asarray(data[n]) for n in names}
        for n in VECTOR_COLUMNS:
            if n.upper() in table and table[n.upper()].ndim == 1:
                table[n.upper()] = table[n.upper()][:, None]
        flux_unit, sb_unit = _units(data.columns)
        times = {a: np.asarray(table[c], np.float64) for a, c in TIME_COLUMNS.items() if c in table}
        segments = np.unique(table["SEGMENT"]) if "SEGMENT" in table else np.array([1])
        spectra.append(
            _set_from_columns(
                table,
                hdu.header,
                n_along=table.get("N_ALONGDISP"),
                int_num=np.asarray(table["INT_NUM"], np.int64),
                segment=int(segments[0]) if len(segments) else 1,
                spectral_order=int(hdu.header.get("SPORDER", 1) or 1),
                detector=str(hdu.header.get("DETECTOR", "") or ""),
                slit=str(hdu.header.get("SLTNAME", "")) if slits else None,
                flux_unit=flux_unit,
                sb_unit=sb_unit,
                times=times,
            )
        )
    return spectra


def _read_legacy(primary, ext_hdus, int_times) -> list[SpectraSet]:
    """Old layout: one EXTRACT1D per integration; group by (order, detector, slit)."""
    groups: dict[tuple, list] = {}
    for hdu in ext_hdus:
        h = hdu.header
        key = (
            int(h.get("SPORDER", 1) or 1),
            str(h.get("DETECTOR", primary.get("DETECTOR", "")) or ""),
            str(h.get("SLTNAME", "") or ""),
        )
        groups.setdefault(key, []).append(hdu)
    spectra = []
    for (order, detector, _), hdus in groups.items():
        nmax = max(len(h.data) for h in hdus)
        n = len(hdus)
        names = [c.upper() for c in hdus[0].data.columns.names]
        table = {}
        for name in names:
            if name in _ROW_KEYWORDS:
                continue
            fill = 1 if name == "DQ" else (0 if name == "NPIXELS" else np.nan)
            arr = np.full((n, nmax), fill, dtype=np.uint32 if name == "DQ" else np.float64)
            for i, h in enumerate(hdus):
                arr[i, : len(h.data)] = h.data[name]
            table[name] = arr
        n_along = np.array([len(h.data) for h in hdus])
        int_num = np.array(
            [h.header.get("INT_NUM", i + 1) for i, h in enumerate(hdus)], dtype=np.int64
        )
        times = _times_from_int_times(int_times, int_num)
        if times is None:
            times = {
                attr: np.array([h.header.get(col, np.nan) for h in hdus], np.float64)
                for attr, col in TIME_COLUMNS.items()
            }
        flux_unit, sb_unit = _units(hdus[0].data.columns)
        spectra.append(
            _set_from_columns(
                table,
                hdus[0].header,
                n_along=n_along,
                int_num=int_num,
                segment=int(primary.get("EXSEGNUM", 1) or 1),
                spectral_order=order,
                detector=detector,
                flux_unit=flux_unit,
                sb_unit=sb_unit,
                times=times,
            )
        )
    return spectra


def _attach_trace(hdul: fits.HDUList, spectra: list[SpectraSet]) -> None:
    if TRACE_HDU not in hdul:
        return
    data = hdul[TRACE_HDU].data
    ext = np.asarray(data["SPEC_EXT"])
    for index, s in enumerate(spectra, start=1):
        rows = ext == index
        if not rows.any():
            continue
        if rows.sum() != s.nints:
            raise ValueError(f"{TRACE_HDU} has {rows.sum()} rows for EXTRACT1D {index}")
        name = "TRACE_OFFSET" if "TRACE_OFFSET" in data.columns.names else "TRACE_POS"  # <= 0.1
        pos = np.asarray(data[name][rows], np.float64)
        width = np.asarray(data["TRACE_WIDTH"][rows], np.float64)
        rep = np.asarray(data["N_REPAIRED"][rows], np.int64)
        s.trace_position = None if np.isnan(pos).all() else pos
        s.trace_width = None if np.isnan(width).all() else width
        s.n_repaired = None if (rep < 0).all() else rep


def open_fits(path: str | os.PathLike, *, memmap: bool = False) -> fits.HDUList:
    """Open a FITS product, or say in one line why it cannot be (InputError)."""
    try:
        return fits.open(path, memmap=memmap)
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (OSError, ValueError) as exc:
        raise InputError(path, f"not a readable FITS file ({exc})") from None


def read_x1dints(path: str | os.PathLike) -> X1dInts:
    """Read an x1dints file in the current (jwst >= 1.19) or pre-2025 layout.

    Parameters
    ----------
    path : str or os.PathLike
        The ``*_x1dints.fits`` file.

    Returns
    -------
    X1dInts
        Spectra (float64 arrays, wavelength 1-D when identical for every row), INT_TIMES,
        primary header, and the layout found.  Rows of the legacy layout take their times
        from INT_TIMES by integration number (header MJD-* keywords, else NaN, otherwise).

    Raises
    ------
    tso3.errors.InputError
        The file is missing, not FITS, or holds no EXTRACT1D spectra.
    """
    with open_fits(path) as hdul:
        try:
            primary = {k: v for k, v in hdul[0].header.items() if k not in ("COMMENT", "HISTORY")}
            int_times = None
            if "INT_TIMES" in hdul and hdul["INT_TIMES"].data is not None:
                raw = hdul["INT_TIMES"].data
                int_times = np.zeros(len(raw), dtype=INT_TIMES_DTYPE)
                for name in INT_TIMES_DTYPE.names:
                    int_times[name] = raw[name]
            ext_hdus = [h for h in hdul[1:] if h.name == "EXTRACT1D"]
            if not ext_hdus:
                raise InputError(path, "no EXTRACT1D extension: not an x1dints file")
            names = {c.upper() for c in ext_hdus[0].data.columns.names}
            if "FLUX" not in names or "WAVELENGTH" not in names:
                raise InputError(path, "EXTRACT1D has no WAVELENGTH/FLUX columns")
            vector = ext_hdus[0].data["FLUX"].ndim == 2
            if "INT_NUM" in names and vector:
                dhs = str(primary.get("SUBARRAY", "")).upper() in DHS_SUBARRAYS
                spectra, layout = _read_tso(ext_hdus, slits=dhs), "tso"
            else:
                spectra, layout = _read_legacy(primary, ext_hdus, int_times), "legacy"
            _attach_trace(hdul, spectra)
        except InputError:
            raise
        except (KeyError, ValueError, TypeError, IndexError, OSError) as exc:
            raise InputError(path, f"corrupt x1dints file ({exc})") from None
    return X1dInts(spectra=spectra, int_times=int_times, primary=primary, layout=layout)
