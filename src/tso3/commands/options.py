"""The options ``tso3 run`` and ``tso3 batch`` share, and the keyword arguments of
:func:`tso3.run` they give (a module of its own so that :mod:`tso3.cli` and
:mod:`tso3.commands.batch` both use it without importing each other)."""

from __future__ import annotations

import argparse

from ..config import STEPS
from ..steps import MODES

__all__ = ["add_run_options", "run_options"]


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``tso3 run`` after INPUT (shared with ``tso3 batch``)."""
    parser.add_argument("-o", "--output-dir", default=".", help="output folder (default: .)")
    parser.add_argument("--config", help="TOML file with one table per step")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="STEP.PARAM=VALUE",
        help="override one parameter (repeatable)",
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=list(STEPS),
        metavar="STEP",
        help=f"skip a step: {', '.join(STEPS)}",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="default",
        help="default: best science; jwst: reproduce jwst 3.0.0",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing products")
    parser.add_argument("--no-plots", action="store_true", help="skip the diagnostic PNGs")


def run_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of :func:`tso3.run` from the options of :func:`add_run_options`."""
    return {
        "config": args.config,
        "overrides": args.overrides,
        "skip": args.skip,
        "mode": args.mode,
        "overwrite": args.overwrite,
        "plots": not args.no_plots,
        "quiet": args.quiet,
    }
