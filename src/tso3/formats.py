"""Names and layouts of the files tso3 reads and writes.

The one home of every product-format constant: table and column names, their order, the
header keywords tso3 adds.  The readers and writers in :mod:`tso3.io`, the stages and
the simulator take them from here; the algorithms in :mod:`tso3.steps` do not need them
(they produce their columns by name).  Nothing of tso3 is imported here.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = [
    "CENTROID_COLUMNS",
    "INT_TIMES_COLUMNS",
    "INT_TIMES_DTYPE",
    "INT_TIMES_STRIPE_COLUMNS",
    "INT_TIMES_STRIPE_DTYPE",
    "DHS_SUBARRAYS",
    "NRS_MULTISTRIPES",
    "SOSS_SUPERSTRIPES",
    "STRIPED_SUBARRAYS",
    "PHOT_COLUMNS",
    "PHOT_META_KEYS",
    "PROVENANCE_KEYWORDS",
    "EXTRACT1D_KEYWORDS",
    "TIME_COLUMNS",
    "VECTOR_COLUMNS",
    "WHITELIGHT_META_KEYS",
    "whitelight_meta",
]

# --- INT_TIMES (calints, crfints and x1dints) --------------------------------------------

#: Columns of the INT_TIMES table, in file order.
INT_TIMES_COLUMNS = (
    "integration_number",
    "int_start_MJD_UTC",
    "int_mid_MJD_UTC",
    "int_end_MJD_UTC",
    "int_start_BJD_TDB",
    "int_mid_BJD_TDB",
    "int_end_BJD_TDB",
)

#: dtype of the INT_TIMES table (days; BJD_TDB columns are BJD - 2400000.5), native byte
#: order; ``INT_TIMES_DTYPE.newbyteorder(">")`` is the FITS (big-endian) form.
INT_TIMES_DTYPE = np.dtype(
    [(name, np.int32 if name == "integration_number" else np.float64) for name in INT_TIMES_COLUMNS]
)

#: Columns of INT_TIMES_STRIPE (superstripe data: one row per stripe of every
#: integration), in file order.
INT_TIMES_STRIPE_COLUMNS = INT_TIMES_COLUMNS[:1] + ("stripe_number",) + INT_TIMES_COLUMNS[1:]

#: dtype of INT_TIMES_STRIPE (native byte order), as :data:`INT_TIMES_DTYPE`.
INT_TIMES_STRIPE_DTYPE = np.dtype(
    [(n, np.int32 if n in ("integration_number", "stripe_number") else np.float64)
     for n in INT_TIMES_STRIPE_COLUMNS]
)  # fmt: skip

#: NIRISS SOSS superstripe subarrays: SUBARRAY -> science columns per stripe.
SOSS_SUPERSTRIPES = {
    "SUB17STRIPE_SOSS": 17,
    "SUB60STRIPE_SOSS": 60,
    "SUB204STRIPE_SOSS": 204,
    "SUB680STRIPE_SOSS": 680,
}
#: NIRSpec PRISM multistripe subarrays: SUBARRAY -> stripes per cycle.
NRS_MULTISTRIPES = {
    "SUB256M2_PRISM": 2,
    "SUB128M4_PRISM": 4,
    "SUB64M8_PRISM": 8,
    "SUB32M16_PRISM": 16,
}
#: NIRCam DHS (Dispersed Hartmann Sensor) subarrays: SUBARRAY -> (stripes, rows per
#: stripe).  calwebb_spec2 cuts one slit per stripe out of them (a MultiSlit calints).
DHS_SUBARRAYS = {
    "SUB40STRIPE1_DHS": (1, 40),
    "SUB41STRIPE1_DHS": (1, 41),
    "SUB80STRIPE2_DHS": (2, 40),
    "SUB82STRIPE2_DHS": (2, 41),
    "SUB160STRIPE4_DHS": (4, 40),
    "SUB164STRIPE4_DHS": (4, 41),
    "SUB256STRIPE4_DHS": (4, 64),
    "SUB260STRIPE4_DHS": (4, 65),
}
#: Every striped subarray: SUBARRAY -> (instrument, the number above).  Stage 1 reassembles
#: the stripes of each cycle into one frame with its own times per stripe,
#: INT_TIMES_STRIPE (:mod:`tso3.io.stripes`, jwst.lib.stripe_utils).
STRIPED_SUBARRAYS = {
    **{name: ("NIRISS", n) for name, n in SOSS_SUPERSTRIPES.items()},
    **{name: ("NIRSPEC", n) for name, n in NRS_MULTISTRIPES.items()},
}

# --- EXTRACT1D tables of x1dints ---------------------------------------------------------

#: Vector columns of an EXTRACT1D table, in file order (after INT_NUM), spelled as the
#: :class:`tso3.spectra.SpectraSet` attributes (the file names are the upper-case forms).
VECTOR_COLUMNS = (
    "wavelength",
    "flux",
    "flux_error",
    "flux_var_poisson",
    "flux_var_rnoise",
    "flux_var_flat",
    "surf_bright",
    "sb_error",
    "sb_var_poisson",
    "sb_var_rnoise",
    "sb_var_flat",
    "dq",
    "background",
    "bkgd_error",
    "bkgd_var_poisson",
    "bkgd_var_rnoise",
    "bkgd_var_flat",
    "npixels",
)

#: Per-integration time columns: SpectraSet ``times`` key -> EXTRACT1D column name.
TIME_COLUMNS = {
    "mjd_beg": "MJD-BEG",
    "mjd_avg": "MJD-AVG",
    "mjd_end": "MJD-END",
    "tdb_beg": "TDB-BEG",
    "tdb_mid": "TDB-MID",
    "tdb_end": "TDB-END",
}

#: Keywords an EXTRACT1D header may carry, in the order and with the comments of jwst's
#: ``specmeta`` schema (stdatamodels 2.x TSOSpecModel); the per-row times are columns.
EXTRACT1D_KEYWORDS = {
    "SLTNAME": "Slit name",
    "SLITID": "Slitlet ID",
    "SOURCEID": "Source ID number",
    "SRCNAME": "Source name",
    "SRCALIAS": "Source alias",
    "STLARITY": "Source stellarity",
    "SRCTYPE": "Source type used for calibration",
    "TA_XPOS": "Source x-position in TA verification image",
    "TA_YPOS": "Source y-position in TA verification image",
    "SRCXPOS": "Source position in slit (x-axis)",
    "SRCYPOS": "Source position in slit (y-axis)",
    "SRCRA": "Right Ascension of the source",
    "SRCDEC": "Declination of the source",
    "EXTR_X": "X center of extraction region",
    "EXTR_Y": "Y center of extraction region",
    "EXTRXSTR": "X axis start of extraction region",
    "EXTRXSTP": "X axis end of extraction region",
    "EXTRYSTR": "Y axis start of extraction region",
    "EXTRYSTP": "Y axis end of extraction region",
    "SHUTSTA": "All (open and close) shutters in a slit",
    "SLIT_RA": "[deg] Right Ascension at middle of slit",
    "SLIT_DEC": "[deg] Declination at middle of slit",
    "MSAQUAD": "MSA quadrant for slit",
    "SLTXSCL": "Scale open to full MSA slit coordinates (X dir)",
    "SLTYSCL": "Scale open to full MSA slit coordinates (Y dir)",
    "SPORDER": "Spectral order number",
    "DISPAXIS": "Dispersion direction",
    "DETECTOR": "Name of detector used to acquire the data",
    "TIMESYS": "principal time system for time-related keywords",
    "TIMEUNIT": "Default unit applicable to all time values",
    "WAVECOR": "Wavelength corrected (T/F)",
    "PTHLOSS": "Type of pathloss correction applied",
    "BARSHDW": "Barshadow corrected (T/F)",
    "S_REGION": "Spatial footprint of the observation",
    "PA_APER": "[deg] Position angle of aperture used",
}

# --- phot.ecsv ---------------------------------------------------------------------------

#: Reference column order of the photometry part of phot.ecsv (after MJD and BJD_TDB).
PHOT_COLUMNS = (
    "aperture_sum",
    "aperture_sum_err",
    "annulus_sum",
    "annulus_sum_err",
    "annulus_mean",
    "annulus_mean_err",
    "aperture_bkg",
    "aperture_bkg_err",
    "net_aperture_sum",
    "net_aperture_sum_err",
)

#: Centroid and PSF columns of phot.ecsv (after the aperture position), in file order.
CENTROID_COLUMNS = ("centroid_x", "centroid_y", "psf_width_x", "psf_width_y", "psf_flux")

#: phot.ecsv table meta keys in the reference's order (``apertures`` and
#: ``number_of_integrations`` follow).
PHOT_META_KEYS = (
    "instrument",
    "detector",
    "channel",
    "subarray",
    "filter",
    "pupil",
    "target_name",
)

# --- whtlt.ecsv and speclc.fits ----------------------------------------------------------

#: whtlt table meta keys (jwst names), in order, and the primary FITS keyword each comes
#: from (speclc.fits writes them under those keywords).
WHITELIGHT_META_KEYS = {
    "instrument": "INSTRUME",
    "exp_type": "EXP_TYPE",
    "subarray": "SUBARRAY",
    "filter": "FILTER",
    "pupil": "PUPIL",
    "target_name": "TARGNAME",
}


def whitelight_meta(header: Mapping[str, object] | None) -> dict[str, object]:
    """The whtlt table meta from primary-header keywords.

    Parameters
    ----------
    header : mapping or None
        Primary keywords (``INSTRUME`` ... ``TARGNAME``) or the jwst meta names
        (``instrument`` ... ``target_name``); a jwst name wins over its keyword.

    Returns
    -------
    dict
        Every key of :data:`WHITELIGHT_META_KEYS`, in order; None when not given.
    """
    header = dict(header or {})
    return {key: header.get(key, header.get(card)) for key, card in WHITELIGHT_META_KEYS.items()}


# --- provenance --------------------------------------------------------------------------

#: Primary-header keywords of the provenance tso3 records in its products: field of the
#: provenance dict (``version``, ``mode``, ``parameters`` as JSON) -> keyword.
PROVENANCE_KEYWORDS = {
    "version": "TSO3VER",
    "mode": "TSO3MODE",
    "parameters": "TSO3PARS",
    "integrations": "TSO3INTS",  # the integration ranges in the input (per detector)
    "derived_times": "TSO3DTIM",  # integrations whose times INT_TIMES lacked
}
