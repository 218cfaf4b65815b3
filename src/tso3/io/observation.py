"""An observation: ordered, validated segments, grouped by detector.

:func:`load_observation` turns the user's input (ASN, files or folder) into an
:class:`Observation`: every segment read and checked, ordered by INTSTART (EXSEGNUM
breaks ties) whatever the input order, NIRSpec NRS1 and NRS2 kept as two parallel
series, integration ranges checked for gaps, overlaps and duplicates.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..formats import SOSS_SUPERSTRIPES
from .association import (
    Association,
    collect_inputs,
    parse_exposure_name,
    product_name_from_meta,
)
from .int_times import fill_missing_times, missing_time_rows
from .segments import (
    IMAGING_EXP_TYPES,
    SPECTRAL_EXP_TYPES,
    TSO_EXP_TYPES,
    Segment,
    integer_keyword,
    open_wcs,
    read_calints,
)
from .soss_models import PWCPOS_BOUNDS
from .stripes import stripe_layout

log = logging.getLogger(__name__)


@dataclass
class Observation:
    """Everything tso3 knows about the input before touching the big arrays.

    Attributes
    ----------
    association : Association
        Product name, asn_id, pool and table names.
    series : dict of str to list of Segment
        Segments per detector (NIRCam DHS: per stripe, ``STRIPE1`` ...; see
        :attr:`tso3.io.segments.Segment.series`), each list in time order.
    exp_type : str
        The common EXP_TYPE.
    caveats : list of str
        What the data lack that the products can only partly make up for (an incomplete
        exposure, integration times derived, ...): logged as warnings, repeated in the
        run log and the summary.
    derived_times : int
        Integrations whose times tso3 derived (see :mod:`tso3.io.int_times`).
    """

    association: Association
    series: dict[str, list[Segment]]
    exp_type: str
    caveats: list[str] = field(default_factory=list)
    derived_times: int = 0

    @property
    def segments(self) -> list[Segment]:
        """All segments, detector by detector, each series in time order."""
        return [seg for segs in self.series.values() for seg in segs]

    @property
    def files(self) -> list[Path]:
        """The input files, in the order of :attr:`segments` (a NIRCam DHS file holds the
        segments of several series, one per slit)."""
        return list(dict.fromkeys(seg.path for seg in self.segments))

    @property
    def detectors(self) -> list[str]:
        return list(self.series)

    @property
    def first(self) -> Segment:
        return self.segments[0]

    @property
    def is_imaging(self) -> bool:
        """Imaging branch of calwebb_tso3 (NRC_TSIMAGE, or MIR_IMAGE taken as TSO)."""
        return self.exp_type in IMAGING_EXP_TYPES

    @property
    def product_name(self) -> str:
        return self.association.product_name

    @property
    def asn_id(self) -> str:
        return self.association.asn_id

    def nints(self, detector: str | None = None) -> int:
        """Integrations in the series of ``detector`` (the first detector by default)."""
        segs = self.series[detector or self.detectors[0]]
        return sum(s.nints for s in segs)

    def int_times(self, detector: str | None = None) -> np.ndarray:
        """INT_TIMES rows of all integrations of one detector's series, in time order."""
        segs = self.series[detector or self.detectors[0]]
        return np.concatenate([s.int_times for s in segs])

    def stripe_times(self, detector: str | None = None) -> np.ndarray | None:
        """INT_TIMES_STRIPE rows of one detector's series (superstripe data), else None."""
        segs = self.series[detector or self.detectors[0]]
        if any(s.stripe_times is None for s in segs):
            return None
        return np.concatenate([s.stripe_times for s in segs])

    def integration_ranges(self) -> str:
        """The integrations present, per detector: ``"1-300"``, ``"NRS1 1-300, NRS2 1-300"``."""
        ranges = {det: f"{segs[0].intstart}-{segs[-1].intend}" for det, segs in self.series.items()}
        if len(ranges) == 1:
            return next(iter(ranges.values()))
        return ", ".join(f"{det} {r}" for det, r in ranges.items())

    def open_wcs(self) -> None:
        """Parse every segment's ASDF tree for its WCS (InputError for a damaged one)."""
        open_wcs(self.segments)

    def describe(self) -> str:
        """A few human-readable lines about the observation."""
        first = self.first
        meta = first.meta
        lines = [
            f"product     {self.product_name}  (asn_id {self.asn_id})",
            f"mode        {self.exp_type} ({'imaging' if self.is_imaging else 'spectroscopy'}), "
            f"{meta.instrument.name} {meta.instrument.filter or ''} "
            f"{meta.instrument.grating or meta.instrument.pupil or ''}".rstrip(),
            f"target      {meta.target.catalog_name or meta.target.proposer_name or '?'}",
        ]
        for det, segs in self.series.items():
            times = self.int_times(det)
            span_h = (times["int_end_MJD_UTC"][-1] - times["int_start_MJD_UTC"][0]) * 24
            lines.append(
                f"detector    {det}: {len(segs)} segment(s), {self.nints(det)} integrations "
                f"({segs[0].intstart}-{segs[-1].intend}), frame {first.shape[1]}x{first.shape[2]}, "
                f"MJD {times['int_mid_MJD_UTC'][0]:.5f}-{times['int_mid_MJD_UTC'][-1]:.5f} "
                f"({span_h:.2f} h)"
            )
        if first.stripe_times is not None:
            layout = stripe_layout(str(first.keyword("SUBARRAY")))
            lines.append(
                f"stripes     {layout.count} per integration ({layout.subarray}), "
                f"{layout.width} columns each, read one after the other: INT_TIMES_STRIPE "
                "has their times"
            )
        return "\n".join(lines)


