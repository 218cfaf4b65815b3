"""Striped readouts: NIRISS SOSS superstripes and NIRSpec PRISM multistripes.

Both read the detector in stripes of columns, one after the other, and stage 1
(``jwst.lib.stripe_utils.collate_superstripes``) reassembles the stripes of each cycle into
one frame of the calints.  The frame's INT_TIMES row spans its stripes (start of the first
to the end of the last); INT_TIMES_STRIPE keeps every stripe's own times, one row per
(integration, stripe).

- SOSS ``SUB{17,60,204,680}STRIPE_SOSS``: the frames are 256 x 2048 (SUBSTRIP256); the
  2040 science columns 4-2043 are read in stripes of 17 ... 680 columns, the first stripe
  ending at column 2043 (the detector's slow axis runs against x).
- NIRSpec BOTS ``SUB{256M2,128M4,64M8,32M16}_PRISM``: each raw integration reads one
  stripe of ``512 / n`` columns (4 of them reference columns) and the integrations cycle
  through the ``n`` stripes; the frames hold the ``n (512 / n - 4)`` science columns,
  stripe 1 first on NRS1 and last on NRS2 (whose x runs against the detector's).

This module knows those layouts: which columns each stripe covers, and a segment's stripe
times, checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..formats import INT_TIMES_STRIPE_COLUMNS, INT_TIMES_STRIPE_DTYPE, STRIPED_SUBARRAYS

__all__ = ["StripeLayout", "segment_stripe_times", "stripe_layout"]


@dataclass(frozen=True)
class StripeLayout:
    """How a striped subarray's frame is made of stripes.

    Attributes
    ----------
    subarray : str
        SUBARRAY.
    count : int
        Stripes per frame (per integration of the calints).
    width : int
        Science columns per stripe.
    first_column : int
        First science column of the frame (the reference columns before it belong to no
        stripe).
    frame_width : int or None
        The frame width stage 1 gives (None: not fixed, e.g. after NIRSpec's extract_2d).
    instrument : str
        NIRISS or NIRSPEC.
    """

    subarray: str
    count: int
    width: int
    first_column: int
    frame_width: int | None
    instrument: str = "NIRISS"

    def column_stripes(self, nx: int, detector: str) -> np.ndarray:
        """Stripe number (1-based, in reading order) of every column of ``detector``'s
        frames, 0 for columns no stripe covers.  Stripe 1 is at the high-x end where the
        detector's slow axis runs against x: always for SOSS, on NRS2 for NIRSpec."""
        reversed_x = self.instrument == "NIRISS" or str(detector).upper() == "NRS2"
        x = np.arange(nx) - self.first_column
        science = (x >= 0) & (x < self.count * self.width)
        index = x // self.width
        if reversed_x:
            index = self.count - 1 - index
        return np.where(science, index + 1, 0).astype(np.int32)


def stripe_layout(subarray: str) -> StripeLayout | None:
    """The layout of a striped SUBARRAY, None for any other subarray."""
    name = str(subarray).upper()
    if name not in STRIPED_SUBARRAYS:
        return None
    instrument, number = STRIPED_SUBARRAYS[name]
    if instrument == "NIRISS":  # ``number`` columns per stripe over columns 4-2043
        return StripeLayout(name, 2040 // number, number, 4, 2048)
    return StripeLayout(name, number, 512 // number - 4, 0, None, "NIRSPEC")  # n stripes


def segment_stripe_times(
    path: Path, layout: StripeLayout, table, intstart: int, intend: int, nx: int
) -> np.ndarray:
    """The INT_TIMES_STRIPE rows of integrations ``[intstart, intend]``, checked.

    Parameters
    ----------
    path : Path
        The segment (for messages).
    layout : StripeLayout
        Of its SUBARRAY.
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
        A frame of another width than the layout's, no table, missing columns, or an
        integration without exactly one row for each of the subarray's stripes.
    """
    subarray, count = layout.subarray, layout.count
    if layout.frame_width is not None and nx != layout.frame_width:
        raise InputError(
            path, f"SUBARRAY={subarray} frames are {layout.frame_width} columns wide, not {nx}"
        )
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
    if not valid.all() or len(np.unique(keys[valid])) != wanted or len(keys) != wanted:
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
