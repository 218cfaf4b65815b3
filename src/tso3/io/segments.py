"""Exposure segments: metadata from the FITS headers, big arrays memory-mapped.

A real TSO exposure is cut into segments of a few GB each.  tso3 never loads a whole
segment to learn its metadata: :func:`read_segment` checks the FITS headers and reads
INT_TIMES and WAVELENGTH, which is all it takes to order and validate a series and to
know everything but the WCS.  ``Segment.meta`` gives the header keywords under the
stdatamodels attribute paths (:mod:`tso3.io.header_meta`).  The WCS lives in the ASDF
tree of the file: :meth:`Segment.open_wcs` parses that tree when a stage needs it (the
first parse in a process loads every installed asdf extension, ~1.5 s of pure Python, so
a run does it in the background, and only when the WCS is used).
:meth:`Segment.arrays` gives memory-mapped views of SCI, ERR, DQ and VAR_* for block-wise
processing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import logging
import os
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from astropy.io import fits

from ..errors import InputError
from ..formats import DHS_SUBARRAYS, INT_TIMES_COLUMNS, INT_TIMES_DTYPE
from ..spectra import series_label
from .header_meta import header_meta, header_value
from .stripes import segment_stripe_times, stripe_layout

log = logging.getLogger(__name__)

#: The float cubes of a calints file, in the order tso3 handles them.
FLOAT_CUBES = ("SCI", "ERR", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT")
#: Extensions whose big data stay on disk when the metadata model is built.
_BIG_IMAGES = {"SCI", "ERR", "DQ", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT", "ZEROFRAME", "AREA"}
#: EXP_TYPEs that are TSO whatever TSOVISIT says (jwst ``is_tso``).
TSO_EXP_TYPES = {"NRC_TSIMAGE", "NRC_TSGRISM", "NRS_BRIGHTOBJ"}
#: EXP_TYPEs tso3 knows how to process.
IMAGING_EXP_TYPES = {"NRC_TSIMAGE", "MIR_IMAGE"}
#: EXP_TYPEs with striped subarrays (SOSS superstripes, NIRSpec PRISM multistripes).
STRIPED_EXP_TYPES = {"NIS_SOSS", "NRS_BRIGHTOBJ"}
SPECTRAL_EXP_TYPES = {
    "NRS_BRIGHTOBJ", "NRC_TSGRISM", "MIR_LRS-SLITLESS", "MIR_LRS-FIXEDSLIT", "NIS_SOSS",
}  # fmt: skip
#: DQ is stored as int32 with BZERO = 2**31: XOR with this turns those bits into uint32
DQ_OFFSET = np.uint32(1 << 31)


_NOT_PARSED = object()


@dataclass
class _WcsSlot:
    """The WCS of a segment file, parsed from its ASDF tree on first use under a lock."""

    wcs: object = _NOT_PARSED
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
        The headers, where every metadata value tso3 uses comes from.
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
    #: no ERR value > 0 in the first integration (ERR all zero or NaN)
    err_unusable: bool = False
    #: superstripe data: INT_TIMES_STRIPE rows of this segment (:mod:`tso3.io.stripes`)
    stripe_times: np.ndarray | None = field(default=None, repr=False)
    #: the EXTVER of its SCI, ERR, DQ, VAR_* and WAVELENGTH: 1, or the slit's in a
    #: MultiSlit calints (NIRCam DHS: one slit per stripe, :func:`read_slits`)
    extver: int = 1
    #: SLTNAME of that slit (MultiSlit calints), else None
    slit: str | None = None
    # shared by every stored_at() view, so the tree is parsed once, by one thread
    _slot: _WcsSlot = field(default_factory=_WcsSlot, repr=False, compare=False)

    @property
    def key(self) -> tuple[Path, int]:
        """The segment's identity in an observation: its file and EXTVER (a file of a
        MultiSlit calints holds several segments, one per slit)."""
        return self.path, self.extver

    @property
    def series(self) -> str:
        """The time series of the observation it belongs to: its DETECTOR, or ``STRIPE<n>``
        for slit n of a NIRCam DHS calints (:func:`tso3.spectra.series_label`)."""
        return series_label(self.detector, self.slit)

    @functools.cached_property
    def meta(self) -> SimpleNamespace:
        """The header keywords tso3 uses, under stdatamodels' ``meta`` paths.

        ``meta.instrument.name``, ``meta.bunit_data``, ... (see
        :data:`tso3.io.header_meta.META_KEYWORDS`); ``None`` where a keyword is absent.
        """
        return header_meta({"PRIMARY": self.primary_header, "SCI": self.sci_header})

    @property
    def wcs(self):
        """The gwcs of the segment (``meta.wcs`` of its ASDF tree), or ``None``.

        See :meth:`open_wcs`.
        """
        return self.open_wcs()

    def open_wcs(self):
        """Parse (once) the ASDF tree and return its ``meta.wcs`` (``None`` without one).

        Raises
        ------
        InputError
            When the ASDF tree cannot be read.
        """
        slot = self._slot
        with slot.lock:  # another thread asking meanwhile waits for this parse
            if slot.wcs is _NOT_PARSED:
                slot.wcs = read_tree_wcs(self.path) if "ASDF" in self.hdu_names else None
            return slot.wcs

    def keyword(self, name: str, default=None):
        """A primary-header keyword, ``default`` when absent or undefined."""
        value = header_value(self.primary_header, name)
        return default if value is None else value

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
        return integer_keyword(self.path, self.primary_header, "EXSEGNUM") or 1

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
                    mine = hdu.ver == self.extver and hdu.header.get("NAXIS", 0) > 0
                    if hdu.name in _BIG_IMAGES and mine:
                        writable[hdu.name] = np.memmap(
                            self.path, dtype=hdu.data.dtype, mode="r+",
                            offset=hdu.fileinfo()["datLoc"], shape=hdu.data.shape,
                        )  # fmt: skip
            yield SegmentArrays(hdul, writable, self.extver)
        finally:
            writable.clear()
            hdul.close()


class SegmentArrays:
    """Memory-mapped cubes of one open segment file.

    Float cubes are returned as the big-endian memmaps astropy gives (no copy until
    sliced).  DQ is stored as int32 with BZERO = 2**31; :meth:`read_dq` and
    :meth:`write_dq` convert to and from uint32 without scaling the whole array.
    """

    def __init__(self, hdul: fits.HDUList, writable: dict | None = None, extver: int = 1):
        self._hdul = hdul
        self._writable = writable or {}
        self._extver = extver

    def _hdu(self, name: str):
        return self._hdul[(name, self._extver)]

    def has(self, name: str) -> bool:
        """Whether the extension exists with data."""
        try:
            return self._hdu(name).header.get("NAXIS", 0) > 0
        except KeyError:
            return False

    def cube(self, name: str) -> np.ndarray:
        """The float cube ``name`` (SCI, ERR, VAR_*) as a memmap, shape ``(nints, ny, nx)``."""
        if name in self._writable:
            return self._writable[name]
        return self._hdu(name).data

    def read(self, name: str, start: int, stop: int) -> np.ndarray:
        """Integrations ``start:stop`` of a float cube as a native float32 array.

        Read with plain file reads, not through the memory map: bulk reads then leave no
        file pages mapped into the process, so its resident memory stays at the size of
        the blocks it holds, however large the files.
        """
        return _native(self._read_raw(name, start, stop), np.float32)

    def read_dq_range(self, start: int, stop: int) -> np.ndarray:
        """DQ of integrations ``start:stop`` (uint32), read like :meth:`read`."""
        hdu = self._hdu("DQ")
        raw = self._read_raw("DQ", start, stop)
        if hdu.header.get("BZERO", 0) == 2**31 and raw.dtype.kind == "i":
            dq = _native(raw, np.uint32)  # the int32 bits, then the offset taken off
            dq ^= DQ_OFFSET
            return dq
        return raw.astype(np.uint32)

    def _read_raw(self, name: str, start: int, stop: int) -> np.ndarray:
        hdu = self._hdu(name)
        dtype = hdu.data.dtype  # the on-disk (big-endian) type; the map is not read
        shape = hdu.data.shape
        frame = int(np.prod(shape[1:]))
        start, stop = max(0, start), min(shape[0], stop)
        offset = hdu.fileinfo()["datLoc"] + start * frame * dtype.itemsize
        count = (stop - start) * frame
        data = np.fromfile(self._hdul.filename(), dtype=dtype, count=count, offset=offset)
        return data.reshape(stop - start, *shape[1:])

    def _dq_raw(self) -> tuple[np.ndarray, bool]:
        hdu = self._hdu("DQ")
        offset = hdu.header.get("BZERO", 0) == 2**31 and hdu.data.dtype.kind == "i"
        return self._writable.get("DQ", hdu.data), offset

    def read_dq(self, index: tuple | slice = np.s_[...]) -> np.ndarray:
        """DQ values (uint32) of ``index``."""
        raw, offset = self._dq_raw()
        block = np.asarray(raw[index])
        if offset:
            return block.astype(np.int32).view(np.uint32) ^ DQ_OFFSET
        return block.astype(np.uint32)

    def write_dq(self, index: np.ndarray, values: np.ndarray) -> None:
        """Store uint32 DQ ``values`` at flat indices of the cube (update mode)."""
        raw, offset = self._dq_raw()
        values = np.asarray(values, dtype=np.uint32)
        raw.reshape(-1)[index] = (values ^ DQ_OFFSET).view(np.int32) if offset else values


def _native(raw: np.ndarray, dtype) -> np.ndarray:
    """``raw``, a buffer just read (ours to change), as native ``dtype``: its big-endian
    twin of the same width (float to float, integer to integer: the same bits) is swapped
    in place instead of copied; anything else is converted."""
    dtype = np.dtype(dtype)
    same_bits = raw.dtype.kind == dtype.kind or {raw.dtype.kind, dtype.kind} == {"i", "u"}
    if raw.dtype.byteorder == ">" and raw.dtype.itemsize == dtype.itemsize and same_bits:
        return raw.byteswap(inplace=True).view(dtype)
    return raw.astype(dtype)


def _expected_size(hdul: fits.HDUList) -> int:
    last = hdul[-1]
    info = last.fileinfo()
    size = info["datLoc"] + last._data_size if info else 0
    return size


def open_wcs(segments: list[Segment]) -> None:
    """Parse the ASDF trees of ``segments`` for their WCS (see :meth:`Segment.open_wcs`).

    Raises
    ------
    InputError
        When a tree cannot be read.
    """
    for seg in segments:
        seg.open_wcs()


def read_tree_wcs(path: Path):
    """``meta.wcs`` of the ASDF tree that stdatamodels stores in a FITS file's ASDF HDU.

    The tree is read with asdf alone: the arrays it points to (``fits:SCI,1`` ...) are
    not loaded, and the schema validation of stdatamodels is not needed for the WCS.

    Raises
    ------
    InputError
        When the tree cannot be read.
    """
    import asdf

    try:
        with fits.open(path, memmap=True) as hdul:
            raw = _tree_bytes(hdul)
        # asdf warns about tags of packages that are not installed; the WCS is then not
        # callable and the caller says so.  No filter is set here (threads, see
        # tso3.parallel): the run's filters ignore asdf's warnings.
        with asdf.open(io.BytesIO(raw), lazy_load=True) as tree:
            meta = tree.tree.get("meta") or {}
            wcs = meta.get("wcs") if isinstance(meta, dict) else None
    except Exception as exc:  # asdf and yaml raise many types for a damaged tree
        raise InputError(path, f"not a valid JWST data model (ASDF tree: {exc})") from None
    if wcs is not None and not callable(wcs):
        log.warning("%s: the WCS in the ASDF tree cannot be built here (a tag of a package "
                    "that is not installed); it is not used", path.name)  # fmt: skip
        return None
    return wcs


def _tree_int_times(path: Path, hdul: fits.HDUList) -> np.ndarray | None:
    """``int_times`` of the ASDF tree (where a MultiSlitModel keeps it), or None.

    Read with asdf alone; only that array's block is loaded.

    Raises
    ------
    InputError
        When the tree cannot be read.
    """
    import asdf

    try:
        with asdf.open(io.BytesIO(_tree_bytes(hdul)), lazy_load=True) as tree:
            table = tree.tree.get("int_times")
            return None if table is None else np.array(table)
    except Exception as exc:  # asdf and yaml raise many types for a damaged tree
        raise InputError(path, f"not a valid JWST data model (ASDF tree: {exc})") from None


def _tree_bytes(hdul: fits.HDUList) -> bytes:
    """The ASDF file that stdatamodels stores in the ASDF extension."""
    return np.asarray(hdul["ASDF"].data["ASDF_METADATA"][0]).tobytes()


def check_tree(path: Path, hdul: fits.HDUList) -> None:
    """Check the ASDF tree is well-formed YAML (a few ms with libyaml).

    Only the syntax: the tags are converted when the WCS is parsed (:func:`read_tree_wcs`),
    which a run does only when it uses the WCS.  A damaged tree is then found when the
    input is read, before anything is written or logged.

    Raises
    ------
    InputError
        When the ASDF extension holds no readable tree.
    """
    import yaml

    try:
        raw = _tree_bytes(hdul)
        if not raw.startswith(b"#ASDF"):
            raise ValueError("no #ASDF header")
        end = raw.find(b"\n...")  # the YAML document ends here; binary blocks may follow
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        yaml.compose(raw if end < 0 else raw[: end + 5], Loader=loader)
    except (KeyError, IndexError, ValueError, yaml.YAMLError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(path, f"not a valid JWST data model (ASDF tree: {reason})") from None


def read_segment(path: str | os.PathLike) -> Segment:
    """Read one calints segment's headers and times and check it is a usable TSO segment.

    The ASDF tree is not parsed here (see :meth:`Segment.open_wcs`).

    Parameters
    ----------
    path : str or os.PathLike
        A ``*_calints.fits`` (or ``*_crfints.fits``) file with one SCI cube.

    Returns
    -------
    Segment

    Raises
    ------
    InputError
        Unreadable or truncated FITS, no SCI cube or several (see :func:`read_calints`),
        data not 3-D, cubes of different shapes, INTSTART/INTEND not matching SCI, a
        non-integer NINTS, INTSTART, INTEND, EXSEGNUM or EXSEGTOT, missing EXP_TYPE,
        malformed ASDF tree, a superstripe segment without a complete INT_TIMES_STRIPE
        table.
    """
    segments = read_calints(path)
    if len(segments) > 1:
        raise InputError(path, f"{len(segments)} slits (SCI cubes) in one file: a MultiSlit "
                               "calints, read with read_calints")  # fmt: skip
    return segments[0]


def read_calints(path: str | os.PathLike) -> list[Segment]:
    """Every time series of one calints file: one Segment, or one per slit of a NIRCam
    DHS MultiSlit calints (:func:`read_slits`).

    Raises
    ------
    InputError
        As :func:`read_segment`; several SCI cubes in a file that is not NIRCam DHS (no
        other TSO mode writes MultiSlit calints).
    """
    path = Path(path)
    hdul, names = _open(path)
    with hdul:
        subarray = str(hdul[0].header.get("SUBARRAY", "")).upper()
        if subarray in DHS_SUBARRAYS:  # slits named by stripe, even a single one
            return _slits(path, hdul, names)
        if names.count("SCI") == 1:
            return [_read_cube(path, hdul, names)]
    slits = ", ".join(str(h.header.get("SLTNAME", h.ver)) for h in hdul if h.name == "SCI")
    problem = (f"{names.count('SCI')} slits in one file (SLTNAME {slits}) with "
               f"SUBARRAY={subarray or 'none'}: tso3 reduces MultiSlit calints of "
               "NIRCam DHS (*_DHS subarrays) only")  # fmt: skip
    raise InputError(path, problem)


def read_slits(path: str | os.PathLike) -> list[Segment]:
    """Every slit of a MultiSlit calints (NIRCam DHS: one per stripe) as a Segment.

    Each has the ``extver`` and ``slit`` (SLTNAME) of its SCI; they share the file, its
    primary header and its times: INT_TIMES, which a MultiSlitModel keeps in its ASDF
    tree (its schema has no FITS table for it), read with asdf alone.

    Raises
    ------
    InputError
        As :func:`read_segment`, for any of the slits.
    """
    path = Path(path)
    hdul, names = _open(path)
    with hdul:
        return _slits(path, hdul, names)


def _slits(path: Path, hdul: fits.HDUList, names: tuple[str, ...]) -> list[Segment]:
    """:func:`read_slits` of an open file."""
    # a slit without SLTNAME is named by its EXTVER, as calwebb_spec2 numbers stripes
    versions = [(h.ver, str(h.header.get("SLTNAME") or h.ver).strip())
                for h in hdul if h.name == "SCI"]  # fmt: skip
    named = [name for _, name in versions]
    twice = next((name for name in named if named.count(name) > 1), None)
    if twice is not None:
        raise InputError(path, f"two slits are named SLTNAME={twice}")
    # INT_TIMES, which a MultiSlitModel keeps in its ASDF tree: parsed once per file
    table = _int_times_table(path, hdul, names, tree=True)
    return [_read_cube(path, hdul, names, ver, name, table) for ver, name in versions]


def _open(path: Path) -> tuple[fits.HDUList, tuple[str, ...]]:
    """A calints file opened (memory-mapped) and its HDU names; InputError when it is no
    readable FITS, is truncated or has no SCI."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hdul = fits.open(path, memmap=True, do_not_scale_image_data=True, lazy_load_hdus=False)
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(path, f"cannot read FITS file ({exc})") from None
    names = tuple(h.name for h in hdul)
    problem = None
    if path.stat().st_size < _expected_size(hdul):
        problem = "FITS file is truncated (shorter than its headers declare)"
    elif "SCI" not in names:
        problem = "no SCI extension: not a calints file"
    if problem:
        hdul.close()
        raise InputError(path, problem)
    return hdul, names


