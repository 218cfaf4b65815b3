"""The ``tso3`` command: parse arguments, call the library, report.

Exit status: 0 success, 2 bad input or usage (one line on stderr, no traceback unless
``--debug``), 1 an unexpected error (a bug).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .commands.options import add_run_options, run_options
from .config import STEPS
from .errors import Tso3Error
from .steps import MODES

log = logging.getLogger("tso3")

SIMULATE_MODES = (
    "nrc_tsimage", "mir_image", "nrs_brightobj", "nrc_tsgrism", "mir_lrs-slitless",
    "mir_lrs-fixedslit", "nis_soss",
)  # fmt: skip


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected an integer >= 1")
    return value


def _digits(width: int):
    """An argparse type: a number of at most ``width`` digits (a JWST program or
    observation id), as an int."""

    def parse(text: str) -> int:
        if not text.isdigit() or len(text.lstrip("0") or "0") > width or int(text) < 1:
            raise argparse.ArgumentTypeError(f"{text!r}: expected 1 to {width} digits, not 0")
        return int(text)

    return parse


def _parameters_epilog() -> str:
    """Every STEP.PARAM with its default, for ``tso3 run --help`` (docs/usage.md explains)."""
    import dataclasses

    lines = ["parameters (--set STEP.PARAM=VALUE, or [STEP] tables in --config):"]
    for step, cls in STEPS.items():
        for f in dataclasses.fields(cls):
            default = list(f.default) if isinstance(f.default, tuple) else f.default
            lines.append(f"  {step}.{f.name} = {default!r}: {f.metadata['doc']}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``tso3`` command (documented in docs/usage.md)."""
    common = argparse.ArgumentParser(add_help=False)
    verbosity = common.add_mutually_exclusive_group()
    verbosity.add_argument("--quiet", "-q", action="store_true", help="only warnings and errors")
    verbosity.add_argument("--verbose", "-v", action="store_true", help="debug messages")
    common.add_argument("--debug", action="store_true", help="show tracebacks")

    parser = _Parser(prog="tso3", description="Fast standalone JWST calwebb_tso3.")
    parser.add_argument("--version", action="version", version=f"tso3 {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser(
        "run", parents=[common], help="run stage 3 on an observation",
        epilog=_parameters_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    run.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="ASN JSON, calints files or a folder"
    )
    add_run_options(run)

    batch = sub.add_parser(
        "batch", parents=[common], help="run stage 3 on many observations with dask"
    )
    batch.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="ASN JSONs, folders or a folder of folders"
    )
    add_run_options(batch)
    where = batch.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", help="address of a dask scheduler")
    where.add_argument("--scheduler-file", metavar="FILE", help="a dask scheduler file")
    where.add_argument(
        "--workers", type=_positive_int, metavar="N", help="local worker processes (default: auto)"
    )

    sweep = sub.add_parser(
        "sweep", parents=[common], help="score a grid of reduction parameters from one read",
    )  # fmt: skip
    sweep.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="ASN JSON, calints files or a folder"
    )
    sweep.add_argument("-o", "--output-dir", default=".", help="output folder (default: .)")
    sweep.add_argument(
        "--vary", action="append", default=[], metavar="STEP.PARAM=V1,V2,...",
        help="values of one parameter (repeatable); the grid is their product",
    )  # fmt: skip
    sweep.add_argument("--grid", metavar="FILE.toml", help="a table per step of value lists")
    sweep.add_argument(
        "--score", choices=["p2p", "mad", "white_mad+spec_mad"], default="mad",
        help="what ranks the configurations (default: mad)",
    )  # fmt: skip
    sweep.add_argument("--config", help="TOML file: the fixed settings, one table per step")
    sweep.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="STEP.PARAM=VALUE",
        help="a fixed setting (repeatable)",
    )  # fmt: skip
    sweep.add_argument("--mode", choices=MODES, default="default")
    sweep.add_argument("--overwrite", action="store_true", help="replace earlier sweep products")
    sweep.add_argument("--no-plots", action="store_true", help="skip the sweep figure")

    wl = sub.add_parser("whitelight", parents=[common], help="white light from an x1dints file")
    wl.add_argument("x1dints", metavar="X1DINTS")
    wl.add_argument("-o", "--output-dir", default=".")
    wl.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="white_light.PARAM=VALUE"
    )
    wl.add_argument("--mode", choices=MODES, default="default")
    wl.add_argument("--overwrite", action="store_true")

    export = sub.add_parser(
        "export", parents=[common], help="write an x1dints in another layout for other tools"
    )
    export.add_argument("x1dints", metavar="X1DINTS")
    export.add_argument("-o", "--output-dir", help="output folder (default: the folder of X1DINTS)")
    export.add_argument(
        "--layout", choices=["legacy"], default="legacy",
        help="legacy: one EXTRACT1D per integration (jwst < 1.19), as chromatic, specutils "
        "and jdaviz read it (the default)",
    )  # fmt: skip
    export.add_argument("--overwrite", action="store_true", help="replace existing exports")

    sim = sub.add_parser("simulate", parents=[common], help="write a simulated observation")
    sim.add_argument(
        "mode", choices=SIMULATE_MODES, metavar="MODE", help=f"one of {', '.join(SIMULATE_MODES)}"
    )
    sim.add_argument("-o", "--output-dir", required=True)
    sim.add_argument("--nints", type=int)
    sim.add_argument("--segments", type=int)
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument(
        "--subarray", help="a subarray of the mode, e.g. SUBSTRIP96 or SUB204STRIPE_SOSS (nis_soss)"
    )
    sim.add_argument(
        "--program", type=_digits(5), help="program id written into the files (default 09001)"
    )
    sim.add_argument(
        "--observation", type=_digits(3), help="observation number (default 4): a batch of "
        "several simulations needs a different one for each"
    )  # fmt: skip

    info = sub.add_parser("info", parents=[common], help="describe a calints, x1dints or ASN")
    info.add_argument("path", metavar="PATH")

    demo = sub.add_parser("demo", parents=[common], help="simulate and reduce a NIRSpec BOTS demo")
    demo.add_argument("-o", "--output-dir", default="tso3-demo")
    return parser


