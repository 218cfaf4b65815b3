"""tso3 benchmarks: speed and memory against the I/O floor and the jwst reference.

    python benchmarks/run.py --size {small,large,gate,soss,multistripe} [--cache DIR]
                             [--results FILE]
                             [--runs N] [--no-scaling]

Simulates (once; cached in ``--cache``) NRS_BRIGHTOBJ and NRC_TSIMAGE observations (or,
with ``--size soss``, a 1000-integration NIS_SOSS SUBSTRIP256 one; with ``--size
multistripe`` 60 000 raw integrations of NIRSpec PRISM SUB256M2_PRISM; with ``--size gate``
the two sets of the speed gates, three cold runs each, to ``RESULTS_gate.md``), then
for each one measures in fresh subprocesses (so peak RSS belongs to one measurement):

* ``T_io``: reading every input array once (SCI, ERR, DQ, VAR_*, into native memory)
  and writing the crfints once (the same HDUs to new files), back to back;
* ``tso3.run`` without plots: wall time per step and end to end, peak RSS.

Then the scaling with the number of integrations (the step times should grow linearly)
and with ``rolling_window_width`` (nearly flat), and the rolling median against the
straightforward per-integration ``np.median`` window loop (timed on a few detector rows,
scaled to the frame).  Results go to ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
# jwst 3.0.0 calwebb_tso3 on a 2-core machine (issue #8): wall seconds, peak GB, and the
# calints size it was measured on (None: the large set of this benchmark)
REFERENCE = {"nrs_brightobj": (270.0, 3.7, None), "nrc_tsimage": (37.0, None, 0.767)}

SIZES = {
    "small": {
        "datasets": {
            "nrs_brightobj": {"nints": 1000, "segments": 4},
            "nrc_tsimage": {"nints": 2000, "segments": 4, "shape": (64, 256)},
        },
        "scaling_nints": [250, 500, 1000, 2000],
        "windows": [5, 25, 101],
        "window_nints": 1000,
    },
    "large": {
        "datasets": {
            "nrs_brightobj": {"nints": 6000, "segments": 4},
            "nrc_tsimage": {"nints": 10000, "segments": 4, "shape": (64, 256)},
        },
        "scaling_nints": [1000, 2000, 4000, 8000],
        "windows": [5, 25, 101],
        "window_nints": 4000,
    },
    # the speed gates of issue 18: figures in RESULTS_gate.md, three runs by default
    "gate": {
        "datasets": {
            "nrs_brightobj": {"nints": 6000, "segments": 4},
            "nrc_tsimage": {"nints": 2000, "segments": 4, "shape": (64, 256)},
        },
        "scaling_nints": [],
        "windows": [],
        "window_nints": 0,
        "runs": 3,
    },
    # NIRSpec PRISM multistripe (issue 29): 60 000 raw integrations of SUB256M2_PRISM, the
    # heaviest striped set an exposure can hold (65 535 raw integrations at most), reassembled
    # into 30 000 frames of 32 x 504 (11.6 GB); bounded memory and linear time, figures in
    # RESULTS_multistripe.md
    "multistripe": {
        "datasets": {
            "nrs_brightobj": {"nints": 30000, "segments": 6, "subarray": "SUB256M2_PRISM"},
        },
        "scaling_nints": [3750, 7500, 15000],
        "scaling_dataset": {"segments": 6, "subarray": "SUB256M2_PRISM"},
        "windows": [],
        "window_nints": 0,
    },
    # NIS_SOSS SUBSTRIP256 (issue 15): 12.6 GB of calints; figures in RESULTS_soss.md
    "soss": {
        "datasets": {"nis_soss": {"nints": 1000, "segments": 4}},
        "scaling_nints": [],
        "windows": [],
        "window_nints": 0,
    },
}


# ------------------------------------------------------------------------------------
# child processes: one measurement each, JSON on stdout


def _peak_rss_gb() -> float:
    """Peak RSS of this process: VmHWM, the high-water mark of its own address space.

    Not ``ru_maxrss``: Linux carries that over fork and exec, so a child spawned by a
    parent that has just simulated gigabytes reports the parent's size.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def child_io(inputs: list[str], scratch: str) -> dict:
    """Read every array of every segment once, write each segment once."""
    from astropy.io import fits

    read = write = 0.0
    written = []
    for path in inputs:
        t0 = time.perf_counter()
        with fits.open(path, memmap=True, do_not_scale_image_data=True) as hdul:
            hdus = [fits.PrimaryHDU(header=hdul[0].header)]
            for hdu in hdul[1:]:
                data = None if hdu.data is None else np.array(hdu.data)
                hdus.append(type(hdu)(data=data, header=hdu.header))
        t1 = time.perf_counter()
        out = Path(scratch) / Path(path).name
        fits.HDUList(hdus).writeto(out, overwrite=True)
        t2 = time.perf_counter()
        read += t1 - t0
        write += t2 - t1
        written.append(out)  # kept until all are written, as crfints are
        del hdus
    for out in written:
        out.unlink()
    return {"read_s": read, "write_s": write, "t_io_s": read + write, "peak_gb": _peak_rss_gb()}


