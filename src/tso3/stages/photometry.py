"""Photometry stage: every block of integrations through centroiding and aperture
photometry; one ``<product>_phot.ecsv`` for the whole observation.

``prepare`` (a sample of integrations, arrays only) -> ``plan`` (calibration, aperture)
-> the stage consumes blocks (see :mod:`tso3.stages.blocks`) -> ``finish`` -> ``write``.

Default mode places the aperture once for the observation: at the median of the pass-2
centroids of up to 1000 integrations of the calints spread evenly over all segments
(every integration when there are fewer; the same place as the reference for a single
segment).  Each block is then centroided and measured there, its flagged pixels
repaired from the outlier model.  With ``moving_centroid`` the aperture follows each
integration's own centroid.

``--mode jwst`` switches to the reference's sequence: each segment is placed and
measured on its own (pass 1 on every integration, whole-frame centroid background,
flagged pixels dropped), so the stage gathers a segment's blocks and measures the
segment when its last block has come.

Both modes run the same two steps, :func:`tso3.steps.tso_photometry.place_aperture` and
:func:`tso3.steps.tso_photometry.measure` (their composition is the reference's
``tso_photometry`` on one segment); the mode only decides what is placed on and measured
at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import bottleneck as bn
import numpy as np
from astropy.table import QTable
from scipy import ndimage

from ..config import TsoPhotometryParams
from ..errors import InputError
from ..io.gain import load_gain
from ..io.observation import Observation
from ..io.phot_table import build_phot_table, write_phot_table
from ..io.sampling import sample_integrations
from ..io.segments import Segment
from ..steps.photometry import (
    apertures_text,
    calibration_factor,
    is_whole_frame,
)
from ..steps.tso_photometry import (
    Placement,
    measure,
    odd_box_width,
    place_aperture,
    placed_centroids,
)
from .blocks import Block, MeasuringStage

log = logging.getLogger(__name__)

#: Bytes of SCI per streamed block (ERR, the model and temporaries add about 4x).
BLOCK_BYTES = 96 * 1024**2
#: Integrations used to place a fixed aperture.
CENTROID_SAMPLE = 1000


@dataclass
class Calibration:
    """How SCI/ERR convert to the photometry unit."""

    factor: float | np.ndarray
    unit: str
    note: str = ""


def calibration(seg: Segment, gain: float | str | None) -> Calibration:
    """The unit conversion of the reference, with the gain the user gave (if any)."""
    meta = seg.meta
    bunit = (meta.bunit_data or "").strip()
    if bunit == "DN/s" and gain is None:
        note = "BUNIT is DN/s and no gain was given: photometry is in DN/s, not electrons"
        log.warning("%s: %s (set tso_photometry.gain)", seg.path.name, note)
        return Calibration(1.0, "DN/s", note)
    if bunit == "MJy/sr" and gain is not None:
        log.warning("%s: BUNIT is MJy/sr, so tso_photometry.gain (for DN/s data) is ignored",
                    seg.path.name)  # fmt: skip
    gain_value: float | np.ndarray | None = None
    if isinstance(gain, str):
        sub = meta.subarray
        gain_value = load_gain(
            gain,
            substrt=(int(sub.xstart or 1), int(sub.ystart or 1)),
            subsize=(int(sub.xsize or seg.shape[2]), int(sub.ysize or seg.shape[1])),
        )
    elif gain is not None:
        gain_value = float(gain)
    try:
        factor, unit = calibration_factor(
            bunit, meta.photometry.pixelarea_steradians, gain_value, meta.exposure.integration_time
        )
    except ValueError as exc:
        raise InputError(seg.path, str(exc)) from None
    return Calibration(factor, unit)


def _planned_position(seg: Segment) -> tuple[float, float]:
    wcsinfo = seg.meta.wcsinfo
    x, y = wcsinfo.siaf_xref_sci, wcsinfo.siaf_yref_sci
    if x is None or y is None:
        raise InputError(seg.path, "XREF_SCI/YREF_SCI missing: no planned source position")
    return float(x) - 1.0, float(y) - 1.0


def _on_frame(x: float, y: float, shape: tuple[int, ...]) -> bool:
    """Whether the 0-based position (x, y) lies on a frame of ``shape`` (..., ny, nx)."""
    return -0.5 <= x <= shape[-1] - 0.5 and -0.5 <= y <= shape[-2] - 0.5


def _source_off_the_frame(seg: Segment, x: float, y: float, sci: np.ndarray | None):
    """Where to look for the source when XREF_SCI/YREF_SCI lie off the frame.

    Default mode: the brightest 3x3 spot of the sample's median image, with a warning.
    jwst mode (which would measure nothing there): an input error.
    """
    where = f"XREF_SCI={x + 1:g}, YREF_SCI={y + 1:g} is off the {seg.shape[2]}x{seg.shape[1]} frame"
    if sci is None:
        raise InputError(seg.path, f"{where}: no source to measure (without --mode jwst, "
                                   "tso3 looks for the source)")  # fmt: skip
    median = bn.nanmedian(sci, axis=0)
    finite = np.isfinite(median)
    smooth = ndimage.uniform_filter(np.where(finite, median, 0.0), size=3)
    smooth[~finite] = -np.inf
    iy, ix = np.unravel_index(int(np.argmax(smooth)), smooth.shape)
    log.warning("%s: %s; the source is taken at the brightest spot of the median image, "
                "x=%d, y=%d (0-based)", seg.path.name, where, ix, iy)  # fmt: skip
    return float(ix), float(iy)


def _sample(obs: Observation, mode: str) -> tuple[np.ndarray, np.ndarray] | None:
    """SCI and DQ validity of up to CENTROID_SAMPLE integrations of the calints spread
    over the series (None in jwst mode, which centroids every integration of each
    segment)."""
    if mode == "jwst":
        return None
    return sample_integrations(obs.segments, CENTROID_SAMPLE, with_valid=True)


@dataclass
class _Plan:
    """What is fixed before the first integration is measured."""

    params: TsoPhotometryParams
    cal: Calibration
    planned: tuple[float, float]  # the pointing's source position (0-based)
    placement: Placement | None  # default mode: placed on the sample; jwst: per segment
    whole: bool
    odd: dict[str, int]
    per_segment: bool  # jwst mode: each segment placed and measured on its own


def _plan(obs: Observation, params: TsoPhotometryParams, mode: str, sample) -> _Plan:
    """Calibration and, in default mode, the aperture placed on ``sample``."""
    seg0 = obs.first
    meta = seg0.meta
    cal = calibration(seg0, params.gain)
    x0, y0 = _planned_position(seg0)
    whole = is_whole_frame(meta.subarray.name, meta.instrument.pupil)
    odd = {
        "search_box_width": odd_box_width("search_box_width", params.search_box_width, seg0.shape),
        "fit_box_width": odd_box_width("fit_box_width", params.fit_box_width, seg0.shape),
    }
    per_segment = mode == "jwst"
    if sample is None and not per_segment:
        sample = _sample(obs, mode)
    if not _on_frame(x0, y0, seg0.shape):
        x0, y0 = _source_off_the_frame(seg0, x0, y0, None if per_segment else sample[0])
    if sample is not None and not np.any(sample[1]):
        raise InputError(seg0.path, "no pixel of the sampled integrations is usable: every "
                                    "one is NaN or DO_NOT_USE (DQ)")  # fmt: skip
    placement = None
    if not per_segment:
        sci, valid = sample
        placement = _place(_calibrate(sci, cal), valid, (x0, y0), params, odd, mode)
        if placement.box is not None:
            log.info("aperture at x=%.3f, y=%.3f (0-based)", *placement.aperture)
    return _Plan(params, cal, (x0, y0), placement, whole, odd, per_segment)


def _table(obs: Observation, parts: list[dict], plan: _Plan) -> QTable:
    """The phot.ecsv table from the per-block columns (in time order)."""
    seg0 = obs.first
    meta = seg0.meta
    columns = {
        k: np.concatenate([p[k] for p in parts]) for k in parts[0] if all(k in p for p in parts)
    }
    times = obs.int_times()
    ra, dec = _sky(seg0, columns["aperture_x"], columns["aperture_y"])
    params = plan.params
    table = build_phot_table(
        columns,
        unit=plan.cal.unit,
        meta={
            "instrument": meta.instrument.name,
            "detector": meta.instrument.detector,
            "channel": meta.instrument.channel,
            "subarray": meta.subarray.name,
            "filter": meta.instrument.filter,
            "pupil": meta.instrument.pupil,
            "target_name": meta.target.catalog_name,
        },
        mjd=times["int_mid_MJD_UTC"],
        bjd_tdb=times["int_mid_BJD_TDB"],
        ra=ra,
        dec=dec,
        apertures=apertures_text(
            params.radius[0], params.radius_inner, params.radius_outer, whole_frame=plan.whole
        ),
        whole_frame=plan.whole,
    )
    if plan.cal.note:
        table.meta["unit_note"] = plan.cal.note
    return table


def _place(sci, valid, planned, params, odd, mode) -> Placement:
    """Where to measure, from these calibrated integrations (the one placing step)."""
    return place_aperture(
        sci, valid, *planned, centroid_source=params.centroid_source,
        search_box_width=odd["search_box_width"], fit_box_width=odd["fit_box_width"],
        radius_inner=params.radius_inner, mode=mode,
    )  # fmt: skip


def _measure(plan: _Plan, placement, sci, err, valid, model, mode, centroids=None) -> dict:
    """Centroids and photometry of calibrated integrations (the one measuring step)."""
    params = plan.params
    return measure(
        sci, err, valid, placement, radius=params.radius, radius_inner=params.radius_inner,
        radius_outer=params.radius_outer, search_box_width=plan.odd["search_box_width"],
        fit_box_width=plan.odd["fit_box_width"], moving_centroid=params.moving_centroid,
        background_method=params.background_method, whole_frame=plan.whole, model=model,
        centroids=centroids, mode=mode,
    )  # fmt: skip


def _calibrate(block: np.ndarray, cal: Calibration) -> np.ndarray:
    block *= np.float32(cal.factor) if np.ndim(cal.factor) == 0 else cal.factor
    return block


def block_cubes(block: Block, cal: Calibration):
    """SCI, ERR and the outlier model's values (None without any) of a block, in the
    photometry unit (default mode: the model fills the flagged pixels)."""
    cubes = block.settle()
    sci, err = cubes["SCI"], cubes["ERR"]
    model = None
    if block.fill[0].size:
        model = np.full(sci.shape, np.nan, np.float32)
        model.reshape(-1)[block.fill[0]] = block.fill[1]
    for cube in (sci, err, model):
        if cube is not None:
            _calibrate(cube, cal)
    return sci, err, model


def measure_block(plan: _Plan, sci, err, model, centroids=None) -> dict[str, np.ndarray]:
    """Default mode: a block's columns at the plan's aperture (``centroids``: the block's
    pass-2 centroids when already measured, see :func:`block_centroids`)."""
    return _measure(plan, plan.placement, sci, err, None, model, "default", centroids)


def block_centroids(plan: _Plan, sci) -> dict[str, np.ndarray]:
    """The pass-2 centroids :func:`measure_block` measures on a block (empty when the
    plan centroids nothing): plans that share them need them measured once."""
    return placed_centroids(
        sci, None, plan.placement, fit_box_width=plan.odd["fit_box_width"],
        radius_inner=plan.params.radius_inner, search_box_width=plan.odd["search_box_width"],
    )  # fmt: skip


def segment_cubes(parts: list[Block], cal: Calibration):
    """jwst mode: SCI, ERR (in the photometry unit) and the validity of a whole segment
    from its blocks (which are let go)."""
    sci = np.concatenate([b.settle()["SCI"] for b in parts])
    err = np.concatenate([b.cubes["ERR"] for b in parts])
    valid = np.ones(sci.shape, bool)
    offset = 0
    for b in parts:  # DO_NOT_USE in the crfints, as the reference reads them
        valid.reshape(-1)[b.invalid + offset] = False
        offset += b.cubes["SCI"].size
    parts.clear()
    return _calibrate(sci, cal), _calibrate(err, cal), valid


def measure_segment(plan: _Plan, sci, err, valid) -> dict[str, np.ndarray]:
    """jwst mode: the reference's sequence on a whole segment (placed, then measured)."""
    placement = _place(sci, valid, plan.planned, plan.params, plan.odd, "jwst")
    centroids = placement.centroids or None  # placed on exactly these integrations
    return _measure(plan, placement, sci, err, valid, None, "jwst", centroids)


