"""Striped exposures: SOSS superstripes and NIRSpec PRISM multistripes (:mod:`tso3.io.stripes`).

The detector is read in stripes of columns, one after the other, each stripe a short
integration of its own (``ngroups`` groups of a stripe-sized frame, a reset between
stripes); stage 1 reassembles each cycle of stripes into one frame and condenses the times
as ``jwst.lib.stripe_utils.generate_stripe_int_times`` does: the frame starts when its
first stripe starts and ends when its last stripe ends, its mid time is halfway between,
and INT_TIMES_STRIPE keeps every stripe's own times.  A column is exposed only while its
stripe is read, so the transit is drawn at that stripe's time (the columns of one frame
see the planet at slightly different times).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..formats import INT_TIMES_STRIPE_DTYPE
from ..io.stripes import StripeLayout
from .times import ExposureTimes, exposure_times

#: Columns of the subarray a stripe's frame time is scaled from, per instrument: SOSS's
#: SUBSTRIP256 and NIRSpec's SUB512 (their frame times are the modes' ``frame_time``).
_PARENT_COLUMNS = {True: 2048, False: 512}


def frame_shape(layout: StripeLayout, rows: int) -> tuple[int, int]:
    """Shape of the reassembled frames: SOSS's 256 x 2048, NIRSpec's science columns."""
    return rows, layout.frame_width or layout.count * layout.width


def stripe_frame_time(layout: StripeLayout, parent_frame_time: float) -> float:
    """Frame time (s) of one stripe: the parent subarray's frame time scaled by the
    columns read (the stripe's science columns plus 4 reference columns)."""
    parent = _PARENT_COLUMNS[layout.frame_width is not None]
    return parent_frame_time * (layout.width + 4) / parent


def superstripe_times(
    nints: int, layout: StripeLayout, p: dict
) -> tuple[ExposureTimes, ExposureTimes]:
    """Times of the reassembled integrations, and of every stripe (``nints * count``)."""
    count = layout.count
    stripes = exposure_times(
        nints * count, float(p["expstart"]), float(p["frame_time"]), int(p["ngroups"]),
        float(p["barycentric_offset"]),
    )  # fmt: skip
    first, last = slice(0, None, count), slice(count - 1, None, count)
    frames = replace(
        stripes,
        start_utc=stripes.start_utc[first],
        end_utc=stripes.end_utc[last],
        start_bjd=stripes.start_bjd[first],
        end_bjd=stripes.end_bjd[last],
    )
    frames.mid_utc = 0.5 * (frames.start_utc + frames.end_utc)
    frames.mid_bjd = 0.5 * (frames.start_bjd + frames.end_bjd)
    return frames, stripes


def column_times(
    stripes: ExposureTimes, frames: ExposureTimes, layout: StripeLayout, nx: int, detector: str
) -> np.ndarray:
    """Mid BJD_TDB of every (integration, column) of ``detector``: its stripe's, the
    frame's for columns no stripe covers (reference columns)."""
    number = layout.column_stripes(nx, detector)
    mid = stripes.mid_bjd.reshape(-1, layout.count)
    out = np.repeat(frames.mid_bjd[:, None], nx, axis=1)
    science = number > 0
    out[:, science] = mid[:, number[science] - 1]
    return out


def stripe_table(stripes: ExposureTimes, layout: StripeLayout, start: int, stop: int) -> np.ndarray:
    """INT_TIMES_STRIPE rows of 0-based integrations ``[start, stop)``."""
    count = layout.count
    rows = np.zeros((stop - start) * count, dtype=INT_TIMES_STRIPE_DTYPE.newbyteorder(">"))
    sl = slice(start * count, stop * count)
    rows["integration_number"] = np.repeat(np.arange(start + 1, stop + 1), count)
    rows["stripe_number"] = np.tile(np.arange(1, count + 1), stop - start)
    for column, values in (
        ("int_start_MJD_UTC", stripes.start_utc), ("int_mid_MJD_UTC", stripes.mid_utc),
        ("int_end_MJD_UTC", stripes.end_utc), ("int_start_BJD_TDB", stripes.start_bjd),
        ("int_mid_BJD_TDB", stripes.mid_bjd), ("int_end_BJD_TDB", stripes.end_bjd),
    ):  # fmt: skip
        rows[column] = values[sl]
    return rows
