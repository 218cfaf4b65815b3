"""``tso3 demo``: simulate a small NIRSpec BOTS observation and reduce it."""

from __future__ import annotations

import os
from pathlib import Path

from .pipeline import RunResult, run
from .summary import format_summary

#: Size of the demo: 3 segments, a few hundred integrations, a PRISM-like 32 x 512 cutout.
DEMO_NINTS = 300
DEMO_SEGMENTS = 3


def run_demo(output_dir: str | os.PathLike = "tso3-demo", *, quiet: bool = False) -> RunResult:
    """Simulate ``nrs_brightobj`` data into ``<output_dir>/input`` and run tso3 on it.

    Products go to ``<output_dir>/products``; an existing demo is replaced.

    Returns
    -------
    RunResult
    """
    from .simulate import simulate

    out = Path(output_dir)
    sim = simulate(
        "nrs_brightobj", out / "input", nints=DEMO_NINTS, segments=DEMO_SEGMENTS, seed=42
    )
    result = run(
        sim.asn_path,
        out / "products",
        overrides=["white_light.nbins=25"],  # also show binned spectroscopic light curves
        overwrite=True,
        quiet=quiet,
    )
    if not quiet:
        print(format_summary(result))
        truth = sim.truth
        depth = truth.get("params", {}).get("depth")
        if depth is not None:
            print(
                f"  injected white-light transit depth {depth * 1e6:.0f} ppm; "
                f"truth in {sim.truth_path}"
            )
        print(f"\nProducts are in {out / 'products'}")
        if result.plots:
            print(f"Plots are in    {result.plots[0].parent}")
    return result
