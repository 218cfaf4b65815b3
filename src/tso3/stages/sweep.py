"""Several extraction configurations measured from the same blocks (``tso3 sweep``).

One :class:`ExtractionSweep` holds the plan of every configuration (its traces and
apertures, placed as :class:`~tso3.stages.extraction.ExtractionStage` places them) and
measures each block with all of them in one job: the configurations that drop flagged
pixels first, then, after the block's invalid pixels are given the outlier model's
values once, those that repair.  So every configuration sees the cubes a run with it
would see, and its spectra are the run's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..config import Extract1dParams
from ..io.observation import Observation
from ..steps.extract import fill_from_model
from .blocks import Block, MeasuringStage
from .extraction import (
    _ARRAYS,
    Extraction,
    ExtractionStage,
    _extract_cubes,
    _join,
    _plan_detector,
    _spectra_set,
)


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
        per_config = [plans[self._detector[block.segment]] for plans in self._plans]

        def job() -> list[list[dict[str, np.ndarray]]]:
            cubes = block.settle()
            arrays = [cubes.get(name) for name in _ARRAYS]
            sums: list = [None] * len(per_config)
            repairing = [k for k, plans in enumerate(per_config) if plans[0].temporal]
            for k, plans in enumerate(per_config):
                if k not in repairing:  # on the cubes as settled: NaN where invalid
                    sums[k] = [_extract_cubes(plan, arrays) for plan in plans]
            if repairing:
                filled = fill_from_model(arrays[0], arrays[1:], *block.fill)
                for k in repairing:
                    sums[k] = [_extract_cubes(plan, arrays, filled=filled)
                               for plan in per_config[k]]  # fmt: skip
            return sums

        return job

    def finish(self) -> list[Extraction]:
        """Wait for every block; the spectra of every configuration (segments in ASN
        order, as :meth:`ExtractionStage.finish` orders them)."""
        out = [Extraction(spectra=[]) for _ in self._plans]
        for k, plans in enumerate(self._plans):
            for det, detector_plans in plans.items():
                out[k].setups.update({(det, p.setup.order or 1): p.setup for p in detector_plans})
        for det, segs in self._obs.series.items():
            for seg in segs:
                parts = self._workers.results(seg.key)
                for k, plans in enumerate(self._plans):
                    for order, plan in enumerate(plans[det]):
                        sums = _join([part[k][order] for part in parts])
                        out[k].spectra.append(_spectra_set(seg, plan, sums, self._params[k]))
        return out
