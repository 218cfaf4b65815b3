"""Write simulated segments as stage-2 ``*_calints.fits`` files, the level-3 ASN and truth.

Files are written through stdatamodels (CubeModel or SlitModel ``save``), so their layout
is exactly what calwebb_spec2/image2 produce: PRIMARY, SCI, DQ, ERR, [WAVELENGTH],
VAR_POISSON, VAR_RNOISE, VAR_FLAT, INT_TIMES, ASDF.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy import coordinates as coord
from astropy import units as u
from astropy.modeling import models
from astropy.time import Time
from gwcs import WCS
from gwcs import coordinate_frames as cf
from stdatamodels.jwst import datamodels

from .modes import ModeSpec

#: Stage-2 software versions written into the headers.
CAL_VER = "1.18.0"
CRDS_CONTEXT = "jwst_1364.pmap"
READPATT = {"NIRCAM": "RAPID", "NIRSPEC": "NRSRAPID", "MIRI": "FASTR1", "NIRISS": "NISRAPID"}


@dataclass
class Observation:
    """Identifiers shared by every file of the simulated exposure."""

    program: str
    observation: int
    visit: int
    visit_group: str
    sequence: str
    activity: str
    exposure: int
    target_name: str
    ra: float
    dec: float
    roll: float

    def file_stem(self, segment: int, detector: str) -> str:
        return (
            f"jw{self.program}{self.observation:03d}{self.visit:03d}"
            f"_{self.visit_group}{self.sequence}{self.activity}_{self.exposure:05d}"
            f"-seg{segment:03d}_{detector.lower()}"
        )


def sky_transform(
    obs: Observation, pixel_scale: float, ref_pixel: tuple[float, float]
) -> models.Model:
    """Pixel (0-based x, y) -> (RA, Dec) deg: TAN projection at the target, rotated by roll.

    The target is at ``ref_pixel`` (0-based); north is rotated by ``roll`` from +y.
    """
    scale = pixel_scale / 3600.0
    theta = np.radians(obs.roll)
    # East to the left (-x) for roll 0, as on the sky seen from inside the sphere.
    matrix = scale * np.array(
        [[-np.cos(theta), np.sin(theta)], [np.sin(theta), np.cos(theta)]], dtype=float
    )
    shift = models.Shift(-ref_pixel[0]) & models.Shift(-ref_pixel[1])
    return (
        shift
        | models.AffineTransformation2D(matrix=matrix, translation=[0.0, 0.0])
        | models.Pix2Sky_TAN()
        | models.RotateNative2Celestial(obs.ra, obs.dec, 180.0)
    )


def imaging_wcs(
    obs: Observation, pixel_scale: float, ref_pixel: tuple[float, float], shape: tuple[int, int]
) -> WCS:
    """A gwcs ``detector -> world`` (ICRS) for an imaging subarray."""
    detector = cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix))
    sky = cf.CelestialFrame(reference_frame=coord.ICRS(), name="world", unit=(u.deg, u.deg))
    wcs = WCS([(detector, sky_transform(obs, pixel_scale, ref_pixel)), (sky, None)])
    ny, nx = shape
    wcs.bounding_box = ((-0.5, nx - 0.5), (-0.5, ny - 0.5))
    return wcs


def s_region(transform: models.Model, shape: tuple[int, int]) -> str:
    """S_REGION polygon of the array footprint (corners of the outer pixel edges)."""
    ny, nx = shape
    xs = np.array([-0.5, nx - 0.5, nx - 0.5, -0.5])
    ys = np.array([-0.5, -0.5, ny - 0.5, ny - 0.5])
    ra, dec = transform(xs, ys)
    return "POLYGON ICRS " + " ".join(f"{a:.9f} {d:.9f}" for a, d in zip(ra, dec, strict=True))


def _set(model, path: str, value) -> None:
    node = model
    parts = path.split(".")
    for part in parts[:-1]:
        node = getattr(node, part)
    setattr(node, parts[-1], value)


def cal_steps(spec: ModeSpec) -> dict[str, str]:
    """Stage-1/2 step statuses (S_* keywords) typical of the mode's calints."""
    done = ["dq_init", "saturation", "superbias", "refpix", "linearity", "dark_sub", "jump"]
    done += ["ramp_fit", "gain_scale", "assign_wcs", "flat_field", "photom"]
    skipped = ["ipc", "persistence", "bkg_subtract"]
    if spec.instrument == "MIRI":
        # MIRI has no superbias; it runs its own first/last-frame, reset, RSCD and EMI steps.
        done = [s for s in done if s != "superbias"]
        done += ["emicorr", "firstframe", "lastframe", "reset", "rscd"]
    if spec.spectroscopic:
        done += ["srctype"]
        if spec.exp_type in ("NRS_BRIGHTOBJ", "NRC_TSGRISM"):
            done += ["extract_2d"]
        if spec.exp_type == "MIR_LRS-FIXEDSLIT":  # slit losses of a centred point source
            done += ["pathloss"]
        if spec.exp_type == "NRS_BRIGHTOBJ":
            done += ["wavecorr"]
            skipped += ["pathloss"]
        if spec.exp_type == "NIS_SOSS":  # spec2 calibrates SOSS after extract_1d
            done = [s for s in done if s != "photom"]
            skipped += ["photom"]
    steps = {name: "COMPLETE" for name in done}
    steps.update({name: "SKIPPED" for name in skipped})
    return steps


