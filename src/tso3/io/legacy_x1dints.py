"""The pre-2025 x1dints layout, for the tools that read only that one.

chromatic, specutils and jdaviz (through specutils) open x1dints files of the layout jwst
wrote before 1.19: one ``EXTRACT1D`` extension per integration (and order), with scalar
columns and the integration number, order and times in its header.  None of them opens
the current layout (one table per segment with a row per integration), whether jwst 3.0
or tso3 wrote it.  :func:`export_legacy` rewrites the spectra of a current-layout x1dints
in the old one, value for value:

- PRIMARY: the x1dints' header, with DATAMODL = MultiSpecModel, FILENAME, DATE and a
  HISTORY card naming the source file;
- INT_TIMES: the x1dints' table (or one made from the per-row time columns);
- EXTRACT1D, integration by integration and, within one, order by order (chromatic reads
  them in that order): the vector columns cut to N_ALONGDISP elements, dtypes and units
  kept; the header holds the spectrum's keywords (SLTNAME, SRCTYPE, SPORDER, DETECTOR, ...)
  and the row's scalars (INT_NUM, MJD-BEG ... TDB-END);
- ASDF last, as jwst writes it (specutils recognises a JWST file by it, chromatic looks
  for it last).

A file holds one detector (the readers assume so): NRS1 + NRS2 give two files.  The file
is written one extension at a time, so memory stays at one integration's spectra.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from astropy.io import fits

from ..errors import InputError, OutputExistsError
from ..formats import INT_TIMES_COLUMNS, INT_TIMES_DTYPE, TIME_COLUMNS
from .asdf_hdu import asdf_hdu
from .atomic import StagedOutputs, output_folder
from .x1dints_read import open_fits

__all__ = ["LEGACY_SUFFIX", "legacy_paths", "write_legacy"]

#: Ending of an exported file's name (``<product>[_<detector>]_legacy_x1dints.fits``).
LEGACY_SUFFIX = "_legacy_x1dints.fits"

# Per-row scalars that become header keywords, with the comments of the old layout
_ROW_KEYWORDS = {
    "INT_NUM": "Integration number",
    "MJD-BEG": "[d] integration start time in MJD",
    "MJD-AVG": "[d] integration mid-point in MJD",
    "MJD-END": "[d] integration end time in MJD",
    "TDB-BEG": "TDB at start of integration [MJD]",
    "TDB-MID": "TDB at middle of integration [MJD]",
    "TDB-END": "TDB at end of integration [MJD]",
}
_STRUCTURAL = ("XTENSION", "BITPIX", "PCOUNT", "GCOUNT", "TFIELDS", "EXTNAME", "EXTVER")
_STRUCTURAL_PREFIX = ("NAXIS", "TTYPE", "TFORM", "TUNIT", "TDIM", "TZERO", "TSCAL", "TNULL",
                      "TDISP")  # fmt: skip
# INT_TIMES column made from each per-row time column when the table is missing
_INT_TIMES_FROM_ROW = dict(zip(TIME_COLUMNS.values(), INT_TIMES_COLUMNS[1:], strict=True))


def legacy_paths(x1dints: str | os.PathLike, detectors: list[str], output_dir) -> dict:
    """Where the export of each detector goes: ``<product>_legacy_x1dints.fits``, with
    ``_<detector>`` before ``_legacy`` when there are several."""
    name = Path(x1dints).name
    base = name[: -len("_x1dints.fits")] if name.endswith("_x1dints.fits") else Path(name).stem
    out = Path(output_dir)
    if len(detectors) == 1:
        return {detectors[0]: out / f"{base}{LEGACY_SUFFIX}"}
    return {d: out / f"{base}_{d.lower()}{LEGACY_SUFFIX}" for d in detectors}


def write_legacy(
    x1dints: str | os.PathLike,
    output_dir: str | os.PathLike | None = None,
    *,
    overwrite: bool = False,
    version: str = "unknown",
) -> list[Path]:
    """Write the spectra of an x1dints in the pre-2025 layout (one file per detector).

    Parameters
    ----------
    x1dints : path-like
        An x1dints of the current layout (tso3, or jwst >= 1.19).
    output_dir : path-like, optional
        Folder for the exports (made if needed); default the x1dints' folder.
    overwrite : bool
        Replace existing exports.
    version : str
        tso3's version, for the HISTORY card and the ASDF tree.

    Returns
    -------
    list of pathlib.Path
        The files written, one per detector.

    Raises
    ------
    tso3.errors.InputError
        The file is not an x1dints, is already in the old layout, or has no integration
        times.  Nothing is written then.
    tso3.errors.OutputExistsError
        An export exists and ``overwrite`` is False.
    """
    source = Path(x1dints)
    with open_fits(source, memmap=True) as hdul:
        spectra = _spectra_hdus(source, hdul)
        int_times = _int_times_hdu(source, hdul, spectra)
        groups = _rows_by_detector(spectra)
        targets = legacy_paths(source, list(groups), output_dir or source.parent)
        existing = [p for p in targets.values() if p.exists()]
        if existing and not overwrite:
            raise OutputExistsError(
                f"{existing[0]}: exists (use --overwrite, or overwrite=True in Python)"
            )
        staged = StagedOutputs()
        with output_folder(Path(output_dir or source.parent)):
            try:
                for detector, rows in groups.items():
                    path = targets[detector]
                    primary = _primary(hdul[0].header, source, path, detector, len(groups), version)
                    extensions = _extensions(spectra, rows)
                    _write(staged.reserve(path), primary, int_times, extensions, version)
                return staged.commit()
            except BaseException:
                staged.abort()
                raise


def _spectra_hdus(source: Path, hdul: fits.HDUList) -> list[fits.BinTableHDU]:
    spectra = [h for h in hdul[1:] if h.name == "EXTRACT1D"]
    if not spectra:
        raise InputError(source, "no EXTRACT1D extension: not an x1dints file")
    for hdu in spectra:
        names = set(hdu.columns.names)
        if not {"WAVELENGTH", "FLUX"} <= names:
            raise InputError(source, "EXTRACT1D has no WAVELENGTH/FLUX columns")
        if "INT_NUM" not in names or hdu.data["FLUX"].ndim != 2:
            raise InputError(source, "already in the pre-2025 layout (one EXTRACT1D per "
                                     "integration): nothing to export")  # fmt: skip
    return spectra


def _int_times_hdu(source: Path, hdul: fits.HDUList, spectra) -> fits.BinTableHDU:
    """INT_TIMES as in the file, or made from the rows' times; refused without times."""
    if "INT_TIMES" in hdul and hdul["INT_TIMES"].data is not None and len(hdul["INT_TIMES"].data):
        table = hdul["INT_TIMES"].data
        if any(np.isfinite(table[c]).any() for c in INT_TIMES_COLUMNS[1:] if c in table.names):
            return fits.BinTableHDU(data=np.array(table), header=hdul["INT_TIMES"].header.copy())
    numbers = np.concatenate([np.asarray(h.data["INT_NUM"], np.int64) for h in spectra])
    numbers, first = np.unique(numbers, return_index=True)  # one row per integration
    times = np.zeros(numbers.size, dtype=INT_TIMES_DTYPE)
    times[INT_TIMES_COLUMNS[0]] = numbers
    for column, name in _INT_TIMES_FROM_ROW.items():
        values = [
            np.asarray(h.data[column], np.float64) if column in h.data.names
            else np.full(len(h.data), np.nan)
            for h in spectra
        ]  # fmt: skip
        times[name] = np.concatenate(values)[first]
    if not any(np.isfinite(times[c]).any() for c in INT_TIMES_COLUMNS[1:]):
        raise InputError(source, "no integration times (no INT_TIMES table and no time "
                                 "columns): the old layout needs them")  # fmt: skip
    return fits.BinTableHDU(data=times, name="INT_TIMES")


