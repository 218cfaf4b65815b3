"""Several photometry configurations measured from the same blocks (``tso3 sweep``).

:class:`PhotometrySweep` places the aperture of every configuration as
:class:`~tso3.stages.photometry.PhotometryStage` places it (once per distinct placing
setting: the centroid boxes, ``radius_inner`` and the gain) and measures each block with
all of them in one job: the block is calibrated and given the outlier model's values
once, its centroids are measured once per placement, and each configuration's
apertures are then summed (:func:`~tso3.stages.photometry.measure_block`).  ``--mode
jwst`` gathers each segment and measures it with every configuration, as the reference
does one configuration.  A configuration's light curve is the ``net_aperture_sum`` a
run with it writes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from ..config import TsoPhotometryParams
from ..io.observation import Observation
from .blocks import Block
from .photometry import (
    PhotometryStage,
    _plan,
    block_centroids,
    block_cubes,
    measure_block,
    measure_segment,
    segment_cubes,
)

#: The column a photometry sweep keeps of each block: the light curve it scores.
SCORED = "net_aperture_sum"


def _placing(params: TsoPhotometryParams) -> tuple:
    """The settings that decide where the aperture goes and how the data are calibrated
    (the others only change what is summed there)."""
    return (params.centroid_source, params.search_box_width, params.fit_box_width,
            params.radius_inner, params.gain)  # fmt: skip


class PhotometrySweep(PhotometryStage):
    """Photometry with every configuration of a sweep, from one stream of blocks.

    Made by :meth:`plan`; consumes blocks as :class:`PhotometryStage` does (its
    ``consume``: a block job in default mode, a segment job in jwst mode) and finishes
    into each configuration's ``net_aperture_sum`` (all integrations, in time order).
    """

    def __init__(self, obs: Observation, plans: list, placing: list[int]) -> None:
        super().__init__(obs, plans[0])  # the mode's sequence is the same for all
        self._plans = plans
        self._placing = placing  # each configuration's placement, as an index

    @classmethod
    def wcs_segments(cls, obs: Observation) -> list:
        """None: a sweep scores fluxes, it gives no sky position."""
        return []

    @classmethod
    def plan(
        cls,
        obs: Observation,
        params: Sequence[TsoPhotometryParams],
        *,
        mode: str = "default",
        prepared=None,
    ) -> PhotometrySweep:
        """Place the aperture of every configuration.

        Parameters
        ----------
        obs : Observation
            The validated observation (imaging).
        params : sequence of TsoPhotometryParams
            One per configuration.
        mode : {"default", "jwst"}
        prepared : tuple, optional
            :meth:`prepare` of ``obs`` (the centroid sample, shared by every configuration).

        Returns
        -------
        PhotometrySweep
        """
        sample = prepared if prepared is not None else cls.prepare(obs, mode)
        placed: dict[tuple, int] = {}
        base: list = []
        placing = []
        for p in params:
            key = _placing(p)
            if key not in placed:  # placed (and logged) once per distinct setting
                placed[key] = len(base)
                base.append(_plan(obs, p, mode, sample))
            placing.append(placed[key])
        pairs = zip(placing, params, strict=True)
        plans = [dataclasses.replace(base[i], params=p) for i, p in pairs]
        return cls(obs, plans, placing)

    def _job(self, block: Block) -> Callable[[], list[np.ndarray]]:
        plans, placing = self._plans, self._placing

        def job() -> list[np.ndarray]:
            # one calibration for all: it depends on the gain, which a grid cannot vary
            sci, err, model = block_cubes(block, plans[0].cal)
            centroids: dict[int, dict] = {}
            out = []
            for plan, where in zip(plans, placing, strict=True):
                if where not in centroids:
                    centroids[where] = block_centroids(plan, sci)
                out.append(measure_block(plan, sci, err, model, centroids[where])[SCORED])
            return out

        return job

    def _segment_job(self, parts: list[Block]) -> Callable[[], list[np.ndarray]]:
        plans = self._plans

        def job() -> list[np.ndarray]:
            cubes = segment_cubes(parts, plans[0].cal)
            return [measure_segment(plan, *cubes)[SCORED] for plan in plans]

        return job

    def finish(self) -> Iterator[np.ndarray]:
        """Wait for every block; then each configuration's ``net_aperture_sum`` in turn
        (segments in ASN order, integrations in time order)."""
        parts = [p for seg in self._obs.segments for p in self._workers.results(seg.key)]
        for k in range(len(self._plans)):
            yield np.concatenate([part[k] for part in parts])