def segment_model(
    spec: ModeSpec,
    *,
    arrays: dict[str, np.ndarray],
    meta: dict[str, object],
    int_times: np.ndarray,
    stripe_times: np.ndarray | None = None,
    wavelength: np.ndarray | None,
    wcs: WCS | None,
    slit: dict[str, object] | None,
    date: str,
):
    """Build the CubeModel/SlitModel of one segment (arrays are not copied).

    ``date`` is the DATE keyword written when the model is saved.
    """
    base = datamodels.SlitModel if spec.model == "slit" else datamodels.CubeModel
    # Validate once, at the end, rather than on each of ~100 assignments (slow).
    model = _pinned_class(base, date)(
        validate_on_assignment=False,
        data=arrays["sci"],
        err=arrays["err"],
        dq=arrays["dq"],
        var_poisson=arrays["var_poisson"],
        var_rnoise=arrays["var_rnoise"],
        var_flat=arrays["var_flat"],
    )
    model.int_times = int_times
    if stripe_times is not None:
        model.int_times_stripe = stripe_times
    if wavelength is not None:
        model.wavelength = wavelength.astype(np.float32)
    for path, value in meta.items():
        if value is not None:
            _set(model, path, value)
    for name, status in cal_steps(spec).items():
        setattr(model.meta.cal_step, name, status)
    if wcs is not None:
        model.meta.wcs = wcs
    for key, value in (slit or {}).items():
        setattr(model, key, value)
    model.validate()
    return model


#: Metadata of a MultiSlit calints that belong to each slit (its SCI header).
_SLIT_KEYWORDS = ("meta.photometry.", "meta.bunit_", "meta.wcsinfo.dispersion_direction",
                  "meta.wcsinfo.spectral_order")  # fmt: skip


def write_multislit_segments(
    output_dir: Path, spec: ModeSpec, obs, dets, bounds, common: dict, times, slits, date, render
) -> list[Path]:
    """Write one MultiSlit calints per segment, a slit per stripe (NIRCam DHS).

    ``render(det, start, stop)`` gives a stripe's arrays for integrations
    ``[start, stop)``.  As calwebb_spec2 writes DHS (jwst's ``_extract_tso_dhs_object``):
    each slit a SlitModel named by its stripe number with its own WAVELENGTH; INT_TIMES
    belongs to the model, which the MultiSlitModel schema has no FITS extension for, so
    stdatamodels keeps it in the ASDF tree.
    """
    files = []
    for number, (start, stop) in enumerate(bounds, 1):
        model = _pinned_class(datamodels.MultiSlitModel, date)(validate_on_assignment=False)
        meta = {**common, "meta.instrument.detector": spec.detector_name,
                "meta.exposure.integration_start": start + 1,
                "meta.exposure.integration_end": stop,
                "meta.exposure.segment_number": number,
                "meta.exposure.segment_total": len(bounds)}  # fmt: skip
        per_slit = {}  # keywords a MultiSlitModel keeps in each slit's SCI header
        for path, value in meta.items():
            if value is None:
                continue
            try:
                if path.startswith(_SLIT_KEYWORDS):
                    raise AttributeError(path)
                _set(model, path, value)
            except AttributeError:  # not in the MultiSlitModel schema: a slit keyword
                per_slit[path] = value
        for name, status in cal_steps(spec).items():
            setattr(model.meta.cal_step, name, status)
        for det, slit in zip(dets, slits, strict=True):
            arrays = render(det, start, stop)
            sub = datamodels.SlitModel(
                data=arrays["sci"], err=arrays["err"], dq=arrays["dq"],
                var_poisson=arrays["var_poisson"], var_rnoise=arrays["var_rnoise"],
                var_flat=arrays["var_flat"],
            )  # fmt: skip
            for path, value in per_slit.items():
                _set(sub, path, value)
            sub.wavelength = det.wavelength_2d.astype(np.float32)
            # as jwst's extract_2d builds each stripe's slit (build_grism_submodel): the
            # instrument and source type jwst's extract_1d reads from the slit
            sub.meta.instrument.name = model.meta.instrument.name
            sub.source_type = model.meta.target.source_type
            sub.meta.wcsinfo.dispersion_direction = spec.dispaxis
            sub.meta.wcsinfo.spectral_order = 1
            for key, value in slit.items():
                setattr(sub, key, value)
            model.slits.append(sub)
        model.int_times = times.int_times_table(start, stop)
        path = output_dir / f"{obs.file_stem(number, spec.detector_name)}_calints.fits"
        model.validate()
        model.save(os.fspath(path))
        model.close()
        files.append(path)
    return files


