"""Aperture-correction reference files (CRDS APCORR), read with astropy.

jwst 3.0's extract_1d multiplies point-source spectra by a correction for the light
outside the extraction aperture, from an APCORR reference.  tso3 reads no CRDS files on
its own: ``extract_1d.override_apcorr`` gives the file.  Supported:

- MIRI LRS (``MirLrsApcorrModel``: one row per subarray, a correction on a grid of
  wavelength x extraction size in pixels), as jwst uses it for MIR_LRS-SLITLESS and
  MIR_LRS-FIXEDSLIT;
- NIRSpec fixed slit and BOTS (``NrsFsApcorrModel``: one row per filter, grating and
  slit, a correction on a grid of extraction size x wavelength x pixel phase, sizes
  given per wavelength, in pixels or arcsec), as jwst uses it for NRS_BRIGHTOBJ.
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
#: EXP_TYPEs with a NIRSpec fixed-slit aperture correction (jwst's NrsFsApcorrModel).
NRS_EXP_TYPES = ("NRS_BRIGHTOBJ",)
_LRS_COLUMNS = ("subarray", "wavelength", "nelem_wl", "size", "nelem_size", "apcorr")
_NRS_COLUMNS = ("filter", "grating", "slit", "wavelength", "nelem_wl", "size", "nelem_size",
                "pixphase", "apcorr")  # fmt: skip


@dataclass(frozen=True)
class LrsApcorr:
    """The APCORR row of one subarray: ``apcorr[i, j]`` at ``wavelength[i]`` (um) and
    extraction size ``size[j]`` (pixels), wavelengths ascending."""

    path: Path
    wavelength: np.ndarray
    size: np.ndarray
    apcorr: np.ndarray


@dataclass(frozen=True)
class PhaseApcorr:
    """The APCORR row of one NIRSpec filter, grating and slit.

    ``apcorr[k, i, p]`` is the correction for extraction size ``size[k, i]`` at
    ``wavelength[i]`` (um) and pixel phase ``pixphase[p]``; sizes are in ``sizeunit``
    ("pixels" or "arcsec").  ``jwst_layout`` is False when the file stores the grid as
    (pixel phase, size, wavelength): jwst 3.0 then applies no correction at all (its
    interpolation fails and it falls back to 1), tso3 reads the grid as the file says.
    """

    path: Path
    wavelength: np.ndarray
    size: np.ndarray
    pixphase: np.ndarray
    apcorr: np.ndarray
    sizeunit: str
    jwst_layout: bool


def _matching_row(path: Path, columns: tuple[str, ...], match: dict[str, str], what: str):
    """The one row of the APCORR table whose string columns equal ``match`` (any case),
    and the SIZEUNIT of the table (lower case, "pixels" when absent)."""
    try:
        with fits.open(path) as hdul:
            hdu = hdul["APCORR"]
            sizeunit = str(hdu.header.get("SIZEUNIT") or "pixels").strip().lower()
            table = hdu.data
            names = [n.lower() for n in (table.columns.names if table is not None else [])]
            missing = [c for c in columns if c not in names]
            if missing:
                lacks = ", ".join(missing)
                raise InputError(path, f"not a {what} APCORR reference: no column(s) {lacks}")
            rows = [
                row for row in table
                if all(str(row[k]).strip().upper() == v.upper() for k, v in match.items())
            ]  # fmt: skip
            if len(rows) != 1:
                wanted = ", ".join(f"{k} {v}" for k, v in match.items())
                raise InputError(path, f"{len(rows)} APCORR rows for {wanted}, need exactly 1")
            row = {name: np.array(rows[0][name]) for name in columns}
    except InputError:
        raise
    except (OSError, KeyError, ValueError, TypeError, IndexError) as exc:
        raise InputError(path, f"not a {what} APCORR reference ({exc})") from None
    return row, sizeunit


def read_lrs_apcorr(path: str | os.PathLike, subarray: str) -> LrsApcorr:
    """The MIRI LRS aperture correction of ``subarray`` from an APCORR reference file.

    Raises
    ------
    InputError
        When the file is not a readable APCORR table, its sizes are not in pixels, or
        not exactly one row is for ``subarray`` (jwst: "Could not resolve APCORR").
    """
    path = Path(path)
    row, sizeunit = _matching_row(path, _LRS_COLUMNS, {"subarray": subarray}, "MIRI LRS")
    try:
        nwl, nsize = int(row["nelem_wl"]), int(row["nelem_size"])
        wavelength = row["wavelength"].astype(np.float64)[:nwl]
        size = row["size"].astype(np.float64)[:nsize]
        apcorr = row["apcorr"].astype(np.float64)[:nwl, :nsize]
    except (ValueError, TypeError, IndexError) as exc:
        raise InputError(path, f"not a MIRI LRS APCORR reference ({exc})") from None
    if not sizeunit.startswith("pix"):
        raise InputError(path, f"APCORR sizes in {sizeunit!r}: only pixels are supported")
    if wavelength.size < 2 or size.size < 2 or apcorr.shape != (wavelength.size, size.size):
        raise InputError(path, "APCORR grid needs >= 2 wavelengths and sizes")
    order = np.argsort(wavelength)
    return LrsApcorr(path, wavelength[order], size, apcorr[order])


def read_nrs_apcorr(
    path: str | os.PathLike, filter_name: str, grating: str, slit: str
) -> PhaseApcorr:
    """The NIRSpec fixed-slit aperture correction of one filter, grating and slit.

    The grid is read in the layout jwst 3.0 interpolates, ``apcorr`` of shape
    (size, wavelength, pixel phase); the layout of STScI's reference files, (pixel
    phase, size, wavelength), is recognised by its axis lengths and transposed.  Each
    array is cut to NELEM_WL wavelengths and NELEM_SIZE sizes.

    Raises
    ------
    InputError
        When the file is not a readable NIRSpec APCORR table, not exactly one row
        matches, the sizes are in another unit than pixels or arcsec, or the arrays do
        not form a grid.
    """
    path = Path(path)
    match = {"filter": filter_name, "grating": grating, "slit": slit}
    row, sizeunit = _matching_row(path, _NRS_COLUMNS, match, "NIRSpec")
    if not sizeunit.startswith(("pix", "arcsec")):
        raise InputError(path, f"APCORR sizes in {sizeunit!r}: pixels or arcsec expected")
    try:
        nwl, nsize = int(row["nelem_wl"]), int(row["nelem_size"])
        wavelength = row["wavelength"].astype(np.float64)
        size = np.atleast_2d(row["size"].astype(np.float64))
        pixphase = np.atleast_1d(row["pixphase"].astype(np.float64))
        apcorr = row["apcorr"].astype(np.float64)
    except (ValueError, TypeError) as exc:
        raise InputError(path, f"not a NIRSpec APCORR reference ({exc})") from None
    nph, full = pixphase.size, (size.shape[0], wavelength.size)
    if apcorr.shape == (*full, nph):
        jwst_layout = True
    elif apcorr.shape == (nph, *full):
        jwst_layout, apcorr = False, np.moveaxis(apcorr, 0, -1)
    else:
        grid = f"{full[0]} sizes x {full[1]} wavelengths x {nph} phases"
        raise InputError(path, f"APCORR array of shape {apcorr.shape} does not fit {grid}")
    if size.shape[1] != wavelength.size or not (2 <= nwl <= full[1] and 2 <= nsize <= full[0]):
        raise InputError(path, "APCORR grid needs >= 2 wavelengths and sizes, one size "
                               "row per wavelength")  # fmt: skip
    order = np.argsort(wavelength[:nwl])
    return PhaseApcorr(
        path, wavelength[:nwl][order], size[:nsize, :nwl][:, order], pixphase,
        apcorr[:nsize, :nwl][:, order], sizeunit, jwst_layout,
    )  # fmt: skip
