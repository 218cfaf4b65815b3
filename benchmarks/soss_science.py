"""NIS_SOSS science gates on simulated transits: depths and scatter per order.

    python benchmarks/soss_science.py [--nints N] [--seeds S [S ...]] [--cache DIR]

For SUBSTRIP256 and SUBSTRIP96 observations (``tso3.simulate``, with truth), runs
``tso3.run`` (default mode, binned light curves on) and reports per order:

* white-light depth: least-squares scale ``k`` of the injected white-light transit of
  the order (``k = 1``: the injected depth) and its pull ``(k - 1) / sigma_k``;
* spectroscopic depths: the pull of each bin's fitted depth against the injected
  depth (star-weighted over the bin's columns); the fraction within 2 sigma;
* white-light scatter: rms of the residuals over the photon + read-noise limit of the
  box (star + background electrons and read noise of every box pixel, from the truth).

The gates (issue 15): |pull| <= 1 for the white light, >= 95 % of bins within 2 sigma,
scatter <= 1.10 x the limit.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

SUBARRAYS = {"SUBSTRIP256": (256, 2048), "SUBSTRIP96": (96, 2048)}


def _fit(flux: np.ndarray, model: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Scale k of ``1 - model`` in the normalised flux, its error and the residuals.

    ``flux = F0 (1 + s t) - F0 k (1 - model)``, a transit on a linear baseline (the
    pointing drift moves a little light across the subarray edge in SUBSTRIP96).
    """
    shape = 1.0 - np.asarray(model, float)
    oot = shape < 1e-6  # the truth models are float32
    y = flux / np.nanmedian(flux[oot])
    good = np.isfinite(y)
    t = np.linspace(-0.5, 0.5, y.size)[good]
    a = np.vstack([np.ones(good.sum()), t, -shape[good]]).T
    coef, *_ = np.linalg.lstsq(a, y[good], rcond=None)
    resid = y[good] - a @ coef
    f0, f0k = coef[0], coef[2]
    cov = np.linalg.inv(a.T @ a) * np.var(resid, ddof=3)
    return float(f0k / f0), float(np.sqrt(cov[2, 2]) / f0), resid / f0


def _limit(truth: dict, order: str, width: float, subarray: str, ny: int) -> float:
    """Relative photon + read-noise limit of the order's white light per integration."""
    from tso3.simulate.soss import background

    p = truth["params"]
    entry = truth["detectors"]["NIS"]["orders"][order]
    star = np.asarray(entry["star_electrons_per_column"], float)
    trace = np.asarray(entry["trace_per_column"], float)
    substrt2 = {"SUBSTRIP256": 1793, "SUBSTRIP96": 1803}[subarray]
    bkg = background(float(p["background"]), (ny, star.size), substrt2).astype(float)
    rows = np.arange(ny)[:, None]
    inside = np.abs(rows - trace[None, :]) <= width / 2.0  # NaN trace: nothing
    npix = inside.sum(axis=0)
    var = star.sum() + (bkg * inside).sum() + npix.sum() * float(p["read_noise"]) ** 2
    return float(np.sqrt(var) / star.sum())


def _bins(speclc: Path, order: int):
    with fits.open(speclc) as hdul:
        for i, hdu in enumerate(hdul):
            if hdu.name == "SPECLC" and int(hdu.header.get("SPORDER", 1)) == order:
                bins = hdul[i + 1].data
                return hdu.data["FLUX"].astype(float), bins["WAVE_LO"], bins["WAVE_HI"]
    raise LookupError(f"no SPECLC of order {order} in {speclc}")


def measure(root: Path, subarray: str, nints: int, seed: int) -> list[dict]:
    """Simulate (cached), reduce and score one observation."""
    import tso3
    from tso3.simulate import simulate

    sim_dir = root / f"soss_{subarray}_{nints}_{seed}"
    if not (sim_dir / "DONE").exists():
        shutil.rmtree(sim_dir, ignore_errors=True)
        simulate("nis_soss", sim_dir, nints=nints, segments=3, seed=seed,
                 shape=SUBARRAYS[subarray])  # fmt: skip
        (sim_dir / "DONE").write_text("ok")
    sim = json.loads(next(sim_dir.glob("*_truth.json")).read_text())
    out = root / f"out_{subarray}_{nints}_{seed}"
    tso3.run(next(sim_dir.glob("*_asn.json")), out, overwrite=True, plots=False, quiet=True,
             overrides=["white_light.nbins=20"])  # fmt: skip
    white = Table.read(next(out.glob("*_whtlt.ecsv")))
    speclc = next(out.glob("*_speclc.fits"))
    rows = []
    for order, entry in sim["detectors"]["NIS"]["orders"].items():
        col = "whitelight_flux_order_" + order
        if col not in white.colnames:
            col = "whitelight_flux"
        model = np.asarray(entry["white_light_model"], float)
        k, sigma_k, resid = _fit(np.asarray(white[col], float), model)
        limit = _limit(sim, order, 40.0, subarray, SUBARRAYS[subarray][0])
        flux, lo, hi = _bins(speclc, int(order))
        lam = np.asarray(entry["wavelength_per_column"], float)
        depth = np.asarray(entry["depth_per_column"], float)
        weight = np.asarray(entry["star_electrons_per_column"], float)
        pulls = []
        for b in range(flux.shape[1]):
            inside = (lam >= lo[b]) & (lam < hi[b]) & np.isfinite(depth) & (weight > 0)
            if not inside.any():
                continue
            # the bin's own transit shape: the white-light shape scaled to the bin's depth
            expected = np.average(depth[inside], weights=weight[inside])
            wl_depth = np.average(
                depth[np.isfinite(depth) & (weight > 0)],
                weights=weight[np.isfinite(depth) & (weight > 0)],
            )
            kb, sb, _ = _fit(flux[:, b], model)
            pulls.append((kb * wl_depth - expected) / (sb * wl_depth))
        pulls = np.array(pulls)
        rows.append({
            "subarray": subarray, "seed": seed, "order": int(order),
            "white_k": k, "white_pull": (k - 1.0) / sigma_k,
            "bins": len(pulls), "within_2sigma": float(np.mean(np.abs(pulls) <= 2.0)),
            "rms_pull": float(np.sqrt(np.mean(pulls**2))),
            "scatter_ppm": 1e6 * float(np.std(resid)), "limit_ppm": 1e6 * limit,
            "scatter_over_limit": float(np.std(resid) / limit),
        })  # fmt: skip
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nints", type=int, default=400)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--subarrays", nargs="+", default=list(SUBARRAYS), choices=SUBARRAYS)
    parser.add_argument("--cache", default=os.environ.get("TSO3_BENCH_CACHE", "/tmp/tso3-bench"))
    args = parser.parse_args(argv)
    root = Path(args.cache) / "soss_science"
    root.mkdir(parents=True, exist_ok=True)
    print("| subarray | seed | order | white k | white pull | bins | within 2 sigma | rms pull |"
          " scatter [ppm] | limit [ppm] | scatter / limit |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for subarray in args.subarrays:
        for seed in args.seeds:
            for r in measure(root, subarray, args.nints, seed):
                print(
                    f"| {r['subarray']} | {r['seed']} | {r['order']} | {r['white_k']:.4f} | "
                    f"{r['white_pull']:+.2f} | {r['bins']} | {100 * r['within_2sigma']:.0f} % | "
                    f"{r['rms_pull']:.2f} | {r['scatter_ppm']:.0f} | {r['limit_ppm']:.0f} | "
                    f"{r['scatter_over_limit']:.3f} |",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
