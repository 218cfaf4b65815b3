"""``tso3 batch`` on a local cluster against the same observations one after another.

    python benchmarks/batch.py [--cache DIR] [--repeats N] [--workers N] [--write]

Simulates (once; cached in ``--cache``) four observations, two NRS_BRIGHTOBJ and two
NRC_TSIMAGE, then alternates, ``--repeats`` times, each in a fresh process:

* sequential: ``tso3.run`` of each observation in turn (wall time, peak RSS);
* batch: ``tso3.batch`` on a local cluster of ``--workers`` processes (wall time with
  the cluster's start and stop, wall time of the batch alone, each worker's peak RSS).

Prints the "Batch (issue 16)" section of benchmarks/RESULTS.md; ``--write`` puts it there
in place of an earlier one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SECTION = "## Batch (issue 16)"

#: name: (mode, simulator arguments); one observation number each, so four products
NRS = {"nints": 2000, "segments": 4}
NRC = {"nints": 2000, "segments": 4, "shape": (64, 256)}
OBSERVATIONS = {
    "nrs_a": ("nrs_brightobj", {**NRS, "seed": 1, "observation": 1}),
    "nrs_b": ("nrs_brightobj", {**NRS, "seed": 2, "observation": 2}),
    "nrc_a": ("nrc_tsimage", {**NRC, "seed": 3, "observation": 3}),
    "nrc_b": ("nrc_tsimage", {**NRC, "seed": 4, "observation": 4}),
}


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def simulate_all(cache: Path) -> list[Path]:
    """The ASN of every observation, simulated once into ``cache``."""
    from tso3.simulate import simulate

    asns = []
    for name, (mode, kwargs) in OBSERVATIONS.items():
        folder = cache / name
        found = sorted(folder.glob("*_asn.json"))
        if not found:
            found = [simulate(mode, folder, **kwargs).asn_path]
        asns.append(found[0])
    return asns


def child_sequential(asns: list[str], out: str) -> dict:
    """Every observation through ``tso3.run``, one after another, in this process."""
    import tso3

    started = time.perf_counter()
    for i, asn in enumerate(asns):
        tso3.run(asn, Path(out) / str(i), plots=False, quiet=True)
    return {"wall_s": time.perf_counter() - started, "peak_rss_gb": _peak_rss_gb()}


def child_batch(asns: list[str], out: str, workers: int) -> dict:
    """``tso3.batch`` on a local cluster of ``workers`` processes started here."""
    import tso3
    from tso3.cluster import local_client

    def worker_peak_rss_gb() -> float:  # nested: cloudpickle sends it by value
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2

    started = time.perf_counter()
    with local_client(workers, dashboard_address=None) as client:
        ready = time.perf_counter()
        result = tso3.batch(asns, out, client, plots=False, quiet=True)
        batch_s = time.perf_counter() - ready
        peaks = sorted(client.run(worker_peak_rss_gb).values())
    assert result.exit_status == 0, [r.error for r in result.failed]
    return {
        "wall_s": time.perf_counter() - started,
        "batch_s": batch_s,
        "worker_peak_rss_gb": peaks,
        "client_peak_rss_gb": _peak_rss_gb(),
        "runs_s": [r.elapsed_s for r in result.rows],
    }


def _in_child(kind: str, *args) -> dict:
    """``child_<kind>(*args)`` in a fresh interpreter (so peak RSS is its own)."""
    command = [sys.executable, __file__, "--child", kind, json.dumps(args)]
    proc = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _sizes(asns: list[Path]) -> list[float]:
    return [sum(f.stat().st_size for f in a.parent.glob("*_calints.fits")) / 1e9 for a in asns]


def report(asns: list[Path], runs: list[tuple[dict, dict]], workers: int) -> str:
    import numpy as np

    seq = [s["wall_s"] for s, _ in runs]
    bat = [b["wall_s"] for _, b in runs]
    only = [b["batch_s"] for _, b in runs]
    ratios = [b / s for s, b in zip(seq, bat, strict=True)]
    sizes = _sizes(asns)
    shapes = ", ".join(
        f"{mode.upper()} {kw['nints']} x {'x'.join(map(str, kw.get('shape', (32, 512))))}"
        f" in {kw['segments']} segments"
        for mode, kw in OBSERVATIONS.values()
    )
    fmt = " / ".join
    seq_rss = fmt(f"{s['peak_rss_gb']:.2f}" for s, _ in runs)
    worker_rss = fmt(", ".join(f"{g:.2f}" for g in b["worker_peak_rss_gb"]) for _, b in runs)
    lines = [
        SECTION,
        "",
        f"`python benchmarks/batch.py`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}.",
        f"Four observations ({shapes}; {sum(sizes):.2f} GB of calints, "
        f"{min(sizes):.2f}-{max(sizes):.2f} GB each), plots off; each figure a fresh process, "
        f"sequential and batch runs alternated, {len(runs)} of each.",
        "",
        "| | wall [s] | peak RSS |",
        "|---|---:|---:|",
        f"| one after another (`tso3.run` x 4, one process) | {fmt(f'{v:.1f}' for v in seq)} "
        f"| {seq_rss} GB |",
        f"| `tso3.batch`, local cluster of {workers} workers, start and stop included "
        f"| {fmt(f'{v:.1f}' for v in bat)} | per worker: {worker_rss} GB |",
        f"| `tso3.batch` alone (cluster running) | {fmt(f'{v:.1f}' for v in only)} | |",
        "",
        f"Wall ratio batch / sequential: {fmt(f'{r:.2f}' for r in ratios)} "
        f"(median {np.median(ratios):.2f}).",
    ]
    return "\n".join(lines) + "\n"


def write_section(text: str, results: Path) -> None:
    """Put ``text`` in ``results`` in place of an earlier batch section (or at the end)."""
    old = results.read_text() if results.exists() else ""
    start = old.find(SECTION)
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = old.find("\n## ", start + len(SECTION))
        new = old[:start] + text + ("" if end < 0 else old[end:])
    results.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "tso3-bench-batch"))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, arguments = args.child
        print(json.dumps(globals()[f"child_{kind}"](*json.loads(arguments))))
        return
    cache = Path(args.cache)
    asns = simulate_all(cache)
    runs = []
    for i in range(args.repeats):
        with tempfile.TemporaryDirectory(dir=cache) as scratch:
            seq = _in_child("sequential", [str(a) for a in asns], f"{scratch}/seq")
        with tempfile.TemporaryDirectory(dir=cache) as scratch:
            bat = _in_child("batch", [str(a) for a in asns], f"{scratch}/batch", args.workers)
        print(f"run {i + 1}: sequential {seq}\n       batch {bat}", file=sys.stderr)
        runs.append((seq, bat))
    text = report(asns, runs, args.workers)
    print(text)
    if args.write:
        write_section(text, HERE / "RESULTS.md")


if __name__ == "__main__":
    main()
