"""Benchmark of the TSO outlier pass against the read floor and a jwst-style loop.

Makes a spectroscopic-looking time series (default 6000 x 32 x 512 float32, 4 segments:
a trace with a 2 % transit, Poisson + read noise, cosmic rays, bad pixels and one lost
integration), writes the segments as FITS files to a temporary directory, then times

(a) reading SCI, ERR and DQ of every segment once (memory-mapped, then materialised
    into native-endian arrays; the floor every step is measured against),
(b) ``tso3.steps.outliers.detect_outliers`` (rolling median + flagging, default mode),
(c) the straightforward loop ``M[s+w//2] = np.median(sci[s:s+w], axis=0)`` per window.

Run: ``python benchmarks/bench_outliers.py [--nints 6000] [--baseline-windows N]``.
"""

from __future__ import annotations

import argparse
import gc
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from astropy.io import fits

from tso3.dqflags import DO_NOT_USE
from tso3.parallel import Cores, cores
from tso3.steps.outliers import detect_outliers


def make_segment(rng, start: int, nseg: int, nints: int, ny: int, nx: int):
    """One segment of a spectral time series; returns sci, err, dq, injected CR mask."""
    t = np.arange(start, start + nseg)
    # 2 % transit, linear ingress/egress of 5 % of the series, centred
    t1, t4, tin = 0.3 * nints, 0.7 * nints, 0.05 * nints
    lc = 1.0 - 0.02 * np.clip(np.minimum(t - t1, t4 - t) / tin, 0.0, 1.0)
    y = np.arange(ny)[:, None]
    x = np.arange(nx)[None, :]
    spectrum = 2.0e4 * np.exp(-0.5 * ((x - 0.4 * nx) / (0.3 * nx)) ** 2) + 500.0
    profile = np.exp(-0.5 * ((y - ny / 2) / 1.5) ** 2)
    flux0 = (30.0 + spectrum * profile).astype(np.float32)  # e- per integration
    err = np.sqrt(flux0 * lc[:, None, None].astype(np.float32) + 10.0**2, dtype=np.float32)
    sci = flux0 * lc[:, None, None].astype(np.float32)
    sci += err * rng.standard_normal(sci.shape, dtype=np.float32)
    hits = rng.random(sci.shape, dtype=np.float32) < 3e-4
    amp = np.exp(rng.uniform(np.log(10.5), np.log(1000.0), int(hits.sum()))).astype(np.float32)
    sci[hits] += amp * err[hits]
    dq = np.zeros(sci.shape, np.uint32)
    dq[:, rng.random((ny, nx)) < 0.005] = DO_NOT_USE  # bad pixels
    if start <= nints // 2 < start + nseg:  # one lost integration
        dq[nints // 2 - start] = DO_NOT_USE
        sci[nints // 2 - start] = np.nan
    return sci, err, dq, hits


def write_segments(tmp: Path, args) -> tuple[list[Path], np.ndarray]:
    rng = np.random.default_rng(2024)
    paths, hits_all = [], []
    bounds = np.linspace(0, args.nints, args.segments + 1).astype(int)
    for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        sci, err, dq, hits = make_segment(rng, a, b - a, args.nints, args.ny, args.nx)
        path = tmp / f"seg{k + 1:03d}_calints.fits"
        hdus = [fits.PrimaryHDU(), fits.ImageHDU(sci, name="SCI"), fits.ImageHDU(err, name="ERR")]
        hdus.append(fits.ImageHDU(dq, name="DQ"))  # astropy stores uint32 as int32 + BZERO
        fits.HDUList(hdus).writeto(path)
        paths.append(path)
        hits_all.append(hits)
        del sci, err, dq
    return paths, np.concatenate(hits_all)


def read_segments(paths: list[Path], nints: int, shape: tuple[int, int]):
    """Read SCI, ERR, DQ of all segments into native arrays (memmap, then one copy)."""
    sci = np.empty((nints, *shape), np.float32)
    err = np.empty_like(sci)
    dq = np.empty((nints, *shape), np.uint32)
    i = 0
    for path in paths:
        # do_not_scale_image_data keeps DQ memory-mapped (BZERO would force a scaled copy)
        with fits.open(path, memmap=True, do_not_scale_image_data=True) as hdul:
            n = hdul["SCI"].shape[0]
            sci[i : i + n] = hdul["SCI"].data  # big-endian -> native in the copy
            err[i : i + n] = hdul["ERR"].data
            raw = hdul["DQ"].data  # int32 = uint32 - 2**31: flipping bit 31 undoes BZERO
            np.bitwise_xor(raw.view(">u4"), np.uint32(1 << 31), out=dq[i : i + n])
            i += n
    return sci, err, dq


def baseline(sci: np.ndarray, w: int, windows: int | None) -> tuple[float, int]:
    """jwst-style loop over windows; returns (seconds for all windows, windows timed)."""
    n = sci.shape[0]
    total = n - w + 1
    todo = total if windows is None else min(windows, total)
    med = np.empty((todo, *sci.shape[1:]), np.float64)
    t0 = time.perf_counter()
    for s in range(todo):
        med[s] = np.median(sci[s : s + w], axis=0)
    dt = time.perf_counter() - t0
    return dt * total / todo, todo


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nints", type=int, default=6000)
    p.add_argument("--ny", type=int, default=32)
    p.add_argument("--nx", type=int, default=512)
    p.add_argument("--segments", type=int, default=4)
    p.add_argument("--width", type=int, default=25)
    p.add_argument("--repeat", type=int, default=3, help="best of N for (a) and (b)")
    p.add_argument(
        "--baseline-windows",
        type=int,
        default=None,
        help="time only this many windows of (c) and extrapolate (default: all)",
    )
    args = p.parse_args()
    shape = (args.ny, args.nx)
    gb = args.nints * args.ny * args.nx * 12 / 1e9
    print(f"cube {args.nints} x {args.ny} x {args.nx}, {args.segments} segments, {gb:.2f} GB")
    print(f"threads: {cores()}")

    with tempfile.TemporaryDirectory(prefix="bench_outliers_") as tmpdir:
        t0 = time.perf_counter()
        paths, hits = write_segments(Path(tmpdir), args)
        print(f"data written in {time.perf_counter() - t0:.1f} s")

        t_read = []
        for _ in range(args.repeat):
            gc.collect()
            t0 = time.perf_counter()
            sci, err, dq = read_segments(paths, args.nints, shape)
            t_read.append(time.perf_counter() - t0)
            if _ < args.repeat - 1:
                del sci, err, dq
        with fits.open(paths[0]) as hdul:  # check the fast DQ decoding against astropy
            assert np.array_equal(hdul["DQ"].data, dq[: hdul["DQ"].shape[0]])

    timings = {}
    for label, kw in [("(b) detect_outliers", {"pool": Cores()}), ("(b1) same, 1 thread", {})]:
        ts = []
        for _ in range(args.repeat if kw else 1):
            gc.collect()
            t0 = time.perf_counter()
            res = detect_outliers(sci, err, dq, rolling_window_width=args.width, **kw)
            ts.append(time.perf_counter() - t0)
        timings[label] = min(ts)
        del res

    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    res = detect_outliers(sci, err, dq, rolling_window_width=args.width, pool=Cores())
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    result_bytes = res.median.nbytes + res.outliers.nbytes

    seg_bounds = np.linspace(0, args.nints, args.segments + 1).astype(int)
    t0 = time.perf_counter()
    for a, b in zip(seg_bounds[:-1], seg_bounds[1:], strict=True):
        detect_outliers(
            sci[a:b], err[a:b], dq[a:b], rolling_window_width=args.width, mode="jwst", pool=Cores()
        )
    timings["(b2) mode=jwst, per segment"] = time.perf_counter() - t0

    t_base, nwin = baseline(sci, args.width, args.baseline_windows)

    usable = hits & np.isfinite(sci) & ((dq & DO_NOT_USE) == 0)
    recovered = np.count_nonzero(res.outliers & usable) / max(1, np.count_nonzero(usable))
    extra = np.count_nonzero(res.outliers & ~hits)

    floor = min(t_read)
    print()
    print(f"{'step':34s} {'seconds':>9s} {'x read':>8s}")
    print(f"{'(a) read SCI+ERR+DQ (best)':34s} {floor:9.2f} {1.0:8.2f}")
    print(f"{'    read, first pass':34s} {t_read[0]:9.2f} {t_read[0] / floor:8.2f}")
    for label, t in timings.items():
        print(f"{label:34s} {t:9.2f} {t / floor:8.2f}")
    note = "" if nwin == args.nints - args.width + 1 else f"  (extrapolated from {nwin} windows)"
    print(f"{'(c) np.median window loop':34s} {t_base:9.2f} {t_base / floor:8.2f}{note}")
    print()
    tb = timings["(b) detect_outliers"]
    print(f"(b)/(a) = {tb / floor:.2f}   (target <= 1.5)")
    print(f"(c)/(b) = {t_base / tb:.1f}   (target >= 20)")
    print(
        f"peak traced memory during (b): {peak / 1e6:.0f} MB "
        f"(of which results {result_bytes / 1e6:.0f} MB; inputs {gb * 1e3:.0f} MB not counted)"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    print(f"process max RSS: {rss:.0f} MB")
    print(
        f"injected CRs on usable samples flagged: {recovered:.4%}; "
        f"other flags: {extra} ({extra / sci.size:.1e} of samples)"
    )


if __name__ == "__main__":
    main()
