"""crfints products: the input segment with the outlier pass in DQ and NaN.

A crfints file is the calints file byte for byte, except for a new primary header
(S_OUTLIR=COMPLETE, ASNPOOL/ASNTABLE, tso3 provenance) and the pixels the outlier
step invalidated.  So it is made by writing the new primary header, copying the rest
of the input file as raw bytes (same model class, same extensions, same ASDF tree),
then patching the changed pixels in place through a memory map.  That costs one
sequential copy plus sparse writes, not a decode and re-encode of every array.  An
observation too large for the page cache is instead written from the outlier pass's
blocks, to the same bytes (:mod:`tso3.io.crfints_stream`).
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from astropy.io import fits

from .association import output_basename

CRFINTS_SUFFIX = "crfints"


def crfints_name(segment_path: str | os.PathLike, asn_id: str) -> str:
    """``<segment basename>_<asn_id>_crfints.fits`` (stpipe's naming, docs/usage.md)."""
    return f"{output_basename(segment_path, asn_id)}_{asn_id}_{CRFINTS_SUFFIX}.fits"


def primary_header_bytes(source: str | os.PathLike, updates: Mapping[str, object]) -> bytes:
    """The primary HDU of ``source`` with ``updates`` applied, as FITS bytes.

    Split from :func:`write_copy` so that the header work (and its warnings filter,
    which is process-wide) stays in the calling thread and the copy can run in another.
    """
    with fits.open(source, memmap=True, do_not_scale_image_data=True) as hdul:
        header = hdul[0].header.copy()
    for key, value in updates.items():
        header[key] = value
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # a long value (e.g. an ASN table name) only shortens its comment: not worth a warning
        warnings.simplefilter("ignore", fits.verify.VerifyWarning)
        fits.PrimaryHDU(header=header).writeto(buffer)
    return buffer.getvalue()


#: The cubes that take NaN where a pixel is flagged, so they must be floating point.
FLOAT_CUBES = ("SCI", "ERR", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT")


def write_copy(source: str | os.PathLike, destination: str | os.PathLike, primary: bytes) -> None:
    """Write ``primary`` (a whole primary HDU, see :func:`primary_header_bytes`), then
    every other HDU of ``source`` byte for byte.

    A file whose SCI, ERR or VAR_* cube holds integers (stage 2 writes float32) cannot
    take NaN: its copy has those cubes as float32 instead.
    """
    with fits.open(source, memmap=True, do_not_scale_image_data=True) as hdul:
        rest_offset = hdul[1].fileinfo()["hdrLoc"] if len(hdul) > 1 else None
        integer = [h.name for h in hdul[1:] if h.name in FLOAT_CUBES and h.header["BITPIX"] > 0]
    if integer:
        _write_float_copy(source, destination, primary)
        return
    with open(destination, "wb") as out:
        out.write(primary)
        if rest_offset is not None:
            out.flush()
            with open(source, "rb") as src:
                size = os.fstat(src.fileno()).st_size
                copy_bytes(
                    src.fileno(), out.fileno(), rest_offset, size, len(primary) - rest_offset
                )


def _write_float_copy(
    source: str | os.PathLike, destination: str | os.PathLike, primary: bytes
) -> None:
    """The copy of :func:`write_copy` with the integer cubes of FLOAT_CUBES as float32."""
    with fits.open(source, memmap=False) as hdul:  # a rare file: read whole, scaled
        hdus = [fits.PrimaryHDU(header=fits.Header.fromstring(primary.decode("ascii")))]
        for hdu in hdul[1:]:
            if hdu.name in FLOAT_CUBES and hdu.header["BITPIX"] > 0:
                header = hdu.header.copy()
                for key in ("BSCALE", "BZERO", "BLANK"):
                    header.remove(key, ignore_missing=True)
                hdu = fits.ImageHDU(np.asarray(hdu.data, np.float32), header, name=hdu.name)
            hdus.append(hdu)
        fits.HDUList(hdus).writeto(destination, overwrite=True)


def copy_bytes(src: int, dst: int, start: int, stop: int, shift: int) -> None:
    """Bytes ``start:stop`` of file descriptor ``src`` to ``start + shift`` of ``dst``,
    inside the kernel where possible."""
    while start < stop:
        try:
            n = os.copy_file_range(src, dst, stop - start, start, start + shift)
        except OSError:  # no kernel support across these file systems: through memory
            chunk = os.pread(src, min(stop - start, 16 * 1024**2), start)
            n = os.pwrite(dst, chunk, start + shift)
        if n == 0:
            raise OSError(f"copied to byte {start} of {stop}")
        start += n


def crfints_path(
    output_dir: str | os.PathLike, segment_path: str | os.PathLike, asn_id: str
) -> Path:
    """Where the crfints of ``segment_path`` goes."""
    return Path(output_dir) / crfints_name(segment_path, asn_id)
