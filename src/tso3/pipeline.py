"""The story of a tso3 run.

load the observation -> outlier pass (crfints) -> photometry (imaging) or extraction,
x1dints, white light and binned light curves (spectroscopy) -> plots -> summary.
Every product is written under a temporary name and published only when the whole run
succeeded.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from threadpoolctl import threadpool_limits

from . import __version__
from .config import MODES, STEPS, Parameters, resolve_parameters
from .errors import OutputExistsError, ParameterError
from .io.atomic import StagedOutputs
from .io.crfints import crfints_path, primary_header_bytes, write_copy
from .io.observation import Observation, load_observation
from .progress import Progress
from .stages import outliers
from .summary import format_summary, light_curve_scatter_ppm

log = logging.getLogger("tso3")
file_only = logging.getLogger("tso3.logfile")


@dataclass
class RunResult:
    """Products of a run and its closing numbers."""

    output_dir: Path
    crfints: list[Path] = field(default_factory=list)
    phot: Path | None = None
    x1dints: Path | None = None
    whtlt: Path | None = None
    speclc: Path | None = None
    plots: list[Path] = field(default_factory=list)
    log_file: Path | None = None
    summary: dict = field(default_factory=dict)

    @property
    def products(self) -> list[Path]:
        """Every product file written."""
        files = [*self.crfints, self.phot, self.x1dints, self.whtlt, self.speclc]
        return [p for p in files if p is not None]


def run(
    inputs: Sequence[str | os.PathLike] | str | os.PathLike,
    output_dir: str | os.PathLike = ".",
    *,
    config: str | os.PathLike | Mapping | None = None,
    overrides: Iterable[str] | Mapping = (),
    skip: Iterable[str] = (),
    mode: str = "default",
    overwrite: bool = False,
    plots: bool = True,
    quiet: bool = False,
) -> RunResult:
    """Run calwebb_tso3 the tso3 way.

    Parameters
    ----------
    inputs : path-like or sequence of path-like
        An ASN JSON, calints segment files, or a folder of them.
    output_dir : path-like
        Where products go (created if missing).
    config : path-like or mapping, optional
        TOML file or ``{step: {param: value}}``.
    overrides : iterable of str or mapping
        ``"step.param=value"`` strings or a mapping; they win over ``config``.
    skip : iterable of str
        Step names to skip (``outlier_detection``, ``tso_photometry``, ``extract_1d``,
        ``white_light``).
    mode : {"default", "jwst"}
        ``jwst`` reproduces jwst 3.0.0's numbers.
    overwrite : bool
        Replace existing products instead of refusing.
    plots : bool
        Write diagnostic PNGs to ``<product>_plots/``.
    quiet : bool
        No progress bars.

    Returns
    -------
    RunResult
    """
    started = time.perf_counter()
    if mode not in MODES:
        raise ParameterError("mode", f"{mode!r} is not one of {', '.join(MODES)}")
    skip = set(skip)
    for name in skip:
        if name not in STEPS:
            raise ParameterError("skip", f"unknown step {name!r} (known: {', '.join(STEPS)})")
    params = resolve_parameters(config, overrides)
    obs = load_observation(inputs, open_models=False)  # headers and times: fast
    out = Path(output_dir)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    result = _plan(obs, out, skip, plots)
    _refuse_existing(result, overwrite, obs.product_name)
    planned_speclc = result.speclc
    staged = StagedOutputs()
    show = not quiet
    # tso3 spreads its own work over the cores; BLAS threads on top of that only spin
    # and steal them (2 s of CPU in a 10 s run on two cores)
    with _run_log(result.log_file, staged), threadpool_limits(limits=1, user_api="blas"):
        provenance = {"version": __version__, "mode": mode, "parameters": params.as_dict()}
        timings: dict[str, float] = {}
        timer = functools.partial(_timed, timings)
        try:
            with contextlib.ExitStack() as stages:
                targets, ready = stages.enter_context(
                    _crfints_copies(obs, result, staged, params, provenance)
                )
                photometry = obs.is_imaging and "tso_photometry" not in skip
                spectroscopy = not obs.is_imaging and "extract_1d" not in skip
                # Copying is bound by the disk, parsing the metadata models (the ASDF
                # trees) by one core in pure Python: the copies, and the preparations
                # that need only the arrays, run while the models are opened.
                early = stages.enter_context(_Preparations(obs, params, mode, targets))
                if targets and spectroscopy:
                    early.median_images()
                elif targets and photometry and mode != "jwst":
                    early.photometry_sample()
                with timer("load"):
                    obs.open_models()  # the last check of the input: nothing logged before
                log.info("tso3 %s, mode %s\n%s", __version__, mode, obs.describe())
                log.info("parameters: %s", json.dumps(params.as_dict()))
                ctx = _Context(obs, params, mode, provenance, result, staged, timer, show)
                # the measuring stage takes its blocks from the outlier pass
                stream = stages.enter_context(
                    _measure_in_pass(ctx, photometry, spectroscopy, early)
                )
                with timer("outlier_detection"):
                    sources, outcome = _outlier_pass(
                        obs, targets, ready, params, mode, show, stream, early.motions()
                    )
                repair = outcome.repair if outcome else None
                if photometry:
                    products = _photometry(ctx, sources, repair, stream)
                elif spectroscopy:
                    products = _spectroscopy(
                        ctx, sources, repair, "white_light" not in skip, stream
                    )
                else:
                    products = {}
            if plots:
                with timer("plots"):
                    result.plots = _plots(out, obs, outcome, products, staged)
            result.summary.update(
                integrations=obs.nints(),
                flagged_fraction=outcome.flagged_fraction if outcome else 0.0,
                timings=timings,
            )
            _drop_unwritten(result, skip, obs)
            result.summary["elapsed_s"] = time.perf_counter() - started
            rounded = {k: round(v, 2) for k, v in timings.items()}
            file_only.info("timings [s]: %s", json.dumps(rounded))
            file_only.info("%s", format_summary(result))
            staged.commit()
        except BaseException:
            staged.abort()
            if created:  # a failed run leaves no output folder it made (if still empty)
                with contextlib.suppress(OSError):
                    out.rmdir()
            raise
    if overwrite and planned_speclc is not None and result.speclc is None:
        # a speclc of an earlier run with binning would no longer match the other products
        planned_speclc.unlink(missing_ok=True)
    return result


@dataclass
class _Context:
    """What every stage of a run needs besides its inputs."""

    obs: Observation
    params: Parameters
    mode: str
    provenance: dict
    result: RunResult
    staged: StagedOutputs
    timer: Callable
    show: bool


def _photometry(ctx: _Context, sources: dict, repair, stream=None) -> dict:
    """Imaging: aperture photometry of every integration -> phot.ecsv.

    ``stream`` is the :class:`~tso3.stages.photometry.BlockPhotometry` the outlier pass
    fed; without one the integrations are measured from the ``sources`` files.
    """
    from .stages import photometry  # photutils is only needed here

    with ctx.timer("tso_photometry"):
        if stream is not None:
            table = stream.result()
        else:
            with Progress("photometry", ctx.obs.nints(), enabled=ctx.show) as bar:
                table = photometry.measure(
                    ctx.obs, sources, ctx.params.tso_photometry, mode=ctx.mode,
                    repair=repair, provenance=ctx.provenance, progress=bar,
                )  # fmt: skip
        photometry.write(table, ctx.staged.reserve(ctx.result.phot))
    ctx.result.summary["scatter_ppm"] = light_curve_scatter_ppm(table["net_aperture_sum"].value)
    return {"phot": table}


class _Preparations:
    """Work that needs the arrays but no metadata model, on a background thread.

    Started before the models are parsed (pure Python on one core), so it uses the
    other core: the motion patterns of the outlier pass and, for spectra, the median
    images the apertures are placed on, or the photometry's sample of integrations.
    A context manager; the results are waited for when asked.
    """

    def __init__(self, obs: Observation, params: Parameters, mode: str, targets) -> None:
        self._obs = obs
        self._medians = self._motions = self._sample = None
        self._stack = contextlib.ExitStack()
        # The background work swaps no filters itself (the main thread does meanwhile);
        # this one covers its numpy RuntimeWarnings and is restored after the pool ends.
        self._stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore", RuntimeWarning)
        self._pool = self._stack.enter_context(
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="tso3-prep")
        )
        if targets:
            self._motions = self._pool.submit(
                outliers.learn_motions, obs, params.outlier_detection, mode
            )

    def __enter__(self) -> _Preparations:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is not None:
            for job in (self._motions, self._medians, self._sample):
                if job is not None:
                    job.cancel()
        self._stack.__exit__(*exc)

    def median_images(self) -> None:
        """Start the extraction's median images."""
        from .stages import extraction

        self._medians = self._pool.submit(extraction.median_images, self._obs)

    def photometry_sample(self) -> None:
        """Start reading the integrations the photometry aperture is placed on."""
        from .stages import photometry

        self._sample = self._pool.submit(photometry.sample_frames, self._obs)

    def sample(self):
        """The photometry sample (once: the future lets go of it)."""
        job, self._sample = self._sample, None
        return None if job is None else job.result()

    def motions(self):
        return None if self._motions is None else self._motions.result()

    def medians(self):
        """The median images (once: the future lets go of them)."""
        job, self._medians = self._medians, None
        return None if job is None else job.result()