def load_observation(inputs: Sequence[str | os.PathLike] | str | os.PathLike) -> Observation:
    """Read and validate the input of a tso3 run.

    Parameters
    ----------
    inputs : path-like or sequence of path-like
        An ASN JSON, calints files, or one folder of calints files.

    Returns
    -------
    Observation
        With the caveats found logged as warnings (and kept in ``caveats``).

    Raises
    ------
    InputError
        For every problem with the files or their consistency (see the module docs).
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    found = collect_inputs(inputs)
    paths = found.members if isinstance(found, Association) else found
    segments = [seg for p in paths for seg in read_calints(p)]  # NIRCam DHS: one per slit
    exp_type = _common_exp_type(segments)
    _check_same_slits(segments)
    for seg in segments:
        _check_time_series(seg)
    if exp_type not in IMAGING_EXP_TYPES | SPECTRAL_EXP_TYPES:
        raise InputError(segments[0].path, f"EXP_TYPE {exp_type} is not a TSO mode tso3 handles")
    caveats = []
    if exp_type == "NIS_SOSS":
        caveats += [c for c in map(check_soss_setup, segments) if c][:1]
    _check_one_exposure(segments)
    series = _order_series(segments)
    caveats += _check_complete(series)
    no_err = list(dict.fromkeys(seg.path.name for seg in segments if seg.err_unusable))
    if no_err:
        caveats.append(
            f"ERR has no value > 0 in {', '.join(no_err)}: uncertainties taken from ERR "
            "(photometry) are 0 or NaN; outliers are judged from the scatter in time "
            "(--mode jwst flags nearly every pixel, as jwst does)"
        )
    derived, notes = _complete_times(series)
    caveats += notes
    for caveat in caveats:
        log.warning("%s", caveat)
    association = found if isinstance(found, Association) else _derive_association(series)
    return Observation(association, series, exp_type, caveats=caveats, derived_times=derived)


def _check_same_slits(segments: list[Segment]) -> None:
    """InputError naming the file when the files' slits (NIRCam DHS stripes) differ."""
    slits: dict = {}
    for seg in segments:  # (a file listed twice is found by _order_series)
        names = slits.setdefault(seg.path, [])
        names += [] if seg.slit in names else [seg.slit]
    said = {path: ", ".join(map(str, names)) for path, names in slits.items()}
    (first, names), *others = slits.items()
    for path, other in others:
        if other != names:
            raise InputError(path, f"slits {said[path]} but {said[first]} in {first.name}: "
                                   "every segment must hold the same slits")  # fmt: skip


def _check_time_series(seg: Segment) -> None:
    """InputError unless the segment is a time series of at least 2 integrations."""
    if not (bool(seg.keyword("TSOVISIT")) or seg.exp_type in TSO_EXP_TYPES):
        problem = f"not a TSO exposure (EXP_TYPE={seg.exp_type}, TSOVISIT not set)"
        raise InputError(seg.path, problem)
    nints = integer_keyword(seg.path, seg.primary_header, "NINTS")
    if nints is not None and nints < 2:
        raise InputError(
            seg.path, f"NINTS={nints}: {nints} integration, a time series needs at least 2"
        )


#: Keywords that are the same in every segment of one exposure (both NIRSpec detectors).
EXPOSURE_KEYWORDS = (
    "PROGRAM", "OBSERVTN", "VISIT", "VISITGRP", "SEQ_ID", "ACT_ID", "EXPOSURE", "NINTS",
    "INSTRUME", "FILTER", "PUPIL", "GRATING", "FXD_SLIT", "SUBARRAY",
)  # fmt: skip
#: EXPSTART may differ by this much between detectors (days); segments of one detector
#: share it to the last digit.
_EXPSTART_TOLERANCE = {True: 1e-9, False: 1 / 1440}


