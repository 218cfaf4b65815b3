"""Inputs both pipelines read: jwst's own mock WCS, tso3's file conventions.

:func:`nrs_bots_segments` writes NIRSpec BOTS calints segments the way jwst's extract_1d
tests build theirs (``jwst.extract_1d.tests.helpers``: ``simple_wcs_func``, a slit frame
with 0.1"/px, ``int_times_table``), with a Gaussian trace on a flat background and the
segment keywords (INTSTART, INTEND, EXSEGNUM) a real exposure has, plus an ASN.
:func:`run_jwst_tso3` runs jwst's calwebb_tso3 on it offline.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np

PRODUCT = "jw01366-o004_t001_nirspec_f290lp-g395h-s1600a1-sub2048"


def nrs_bots_segments(
    folder: Path, *, segments: int = 2, per_segment: int = 10, trace_y: float = 24.6,
    detectors: tuple[str, ...] = ("NRS1",), seed: int = 1, source_ypos: float = 24.5,
    tilt: float = 0.0, prism: bool = False,
) -> Path:  # fmt: skip
    """Write the segments and their ASN; return the ASN's path.

    The mock's slit frame is in pixels (slit y = detector y), so ``source_ypos`` is where
    the WCS puts the source: jwst's ``use_source_posn`` moves the aperture there, while
    the light is at ``trace_y``.  (Its inverse transform reads the source position from
    slit x, so both slit coordinates get the value.)  ``tilt`` (px per column) tilts the
    trace and the WCS (:func:`tilted_wcs`) across the frame.  ``prism``: CLEAR/PRISM
    with SPORDER 0, as stage 2 writes prism data.
    """
    import stdatamodels.jwst.datamodels as dm
    from jwst.extract_1d.tests.helpers import int_times_table, simple_wcs_func

    folder.mkdir(parents=True, exist_ok=True)
    nints = segments * per_segment
    times = int_times_table(nints)
    rng = np.random.default_rng(seed)
    names = []
    for detector in detectors:
        for k in range(segments):
            model = dm.SlitModel()  # stage 2 writes BOTS calints as slits
            meta = model.meta
            meta.instrument.name, meta.instrument.detector = "NIRSPEC", detector
            meta.instrument.filter, meta.instrument.grating = (
                ("CLEAR", "PRISM") if prism else ("F290LP", "G395H")
            )
            if prism:
                meta.wcsinfo.spectral_order = 0
            meta.instrument.fixed_slit = "S1600A1"
            meta.observation.date, meta.observation.time = "2022-05-30", "01:03:16.369"
            meta.observation.program_number = "01366"
            meta.observation.observation_number = "004"
            meta.observation.visit_number = "001"
            meta.exposure.type, meta.subarray.name = "NRS_BRIGHTOBJ", "SUB2048"
            meta.exposure.nints, meta.exposure.start_time = nints, 59729.04
            meta.exposure.segment_number, meta.exposure.segment_total = k + 1, segments
            meta.exposure.integration_start = k * per_segment + 1
            meta.exposure.integration_end = (k + 1) * per_segment
            meta.visit.tsovisit = True
            model.name = "S1600A1"
            model.source_xpos = model.source_ypos = source_ypos  # the mock inverts to x
            meta.target.source_type = "POINT"
            meta.wcsinfo.dispersion_direction = 1
            meta.wcs = tilted_wcs(tilt) if tilt else simple_wcs_func()
            meta.aperture.position_angle = 150.0
            meta.bunit_data = meta.bunit_err = "MJy"
            y = np.arange(50)[:, None]
            centre = trace_y + tilt * (np.arange(50) - 25.0)
            profile = np.exp(-0.5 * ((y - centre) / 1.2) ** 2)
            level = 100 * (1 + 0.01 * np.arange(per_segment) + 0.1 * k)
            noise = rng.normal(0, 0.1, (per_segment, 50, 50))
            model.data = (level[:, None, None] * profile + 1.0 + noise).astype(np.float32)
            model.err = np.full(model.data.shape, 0.1, np.float32)
            model.dq = np.zeros(model.data.shape, np.uint32)
            for name in ("var_poisson", "var_rnoise", "var_flat"):
                setattr(model, name, np.full(model.data.shape, 0.01 / 3, np.float32))
            model.int_times = times[k * per_segment : (k + 1) * per_segment]
            name = f"jw01366004001_04101_00001-seg{k + 1:03d}_{detector.lower()}_calints.fits"
            model.save(folder / name)
            names.append(name)
    asn = {
        "asn_type": "tso3", "asn_rule": "candidate_Asn_Lv3TSO", "asn_id": "o004",
        "asn_pool": "jw01366_20230101t000000_pool.csv",
        "products": [{"name": PRODUCT,
                      "members": [{"expname": n, "exptype": "science"} for n in names]}],
    }  # fmt: skip
    path = folder / "jw01366-o004_20230101t000000_tso3_001_asn.json"
    path.write_text(json.dumps(asn))
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


def extract1d_json(path: Path, **aperture) -> Path:
    """An extract1d reference (JSON) with one S1600A1 aperture; ``aperture`` adds keys."""
    entry = {"id": "S1600A1", "region_type": "target", "disp_axis": 1, "xstart": 0,
             "xstop": 49, "ystart": 21, "ystop": 28, "bkg_order": 0, **aperture}  # fmt: skip
    ref = {"reftype": "EXTRACT1D", "instrument": "NIRSPEC", "exp_type": "NRS_BRIGHTOBJ",
           "apertures": [entry]}  # fmt: skip
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
    output_dir.mkdir(parents=True, exist_ok=True)
    steps = {
        "outlier_detection": {"skip": True},
        "extract_1d": {"apply_apcorr": False, "override_psf": "N/A", **extract_1d},
    }
    with _no_prefetch() as pipeline:
        pipeline.call(str(asn), output_dir=str(output_dir), steps=steps)
    return {
        "x1dints": output_dir / f"{PRODUCT}_x1dints.fits",
        "whtlt": output_dir / f"{PRODUCT}_whtlt.ecsv",
    }