def child_run(asn: str, out: str, overrides: list[str]) -> dict:
    import tso3

    t0 = time.perf_counter()
    result = tso3.run(asn, out, overrides=overrides, plots=False, quiet=True, overwrite=True)
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "timings": result.summary["timings"], "peak_gb": _peak_rss_gb()}


def child_naive(path: str, window: int, rows: int) -> dict:
    """Rolling median the straightforward way on ``rows`` detector rows of a series."""
    from astropy.io import fits

    with fits.open(path, memmap=True) as hdul:
        sci = np.array(hdul["SCI"].data[:, :rows], dtype=np.float32)
    from tso3.parallel import Cores
    from tso3.steps.outliers import rolling_median

    n = sci.shape[0]
    half = window // 2
    t0 = time.perf_counter()
    med = np.empty_like(sci)
    for i in range(n):
        lo = min(max(0, i - half), max(0, n - window))
        med[i] = np.median(sci[lo : lo + window], axis=0)
    naive = time.perf_counter() - t0
    t0 = time.perf_counter()
    rolling_median(sci, window, pool=Cores())
    fast = time.perf_counter() - t0
    return {"naive_s": naive, "tso3_s": fast, "rows": rows, "nints": n}


# ------------------------------------------------------------------------------------
# the parent: simulate, spawn, report


def _spawn(*args: str, env: dict | None = None) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child {args[0]} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _dataset(cache: Path, mode: str, spec: dict):
    """Simulate once; later runs reuse the cached files."""
    from tso3.simulate import simulate

    shape = spec.get("shape")
    tag = (
        f"{mode}_{spec['nints']}x{spec['segments']}"
        + (f"_{shape[0]}x{shape[1]}" if shape else "")
        + (f"_{spec['subarray'].lower()}" if spec.get("subarray") else "")
    )
    root = cache / tag
    done = root / "DONE"
    if not done.exists():
        shutil.rmtree(root, ignore_errors=True)
        t0 = time.perf_counter()
        kwargs = {"nints": spec["nints"], "segments": spec["segments"], "seed": 1}
        if shape:
            kwargs["shape"] = tuple(shape)
        if spec.get("subarray"):
            kwargs["subarray"] = spec["subarray"]
        simulate(mode, root, **kwargs)
        done.write_text(f"{time.perf_counter() - t0:.1f}")
        print(f"  simulated {tag} in {done.read_text()} s", flush=True)
    asn = next(root.glob("*_asn.json"))
    files = sorted(root.glob("*_calints.fits"))
    return asn, files


def _evict(files: list[Path]) -> None:
    """Write back dirty pages, then drop ``files`` from the page cache: a cold start, as
    a user's first run on freshly downloaded data."""
    os.sync()
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _measure(asn: Path, files: list[Path], overrides=()) -> dict:
    with tempfile.TemporaryDirectory(dir=asn.parent.parent) as scratch:
        _evict(files)
        io = _spawn("io", scratch, *map(str, files))
        _evict(files)
        run = _spawn("run", str(asn), scratch, *overrides)
    size = sum(f.stat().st_size for f in files)
    from astropy.io import fits

    frame = fits.getheader(files[0], "SCI")["NAXIS2"], fits.getheader(files[0], "SCI")["NAXIS1"]
    return {"io": io, "run": run, "bytes": size, "segment_bytes": size / len(files),
            "frame": frame}  # fmt: skip


