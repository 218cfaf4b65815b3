"""Extraction stage: one aperture per detector series, every integration streamed through
background, box (or optimal) extraction and trace tracking; spectra to ``x1dints``.

The aperture is placed once per detector on the median image of up to
``MEDIAN_SAMPLE`` integrations spread over all segments, so every segment is extracted
with the same pixels (the reference also uses one aperture for all, from CRDS).  All
algorithms work in the DISPAXIS=1 orientation; DISPAXIS=2 data (MIRI LRS) are passed as
swapped views.
"""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import bottleneck as bn
import numpy as np

from ..config import Extract1dParams
from ..errors import InputError
from ..io.extract1d_ref import load_extract1d_reference
from ..io.observation import Observation
from ..io.sampling import sample_integrations
from ..io.segments import Segment
from ..io.x1dints import write_x1dints
from ..spectra import SpectraSet
from ..steps.aperture import (
    DEFAULT_BKG_GAP,
    DEFAULT_EXTRACT_WIDTH,
    Aperture,
    ApertureMatchError,
    aperture_from_reference,
    aperture_wavelength,
    default_aperture,
)
from ..steps.extract import (
    ExtractParams,
    extract_block,
    fill_from_model,
    profile_model,
    trace_half_width,
)
from ..steps.spec_columns import spectra_columns, to_spectra_set
from ..steps.trace import Trace, find_trace, trace_timeseries
from .blocks import BlockStage, as_in_crfints, threaded_map

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


@dataclass
class Extraction:
    """Spectra of the whole observation and the per-detector setups."""

    spectra: list[SpectraSet]
    setups: dict[str, DetectorSetup] = field(default_factory=dict)


def _oriented(cube: np.ndarray, dispaxis: int) -> np.ndarray:
    return np.swapaxes(cube, -1, -2) if dispaxis == 2 else cube


def wavelength_image(seg: Segment) -> np.ndarray:
    """2-D wavelengths (um): the WAVELENGTH extension, else the spectral WCS.

    Only the WCS needs the metadata model.
    """
    wl = seg.wavelength
    if wl is not None:
        return np.asarray(wl, dtype=np.float64)
    wcs = getattr(seg.model.meta, "wcs", None)
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


def median_image(segs: list[Segment], sources, dispaxis: int) -> np.ndarray:
    """NaN-ignoring median over up to MEDIAN_SAMPLE integrations spread over the series."""
    sample, _ = sample_integrations([s.stored_at(sources[s.path]) for s in segs], MEDIAN_SAMPLE)
    # bottleneck does not warn of all-NaN pixels, and no catch_warnings here: this runs
    # on a background thread beside other code that swaps the warning filters
    med = bn.nanmedian(sample, axis=0)
    return np.ascontiguousarray(_oriented(med, dispaxis))


def _slit_name(seg: Segment) -> str:
    return str(seg.slit_name or seg.exp_type)


def median_images(
    obs: Observation, sources: dict[Path, Path] | None = None
) -> dict[str, np.ndarray]:
    """:func:`median_image` of every detector series, in the files' orientation.

    Needs the arrays only, not the metadata models (``sources`` default: the calints).
    """
    sources = sources or {s.path: s.path for s in obs.segments}
    return {det: median_image(segs, sources, 1) for det, segs in obs.series.items()}


def setup_detector(
    segs: list[Segment],
    sources,
    params: Extract1dParams,
    detector: str,
    median: np.ndarray | None = None,
) -> DetectorSetup:
    """Median image, trace and aperture of one detector series.

    ``median``: the series' :func:`median_image` in the files' orientation, when
    already made.
    """
    seg0 = segs[0]
    dispaxis = seg0.dispaxis
    wl = np.ascontiguousarray(_oriented(wavelength_image(seg0), dispaxis))
    if median is None:
        med = median_image(segs, sources, dispaxis)
    else:
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
        try:
            ap = aperture_from_reference(
                ref, med.shape, slit_name=_slit_name(seg0), spectral_order=1,
                exp_type=seg0.exp_type, dispaxis=dispaxis, wavelength=wl,
                trace=None if trace is None else trace.center,
                extract_width=params.extract_width, subtract_background=subtract,
                bkg_fit=params.bkg_fit, bkg_order=params.bkg_order,
                smoothing_length=params.smoothing_length,
            )  # fmt: skip
        except (ApertureMatchError, LookupError, ValueError) as exc:
            raise InputError(params.override_extract1d, str(exc)) from None
    else:
        exp = seg0.exp_type
        ap = default_aperture(
            med.shape, trace.center,
            extract_width=params.extract_width or DEFAULT_EXTRACT_WIDTH.get(exp, 8.0),
            bkg_gap=DEFAULT_BKG_GAP.get(exp, 3.0), valid=np.isfinite(med), wavelength=wl,
            bkg_fit=params.bkg_fit or "poly", bkg_order=params.bkg_order or 0,
            smoothing_length=params.smoothing_length or 0,
            subtract_background=subtract is not False,
        )  # fmt: skip
    if not ap.background_ok:
        log.warning("%s: too few background pixels; no background subtracted", detector)
    log.info(
        "%s: aperture rows %.2f-%.2f (%s), columns %d-%d, background %s",
        detector or "spectrum", ap.lower, ap.upper, ap.origin, *ap.columns,
        "on" if ap.bkg_profile is not None else "off",
    )  # fmt: skip
    return DetectorSetup(detector, dispaxis, med, wl, ap, trace)


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


