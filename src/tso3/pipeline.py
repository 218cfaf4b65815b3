"""The story of a tso3 run.

Read the headers -> plan the products -> start the crfints, the preparations that
need arrays only and (when a WCS is used) the ASDF trees -> plan the measuring stage
(photometry or extraction) -> one pass over the data: the outlier pass (or, when skipped,
the files) hands every block to the stage -> write the products, white light and binned
curves -> plots -> summary.  Every product is written under a temporary name and
published only when the whole run succeeded.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from . import __version__
from .config import changed_settings, check_run_options, resolve_parameters
from .errors import InputError
from .io.atomic import probe_fits_mmap
from .io.observation import load_observation
from .io.segments import open_wcs
from .parallel import background, run_threads
from .products import (
    RunResult,
    crfints_keywords,
    plan_products,
    provenance,
    refuse_existing,
    staged_products,
    x1dints_keywords,
)
from .progress import Progress
from .runlog import Timings, file_only
from .stages import measuring_stage, outliers
from .stages.blocks import file_blocks
from .summary import light_curve_scatter_ppm, summarise

log = logging.getLogger("tso3")

__all__ = ["RunResult", "run"]


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
    skip = check_run_options(skip, mode)
    params = resolve_parameters(config, overrides)
    timer = Timings()
    probe_fits_mmap()  # astropy's fsync, while nothing is written (io.atomic)
    with timer("load"):
        obs = load_observation(inputs)  # headers, times, WAVELENGTH: every input check
    _warn_unused_settings(params, obs.is_imaging)
    result = plan_products(obs, Path(output_dir), skip)
    refuse_existing(result, overwrite)
    prov = provenance(mode, params, obs)
    stage_class = measuring_stage(result.phot, result.x1dints)
    with staged_products(result) as staged, run_threads(), contextlib.ExitStack() as writing:
        log.info("tso3 %s, mode %s\n%s", __version__, mode, obs.describe())  # into the log
        file_only.info("parameters: %s", json.dumps(params.as_dict()))  # too long for a console
        for caveat in obs.caveats:  # said on stderr when found; the log file has them too
            file_only.warning("%s", caveat)
        # input file -> its crfints under a temporary name (none when the pass is skipped)
        crfints = result.crfints or [None] * len(obs.files)
        targets = {path: staged.reserve(c) for path, c in zip(obs.files, crfints, strict=True) if c}
        keywords = crfints_keywords(obs, params, prov)
        # the crfints are written on their own thread until the products are: their last
        # writes overlap the measuring stage's end and the other products
        ready = writing.enter_context(outliers.crfints_copies(targets, keywords))
        with background("prep") as prep:
            # what needs the arrays runs while the copies start, off the main thread
            motions = targets and prep.submit(
                outliers.learn_motions, obs, params.outlier_detection, mode
            )
            prepared = stage_class and prep.submit(stage_class.prepare, obs, mode)
            # the ASDF trees (~1.5 s of pure Python) only of the segments whose WCS the
            # stage evaluates
            wcs_segments = stage_class.wcs_segments(obs) if stage_class else []
            trees = wcs_segments and prep.submit(open_wcs, wcs_segments)
            stage = None
            if stage_class is not None:
                with timer(stage_class.STEP):  # places the apertures
                    stage_params = getattr(params, stage_class.STEP)
                    stage = stage_class.plan(
                        obs, stage_params, mode=mode, prepared=prepared.result()
                    )
            with stage or contextlib.nullcontext():
                with timer("outlier_detection"):
                    outcome = _one_pass(obs, targets, ready, params, mode, stage, motions, quiet)
                if trees:
                    trees.result()  # a damaged tree that is needed is an input error
                if stage is not None:
                    with timer(stage_class.STEP):
                        measured = stage.finish()
        products = {}
        if stage is not None:
            products = _write_products(stage, measured, params, mode, prov, result, staged, timer)
        if plots:
            from .plots import make_plots  # matplotlib only when plotting

            with timer("plots"):
                made = make_plots(staged.reserve(result.plot_dir), obs, outcome, **products)
                result.plots = [result.plot_dir / p.name for p in made]
        if targets:
            with timer("outlier_detection"):
                writing.close()  # every crfints complete (a failed write fails the run here)
        summarise(result, obs, outcome, timer, started)
        staged.commit()
    return result


def _warn_unused_settings(params, imaging: bool) -> None:
    """Settings of steps this kind of observation never runs are ignored: say so."""
    unused = ("extract_1d", "white_light") if imaging else ("tso_photometry",)
    kind = "imaging" if imaging else "spectroscopy"
    for step, names in changed_settings(params).items():
        if step in unused:
            log.warning("%s has no %s step: %s ignored", kind, step,
                        ", ".join(f"{step}.{n}" for n in names))  # fmt: skip


def _one_pass(obs, targets, ready, params, mode, stage, motions, quiet):
    """Read the data once: every block of the source (the outlier pass, or the calints
    when it is skipped) goes to the measuring stage, if there is one.

    Returns the outlier pass's outcome (None when it is skipped).
    """
    if targets:
        total = sum(s.shape[0] * s.shape[1] for s in obs.segments)
        bar = Progress("outliers", total, enabled=not quiet)
        source = outliers.OutlierPass(
            obs, targets, params.outlier_detection, mode, progress=bar, ready=ready,
            motions=motions.result(),
        )  # fmt: skip
    elif stage is not None:
        log.info("outlier_detection skipped: measuring the calints files")
        bar = Progress("measure", sum(s.nints for s in obs.segments), enabled=not quiet)
        # the blocks the pass would have cut, so both routes repair the same way
        width = params.outlier_detection.rolling_window_width
        length = lambda npix: outliers.block_length(npix, width)  # noqa: E731
        source = _counted(file_blocks(obs, stage.arrays, length=length), bar)
    else:
        return None
    with bar:
        for block in source:
            if stage is not None:
                stage.consume(block)
    if not targets:
        return None
    log.info("outlier_detection: %.4f %% of pixels flagged",
             100 * source.outcome.flagged_fraction)  # fmt: skip
    return source.outcome


def _counted(blocks, bar):
    """The blocks, counting their integrations on the progress bar."""
    for block in blocks:
        yield block
        bar(block.nints)


def _refuse_nothing_measured(obs, fluxes: list[np.ndarray]) -> None:
    """InputError when no integration gave a finite flux: every pixel of the aperture is
    NaN or DO_NOT_USE in every integration, so the products would hold only NaN."""
    if not any(np.isfinite(flux).any() for flux in fluxes):
        raise InputError(
            obs.first.path, "no integration could be measured: every pixel in the aperture "
            "is NaN or DO_NOT_USE (DQ) in every integration",
        )  # fmt: skip


def _write_products(stage, measured, params, mode, prov, result, staged, timer) -> dict:
    """phot.ecsv, or x1dints then white light (and binned curves); what the plots use."""
    obs = stage.obs
    if result.phot is not None:
        _refuse_nothing_measured(obs, [np.asarray(measured["net_aperture_sum"].value)])
        with timer(stage.STEP):
            stage.write(measured, staged.reserve(result.phot), prov)
        result.summary["scatter_ppm"] = light_curve_scatter_ppm(measured["net_aperture_sum"].value)
        return {"phot": measured}
    # only this: photutils, behind the photometry stage, takes 1.5 s to import
    from .stages import whitelight

    _refuse_nothing_measured(obs, [s.flux for s in measured.spectra])
    with timer(stage.STEP):
        x1d = staged.reserve(result.x1dints)
        cal_ver = obs.segments[0].keyword("CAL_VER")
        keywords = x1dints_keywords(prov, bool(result.crfints), cal_ver)
        stage.write(measured, x1d, keywords, filename=result.x1dints.name)
    if result.whtlt is None:
        return {"extraction": measured}
    with timer("white_light"):
        header = dict(obs.first.primary_header)
        curves = whitelight.measure(
            measured.spectra, header, params.white_light, mode=mode, provenance=prov
        )
        speclc = staged.reserve(result.speclc) if curves.binned else None
        whitelight.write(curves, staged.reserve(result.whtlt), speclc)
    if speclc is None:
        result.speclc = None  # no binning asked
    result.summary["scatter_ppm"] = curves.scatter_ppm
    return {"extraction": measured, "curves": curves}
