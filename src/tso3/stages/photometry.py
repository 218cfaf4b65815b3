"""Photometry stage: stream every segment's integrations through the photometry step and
assemble one ``<product>_phot.ecsv`` for the whole observation.

Default mode places the aperture once for the observation: at the median of the pass-2
centroids of up to 1000 integrations spread evenly over all segments (every integration
when there are fewer; the same place as the reference for a single segment), then
streams integration blocks through centroiding and photometry in one read.  With
``moving_centroid`` the aperture follows each integration's own centroid.
``--mode jwst`` runs the reference sequence on each segment separately, as jwst does.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.table import QTable

from ..config import TsoPhotometryParams
from ..dqflags import DO_NOT_USE
from ..errors import InputError
from ..io.gain import load_gain
from ..io.observation import Observation
from ..io.phot_table import build_phot_table, write_phot_table
from ..io.sampling import sample_integrations
from ..io.segments import Segment
from ..steps.photometry import (
    aperture_photometry,
    apertures_text,
    calibration_factor,
    is_whole_frame,
    whole_frame_photometry,
)
from ..steps.tso_photometry import (
    aperture_centre,
    locate_source,
    measure_centroids,
    odd_box_width,
    tso_photometry,
)
from .blocks import BlockStage, as_in_crfints, threaded_map

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
    meta = seg.model.meta
    bunit = (meta.bunit_data or "").strip()
    if bunit == "DN/s" and gain is None:
        note = "BUNIT is DN/s and no gain was given: photometry is in DN/s, not electrons"
        log.warning("%s: %s (set tso_photometry.gain)", seg.path.name, note)
        return Calibration(1.0, "DN/s", note)
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
    wcsinfo = seg.model.meta.wcsinfo
    x, y = wcsinfo.siaf_xref_sci, wcsinfo.siaf_yref_sci
    if x is None or y is None:
        raise InputError(seg.path, "XREF_SCI/YREF_SCI missing: no planned source position")
    return float(x) - 1.0, float(y) - 1.0


def _read(arrays, name: str, sl: slice, cal: Calibration) -> np.ndarray:
    return _calibrate(arrays.read(name, sl.start, sl.stop), cal)


def _valid(arrays, sl: slice, use_dq: bool) -> np.ndarray | None:
    # After the outlier pass every DO_NOT_USE pixel is NaN already: skip reading DQ.
    return (arrays.read_dq_range(sl.start, sl.stop) & DO_NOT_USE) == 0 if use_dq else None


def _blocks(seg: Segment) -> list[slice]:
    n, ny, nx = seg.shape
    step = max(1, BLOCK_BYTES // (ny * nx * 4))
    return [slice(a, min(n, a + step)) for a in range(0, n, step)]


def sample_frames(
    obs: Observation, sources: dict[Path, Path] | None = None, use_dq: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """SCI (and validity from DQ) of up to CENTROID_SAMPLE integrations of the series.

    Needs the arrays only, not the metadata models (``sources`` default: the calints).
    """
    sources = sources or {s.path: s.path for s in obs.segments}
    segs = [seg.stored_at(sources[seg.path]) for seg in obs.segments]
    return sample_integrations(segs, CENTROID_SAMPLE, with_valid=use_dq)


def measure(
    obs: Observation,
    sources: dict[Path, Path],
    params: TsoPhotometryParams,
    *,
    mode: str = "default",
    repair=None,
    provenance: dict | None = None,
    progress=None,
) -> QTable:
    """Photometry of every integration of an imaging observation.

    Parameters
    ----------
    obs : Observation
        The validated observation (imaging).
    sources : dict
        Segment path -> file to measure (its crfints, or the calints when the outlier
        step was skipped).
    params : TsoPhotometryParams
        Step parameters.
    mode : {"default", "jwst"}
    repair : dict of Path to RepairModel, optional
        The outlier step's model; invalid aperture pixels are repaired from it (default
        mode).
    provenance : dict, optional
        tso3 version, mode and parameters, recorded in the table meta.
    progress : callable, optional
        Called with the number of integrations done.

    Returns
    -------
    astropy.table.QTable
        The ``phot.ecsv`` table, all segments, in time order.
    """
    # jwst mode centroids each segment itself (_per_segment_reference)
    plan = _plan(obs, sources, params, use_dq=repair is None, place=mode != "jwst")
    if mode == "jwst":
        parts = _per_segment_reference(obs, sources, plan, progress)
    else:
        parts = _streamed(obs, sources, plan, repair, progress)
    return _table(obs, parts, plan, provenance)


@dataclass
class _Plan:
    """What is fixed before the first integration is measured."""

    params: TsoPhotometryParams
    cal: Calibration
    planned: tuple[float, float]  # the pointing's source position (0-based)
    aperture: tuple[float | None, float | None]  # fixed aperture centre
    box: tuple[float, float] | None  # centroid search centre (None: no centroiding)
    whole: bool
    odd: dict[str, int]
    use_dq: bool  # validity from DQ (no outlier pass) rather than NaN


def _plan(
    obs: Observation,
    sources,
    params: TsoPhotometryParams,
    use_dq: bool,
    sample=None,
    place: bool = True,
) -> _Plan:
    """Calibration, and (``place``) the aperture placed on a sample of integrations.

    ``sample``: :func:`sample_frames` of ``sources``, when already read.
    """
    seg0 = obs.first
    meta = seg0.model.meta
    cal = calibration(seg0, params.gain)
    x0, y0 = _planned_position(seg0)
    whole = is_whole_frame(meta.subarray.name, meta.instrument.pupil)
    odd = {
        "search_box_width": odd_box_width("search_box_width", params.search_box_width),
        "fit_box_width": odd_box_width("fit_box_width", params.fit_box_width),
    }
    xa: float | None = x0
    ya: float | None = y0
    box = None
    if params.centroid_source and place:
        sci, valid = sample if sample is not None else sample_frames(obs, sources, use_dq)
        sci = _calibrate(sci, cal)
        cx1, cy1 = locate_source(
            sci, valid, x0, y0, search_box_width=odd["search_box_width"],
            radius_inner=params.radius_inner,
        )  # fmt: skip
        if np.all(np.isnan(cx1)) or np.all(np.isnan(cy1)):
            log.warning("centroiding failed in every integration; using the planned position")
        else:
            box = float(np.nanmedian(cx1)), float(np.nanmedian(cy1))
            sample = _centroids(sci, valid, box, params, odd)
            xa, ya = aperture_centre(sample["centroid_x"], sample["centroid_y"])
            log.info("aperture at x=%.3f, y=%.3f (0-based)", xa, ya)
    return _Plan(params, cal, (x0, y0), (xa, ya), box, whole, odd, use_dq)


def _table(obs: Observation, parts: list[dict], plan: _Plan, provenance) -> QTable:
    """The phot.ecsv table from the per-block columns (in time order)."""
    seg0 = obs.first
    meta = seg0.model.meta
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
    if provenance:
        table.meta["tso3"] = provenance
    return table


def _measure_block(plan: _Plan, sci, err, valid, model) -> dict[str, np.ndarray]:
    """Centroids and photometry of one block of calibrated integrations."""
    params = plan.params
    cols = _centroids(sci, valid, plan.box, params, plan.odd) if plan.box else {}
    bx, by = plan.aperture
    if params.moving_centroid and cols:
        bx, by = cols["centroid_x"], cols["centroid_y"]
    phot = _photometry(sci, err, valid, bx, by, params, plan.whole, model)
    phot.update(cols)
    return phot


def _calibrate(block: np.ndarray, cal: Calibration) -> np.ndarray:
    block *= np.float32(cal.factor) if np.ndim(cal.factor) == 0 else cal.factor
    return block


def _streamed(obs, sources, plan: _Plan, repair, progress):
    """Blocks read from the files, measured on a thread per core."""

    def work(task) -> dict[str, np.ndarray]:
        seg, arr, sl = task
        sci = _read(arr, "SCI", sl, plan.cal)
        err = _read(arr, "ERR", sl, plan.cal)
        valid = _valid(arr, sl, plan.use_dq)
        model = None
        if repair is not None and seg.path in repair:
            model = _calibrate(repair[seg.path].block(sl.start, sl.stop), plan.cal)
        return _measure_block(plan, sci, err, valid, model)

    parts = []
    with contextlib.ExitStack() as stack:
        tasks = []
        for seg in obs.segments:
            arr = stack.enter_context(seg.stored_at(sources[seg.path]).arrays("readonly"))
            tasks += [(seg, arr, sl) for sl in _blocks(seg)]
            for name in ("SCI", "ERR"):  # opens the lazy HDUs here, not in the threads
                arr.read(name, 0, 0)
            if plan.use_dq:
                arr.read_dq_range(0, 0)
        for (_, _, sl), phot in zip(tasks, threaded_map(work, tasks), strict=True):
            parts.append(phot)
            if progress:
                progress(sl.stop - sl.start)
    return parts


class BlockPhotometry(BlockStage):
    """Photometry fed with blocks of integrations by the outlier pass (default mode).

    Like :class:`tso3.stages.extraction.BlockExtraction`: the aperture is placed on a
    sample of the calints (``sample``: their :func:`sample_frames`, when already
    read), then every block the pass has judged is measured on worker
    threads while the pass goes on; the crfints are never read back.

    Use as a context manager; :meth:`result` gives the ``phot.ecsv`` table.
    """

    def __init__(
        self,
        obs: Observation,
        params: TsoPhotometryParams,
        provenance: dict | None = None,
        sample=None,
    ) -> None:
        self._obs, self._provenance = obs, provenance
        calints = {s.path: s.path for s in obs.segments}
        self._plan = _plan(obs, calints, params, use_dq=True, sample=sample)
        self._plan.use_dq = False  # the blocks come with their invalid pixels NaN
        super().__init__({s.path: s.nints for s in obs.segments})

    def _job(self, segment, cubes, invalid, fill):
        plan = self._plan
        sci, err = cubes["SCI"], cubes["ERR"]

        def job() -> dict[str, np.ndarray]:
            as_in_crfints((sci, err), invalid)
            model = np.full(sci.shape, np.nan, np.float32)
            model.reshape(-1)[fill[0]] = fill[1]
            for block in (sci, err, model):
                _calibrate(block, plan.cal)
            return _measure_block(plan, sci, err, None, model)

        return job

    def result(self) -> QTable:
        """Wait for every block and build the table."""
        parts = [p for seg in self._obs.segments for p in self._workers.results(seg.path)]
        return _table(self._obs, parts, self._plan, self._provenance)


def _centroids(sci, valid, box, params, odd) -> dict[str, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return measure_centroids(
            sci, valid, box[0], box[1], fit_box_width=odd["fit_box_width"],
            radius_inner=params.radius_inner, bkg_box=odd["search_box_width"],
        )  # fmt: skip


def _photometry(sci, err, valid, x, y, params, whole, model) -> dict[str, np.ndarray]:
    if whole:
        cols = whole_frame_photometry(sci, err, valid, model=model)
        n = sci.shape[0]
        cols["aperture_x"] = np.broadcast_to(np.asarray(x, dtype=float), (n,)).copy()
        cols["aperture_y"] = np.broadcast_to(np.asarray(y, dtype=float), (n,)).copy()
        return cols
    return aperture_photometry(
        sci, err, valid, x, y, params.radius, params.radius_inner, params.radius_outer,
        model=model, background_method=params.background_method,
    )  # fmt: skip


def _per_segment_reference(obs, sources, plan: _Plan, progress):
    params, cal, (x0, y0), odd = plan.params, plan.cal, plan.planned, plan.odd
    parts = []
    for seg in obs.segments:
        with seg.stored_at(sources[seg.path]).arrays("readonly") as arr:
            everything = slice(0, seg.nints)
            sci = _read(arr, "SCI", everything, cal)
            err = _read(arr, "ERR", everything, cal)
            valid = _valid(arr, everything, True)
        parts.append(
            tso_photometry(
                sci,
                err,
                valid,
                x0,
                y0,
                radius=params.radius,
                radius_inner=params.radius_inner,
                radius_outer=params.radius_outer,
                centroid_source=params.centroid_source,
                moving_centroid=params.moving_centroid,
                search_box_width=odd["search_box_width"],
                fit_box_width=odd["fit_box_width"],
                background_method=params.background_method,
                whole_frame=plan.whole,
                mode="jwst",
            )  # fmt: skip
        )
        if progress:
            progress(seg.nints)
    return parts


def _sky(seg: Segment, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ICRS position of the aperture centre from the segment's WCS (NaN without one)."""
    wcs = getattr(seg.model.meta, "wcs", None)
    if wcs is None:
        log.warning("%s: no WCS; aperture_ra_icrs/dec_icrs are NaN", seg.path.name)
        nan = np.full(len(x), np.nan)
        return nan, nan.copy()
    ux, inv = np.unique(np.stack([x, y]), axis=1, return_inverse=True)
    ra, dec = wcs(ux[0], ux[1])[:2]
    inv = np.ravel(inv)
    return np.asarray(ra, dtype=float)[inv], np.asarray(dec, dtype=float)[inv]


def write(table: QTable, path: Path) -> None:
    """Write the ``phot.ecsv`` table."""
    write_phot_table(table, path)
