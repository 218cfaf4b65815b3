"""Aperture-correction reference files (CRDS APCORR), read with astropy.

jwst 3.0's extract_1d multiplies point-source spectra by a correction for the light
outside the extraction aperture, from an APCORR reference.  tso3 reads no CRDS files on
its own: ``extract_1d.override_apcorr`` gives the file.  Supported: MIRI LRS
(``MirLrsApcorrModel``: one row per subarray with a correction on a grid of wavelength x
extraction size in pixels), as jwst uses it for MIR_LRS-SLITLESS and MIR_LRS-FIXEDSLIT.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

from ..errors import InputError

#: EXP_TYPEs with a MIRI LRS aperture correction (jwst's MirLrsApcorrModel).
LRS_EXP_TYPES = ("MIR_LRS-SLITLESS", "MIR_LRS-FIXEDSLIT")
_COLUMNS = ("subarray", "wavelength", "nelem_wl", "size", "nelem_size", "apcorr")


@dataclass(frozen=True)
class LrsApcorr:
    """The APCORR row of one subarray: ``apcorr[i, j]`` at ``wavelength[i]`` (um) and
    extraction size ``size[j]`` (pixels), wavelengths ascending."""

    path: Path
    wavelength: np.ndarray
    size: np.ndarray
    apcorr: np.ndarray


def read_lrs_apcorr(path: str | os.PathLike, subarray: str) -> LrsApcorr:
    """The MIRI LRS aperture correction of ``subarray`` from an APCORR reference file.

    Raises
    ------
    InputError
        When the file is not a readable APCORR table, its sizes are not in pixels, or
        not exactly one row is for ``subarray`` (jwst: "Could not resolve APCORR").
    """
    path = Path(path)
    try:
        with fits.open(path) as hdul:
            hdu = hdul["APCORR"]
            sizeunit = str(hdu.header.get("SIZEUNIT", "pixels")).strip().lower()
            table = hdu.data
            names = [n.lower() for n in (table.columns.names if table is not None else [])]
            missing = [c for c in _COLUMNS if c not in names]
            if missing:
                raise InputError(path, f"APCORR table lacks column(s) {', '.join(missing)}")
            rows = [r for r in table if str(r["subarray"]).strip().upper() == subarray.upper()]
            if len(rows) != 1:
                raise InputError(path, f"{len(rows)} APCORR rows for subarray {subarray}, "
                                       "need exactly 1")  # fmt: skip
            row = rows[0]
            nwl, nsize = int(row["nelem_wl"]), int(row["nelem_size"])
            wavelength = np.asarray(row["wavelength"], dtype=np.float64)[:nwl]
            size = np.asarray(row["size"], dtype=np.float64)[:nsize]
            apcorr = np.asarray(row["apcorr"], dtype=np.float64)[:nwl, :nsize]
    except InputError:
        raise
    except (OSError, KeyError, ValueError, TypeError, IndexError) as exc:
        raise InputError(path, f"not a MIRI LRS APCORR reference ({exc})") from None
    if not sizeunit.startswith("pix"):
        raise InputError(path, f"APCORR sizes in {sizeunit!r}: only pixels are supported")
    if wavelength.size < 2 or size.size < 2 or apcorr.shape != (wavelength.size, size.size):
        raise InputError(path, "APCORR grid needs >= 2 wavelengths and sizes")
    order = np.argsort(wavelength)
    return LrsApcorr(path, wavelength[order], size, apcorr[order])
