"""``tso3 sweep`` against one ``tso3 run`` and against the same grid run one by one.

    python benchmarks/sweep.py [--nints 2000] [--repeats 3] [--cache DIR]

Simulates (cached) a NIRSpec BOTS PRISM observation of ``--nints`` integrations of
32 x 512 in 4 segments, then times, each in a fresh process as a user runs them (plots
off): one ``tso3 run``; ``tso3 sweep`` over three grids of 24 configurations: box
extraction with one outlier setting (extract_width x bkg_order x repair), box extraction
with two outlier settings (extract_width x bkg_order x snr), and half of them optimal
extraction (extract_width x bkg_order x extraction_type); and the first grid as 24
``tso3 run``.  Prints a Markdown table (wall seconds, ranges over ``--repeats``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ONE_SETTING = ["extract_1d.extract_width=4,6,8,10", "extract_1d.bkg_order=0,1,2",
               "extract_1d.repair=true,false"]  # fmt: skip
TWO_SETTINGS = ["extract_1d.extract_width=4,6,8,10", "extract_1d.bkg_order=0,1,2",
                "outlier_detection.snr=4,5"]  # fmt: skip
# optimal extraction is measured configuration by configuration (its weights depend on
# each integration's data), so this grid costs about what its runs' extractions cost
WITH_OPTIMAL = ["extract_1d.extract_width=4,6,8,10", "extract_1d.bkg_order=0,1,2",
                "extract_1d.extraction_type=box,optimal"]  # fmt: skip
GRIDS = {
    "sweep, 24 box configurations, 1 outlier setting": ONE_SETTING,
    "sweep, 24 box configurations, 2 outlier settings": TWO_SETTINGS,
    "sweep, 24 configurations, 12 of them optimal extraction": WITH_OPTIMAL,
}


def _tso3(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tso3", *args, "-q"], check=True)
    return time.perf_counter() - start


def _grid_points(vary: list[str]) -> list[list[str]]:
    from tso3.grid import make_grid, parse_vary

    points = make_grid(parse_vary(vary)).points()
    return [[f"{s}.{p}={v}" for s, values in point.items() for p, v in values.items()]
            for point in points]  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nints", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache", default=os.environ.get("TSO3_BENCH_CACHE", "/tmp/tso3-bench"))
    args = parser.parse_args(argv)
    data = Path(args.cache) / f"sweep_nrs_{args.nints}x4"
    if not (data / "DONE").exists():
        from tso3.simulate import simulate

        shutil.rmtree(data, ignore_errors=True)
        simulate("nrs_brightobj", data, nints=args.nints, segments=4, seed=1)
        (data / "DONE").write_text("ok")
    asn = str(next(data.glob("*_asn.json")))
    size = sum(p.stat().st_size for p in data.glob("*_calints.fits")) / 1e9
    fixed = ["--set", "white_light.nbins=10"]
    timings: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(dir=args.cache) as scratch:
        for repeat in range(args.repeats):
            out = Path(scratch) / str(repeat)
            timings.setdefault("one tso3 run", []).append(
                _tso3("run", asn, "-o", str(out / "run"), "--no-plots", *fixed)
            )
            for n, (label, vary) in enumerate(GRIDS.items()):
                options = [x for v in vary for x in ("--vary", v)]
                timings.setdefault(label, []).append(
                    _tso3("sweep", asn, "-o", str(out / f"grid{n}"), "--no-plots", *options,
                          *fixed))  # fmt: skip
        one_by_one = 0.0
        for k, settings in enumerate(_grid_points(ONE_SETTING)):
            sets = [x for s in settings for x in ("--set", s)]
            one_by_one += _tso3("run", asn, "-o", str(Path(scratch) / f"each{k}"), "--no-plots",
                                *sets, *fixed)  # fmt: skip
            shutil.rmtree(Path(scratch) / f"each{k}")
        timings["the first grid as 24 tso3 run"] = [one_by_one]
    run = timings["one tso3 run"]
    print(f"NRS_BRIGHTOBJ PRISM, {args.nints} integrations of 32x512 in 4 segments "
          f"({size:.2f} GB), {args.repeats} repeats, plots off\n")  # fmt: skip
    print("| what | wall [s] | x one run |\n|---|---:|---:|")
    for label, values in timings.items():
        lo, hi = min(values), max(values)
        ratio = (
            f"{lo / max(run):.2f}-{hi / min(run):.2f}"
            if len(values) > 1
            else f"{lo / (sum(run) / len(run)):.1f}"
        )
        shown = f"{lo:.2f}-{hi:.2f}" if len(values) > 1 else f"{lo:.1f}"
        print(f"| {label} | {shown} | {ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
