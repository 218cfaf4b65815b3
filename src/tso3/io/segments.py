"""Exposure segments: metadata through stdatamodels, big arrays memory-mapped.

A real TSO exposure is cut into segments of a few GB each.  tso3 never loads a whole
segment to learn its metadata: :func:`read_segment` checks the FITS headers and reads
INT_TIMES, which is all it takes to order and validate a series.  The full metadata
model (the ASDF tree with the WCS, WAVELENGTH) is parsed through the stdatamodels schema
of the file's model class when first asked for (:meth:`Segment.open_model`), with the
large image extensions left on disk.  That parse is CPU-bound (the first one in a process
loads every asdf extension, ~1-2 s), so a run can do it while disk-bound work goes on.
:meth:`Segment.arrays` gives memory-mapped views of SCI, ERR, DQ and VAR_* for block-wise
processing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits

from ..errors import InputError
from ..formats import INT_TIMES_COLUMNS, INT_TIMES_DTYPE

log = logging.getLogger(__name__)

#: The float cubes of a calints file, in the order tso3 handles them.
FLOAT_CUBES = ("SCI", "ERR", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT")
#: Extensions whose big data stay on disk when the metadata model is built.
_BIG_IMAGES = {"SCI", "ERR", "DQ", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT", "ZEROFRAME", "AREA"}
#: EXP_TYPEs that are TSO whatever TSOVISIT says (jwst ``is_tso``).
TSO_EXP_TYPES = {"NRC_TSIMAGE", "NRC_TSGRISM", "NRS_BRIGHTOBJ"}
#: EXP_TYPEs tso3 knows how to process.
IMAGING_EXP_TYPES = {"NRC_TSIMAGE", "MIR_IMAGE"}
SPECTRAL_EXP_TYPES = {"NRS_BRIGHTOBJ", "NRC_TSGRISM", "MIR_LRS-SLITLESS", "NIS_SOSS"}
_DQ_OFFSET = np.uint32(1 << 31)


@dataclass
class _ModelSlot:
    """The metadata model of a segment file, parsed on first use under a lock."""

    model: object = None
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Segment:
    """One calints segment file: its metadata, times, and lazy access to its arrays.

    Attributes
    ----------
    path : Path
        The file.
    shape : tuple of int
        ``(nints_in_file, ny, nx)`` of SCI.
    intstart, intend : int
        1-based inclusive integration range of this file in the exposure.
    int_times : numpy structured array
        The INT_TIMES rows of this segment's integrations, in order.
    primary_header, sci_header : astropy.io.fits.Header
        The headers, for what a run needs before the metadata model is open.
    """

    path: Path
    shape: tuple[int, int, int]
    intstart: int
    intend: int
    int_times: np.ndarray
    primary_header: fits.Header = field(repr=False)
    sci_header: fits.Header = field(repr=False)
    hdu_names: tuple[str, ...] = ()
    wavelength_image: np.ndarray | None = field(default=None, repr=False)
    # shared by every stored_at() view, so the model is parsed once, by one thread
    _slot: _ModelSlot = field(default_factory=_ModelSlot, repr=False, compare=False)

    @property
    def model(self):
        """CubeModel or SlitModel of everything but the big cubes (opened on first use).

        ``model.meta``, ``model.meta.wcs``, ``model.wavelength`` when present,
        ``model.int_times``.  See :meth:`open_model`.
        """
        return self.open_model()

    def open_model(self):
        """Parse (once) and return the metadata model.

        Raises
        ------
        InputError
            When stdatamodels cannot read the file as a JWST data model.
        """
        slot = self._slot
        with slot.lock:  # another thread asking meanwhile waits for this parse
            if slot.model is None:
                with fits.open(self.path, memmap=True, do_not_scale_image_data=True) as hdul:
                    try:
                        slot.model = open_metadata_model(self.path, hdul)
                    except Exception as exc:  # stdatamodels raises many types for bad trees
                        raise InputError(
                            self.path, f"not a valid JWST data model ({exc})"
                        ) from None
            return slot.model

    @property
    def meta(self):
        """The stdatamodels ``meta`` tree of the segment."""
        return self.model.meta

    def keyword(self, name: str, default=None):
        """A primary-header keyword (what the model's ``meta`` would map it to)."""
        value = self.primary_header.get(name, default)
        return default if value is None or isinstance(value, fits.card.Undefined) else value

    @property
    def exp_type(self) -> str:
        return str(self.keyword("EXP_TYPE", "")).upper()

    @property
    def detector(self) -> str:
        return str(self.keyword("DETECTOR", "")).upper()

    @property
    def nints(self) -> int:
        """Integrations in this file."""
        return self.shape[0]

    @property
    def segment_number(self) -> int:
        """EXSEGNUM, or 1 when absent (the reference's convention)."""
        return int(self.keyword("EXSEGNUM") or 1)

    @property
    def wavelength(self) -> np.ndarray | None:
        """The 2-D WAVELENGTH array, or ``None`` when absent or all zero.

        Read with the headers (it is small), so it needs no metadata model.
        """
        wl = self.wavelength_image
        if wl is None or not np.any(np.nan_to_num(wl)):
            return None
        return wl

    @property
    def dispaxis(self) -> int:
        """DISPAXIS of the SCI header (1 = dispersion along x), 1 when absent."""
        return int(self.sci_header.get("DISPAXIS") or 1)

    @property
    def slit_name(self) -> str | None:
        """SLTNAME (SCI header), else FXD_SLIT, else ``None``."""
        return self.sci_header.get("SLTNAME") or self.keyword("FXD_SLIT")

    def stored_at(self, path: str | os.PathLike) -> Segment:
        """The same segment, with its arrays read from (or written to) ``path``.

        For a crfints copy of the segment: metadata stay, the file changes.
        """
        return dataclasses.replace(self, path=Path(path))

    @contextlib.contextmanager
    def arrays(self, mode: str = "readonly") -> Iterator[SegmentArrays]:
        """Memory-mapped access to SCI, ERR, DQ and VAR_* (see :class:`SegmentArrays`)."""
        if mode not in ("readonly", "update"):
            raise ValueError(f"mode must be 'readonly' or 'update', not {mode!r}")
        hdul = fits.open(self.path, mode="readonly", memmap=True, do_not_scale_image_data=True)
        writable: dict[str, np.memmap] = {}
        try:
            if mode == "update":
                # Our own shared maps: changes go to the page cache and reach the disk when
                # the kernel writes them back.  astropy's update mode would msync every
                # mapped array on close, which costs more than the whole outlier step.
                for hdu in hdul[1:]:
                    if hdu.name in _BIG_IMAGES and hdu.header.get("NAXIS", 0) > 0:
                        writable[hdu.name] = np.memmap(
                            self.path, dtype=hdu.data.dtype, mode="r+",
                            offset=hdu.fileinfo()["datLoc"], shape=hdu.data.shape,
                        )  # fmt: skip
            yield SegmentArrays(hdul, writable)
        finally:
            writable.clear()
            hdul.close()


class SegmentArrays:
    """Memory-mapped cubes of one open segment file.

    Float cubes are returned as the big-endian memmaps astropy gives (no copy until
    sliced).  DQ is stored as int32 with BZERO = 2**31; :meth:`read_dq` and
    :meth:`write_dq` convert to and from uint32 without scaling the whole array.
    """

    def __init__(self, hdul: fits.HDUList, writable: dict | None = None) -> None:
        self._hdul = hdul
        self._writable = writable or {}

    def has(self, name: str) -> bool:
        """Whether the extension exists with data."""
        return name in self._hdul and self._hdul[name].header.get("NAXIS", 0) > 0

    def cube(self, name: str) -> np.ndarray:
        """The float cube ``name`` (SCI, ERR, VAR_*) as a memmap, shape ``(nints, ny, nx)``."""
        if name in self._writable:
            return self._writable[name]
        return self._hdul[name].data

    def read(self, name: str, start: int, stop: int) -> np.ndarray:
        """Integrations ``start:stop`` of a float cube as a native float32 array.

        Read with plain file reads, not through the memory map: bulk reads then leave no
        file pages mapped into the process, so its resident memory stays at the size of
        the blocks it holds, however large the files.
        """
        raw = self._read_raw(name, start, stop)
        if raw.dtype.byteorder == ">" and raw.dtype.kind == "f" and raw.dtype.itemsize == 4:
            # the fresh buffer is ours: swap it in place instead of copying
            return raw.byteswap(inplace=True).view(np.float32)
        return raw.astype(np.float32)

    def read_dq_range(self, start: int, stop: int) -> np.ndarray:
        """DQ of integrations ``start:stop`` (uint32), read like :meth:`read`."""
        hdu = self._hdul["DQ"]
        raw = self._read_raw("DQ", start, stop)
        if hdu.header.get("BZERO", 0) == 2**31 and raw.dtype.kind == "i":
            return raw.astype(np.int32).view(np.uint32) ^ _DQ_OFFSET
        return raw.astype(np.uint32)

    def _read_raw(self, name: str, start: int, stop: int) -> np.ndarray:
        hdu = self._hdul[name]
        dtype = hdu.data.dtype  # the on-disk (big-endian) type; the map is not read
        shape = hdu.data.shape
        frame = int(np.prod(shape[1:]))
        start, stop = max(0, start), min(shape[0], stop)
        offset = hdu.fileinfo()["datLoc"] + start * frame * dtype.itemsize
        count = (stop - start) * frame
        data = np.fromfile(self._hdul.filename(), dtype=dtype, count=count, offset=offset)
        return data.reshape(stop - start, *shape[1:])

    def _dq_raw(self) -> tuple[np.ndarray, bool]:
        hdu = self._hdul["DQ"]
        offset = hdu.header.get("BZERO", 0) == 2**31 and hdu.data.dtype.kind == "i"
        return self._writable.get("DQ", hdu.data), offset

    def read_dq(self, index: tuple | slice = np.s_[...]) -> np.ndarray:
        """DQ values (uint32) of ``index``."""
        raw, offset = self._dq_raw()
        block = np.asarray(raw[index])
        if offset:
            return block.astype(np.int32).view(np.uint32) ^ _DQ_OFFSET
        return block.astype(np.uint32)

    def write_dq(self, index: np.ndarray, values: np.ndarray) -> None:
        """Store uint32 DQ ``values`` at flat indices of the cube (update mode)."""
        raw, offset = self._dq_raw()
        values = np.asarray(values, dtype=np.uint32)
        raw.reshape(-1)[index] = (values ^ _DQ_OFFSET).view(np.int32) if offset else values


def _expected_size(hdul: fits.HDUList) -> int:
    last = hdul[-1]
    info = last.fileinfo()
    size = info["datLoc"] + last._data_size if info else 0
    return size


def open_metadata_model(path: Path, hdul: fits.HDUList):
    """A stdatamodels model of the file with the large image extensions left out.

    The model class comes from the DATAMODL keyword (stdatamodels writes it), else
    from EXP_TYPE.  The big cubes are replaced by header-only HDUs, so the ASDF tree
    (with the WCS), INT_TIMES and WAVELENGTH are parsed without reading gigabytes.
    """
    from stdatamodels.jwst import datamodels

    light = fits.HDUList([fits.PrimaryHDU(header=hdul[0].header)])
    for hdu in hdul[1:]:
        if hdu.name in _BIG_IMAGES and isinstance(hdu, fits.ImageHDU):
            light.append(fits.ImageHDU(header=hdu.header.copy(), name=hdu.name, ver=hdu.ver))
        else:
            light.append(hdu.copy())
    class_name = str(hdul[0].header.get("DATAMODL", ""))
    if not hasattr(datamodels, class_name) or class_name not in ("CubeModel", "SlitModel"):
        exp_type = str(hdul[0].header.get("EXP_TYPE", "")).upper()
        slit_like = exp_type in {"NRS_BRIGHTOBJ", "NRC_TSGRISM", "MIR_LRS-SLITLESS"}
        class_name = "SlitModel" if slit_like else "CubeModel"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(datamodels, class_name)(light)


def read_segment(path: str | os.PathLike) -> Segment:
    """Read one calints segment's headers and times and check it is a usable TSO segment.

    The metadata model is not parsed here (see :meth:`Segment.open_model`).

    Parameters
    ----------
    path : str or os.PathLike
        A ``*_calints.fits`` (or ``*_crfints.fits``) file.

    Returns
    -------
    Segment

    Raises
    ------
    InputError
        Unreadable or truncated FITS, no SCI cube, data not 3-D, cubes of different
        shapes, missing or inconsistent INT_TIMES, missing EXP_TYPE.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hdul = fits.open(path, memmap=True, do_not_scale_image_data=True, lazy_load_hdus=False)
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(path, f"cannot read FITS file ({exc})") from None
    with hdul:
        if path.stat().st_size < _expected_size(hdul):
            raise InputError(path, "FITS file is truncated (shorter than its headers declare)")
        names = tuple(h.name for h in hdul)
        if "SCI" not in names:
            raise InputError(path, "no SCI extension: not a calints file")
        exp_type = str(hdul[0].header.get("EXP_TYPE", "")).upper()
        if not exp_type:
            raise InputError(path, "no EXP_TYPE keyword in the primary header")
        shape = tuple(int(n) for n in hdul["SCI"].shape)
        if len(shape) != 3:
            raise InputError(path, f"SCI is {len(shape)}-D, not a 3-D integration cube")
        for name in ("ERR", "DQ", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT"):
            if name in names and hdul[name].header.get("NAXIS", 0) > 0:
                if tuple(hdul[name].shape) != shape:
                    raise InputError(
                        path, f"{name} has shape {tuple(hdul[name].shape)}, SCI has {shape}"
                    )
        if "ERR" not in names or "DQ" not in names:
            raise InputError(path, "ERR or DQ extension missing")
        primary = hdul[0].header.copy()
        sci_header = hdul["SCI"].header.copy()
        table = hdul["INT_TIMES"].data if "INT_TIMES" in names else None
        intstart = int(primary.get("INTSTART") or 1)
        intend = int(primary.get("INTEND") or (intstart + shape[0] - 1))
        if intend - intstart + 1 != shape[0]:
            raise InputError(
                path,
                f"INTSTART={intstart}, INTEND={intend} span {intend - intstart + 1} "
                f"integrations but SCI has {shape[0]}",
            )
        int_times = _segment_int_times(path, table, intstart, intend)
        wavelength = None
        if "WAVELENGTH" in names and hdul["WAVELENGTH"].header.get("NAXIS", 0) == 2:
            wavelength = np.asarray(hdul["WAVELENGTH"].data, dtype=np.float64)
    return Segment(
        path=path.resolve(),
        shape=shape,  # type: ignore[arg-type]
        intstart=intstart,
        intend=intend,
        int_times=int_times,
        primary_header=primary,
        sci_header=sci_header,
        hdu_names=names,
        wavelength_image=wavelength,
    )


def _segment_int_times(path: Path, table, intstart: int, intend: int) -> np.ndarray:
    """The INT_TIMES rows for [intstart, intend], whatever superset the table holds."""
    if table is None or len(table) == 0:
        raise InputError(path, "INT_TIMES table is missing or empty")
    table = np.asarray(table)
    missing = [c for c in INT_TIMES_COLUMNS if c not in (table.dtype.names or ())]
    if missing:
        raise InputError(path, f"INT_TIMES lacks column(s) {', '.join(missing)}")
    numbers = np.asarray(table["integration_number"], dtype=np.int64)
    wanted = np.arange(intstart, intend + 1)
    order = np.argsort(numbers, kind="stable")
    pos = np.searchsorted(numbers[order], wanted)
    pos = np.clip(pos, 0, len(numbers) - 1)
    found = numbers[order][pos] == wanted
    if not found.all():
        first_missing = int(wanted[~found][0])
        raise InputError(
            path,
            f"INT_TIMES does not cover integrations {intstart}-{intend} "
            f"(integration {first_missing} missing)",
        )
    rows = table[order][pos]
    out = np.zeros(len(rows), dtype=INT_TIMES_DTYPE)
    for c in INT_TIMES_COLUMNS:
        out[c] = rows[c]
    return out
