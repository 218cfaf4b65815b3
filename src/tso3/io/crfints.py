"""crfints products: the input segment with the outlier pass in DQ and NaN.

A crfints file is the calints file byte for byte, except for a new primary header
(S_OUTLIR=COMPLETE, ASNPOOL/ASNTABLE, tso3 provenance) and the pixels the outlier
step invalidated.  So it is made by writing the new primary header, copying the rest
of the input file as raw bytes (same model class, same extensions, same ASDF tree),
then patching the changed pixels in place through a memory map.  That costs one
sequential copy plus sparse writes, not a decode and re-encode of every array.
"""

from __future__ import annotations

import io
import os
import shutil
import warnings
from collections.abc import Mapping
from pathlib import Path

from astropy.io import fits

from .association import output_basename

CRFINTS_SUFFIX = "crfints"


def crfints_name(segment_path: str | os.PathLike, asn_id: str) -> str:
    """``<segment basename>_<asn_id>_crfints.fits`` (stpipe's naming, §A)."""
    return f"{output_basename(segment_path, asn_id)}_{asn_id}_{CRFINTS_SUFFIX}.fits"


def copy_with_primary_header(
    source: str | os.PathLike, destination: str | os.PathLike, updates: Mapping[str, object]
) -> None:
    """Copy a FITS file, replacing keywords of its primary header.

    Parameters
    ----------
    source, destination : path-like
        Input file and the file to create (overwritten).
    updates : mapping
        Keyword -> value, or keyword -> (value, comment), set in the primary header.
    """
    write_copy(source, destination, primary_header_bytes(source, updates))


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


def write_copy(source: str | os.PathLike, destination: str | os.PathLike, primary: bytes) -> None:
    """Write ``primary`` (a whole primary HDU) then every other HDU of ``source`` as is."""
    with open(source, "rb") as src:
        head = fits.Header.fromfile(src)  # leaves the file at the end of the header
        rest_offset = src.tell() + _padded(_primary_data_bytes(head))
        with open(destination, "wb") as out:
            out.write(primary)
            out.flush()
            if rest_offset < os.fstat(src.fileno()).st_size:
                _copy_range(src, out, rest_offset)


def _primary_data_bytes(header: fits.Header) -> int:
    naxis = int(header.get("NAXIS", 0))
    if naxis == 0:
        return 0
    count = 1
    for k in range(1, naxis + 1):
        count *= int(header.get(f"NAXIS{k}", 0))
    return count * abs(int(header.get("BITPIX", 8))) // 8


def _padded(nbytes: int) -> int:
    return -(-nbytes // 2880) * 2880


def _copy_range(src, dst, start: int) -> None:
    """Append ``src`` from byte ``start`` to ``dst`` inside the kernel where possible."""
    size = os.fstat(src.fileno()).st_size - start
    copy = getattr(os, "copy_file_range", None)
    done = 0
    try:
        while done < size:
            if copy is not None:
                n = copy(src.fileno(), dst.fileno(), size - done, start + done)
            else:
                n = os.sendfile(dst.fileno(), src.fileno(), start + done, size - done)
            if n == 0:
                break
            done += n
    except OSError:
        # e.g. across file systems without kernel support: plain buffered copy
        src.seek(start + done)
        dst.seek(0, os.SEEK_END)
        shutil.copyfileobj(src, dst, length=16 * 1024 * 1024)
        return
    if done != size:
        raise OSError(f"copied {done} of {size} bytes")


def crfints_path(
    output_dir: str | os.PathLike, segment_path: str | os.PathLike, asn_id: str
) -> Path:
    """Where the crfints of ``segment_path`` goes."""
    return Path(output_dir) / crfints_name(segment_path, asn_id)