def _int_times_table(path: Path, hdul: fits.HDUList, names: tuple[str, ...], tree: bool):
    """The file's INT_TIMES table: its FITS extension, else (``tree``: a MultiSlitModel)
    the ASDF tree's, else None."""
    if "INT_TIMES" in names:
        return hdul["INT_TIMES"].data
    return _tree_int_times(path, hdul) if tree and "ASDF" in names else None


def _read_cube(
    path: Path, hdul: fits.HDUList, names: tuple[str, ...], extver: int = 1,
    slit: str | None = None, table=None,
) -> Segment:  # fmt: skip
    """The Segment of the cubes with EXTVER ``extver`` of an open file (``table``: the
    INT_TIMES of a MultiSlit file, else read here)."""

    def has(name: str) -> bool:
        try:
            return hdul[(name, extver)].header.get("NAXIS", 0) > 0
        except KeyError:
            return False

    def hdu(name: str):
        return hdul[(name, extver)]

    exp_type = str(hdul[0].header.get("EXP_TYPE", "")).upper()
    if not exp_type:
        raise InputError(path, "no EXP_TYPE keyword in the primary header")
    shape = tuple(int(n) for n in hdu("SCI").shape)
    if len(shape) != 3:
        raise InputError(path, f"SCI is {len(shape)}-D, not a 3-D integration cube")
    for name in ("ERR", "DQ", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT"):
        if has(name) and tuple(hdu(name).shape) != shape:
            raise InputError(path, f"{name} has shape {tuple(hdu(name).shape)}, SCI has {shape}")
    if not (has("ERR") and has("DQ")):
        raise InputError(path, "ERR or DQ extension missing")
    primary = hdul[0].header.copy()
    sci_header = hdu("SCI").header.copy()
    if slit is None:
        table = _int_times_table(path, hdul, names, tree=False)
    check_numeric_keywords(path, {"PRIMARY": primary, "SCI": hdu("SCI").header})
    intstart = integer_keyword(path, primary, "INTSTART")
    intend = integer_keyword(path, primary, "INTEND")
    if intstart is None:  # one of them, with the cube's length, gives the other
        intstart = 1 if intend is None else intend - shape[0] + 1
    if intend is None:
        intend = intstart + shape[0] - 1
    nints = integer_keyword(path, primary, "NINTS")
    if nints is not None and intend > nints:
        raise InputError(path, f"INTEND={intend} is beyond NINTS={nints}")
    if intend - intstart + 1 != shape[0]:
        raise InputError(
            path,
            f"INTSTART={intstart}, INTEND={intend} span {intend - intstart + 1} "
            f"integrations but SCI has {shape[0]}",
        )
    int_times = _segment_int_times(table, intstart, intend)
    with np.errstate(invalid="ignore"):  # one frame: ERR all zero makes zero errors
        err_unusable = not bool(np.any(np.asarray(hdu("ERR").section[0]) > 0))
    if "ASDF" in names:
        check_tree(path, hdul)
    stripe_times = None
    layout = stripe_layout(str(primary.get("SUBARRAY", "")))
    if layout is not None and exp_type in STRIPED_EXP_TYPES:
        stripes = hdul["INT_TIMES_STRIPE"].data if "INT_TIMES_STRIPE" in names else None
        stripe_times = segment_stripe_times(path, layout, stripes, intstart, intend, shape[2])
    wavelength = None
    if has("WAVELENGTH") and hdu("WAVELENGTH").header.get("NAXIS", 0) == 2:
        wavelength = np.asarray(hdu("WAVELENGTH").data, dtype=np.float64)
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
        err_unusable=err_unusable,
        stripe_times=stripe_times,
        extver=extver,
        slit=slit,
    )


