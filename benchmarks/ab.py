"""A/B timing of two tso3 source trees on one observation, runs interleaved.

    python benchmarks/ab.py ASN_OR_FOLDER A_SRC B_SRC [--pairs N] [--warm]

``A_SRC`` and ``B_SRC`` are directories holding a ``tso3`` package (a checkout's
``src``, or ``git archive`` of a commit unpacked and its ``src``); ``-`` is the tso3
installed in this interpreter.  Each pair runs A and B back to back in fresh processes
(``benchmarks/run.py --child run``), alternating which goes first, with the inputs
evicted from the page cache before each run unless ``--warm``.  On a shared 2-core
machine the run time of one configuration moves by 20-40 % between runs; interleaving
makes the two medians comparable where two separate series are not.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import _evict, _spawn  # noqa: E402  (the benchmark's cold start and child)


def _environment(src: str) -> dict:
    """The environment that makes a child import tso3 from ``src``; checked, since an
    editable install can win over PYTHONPATH."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if src == "-":
        return env
    env["PYTHONPATH"] = str(Path(src).resolve())
    where = subprocess.run(
        [sys.executable, "-c", "import tso3; print(tso3.__file__)"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    if not Path(where).resolve().is_relative_to(Path(src).resolve()):
        raise SystemExit(f"{src}: this interpreter imports tso3 from {where} instead")
    return env


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path, help="the observation's ASN, or its folder")
    parser.add_argument("a", help="source tree A (holds tso3/), or - for the installed one")
    parser.add_argument("b", help="source tree B")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--warm", action="store_true", help="do not evict the inputs")
    args = parser.parse_args(argv)
    asn = args.input if args.input.is_file() else next(args.input.glob("*_asn.json"))
    files = sorted(asn.parent.glob("*_calints.fits"))
    envs = {"A": _environment(args.a), "B": _environment(args.b)}
    walls: dict[str, list[float]] = {"A": [], "B": []}
    for pair in range(args.pairs):
        for name in "AB" if pair % 2 == 0 else "BA":
            with tempfile.TemporaryDirectory(dir=asn.parent.parent) as scratch:
                if not args.warm:
                    _evict(files)
                result = _spawn("run", str(asn), scratch, env=envs[name])
            walls[name].append(result["wall_s"])
            steps = ", ".join(f"{k} {v:.2f}" for k, v in result["timings"].items())
            print(f"{name} {result['wall_s']:.2f} s ({steps}), peak {result['peak_gb']:.2f} GB",
                  flush=True)  # fmt: skip
    for name, values in walls.items():
        print(f"{name}: median {statistics.median(values):.2f} s, "
              f"range {min(values):.2f}-{max(values):.2f} s over {len(values)} runs")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
