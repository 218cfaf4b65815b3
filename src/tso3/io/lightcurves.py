"""Writers (and a reader) for light-curve products: ``*_whtlt.ecsv`` and ``*_speclc.fits``.

``whtlt`` is the jwst white-light ECSV (plus ``whitelight_flux_err`` columns).  ``speclc`` is
a tso3 addition: binned spectroscopic light curves as FITS, because at 10^5 integrations x
hundreds of bins a text table would be gigabytes.  Layout (see ``docs/products.md``)::

    PRIMARY   meta keywords (INSTRUME, EXP_TYPE, ... , NCURVES)
    SPECLC,i  one row per integration: INT_NUM, MJD_UTC, BJD_TDB, FLUX[nbins],
              FLUX_ERROR[nbins], NPOINTS[nbins] (striped readouts also MJD_UTC_BIN[nbins],
              BJD_TDB_BIN[nbins]: when each bin was exposed); header SPORDER, DETECTOR, NBINS
    BINS,i    one row per bin: WAVE_LO, WAVE_HI, WAVELENGTH (centre), um

``astropy.table.Table.read(path, hdu="SPECLC")`` gives ``t["FLUX"]`` as ``(nints, nbins)``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import QTable

from tso3.errors import InputError, OutputExistsError
from tso3.formats import WHITELIGHT_META_KEYS
from tso3.io.atomic import atomic_output
from tso3.spectra import SpecLightCurve

__all__ = ["read_speclc", "write_speclc", "write_whitelight_table"]

# FITS keywords for speclc primary meta: those of the whtlt meta keys
_META_KEYWORDS = WHITELIGHT_META_KEYS


def _refuse(path: Path, overwrite: bool) -> None:
    if not overwrite and path.exists():
        raise OutputExistsError(f"{path}: exists (use --overwrite, or overwrite=True in Python)")


def write_whitelight_table(
    table: QTable, path: str | os.PathLike, *, overwrite: bool = True
) -> None:
    """Write the white-light table as ECSV (``<product>_whtlt.ecsv``), atomically.

    Parameters
    ----------
    table : astropy.table.QTable
        From :func:`tso3.steps.whitelight.white_light_table`.
    path : str or os.PathLike
        Output file.
    overwrite : bool
        If False and ``path`` exists, raise :class:`~tso3.errors.OutputExistsError`.
    """
    path = Path(path)
    _refuse(path, overwrite)
    with atomic_output(path) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)


def write_speclc(
    path: str | os.PathLike,
    curves: Sequence[SpecLightCurve],
    meta: Mapping[str, object] | None = None,
    *,
    overwrite: bool = True,
) -> None:
    """Write binned spectroscopic light curves (``<product>_speclc.fits``), atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Output file.
    curves : sequence of tso3.spectra.SpecLightCurve
        One (detector or DHS stripe, order) each; written as ``SPECLC``/``BINS`` pairs
        with EXTVER 1..N.
    meta : mapping or None
        Primary keywords (FITS names, or the whtlt meta names ``instrument`` ...).
    overwrite : bool
        If False and ``path`` exists, raise :class:`~tso3.errors.OutputExistsError`.
    """
    path = Path(path)
    _refuse(path, overwrite)
    primary = fits.PrimaryHDU()
    for key, value in (meta or {}).items():
        if value is None:
            continue
        card = _META_KEYWORDS.get(key, key).upper()
        if len(card) <= 8:
            primary.header[card] = value
    primary.header["NCURVES"] = (len(curves), "number of SPECLC/BINS extension pairs")
    primary.header["TIMESYS"] = "UTC"
    hdus = [primary]
    for ver, c in enumerate(curves, start=1):
        nb = c.centres.size
        columns = [
            fits.Column("INT_NUM", "J", array=np.asarray(c.int_num, np.int32)),
            fits.Column("MJD_UTC", "D", unit="d", array=c.mjd_utc),
            fits.Column("BJD_TDB", "D", unit="d", array=c.bjd_tdb),
            fits.Column("FLUX", f"{nb}D", unit=c.flux_unit or None, array=c.flux),
            fits.Column("FLUX_ERROR", f"{nb}D", unit=c.flux_unit or None, array=c.flux_err),
            fits.Column("NPOINTS", f"{nb}D", array=c.npoints),
        ]
        if c.bin_delay is not None:  # striped readouts: each bin's own exposure time
            columns += [
                fits.Column("MJD_UTC_BIN", f"{nb}D", unit="d",
                            array=c.mjd_utc[:, None] + c.bin_delay),
                fits.Column("BJD_TDB_BIN", f"{nb}D", unit="d",
                            array=c.bjd_tdb[:, None] + c.bin_delay),
            ]  # fmt: skip
        lc = fits.BinTableHDU.from_columns(columns, name="SPECLC")
        lc.header["EXTVER"] = ver
        lc.header["SPORDER"] = (int(c.spectral_order), "spectral order")
        lc.header["DETECTOR"] = (c.detector, "detector")
        if c.slit is not None:
            lc.header["SLTNAME"] = (c.slit, "slit (NIRCam DHS: stripe number)")
        lc.header["NBINS"] = (nb, "number of wavelength bins")
        lc.header["COMMENT"] = "BJD_TDB is BJD_TDB - 2400000.5; FLUX is the sum over each bin"
        lc.header["COMMENT"] = "with fractional weights for elements straddling bin edges"
        if c.bin_delay is not None:
            lc.header["COMMENT"] = "*_BIN: when each bin was exposed (striped readout)"
        bins = fits.BinTableHDU.from_columns(
            [
                fits.Column("WAVE_LO", "D", unit="um", array=c.edges[:-1]),
                fits.Column("WAVE_HI", "D", unit="um", array=c.edges[1:]),
                fits.Column("WAVELENGTH", "D", unit="um", array=c.centres),
            ],
            name="BINS",
        )
        bins.header["EXTVER"] = ver
        bins.header["SPORDER"] = int(c.spectral_order)
        bins.header["DETECTOR"] = c.detector
        if c.slit is not None:
            bins.header["SLTNAME"] = c.slit
        hdus += [lc, bins]
    with atomic_output(path) as tmp:
        fits.HDUList(hdus).writeto(tmp)


def read_speclc(path: str | os.PathLike) -> list[SpecLightCurve]:
    """Read a ``*_speclc.fits`` file written by :func:`write_speclc`.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    list of tso3.spectra.SpecLightCurve
        One per SPECLC extension; ``meta`` holds the primary header.
    """
    try:
        with fits.open(path, memmap=False) as hdul:
            meta = {k: v for k, v in hdul[0].header.items() if k not in ("COMMENT", "HISTORY")}
            out = []
            for ver in range(1, int(hdul[0].header.get("NCURVES", 0)) + 1):
                lc, bins = hdul["SPECLC", ver], hdul["BINS", ver]
                d, b = lc.data, bins.data
                edges = np.append(np.asarray(b["WAVE_LO"]), b["WAVE_HI"][-1])
                delay = None
                if "BJD_TDB_BIN" in lc.columns.names:
                    delay = np.asarray(d["BJD_TDB_BIN"], np.float64).reshape(len(d), -1)
                    delay = delay - np.asarray(d["BJD_TDB"], np.float64)[:, None]
                out.append(
                    SpecLightCurve(
                        edges=edges,
                        centres=np.asarray(b["WAVELENGTH"], np.float64),
                        mjd_utc=np.asarray(d["MJD_UTC"], np.float64),
                        bjd_tdb=np.asarray(d["BJD_TDB"], np.float64),
                        int_num=np.asarray(d["INT_NUM"], np.int64),
                        flux=np.asarray(d["FLUX"], np.float64).reshape(len(d), -1),
                        flux_err=np.asarray(d["FLUX_ERROR"], np.float64).reshape(len(d), -1),
                        npoints=np.asarray(d["NPOINTS"], np.float64).reshape(len(d), -1),
                        spectral_order=int(lc.header["SPORDER"]),
                        detector=str(lc.header["DETECTOR"]),
                        slit=lc.header.get("SLTNAME"),
                        flux_unit=lc.columns["FLUX"].unit or "",
                        meta=meta,
                        bin_delay=delay,
                    )
                )
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (OSError, KeyError, ValueError, IndexError) as exc:
        raise InputError(path, f"not a speclc file ({exc})") from None
    return out
