"""Superstripe readouts (NIRISS SOSS ``SUB*STRIPE_SOSS``): stripes, columns and their times.

A superstripe exposure reads the detector in stripes of columns, one after the other, and
stage 1 reassembles each integration's stripes into one SUBSTRIP256-sized frame.  The
frame's INT_TIMES row spans the whole set (start of the first stripe to the end of the
last); INT_TIMES_STRIPE keeps every stripe's own times, one row per (integration,
stripe).  This module knows that layout: which column each stripe covers, and the
stripe times of a segment, checked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..formats import INT_TIMES_STRIPE_COLUMNS, INT_TIMES_STRIPE_DTYPE, SOSS_SUPERSTRIPES

__all__ = ["column_stripes", "segment_stripe_times", "stripe_count"]

#: Science columns of a reassembled frame (4 reference columns at each end).
_FIRST, _LAST = 4, 2043


def stripe_count(subarray: str) -> int | None:
    """Stripes per integration of a superstripe SUBARRAY, None for any other subarray."""
    size = SOSS_SUPERSTRIPES.get(str(subarray).upper())
    return None if size is None else (_LAST - _FIRST + 1) // size


def column_stripes(subarray: str, nx: int) -> np.ndarray:
    """Stripe number (1-based, in reading order) of every column; 0 for reference columns.

    Stripe 1 holds the columns ending at 2043 and later stripes move towards column 4.
    """
    size = SOSS_SUPERSTRIPES[str(subarray).upper()]
    x = np.arange(nx)
    science = (x >= _FIRST) & (x <= _LAST)
    return np.where(science, (_LAST - x) // size + 1, 0).astype(np.int32)


def segment_stripe_times(
    path: Path, subarray: str, table, intstart: int, intend: int, nx: int
) -> np.ndarray:
    """The INT_TIMES_STRIPE rows of integrations ``[intstart, intend]``, checked.

    Parameters
    ----------
    path : Path
        The segment (for messages).
    subarray : str
        Its SUBARRAY, a superstripe one.
    table : FITS_rec, structured array or None
        Its INT_TIMES_STRIPE table (a superset is fine).
    intstart, intend : int
        The segment's integrations (1-based, inclusive).
    nx : int
        Frame width.

    Returns
    -------
    numpy structured array
        ``(intend - intstart + 1) * count`` rows of :data:`INT_TIMES_STRIPE_DTYPE`,
        ordered by integration then stripe.

    Raises
    ------
    InputError
        A frame that is not 2048 columns wide, no table, missing columns, or an
        integration without exactly one row for each of the subarray's stripes.
    """
    count = stripe_count(subarray)
    if nx != 2048:
        raise InputError(path, f"SUBARRAY={subarray} frames are 2048 columns wide, not {nx}")
    if table is None or len(table) == 0:
        raise InputError(path, f"SUBARRAY={subarray} reads {count} stripes per integration "
                               "but the file has no INT_TIMES_STRIPE table")  # fmt: skip
    table = np.asarray(table)
    lacking = [c for c in INT_TIMES_STRIPE_COLUMNS if c not in (table.dtype.names or ())]
    if lacking:
        raise InputError(path, f"INT_TIMES_STRIPE has no column {lacking[0]}")
    number = np.asarray(table["integration_number"], dtype=np.int64)
    stripe = np.asarray(table["stripe_number"], dtype=np.int64)
    mine = (number >= intstart) & (number <= intend)
    wanted = (intend - intstart + 1) * count
    keys = (number[mine] - intstart) * count + (stripe[mine] - 1)
    valid = (stripe[mine] >= 1) & (stripe[mine] <= count)
    unique = np.unique(keys[valid])
    if not valid.all() or len(unique) != wanted or len(keys) != wanted:
        per_int = np.bincount(number[mine] - intstart, minlength=intend - intstart + 1)
        odd = int(np.flatnonzero(per_int != count)[0]) if (per_int != count).any() else 0
        seen = np.unique(stripe[mine & (number == intstart + odd)])
        raise InputError(path, f"INT_TIMES_STRIPE: integration {intstart + odd} has stripes "
                               f"{_ranges(seen)}; SUBARRAY={subarray} reads stripes 1-{count} "
                               "in every integration")  # fmt: skip
    out = np.zeros(wanted, dtype=INT_TIMES_STRIPE_DTYPE)
    rows = table[mine]
    for name in INT_TIMES_STRIPE_COLUMNS:
        out[name][keys] = np.asarray(rows[name])
    return out


def _ranges(values: np.ndarray) -> str:
    """``1-4, 6`` for [1, 2, 3, 4, 6]; ``none`` when empty."""
    if len(values) == 0:
        return "none"
    values = np.asarray(values, dtype=np.int64)
    breaks = np.flatnonzero(np.diff(values) != 1)
    starts = np.r_[values[0], values[breaks + 1]]
    ends = np.r_[values[breaks], values[-1]]
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in zip(starts, ends, strict=True))
