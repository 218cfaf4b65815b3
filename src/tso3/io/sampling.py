"""Integrations spread evenly over a series of segments (for medians and patterns)."""

from __future__ import annotations

import numpy as np

from ..dqflags import DO_NOT_USE
from .segments import Segment


def sample_integrations(
    segments: list[Segment], count: int, *, with_valid: bool = False, name: str = "SCI"
) -> tuple[np.ndarray, np.ndarray | None]:
    """SCI of up to ``count`` integrations evenly spaced over the whole series.

    Parameters
    ----------
    segments : list of Segment
        One detector's series in time order (the files to read).
    count : int
        Largest number of integrations returned (every integration when there are fewer).
    with_valid : bool
        Also return ``DQ & DO_NOT_USE == 0`` for the same integrations.
    name : str
        The float cube to read (SCI, ERR, VAR_*).

    Returns
    -------
    cube : numpy.ndarray, shape (m, ny, nx), float32 native
    valid : numpy.ndarray of bool or None
    """
    total = sum(s.nints for s in segments)
    step = max(1, int(np.ceil(total / max(1, count))))
    sci, valid, start = [], [], 0
    for seg in segments:
        # global indices 0, step, 2 step, ... that fall into this segment
        idx = np.arange((-start) % step, seg.nints, step)
        start += seg.nints
        if idx.size == 0:
            continue
        with seg.arrays("readonly") as arr:
            sci.append(np.array(arr.cube(name)[idx], dtype=np.float32))
            if with_valid:
                valid.append((arr.read_dq(np.s_[idx]) & DO_NOT_USE) == 0)
    return np.concatenate(sci), (np.concatenate(valid) if with_valid else None)
