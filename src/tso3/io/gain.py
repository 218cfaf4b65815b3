"""GAIN reference file: read it and cut it to the science subarray.

Only needed to convert ``DN/s`` imaging data to electrons (jwst ``tso_photometry``);
tso3 itself never fetches reference files, the user supplies the file.
"""

from __future__ import annotations

import os

import numpy as np
from astropy.io import fits

from ..errors import InputError


def load_gain(
    path: str | os.PathLike,
    *,
    substrt: tuple[int, int] = (1, 1),
    subsize: tuple[int, int] | None = None,
) -> np.ndarray:
    """Read the SCI image of a GAIN reference file, cut to the science subarray.

    Parameters
    ----------
    path : str or os.PathLike
        The GAIN reference FITS file.
    substrt : (int, int)
        Science SUBSTRT1, SUBSTRT2 (1-based first column and row in full-frame pixels).
    subsize : (int, int) or None
        Science SUBSIZE1, SUBSIZE2 (nx, ny).  ``None`` returns the whole image.

    Returns
    -------
    ndarray, shape (ny, nx), float32
        Gain (electron/DN).  The reference's own SUBSTRT1/2 (default 1) are honoured,
        so a gain file that already is a subarray cuts correctly.

    Raises
    ------
    InputError
        Unreadable file, no 2-D SCI image, or a science subarray the gain image does not
        cover.
    """
    try:
        with fits.open(path, memmap=False) as hdul:
            if "SCI" not in hdul:
                raise InputError(path, "gain reference file has no SCI extension")
            hdu = hdul["SCI"]
            if hdu.data is None or hdu.data.ndim != 2:
                raise InputError(path, "gain reference SCI is not a 2-D image")
            gain = np.asarray(hdu.data, dtype=np.float32)
            ref_x1 = int(hdu.header.get("SUBSTRT1", hdul[0].header.get("SUBSTRT1", 1)))
            ref_y1 = int(hdu.header.get("SUBSTRT2", hdul[0].header.get("SUBSTRT2", 1)))
    except InputError:
        raise
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(path, f"cannot read gain reference file: {exc}") from None
    if subsize is None:
        return gain
    nx, ny = (int(v) for v in subsize)
    x1, y1 = (int(v) for v in substrt)
    if nx < 1 or ny < 1:
        raise InputError(path, f"invalid science SUBSIZE {subsize}")
    if gain.shape == (ny, nx) and (ref_x1, ref_y1) in ((x1, y1), (1, 1)):
        # Already the science subarray (a matching subarray reference, or a file
        # without SUBSTRT that has exactly the subarray's shape).
        return gain
    xo, yo = x1 - ref_x1, y1 - ref_y1
    if xo < 0 or yo < 0 or xo + nx > gain.shape[1] or yo + ny > gain.shape[0]:
        raise InputError(
            path,
            f"gain image ({gain.shape[1]}x{gain.shape[0]} from {ref_x1},{ref_y1}) does not "
            f"cover the science subarray ({nx}x{ny} from {x1},{y1})",
        )
    return np.ascontiguousarray(gain[yo : yo + ny, xo : xo + nx])
