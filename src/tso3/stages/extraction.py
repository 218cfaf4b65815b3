"""Extraction stage: one aperture per detector series, every block of integrations
through background, box (or optimal) extraction and trace tracking; spectra to
``x1dints``.

``prepare`` (median images, arrays only) -> ``plan`` (traces and apertures) -> the
stage consumes blocks (see :mod:`tso3.stages.blocks`) -> ``finish`` -> ``write``.

The aperture is placed once per detector on the median image of up to
``MEDIAN_SAMPLE`` integrations spread over all segments, so every segment is extracted
with the same pixels (the reference also uses one aperture for all, from CRDS).  All
algorithms work in the DISPAXIS=1 orientation; DISPAXIS=2 data (MIRI LRS) are passed as
swapped views.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import bottleneck as bn
import numpy as np

from ..config import (
    DEFAULT_BKG_GAP,
    DEFAULT_EXTRACT_WIDTH,
    Extract1dParams,
    default_subtract_background,
)
from ..dqflags import OTHER_BAD_PIXEL
from ..errors import InputError
from ..io.apcorr import LRS_EXP_TYPES, NRS_EXP_TYPES, read_lrs_apcorr, read_nrs_apcorr
from ..io.extract1d_ref import load_extract1d_reference
from ..io.observation import Observation
from ..io.sampling import sample_integrations
from ..io.segments import Segment
from ..io.stripes import stripe_layout
from ..io.x1dints import write_x1dints
from ..spectra import SpectraSet, spectra_columns, to_spectra_set
from ..steps.apcorr import apply_correction, at_pixel_phase, lrs_correction, phase_correction
from ..steps.aperture import (
    Aperture,
    ApertureMatchError,
    aperture_from_reference,
    aperture_wavelength,
    default_aperture,
    source_posn_wanted,
)
from ..steps.extract import (
    ExtractParams,
    extract_block,
    fill_from_model,
    profile_model,
    trace_half_width,
)
from ..steps.extract_many import box_weights, extract_block_many
from ..steps.source_location import (
    aperture_centre,
    sky_source_location,
    slit_pixel_scale,
    slit_source_location,
)
from ..steps.trace import Trace, find_trace, trace_timeseries
from .blocks import Block, MeasuringStage
from .soss import soss_orders

log = logging.getLogger(__name__)

#: Bytes per float32 array in a streamed block (four arrays are read).
BLOCK_BYTES = 48 * 1024**2
#: Integrations in the median image the trace and aperture are built from.
MEDIAN_SAMPLE = 300
_ARRAYS = ("SCI", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT")


@dataclass
class DetectorSetup:
    """What extraction fixed for one detector series (also used by the plots)."""

    detector: str
    dispaxis: int
    median: np.ndarray  # (ny, nx) in DISPAXIS=1 orientation
    wavelength: np.ndarray  # (ny, nx) in DISPAXIS=1 orientation
    aperture: Aperture
    trace: Trace | None
    order: int | None = None  # None: the file's SPORDER (1 when absent)


@dataclass
class Extraction:
    """Spectra of the whole observation and the setups, per (detector, order)."""

    spectra: list[SpectraSet]
    setups: dict[tuple[str, int], DetectorSetup] = field(default_factory=dict)


def _oriented(cube: np.ndarray, dispaxis: int) -> np.ndarray:
    return np.swapaxes(cube, -1, -2) if dispaxis == 2 else cube


def wavelength_image(seg: Segment) -> np.ndarray:
    """2-D wavelengths (um): the WAVELENGTH extension, else the spectral WCS.

    Only the WCS needs the ASDF tree (see :meth:`ExtractionStage.wcs_segments`).
    """
    wl = seg.wavelength
    if wl is not None:
        return np.asarray(wl, dtype=np.float64)
    wcs = seg.wcs
    if wcs is not None:
        ny, nx = seg.shape[1:]
        y, x = np.mgrid[:ny, :nx]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = wcs(x.astype(float), y.astype(float))
            lam = np.asarray(out[-1] if isinstance(out, tuple) else out, dtype=np.float64)
            if lam.shape == (ny, nx) and np.isfinite(lam).any():
                return lam
        except Exception as exc:  # a WCS of any kind may fail in many ways
            log.debug("%s: WCS evaluation failed: %s", seg.path.name, exc)
    raise InputError(
        seg.path, "no WAVELENGTH extension and no spectral WCS: cannot assign wavelengths"
    )


def median_image(segs: list[Segment]) -> np.ndarray:
    """NaN-ignoring median over up to MEDIAN_SAMPLE integrations spread over the series.

    In the files' orientation; reads the arrays only, not the metadata models.
    """
    sample, _ = sample_integrations(segs, MEDIAN_SAMPLE)
    return bn.nanmedian(sample, axis=0)  # all-NaN pixels give NaN, without a warning


def _slit_name(seg: Segment) -> str:
    """The spectrum's name (SLTNAME), as jwst names it: the slit for NIRSpec BOTS and fixed
    slits and for the slits of a MultiSlit calints (NIRCam DHS: the stripe number), the
    EXP_TYPE for everything else (NRC_TSGRISM, MIR_LRS-SLITLESS, ...)."""
    if seg.slit is not None:
        return seg.slit
    if seg.exp_type in ("NRS_BRIGHTOBJ", "NRS_FIXEDSLIT"):
        return str(seg.slit_name or seg.exp_type)
    return seg.exp_type


def _spectral_order(seg: Segment) -> int:
    """SPORDER of the file, as jwst copies it (0 for a prism), 1 when absent."""
    order = seg.meta.wcsinfo.spectral_order
    return 1 if order is None else int(order)


def median_images(obs: Observation) -> dict[str, np.ndarray]:
    """:func:`median_image` of every detector series (of the calints)."""
    return {det: median_image(segs) for det, segs in obs.series.items()}


def setup_detector(
    segs: list[Segment],
    params: Extract1dParams,
    detector: str,
    median: np.ndarray,
    mode: str = "default",
) -> list[DetectorSetup]:
    """Trace and aperture of every spectrum of one detector series, on its median image.

    One spectrum, order 1, except NIS_SOSS (orders 1 and 2, :mod:`tso3.stages.soss`).
    ``median``: the series' :func:`median_image`, in the files' orientation.
    """
    seg0 = segs[0]
    if seg0.exp_type == "NIS_SOSS":
        med = np.ascontiguousarray(median)
        return [
            DetectorSetup(detector, 1, med, wl, ap, trace, order)
            for order, wl, ap, trace in soss_orders(seg0, params, med, mode)
        ]
    dispaxis = seg0.dispaxis
    wl = np.ascontiguousarray(_oriented(wavelength_image(seg0), dispaxis))
    med = np.ascontiguousarray(_oriented(median, dispaxis))
    try:
        trace = find_trace(med, valid=np.isfinite(wl) & np.isfinite(med))
    except ValueError as exc:
        if not params.override_extract1d:
            raise InputError(
                seg0.path, f"{exc} in the median image; give extract_1d.override_extract1d"
            ) from None
        trace = None
    subtract = params.subtract_background
    if params.override_extract1d:
        ref = load_extract1d_reference(params.override_extract1d)
        select = {"slit_name": _slit_name(seg0), "spectral_order": _spectral_order(seg0),
                  "exp_type": seg0.exp_type}  # fmt: skip
        settings = dict(
            select, dispaxis=dispaxis, wavelength=wl, extract_width=params.extract_width,
            subtract_background=subtract, bkg_fit=params.bkg_fit, bkg_order=params.bkg_order,
            smoothing_length=params.smoothing_length, use_source_posn=params.use_source_posn,
            default_source_posn=_source_posn_default(seg0, mode),
        )  # fmt: skip
        try:
            centre, offset = None if trace is None else trace.center, 0.0
            if mode == "jwst" and source_posn_wanted(ref, **select, **_posn(settings)):
                centre, offset = _wcs_source(seg0, ref, med.shape, settings)
            ap = aperture_from_reference(
                ref, med.shape, trace=centre, source_offset=offset, **settings
            )
        except (ApertureMatchError, LookupError, ValueError) as exc:
            raise InputError(params.override_extract1d, str(exc)) from None
    else:
        exp = seg0.exp_type
        ap = default_aperture(
            med.shape, trace.center,
            extract_width=params.extract_width or DEFAULT_EXTRACT_WIDTH[exp],
            bkg_gap=DEFAULT_BKG_GAP[exp] if params.bkg_gap is None else params.bkg_gap,
            valid=np.isfinite(med), wavelength=wl,
            bkg_fit=params.bkg_fit or "poly", bkg_order=params.bkg_order or 0,
            smoothing_length=params.smoothing_length or 0,
            subtract_background=default_subtract_background(exp, mode) if subtract is None
            else subtract,
        )  # fmt: skip
    if not ap.background_ok:
        log.warning("%s: too few background pixels; no background subtracted", detector)
    log.info(
        "%s: aperture rows %.2f-%.2f (%s), columns %d-%d, background %s",
        detector or "spectrum", ap.lower, ap.upper, ap.origin, *ap.columns,
        "on" if ap.bkg_profile is not None else "off",
    )  # fmt: skip
    return [DetectorSetup(detector, dispaxis, med, wl, ap, trace)]


def _posn(settings: dict) -> dict:
    return {k: settings[k] for k in ("use_source_posn", "default_source_posn")}


def _wcs_source(seg: Segment, ref: dict, shape, settings: dict):
    """jwst mode: the trace and the shift that put the aperture on the WCS's source.

    The nominal aperture's centre at the middle column moves to the source location the
    WCS gives for SRCXPOS/SRCYPOS (NIRSpec) or DITH_RA/DITH_DEC (MIRI LRS fixed slit);
    with an extract width the aperture then follows the WCS trace
    (:mod:`tso3.steps.source_location`).  Without a usable WCS, jwst keeps the
    nominal aperture, and so does this.
    """
    found = None
    if seg.exp_type == "MIR_LRS-FIXEDSLIT":
        ra, dec = seg.keyword("DITH_RA"), seg.keyword("DITH_DEC")
        if ra is not None and dec is not None and seg.wcs is not None:
            found = sky_source_location(seg.wcs, shape[::-1], float(ra), float(dec))
    elif seg.dispaxis == 1 and seg.wcs is not None:
        xpos = float(seg.sci_header.get("SRCXPOS") or 0.0)
        ypos = float(seg.sci_header.get("SRCYPOS") or 0.0)
        found = slit_source_location(seg.wcs, shape, xpos, ypos)
    if found is None:
        log.warning("%s: no source position from the WCS; the extract1d aperture is used "
                    "as given", seg.path.name)  # fmt: skip
        return None, 0.0
    nominal = aperture_from_reference(ref, shape, **{**settings, "use_source_posn": False})
    offset = found.location - aperture_centre(nominal.profile, found.middle)
    log.info("source at %.2f (column %d, %.4g um) from the WCS: aperture moved by %.2f px",
             found.location, found.middle, found.middle_wavelength, offset)  # fmt: skip
    return found.trace, offset


#: EXP_TYPEs for which jwst 3.0 centres an extract1d aperture on the source by default.
SOURCE_POSITION_EXP_TYPES = ("MIR_LRS-FIXEDSLIT", "NRS_FIXEDSLIT", "NRS_MSASPEC", "NRS_BRIGHTOBJ")


def _source_posn_default(seg: Segment, mode: str) -> bool:
    """Whether an extract1d aperture follows the source when neither the parameter nor
    the JSON say: always in default mode; in jwst mode as jwst (point sources of the
    EXP_TYPEs it can locate)."""
    if mode != "jwst":
        return True
    point = str(seg.meta.target.source_type or "").upper() == "POINT"
    return point and seg.exp_type in SOURCE_POSITION_EXP_TYPES


#: Correction factors of a spectrum's elements from their (NPIXELS, WAVELENGTH).
Correction = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class _DetectorPlan:
    """Everything fixed before the first integration of a detector is extracted."""

    setup: DetectorSetup
    settings: ExtractParams
    model: np.ndarray
    reference: float | None
    wavelength: np.ndarray  # (nx,) of the aperture
    inside: np.ndarray  # aperture pixels in the file's orientation, flat per frame
    temporal: bool  # fill flagged pixels from the outlier step's model
    apcorr: Correction | None = None  # aperture correction (override_apcorr)


def _plan_detector(segs, params: Extract1dParams, mode: str, det: str, median: np.ndarray):
    setups = setup_detector(segs, params, det, median, mode)
    plans = [_plan_spectrum(s, params, mode) for s in setups]
    return [
        dataclasses.replace(p, apcorr=aperture_correction(segs[0], params, mode, p)) for p in plans
    ]


def aperture_correction(
    seg: Segment, params: Extract1dParams, mode: str, plan: _DetectorPlan
) -> Correction | None:
    """The APCORR reference's correction for this spectrum, when one is given and wanted.

    Raises
    ------
    InputError
        A file for another mode than MIRI LRS or NIRSpec BOTS, or one that does not fit
        the data.
    """
    if not (params.apply_apcorr and params.override_apcorr):
        return None
    path = params.override_apcorr
    if seg.exp_type in LRS_EXP_TYPES:
        lrs = read_lrs_apcorr(path, str(seg.meta.subarray.name or ""))
        log.info("aperture correction from %s", lrs.path.name)
        return functools.partial(lrs_correction, lrs.wavelength, lrs.size, lrs.apcorr)
    if seg.exp_type not in NRS_EXP_TYPES:
        raise InputError(path, f"aperture corrections are supported for MIRI LRS and "
                               f"NIRSpec BOTS, not {seg.exp_type}")  # fmt: skip
    inst = seg.meta.instrument
    nrs = read_nrs_apcorr(path, str(inst.filter or ""), str(inst.grating or ""), _slit_name(seg))
    grid = at_pixel_phase(nrs.pixphase, nrs.apcorr)
    if grid is None or (mode == "jwst" and not nrs.jwst_layout):
        why = ("pixel phase 0.5 is outside its grid" if grid is None else
               "its grid is stored as (pixel phase, size, wavelength)")  # fmt: skip
        log.warning("%s: no aperture correction: %s, and jwst 3.0 applies none then",
                    nrs.path.name, why)  # fmt: skip
        return None
    sizes = nrs.size
    if nrs.sizeunit.startswith("arcsec"):
        sizes = sizes / _slit_scale(seg, plan, nrs.path.name)
    log.info("aperture correction from %s", nrs.path.name)
    return functools.partial(phase_correction, nrs.wavelength, sizes, grid)


def _slit_scale(seg: Segment, plan: _DetectorPlan, reference: str) -> float:
    """Arcsec per pixel across the slit: from the WCS at the aperture, as jwst, else the
    nominal scale sqrt(PIXAR_A2) (NIRSpec's real WCS needs jwst's own transforms)."""
    wcs = seg.wcs
    scale = float("nan")
    if wcs is not None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                median_wl = float(np.nanmedian(plan.wavelength))
                scale = slit_pixel_scale(wcs, plan.setup.aperture.profile, median_wl)
        except Exception as exc:  # a WCS of any kind may fail in many ways
            log.debug("%s: WCS pixel scale failed: %s", seg.path.name, exc)
    if np.isfinite(scale) and scale > 0:
        return scale
    area = seg.meta.photometry.pixelarea_arcsecsq
    if not area or not np.isfinite(area) or area <= 0:
        raise InputError(seg.path, f"{reference} gives sizes in arcsec, and neither the WCS "
                                   "nor PIXAR_A2 gives the pixel scale")  # fmt: skip
    scale = float(np.sqrt(area))
    log.warning("%s: sizes in arcsec converted with the nominal pixel scale sqrt(PIXAR_A2) "
                "= %.4f arcsec (jwst uses its WCS at the source)", reference, scale)  # fmt: skip
    return scale


def _plan_spectrum(setup: DetectorSetup, params: Extract1dParams, mode: str) -> _DetectorPlan:
    ap = setup.aperture
    model = profile_model(setup.median, ap, subtract_background=ap.bkg_profile is not None)
    settings = ExtractParams(
        extraction_type=params.extraction_type,
        repair="profile" if (params.repair and mode != "jwst") else None,
        subtract_background=ap.bkg_profile is not None,
    )
    reference = None
    if ap.trace is not None and (
        settings.repair == "profile" or params.extraction_type == "optimal"
    ):
        hw = trace_half_width(ap, settings)
        pos, _ = trace_timeseries(setup.median[None], ap.trace, hw, columns=ap.profile.any(axis=0))
        reference = float(pos[0]) if np.isfinite(pos[0]) else None
    inside = _oriented(ap.profile[None] > 0, setup.dispaxis)[0].reshape(-1)
    lam = aperture_wavelength(ap.profile, setup.wavelength)
    temporal = bool(params.repair) and mode != "jwst"
    return _DetectorPlan(setup, settings, model, reference, lam, inside, temporal)


def _extract_cubes(
    plan: _DetectorPlan, cubes: list, fill=None, *, filled: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Sums of one block: ``cubes`` are SCI and VAR_* (None if absent) in the file's
    orientation, ``fill`` the outlier model's (flat indices, values) or None.

    ``filled``: the cubes already hold the model's values there (these flat indices were
    filled: a sweep fills a block once for all its configurations that repair).
    """
    if not plan.temporal:
        filled = None
    elif filled is None and fill is not None:
        filled = fill_from_model(cubes[0], cubes[1:], *fill)
    setup = plan.setup
    oriented = [None if c is None else _oriented(c, setup.dispaxis) for c in cubes]
    sums = extract_block(
        *oriented, aperture=setup.aperture, params=plan.settings, model=plan.model,
        reference_position=plan.reference,
    )  # fmt: skip
    return _count_filled(sums, plan, filled, len(cubes[0]), cubes[0][0].size)