def _plan_detector(
    segs, sources, params: Extract1dParams, mode: str, det: str, temporal: bool, median=None
):
    setup = setup_detector(segs, sources, params, det, median)
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
    temporal = temporal and params.repair and mode != "jwst"
    return _DetectorPlan(setup, settings, model, reference, lam, inside, temporal)


def _extract_cubes(plan: _DetectorPlan, cubes: list, fill=None) -> dict[str, np.ndarray]:
    """Sums of one block: ``cubes`` are SCI and VAR_* (None if absent) in the file's
    orientation, ``fill`` the outlier model's (flat indices, values) or None."""
    filled = None
    if fill is not None and plan.temporal:
        filled = fill_from_model(cubes[0], cubes[1:], *fill)
    setup = plan.setup
    oriented = [None if c is None else _oriented(c, setup.dispaxis) for c in cubes]
    sums = extract_block(
        *oriented, aperture=setup.aperture, params=plan.settings, model=plan.model,
        reference_position=plan.reference,
    )  # fmt: skip
    if filled is not None and filled.size and "n_repaired" in sums:
        npix = cubes[0][0].size
        t, pixel = np.divmod(filled, npix)
        sums["n_repaired"] = sums["n_repaired"] + np.bincount(
            t[plan.inside[pixel]], minlength=len(cubes[0])
        )
    return sums


