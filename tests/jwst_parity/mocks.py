"""Inputs both pipelines read: jwst's own mock WCS, tso3's file conventions.

:func:`tso_segments` writes calints segments (NIRSpec BOTS, NIRCam grism, MIRI LRS
slitless) the way jwst's extract_1d tests build theirs (``jwst.extract_1d.tests.helpers``:
``simple_wcs_func``, a slit frame with 0.1"/px, ``int_times_table``), with a Gaussian
trace on a flat background and the segment keywords (INTSTART, INTEND, EXSEGNUM) a real
exposure has, plus an ASN.
:func:`run_jwst_tso3` runs jwst's calwebb_tso3 on it offline.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np

#: How each EXP_TYPE's mock is set up (the instrument keywords stage 2 would write).
MODES = {
    "NRS_BRIGHTOBJ": {
        "model": "SlitModel", "dispaxis": 1, "slit": "S1600A1", "subarray": "SUB2048",
        "keywords": {"name": "NIRSPEC", "filter": "F290LP", "grating": "G395H",
                     "fixed_slit": "S1600A1"},
        "detectors": ("NRS1",),
        "product": "jw01366-o004_t001_nirspec_f290lp-g395h-s1600a1-sub2048",
    },
    "NRC_TSGRISM": {
        "model": "SlitModel", "dispaxis": 1, "slit": None, "subarray": "SUBGRISM64",
        "keywords": {"name": "NIRCAM", "filter": "F444W", "pupil": "GRISMR"},
        "detectors": ("NRCALONG",),
        "product": "jw01366-o004_t001_nircam_f444w-grismr-subgrism64",
    },
    "MIR_LRS-SLITLESS": {
        "model": "CubeModel", "dispaxis": 2, "slit": None, "subarray": "SLITLESSPRISM",
        "keywords": {"name": "MIRI", "filter": "P750L"},
        "detectors": ("MIRIMAGE",),
        "product": "jw01366-o004_t001_miri_p750l-slitlessprism",
    },
    "MIR_LRS-FIXEDSLIT": {
        "model": "SlitModel", "dispaxis": 2, "slit": None, "subarray": "FULL",
        "keywords": {"name": "MIRI", "filter": "P750L"},
        "detectors": ("MIRIMAGE",),
        "product": "jw01366-o004_t001_miri_p750l",
    },
}  # fmt: skip


def tso_segments(
    folder: Path, exp_type: str = "NRS_BRIGHTOBJ", *, segments: int = 2,
    per_segment: int = 10, trace_at: float = 24.6, detectors: tuple[str, ...] | None = None,
    seed: int = 1, source_ypos: float = 24.5, tilt: float = 0.0, prism: bool = False,
) -> Path:  # fmt: skip
    """Write the segments and their ASN; return the ASN's path.

    A Gaussian trace at cross-dispersion pixel ``trace_at`` on a flat background, noise,
    50 x 50 frames, jwst's mock WCS (``simple_wcs_func``, or its transpose for DISPAXIS=2).
    The mock's slit frame is in pixels (slit y = detector y), so ``source_ypos`` is where
    the WCS puts the source: jwst's ``use_source_posn`` moves the aperture there, while
    the light is at ``trace_at``.  (Its inverse transform reads the source position from
    slit x, so both slit coordinates get the value.)  For the MIRI LRS fixed slit the
    DITH_RA/DITH_DEC written map to column ``source_ypos`` through the transposed mock.
    ``tilt`` (px per column) tilts the trace and the WCS (:func:`tilted_wcs`,
    DISPAXIS=1).  ``prism``: NIRSpec CLEAR/PRISM with SPORDER 0, as stage 2 writes prism
    data.
    """
    import stdatamodels.jwst.datamodels as dm
    from jwst.extract_1d.tests.helpers import (
        int_times_table,
        simple_wcs_func,
        simple_wcs_transpose_func,
    )

    setup = MODES[exp_type]
    folder.mkdir(parents=True, exist_ok=True)
    nints = segments * per_segment
    times = int_times_table(nints)
    rng = np.random.default_rng(seed)
    names = []
    for detector in detectors or setup["detectors"]:
        for k in range(segments):
            model = getattr(dm, setup["model"])()
            meta = model.meta
            for key, value in setup["keywords"].items():
                setattr(meta.instrument, key, value)
            meta.instrument.detector = detector
            if prism:
                meta.instrument.filter, meta.instrument.grating = "CLEAR", "PRISM"
                meta.wcsinfo.spectral_order = 0
            meta.observation.date, meta.observation.time = "2022-05-30", "01:03:16.369"
            _segment_keywords(meta, exp_type, setup["subarray"], k, segments, per_segment)
            if setup["slit"]:
                model.name = setup["slit"]
            if setup["model"] == "SlitModel":
                model.source_xpos = model.source_ypos = source_ypos  # the mock inverts to x
            if exp_type == "MIR_LRS-FIXEDSLIT":  # the sky position the mock maps to x
                meta.dither.dithered_ra = 45.0 + (source_ypos - 24.0) * 1e-7 / 3600
                meta.dither.dithered_dec = 45.1 + (source_ypos - 24.0) * 0.1 / 3600
            meta.target.source_type = "POINT"
            dispaxis = setup["dispaxis"]
            meta.wcsinfo.dispersion_direction = dispaxis
            if dispaxis == 2:
                meta.wcs = simple_wcs_transpose_func()
            else:
                meta.wcs = tilted_wcs(tilt) if tilt else simple_wcs_func()
            meta.aperture.position_angle = 150.0
            meta.bunit_data = meta.bunit_err = "MJy"
            cross = np.arange(50)[:, None]
            centre = trace_at + tilt * (np.arange(50) - 25.0)
            profile = np.exp(-0.5 * ((cross - centre) / 1.2) ** 2)  # (cross, dispersion)
            if dispaxis == 2:
                profile = profile.T
            level = 100 * (1 + 0.01 * np.arange(per_segment) + 0.1 * k)
            _fill_arrays(model, profile, level, rng)
            model.int_times = times[k * per_segment : (k + 1) * per_segment]
            name = f"jw01366004001_04101_00001-seg{k + 1:03d}_{detector.lower()}_calints.fits"
            model.save(folder / name)
            names.append(name)
    return _write_asn(folder, setup["product"], names)


def _segment_keywords(meta, exp_type: str, subarray: str, k: int, segments: int,
                      per_segment: int) -> None:  # fmt: skip
    """The program, exposure and segment keywords of segment ``k`` (0-based) of a TSO."""
    meta.observation.program_number = "01366"
    meta.observation.observation_number = "004"
    meta.observation.visit_number = "001"
    meta.exposure.type, meta.subarray.name = exp_type, subarray
    meta.exposure.nints, meta.exposure.start_time = segments * per_segment, 59729.04
    meta.exposure.segment_number, meta.exposure.segment_total = k + 1, segments
    meta.exposure.integration_start = k * per_segment + 1
    meta.exposure.integration_end = (k + 1) * per_segment
    meta.visit.tsovisit = True


def _fill_arrays(model, profile: np.ndarray, level: np.ndarray, rng) -> None:
    """SCI (``level`` x ``profile`` on a background of 1, noise 0.1), ERR, DQ and VAR_*."""
    noise = rng.normal(0, 0.1, (len(level), *profile.shape))
    model.data = (level[:, None, None] * profile + 1.0 + noise).astype(np.float32)
    model.err = np.full(model.data.shape, 0.1, np.float32)
    model.dq = np.zeros(model.data.shape, np.uint32)
    for name in ("var_poisson", "var_rnoise", "var_flat"):
        setattr(model, name, np.full(model.data.shape, 0.01 / 3, np.float32))


def _write_asn(folder: Path, product: str, names: list[str]) -> Path:
    """The tso3 ASN of the segments ``names`` in ``folder``; its path."""
    asn = {
        "asn_type": "tso3", "asn_rule": "candidate_Asn_Lv3TSO", "asn_id": "o004",
        "asn_pool": "jw01366_20230101t000000_pool.csv",
        "products": [{"name": product,
                      "members": [{"expname": n, "exptype": "science"} for n in names]}],
    }  # fmt: skip
    path = folder / "jw01366-o004_20230101t000000_tso3_001_asn.json"
    path.write_text(json.dumps(asn))
    return path


def dhs_segments(folder: Path, *, stripes: int = 2, segments: int = 2, per_segment: int = 10,
                 seed: int = 1) -> Path:  # fmt: skip
    """NIRCam DHS: a MultiSlit calints per segment, a slit per stripe, as jwst's extract_1d
    tests mock it (``helpers.mock_nircam_dhs``: each slit a SlitModel with the model's
    metadata, jwst's mock WCS) and as calwebb_spec2 names the slits (stripe numbers).
    Stripe ``s`` has its trace at row 23.6 + s and a flux of 100 s.  Returns the ASN."""
    import stdatamodels.jwst.datamodels as dm
    from jwst.extract_1d.tests.helpers import int_times_table, simple_wcs_func

    folder.mkdir(parents=True, exist_ok=True)
    nints = segments * per_segment
    times = int_times_table(nints)
    rng = np.random.default_rng(seed)
    subarray = f"SUB{41 * stripes}STRIPE{stripes}_DHS"
    names = []
    for k in range(segments):
        model = dm.MultiSlitModel()
        meta = model.meta
        meta.instrument.name, meta.instrument.detector = "NIRCAM", "NRCA1"
        meta.instrument.filter, meta.instrument.pupil = "F150W2", "GDHS0"
        meta.observation.date, meta.observation.time = "2026-02-18", "06:24:45.569"
        _segment_keywords(meta, "NRC_TSGRISM", subarray, k, segments, per_segment)
        meta.target.source_type = "POINT"
        meta.bunit_data = meta.bunit_err = "MJy"
        for stripe in range(1, stripes + 1):
            slit = dm.SlitModel()
            slit.meta.wcsinfo.dispersion_direction = 1
            slit.meta.photometry.pixelarea_steradians = 1.0
            slit.meta.wcs = simple_wcs_func()
            row = np.exp(-0.5 * ((np.arange(50)[:, None] - 23.6 - stripe) / 1.2) ** 2)
            level = 100 * stripe * (1 + 0.01 * np.arange(per_segment) + 0.1 * k)
            _fill_arrays(slit, np.broadcast_to(row, (50, 50)), level, rng)
            wavelength = 1.0 + 0.02 * np.arange(50) + 0.1 * stripe
            slit.wavelength = np.broadcast_to(wavelength, (50, 50)).astype(np.float32)
            slit.update(model)
            slit.name = str(stripe)
            model.slits.append(slit)
        model.int_times = times[k * per_segment : (k + 1) * per_segment]
        name = f"jw01366004001_04101_00001-seg{k + 1:03d}_nrca1_calints.fits"
        model.save(folder / name)
        names.append(name)
    return _write_asn(folder, f"jw01366-o004_t001_nircam_f150w2-gdhs0-{subarray.lower()}", names)


def dhs_extract1d_json(path: Path, stripes: int = 2) -> Path:
    """An extract1d reference with one aperture per DHS stripe (slit ``s``: rows
    21 + s to 28 + s, around its trace)."""
    apertures = [
        {"id": str(s), "region_type": "target", "disp_axis": 1, "xstart": 0, "xstop": 49,
         "ystart": 21 + s, "ystop": 28 + s, "bkg_order": 0}
        for s in range(1, stripes + 1)
    ]  # fmt: skip
    ref = {"reftype": "EXTRACT1D", "instrument": "NIRCAM", "exp_type": "NRC_TSGRISM",
           "apertures": apertures}  # fmt: skip
    path.write_text(json.dumps(ref))
    return path


def tilted_wcs(tilt: float):
    """jwst's ``simple_wcs_func`` with the slit tilted by ``tilt`` px per column.

    Slit y (in px, as the mock's) is ``y - tilt * (x - 25)``; the transforms are
    polynomials with an explicit inverse, so the file's ASDF tree holds them and jwst can
    go from the slit frame back to the detector.
    """
    import gwcs
    from astropy.modeling.models import Mapping, Polynomial2D, Scale, Shift
    from jwst.assign_wcs.util import wcs_bbox_from_shape

    slope, xc, cdelt3, crval3 = float(tilt), 25.0, 0.01, 7.5
    slit_y = Polynomial2D(1, c0_0=slope * xc, c1_0=-slope, c0_1=1.0)
    wave = Polynomial2D(1, c0_0=crval3, c1_0=cdelt3, c0_1=0.0)
    det2slit = Mapping((0, 1, 0, 1, 0, 1)) | slit_y & slit_y.copy() & wave
    x_of = Polynomial2D(1, c0_0=-crval3 / cdelt3, c1_0=0.0, c0_1=1.0 / cdelt3)
    y_of = Polynomial2D(1, c0_0=-slope * crval3 / cdelt3 - slope * xc, c1_0=1.0,
                        c0_1=slope / cdelt3)  # fmt: skip
    det2slit.inverse = Mapping((0, 2, 0, 2)) | x_of & y_of
    ra = Shift(1 - 25.0) | Scale(1e-7 / 3600) | Shift(45.0)
    dec = Shift(1 - 25.0) | Scale(0.1 / 3600) | Shift(45.1)
    slit2world = ra & dec & Mapping((0,))
    slit2world.inverse = ra.inverse & dec.inverse & Mapping((0,))
    detector = gwcs.Frame2D(name="detector")
    axes = {"naxes": 3, "axes_order": (0, 1, 2), "axes_type": ["SPATIAL", "SPATIAL", "SPECTRAL"]}
    slit = gwcs.CoordinateFrame(name="slit_frame", **axes)
    world = gwcs.CoordinateFrame(name="world", **axes)
    wcs = gwcs.WCS([(detector, det2slit), (slit, slit2world), (world, None)])
    wcs.bounding_box = wcs_bbox_from_shape((50, 50))
    return wcs


def extract1d_json(path: Path, exp_type: str = "NRS_BRIGHTOBJ", **aperture) -> Path:
    """An extract1d reference (JSON) with one aperture for the mode's slit (rows or, for
    DISPAXIS=2, columns 21-28 across the dispersion); ``aperture`` adds keys."""
    setup = MODES[exp_type]
    cross, along = {"start": 21, "stop": 28}, {"start": 0, "stop": 49}
    x, y = (along, cross) if setup["dispaxis"] == 1 else (cross, along)
    entry = {"id": setup["slit"] or exp_type, "region_type": "target",
             "disp_axis": setup["dispaxis"], "xstart": x["start"], "xstop": x["stop"],
             "ystart": y["start"], "ystop": y["stop"], "bkg_order": 0, **aperture}  # fmt: skip
    ref = {"reftype": "EXTRACT1D", "instrument": setup["keywords"]["name"],
           "exp_type": exp_type, "apertures": [entry]}  # fmt: skip
    path.write_text(json.dumps(ref))
    return path


@contextlib.contextmanager
def _no_prefetch():
    """calwebb_tso3 prefetches GAIN and READNOISE for steps these tests skip; offline
    there is nothing to fetch them from."""
    from jwst.pipeline import Tso3Pipeline

    saved = Tso3Pipeline.reference_file_types
    Tso3Pipeline.reference_file_types = []
    try:
        yield Tso3Pipeline
    finally:
        Tso3Pipeline.reference_file_types = saved


def run_jwst_tso3(asn: Path, output_dir: Path, extract_1d: dict) -> dict[str, Path]:
    """jwst's calwebb_tso3 without outlier detection; returns its x1dints and whtlt."""
    product = json.loads(asn.read_text())["products"][0]["name"]
    output_dir.mkdir(parents=True, exist_ok=True)
    steps = {
        "outlier_detection": {"skip": True},
        "extract_1d": {"apply_apcorr": False, "override_psf": "N/A", **extract_1d},
    }
    with _no_prefetch() as pipeline:
        pipeline.call(str(asn), output_dir=str(output_dir), steps=steps)
    return {
        "x1dints": output_dir / f"{product}_x1dints.fits",
        "whtlt": output_dir / f"{product}_whtlt.ecsv",
    }
