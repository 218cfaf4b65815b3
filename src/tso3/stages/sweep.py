"""Several extraction configurations measured from the same blocks (``tso3 sweep``).

One :class:`ExtractionSweep` holds the plan of every configuration (its traces and
apertures, placed as :class:`~tso3.stages.extraction.ExtractionStage` places them) and
measures each block with all of them in one job: the configurations that drop flagged
pixels first, then, after the block's invalid pixels are given the outlier model's
values once, those that repair.  Within each group the box configurations are measured
together (:func:`tso3.steps.extract_many.extract_block_many`: one batched product of
the block with every configuration's weights), the others one by one.  So every
configuration sees the cubes a run with it would see, and its fluxes are the run's.
Only what the scores need is kept (:data:`_SCORED`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from ..config import Extract1dParams
from ..io.observation import Observation
from ..steps.extract import fill_from_model
from ..steps.extract_many import box_weights
from .blocks import Block, MeasuringStage
from .extraction import (
    _ARRAYS,
    Extraction,
    ExtractionStage,
    _join,
    _plan_detector,
    _spectra_set,
    extract_cubes_many,
)

#: The sums a sweep keeps of each block: what the scores need (the fluxes, in their
#: unit, and which are measured).  The variances are neither computed nor kept, so the
#: grid's spectra take a few columns each, not the twenty of an x1dints.
_SCORED = ("flux", "npixels", "n_repaired", "trace_position", "trace_width")


class ExtractionSweep(MeasuringStage):
    """Extraction with every configuration of a sweep, from one stream of blocks.

    Made by :meth:`plan`; consumes blocks as :class:`ExtractionStage` does and finishes
    into one :class:`~tso3.stages.extraction.Extraction` per configuration.
    """

    STEP = "extract_1d"
    arrays = _ARRAYS
    prepare = ExtractionStage.prepare
    wcs_segments = ExtractionStage.wcs_segments

    def __init__(self, obs: Observation, params: Sequence[Extract1dParams], plans: list) -> None:
        super().__init__(obs)
        self._params = list(params)
        self._plans = plans  # per configuration: {detector: [plan per order]}
        # the box configurations' weights, made once (tso3.steps.extract_many)
        self._weights = [
            {det: [box_weights(p.setup.aperture, p.settings) for p in detector_plans]
             for det, detector_plans in config.items()}
            for config in plans
        ]  # fmt: skip
        self._detector = {s.key: det for det, segs in obs.series.items() for s in segs}

    @classmethod
    def plan(
        cls,
        obs: Observation,
        params: Sequence[Extract1dParams],
        *,
        mode: str = "default",
        prepared: dict[str, np.ndarray] | None = None,
    ) -> ExtractionSweep:
        """Place the traces and apertures of every configuration.

        Parameters
        ----------
        obs : Observation
            The validated observation (spectroscopic).
        params : sequence of Extract1dParams
            One per configuration.
        mode : {"default", "jwst"}
        prepared : dict, optional
            :meth:`prepare` of ``obs`` (the median images, shared by every configuration).

        Returns
        -------
        ExtractionSweep
        """
        medians = prepared if prepared is not None else cls.prepare(obs, mode)
        plans = [
            {det: _plan_detector(segs, p, mode, det, medians[det])
             for det, segs in obs.series.items()}
            for p in params
        ]  # fmt: skip
        return cls(obs, params, plans)

    def _job(self, block: Block) -> Callable[[], list[list[dict[str, np.ndarray]]]]:
        det = self._detector[block.segment]
        per_config = [plans[det] for plans in self._plans]
        weights = [config[det] for config in self._weights]

        def job() -> list[list[dict[str, np.ndarray]]]:
            cubes = block.settle()
            arrays = [cubes.get(name) for name in _ARRAYS]
            sums: list = [[None] * len(plans) for plans in per_config]
            repairing = [k for k, plans in enumerate(per_config) if plans[0].temporal]
            dropping = [k for k in range(len(per_config)) if k not in repairing]
            filled = None
            for group in (dropping, repairing):  # on the cubes as settled (NaN where
                if not group:  # invalid), then filled once for all that repair
                    continue
                if group is repairing:
                    filled = fill_from_model(arrays[0], arrays[1:], *block.fill)
                for order in range(len(per_config[group[0]])):
                    plans = [per_config[k][order] for k in group]
                    made = [weights[k][order] for k in group]
                    many = extract_cubes_many(plans, made, arrays, filled=filled,
                                              with_variances=False)  # fmt: skip
                    for k, out in zip(group, many, strict=True):
                        sums[k][order] = {key: out[key] for key in _SCORED if key in out}
            return sums

        return job

    def finish(self) -> Iterator[Extraction]:
        """Wait for every block; then the spectra of each configuration in turn (segments
        in ASN order, as :meth:`ExtractionStage.finish` orders them).

        One configuration at a time: its block sums are let go once its spectra are
        made, so a caller that scores each and drops it holds one configuration's
        spectra, not the grid's.
        """
        parts = {seg.key: self._workers.results(seg.key) for seg in self._obs.segments}
        for k, plans in enumerate(self._plans):
            out = Extraction(spectra=[])
            for det, detector_plans in plans.items():
                out.setups.update({(det, p.setup.order or 1): p.setup for p in detector_plans})
            for det, segs in self._obs.series.items():
                for seg in segs:
                    for order, plan in enumerate(plans[det]):
                        sums = _join([part[k][order] for part in parts[seg.key]])
                        out.spectra.append(_spectra_set(seg, plan, sums, self._params[k]))
                for seg in segs:
                    for part in parts[seg.key]:
                        part[k] = None  # measured: let this configuration's sums go
            yield out
