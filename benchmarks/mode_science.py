"""Science gates of every simulated mode: white-light depth against the truth, CR recall.

    python benchmarks/mode_science.py [MODE[:SUBARRAY] ...] [--nints N] [--seeds S ...]

For each mode (``tso3 simulate`` with its truth; default: every spectroscopic mode of
issue 29 that tso3 reduces), runs ``tso3.run`` (default mode) and reports, per white-light
column (detector / order / stripe):

* ``k``: least-squares scale of the injected white-light transit in the measured white
  light, on a linear baseline (``k = 1``: the injected depth), its error ``sigma_k``
  (from the residual scatter) and the pull ``(k - 1) / sigma_k``; the gate is
  ``|pull| <= 1``;
* CR recall: the fraction of injected cosmic rays (every amplitude the simulator draws,
  from 8 sigma up) that the crfints flag DO_NOT_USE, on pixels not already bad; the gate
  is ``>= 0.99``.
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

from soss_science import _fit as fit_transit  # k and its error on a linear baseline

DEFAULT_CASES = (
    "mir_lrs-fixedslit", "mir_lrs-slitless", "nrs_brightobj", "nrc_tsgrism",
    "nrc_tsgrism:SUB164STRIPE4_DHS",
)  # fmt: skip


def white_models(truth: dict) -> dict[str, np.ndarray]:
    """Injected white-light transit per whtlt column suffix (detector, order, DHS stripe;
    "" for the stripes' sum, each stripe weighted by its star's flux)."""
    models, weights = {}, {}
    for det, entry in truth["detectors"].items():
        if "orders" in entry:
            for order, sub in entry["orders"].items():
                models[f"order_{order}"] = np.asarray(sub["white_light_model"], float)
        else:
            models[det] = np.asarray(entry["white_light_model"], float)
            weights[det] = float(np.nansum(entry["star_flux_jy_per_column"]))
    stripes = [det for det in models if det.startswith("STRIPE")]
    if len(stripes) > 1:
        total = sum(weights[d] for d in stripes)
        models[""] = sum(weights[d] * models[d] for d in stripes) / total
    return models


def cr_recall(truth: dict, out: Path) -> float:
    """Fraction of injected cosmic rays on good pixels flagged DO_NOT_USE in the crfints."""
    found = total = 0
    for det, entry in truth["detectors"].items():
        if det.startswith("STRIPE"):  # NIRCam DHS: a slit (EXTVER) of every crfints
            files, ext = sorted(out.glob("*_crfints.fits")), ("DQ", int(det[6:]))
        else:
            files, ext = sorted(out.glob(f"*_{det.lower()}_*_crfints.fits")), "DQ"
        dq = np.concatenate([fits.getdata(p, ext) for p in files])
        bad = {(y, x) for y, x in entry["bad_pixels"]} if entry.get("bad_pixels") else set()
        hits = [(t, y, x) for t, y, x, *_ in entry["cosmic_rays"] if (y, x) not in bad]
        total += len(hits)
        found += sum(bool(dq[t, y, x] & 1) for t, y, x in hits)
    return found / max(total, 1)


def measure(root: Path, case: str, nints: int | None, seed: int) -> list[dict]:
    """Simulate (cached), reduce and score one observation."""
    import tso3
    from tso3.simulate import simulate

    mode, _, subarray = case.partition(":")
    tag = f"{mode}_{subarray or 'default'}_{nints}_{seed}"
    sim_dir = root / f"sim_{tag}"
    if not (sim_dir / "DONE").exists():
        shutil.rmtree(sim_dir, ignore_errors=True)
        simulate(mode, sim_dir, nints=nints, segments=2, seed=seed, subarray=subarray or None)
        (sim_dir / "DONE").write_text("ok")
    truth = json.loads(next(sim_dir.glob("*_truth.json")).read_text())
    out = root / f"out_{tag}"
    tso3.run(next(sim_dir.glob("*_asn.json")), out, overwrite=True, plots=False, quiet=True)
    white = Table.read(next(out.glob("*_whtlt.ecsv")))
    recall = cr_recall(truth, out)
    rows = []
    models = white_models(truth)
    for suffix, model in models.items():
        col = f"whitelight_flux_{suffix}"
        if not suffix or col not in white.colnames:
            col = "whitelight_flux"
        k, sigma, _ = fit_transit(np.asarray(white[col], float), model)
        rows.append({"case": case, "seed": seed, "nints": truth["nints"], "column": col,
                     "k": k, "sigma_k": sigma, "pull": (k - 1.0) / sigma,
                     "cr_recall": recall})  # fmt: skip
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", default=list(DEFAULT_CASES))
    parser.add_argument("--nints", type=int, default=None, help="default: the mode's")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--cache", default=os.environ.get("TSO3_BENCH_CACHE", "/tmp/tso3-bench"))
    args = parser.parse_args(argv)
    root = Path(args.cache) / "mode_science"
    root.mkdir(parents=True, exist_ok=True)
    print("| mode | seed | nints | white light | k | sigma_k | pull | CR recall |")
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    for case in args.cases:
        for seed in args.seeds:
            for r in measure(root, case, args.nints, seed):
                print(
                    f"| {r['case']} | {r['seed']} | {r['nints']} | {r['column']} | "
                    f"{r['k']:.4f} | {r['sigma_k']:.4f} | {r['pull']:+.2f} | "
                    f"{r['cr_recall']:.4f} |",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
