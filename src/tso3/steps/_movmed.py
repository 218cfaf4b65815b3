"""Chunked moving medians along the time axis (internal to the outlier step).

The hot loop is tso3's compiled kernel ``_movmed_kernel.c`` (sorted windows updated
branch-free over many pixels at once, ~8 ns per sample for width 25), loaded through
ctypes.  Where it was not built (no C compiler at install time), for float64 data and
for very wide windows, :func:`bottleneck.move_median` (a double heap, ~60 ns per
sample) gives the same values bit for bit.  Both release the GIL, so a caller's thread
pool (the ``pool`` argument, see :class:`BlockMap`) can run blocks of pixel columns on
every core without copying the cube to worker processes; temporary memory is bounded by
``workers x block`` and never by the cube.  Nothing here starts a thread.

Arrays handled here are 2-D ``(nints, npix)``; the public functions in
:mod:`tso3.steps.outliers` reshape ``(nints, ...)`` inputs to that form.
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import os
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Protocol

import bottleneck as bn
import numpy as np

#: Bytes of one column block's working buffer.  Blocks of ~2 MB stay in L2/L3 cache
#: while bottleneck walks them; measured fastest on 6000-integration series.
_BLOCK_BYTES = 2 * 1024 * 1024

#: Widest window given to the compiled kernel: its cost grows linearly with the width,
#: bottleneck's heap only logarithmically; they cost the same near 400 integrations.
KERNEL_MAX_WIDTH = 301

#: Set this environment variable to a non-empty value to use bottleneck even where
#: the kernel is available (for comparisons and benchmarks).
NO_KERNEL_ENV = "TSO3_NO_KERNEL"


@cache
def _library() -> ctypes.CDLL | None:
    """The compiled kernels (``_movmed_kernel.c``), or None when they were not built."""
    if os.environ.get(NO_KERNEL_ENV):
        return None
    here = Path(__file__).parent
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = here / f"_movmed_kernel{suffix}"
        if path.exists():
            break
    else:
        return None
    try:
        lib = ctypes.CDLL(str(path))
        median, detect = lib.tso3_moving_median_f32, lib.tso3_detect_f32
    except (OSError, AttributeError):  # pragma: no cover - a broken build
        return None
    size, ptr = ctypes.c_ssize_t, ctypes.c_void_p
    median.argtypes = [ptr, size, ptr, size, ptr, size, size, size, size, size, size]
    median.restype = ctypes.c_int
    detect.argtypes = [
        ptr, size, ptr, size, ptr, size, ctypes.c_uint32, ptr, size, ptr, size,
        ctypes.c_float, ptr, size, ptr, size, size, size, size, size,
        ctypes.POINTER(ctypes.c_int64),
    ]  # fmt: skip
    detect.restype = ctypes.c_int
    return lib


def _kernel() -> Callable | None:
    """The compiled moving median, or None when it was not built."""
    lib = _library()
    return None if lib is None else lib.tso3_moving_median_f32


def _detect_kernel() -> Callable | None:
    """The compiled median-and-flag pass, or None when it was not built."""
    lib = _library()
    return None if lib is None else lib.tso3_detect_f32


def kernel_available() -> bool:
    """True when moving medians use the compiled kernel (else bottleneck)."""
    return _kernel() is not None


def _check_status(status: int) -> None:
    if status != 0:
        raise MemoryError("moving median: cannot allocate the window buffers")


def _rows(a: np.ndarray) -> bool:
    """True if ``a`` is 2-D with contiguous elements in each row (any row stride)."""
    return a.ndim == 2 and (a.shape[1] <= 1 or a.strides[1] == a.itemsize)


def kernel_median(
    x: np.ndarray, good: np.ndarray | None, before: int, after: int, min_count: int
) -> np.ndarray | None:
    """Moving median of float32 ``(nints, npix)`` data with the compiled kernel.

    ``out[i] = median`` of the usable samples in ``x[i-before : i+after+1]`` (clipped
    to the array; usable = not NaN and ``good``), NaN where fewer than ``min_count``.
    Returns None when the kernel cannot do it (not built, other dtype, width outside
    ``2..KERNEL_MAX_WIDTH``); the caller then uses bottleneck.
    """
    func = _kernel()
    width = before + after + 1
    if func is None or x.dtype != np.float32 or not 2 <= width <= KERNEL_MAX_WIDTH:
        return None
    if not _rows(x):
        x = np.ascontiguousarray(x)
    gptr, gstride = None, 0
    if good is not None:
        good = np.asarray(good, dtype=bool)
        if not _rows(good):
            good = np.ascontiguousarray(good)
        gptr, gstride = good.ctypes.data, good.strides[0]
    out = np.empty(x.shape, dtype=np.float32)
    if out.size == 0:
        return out
    status = func(
        x.ctypes.data, x.strides[0] // 4, gptr, gstride, out.ctypes.data, out.shape[1],
        x.shape[0], x.shape[1], before, after, min_count,
    )  # fmt: skip
    _check_status(status)
    return out


def detect_supported(x: np.ndarray, err: np.ndarray, dq: np.ndarray, width: int) -> bool:
    """Whether :func:`kernel_detect` can take these inputs (else numpy does the work)."""
    return (
        _detect_kernel() is not None
        and 2 <= width <= KERNEL_MAX_WIDTH
        and x.dtype == np.float32
        and err.dtype == np.float32
        and dq.dtype.kind in "iu"
        and dq.dtype.itemsize == 4
        and dq.dtype.isnative  # not '>i4' straight from a FITS file
    )


def kernel_detect(
    x: np.ndarray,
    err: np.ndarray,
    dq: np.ndarray,
    bad_bits: int,
    width: int,
    snr: float,
    motion: tuple[np.ndarray, np.ndarray] | None,
    median: np.ndarray,
    flags: np.ndarray,
) -> int | None:
    """Default-mode median and flags of ``(nints, npix)`` columns in one compiled pass.

    Writes the centred moving median of the usable samples (not NaN, ``dq & bad_bits``
    zero), plus ``coeffs @ basis`` when ``motion = (coeffs, basis)`` is given, into
    ``median`` and ``usable & |x - median| > snr * err & err > 0`` into ``flags`` (both
    may be column slices of larger arrays).  Returns the number of usable samples whose
    ERR is NaN or <= 0 (not judged here), or None when the kernel cannot do it; the
    caller then computes everything itself.
    """
    func = _detect_kernel()
    if (
        not detect_supported(x, err, dq, width)
        or median.dtype != np.float32
        or flags.dtype != np.bool_
        or not all(_rows(a) for a in (median, flags))
    ):
        return None
    x, err = (a if _rows(a) else np.ascontiguousarray(a) for a in (x, err))
    dq = dq if _rows(dq) else np.ascontiguousarray(dq)
    cptr = bptr = None
    nmodes = bstride = 0
    if motion is not None:
        coeffs = np.ascontiguousarray(motion[0], dtype=np.float32)
        basis = np.asarray(motion[1], dtype=np.float32)
        basis = basis if _rows(basis) else np.ascontiguousarray(basis)
        nmodes, cptr, bptr, bstride = (
            coeffs.shape[1],
            coeffs.ctypes.data,
            basis.ctypes.data,
            (basis.strides[0] // 4),
        )
    unjudged = ctypes.c_int64(0)
    status = func(
        x.ctypes.data, x.strides[0] // 4, err.ctypes.data, err.strides[0] // 4,
        dq.ctypes.data, dq.strides[0] // 4, bad_bits & 0xFFFFFFFF, cptr, nmodes, bptr, bstride,
        snr, median.ctypes.data, median.strides[0] // 4, flags.ctypes.data, flags.strides[0],
        x.shape[0], x.shape[1], width // 2, (width - 1) // 2, ctypes.byref(unjudged),
    )  # fmt: skip
    _check_status(status)
    return unjudged.value


class BlockMap(Protocol):
    """What the steps' ``pool`` argument provides (e.g. :class:`tso3.parallel.Cores`).

    ``map(func, blocks)`` calls ``func`` on every block and returns the results in
    order, raising the first exception; ``workers`` is how many calls may run at once.
    """

    workers: int

    def map(self, func: Callable, blocks: Iterable) -> list: ...


def pool_workers(pool: BlockMap | None) -> int:
    """Calls that may run at once on ``pool`` (1 without one)."""
    return 1 if pool is None else max(1, int(pool.workers))


def work_dtype(dtype: np.dtype) -> np.dtype:
    """Float type the medians are computed in: float32 stays float32, others widen."""
    return np.result_type(dtype, np.float32)


def column_blocks(
    nints: int, npix: int, itemsize: int, threads: int, *, in_place: bool = False
) -> list[slice]:
    """Split ``npix`` columns into blocks of about ``_BLOCK_BYTES`` each.

    Blocks are also made small enough that every thread gets several of them, so
    that uneven blocks (e.g. all-NaN regions, which are cheap) do not idle a core.
    ``in_place`` is for work that makes no copy of its block (the compiled detection
    pass): only the second rule applies, as wide blocks read memory faster.
    """
    if npix == 0:
        return []
    width = max(1, _BLOCK_BYTES // max(1, itemsize * max(nints, 1)))
    if in_place:
        width = npix
    if threads > 1:
        width = min(width, max(1, -(-npix // (4 * threads))))
    return [slice(c, min(c + width, npix)) for c in range(0, npix, width)]


def run_blocks(func: Callable[[slice], None], blocks: list[slice], pool: BlockMap | None) -> None:
    """Call ``func(block)`` for every block, on ``pool`` (inline without one)."""
    if pool is None or pool_workers(pool) <= 1 or len(blocks) <= 1:
        for block in blocks:
            func(block)
        return
    pool.map(func, blocks)


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
    the series (truncated, not shifted, at the ends) for every width, so a series no
    longer than the window is no special case; NaN and not-``good`` samples are
    ignored.  Only ``width >= 2 * nints - 1`` gives every pixel its whole-series median.
    """
    n = x.shape[0]
    dtype = work_dtype(x.dtype)
    # a window never reaches past the series: clipping its two sides here changes no
    # window, and keeps it within bottleneck's (<= the padded length) and the kernel's limits
    before, after = min(width // 2, n - 1), min((width - 1) // 2, n - 1)
    if before == after == n - 1:  # every window is the whole series (or n == 1)
        buf = masked_copy(x, good, dtype)
        med = bn.nanmedian(buf, axis=0).astype(dtype, copy=False)
        return np.broadcast_to(med, x.shape).copy()
    if before + after == 0:
        return masked_copy(x, good, dtype)
    med = kernel_median(x, good, before, after, 1)
    if med is not None:
        return med
    # bottleneck's window is trailing: r[j] = median(buf[j-width+1 : j+1]).  Padding the
    # end with `after` NaN rows makes r[i + after] the centred window of i, truncated at
    # both ends (min_count=1 ignores the missing/NaN samples).
    buf = masked_copy(x, good, dtype, pad=after)
    med = bn.move_median(buf, before + after + 1, min_count=1, axis=0)
    return med[after:]


def jwst_median(x: np.ndarray, good: np.ndarray | None, width: int) -> np.ndarray:
    """jwst 3.0.0 rolling median of one column block (``1 < width < nints``), float64.

    ``np.median`` over each full window ``[s, s+width)`` with bad samples set to NaN,
    so any NaN in a window propagates (``min_count=width`` reproduces this exactly, and
    float32 bottleneck medians equal float32 ``np.median`` bit for bit, also for the
    mean of the two middle values of even windows).  Ends copy the nearest computed value.
    """
    n = x.shape[0]
    half = width // 2
    med = np.empty(x.shape, dtype=np.float64)
    # the window starting at s is centred (as jwst labels it) on s + half, which is the
    # kernel's window [i - width//2, i + (width-1)//2]; min_count=width blanks any
    # window holding a NaN, like np.median
    centred = kernel_median(x, good, half, width - half - 1, width)
    if centred is not None:
        med[half : n - width + half + 1] = centred[half : n - width + half + 1]
    else:
        buf = masked_copy(x, good, np.dtype(np.float32) if x.dtype == np.float32 else np.float64)
        trail = bn.move_median(buf, width, axis=0)  # min_count=None: all `width` finite
        med[half : n - width + half + 1] = trail[width - 1 :]
    med[:half] = med[half]
    if width % 2:
        med[n - half :] = med[n - half - 1]
    else:
        # jwst writes M[-half+1:] = M[-half]; for width=2 that is M[0:], overwriting
        # the whole cube with its last row.  Positive indices fill only the real edge.
        med[n - half + 1 :] = med[n - half]
    return med
