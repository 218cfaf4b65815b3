"""Chunked, threaded moving medians along the time axis (internal to the outlier step).

The hot loop is :func:`bottleneck.move_median` (a double heap, O(log w) per sample).
It releases the GIL, so a thread pool over blocks of pixel columns uses every core
without copying the cube to worker processes.  Each worker copies one column block
into a small float buffer (where bad pixels become NaN), so temporary memory is
bounded by ``threads x block`` and never by the cube.

Arrays handled here are 2-D ``(nints, npix)``; the public functions in
:mod:`tso3.steps.outliers` reshape ``(nints, ...)`` inputs to that form.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import bottleneck as bn
import numpy as np

#: Bytes of one column block's working buffer.  Blocks of ~2 MB stay in L2/L3 cache
#: while bottleneck walks them; measured fastest on 6000-integration series.
_BLOCK_BYTES = 2 * 1024 * 1024


def default_threads() -> int:
    """Number of worker threads to use when the caller does not say (all usable cores)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def work_dtype(dtype: np.dtype) -> np.dtype:
    """Float type the medians are computed in: float32 stays float32, others widen."""
    return np.result_type(dtype, np.float32)


def column_blocks(nints: int, npix: int, itemsize: int, threads: int) -> list[slice]:
    """Split ``npix`` columns into blocks of about ``_BLOCK_BYTES`` each.

    Blocks are also made small enough that every thread gets several of them, so
    that uneven blocks (e.g. all-NaN regions, which are cheap) do not idle a core.
    """
    if npix == 0:
        return []
    width = max(1, _BLOCK_BYTES // max(1, itemsize * max(nints, 1)))
    if threads > 1:
        width = min(width, max(1, -(-npix // (4 * threads))))
    return [slice(c, min(c + width, npix)) for c in range(0, npix, width)]


def run_blocks(func: Callable[[slice], None], blocks: list[slice], threads: int) -> None:
    """Call ``func(block)`` for every block, on ``threads`` threads (inline if 1)."""
    if threads <= 1 or len(blocks) <= 1:
        for block in blocks:
            func(block)
        return
    with ThreadPoolExecutor(max_workers=min(threads, len(blocks))) as pool:
        # list() re-raises the first exception of any worker here
        list(pool.map(func, blocks))


def masked_copy(
    x: np.ndarray, good: np.ndarray | None, dtype: np.dtype, pad: int = 0
) -> np.ndarray:
    """Copy ``x`` to a float buffer, NaN where ``good`` is False, plus ``pad`` NaN rows."""
    n = x.shape[0]
    buf = np.empty((n + pad, *x.shape[1:]), dtype=dtype)
    buf[:n] = x
    if good is not None:
        np.copyto(buf[:n], np.nan, where=~good)
    if pad:
        buf[n:] = np.nan
    return buf


def centred_nan_median(x: np.ndarray, good: np.ndarray | None, width: int) -> np.ndarray:
    """NaN-ignoring centred moving median of one column block (the default algorithm).

    The window of integration ``i`` is ``[i - width//2, i + (width-1)//2]`` clipped to
    the series (truncated, not shifted, at the ends); NaN and not-``good`` samples are
    ignored.  ``width >= nints`` gives the whole-series median of every pixel.
    """
    n = x.shape[0]
    dtype = work_dtype(x.dtype)
    if width >= n:
        buf = masked_copy(x, good, dtype)
        med = bn.nanmedian(buf, axis=0).astype(dtype, copy=False)
        return np.broadcast_to(med, x.shape).copy()
    if width == 1:
        return masked_copy(x, good, dtype)
    right = (width - 1) // 2
    # bottleneck's window is trailing: r[j] = median(buf[j-width+1 : j+1]).  Padding the
    # end with `right` NaN rows makes r[i + right] the centred window of i, truncated at
    # both ends (min_count=1 ignores the missing/NaN samples).
    buf = masked_copy(x, good, dtype, pad=right)
    med = bn.move_median(buf, width, min_count=1, axis=0)
    return med[right:]


def jwst_median(x: np.ndarray, good: np.ndarray | None, width: int) -> np.ndarray:
    """jwst 3.0.0 rolling median of one column block (``1 < width < nints``), float64.

    ``np.median`` over each full window ``[s, s+width)`` with bad samples set to NaN,
    so any NaN in a window propagates (``min_count=width`` reproduces this exactly, and
    float32 bottleneck medians equal float32 ``np.median`` bit for bit, also for the
    mean of the two middle values of even windows).  Ends copy the nearest computed value.
    """
    n = x.shape[0]
    half = width // 2
    buf = masked_copy(x, good, np.dtype(np.float32) if x.dtype == np.float32 else np.float64)
    trail = bn.move_median(buf, width, axis=0)  # min_count=None means all `width` finite
    med = np.empty(x.shape, dtype=np.float64)
    # window starting at s is centred (as jwst labels it) on s + half
    med[half : n - width + half + 1] = trail[width - 1 :]
    med[:half] = med[half]
    if width % 2:
        med[n - half :] = med[n - half - 1]
    else:
        # jwst writes M[-half+1:] = M[-half]; for width=2 that is M[0:], overwriting
        # the whole cube with its last row.  Positive indices fill only the real edge.
        med[n - half + 1 :] = med[n - half]
    return med