#: Keywords tso3 reads as numbers: (HDU, keyword) -> True for an integer.
NUMERIC_KEYWORDS = {
    **{("PRIMARY", k): True for k in ("NINTS", "INTSTART", "INTEND", "EXSEGNUM", "EXSEGTOT")},
    **{("PRIMARY", k): True for k in ("SUBSTRT1", "SUBSTRT2", "SUBSIZE1", "SUBSIZE2")},
    **{("PRIMARY", k): False for k in ("EXPSTART", "EXPMID", "EXPEND", "EFFINTTM")},
    **{("PRIMARY", k): False for k in ("BSTRTIME", "BENDTIME")},
    **{("SCI", k): False for k in ("XREF_SCI", "YREF_SCI", "PIXAR_SR", "PIXAR_A2")},
    ("SCI", "DISPAXIS"): True,
    ("SCI", "SPORDER"): True,
}


def check_numeric_keywords(path: Path, headers: dict[str, fits.Header]) -> None:
    """InputError naming the first keyword of NUMERIC_KEYWORDS that holds no number (or
    no integer), or a DISPAXIS other than 1 or 2; absent keywords are fine."""
    for (hdu, key), integer in NUMERIC_KEYWORDS.items():
        header = headers[hdu]
        if integer:
            integer_keyword(path, header, key)
            continue
        value = header_value(header, key)
        if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
            continue
        raise InputError(path, f"{key}={value!r} is not a number")
    dispaxis = integer_keyword(path, headers["SCI"], "DISPAXIS")
    if dispaxis not in (None, 1, 2):
        raise InputError(path, f"DISPAXIS={dispaxis}: must be 1 or 2")