def _count_filled(sums, plan: _DetectorPlan, filled, nints: int, npix: int) -> dict:
    """``n_repaired`` counts the pixels the outlier model filled inside the aperture."""
    if filled is not None and filled.size and "n_repaired" in sums:
        t, pixel = np.divmod(filled, npix)
        sums["n_repaired"] = sums["n_repaired"] + np.bincount(
            t[plan.inside[pixel]], minlength=nints
        )
    return sums


def extract_cubes_many(
    plans: list[_DetectorPlan],
    weights: list,
    cubes: list,
    *,
    filled: np.ndarray | None = None,
    with_variances: bool = True,
) -> list[dict[str, np.ndarray]]:
    """:func:`_extract_cubes` of one block for several plans of one detector (its orders,
    or a sweep's configurations of one order), their box sums measured together
    (:func:`tso3.steps.extract_many.extract_block_many`; ``weights``: its
    :func:`~tso3.steps.extract_many.box_weights` of each plan).

    ``filled``: the flat indices the outlier model filled, for the plans that repair
    (the cubes are the same for all of them).
    """
    oriented = [None if c is None else _oriented(c, plans[0].setup.dispaxis) for c in cubes]
    many = extract_block_many(
        *oriented, apertures=[p.setup.aperture for p in plans],
        params=[p.settings for p in plans], models=[p.model for p in plans],
        reference_positions=[p.reference for p in plans], weights=weights,
        with_variances=with_variances,
    )  # fmt: skip
    nints, npix = len(cubes[0]), cubes[0][0].size
    return [
        _count_filled(sums, plan, filled if plan.temporal else None, nints, npix)
        for sums, plan in zip(many, plans, strict=True)
    ]