def _check_one_exposure(segments: list[Segment]) -> None:
    """InputError naming both files when two segments come from different exposures."""
    first = segments[0]
    for seg in segments[1:]:
        for key in EXPOSURE_KEYWORDS:
            a, b = first.keyword(key), seg.keyword(key)
            if a is not None and b is not None and str(a).strip() != str(b).strip():
                raise InputError(
                    seg.path, f"{key}={b} but {key}={a} in {first.path.name}: segments of "
                    "different exposures cannot be merged",
                )  # fmt: skip
        a, b = first.keyword("EXPSTART"), seg.keyword("EXPSTART")
        try:
            apart = abs(float(a) - float(b))
        except (TypeError, ValueError):
            continue
        if apart > _EXPSTART_TOLERANCE[seg.detector == first.detector]:
            raise InputError(
                seg.path, f"EXPSTART={b} but EXPSTART={a} in {first.path.name}: segments of "
                "different exposures cannot be merged",
            )  # fmt: skip


def _check_complete(series: dict[str, list[Segment]]) -> list[str]:
    """Caveats for series that do not cover the whole exposure (NINTS, EXSEGTOT)."""
    caveats = []
    for det, segs in series.items():
        first, last = segs[0], segs[-1]
        nints = integer_keyword(first.path, first.primary_header, "NINTS")
        total = integer_keyword(first.path, first.primary_header, "EXSEGTOT")
        lacking = []
        if first.intstart > 1:
            lacking.append(f"integrations 1-{first.intstart - 1}")
        if nints is not None and last.intend < nints:
            lacking.append(f"integrations {last.intend + 1}-{nints}")
        if not lacking and total is not None and len(segs) < total:
            lacking.append(f"{total - len(segs)} of {total} segments")
        if lacking:
            label = f"{det} " if len(series) > 1 else ""
            caveats.append(
                f"incomplete exposure: {label}integrations {first.intstart}-{last.intend} of "
                f"{nints or '?'} present ({len(segs)} of {total or '?'} segments); "
                f"{' and '.join(lacking)} are not in the input, so the products lack them"
            )
    return caveats


def _complete_times(series: dict[str, list[Segment]]) -> tuple[int, list[str]]:
    """Derive the integration times INT_TIMES lacks (:mod:`tso3.io.int_times`).

    Returns the number of integrations whose times were derived, and the caveats.
    """
    derived, caveats = 0, []
    for det, segs in series.items():
        rows = np.concatenate([s.int_times for s in segs])
        missing = missing_time_rows(rows)
        if not missing.any():
            continue
        first = segs[0]
        keys = ("NINTS", "EXPSTART", "EXPEND", "BSTRTIME", "BENDTIME")
        header = {k: first.keyword(k) for k in keys}
        filled, how = fill_missing_times(rows, header)
        counts = [(seg.path.name, int(missing_time_rows(seg.int_times).sum())) for seg in segs]
        where = ", ".join(f"{name} ({n})" for name, n in counts if n)
        if not how:
            raise InputError(
                first.path, f"{int(missing.sum())} integrations have no time in INT_TIMES "
                f"({where}) and EXPSTART/EXPEND cannot give them",
            )  # fmt: skip
        start = 0
        for seg in segs:
            seg.int_times = filled[start : start + seg.nints]
            start += seg.nints
        source = {
            "cadence": "the cadence of the other integrations",
            "header": "EXPSTART and EXPEND spread over NINTS",
        }[how]
        label = f"{det}: " if len(series) > 1 else ""
        caveats.append(
            f"{label}{int(missing.sum())} of {len(rows)} integrations have no time in INT_TIMES "
            f"(missing or NaN rows: {where}); their times are derived from {source}"
        )
        derived += int(missing.sum())
    return derived, caveats


#: NIS_SOSS subarrays tso3 extracts (the GR700XD trace models are defined for them).
SOSS_SUBARRAYS = ("SUBSTRIP256", "SUBSTRIP96", "FULL", *SOSS_SUPERSTRIPES)