class PhotometryStage(MeasuringStage):
    """Photometry of every block, at the aperture of the plan.

    Made by :meth:`plan`; consumes :class:`~tso3.stages.blocks.Block` s (from the
    outlier pass or the files) and finishes into the ``phot.ecsv`` table.
    """

    STEP = "tso_photometry"  # the jwst step it stands for (parameters, skip name, timing)
    arrays = ("SCI", "ERR")

    def __init__(self, obs: Observation, plan: _Plan) -> None:
        super().__init__(obs)
        self._plan = plan
        self._gathered: dict[tuple, list[Block]] = {s.key: [] for s in obs.segments}
        self._nints = {s.key: s.nints for s in obs.segments}

    def consume(self, block: Block) -> None:
        if not self._plan.per_segment:
            super().consume(block)
            return
        parts = self._gathered[block.segment]
        parts.append(block)
        if sum(b.nints for b in parts) == self._nints[block.segment]:
            self._gathered[block.segment] = []
            job = self._segment_job(sorted(parts, key=lambda b: b.start))
            self._workers.submit(block.segment, 0, self._nints[block.segment], job)

    def _job(self, block: Block) -> Callable[[], dict[str, np.ndarray]]:
        plan = self._plan

        def job() -> dict[str, np.ndarray]:
            sci, err, model = block_cubes(block, plan.cal)
            return measure_block(plan, sci, err, model)

        return job

    def _segment_job(self, parts: list[Block]) -> Callable[[], dict[str, np.ndarray]]:
        """The reference's sequence on a whole segment (jwst mode)."""
        plan = self._plan

        def job() -> dict[str, np.ndarray]:
            return measure_segment(plan, *segment_cubes(parts, plan.cal))

        return job

    def finish(self) -> QTable:
        """Wait for every block and build the table (all segments, in time order)."""
        parts = [p for seg in self._obs.segments for p in self._workers.results(seg.key)]
        return _table(self._obs, parts, self._plan)

    @classmethod
    def prepare(cls, obs: Observation, mode: str = "default"):
        """What :meth:`plan` needs from the arrays: SCI and DQ validity of a sample
        (:func:`_sample`).  Reads the arrays only, so a run can do it while it starts
        the crfints copies."""
        return _sample(obs, mode)

    @classmethod
    def wcs_segments(cls, obs: Observation) -> list[Segment]:
        """The first: the table gives the aperture's sky position from its WCS alone, so
        the other segments' trees are never parsed."""
        return [obs.first]

    @classmethod
    def plan(
        cls,
        obs: Observation,
        params: TsoPhotometryParams,
        *,
        mode: str = "default",
        prepared=None,
    ) -> PhotometryStage:
        """Calibration and aperture of an imaging observation; the stage that measures
        blocks.

        Parameters
        ----------
        obs : Observation
            The validated observation (imaging, metadata models open).
        params : TsoPhotometryParams
            Step parameters.
        mode : {"default", "jwst"}
            ``jwst``: each segment on its own, as the reference (see the module notes).
        prepared : tuple, optional
            :meth:`prepare` of ``obs`` when already read (else it is read here).

        Returns
        -------
        PhotometryStage
        """
        return cls(obs, _plan(obs, params, mode, prepared))

    def write(self, table: QTable, path: Path, provenance: dict | None = None) -> None:
        """Write the ``phot.ecsv`` table, with the run's provenance in its meta."""
        if provenance:
            table.meta["tso3"] = provenance
        write_phot_table(table, path)


def _sky(seg: Segment, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ICRS position of the aperture centre from the segment's WCS (NaN without one)."""
    wcs = seg.wcs
    if wcs is None:
        log.warning("%s: no WCS; aperture_ra_icrs/dec_icrs are NaN", seg.path.name)
        nan = np.full(len(x), np.nan)
        return nan, nan.copy()
    ux, inv = np.unique(np.stack([x, y]), axis=1, return_inverse=True)
    ra, dec = wcs(ux[0], ux[1])[:2]
    inv = np.ravel(inv)
    return np.asarray(ra, dtype=float)[inv], np.asarray(dec, dtype=float)[inv]
