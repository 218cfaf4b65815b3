"""Read and write ``*_x1dints.fits`` products (the jwst TSOMultiSpecModel layout).

Written with astropy alone, in the HDU, column, unit and keyword layout that jwst >= 1.19
writes through stdatamodels (see ``docs/products.md``), and read back by
``stdatamodels.jwst.datamodels.open`` as a ``TSOMultiSpecModel``:

- PRIMARY from the first segment's primary header, with INTSTART/INTEND/EXPSTART/EXPEND/EXPMID
  blended over all segments, ASNPOOL/ASNTABLE and the S_* step statuses set, SRCTYPE removed,
  DATAMODL = TSOMultiSpecModel;
- INT_TIMES with every integration of the exposure; for superstripe data then
  INT_TIMES_STRIPE, every stripe of those integrations (all segments, where jwst 3.0
  keeps one segment's);
- one EXTRACT1D per :class:`~tso3.spectra.SpectraSet`, in the given order, one row per
  integration, 27 columns;
- ``TSO3_TRACE`` and ``TSO3_TRACE_CENTRE`` (tso3 additions): per-integration trace
  offset/width and number of repaired pixels, and the trace itself.  stdatamodels
  ignores them;
- ``ASDF`` last, as jwst writes it (readers look for it there), holding only the name of
  the library (:mod:`tso3.io.asdf_hdu`): a full tree would only repeat the FITS keywords
  and point to the tables, and stdatamodels builds the same model from the FITS content.
  Not building it spares every run the schema and asdf-extension start-up (about 2 s).

Reading (both the current and the pre-2025 layout) lives in :mod:`tso3.io.x1dints_read`
and is re-exported here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from astropy.io import fits

from tso3.errors import OutputExistsError
from tso3.formats import (
    EXTRACT1D_KEYWORDS,
    INT_TIMES_DTYPE,
    INT_TIMES_STRIPE_DTYPE,
    TIME_COLUMNS,
    VECTOR_COLUMNS,
)
from tso3.io.asdf_hdu import asdf_hdu
from tso3.io.atomic import atomic_output
from tso3.io.x1dints_read import (
    _ROW_KEYWORDS,
    _STRUCTURAL,
    TRACE_CENTRE_HDU,
    TRACE_HDU,
    X1dInts,
    read_x1dints,
)
from tso3.parallel import read_ahead
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


#: Comments of the primary keywords the writer sets (jwst's core schema titles).
_PRIMARY_COMMENTS = {
    "DATE": "UTC date file created",
    "FILENAME": "Name of the file",
    "DATAMODL": "Type of data model",
    "ASNPOOL": "Name of the ASN pool",
    "ASNTABLE": "Name of the ASN table",
    "S_EXTR1D": "1-D Spectral Extraction",
    "S_OUTLIR": "Outlier Detection",
    "R_APCORR": "Aperture correction reference file name",
}
#: Primary keywords blended over the segments as jwst's ModelBlender does.
_BLEND_RULES = {
    "INTSTART": min,
    "INTEND": max,
    "EXPSTART": min,
    "EXPEND": max,
    "EXPMID": lambda values: float(np.mean(values)),
}
#: The file's own cards, first in a JWST primary header.
_FILE_KEYS = ("DATE", "FILENAME", "DATAMODL")
#: Primary cards that astropy writes itself or that describe one segment's data.
_PRIMARY_STRUCTURAL = ("SIMPLE", "BITPIX", "NAXIS", "EXTEND", "SRCTYPE")


def _as_header(source) -> fits.Header:
    if isinstance(source, fits.Header):
        return source
    header = fits.Header()
    for key, value in dict(source).items():
        if value is None or key in ("COMMENT", "HISTORY") or key in _STRUCTURAL:
            continue
        try:
            header.append((key, value), end=True) if key == "" else header.set(key, value)
        except (ValueError, TypeError):
            log.debug("primary keyword %s=%r cannot go in a FITS header; dropped", key, value)
    return header


def _primary_header(primaries: Sequence[fits.Header], keywords: Mapping[str, object]):
    """The x1dints primary header: the first segment's, blended, with ``keywords`` set.

    Every card of the segment's header is kept in its place (section titles and
    comments included) except the structural ones and SRCTYPE, which belongs to a
    spectrum (jwst drops it from the x1dints primary too).
    """
    first = primaries[0]
    header = fits.Header()
    for card in first.cards:
        key = card.keyword
        if key in _PRIMARY_STRUCTURAL or key.startswith("NAXIS"):
            continue
        header.append(card, end=True)
    for key, rule in _BLEND_RULES.items():
        values = [h.get(key) for h in primaries]
        values = [v for v in values if v is not None and not isinstance(v, fits.card.Undefined)]
        if values:
            header[key] = rule(values)
    for key, value in keywords.items():
        if value is None:
            continue
        if key in header:
            header[key] = value
        else:
            _insert_card(header, key, value)
    return header


def _insert_card(header: fits.Header, key: str, value) -> None:
    """A new primary card where jwst's schema puts it: DATE, FILENAME, DATAMODL first,
    step statuses after the last S_* card, the association after TELESCOP, anything else
    at the end."""
    keys = list(header.keys())
    anchor = None
    if key in _FILE_KEYS:
        earlier = [k for k in _FILE_KEYS[: _FILE_KEYS.index(key)] if k in header]
        anchor = keys.index(earlier[-1]) if earlier else -1
    elif key.startswith("S_"):
        steps = [i for i, k in enumerate(keys) if k.startswith("S_")]
        anchor = steps[-1] if steps else None
    elif key in ("ASNPOOL", "ASNTABLE"):
        before = "ASNPOOL" if key == "ASNTABLE" and "ASNPOOL" in header else "TELESCOP"
        anchor = keys.index(before) if before in header else None
    card = (key, value, _fitting(key, value, _PRIMARY_COMMENTS.get(key, "")))
    if anchor is None:
        header.append(card, end=True)
    elif anchor < 0:
        header.insert(0, card)
    else:
        header.insert(anchor, card, after=True)


def _fitting(key: str, value, comment: str) -> str:
    """``comment`` cut to what fits beside the value in 80 characters (a long file or ASN
    name leaves little room), as astropy would cut it, but without its warning."""
    if not comment:
        return comment
    room = 80 - len(fits.Card(key, value).image.rstrip()) - 3
    return comment[: max(room, 0)]


def _shorten_comments(header: fits.Header) -> None:
    """:func:`_fitting` for every card of ``header`` (values set after the comments)."""
    for card in header.cards:
        if card.comment and card.keyword not in ("COMMENT", "HISTORY", ""):
            fitting = _fitting(card.keyword, card.value, card.comment)
            if fitting != card.comment:
                header.comments[card.keyword] = fitting


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


def _spec_hdu(
    s: SpectraSet,
    table: np.ndarray,
    index: int,
    default_name: str | None,
    default_detector: str | None,
    s_region: str | None,
) -> fits.BinTableHDU:
    """The EXTRACT1D extension ``index`` (EXTVER) of one SpectraSet.

    ``table`` is its :func:`_spec_table`, big-endian, so it is written without a
    converted copy.  Keywords outside jwst's specmeta schema are dropped, as stdatamodels
    drops them.
    """
    # as a FITS_rec view, astropy writes the rows as they are (a plain record array would
    # be copied into a new FITS_rec and converted again piece by piece on writing: 10x)
    hdu = fits.BinTableHDU(data=table.view(fits.FITS_rec), name="EXTRACT1D", ver=index)
    nwave = s.nwave
    units = _column_units(s)
    for column in hdu.columns:
        if column.name in units:
            column.unit = units[column.name]
        if column.name.lower() in VECTOR_COLUMNS:
            column.dim = f"({nwave})"
    values = {str(k).upper(): v for k, v in s.meta.items() if v is not None}
    values = {k: v for k, v in values.items() if k not in _ROW_KEYWORDS and k != "S_REGION"}
    for key in values.keys() - EXTRACT1D_KEYWORDS.keys():
        log.debug("EXTRACT1D keyword %s has no place in the schema; dropped", key)
    values.setdefault("SLTNAME", default_name)
    values["SPORDER"] = int(s.spectral_order)
    values["DETECTOR"] = s.detector or default_detector
    values["S_REGION"] = s_region
    # numpy scalars as Python ones: FITS cards take those
    cards = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in values.items()}
    hdu.header.update(
        [(k, cards[k], c) for k, c in EXTRACT1D_KEYWORDS.items() if cards.get(k) is not None]
    )
    return hdu


def _int_times_hdu(int_times: np.ndarray, name: str = "INT_TIMES") -> fits.BinTableHDU:
    dtype = INT_TIMES_STRIPE_DTYPE if name == "INT_TIMES_STRIPE" else INT_TIMES_DTYPE
    rows = np.zeros(len(int_times), dtype=dtype.newbyteorder(">"))
    for column in dtype.names:
        rows[column] = np.asarray(int_times[column])
    return fits.BinTableHDU(data=rows.view(fits.FITS_rec), name=name, ver=1)


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
            fits.Column("TRACE_OFFSET", "D", unit="pix", array=cols[5]),
            fits.Column("TRACE_WIDTH", "D", unit="pix", array=cols[6]),
            fits.Column("N_REPAIRED", "J", array=cols[7]),
        ],
        name=TRACE_HDU,
    )
    hdu.header["COMMENT"] = "tso3: per integration, the trace's cross-dispersion offset from"
    hdu.header["COMMENT"] = "its place in the median image and its width (px), and the number"
    hdu.header["COMMENT"] = "of repaired pixels; SPEC_EXT = EXTVER of the EXTRACT1D;"
    hdu.header["COMMENT"] = "NaN / -1 = not measured. The trace itself: TSO3_TRACE_CENTRE"
    return hdu


def _trace_centre_hdu(spectra: Sequence[SpectraSet]) -> fits.BinTableHDU | None:
    """The trace of every (series, order): centre per dispersion pixel (tso3 addition;
    the DETECTOR column holds the series: the detector, or ``STRIPE<n>`` for NIRCam DHS)."""
    found: dict[tuple[str, int], np.ndarray] = {}
    for s in spectra:
        if s.trace_centre is not None:
            found.setdefault((s.series or "", int(s.spectral_order)), s.trace_centre)
    if not found:
        return None
    n = max(len(c) for c in found.values())
    centre = np.full((len(found), n), np.nan)
    for k, c in enumerate(found.values()):
        centre[k, : len(c)] = c
    width = max(1, max(len(d) for d, _ in found))
    hdu = fits.BinTableHDU.from_columns(
        [
            fits.Column("DETECTOR", f"{width}A", array=np.array([d for d, _ in found])),
            fits.Column("SPORDER", "J", array=np.array([o for _, o in found], np.int32)),
            fits.Column(
                "PIXEL", f"{n}J", array=np.tile(np.arange(n, dtype=np.int32), (len(found), 1))
            ),
            fits.Column("CENTRE", f"{n}D", unit="pix", array=centre),
        ],
        name=TRACE_CENTRE_HDU,
    )
    hdu.header["COMMENT"] = "tso3: the trace fitted on the median image, per detector and order:"
    hdu.header["COMMENT"] = "cross-dispersion CENTRE (0-based px) at dispersion PIXEL (0-based)"
    return hdu


def write_x1dints(
    path: str | os.PathLike,
    spectra: Sequence[SpectraSet],
    int_times: np.ndarray | None,
    *,
    stripe_times: np.ndarray | None = None,
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
    stripe_times : numpy.ndarray or None
        Superstripe data: INT_TIMES_STRIPE rows of every stripe of those integrations,
        written after INT_TIMES (jwst keeps them since 2.0; every segment's rows here).
    primary : astropy.io.fits.Header, mapping of FITS keywords, or a sequence of these
        Primary header(s), one per segment; the first gives the keywords, all are
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
        raise OutputExistsError(f"{path}: exists (use --overwrite, or overwrite=True in Python)")
    single = isinstance(primary, Mapping | fits.Header)
    primaries = [_as_header(p) for p in ([primary] if single else list(primary))]
    keywords: dict[str, object] = {
        "DATE": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
        "FILENAME": filename or path.name,
        "DATAMODL": "TSOMultiSpecModel",
        "S_EXTR1D": "COMPLETE",
    }
    if asn_pool is not None:
        keywords["ASNPOOL"] = str(asn_pool)
    if asn_table is not None:
        keywords["ASNTABLE"] = os.path.basename(os.fspath(asn_table))
    keywords.update({str(k).upper(): v for k, v in (extra_meta or {}).items()})
    header = _primary_header(primaries, keywords)
    hdus: list[fits.hdu.base.ExtensionHDU] = []
    if int_times is not None:
        hdus.append(_int_times_hdu(int_times))
    if stripe_times is not None:
        hdus.append(_int_times_hdu(stripe_times, "INT_TIMES_STRIPE"))
    exp_type = header.get("EXP_TYPE")
    detector = header.get("DETECTOR")
    s_region = next((s.meta["S_REGION"] for s in spectra if s.meta.get("S_REGION")), None)
    tail = [h for h in (_trace_hdu(spectra), _trace_centre_hdu(spectra)) if h is not None]
    tail.append(asdf_hdu(str(header.get("TSO3VER") or "unknown")))  # the provenance's version
    with atomic_output(path) as tmp:
        _shorten_comments(header)
        fits.HDUList([fits.PrimaryHDU(header=header), *hdus]).writeto(tmp)
        # One EXTRACT1D at a time, the next table built while this one is written: the
        # tables are as big as the spectra (2 GB for 30 000 NIRSpec PRISM spectra), so
        # memory holds two of them, not all.
        for index, (s, table) in enumerate(read_ahead(_spec_table, spectra), start=1):
            region = s_region if index == 1 else None  # jwst: the first spectrum carries it
            hdu = _spec_hdu(s, table, index, exp_type, detector, region)
            fits.append(tmp, hdu.data, hdu.header)
            del hdu, table
        for hdu in tail:
            fits.append(tmp, hdu.data, hdu.header)
