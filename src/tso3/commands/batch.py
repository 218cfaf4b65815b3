"""``tso3 batch``: the command line of :func:`tso3.batch.batch`.

Connects to the scheduler given (``--scheduler``, ``--scheduler-file``) or lets the batch
start a local cluster (``--workers``), prints the batch summary, and turns the failed
observations into the exit status: 2 when one of them is bad input, 1 when all failures
are bugs, after every other observation has finished.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys

from ..batch import BatchResult, batch
from ..cluster import DASHBOARD_ADDRESS, scheduler_client
from .options import run_options

__all__ = ["batch_command", "format_batch"]


def batch_command(args: argparse.Namespace) -> int:
    """Run ``tso3 batch`` with parsed arguments; return the exit status.

    Parameters
    ----------
    args : argparse.Namespace
        The ``batch`` arguments of :func:`tso3.cli.build_parser`.

    Returns
    -------
    int
        0, or 2 / 1 when an observation failed (bad input / a bug).
    """
    connect = args.scheduler is not None or args.scheduler_file is not None
    connection = (
        scheduler_client(args.scheduler, args.scheduler_file)
        if connect
        else contextlib.nullcontext()
    )
    with connection as client:
        result = batch(
            args.inputs,
            args.output_dir,
            client,
            workers=args.workers,
            dashboard_address=DASHBOARD_ADDRESS,
            **run_options(args),
        )
    if not args.quiet:
        print(format_batch(result))
    if result.failed:
        print(
            f"tso3: error: {len(result.failed)} of {len(result.rows)} observation(s) failed; "
            f"see {result.summary}",
            file=sys.stderr,
        )
    return result.exit_status


def format_batch(result: BatchResult) -> str:
    """The batch summary as text: one line per observation, then the summary file."""
    lines = ["tso3 batch finished:"]
    width = max(len(r.product) for r in result.rows)
    for r in result.rows:
        if r.status == "failed":
            detail = r.error
        else:
            scatter = "" if math.isnan(r.scatter_ppm) else f", scatter {r.scatter_ppm:.0f} ppm"
            elapsed = "" if math.isnan(r.elapsed_s) else f", {r.elapsed_s:.1f} s"
            detail = f"{r.mode}, {r.integrations} integrations{scatter}{elapsed}"
        lines.append(f"  {r.status:<9} {r.product:<{width}}  {detail}")
    lines.append(f"  summary {result.summary}")
    return "\n".join(lines)