def _rows_by_detector(spectra) -> dict[str, np.ndarray]:
    """Per detector: rows of (integration, order, spectrum HDU index, row) in writing
    order (integration by integration, orders ascending within one)."""
    detectors = [str(h.header.get("DETECTOR", "") or "") for h in spectra]
    groups = {}
    for detector in dict.fromkeys(detectors):
        parts = [
            np.column_stack([
                np.asarray(h.data["INT_NUM"], np.int64),
                np.full(len(h.data), int(h.header.get("SPORDER", 1) or 0)),
                np.full(len(h.data), index),
                np.arange(len(h.data)),
            ])
            for index, h in enumerate(spectra) if detectors[index] == detector
        ]  # fmt: skip
        rows = np.concatenate(parts)
        groups[detector] = rows[np.lexsort((rows[:, 1], rows[:, 0]))]
    return groups


def _primary(header: fits.Header, source: Path, path: Path, detector: str, ndet: int, version):
    """The x1dints' primary header, for the export of one detector."""
    primary = header.copy()
    primary["DATAMODL"] = "MultiSpecModel"
    primary["FILENAME"] = path.name
    primary["DATE"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    if ndet > 1 and detector:
        primary["DETECTOR"] = detector
    primary["HISTORY"] = f"pre-2025 layout of {source.name} written by tso3 {version}"
    return fits.PrimaryHDU(header=primary)


def _spectrum_header(header: fits.Header) -> fits.Header:
    """The keywords of a spectrum, without the table structure of the current layout."""
    out = fits.Header()
    for card in header.cards:
        key = card.keyword
        if key in _STRUCTURAL or key.startswith(_STRUCTURAL_PREFIX):
            continue
        out.append(card, end=True)
    return out


class _SpectrumWriter:
    """The EXTRACT1D extensions made from one spectrum table of the current layout.

    astropy builds one extension in about 20 ms, too slow for 10^5 of them; so astropy
    makes the header once per length (a template), and each extension is that header
    with its EXTVER, INT_NUM and time cards replaced, followed by the row's stored
    (big-endian, unscaled) values laid out as a table.  The bytes are what astropy writes.
    """

    def __init__(self, hdu: fits.BinTableHDU) -> None:
        self.header = _spectrum_header(hdu.header)
        self.columns = [c for c in hdu.columns if len(hdu.data[c.name].shape) == 2]
        self.stored = hdu.data.view(np.ndarray)  # unscaled values as in the file
        self.data = hdu.data
        self.templates: dict[int, tuple[bytearray, dict[str, int], np.dtype]] = {}

    def _template(self, n: int):
        if n not in self.templates:
            columns = [
                fits.Column(name=c.name, format=c.format.format, unit=_fits_unit(c.unit),
                            bzero=c.bzero, bscale=c.bscale)
                for c in self.columns
            ]  # fmt: skip
            hdu = fits.BinTableHDU.from_columns(columns, header=self.header.copy(), nrows=n)
            header = hdu.header
            header["EXTNAME"], header["EXTVER"] = "EXTRACT1D", 1
            for key, comment in _ROW_KEYWORDS.items():
                if key in self.data.names:
                    header[key] = (0, comment)
            text = bytearray(header.tostring().encode("ascii"))
            # card offsets in the text (a long value, e.g. S_REGION, spans several cards)
            starts = [bytes(text[i : i + 8]).decode().rstrip() for i in range(0, len(text), 80)]
            where = {key: 80 * starts.index(key) for key in ("EXTVER", *_ROW_KEYWORDS)
                     if key in header}  # fmt: skip
            dtype = np.dtype([(c.name, self.stored.dtype[c.name].base) for c in self.columns])
            if dtype.itemsize != header["NAXIS1"]:
                raise AssertionError("legacy row layout differs from the template header")
            self.templates[n] = (text, where, dtype)
        return self.templates[n]

    def extension(self, row: int, extver: int) -> bytes:
        """The bytes of the extension for ``row`` of the table, numbered ``extver``."""
        n = self.stored["FLUX"].shape[1]
        if "N_ALONGDISP" in self.data.names:
            n = int(self.data["N_ALONGDISP"][row])
        text, where, dtype = self._template(n)
        header = bytearray(text)
        values = {"EXTVER": extver}
        values.update({k: self.data[k][row] for k in _ROW_KEYWORDS if k in where})
        for key, value in values.items():
            value = int(value) if key in ("EXTVER", "INT_NUM") else float(value)
            comment = _ROW_KEYWORDS.get(key, "extension value")
            card = fits.Card(key, value, comment).image.encode("ascii")
            header[where[key] : where[key] + 80] = card
        table = np.empty(n, dtype=dtype)
        for c in self.columns:
            table[c.name] = self.stored[c.name][row, :n]
        data = table.tobytes()
        return bytes(header) + data + b"\0" * (-len(data) % 2880)


def _extensions(spectra, rows) -> Iterator[bytes]:
    """One EXTRACT1D per (integration, order), values as in the x1dints."""
    writers = [_SpectrumWriter(hdu) for hdu in spectra]
    for extver, (_, _, index, row) in enumerate(rows.tolist(), start=1):
        yield writers[index].extension(row, extver)


def _fits_unit(unit: str | None) -> str | None:
    """``DN`` (uncalibrated NIS_SOSS) as ``adu``, the same thing under the name the FITS
    standard knows: specutils refuses a unit astropy cannot parse."""
    return re.sub(r"\bDN\b", "adu", unit) if unit else unit


def _hdu_bytes(hdu: fits.hdu.base.ExtensionHDU) -> bytes:
    """An extension HDU as it appears in a file (header blocks and padded data): written
    after an empty primary HDU, which is one 2880-byte block, then cut off."""
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(buffer)
    raw = buffer.getvalue()
    assert raw[2880:2888] == b"XTENSION", "an empty primary HDU is one FITS block"
    return raw[2880:]


def _write(path: Path, primary: fits.PrimaryHDU, int_times, extensions, version: str) -> None:
    """Write the file one HDU at a time (an observation can have 10^5 spectra)."""
    with open(path, "wb") as out, warnings.catch_warnings():
        # a long value (an ASN name, S_REGION) only shortens its comment
        warnings.simplefilter("ignore", fits.verify.VerifyWarning)
        primary.writeto(out)
        out.write(_hdu_bytes(int_times))
        for extension in extensions:
            out.write(extension)
        out.write(_hdu_bytes(asdf_hdu(version)))
