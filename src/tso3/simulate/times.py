"""Integration timing of a simulated exposure (UTC MJD and BJD_TDB as MJD)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.time import Time

from ..formats import INT_TIMES_DTYPE

_DAY = 86400.0


@dataclass
class ExposureTimes:
    """Per-integration start/mid/end times of a whole exposure (all float64 arrays, days).

    ``*_bjd`` are BJD_TDB - 2400000.5: the UTC times converted to TDB with astropy, plus
    the fixed barycentric light-travel offset ``barycentric_offset`` (seconds).
    """

    start_utc: np.ndarray
    mid_utc: np.ndarray
    end_utc: np.ndarray
    start_bjd: np.ndarray
    mid_bjd: np.ndarray
    end_bjd: np.ndarray
    frame_time: float
    ngroups: int
    integration_time: float  # EFFINTTM, s
    barycentric_offset: float  # s

    @property
    def nints(self) -> int:
        return len(self.mid_utc)

    def int_times_table(self, start: int, stop: int) -> np.ndarray:
        """INT_TIMES rows for 0-based integrations ``[start, stop)`` (stage-2 layout)."""
        rows = np.zeros(stop - start, dtype=INT_TIMES_DTYPE.newbyteorder(">"))
        sl = slice(start, stop)
        rows["integration_number"] = np.arange(start + 1, stop + 1)
        rows["int_start_MJD_UTC"] = self.start_utc[sl]
        rows["int_mid_MJD_UTC"] = self.mid_utc[sl]
        rows["int_end_MJD_UTC"] = self.end_utc[sl]
        rows["int_start_BJD_TDB"] = self.start_bjd[sl]
        rows["int_mid_BJD_TDB"] = self.mid_bjd[sl]
        rows["int_end_BJD_TDB"] = self.end_bjd[sl]
        return rows


def exposure_times(
    nints: int,
    expstart: float,
    frame_time: float,
    ngroups: int,
    barycentric_offset: float,
    nresets: int = 1,
) -> ExposureTimes:
    """Times of every integration of an exposure read with ``ngroups`` one-frame groups.

    An integration lasts ``ngroups * frame_time``; consecutive integrations are separated
    by ``nresets`` reset frames.  EFFINTTM is ``(ngroups - 1) * frame_time``.

    Parameters
    ----------
    nints : int
        Integrations in the exposure.
    expstart : float
        Exposure start, MJD (UTC).
    frame_time : float
        Frame (= group) time in seconds.
    ngroups : int
        Groups per integration (>= 2).
    barycentric_offset : float
        Light-travel time to the solar-system barycentre, seconds (fixed).
    nresets : int
        Reset frames between integrations.
    """
    duration = ngroups * frame_time / _DAY
    cycle = (ngroups + nresets) * frame_time / _DAY
    start = expstart + np.arange(nints) * cycle
    end = start + duration
    mid = 0.5 * (start + end)
    utc = Time(np.concatenate([start, mid, end]), format="mjd", scale="utc")
    bjd = utc.tdb.mjd + barycentric_offset / _DAY
    return ExposureTimes(
        start_utc=start,
        mid_utc=mid,
        end_utc=end,
        start_bjd=bjd[:nints],
        mid_bjd=bjd[nints : 2 * nints],
        end_bjd=bjd[2 * nints :],
        frame_time=frame_time,
        ngroups=ngroups,
        integration_time=(ngroups - 1) * frame_time,
        barycentric_offset=barycentric_offset,
    )