def integer_keyword(path: Path, header: fits.Header, key: str) -> int | None:
    """An integer-valued keyword (``None`` when absent), InputError when not an integer."""
    value = header_value(header, key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
        if not number.is_integer():
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise InputError(path, f"{key}={value!r} is not an integer") from None
    return int(number)


def _segment_int_times(table, intstart: int, intend: int) -> np.ndarray:
    """The INT_TIMES rows for [intstart, intend], whatever superset the table holds.

    Integrations the table does not list (a short, empty or missing table, as in some
    archive files that jwst processes too), and times of 0 (unset), get NaN; the
    observation fills them in
    (:func:`tso3.io.times.fill_missing_times`).
    """
    wanted = np.arange(intstart, intend + 1)
    out = np.zeros(len(wanted), dtype=INT_TIMES_DTYPE)
    out["integration_number"] = wanted
    for c in INT_TIMES_COLUMNS[1:]:
        out[c] = np.nan
    names = () if table is None else (np.asarray(table).dtype.names or ())
    if table is None or len(table) == 0 or any(c not in names for c in INT_TIMES_COLUMNS):
        return out
    table = np.asarray(table)
    numbers = np.asarray(table["integration_number"], dtype=np.int64)
    order = np.argsort(numbers, kind="stable")
    pos = np.clip(np.searchsorted(numbers[order], wanted), 0, len(numbers) - 1)
    found = numbers[order][pos] == wanted
    rows = table[order][pos[found]]
    for c in INT_TIMES_COLUMNS[1:]:
        values = np.asarray(rows[c], dtype=np.float64)
        # 0 is how a pipeline leaves a time unset (jwst writes 0 for a BJD it could not
        # compute): no JWST time is at or before MJD 0
        out[c][found] = np.where(values > 0, values, np.nan)
    return out