def _pinned_class(cls, date: str):
    """``cls`` whose saves stamp DATE with ``date`` instead of the wall-clock time.

    stdatamodels sets DATE in ``on_save`` (and hashes the headers into the ASDF
    extension), so a fixed value must be set there for reruns to give identical bytes.
    """

    class Pinned(cls):
        @property
        def _model_type(self):  # DATAMODL stays "CubeModel" / "SlitModel" / ...
            return cls.__name__

        def on_save(self, init=None):
            super().on_save(init)
            self.meta.date = date

    Pinned.__name__ = Pinned.__qualname__ = cls.__name__
    return Pinned


def date_keywords(expstart: float) -> dict[str, str]:
    """DATE-OBS / TIME-OBS of the exposure start and a fixed processing DATE."""
    start = Time(expstart, format="mjd", scale="utc")
    date_obs, time_obs = start.isot.split("T")
    processed = Time(expstart + 2.0, format="mjd", scale="utc").isot
    return {"date": date_obs, "time": time_obs, "processed": processed}


def write_asn(
    output_dir: Path,
    obs: Observation,
    product_name: str,
    members: list[str],
    date: str,
) -> Path:
    """Write the level-3 TSO association in the archive's format; return its path."""
    version_id = date.replace("-", "")[:8] + "t000000"
    asn_id = f"o{obs.observation:03d}"
    asn = {
        "asn_type": "tso3",
        "asn_rule": "candidate_Asn_Lv3TSO",
        "version_id": version_id,
        "code_version": CAL_VER,
        "degraded_status": "No known degraded exposures in association.",
        "program": obs.program,
        "constraints": "DMSAttrConstraint('exp_type'), simulated by tso3",
        "asn_id": asn_id,
        "target": "t001",
        "asn_pool": f"jw{obs.program}_{version_id}_pool.csv",
        "products": [
            {
                "name": product_name,
                "members": [
                    {
                        "expname": name,
                        "exptype": "science",
                        "exposerr": None,
                        "asn_candidate": f"[('{asn_id}', 'observation')]",
                    }
                    for name in members
                ],
            }
        ],
    }
    path = output_dir / f"jw{obs.program}-{asn_id}_{version_id}_tso3_001_asn.json"
    path.write_text(json.dumps(asn, indent=4) + "\n")
    return path


def product_name(spec: ModeSpec, obs: Observation, subarray: str) -> str:
    """Level-3 product name as the association generator builds it.

    ``jw{program}-o{obs}_t001_{instrument}_{opt_elem}{-slit}{-subarray}``: the optical
    elements are filter then pupil/grating, each dropped when CLEAR (``clear`` if none
    is left); FULL subarrays are omitted.
    """
    elements = [
        e.lower()
        for e in (spec.filter, spec.grating or spec.pupil)
        if e and e.upper() not in ("CLEAR", "N/A")
    ]
    name = f"jw{obs.program}-o{obs.observation:03d}_t001_{spec.instrument.lower()}_"
    name += "-".join(elements) or "clear"
    if spec.slit_name:
        name += f"-{spec.slit_name.lower()}"
    if subarray.upper() != "FULL":
        name += f"-{subarray.lower()}"
    return name


def write_truth(path: Path, truth: dict) -> None:
    """Write the truth JSON (numpy values converted to plain Python)."""

    def default(value):
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, Path):
            return value.name
        raise TypeError(f"cannot serialise {type(value)}")

    path.write_text(json.dumps(truth, default=default, allow_nan=True) + "\n")
