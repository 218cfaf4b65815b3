"""Read and write ``*_x1dints.fits`` products (the jwst TSOMultiSpecModel layout).

Writing goes through stdatamodels' ``TSOMultiSpecModel`` so that the HDU, column, unit and
ASDF layout are exactly what jwst >= 1.19 writes (see ``docs/products.md``):

- PRIMARY from the first segment's primary header, with INTSTART/INTEND/EXPSTART/EXPEND/EXPMID
  blended over all segments, ASNPOOL/ASNTABLE and the S_* step statuses set, SRCTYPE removed;
- INT_TIMES with every integration of the exposure;
- one EXTRACT1D per :class:`~tso3.spectra.SpectraSet`, in the given order, one row per
  integration, 27 columns;
- ``TSO3_TRACE`` (tso3 addition, after ASDF): per-integration trace position/width and number
  of repaired pixels.  stdatamodels ignores the HDU, so the file still opens as a
  ``TSOMultiSpecModel``.

Reading (both the current and the pre-2025 layout) lives in :mod:`tso3.io.x1dints_read`
and is re-exported here.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

import numpy as np
from astropy.io import fits

from tso3.errors import OutputExistsError
from tso3.formats import INT_TIMES_DTYPE, TIME_COLUMNS, VECTOR_COLUMNS
from tso3.io.atomic import atomic_output
from tso3.io.x1dints_read import _ROW_KEYWORDS, _STRUCTURAL, TRACE_HDU, X1dInts, read_x1dints
from tso3.parallel import ordered_map
from tso3.spectra import SpectraSet

log = logging.getLogger(__name__)

__all__ = ["X1dInts", "read_x1dints", "write_x1dints"]

_VAR_SUFFIXES = ("_var_poisson", "_var_rnoise", "_var_flat")
_SQUARED_UNITS = {
    "Jy": "Jy^2",
    "MJy": "MJy^2",
    "MJy/sr": "MJy^2 / sr^2",
    "DN/s": "DN^2 / s^2",
}
# ---------------------------------------------------------------------------------------
# writing


def _squared(unit: str) -> str:
    """Unit of a variance column given the unit of its value column (jwst's spelling)."""
    if unit in _SQUARED_UNITS:
        return _SQUARED_UNITS[unit]
    from astropy import units as u

    try:
        return (u.Unit(unit) ** 2).to_string()
    except ValueError:
        return f"({unit})^2"


@cache
def _spec_keyword_map() -> dict[str, str]:
    """FITS keyword -> attribute of an EXTRACT1D spectrum (from the specmeta schema)."""
    from stdatamodels.jwst.datamodels import TSOSpecModel

    props = TSOSpecModel().schema["properties"]
    return {
        v["fits_keyword"]: k
        for k, v in props.items()
        if isinstance(v, dict) and "fits_keyword" in v and k != "meta"
    }


def _set_path(model, path: str, value) -> None:
    node = model
    *parents, last = path.split(".")
    for name in parents:
        node = getattr(node, name)
    setattr(node, last, value)


def _primary_model(primary):
    """A TSOMultiSpecModel whose primary metadata come from ``primary``."""
    from stdatamodels import DataModel
    from stdatamodels.jwst.datamodels import TSOMultiSpecModel

    if isinstance(primary, DataModel):
        model = TSOMultiSpecModel()
        model.update(primary, only="PRIMARY")
        return model
    header = fits.Header()
    for key, value in dict(primary).items():
        if value is None or key in ("", "COMMENT", "HISTORY") or key in _STRUCTURAL:
            continue
        try:
            header[key] = value
        except (ValueError, TypeError):
            log.debug("primary keyword %s=%r cannot go in a FITS header; dropped", key, value)
    # Letting stdatamodels read a primary HDU maps every keyword through the schema; unknown
    # keywords land in extra_fits and are written back unchanged.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TSOMultiSpecModel(fits.HDUList([fits.PrimaryHDU(header=header)]))


def _keyword(source, key: str, path: str):
    from stdatamodels import DataModel

    if isinstance(source, DataModel):
        node = source
        for name in path.split("."):
            node = getattr(node, name, None)
            if node is None:
                return None
        return node
    return dict(source).get(key)


def _blend(model, primaries: Sequence) -> None:
    """Blend exposure keywords over segments the way jwst's ModelBlender does."""
    rules = {
        "INTSTART": ("meta.exposure.integration_start", min),
        "INTEND": ("meta.exposure.integration_end", max),
        "EXPSTART": ("meta.exposure.start_time", min),
        "EXPEND": ("meta.exposure.end_time", max),
        "EXPMID": ("meta.exposure.mid_time", lambda v: float(np.mean(v))),
    }
    for key, (path, rule) in rules.items():
        values = [_keyword(p, key, path) for p in primaries]
        values = [v for v in values if v is not None]
        if values:
            _set_path(model, path, rule(values))


def _set_primary_keyword(model, key: str, value) -> None:
    paths = model.find_fits_keyword(key)
    if paths:
        _set_path(model, paths[0], value)
        return
    # Not in the schema: keep it as a raw card so nothing the caller asked for is lost
    extra = model.extra_fits.PRIMARY.header if _has_extra(model) else []
    extra = [list(card) for card in extra if card[0] != key] + [[key, value, ""]]
    model.extra_fits = {"PRIMARY": {"header": extra}}


def _has_extra(model) -> bool:
    try:
        return model.extra_fits.PRIMARY.header is not None
    except AttributeError:
        return False


def _n_alongdisp(wl2d: np.ndarray) -> np.ndarray:
    """True spectrum length per row: up to the last finite wavelength."""
    finite = np.isfinite(wl2d)
    last = wl2d.shape[1] - np.argmax(finite[:, ::-1], axis=1)
    return np.where(finite.any(axis=1), last, 0).astype(np.uint32)


def _spec_table(s: SpectraSet) -> np.ndarray:
    """The 27-column EXTRACT1D record array of one SpectraSet, with jwst's padding."""
    n, nw = s.nints, s.nwave
    # big-endian (FITS) types: the writer then streams the table without swapping a copy
    dtype = [("INT_NUM", ">i4")]
    for name in VECTOR_COLUMNS:
        dtype.append((name.upper(), ">u4" if name == "dq" else ">f8", (nw,)))
    dtype += [("N_ALONGDISP", ">u4"), ("SEGMENT", ">i4")]
    dtype += [(col, ">f8") for col in TIME_COLUMNS.values()]
    table = np.zeros(n, dtype=dtype)
    table["INT_NUM"] = np.asarray(s.int_num)
    wl2d = s.wavelength_2d()
    for name in VECTOR_COLUMNS:
        # the *_error columns are SpectraSet properties: root of the summed variances
        table[name.upper()] = wl2d if name == "wavelength" else np.asarray(getattr(s, name))
    n_along = _n_alongdisp(wl2d)
    table["N_ALONGDISP"] = n_along
    pad = np.arange(nw)[None, :] >= n_along[:, None]
    if pad.any():
        for name in VECTOR_COLUMNS:
            col = table[name.upper()]
            col[pad] = 1 if name == "dq" else (0 if name == "npixels" else np.nan)
    table["SEGMENT"] = s.segment if s.segment is not None else 1
    for attr, col in TIME_COLUMNS.items():
        table[col] = np.asarray(s.times.get(attr, np.full(n, np.nan)), dtype=np.float64)
    return table


def _column_units(s: SpectraSet) -> dict[str, str]:
    """TUNIT of every EXTRACT1D column that has one."""
    flux_unit, sb_unit = s.flux_unit, s.sb_unit
    units = {"WAVELENGTH": "um"}
    for family, unit in (("FLUX", flux_unit), ("SB", sb_unit), ("BKGD", sb_unit)):
        value_col = {"FLUX": "FLUX", "SB": "SURF_BRIGHT", "BKGD": "BACKGROUND"}[family]
        units[value_col] = unit
        units[f"{family}_ERROR"] = unit
        for suffix in _VAR_SUFFIXES:
            units[f"{family}{suffix.upper()}"] = _squared(unit)
    for col in TIME_COLUMNS.values():
        units[col] = "d"
    return {col: unit for col, unit in units.items() if unit}


def _spec_model(
    s: SpectraSet, table: np.ndarray, default_name: str | None, default_detector: str | None
):
    """The EXTRACT1D model of one SpectraSet, ``table`` being its :func:`_spec_table`."""
    from stdatamodels.jwst.datamodels import TSOSpecModel

    spec = TSOSpecModel(validate_on_assignment=False)
    # Stored as is: assigning through the attribute would convert the big-endian table
    # to native order, and the FITS writer would then swap it back byte by byte (4 s
    # for 6000 x 512 spectra instead of 0.3 s).  The schema still validates it on save.
    spec._instance["spec_table"] = table
    kwmap = _spec_keyword_map()
    for key, value in s.meta.items():
        attr = kwmap.get(str(key).upper())
        if attr is None or value is None or key in _ROW_KEYWORDS or key == "S_REGION":
            if attr is None:
                log.debug("EXTRACT1D keyword %s has no place in the schema; dropped", key)
            continue
        setattr(spec, attr, value)
    if spec.name is None and default_name:
        spec.name = default_name
    spec.spectral_order = int(s.spectral_order)
    detector = s.detector or default_detector
    if detector:
        spec.detector = detector
    return spec


def _per_int(values, n: int, fill, dtype) -> np.ndarray:
    """A per-integration column, ``fill`` when the quantity was not measured."""
    if values is None:
        return np.full(n, fill, dtype=dtype)
    return np.asarray(values).astype(dtype)


def _trace_hdu(spectra: Sequence[SpectraSet]) -> fits.BinTableHDU | None:
    rows = []
    for index, s in enumerate(spectra, start=1):
        if s.trace_position is None and s.trace_width is None and s.n_repaired is None:
            continue

        rows.append(
            (
                np.full(s.nints, index, np.int32),
                np.full(s.nints, s.segment or 1, np.int32),
                np.full(s.nints, s.spectral_order, np.int32),
                np.full(s.nints, s.detector or ""),
                np.asarray(s.int_num, np.int32),
                _per_int(s.trace_position, s.nints, np.nan, np.float64),
                _per_int(s.trace_width, s.nints, np.nan, np.float64),
                _per_int(s.n_repaired, s.nints, -1, np.int32),
            )
        )
    if not rows:
        return None
    cols = [np.concatenate(parts) for parts in zip(*rows, strict=True)]
    width = max(1, max(len(str(d)) for d in cols[3]))
    hdu = fits.BinTableHDU.from_columns(
        [
            fits.Column("SPEC_EXT", "J", array=cols[0]),
            fits.Column("SEGMENT", "J", array=cols[1]),
            fits.Column("SPORDER", "J", array=cols[2]),
            fits.Column("DETECTOR", f"{width}A", array=cols[3].astype(f"U{width}")),
            fits.Column("INT_NUM", "J", array=cols[4]),
            fits.Column("TRACE_POS", "D", unit="pix", array=cols[5]),
            fits.Column("TRACE_WIDTH", "D", unit="pix", array=cols[6]),
            fits.Column("N_REPAIRED", "J", array=cols[7]),
        ],
        name=TRACE_HDU,
    )
    hdu.header["COMMENT"] = "tso3: per-integration trace centre/width (0-based px, cross-disp.)"
    hdu.header["COMMENT"] = "and repaired-pixel count; SPEC_EXT = EXTVER of the EXTRACT1D"
    hdu.header["COMMENT"] = "NaN / -1 = not measured"
    return hdu


def write_x1dints(
    path: str | os.PathLike,
    spectra: Sequence[SpectraSet],
    int_times: np.ndarray | None,
    *,
    primary,
    asn_pool: str | None = None,
    asn_table: str | None = None,
    extra_meta: Mapping[str, object] | None = None,
    overwrite: bool = True,
    filename: str | None = None,
) -> None:
    """Write spectra as a jwst ``*_x1dints.fits`` (TSOMultiSpecModel layout).

    Parameters
    ----------
    path : str or os.PathLike
        Output file; written atomically.
    spectra : sequence of SpectraSet
        One EXTRACT1D extension each, in this order (ASN order, then order/detector).
    int_times : numpy.ndarray or None
        INT_TIMES rows of the whole exposure (structured array with the 7 standard columns).
    primary : stdatamodels DataModel, mapping of FITS keywords, or a sequence of these
        Primary header source(s), one per segment; the first gives the keywords, all are
        blended (INTSTART min, INTEND max, EXPSTART min, EXPEND max, EXPMID mean).
    asn_pool, asn_table : str or None
        ASNPOOL and ASNTABLE (the basename of ``asn_table`` is written).
    extra_meta : mapping or None
        Further primary keywords (FITS names), e.g. ``{"S_OUTLIR": "COMPLETE"}``; these win
        over ``primary``.  S_EXTR1D defaults to COMPLETE.
    overwrite : bool
        If False and ``path`` exists, raise :class:`~tso3.errors.OutputExistsError`.
    filename : str, optional
        FILENAME to record (default ``path``'s name): the product's final name when
        ``path`` is a staging file renamed later.
    """
    if not spectra:
        raise ValueError("write_x1dints needs at least one SpectraSet")
    path = Path(path)
    if not overwrite and path.exists():
        raise OutputExistsError(f"{path}: exists (use --overwrite)")
    from stdatamodels import DataModel, fits_support

    single = isinstance(primary, DataModel | Mapping | fits.Header)
    primaries = [primary] if single else list(primary)
    model = _primary_model(primaries[0])
    _blend(model, primaries)
    model.meta.target.source_type = None
    if _has_extra(model):
        cards = [list(c) for c in model.extra_fits.PRIMARY.header if c[0] != "SRCTYPE"]
        model.extra_fits = {"PRIMARY": {"header": cards}}
    model.meta.cal_step.extract_1d = "COMPLETE"
    if asn_pool is not None:
        model.meta.asn.pool_name = str(asn_pool)
    if asn_table is not None:
        model.meta.asn.table_name = os.path.basename(os.fspath(asn_table))
    for key, value in (extra_meta or {}).items():
        _set_primary_keyword(model, key.upper(), value)
    if int_times is not None:
        rows = np.zeros(len(int_times), dtype=INT_TIMES_DTYPE)
        for name in INT_TIMES_DTYPE.names:
            rows[name] = np.asarray(int_times[name])
        model.int_times = rows
    exp_type = model.meta.exposure.type
    detector = model.meta.instrument.detector
    s_region = next((s.meta["S_REGION"] for s in spectra if s.meta.get("S_REGION")), None)
    # the tables are big copies that release the GIL: one segment per core
    tables = list(ordered_map(_spec_table, spectra))
    for index, (s, table) in enumerate(zip(spectra, tables, strict=True)):
        spec = _spec_model(s, table, exp_type, detector)
        if index == 0 and s_region:
            spec.s_region = s_region
        model.spec.append(spec)
    trace = _trace_hdu(spectra)
    model.meta.filename = filename or path.name
    with atomic_output(path) as tmp:
        # A file object keeps stdatamodels from renaming meta.filename to the temporary name
        with open(tmp, "wb") as fh, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # model.to_fits(fh), with the column units (which the raw tables above do
            # not carry) and the trace table added to the HDU list before it is written
            model.on_save(fh)
            hdulist = fits_support.to_fits(model._instance, model._schema)
            for index, s in enumerate(spectra, start=1):
                columns = hdulist["EXTRACT1D", index].columns
                for col, unit in _column_units(s).items():
                    columns[col].unit = unit
            if trace is not None:
                hdulist.append(trace)
            hdulist.writeto(fh)
    model.close()
