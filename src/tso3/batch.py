"""Many observations, one dask.distributed task each: ``tso3 batch`` and :func:`batch`.

Find the observations (one per ASN, or per exposure of loose calints files) -> plan each
one here (product name, completeness, memory) -> run the others as tasks, each the same
:func:`tso3.pipeline.run` as ``tso3 run`` into ``DIR/<product>/`` -> write
``DIR/batch_summary.ecsv``.  A failing observation is one row of the summary; the others
go on.  Every run publishes its products only when it has succeeded
(:func:`tso3.products.staged_products`), so an interrupted batch leaves no half-written
product: a local cluster's workers are stopped and their temporary files removed, and on
a cluster of one's own the running tasks finish.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from . import __version__
from .batch_summary import (
    SUMMARY_NAME,
    BatchResult,
    BatchRow,
    carry_over,
    previous_rows,
    read_summary,
    write_summary,
)
from .config import check_run_options, resolve_parameters
from .errors import InputError
from .io.atomic import temporary_owner
from .io.discovery import ObservationInput, find_observations
from .io.observation import load_observation
from .products import plan_products, products_complete
from .progress import Progress
from .stages.whitelight import binning_requested

log = logging.getLogger("tso3")

__all__ = [
    "BatchResult",
    "BatchRow",
    "ObservationInput",
    "RunOptions",
    "batch",
    "find_observations",
    "read_summary",
    "run_observation",
]


@dataclass(frozen=True)
class RunOptions:
    """The ``tso3 run`` options every task gets (parameters already resolved)."""

    parameters: dict
    skip: tuple[str, ...] = ()
    mode: str = "default"
    overwrite: bool = False
    plots: bool = True

    def run_arguments(self) -> dict:
        """The keyword arguments of :func:`tso3.run` (the parameters as its ``config``)."""
        options = {k: getattr(self, k) for k in ("skip", "mode", "overwrite", "plots")}
        return {"config": self.parameters, **options}


# ------------------------------------------------------------------------------------
# one observation


@dataclass
class _Planned:
    item: ObservationInput
    output_dir: Path
    memory: int
    row: BatchRow


def _plan(item: ObservationInput, root: Path, options: RunOptions, binning: bool):
    """A :class:`_Planned` run, or the row of an observation that is complete or unusable."""
    from .cluster import observation_memory

    row = BatchRow(product=item.label)
    try:
        obs = load_observation(list(item.paths))  # headers and times
    except Exception as exc:  # its row says what went wrong; the others go on
        return row.failed(exc)
    row = BatchRow(product=obs.product_name, mode=obs.exp_type, integrations=obs.nints())
    out = root / obs.product_name
    planned = plan_products(obs, out, set(options.skip))
    if not options.overwrite and products_complete(planned, binning=binning, plots=options.plots):
        return replace(row, status="skipped")
    memory = observation_memory([path.stat().st_size for path in obs.files])
    return _Planned(item, out, memory, row)


def run_observation(item: ObservationInput, output_dir: Path, options: RunOptions) -> BatchRow:
    """The task: ``tso3 run`` of one observation into ``output_dir``; its summary row.

    Never raises for the observation's own problems (they are the row's error); an
    interruption does raise.

    Parameters
    ----------
    item : ObservationInput
    output_dir : Path
        ``DIR/<product>``.
    options : RunOptions

    Returns
    -------
    BatchRow
    """
    from .pipeline import run

    # messages go to the observation's log file, not to the worker's console
    tso3_log = logging.getLogger("tso3")
    if not tso3_log.handlers:
        tso3_log.addHandler(logging.NullHandler())
    row = BatchRow(product=output_dir.name)
    started = time.perf_counter()
    try:
        result = run(list(item.paths), output_dir, quiet=True, **options.run_arguments())
    except Exception as exc:
        return replace(row.failed(exc), elapsed_s=time.perf_counter() - started)
    s = result.summary
    return replace(
        row,
        integrations=int(s["integrations"]),
        flagged_fraction=math.nan
        if s["flagged_fraction"] is None
        else float(s["flagged_fraction"]),
        scatter_ppm=float(s.get("scatter_ppm", math.nan)),
        elapsed_s=float(s["elapsed_s"]),
        status="done",
    )


# ------------------------------------------------------------------------------------
# the batch


def batch(
    inputs: Sequence[str | os.PathLike] | str | os.PathLike,
    output_dir: str | os.PathLike = ".",
    client=None,
    *,
    workers: int | None = None,
    config: str | os.PathLike | Mapping | None = None,
    overrides: Iterable[str] | Mapping = (),
    skip: Iterable[str] = (),
    mode: str = "default",
    overwrite: bool = False,
    plots: bool = True,
    quiet: bool = False,
    dashboard_address: str | None = None,
) -> BatchResult:
    """Run tso3 on many observations, one dask.distributed task each.

    Parameters
    ----------
    inputs : path-like or sequence of path-like
        ASN JSONs, folders, or a folder of folders (:func:`find_observations`).
    output_dir : path-like
        Each observation's products go to ``output_dir/<product>/``, the summary to
        ``output_dir/batch_summary.ecsv``.
    client : distributed.Client, optional
        A client of the cluster to use.  Without one, a local cluster of ``workers``
        processes is started for the batch and stopped after it.
    workers : int, optional
        Worker processes of the local cluster (default: as many as the cores and the
        memory the observations need allow; see :func:`tso3.cluster.local_workers`).
    config, overrides, skip, mode, overwrite, plots
        As for :func:`tso3.run`, the same for every observation.  Without
        ``overwrite``, an observation whose products are all there is skipped.
    quiet : bool
        No progress bar.
    dashboard_address : str, optional
        Dashboard of the local cluster (default: none; ``":8787"`` as ``tso3 batch``).

    Returns
    -------
    BatchResult

    Raises
    ------
    tso3.errors.InputError
        Bad options or parameters, or an input that does not exist (before anything
        runs).  A problem of one observation is its row of the result instead.
    """
    skip = check_run_options(skip, mode)
    params = resolve_parameters(config, overrides)
    options = RunOptions(params.as_dict(), tuple(sorted(skip)), mode, overwrite, plots)
    root = Path(output_dir)
    items = find_observations(inputs, exclude=[root])
    previous = previous_rows(root / SUMMARY_NAME)
    binning = binning_requested(params.white_light)
    rows: list[BatchRow] = []
    todo: dict[int, _Planned] = {}
    claimed: dict[str, str] = {}
    for item in items:
        planned = _plan(item, root, options, binning)
        row = planned.row if isinstance(planned, _Planned) else planned
        if row.product in claimed and row.status != "failed":
            first = claimed[row.product]
            problem = f"makes product {row.product}, as {first} does; give only one of them"
            planned = row.failed(InputError(item.label, problem))
        elif row.status == "skipped":
            planned = carry_over(row, previous.get(row.product))
        claimed.setdefault(row.product, item.label)
        if isinstance(planned, _Planned):
            todo[len(rows)] = planned
            planned = planned.row
        _report(planned)
        rows.append(planned)
    skipped = sum(r.status == "skipped" for r in rows)
    log.info(
        "batch: %d observation(s): %d to run, %d complete (skipped), %d unusable",
        len(rows), len(todo), skipped, len(rows) - len(todo) - skipped,
    )  # fmt: skip
    root.mkdir(parents=True, exist_ok=True)
    summary = root / SUMMARY_NAME
    try:
        if todo:
            _run_tasks(todo, rows, options, client, workers, quiet, dashboard_address)
    finally:
        if client is None:  # the local workers are gone: no run of theirs can finish
            for planned in todo.values():
                _remove_orphans(planned.output_dir)
        write_summary(summary, rows, _provenance(options))
    return BatchResult(rows, summary)


def _report(row: BatchRow) -> None:
    """A failure as a warning when it happens; other outcomes at INFO."""
    if row.status == "failed":
        log.warning("%s: %s", row.product, row.error)
    elif row.status != "cancelled":  # cancelled: planned, not run yet
        log.info("%s: %s", row.product, row.status)


def _run_tasks(todo, rows, options, client, workers, quiet, dashboard_address) -> None:
    """Submit every planned run and put each finished row in ``rows``."""
    from distributed import as_completed

    from .cluster import check_worker_threads, dashboard_link, local_client, local_workers

    if client is None:
        n = workers or local_workers([p.memory for p in todo.values()])
        connection = local_client(n, dashboard_address)
        log.info("batch: local cluster of %d worker process(es)", n)
    else:
        connection = contextlib.nullcontext(client)
    with connection as client:
        link = dashboard_link(client)
        if link:
            log.info("dask dashboard: %s", link)
        check_worker_threads(client)
        futures = {
            client.submit(run_observation, p.item, p.output_dir, options, pure=False): index
            for index, p in todo.items()
        }
        try:
            with Progress("observations", len(futures), enabled=not quiet) as bar:
                for future in as_completed(futures):
                    index = futures[future]
                    try:  # the task knows the run, the plan knows the EXP_TYPE
                        rows[index] = replace(future.result(), mode=todo[index].row.mode)
                    except Exception as exc:  # the worker died (memory?) or was lost
                        rows[index] = todo[index].row.failed(exc)
                    _report(rows[index])
                    bar(1)
        except BaseException:
            client.cancel(list(futures))
            raise


def _remove_orphans(folder: Path) -> None:
    """Remove the temporary outputs of stopped processes (``.<name>.tmp<pid><ext>``).

    The name is the one :func:`tso3.io.atomic.temporary_path` gives; temporary files of
    a process still running (another ``tso3 run``) are left alone.
    """
    import shutil

    import psutil  # a dependency of dask.distributed, declared in pyproject.toml too

    if not folder.is_dir():
        return
    for path in folder.iterdir():
        owner = temporary_owner(path)
        if owner is None or psutil.pid_exists(owner):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        folder.rmdir()  # only when empty: the batch made it


def _provenance(options: RunOptions) -> dict:
    """What the summary records of the batch: tso3's version and the run options."""
    return {"version": __version__, "mode": options.mode, "parameters": options.parameters,
            "skip": list(options.skip), "plots": options.plots}  # fmt: skip
