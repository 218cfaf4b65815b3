"""Benchmark: extraction (+ background, trace, repair) vs. reading the inputs once.

Writes a synthetic 6000 x 32 x 512 float32 segment (SCI, ERR, DQ, VAR_POISSON,
VAR_RNOISE, VAR_FLAT) with a tilted trace, noise, a background gradient and scattered
NaN pixels to a temporary directory, then times

* read: loading SCI, ERR, VAR_POISSON, VAR_RNOISE, VAR_FLAT into native arrays once;
* trace + aperture + model: median image, ``find_trace``, ``default_aperture``,
  ``profile_model`` (once per segment);
* extraction: ``extract_block`` (background, box sum with repair, trace motion) over
  integration blocks, for the default and the jwst-compatible settings.

Run: ``python benchmarks/bench_extract.py [--nints N] [--block B]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import bottleneck as bn
import numpy as np
from astropy.io import fits

from tso3.steps.aperture import default_aperture
from tso3.steps.extract import ExtractParams, extract_block, profile_model
from tso3.steps.trace import find_trace

EXTS = ("SCI", "ERR", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT")


def make_segment(path: Path, nints: int, ny: int, nx: int, seed: int = 1) -> None:
    """Write a synthetic calints-like FITS file, in integration chunks to bound memory."""
    rng = np.random.default_rng(seed)
    y = np.arange(ny)[:, None]
    x = np.arange(nx)[None, :]
    center = 15.3 + 0.003 * (x - nx / 2)
    star = 200.0 * np.exp(-0.5 * ((y - center) / 1.1) ** 2) * (1 + 0.3 * np.sin(x / 50))
    sky = 3.0 + 0.05 * (y - ny / 2)
    image = (star + sky).astype(np.float32)
    hdus = [fits.PrimaryHDU()]
    for name in EXTS:
        hdus.append(fits.ImageHDU(np.zeros((1, 1, 1), np.float32), name=name))
    fits.HDUList(hdus).writeto(path, overwrite=True)
    # Fill each extension chunk by chunk (written as big-endian float32 like real data).
    with fits.open(path, mode="update") as hdul:
        for name in EXTS:
            hdul[name].data = np.zeros((nints, ny, nx), np.float32)
        step = 1000
        for i0 in range(0, nints, step):
            n = min(step, nints - i0)
            noise = rng.normal(0.0, 1.0, (n, ny, nx)).astype(np.float32)
            sci = image[None] + noise * np.sqrt(np.abs(image) * 0.01 + 0.5, dtype=np.float32)
            holes = rng.random((n, ny, nx)) < 2e-4
            sci[holes] = np.nan
            vp = np.broadcast_to(np.abs(image) * 0.01, sci.shape).astype(np.float32)
            vr = np.full(sci.shape, 0.5, np.float32)
            vf = np.full(sci.shape, 1e-4, np.float32)
            for arr in (vp, vr, vf):
                arr[holes] = np.nan
            hdul["SCI"].data[i0 : i0 + n] = sci
            hdul["ERR"].data[i0 : i0 + n] = np.sqrt(vp + vr + vf)
            hdul["VAR_POISSON"].data[i0 : i0 + n] = vp
            hdul["VAR_RNOISE"].data[i0 : i0 + n] = vr
            hdul["VAR_FLAT"].data[i0 : i0 + n] = vf


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Read every float extension once into native-endian arrays (the I/O floor)."""
    out = {}
    with fits.open(path, memmap=False) as hdul:
        for name in EXTS:
            out[name] = np.asarray(hdul[name].data, dtype=np.float32)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nints", type=int, default=6000)
    parser.add_argument("--ny", type=int, default=32)
    parser.add_argument("--nx", type=int, default=512)
    parser.add_argument("--block", type=int, default=500)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench_calints.fits"
        t0 = time.perf_counter()
        make_segment(path, args.nints, args.ny, args.nx)
        print(f"wrote {path.stat().st_size / 1e9:.2f} GB in {time.perf_counter() - t0:.1f} s")
        read_arrays(path)  # warm the page cache so both timings see the same storage
        t0 = time.perf_counter()
        arrays = read_arrays(path)
        t_read = time.perf_counter() - t0
        sci = arrays["SCI"]
        vp, vr, vf = arrays["VAR_POISSON"], arrays["VAR_RNOISE"], arrays["VAR_FLAT"]

        t0 = time.perf_counter()
        med = bn.nanmedian(sci[:: max(1, args.nints // 500)], axis=0)
        trace = find_trace(med)
        ap = default_aperture(med.shape, trace.center, extract_width=8.0, bkg_gap=3.0)
        model = profile_model(med, ap)
        t_setup = time.perf_counter() - t0

        timings = {}
        for label, params in (
            ("default (bkg + box + repair + trace)", ExtractParams()),
            ("jwst (bkg + box, drop NaN)", ExtractParams(repair=None, measure_trace=False)),
        ):
            t0 = time.perf_counter()

            def run(i0, params=params):
                sl = slice(i0, i0 + args.block)
                return extract_block(
                    sci[sl], vp[sl], vr[sl], vf[sl], aperture=ap, params=params, model=model
                )

            # numpy releases the GIL in the array passes, so blocks run on threads.
            with ThreadPoolExecutor(args.threads) as pool:
                outs = list(pool.map(run, range(0, args.nints, args.block)))
            n_rep = sum(int(o["n_repaired"].sum()) for o in outs)
            timings[label] = time.perf_counter() - t0
            print(f"  {label}: repaired {n_rep} pixels")

        shape = f"{args.nints} x {args.ny} x {args.nx}"
        print(f"\nshape {shape}, block {args.block}, threads {args.threads}")
        print(f"read SCI+ERR+3 VAR once:      {t_read:7.2f} s  (1.00 x read)")
        print(f"median + trace + aperture:    {t_setup:7.2f} s  ({t_setup / t_read:.2f} x read)")
        for label, t in timings.items():
            print(f"{label:30s}{t:7.2f} s  ({t / t_read:.2f} x read)")


if __name__ == "__main__":
    main()