def check_soss_setup(seg: Segment) -> str:
    """Check a NIS_SOSS segment can be extracted: CLEAR + GR700XD, PWCPOS, subarray.

    Returns
    -------
    str
        A caveat when PUPIL is absent (taken as GR700XD, the only SOSS pupil, as jwst
        does), else ``""``.

    Raises
    ------
    InputError
        Another filter (F277W: the orders' models are for CLEAR), another pupil, no
        or an implausible PWCPOS, or a subarray without a trace model.
    """
    filt = str(seg.keyword("FILTER", "")).upper()
    if filt != "CLEAR":
        raise InputError(
            seg.path, f"NIS_SOSS with FILTER={filt or 'none'}: only CLEAR has trace models"
        )
    pupil = str(seg.keyword("PUPIL", "")).upper()
    caveat = ""
    if not pupil:
        caveat = f"{seg.path.name}: no PUPIL keyword; NIS_SOSS is taken as PUPIL=GR700XD"
    elif pupil != "GR700XD":
        raise InputError(seg.path, f"NIS_SOSS with PUPIL={pupil}, not GR700XD")
    pwcpos = seg.keyword("PWCPOS")
    if pwcpos is None:
        raise InputError(seg.path, "NIS_SOSS without PWCPOS (pupil wheel position) keyword")
    lo, hi = PWCPOS_BOUNDS
    try:
        ok = lo <= float(pwcpos) <= hi
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputError(seg.path, f"PWCPOS={pwcpos!r} is outside {lo}-{hi} deg")
    subarray = str(seg.keyword("SUBARRAY", "")).upper()
    if subarray not in SOSS_SUBARRAYS:
        raise InputError(
            seg.path,
            f"NIS_SOSS SUBARRAY={subarray or 'none'}: not one of " + ", ".join(SOSS_SUBARRAYS),
        )
    return caveat


def _common_exp_type(segments: list[Segment]) -> str:
    exp_type = segments[0].exp_type
    for seg in segments[1:]:
        if seg.exp_type != exp_type:
            raise InputError(
                seg.path,
                f"EXP_TYPE {seg.exp_type} differs from {exp_type} of {segments[0].path.name}",
            )
    return exp_type


def _order_series(segments: list[Segment]) -> dict[str, list[Segment]]:
    """Group by detector, sort by (INTSTART, EXSEGNUM), check shapes and continuity."""
    series: dict[str, list[Segment]] = {}
    for seg in segments:
        series.setdefault(seg.series, []).append(seg)
    for det in series:
        segs = sorted(series[det], key=lambda s: (s.intstart, s.segment_number))
        frame = segs[0].shape[1:]
        for seg in segs[1:]:
            if seg.shape[1:] != frame:
                raise InputError(
                    seg.path,
                    f"frame shape {seg.shape[1]}x{seg.shape[2]} differs from "
                    f"{frame[0]}x{frame[1]} of {segs[0].path.name}",
                )
        for prev, seg in zip(segs, segs[1:], strict=False):
            if seg.intstart == prev.intstart:
                raise InputError(
                    seg.path,
                    f"duplicates integrations {seg.intstart}-{seg.intend} of {prev.path.name}",
                )
            if seg.intstart <= prev.intend:
                raise InputError(
                    seg.path,
                    f"integrations {seg.intstart}-{seg.intend} overlap "
                    f"{prev.intstart}-{prev.intend} of {prev.path.name}",
                )
            if seg.intstart > prev.intend + 1:
                raise InputError(
                    seg.path,
                    f"integrations {prev.intend + 1}-{seg.intstart - 1} are missing between "
                    f"{prev.path.name} and this segment",
                )
        total = sum(s.nints for s in segs)
        if total < 2:
            raise InputError(segs[0].path, f"only {total} integration: a time series needs >= 2")
        if segs[0].intstart > 1:
            log.info("%s series starts at integration %d", det or "the", segs[0].intstart)
        series[det] = segs
    if len(series) > 1:
        ranges = {det: (s[0].intstart, s[-1].intend) for det, s in series.items()}
        if len(set(ranges.values())) > 1:
            log.warning("detector series cover different integrations: %s", ranges)
    return dict(sorted(series.items()))


def _derive_association(series: dict[str, list[Segment]]) -> Association:
    """Build the association the archive would have made for these segments."""
    first = next(iter(series.values()))[0]
    key = first.keyword
    fields = parse_exposure_name(first.path) or {}
    program = str(key("PROGRAM") or fields.get("program") or "00000").zfill(5)
    observation = str(key("OBSERVTN") or fields.get("observation") or "001").zfill(3)
    slit = None
    if first.exp_type == "NRS_BRIGHTOBJ":
        slit = first.slit_name or "S1600A1"
    name = product_name_from_meta(
        program=program,
        observation=observation,
        instrument=str(key("INSTRUME") or "unknown").lower(),
        filter=key("FILTER"),
        pupil=key("PUPIL"),
        grating=key("GRATING"),
        slit=slit,
        subarray=key("SUBARRAY"),
    )
    members = list(dict.fromkeys(s.path for segs in series.values() for s in segs))
    return Association(members=members, product_name=name, asn_id=f"o{observation}")