def _machine() -> str:
    mem = "?"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024**2:.0f} GB"
    except (OSError, ValueError, IndexError):
        pass
    import astropy
    import bottleneck

    return (
        f"{os.cpu_count()} cores, {mem} RAM, {platform.machine()}, Python "
        f"{platform.python_version()}, numpy {np.__version__}, astropy {astropy.__version__}, "
        f"bottleneck {bottleneck.__version__}"
    )


def _dataset_table(mode: str, spec: dict, m: dict) -> list[str]:
    t_io = m["io"]["t_io_s"]
    run = m["run"]
    steps = dict(run["timings"])
    seg_gb = m["segment_bytes"] / 1024**3
    ref_s, ref_gb, ref_size = REFERENCE.get(mode, (None, None, None))
    scale = spec["nints"] / (6000 if mode == "nrs_brightobj" else 10000)
    shape = spec.get("shape") or {"nrs_brightobj": "32x512", "nis_soss": "256x2048"}.get(mode, "")
    if spec.get("subarray"):
        shape = f"{spec['subarray']} frames ({'x'.join(map(str, m['frame']))})"
    lines = [
        f"### {mode.upper()}: {spec['nints']} integrations"
        f"{' of ' + 'x'.join(map(str, shape)) if isinstance(shape, tuple) else ' of ' + shape}"
        f" in {spec['segments']} segments ({m['bytes'] / 1024**3:.2f} GB of calints)",
        "",
        f"T_io = {t_io:.2f} s (read every array {m['io']['read_s']:.2f} s + write the crfints "
        f"{m['io']['write_s']:.2f} s), measured in the same run.",
        "",
        "| step | wall [s] | x T_io |",
        "|---|---:|---:|",
    ]
    for name, sec in steps.items():
        lines.append(f"| {name} | {sec:.2f} | {sec / t_io:.2f} |")
    lines.append(f"| **end to end** (incl. load) | **{run['wall_s']:.2f}** | "
                 f"**{run['wall_s'] / t_io:.2f}** |")  # fmt: skip
    budget = 1.5 * seg_gb + 1.0
    lines += [
        "",
        f"Peak RSS {run['peak_gb']:.2f} GB (target <= 1.5 x one segment {seg_gb:.2f} GB + 1 GB "
        f"= {budget:.2f} GB: {'met' if run['peak_gb'] <= budget else 'MISSED'}).",
    ]
    if ref_s is not None and abs(scale - 1) < 1e-9:
        size_gb = m["bytes"] / 1024**3
        if ref_size is None:
            speed = ref_s / run["wall_s"]
            basis = "same data size"
        else:  # the reference was timed on a smaller set: compare time per byte
            speed = ref_s / (run["wall_s"] * ref_size / size_gb)
            basis = f"reference on {ref_size:.3f} GB, tso3 on {size_gb:.2f} GB, per byte"
        lines.append(
            f"jwst 3.0.0 reference: {ref_s:.0f} s"
            + (f", {ref_gb} GB peak" if ref_gb else "")
            + f" -> tso3 is {speed:.0f}x faster ({basis}; target >= 30x: "
            + ("met" if speed >= 30 else "MISSED")
            + ")."
        )
    lines.append("")
    return lines