def _measure_in_pass(ctx: _Context, photometry: bool, spectroscopy: bool, early: _Preparations):
    """The measuring stage that the outlier pass feeds, when there is one.

    A context manager whose value is the stage (``None`` when the outlier pass is
    skipped, or for jwst-mode photometry, which measures whole segments).
    """
    if not ctx.result.crfints:
        return contextlib.nullcontext()
    if spectroscopy:
        from .stages import extraction

        with ctx.timer("extract_1d"):  # places the apertures
            return extraction.BlockExtraction(
                ctx.obs, ctx.params.extract_1d, mode=ctx.mode, medians=early.medians()
            )
    if photometry and ctx.mode != "jwst":
        from .stages import photometry as phot

        with ctx.timer("tso_photometry"):  # places the aperture
            return phot.BlockPhotometry(
                ctx.obs, ctx.params.tso_photometry, ctx.provenance, sample=early.sample()
            )
    return contextlib.nullcontext()


def _spectroscopy(ctx: _Context, sources: dict, repair, white_light: bool, stream=None) -> dict:
    """Spectroscopy: spectra -> x1dints, then white light (and binned curves).

    ``stream`` is the :class:`~tso3.stages.extraction.BlockExtraction` the outlier pass
    fed; without one the spectra are extracted from the ``sources`` files.
    """
    from .stages import extraction, whitelight

    obs, result = ctx.obs, ctx.result
    with ctx.timer("extract_1d"):
        if stream is not None:
            spectra = stream.result()
        else:
            total = sum(s.nints for s in obs.segments)
            with Progress("extract_1d", total, enabled=ctx.show) as bar:
                spectra = extraction.extract(
                    obs, sources, ctx.params.extract_1d, mode=ctx.mode, repair=repair,
                    progress=bar,
                )  # fmt: skip
        x1d = ctx.staged.reserve(result.x1dints)
        extraction.write(spectra, obs, x1d, ctx.provenance, outliers_done=bool(result.crfints))
    products: dict[str, object] = {"extraction": spectra}
    if white_light:
        with ctx.timer("white_light"):
            curves = whitelight.measure(
                spectra.spectra, dict(obs.first.primary_header), ctx.params.white_light,
                mode=ctx.mode, provenance=ctx.provenance,
            )  # fmt: skip
            speclc = ctx.staged.reserve(result.speclc) if curves.binned else None
            whitelight.write(curves, ctx.staged.reserve(result.whtlt), speclc)
        if not curves.binned:
            result.speclc = None
        products["curves"] = curves
        result.summary["scatter_ppm"] = curves.scatter_ppm
    return products


