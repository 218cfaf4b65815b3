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
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .association import (
    Association,
    collect_inputs,
    parse_exposure_name,
    product_name_from_meta,
)
from .segments import (
    IMAGING_EXP_TYPES,
    SPECTRAL_EXP_TYPES,
    TSO_EXP_TYPES,
    Segment,
    read_segment,
)
from .soss_models import PWCPOS_BOUNDS

log = logging.getLogger(__name__)


@dataclass
class Observation:
    """Everything tso3 knows about the input before touching the big arrays.

    Attributes
    ----------
    association : Association
        Product name, asn_id, pool and table names.
    series : dict of str to list of Segment
        Segments per detector, each list in time order.
    exp_type : str
        The common EXP_TYPE.
    """

    association: Association
    series: dict[str, list[Segment]]
    exp_type: str

    @property
    def segments(self) -> list[Segment]:
        """All segments, detector by detector, each series in time order."""
        return [seg for segs in self.series.values() for seg in segs]

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

    def open_wcs(self) -> None:
        """Parse every segment's ASDF tree for its WCS (InputError for a damaged one)."""
        for seg in self.segments:
            seg.open_wcs()

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
        return "\n".join(lines)


def is_tso(segment: Segment) -> bool:
    """The reference's ``is_tso``: TSOVISIT or a TSO EXP_TYPE, and NINTS >= 2."""
    tso = bool(segment.keyword("TSOVISIT")) or segment.exp_type in TSO_EXP_TYPES
    nints = segment.keyword("NINTS")
    return tso and not (nints is not None and int(nints) < 2)


def load_observation(inputs: Sequence[str | os.PathLike] | str | os.PathLike) -> Observation:
    """Read and validate the input of a tso3 run.

    Parameters
    ----------
    inputs : path-like or sequence of path-like
        An ASN JSON, calints files, or one folder of calints files.

    Returns
    -------
    Observation

    Raises
    ------
    InputError
        For every problem with the files or their consistency (see the module docs).
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    found = collect_inputs(inputs)
    paths = found.members if isinstance(found, Association) else found
    segments = [read_segment(p) for p in paths]
    exp_type = _common_exp_type(segments)
    for seg in segments:
        if not is_tso(seg):
            raise InputError(
                seg.path, f"not a TSO exposure (EXP_TYPE={seg.exp_type}, TSOVISIT not set)"
            )
    if exp_type not in IMAGING_EXP_TYPES | SPECTRAL_EXP_TYPES:
        raise InputError(segments[0].path, f"EXP_TYPE {exp_type} is not a TSO mode tso3 handles")
    if exp_type == "NIS_SOSS":
        for seg in segments:
            check_soss_setup(seg)
    series = _order_series(segments)
    association = found if isinstance(found, Association) else _derive_association(series)
    return Observation(association=association, series=series, exp_type=exp_type)


#: NIS_SOSS subarrays tso3 extracts (the GR700XD trace models are defined for them).
SOSS_SUBARRAYS = ("SUBSTRIP256", "SUBSTRIP96", "FULL")


def check_soss_setup(seg: Segment) -> None:
    """Check a NIS_SOSS segment can be extracted: CLEAR + GR700XD, PWCPOS, subarray.

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
    if pupil != "GR700XD":
        raise InputError(seg.path, f"NIS_SOSS with PUPIL={pupil or 'none'}, not GR700XD")
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
            seg.path, f"NIS_SOSS SUBARRAY={subarray or 'none'}: not one of "
            + ", ".join(SOSS_SUBARRAYS)
        )


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
        series.setdefault(seg.detector, []).append(seg)
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
    members = [s.path for segs in series.values() for s in segs]
    return Association(members=members, product_name=name, asn_id=f"o{observation}")
