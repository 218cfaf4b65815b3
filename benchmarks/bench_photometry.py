"""Imaging TSO photometry speed against the time to read the cube once.

10 000 integrations of 64 x 256 float32 (a jittering Gaussian star on a background, with
noise) are written to FITS in a temporary directory.  The floor is reading SCI once into
a native-endian float32 array; the measured work is both centroid passes, the PSF widths
and aperture photometry (default mode, with a model cube).  Run:

    python benchmarks/bench_photometry.py [--nints N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from astropy.io import fits
from scipy.special import erf

from tso3.steps.photometry import aperture_photometry
from tso3.steps.tso_photometry import (
    aperture_centre,
    locate_source,
    measure_centroids,
    tso_photometry,
)


def make_cube(
    n: int, ny: int = 64, nx: int = 256, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian star (sigma 1.3 px, 1e6 e-) with 0.05 px jitter, background 50, noise.

    Returns the cube and the true x and y of the star per integration.
    """
    rng = np.random.default_rng(seed)
    cube = np.empty((n, ny, nx), np.float32)
    truth_x, truth_y = np.empty(n), np.empty(n)
    x, y = np.arange(nx), np.arange(ny)
    for start in range(0, n, 1000):
        m = min(1000, n - start)
        xc = 127.3 + rng.normal(0, 0.05, (m, 1))
        yc = 31.6 + rng.normal(0, 0.05, (m, 1))
        truth_x[start : start + m], truth_y[start : start + m] = xc[:, 0], yc[:, 0]
        s = np.sqrt(2) * 1.3
        ex = 0.5 * (erf((x - xc + 0.5) / s) - erf((x - xc - 0.5) / s))
        ey = 0.5 * (erf((y - yc + 0.5) / s) - erf((y - yc - 0.5) / s))
        star = 1e6 * ey[:, :, None] * ex[:, None, :]
        noise = rng.standard_normal((m, ny, nx), dtype=np.float32)
        cube[start : start + m] = 50.0 + star + noise * np.sqrt(50.0 + star + 100.0)
    return cube, truth_x, truth_y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nints", type=int, default=10_000)
    args = parser.parse_args()
    cube, truth_x, truth_y = make_cube(args.nints)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench_calints.fits"
        fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(cube, name="SCI")]).writeto(path)
        del cube
        t0 = time.perf_counter()
        with fits.open(path, memmap=True) as hdul:
            sci = np.asarray(hdul["SCI"].data, dtype=np.float32)  # big-endian -> native
        t_read = time.perf_counter() - t0
    err = np.sqrt(np.abs(sci) + 100.0)
    valid = np.ones(sci.shape, bool)
    sci[::100, 31, 127] = np.nan  # a hit in the core of 1 % of the integrations
    valid[::100, 31, 127] = False
    model = np.broadcast_to(np.nanmedian(sci[:200], axis=0), sci.shape)

    timings = {}
    t0 = time.perf_counter()
    step = max(1, sci.shape[0] // 1000)  # as tso_photometry in default mode
    cx1, cy1 = locate_source(sci[::step], valid[::step], 126.0, 33.0)
    timings["centroid pass 1 (41 px box, 1000 ints)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    cent = measure_centroids(sci, valid, float(np.nanmedian(cx1)), float(np.nanmedian(cy1)))
    timings["centroid pass 2 + PSF widths"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    xa, ya = aperture_centre(cent["centroid_x"], cent["centroid_y"])
    cols = aperture_photometry(sci, err, valid, xa, ya, [3.0, 4.0, 5.0], 6.0, 9.0, model=model)
    timings["aperture photometry (3 radii, repair)"] = time.perf_counter() - t0

    extra = {}
    t0 = time.perf_counter()
    aperture_photometry(
        sci, err, valid, cent["centroid_x"], cent["centroid_y"], 3.0, 6.0, 9.0, model=model
    )
    extra["moving aperture photometry"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    tso_photometry(sci, err, valid, 126.0, 33.0, mode="jwst")
    extra["whole flow, --mode jwst (frame medians)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    tso_photometry(sci, err, None, 126.0, 33.0, model=model)
    extra["whole flow, default, valid=None"] = time.perf_counter() - t0

    total = sum(timings.values())
    print(f"cube: {sci.shape} float32, {sci.nbytes / 1e6:.0f} MB")
    print(f"read once (page cache, to native float32): {t_read:6.2f} s")
    for name, t in timings.items():
        print(f"  {name:40s} {t:6.2f} s  ({t / t_read:4.2f} x read)")
    print(f"  {'total':40s} {total:6.2f} s  ({total / t_read:4.2f} x read)")
    for name, t in extra.items():
        print(f"  {'(' + name + ')':40s} {t:6.2f} s  ({t / t_read:4.2f} x read)")
    dx = cent["centroid_x"] - truth_x
    dy = cent["centroid_y"] - truth_y
    print(f"  centroid error rms (x, y): {np.nanstd(dx):.4f}, {np.nanstd(dy):.4f} px")
    print(
        f"  PSF sigma median (x, y): {np.nanmedian(cent['psf_width_x']):.4f}, "
        f"{np.nanmedian(cent['psf_width_y']):.4f} px (1.3 injected)"
    )
    print(f"  repaired integrations: {int((cols['n_repaired'] > 0).sum())}")


if __name__ == "__main__":
    main()