@contextlib.contextmanager
def _timed(timings: dict[str, float], name: str):
    """Add the wall time of the block to ``timings[name]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start


def _plots(out: Path, obs: Observation, outcome, products: dict, staged: StagedOutputs):
    """Diagnostic PNGs into ``<product>_plots/`` (written under a temporary name)."""
    from .plots import make_plots

    final_dir = out / f"{obs.product_name}_plots"
    plot_dir = staged.reserve(final_dir)
    plot_dir.mkdir(parents=True, exist_ok=True)
    made = make_plots(plot_dir, obs, outcome, **products)
    return [final_dir / p.name for p in made]


def _plan(obs: Observation, out: Path, skip: set[str], plots: bool) -> RunResult:
    """Final names of every product this run will write."""
    name = obs.product_name
    result = RunResult(output_dir=out, log_file=out / f"{name}_tso3.log")
    if "outlier_detection" not in skip:
        result.crfints = [crfints_path(out, s.path, obs.asn_id) for s in obs.segments]
    if obs.is_imaging:
        result.phot = out / f"{name}_phot.ecsv"
    else:
        result.x1dints = out / f"{name}_x1dints.fits"
        result.whtlt = out / f"{name}_whtlt.ecsv"
        result.speclc = out / f"{name}_speclc.fits"
    return result


def _refuse_existing(result: RunResult, overwrite: bool, product: str) -> None:
    if overwrite:
        return
    others = [result.log_file, result.output_dir / f"{product}_plots"]
    existing = [p for p in [*result.products, *others] if p is not None and p.exists()]
    if existing:
        raise OutputExistsError(
            f"{existing[0]}: product exists (and {len(existing) - 1} more); use --overwrite"
            if len(existing) > 1
            else f"{existing[0]}: product exists; use --overwrite"
        )


def _drop_unwritten(result: RunResult, skip: set[str], obs: Observation) -> None:
    if obs.is_imaging and "tso_photometry" in skip:
        result.phot = None
    if not obs.is_imaging and "extract_1d" in skip:
        result.x1dints = result.whtlt = result.speclc = None
    if "white_light" in skip:
        result.whtlt = result.speclc = None


@contextlib.contextmanager
def _crfints_copies(obs, result, staged, params, provenance):
    """Start every crfints as a background copy of its segment.

    Yields ``(targets, ready)``: segment path -> temporary crfints path, and a function
    that waits for one segment's copy.  Leaving the block waits for every copy, so a
    failed copy fails the run even if nothing patched it; an error inside the block
    cancels the copies not yet started.
    """
    if not result.crfints:
        yield {}, None
        return
    header = _crfints_header(obs, params, provenance)
    targets = {
        seg.path: staged.reserve(final)
        for seg, final in zip(obs.segments, result.crfints, strict=True)
    }
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tso3-copy") as copier:
        copies = {
            src: copier.submit(write_copy, src, tmp, primary_header_bytes(src, header))
            for src, tmp in targets.items()
        }
        try:
            yield targets, lambda src: copies[src].result()
            for done in copies.values():
                done.result()
        except BaseException:
            for pending in copies.values():
                pending.cancel()
            raise


def _outlier_pass(obs, targets, ready, params, mode, show, stream=None, motions=None):
    """Patch the crfints copies and return (arrays to measure from, outcome).

    With outlier_detection skipped (no targets) the calints are measured instead.
    ``stream`` (a BlockExtraction or BlockPhotometry) is given every judged block;
    ``motions`` are the motion models when already learned.
    """
    if not targets:
        log.info("outlier_detection skipped: measuring the calints files")
        return {s.path: s.path for s in obs.segments}, None
    total = sum(s.shape[0] * s.shape[1] for s in obs.segments)
    # A segment's copy is awaited only before its first patch.
    with Progress("outliers", total, enabled=show) as bar:
        outcome = outliers.detect_and_write(
            obs, targets, params.outlier_detection, mode=mode, progress=bar, ready=ready,
            sink=None if stream is None else stream.submit, motions=motions,
        )  # fmt: skip
    for src in targets:
        ready(src)  # the measurements read every crfints
    log.info("outlier_detection: %.4f %% of pixels flagged", 100 * outcome.flagged_fraction)
    return targets, outcome


def _crfints_header(obs: Observation, params: Parameters, provenance: dict) -> dict:
    p = params.outlier_detection
    return {
        "S_OUTLIR": ("COMPLETE", "Outlier Detection"),
        "ASNPOOL": (obs.association.asn_pool or "N/A", "Name of the ASN pool"),
        "ASNTABLE": (obs.association.asn_table or "N/A", "Name of the ASN table"),
        "TSO3VER": (provenance["version"], "tso3 version"),
        "TSO3MODE": (provenance["mode"], "tso3 mode (default or jwst)"),
        "TSO3RWW": (p.rolling_window_width, "rolling_window_width"),
        "TSO3SNR": (p.snr, "outlier_detection snr"),
        "TSO3GBIT": (p.good_bits, "outlier_detection good_bits"),
        "TSO3MOT": (p.motion_modes, "outlier_detection motion_modes"),
    }


@contextlib.contextmanager
def _run_log(path: Path | None, staged: StagedOutputs):
    """Log everything of this run to ``<product>_tso3.log`` beside the products."""
    if path is None:
        yield
        return
    handler = logging.FileHandler(staged.reserve(path), mode="w")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("tso3")
    previous = root.level
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    # the closing summary goes to the file only: the console prints it on stdout
    file_only.addHandler(handler)
    file_only.propagate = False
    file_only.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        file_only.removeHandler(handler)
        root.setLevel(previous)
        handler.close()