def _join(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


class ExtractionStage(MeasuringStage):
    """Extraction of every block of every segment, with one plan per detector.

    Made by :meth:`plan`; consumes :class:`~tso3.stages.blocks.Block` s (from the
    outlier pass or the files) and finishes into the :class:`Extraction`.  A block's
    job makes its cubes what the crfints hold, puts the outlier model's values into
    the flagged pixels (default mode, ``repair``), and extracts the block.
    """

    STEP = "extract_1d"  # the jwst step it stands for (parameters, skip name, timing)
    arrays = _ARRAYS

    def __init__(
        self, obs: Observation, params: Extract1dParams, plans: dict, mode: str = "default"
    ) -> None:
        super().__init__(obs)
        self._params = params
        self._plans = plans
        # default mode: the spectra of a detector with several (the NIS_SOSS orders) are
        # measured together, sharing the block's fill and sums (tso3.steps.extract_many;
        # 3.5x faster on a SUBSTRIP256 block; for one spectrum it is ~10 % slower than
        # extract_block).  jwst mode keeps the reference's sequence, one by one.
        self._weights = {}
        if mode != "jwst":
            self._weights = {det: [box_weights(p.setup.aperture, p.settings) for p in ps]
                             for det, ps in plans.items() if len(ps) > 1}  # fmt: skip
        self._detector = {s.key: det for det, segs in obs.series.items() for s in segs}

    def _job(self, block: Block) -> Callable[[], list[dict[str, np.ndarray]]]:
        plans = self._plans[self._detector[block.segment]]

        def job() -> list[dict[str, np.ndarray]]:
            cubes = block.settle()
            arrays = [cubes.get(name) for name in _ARRAYS]
            weights = self._weights.get(self._detector[block.segment])
            if weights is None:
                return [_extract_cubes(plan, arrays, block.fill) for plan in plans]
            filled = None
            if plans[0].temporal:  # the orders share their settings: one fill for all
                filled = fill_from_model(arrays[0], arrays[1:], *block.fill)
            return extract_cubes_many(plans, weights, arrays, filled=filled)

        return job

    def finish(self) -> Extraction:
        """Wait for every block and build the spectra (segments in ASN order)."""
        out = Extraction(spectra=[])
        for det, plans in self._plans.items():
            out.setups.update({(det, p.setup.order or 1): p.setup for p in plans})
        for det, segs in self._obs.series.items():
            for seg in segs:
                parts = self._workers.results(seg.key)
                for k, plan in enumerate(self._plans[det]):
                    sums = _join([part[k] for part in parts])
                    out.spectra.append(_spectra_set(seg, plan, sums, self._params))
        return out

    @classmethod
    def prepare(cls, obs: Observation, mode: str = "default") -> dict[str, np.ndarray]:
        """What :meth:`plan` needs from the arrays: the median image of every detector.

        Reads the calints only, so a run can do it while it starts the crfints copies.
        """
        return median_images(obs)

    @classmethod
    def wcs_segments(cls, obs: Observation) -> list[Segment]:
        """The segments whose WCS :meth:`plan` evaluates: those without a WAVELENGTH image.

        NIS_SOSS takes its wavelengths from the GR700XD model, never from the WCS.
        """
        if obs.exp_type == "NIS_SOSS":
            return []
        return [seg for seg in obs.segments if seg.wavelength is None]

    @classmethod
    def plan(
        cls,
        obs: Observation,
        params: Extract1dParams,
        *,
        mode: str = "default",
        prepared: dict[str, np.ndarray] | None = None,
    ) -> ExtractionStage:
        """Place the trace and aperture of every detector; the stage that extracts blocks.

        Parameters
        ----------
        obs : Observation
            The validated observation (spectroscopic).
        params : Extract1dParams
            Step parameters.
        mode : {"default", "jwst"}
            ``jwst`` drops flagged pixels from the sums instead of repairing them.
        prepared : dict, optional
            :meth:`prepare` of ``obs`` when already made (else it is made here).

        Returns
        -------
        ExtractionStage
            The aperture of each detector is placed on the median image of the calints,
            whichever source will feed the stage: a median of hundreds of integrations does
            not see cosmic rays, and every route measures the same pixels.
        """
        _warn_settings_for_other_modes(obs.exp_type, params)
        medians = prepared if prepared is not None else cls.prepare(obs, mode)
        plans = {
            det: _plan_detector(segs, params, mode, det, medians[det])
            for det, segs in obs.series.items()
        }
        return cls(obs, params, plans, mode)

    def write(
        self,
        extraction: Extraction,
        path: Path,
        keywords: dict,
        filename: str | None = None,
    ) -> None:
        """Write ``<product>_x1dints.fits``; ``keywords`` go into its primary header
        (provenance and step status, see :func:`tso3.products.x1dints_keywords`);
        ``filename``: the product's name when ``path`` is where it is staged."""
        obs = self._obs
        first = next(iter(obs.series.values()))
        write_x1dints(
            path,
            extraction.spectra,
            obs.int_times(),
            stripe_times=obs.stripe_times(),
            primary=[s.primary_header for s in first],
            asn_pool=obs.association.asn_pool,
            asn_table=obs.association.asn_table,
            extra_meta=keywords,
            filename=filename,
        )


def _warn_settings_for_other_modes(exp_type: str, params: Extract1dParams) -> None:
    """extract_width and soss_width each set the box width of other modes: say when the
    one set does not apply (rather than ignore it silently)."""
    if exp_type == "NIS_SOSS" and params.extract_width is not None:
        log.warning("extract_1d.extract_width does not apply to NIS_SOSS (its box width is "
                    "extract_1d.soss_width): ignored")  # fmt: skip
    if exp_type != "NIS_SOSS" and params.soss_width != Extract1dParams().soss_width:
        log.warning("extract_1d.soss_width applies to NIS_SOSS only: ignored for %s", exp_type)


def _stripes(seg: Segment, nx: int) -> dict:
    """Striped readouts: the stripe of each column, and each stripe's mid time relative
    to its integration's (days), for the light curves' per-bin times."""
    if seg.stripe_times is None:
        return {}
    layout = stripe_layout(str(seg.keyword("SUBARRAY")))
    mid = seg.stripe_times["int_mid_BJD_TDB"].reshape(seg.nints, layout.count)
    return {
        "column_stripe": layout.column_stripes(nx, seg.detector),
        "stripe_delay": mid - seg.int_times["int_mid_BJD_TDB"][:, None],
    }


def _spectra_set(seg, plan: _DetectorPlan, sums, params) -> SpectraSet:
    setup, lam = plan.setup, plan.wavelength
    meta = seg.meta
    columns, units = spectra_columns(
        sums,
        pixar_sr=meta.photometry.pixelarea_steradians,
        source_type=meta.target.source_type,
        instrument=meta.instrument.name,
        # DN data were not calibrated, whatever S_PHOTOM says (NIS_SOSS: photom after spec2)
        photom_complete=meta.cal_step.photom == "COMPLETE" and "DN" not in (meta.bunit_data or ""),
        optimal=params.extraction_type == "optimal",
    )
    if plan.apcorr is not None and str(meta.target.source_type or "").upper() == "POINT":
        # jwst corrects point sources only
        apply_correction(columns, plan.apcorr(columns["npixels"], lam))
    t = seg.int_times
    times = {
        "mjd_beg": t["int_start_MJD_UTC"],
        "mjd_avg": t["int_mid_MJD_UTC"],
        "mjd_end": t["int_end_MJD_UTC"],
        "tdb_beg": t["int_start_BJD_TDB"],
        "tdb_mid": t["int_mid_BJD_TDB"],
        "tdb_end": t["int_end_BJD_TDB"],
    }
    spec_meta = {
        "SLTNAME": _slit_name(seg),
        "SRCTYPE": meta.target.source_type,
        "DISPAXIS": setup.dispaxis,
        "S_REGION": meta.wcsinfo.s_region,
        "PA_APER": seg.sci_header.get("PA_APER"),  # jwst copies the aperture's angle
        **setup.aperture.extraction_keywords(setup.dispaxis),
    }
    overlap = setup.aperture.info.get("overlap")
    if overlap is not None:  # SOSS: the other order's light is in these columns
        columns["dq"][:, overlap] |= np.uint32(OTHER_BAD_PIXEL)
    return to_spectra_set(
        columns,
        lam,
        int_num=np.arange(seg.intstart, seg.intend + 1),
        units=units,
        extras=sums,
        **_stripes(seg, lam.size),
        segment=seg.segment_number,
        spectral_order=setup.order or _spectral_order(seg),
        detector=seg.detector,
        slit=seg.slit,
        times=times,
        meta=spec_meta,
        trace_centre=None if setup.trace is None else np.asarray(setup.trace.center),
    )
