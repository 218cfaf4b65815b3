"""crfints products: the input segment with the outlier pass in DQ and NaN.

A crfints file is the calints file byte for byte, except for a new primary header
(S_OUTLIR=COMPLETE, ASNPOOL/ASNTABLE, tso3 provenance) and the pixels the outlier
step invalidated.  So it is made by writing the new primary header, copying the rest
of the input file as raw bytes (same model class, same extensions, same ASDF tree),
then patching the changed pixels in place through a memory map.  That costs one
sequential copy plus sparse writes, not a decode and re-encode of every array.
"""

from __future__ import annotations

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
    with fits.open(source, memmap=True, do_not_scale_image_data=True) as hdul:
        header = hdul[0].header.copy()
        rest_offset = hdul[1].fileinfo()["hdrLoc"] if len(hdul) > 1 else None
    for key, value in updates.items():
        header[key] = value
    primary = fits.PrimaryHDU(header=header)
    with open(destination, "wb") as out, warnings.catch_warnings():
        # a long value (e.g. an ASN table name) only shortens its comment: not worth a warning
        warnings.simplefilter("ignore", fits.verify.VerifyWarning)
        primary.writeto(out)
        if rest_offset is not None:
            out.flush()
            with open(source, "rb") as src:
                _copy_range(src, out, rest_offset)


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