def _configure_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    from .progress import BarAwareHandler

    handler = BarAwareHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    handler.setLevel(level)
    root = logging.getLogger("tso3")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _cmd_run(args: argparse.Namespace) -> None:
    from .pipeline import run
    from .summary import format_summary

    result = run(args.inputs, args.output_dir, **run_options(args))
    if not args.quiet:
        print(format_summary(result))


def _cmd_sweep(args: argparse.Namespace) -> None:
    from .sweeping import SCORES, sweep

    table = sweep(
        args.inputs, args.output_dir, vary=args.vary, grid=args.grid, score=args.score,
        config=args.config, overrides=args.overrides, mode=args.mode,
        overwrite=args.overwrite, plots=not args.no_plots, quiet=args.quiet,
    )  # fmt: skip
    if not args.quiet:
        shown = table[["rank", *table.meta["varied"], SCORES[args.score]]]
        print("\n".join(shown[shown.argsort("rank")].pformat(max_lines=-1, max_width=-1)))


def _cmd_whitelight(args: argparse.Namespace) -> None:
    from .commands.whitelight import whitelight_from_x1dints

    paths = whitelight_from_x1dints(
        args.x1dints,
        args.output_dir,
        overrides=args.overrides,
        mode=args.mode,
        overwrite=args.overwrite,
    )
    if not args.quiet:
        for p in paths:
            print(f"wrote {p}")


def _cmd_export(args: argparse.Namespace) -> None:
    from .commands.export import export_legacy

    for path in export_legacy(args.x1dints, args.output_dir, overwrite=args.overwrite):
        if not args.quiet:
            print(f"wrote {path}")


def _cmd_simulate(args: argparse.Namespace) -> None:
    from .errors import ParameterError
    from .io.atomic import output_folder
    from .simulate import simulate

    try:
        with output_folder(args.output_dir):
            extra = {k: v for k in ("program", "observation")
                     if (v := getattr(args, k)) is not None}  # fmt: skip
            result = simulate(
                args.mode, args.output_dir, nints=args.nints, segments=args.segments,
                seed=args.seed, subarray=args.subarray, **extra,
            )  # fmt: skip
    except ValueError as exc:  # bad sizes or subarray: a usage error
        raise ParameterError("simulate", str(exc)) from None
    if not args.quiet:
        print(
            f"wrote {len(result.files)} segment(s), {result.asn_path.name} and "
            f"{result.truth_path.name} to {Path(args.output_dir)}"
        )


def _cmd_info(args: argparse.Namespace) -> None:
    from .info import describe

    print(describe(args.path))


def _cmd_demo(args: argparse.Namespace) -> None:
    from .demo import run_demo
    from .io.atomic import output_folder

    with output_folder(args.output_dir):
        run_demo(args.output_dir, quiet=args.quiet)


def _cmd_batch(args: argparse.Namespace) -> int:
    from .commands.batch import batch_command

    return batch_command(args)


COMMANDS = {
    "run": _cmd_run,
    "batch": _cmd_batch,
    "sweep": _cmd_sweep,
    "whitelight": _cmd_whitelight,
    "export": _cmd_export,
    "simulate": _cmd_simulate,
    "info": _cmd_info,
    "demo": _cmd_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tso3`` command; returns the exit status."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:  # bare ``tso3``: show the commands
        parser.print_help()
        return 2
    args = parser.parse_args(argv)
    _configure_logging(args)
    try:
        status = COMMANDS[args.command](args)
    except Tso3Error as exc:
        if args.debug:
            raise
        print(f"tso3: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tso3: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: say so in one line unless debugging
        if args.debug:
            raise
        print(
            f"tso3: internal error: {type(exc).__name__}: {exc} (rerun with --debug)",
            file=sys.stderr,
        )
        return 1
    return status or 0  # only tso3 batch returns one: its observations may fail


if __name__ == "__main__":
    sys.exit(main())