def _join(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def extract(
    obs: Observation,
    sources: dict[Path, Path],
    params: Extract1dParams,
    *,
    mode: str = "default",
    repair: dict | None = None,
    progress=None,
) -> Extraction:
    """Extract a spectrum from every integration of every segment and detector.

    Parameters
    ----------
    obs : Observation
        The validated observation (spectroscopic).
    sources : dict
        Segment path -> file to extract from (crfints, or calints when outliers were
        skipped).
    params : Extract1dParams
        Step parameters.
    mode : {"default", "jwst"}
        ``jwst`` drops flagged pixels from the sums instead of repairing them.
    repair : dict of Path to RepairModel, optional
        The outlier step's model (default mode): a pixel it flagged takes the value of
        the rolling median (with its motion term) there; pixels it has no value for
        (bad in the whole window) are repaired from the spatial profile.
    progress : callable, optional
        Called with the number of integrations done.

    Returns
    -------
    Extraction
        One SpectraSet per segment and detector, in ASN order, and the setups.
    """
    result = Extraction(spectra=[])
    for det, segs in obs.series.items():
        plan = _plan_detector(segs, sources, params, mode, det, temporal=repair is not None)
        result.setups[det] = plan.setup
        stored = [seg.stored_at(sources[seg.path]) for seg in segs]
        temporal = [repair.get(seg.path) if plan.temporal else None for seg in segs]
        sums = _extract_series(stored, temporal, plan, progress)
        for seg, seg_sums in zip(segs, sums, strict=True):
            result.spectra.append(_spectra_set(seg, plan, seg_sums, params, det))
    return result


def _extract_series(
    segs: list[Segment], temporal: list, plan: _DetectorPlan, progress
) -> list[dict[str, np.ndarray]]:
    """Block sums of every segment of one detector, read from the files, in order.

    Blocks of integrations are independent and their work is numpy that releases the
    GIL, so they run on a thread per core; memory holds one block per thread.
    """
    with contextlib.ExitStack() as stack:
        arrays = [stack.enter_context(seg.arrays("readonly")) for seg in segs]
        names = [[name if arr.has(name) else None for name in _ARRAYS] for arr in arrays]
        for arr, present in zip(arrays, names, strict=True):
            for name in filter(None, present):
                arr.read(name, 0, 0)  # opens the lazy HDU data here, not in the threads
        tasks = []
        for k, seg in enumerate(segs):
            n, ny, nx = seg.shape
            step = max(1, BLOCK_BYTES // (ny * nx * 4))
            tasks += [(k, a, min(n, a + step)) for a in range(0, n, step)]

        def work(task: tuple[int, int, int]) -> dict[str, np.ndarray]:
            k, a, b = task
            cubes = [None if name is None else arrays[k].read(name, a, b) for name in names[k]]
            fill = None if temporal[k] is None else temporal[k].entries(a, b)
            return _extract_cubes(plan, cubes, fill)

        pieces: list[list[dict[str, np.ndarray]]] = [[] for _ in segs]
        for (k, a, b), sums in zip(tasks, threaded_map(work, tasks), strict=True):
            pieces[k].append(sums)
            if progress:
                progress(b - a)
    return [_join(part) for part in pieces]


class BlockExtraction(BlockStage):
    """Extraction fed with blocks of integrations by the outlier pass.

    The pass hands over each block it has judged (:meth:`submit`, its ``sink``), so the
    spectra are extracted on worker threads while it goes on, and the crfints are never
    read back.  The aperture of each detector is placed on the median image of the
    calints (the outlier pass has not run yet when it is needed; a median of hundreds
    of integrations does not see cosmic rays); ``medians`` are those images
    (:func:`median_images`) when already made.

    Use as a context manager; :meth:`result` gives the :class:`Extraction`.
    """

    def __init__(
        self,
        obs: Observation,
        params: Extract1dParams,
        *,
        mode: str = "default",
        medians: dict[str, np.ndarray] | None = None,
    ) -> None:
        self._obs, self._params = obs, params
        calints = {s.path: s.path for s in obs.segments}
        medians = medians or {}
        self._plans = {
            det: _plan_detector(segs, calints, params, mode, det, True, medians.get(det))
            for det, segs in obs.series.items()
        }
        self._detector = {s.path: det for det, segs in obs.series.items() for s in segs}
        super().__init__({s.path: s.nints for s in obs.segments})

    def _job(self, segment, cubes, invalid, fill):
        plan = self._plans[self._detector[segment]]
        arrays = [cubes.get(name) for name in _ARRAYS]

        def job() -> dict[str, np.ndarray]:
            as_in_crfints(arrays, invalid)
            return _extract_cubes(plan, arrays, fill)

        return job

    def result(self) -> Extraction:
        """Wait for every block and build the spectra (segments in ASN order)."""
        out = Extraction(spectra=[], setups={d: p.setup for d, p in self._plans.items()})
        for det, segs in self._obs.series.items():
            for seg in segs:
                sums = _join(self._workers.results(seg.path))
                out.spectra.append(_spectra_set(seg, self._plans[det], sums, self._params, det))
        return out


def _spectra_set(seg, plan: _DetectorPlan, sums, params, det) -> SpectraSet:
    setup, lam = plan.setup, plan.wavelength
    meta = seg.model.meta
    columns, units = spectra_columns(
        sums,
        bunit=meta.bunit_data,
        pixar_sr=meta.photometry.pixelarea_steradians,
        source_type=meta.target.source_type,
        instrument=meta.instrument.name,
        photom_complete=meta.cal_step.photom == "COMPLETE",
        optimal=params.extraction_type == "optimal",
    )
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
        **setup.aperture.extraction_keywords(setup.dispaxis),
    }
    return to_spectra_set(
        columns,
        lam,
        int_num=np.arange(seg.intstart, seg.intend + 1),
        units=units,
        extras=sums,
        segment=seg.segment_number,
        spectral_order=int(meta.wcsinfo.spectral_order or 1),
        detector=det,
        times=times,
        meta=spec_meta,
    )


def write(
    extraction: Extraction, obs: Observation, path: Path, provenance: dict, outliers_done: bool
) -> None:
    """Write ``<product>_x1dints.fits`` with provenance keywords."""
    first = next(iter(obs.series.values()))
    extra = {
        "TSO3VER": provenance["version"],
        "TSO3MODE": provenance["mode"],
        "TSO3PARS": json.dumps(provenance["parameters"], separators=(",", ":")),
    }
    if outliers_done:
        extra["S_OUTLIR"] = "COMPLETE"
    write_x1dints(
        path,
        extraction.spectra,
        obs.int_times(),
        primary=[s.model for s in first],
        asn_pool=obs.association.asn_pool,
        asn_table=obs.association.asn_table,
        extra_meta=extra,
    )
