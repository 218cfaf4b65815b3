"""The ``_phot.ecsv`` product: imaging photometry, one row per integration.

Same columns, order, units and meta as jwst's ``tso_photometry`` + ``calwebb_tso3``
(``MJD`` ... ``psf_flux``), then tso3's extra columns (``n_repaired``, extra radii).
Column and meta names are in :mod:`tso3.formats`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import astropy.units as u
import numpy as np
from astropy.table import Column, QTable

from ..formats import CENTROID_COLUMNS, PHOT_COLUMNS, PHOT_META_KEYS
from .atomic import atomic_output

_BACKGROUND_COLUMNS = PHOT_COLUMNS[2:8]

DESCRIPTIONS = {
    "MJD": "Mid-integration time, MJD (UTC)",
    "BJD_TDB": "Mid-integration time, BJD_TDB - 2400000.5 (days, TDB)",
    "aperture_sum": "Sum in the source aperture",
    "aperture_sum_err": "Error of aperture_sum",
    "annulus_sum": "Sum in the background annulus (valid pixels)",
    "annulus_sum_err": "Error of annulus_sum",
    "annulus_mean": "Mean background per pixel (annulus_sum / valid annulus area)",
    "annulus_mean_err": "Error of annulus_mean",
    "aperture_bkg": "Background in the aperture (annulus_mean x valid aperture area)",
    "aperture_bkg_err": "Error of aperture_bkg",
    "net_aperture_sum": "Background-subtracted source flux",
    "net_aperture_sum_err": "Error of net_aperture_sum",
    "aperture_x": "Aperture centre x (0-based pixels)",
    "aperture_y": "Aperture centre y (0-based pixels)",
    "aperture_ra_icrs": "Aperture centre right ascension (ICRS)",
    "aperture_dec_icrs": "Aperture centre declination (ICRS)",
    "centroid_x": "Source centroid x (0-based pixels)",
    "centroid_y": "Source centroid y (0-based pixels)",
    "psf_width_x": "Gaussian PSF 1-sigma width in x",
    "psf_width_y": "Gaussian PSF 1-sigma width in y",
    "psf_flux": "Flux of the fitted Gaussian PSF",
    "n_repaired": "Number of invalid aperture pixels repaired from the model (tso3)",
}


def data_unit(unit: str) -> u.UnitBase:
    """Astropy unit of a data-unit string; unparseable strings stay as named units."""
    return u.Unit(unit, parse_strict="silent")


def build_phot_table(
    columns: Mapping[str, np.ndarray],
    *,
    unit: str,
    meta: Mapping[str, object],
    mjd: np.ndarray,
    bjd_tdb: np.ndarray,
    ra: np.ndarray,
    dec: np.ndarray,
    apertures: str,
    whole_frame: bool = False,
) -> QTable:
    """Assemble the photometry table in the reference's layout.

    Parameters
    ----------
    columns : mapping of str to ndarray
        Per-integration columns from the photometry step (all segments concatenated):
        the ten photometry columns, ``aperture_x``/``aperture_y``, optionally the five
        centroid/PSF columns (written only when all five are present, as the reference
        writes them only when centroiding succeeded), and extra columns
        (``n_repaired``, ``net_aperture_sum_r*``...), written after the reference's in
        the order given.
    unit : str
        Data unit (``Jy``, ``electron`` or the input BUNIT).
    meta : mapping
        ``instrument, detector, channel, subarray, filter, pupil, target_name`` (missing
        keys are written as None).
    mjd, bjd_tdb : ndarray
        ``int_mid_MJD_UTC`` and ``int_mid_BJD_TDB`` (the latter is BJD_TDB - 2400000.5).
    ra, dec : ndarray
        Sky position of the aperture centre per integration (degrees), from the WCS.
    apertures : str
        The ``apertures`` meta text (see ``tso3.steps.photometry.apertures_text``).
    whole_frame : bool
        SUB64P + WLP8 table: the six annulus/background columns are unitless.

    Returns
    -------
    astropy.table.QTable
    """
    n = len(np.asarray(mjd))
    given = {"BJD_TDB": bjd_tdb, "ra": ra, "dec": dec, **columns}
    for name, values in given.items():
        if len(np.atleast_1d(values)) != n:
            raise ValueError(f"column {name} has {len(np.atleast_1d(values))} rows, expected {n}")
    dunit = data_unit(unit)
    table = QTable()
    table["MJD"] = Column(np.asarray(mjd, dtype=np.float64))
    table["BJD_TDB"] = Column(np.asarray(bjd_tdb, dtype=np.float64))
    for name in PHOT_COLUMNS:
        values = np.asarray(columns[name], dtype=np.float64)
        if whole_frame and name in _BACKGROUND_COLUMNS:
            table[name] = Column(values)
        else:  # a Column: an unrecognised BUNIT cannot multiply, but a column can carry it
            table[name] = Column(values, unit=dunit)
    table["aperture_x"] = np.asarray(columns["aperture_x"], dtype=np.float64) * u.pix
    table["aperture_y"] = np.asarray(columns["aperture_y"], dtype=np.float64) * u.pix
    table["aperture_ra_icrs"] = np.asarray(ra, dtype=np.float64) * u.deg
    table["aperture_dec_icrs"] = np.asarray(dec, dtype=np.float64) * u.deg
    if all(name in columns for name in CENTROID_COLUMNS):
        for name in CENTROID_COLUMNS[:4]:
            table[name] = np.asarray(columns[name], dtype=np.float64) * u.pix
        table["psf_flux"] = Column(np.asarray(columns["psf_flux"], dtype=np.float64), unit=dunit)
    known = {"aperture_x", "aperture_y", *PHOT_COLUMNS, *CENTROID_COLUMNS}
    for name, values in columns.items():
        if name in known:
            continue
        values = np.asarray(values)
        if name.startswith("net_aperture_sum"):
            table[name] = Column(values.astype(np.float64), unit=dunit)
        else:
            table[name] = Column(values)
    for name in table.colnames:
        if name in DESCRIPTIONS:
            table[name].info.description = DESCRIPTIONS[name]
        elif name.startswith("net_aperture_sum_err_r"):
            table[name].info.description = f"Error of net flux, aperture r={name[22:]} px"
        elif name.startswith("net_aperture_sum_r"):
            table[name].info.description = f"Net flux in an aperture of r={name[18:]} px"
    for key in PHOT_META_KEYS:
        table.meta[key] = meta.get(key)
    table.meta["apertures"] = apertures
    table.meta["number_of_integrations"] = n
    return table


def write_phot_table(table: QTable, path: str | os.PathLike) -> None:
    """Write the table as ECSV, atomically (temporary name, then rename)."""
    with atomic_output(path) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)
