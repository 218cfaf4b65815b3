"""Every product value of every mode, to show that a refactoring changes none.

    python benchmarks/products_equal.py snapshot OUT.npz [--work DIR]
    python benchmarks/products_equal.py compare BEFORE.npz AFTER.npz [--rtol R]

``snapshot`` simulates each mode (fixed seeds), runs ``tso3.run`` in the default mode and
in ``--mode jwst``, and stores every numeric column of the x1dints, whtlt, phot and
speclc, and the SCI and DQ of the crfints.  ``compare`` says which arrays differ (NaN
equal to NaN, nothing else tolerated) and exits 1 if any does.  Run ``snapshot`` on the
commit before the change and on the change, with the same tso3 build (compiled kernel).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

MODES = {  # simulate() arguments: small, but every route (two orders, two detectors)
    "nrc_tsimage": {},
    "mir_image": {},
    "nrs_brightobj": {"detectors": ("NRS1", "NRS2")},
    "nrc_tsgrism": {},
    "mir_lrs-slitless": {},
    "nis_soss": {},
}


def _arrays(folder: Path) -> dict[str, np.ndarray]:
    from astropy.io import fits
    from astropy.table import Table

    out = {}
    for path in sorted(folder.iterdir()):
        if path.name.endswith(".ecsv"):
            table = Table.read(path)
            for name in table.colnames:
                if table[name].dtype.kind in "fiu":
                    out[f"{path.name}:{name}"] = np.asarray(table[name])
        elif path.name.endswith(".fits"):
            with fits.open(path) as hdul:
                for k, hdu in enumerate(hdul):
                    if hdu.name in ("SCI", "DQ"):
                        out[f"{path.name}:{k}:{hdu.name}"] = np.asarray(hdu.data)
                    elif isinstance(hdu, fits.BinTableHDU) and hdu.name != "ASDF":
                        for name in hdu.columns.names:
                            if hdu.data[name].dtype.kind in "fiu":
                                out[f"{path.name}:{k}:{name}"] = np.asarray(hdu.data[name])
    return out


def snapshot(path: Path, work: Path) -> None:
    from tso3 import run
    from tso3.simulate import simulate

    arrays = {}
    for mode, options in MODES.items():
        sim = simulate(mode, work / mode, nints=60, segments=2, seed=11, **options)
        for how in ("default", "jwst"):
            out = work / f"{mode}-{how}"
            run(sim.asn_path, out, mode=how, plots=False, quiet=True, overwrite=True,
                overrides=["white_light.nbins=5"] if "image" not in mode else [])  # fmt: skip
            arrays.update({f"{mode}-{how}/{k}": v for k, v in _arrays(out).items()})
    np.savez_compressed(path, **arrays)
    print(f"{len(arrays)} arrays -> {path}")


def compare(before: Path, after: Path, rtol: float = 0.0) -> int:
    """Exit status 1 when an array differs (with ``rtol``: by more than that, relative to
    the array's largest value; NaN must stay NaN)."""
    a, b = np.load(before), np.load(after)
    problems = [f"only before: {k}" for k in sorted(set(a) - set(b))]
    problems += [f"only after: {k}" for k in sorted(set(b) - set(a))]
    close = []
    for key in sorted(set(a) & set(b)):
        x, y = a[key], b[key]
        if x.shape == y.shape and np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
            continue
        if x.shape != y.shape or not rtol or x.dtype.kind not in "fiu":
            problems.append(f"differs: {key}")
            continue
        nan = np.isnan(x) if x.dtype.kind == "f" else np.zeros(x.shape, bool)
        scale = float(np.nanmax(np.abs(x))) if (~nan).any() else 0.0
        worst = float(np.nanmax(np.abs(x - y)[~nan])) / scale if scale else 0.0
        if (nan != (np.isnan(y) if y.dtype.kind == "f" else False)).any() or worst > rtol:
            problems.append(f"differs: {key} (largest relative difference {worst:.2g})")
        else:
            close.append(f"within rtol: {key} ({worst:.2g})")
    print("\n".join(close + problems) or f"all {len(a.files)} arrays equal")
    if not problems:
        print(f"{len(a.files) - len(close)} of {len(a.files)} arrays equal, "
              f"{len(close)} within {rtol:g}")  # fmt: skip
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    snap = sub.add_parser("snapshot")
    snap.add_argument("out", type=Path)
    snap.add_argument("--work", type=Path)
    comp = sub.add_parser("compare")
    comp.add_argument("before", type=Path)
    comp.add_argument("after", type=Path)
    comp.add_argument(
        "--rtol",
        type=float,
        default=0.0,
        help="tolerated difference, relative to each array's largest value",
    )
    args = parser.parse_args()
    if args.command == "compare":
        return compare(args.before, args.after, args.rtol)
    with tempfile.TemporaryDirectory() as tmp:
        snapshot(args.out, args.work or Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
