"""The metadata tso3 uses, read from the FITS headers as the JWST schemas map them.

stdatamodels builds ``model.meta`` by walking the JWST core schema, which ties every
attribute to one FITS keyword in one HDU (``meta.bunit_data`` is BUNIT of SCI,
``meta.instrument.name`` is INSTRUME of the primary header, ...).  tso3 needs a few dozen
of those attributes, and reading them through the schema costs a second or two of
start-up per process.  :func:`header_meta` reads the same keywords straight from the
headers and returns them under the same attribute paths, so code written against
``model.meta`` reads the same values (``None`` where the keyword is absent, as
stdatamodels gives).  The WCS is not a header keyword: see :meth:`Segment.wcs`.
"""

from __future__ import annotations

from types import SimpleNamespace

from astropy.io import fits

#: ``meta`` path -> (HDU, FITS keyword), as in the JWST core schema (stdatamodels 2.x,
#: the same for CubeModel and SlitModel).
META_KEYWORDS: dict[str, tuple[str, str]] = {
    "bunit_data": ("SCI", "BUNIT"),
    "filename": ("PRIMARY", "FILENAME"),
    "photometry.pixelarea_steradians": ("SCI", "PIXAR_SR"),
    "photometry.pixelarea_arcsecsq": ("SCI", "PIXAR_A2"),
    "target.source_type": ("SCI", "SRCTYPE"),
    "target.catalog_name": ("PRIMARY", "TARGNAME"),
    "target.proposer_name": ("PRIMARY", "TARGPROP"),
    "instrument.name": ("PRIMARY", "INSTRUME"),
    "instrument.detector": ("PRIMARY", "DETECTOR"),
    "instrument.channel": ("PRIMARY", "CHANNEL"),
    "instrument.filter": ("PRIMARY", "FILTER"),
    "instrument.pupil": ("PRIMARY", "PUPIL"),
    "instrument.grating": ("PRIMARY", "GRATING"),
    "cal_step.photom": ("PRIMARY", "S_PHOTOM"),
    "cal_step.outlier_detection": ("PRIMARY", "S_OUTLIR"),
    "cal_step.extract_1d": ("PRIMARY", "S_EXTR1D"),
    "wcsinfo.s_region": ("SCI", "S_REGION"),
    "wcsinfo.spectral_order": ("SCI", "SPORDER"),
    "wcsinfo.siaf_xref_sci": ("SCI", "XREF_SCI"),
    "wcsinfo.siaf_yref_sci": ("SCI", "YREF_SCI"),
    "subarray.name": ("PRIMARY", "SUBARRAY"),
    "subarray.xstart": ("PRIMARY", "SUBSTRT1"),
    "subarray.ystart": ("PRIMARY", "SUBSTRT2"),
    "subarray.xsize": ("PRIMARY", "SUBSIZE1"),
    "subarray.ysize": ("PRIMARY", "SUBSIZE2"),
    "exposure.type": ("PRIMARY", "EXP_TYPE"),
    "exposure.integration_time": ("PRIMARY", "EFFINTTM"),
    "exposure.nints": ("PRIMARY", "NINTS"),
    "exposure.segment_number": ("PRIMARY", "EXSEGNUM"),
    "exposure.segment_total": ("PRIMARY", "EXSEGTOT"),
    "exposure.integration_start": ("PRIMARY", "INTSTART"),
    "exposure.integration_end": ("PRIMARY", "INTEND"),
    "exposure.start_time": ("PRIMARY", "EXPSTART"),
    "exposure.mid_time": ("PRIMARY", "EXPMID"),
    "exposure.end_time": ("PRIMARY", "EXPEND"),
}


def header_value(header: fits.Header, key: str):
    """``header[key]``, or ``None`` when absent or undefined (as stdatamodels reads it)."""
    value = header.get(key)
    return None if value is None or isinstance(value, fits.card.Undefined) else value


def header_meta(headers: dict[str, fits.Header]) -> SimpleNamespace:
    """The ``meta`` attributes of :data:`META_KEYWORDS` from a file's headers.

    Parameters
    ----------
    headers : dict of str to astropy.io.fits.Header
        Headers by HDU name (``PRIMARY``, ``SCI``); a missing HDU reads as empty.

    Returns
    -------
    types.SimpleNamespace
        Nested namespaces: ``meta.instrument.name``, ``meta.bunit_data``, ...
    """
    meta = SimpleNamespace()
    empty = fits.Header()
    for path, (hdu, key) in META_KEYWORDS.items():
        node = meta
        *parents, last = path.split(".")
        for name in parents:
            if not hasattr(node, name):
                setattr(node, name, SimpleNamespace())
            node = getattr(node, name)
        setattr(node, last, header_value(headers.get(hdu, empty), key))
    return meta