def _repeats_table(repeats: list[dict]) -> list[str]:
    """Every measurement of one set, and the range of end to end / T_io."""
    lines = [f"All {len(repeats)} runs (each cold):", "",
             "| run | T_io [s] | end to end [s] | x T_io | peak RSS [GB] |",
             "|---:|---:|---:|---:|---:|"]  # fmt: skip
    ratios = []
    for k, m in enumerate(repeats, start=1):
        t_io, wall = m["io"]["t_io_s"], m["run"]["wall_s"]
        ratios.append(wall / t_io)
        lines.append(f"| {k} | {t_io:.2f} | {wall:.2f} | {wall / t_io:.2f} | "
                     f"{m['run']['peak_gb']:.2f} |")  # fmt: skip
    lines += ["", f"x T_io over the runs: {min(ratios):.2f}-{max(ratios):.2f}.", ""]
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=SIZES, default="small")
    parser.add_argument("--cache", default=os.environ.get("TSO3_BENCH_CACHE", "/tmp/tso3-bench"))
    parser.add_argument("--results", default=str(HERE / "RESULTS.md"))
    parser.add_argument("--no-scaling", action="store_true")
    parser.add_argument("--runs", type=int, default=0, help="measurements per set")
    parser.add_argument("--child", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        if kind == "io":
            out = child_io(rest[1:], rest[0])
        elif kind == "run":
            out = child_run(rest[0], rest[1], rest[2:])
        else:
            out = child_naive(rest[0], int(rest[1]), int(rest[2]))
        print(json.dumps(out))
        return 0

    cfg = SIZES[args.size]
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    report = [
        f"# tso3 benchmarks ({args.size})",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with "
        f"`python benchmarks/run.py --size {args.size}`.",
        f"Machine: {_machine()}.",
        "Inputs are evicted from the page cache (dirty pages written back, then "
        "`posix_fadvise(DONTNEED)`) before the T_io measurement and again before tso3, so "
        "both start cold. Each figure is a fresh process; plots off.",
        "",
        "## Steps and end to end",
        "",
    ]
    for mode, spec in cfg["datasets"].items():
        print(f"{mode} {spec}", flush=True)
        asn, files = _dataset(cache, mode, spec)
        repeats = [_measure(asn, files) for _ in range(args.runs or cfg.get("runs", 1))]
        m = repeats[0]
        print(json.dumps(repeats), flush=True)
        report += _dataset_table(mode, spec, m)
        if len(repeats) > 1:
            report += _repeats_table(repeats)
        if mode == "nrs_brightobj":
            naive = _spawn("naive", str(files[0]), "25", "4")
            nrows = 32
            seg_share = spec["nints"] / len(files)
            # the naive loop over the whole observation: rows and integrations scale it
            naive_total = naive["naive_s"] * (nrows / naive["rows"]) * (spec["nints"] / seg_share)
            step = m["run"]["timings"]["outlier_detection"]
            report += [
                "Rolling median vs the straightforward loop "
                "(`np.median` of each integration's window; timed on 4 rows of one segment, "
                "scaled to the observation):",
                f"naive {naive_total:.1f} s; tso3's whole outlier_detection step (I/O, "
                f"flagging and crfints writing included) {step:.2f} s -> "
                f"{naive_total / step:.0f}x; the rolling median alone on the same rows "
                f"{naive['naive_s'] / naive['tso3_s']:.0f}x faster.",
                "",
            ]
    if not args.no_scaling and cfg["scaling_nints"]:
        scaled = cfg.get("scaling_dataset", {"segments": 4})
        what = scaled.get("subarray", "32x512")
        report += ["## Scaling", "", f"NRS_BRIGHTOBJ {what}, {scaled['segments']} segments.", ""]
        report += ["| integrations | outlier_detection [s] | extract_1d [s] | end to end [s] |"
                   " s per 1000 integrations | peak RSS [GB] |",
                   "|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
        for n in cfg["scaling_nints"]:
            asn, files = _dataset(cache, "nrs_brightobj", {"nints": n, **scaled})
            with tempfile.TemporaryDirectory(dir=cache) as scratch:
                r = _spawn("run", str(asn), scratch)
            t = r["timings"]
            report.append(
                f"| {n} | {t['outlier_detection']:.2f} | {t['extract_1d']:.2f} | "
                f"{r['wall_s']:.2f} | {1000 * r['wall_s'] / n:.2f} | {r['peak_gb']:.2f} |"
            )
            print(n, r, flush=True)
        n = cfg["window_nints"]
        if n:
            asn, files = _dataset(cache, "nrs_brightobj", {"nints": n, "segments": 4})
            report += ["", f"rolling_window_width on {n} integrations:", "",
                       "| rolling_window_width | outlier_detection [s] |",
                       "|---:|---:|"]  # fmt: skip
        for w in cfg["windows"] if n else ():
            with tempfile.TemporaryDirectory(dir=cache) as scratch:
                r = _spawn("run", str(asn), scratch, f"outlier_detection.rolling_window_width={w}")
            report.append(f"| {w} | {r['timings']['outlier_detection']:.2f} |")
            print(w, r, flush=True)
    report.append("")
    text = "\n".join(report)
    results = Path(args.results)
    if args.size in ("soss", "gate", "multistripe"):
        results = results.with_name(f"RESULTS_{args.size}.md")
    elif args.size == "small" and results.exists() and "(large)" in results.read_text():
        results = results.with_name("RESULTS_small.md")  # keep the large figures
    results.write_text(text)
    print(text)
    print(f"\nwritten to {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
