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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from . import __version__
from .config import check_run_options, resolve_parameters
from .errors import InputError, Tso3Error
from .io.association import INPUT_SUFFIX, parse_exposure_name, read_association
from .io.atomic import atomic_output, temporary_owner
from .io.observation import load_observation
from .products import plan_products, products_complete
from .progress import Progress
from .stages.whitelight import binning_requested

log = logging.getLogger("tso3")

__all__ = ["BatchResult", "BatchRow", "ObservationInput", "batch", "find_observations"]

#: Name of the batch summary in the output folder.
SUMMARY_NAME = "batch_summary.ecsv"
#: The columns of the summary, in order.
COLUMNS = (
    "product",
    "mode",
    "integrations",
    "flagged_fraction",
    "scatter_ppm",
    "elapsed_s",
    "status",
    "error",
)
DESCRIPTIONS = {
    "product": "product name (the input's name when it could not be read)",
    "mode": "EXP_TYPE of the observation",
    "integrations": "integrations of the first detector (0: not known)",
    "flagged_fraction": "fraction of pixels flagged as outliers",
    "scatter_ppm": "point-to-point light-curve scatter (ppm)",
    "elapsed_s": "wall time of the run (s)",
    "status": "done, skipped (products complete), failed or cancelled",
    "error": "the error line of a failed observation",
}


@dataclass(frozen=True)
class ObservationInput:
    """What ``tso3 run`` would be given for one observation.

    Attributes
    ----------
    label : str
        The ASN file as given or the exposure id, for messages before the product is
        known.
    paths : tuple of Path
        One ASN JSON, or the calints segments of one exposure.
    """

    label: str
    paths: tuple[Path, ...]


@dataclass
class BatchRow:
    """One observation's line of the batch summary.

    ``failure`` is ``"input"`` (a :class:`tso3.errors.Tso3Error`, exit status 2) or
    ``"bug"`` (any other exception, exit status 1) for a failed observation.
    """

    product: str
    mode: str = ""
    integrations: int = 0
    flagged_fraction: float = math.nan
    scatter_ppm: float = math.nan
    elapsed_s: float = math.nan
    status: str = "cancelled"
    error: str = ""
    failure: str | None = field(default=None, compare=False)

    def failed(self, exc: BaseException) -> BatchRow:
        """This row, marked failed with the one-line message of ``exc``."""
        if isinstance(exc, Tso3Error):
            return replace(self, status="failed", error=str(exc), failure="input")
        message = " ".join(f"internal error: {type(exc).__name__}: {exc}".split())
        return replace(self, status="failed", error=message, failure="bug")


@dataclass
class BatchResult:
    """The rows of a batch, in input order, and the summary file."""

    rows: list[BatchRow]
    summary: Path

    @property
    def failed(self) -> list[BatchRow]:
        return [r for r in self.rows if r.status == "failed"]

    @property
    def exit_status(self) -> int:
        """0 when nothing failed, 2 when a failure is bad input, else 1 (a bug)."""
        kinds = {r.failure for r in self.failed}
        return 2 if "input" in kinds else 1 if kinds else 0


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
# finding the observations


def find_observations(
    inputs: Sequence[str | os.PathLike] | str | os.PathLike,
    exclude: Iterable[str | os.PathLike] = (),
) -> list[ObservationInput]:
    """The observations of ``tso3 batch`` INPUT arguments.

    An ASN JSON is one observation.  A folder gives one observation per ``*_asn.json``
    in it and one per exposure of the ``*_calints.fits`` files no ASN there lists; a
    folder with neither is searched the same way in its subfolders (a folder of
    folders).  Calints files given directly are grouped by exposure too.  Segments of
    one exposure (all its ``-segNNN`` files and detectors) are one observation, files
    whose names are not JWST exposure names one per folder, as ``tso3 run FOLDER``
    would take them.

    Parameters
    ----------
    inputs : path-like or sequence of path-like
    exclude : iterable of path-like
        Folders not to search (the output folder).

    Returns
    -------
    list of ObservationInput
        In input order, each observation once.

    Raises
    ------
    InputError
        No input, an input that does not exist, or a folder without any observation.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    paths = [Path(p) for p in inputs]
    if not paths:
        raise InputError(None, "no input given: pass ASN JSONs, folders or a folder of folders")
    skipped = {Path(p).resolve() for p in exclude}
    found: list[ObservationInput] = []
    loose: list[Path] = []
    for path in paths:
        if not path.exists():
            raise InputError(path, "no such file or directory")
        if path.is_dir():
            in_folder = _search_folder(path, skipped)
            if not in_folder:
                raise InputError(
                    path, f"holds no *_asn.json or *_{INPUT_SUFFIX}.fits files, nor do its folders"
                )
            found += in_folder
        elif path.suffix.lower() == ".json":
            found.append(ObservationInput(str(path), (path.resolve(),)))
        else:
            loose.append(path.resolve())
    found += _by_exposure(loose)
    unique = {item.paths: item for item in reversed(found)}  # the first of duplicates
    return [item for item in found if unique[item.paths] is item]


def _search_folder(folder: Path, skipped: set[Path]) -> list[ObservationInput]:
    if folder.resolve() in skipped:
        return []
    asns = sorted(folder.glob("*_asn.json"))
    calints = sorted(folder.glob(f"*_{INPUT_SUFFIX}.fits"))
    if not asns and not calints:
        subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and p.name[0] != ".")
        return [item for sub in subfolders for item in _search_folder(sub, skipped)]
    listed: set[Path] = set()
    for asn in asns:
        # a broken ASN is reported when its observation is planned, not here
        with contextlib.suppress(InputError):
            listed.update(read_association(asn).members)
    found = [ObservationInput(str(asn), (asn.resolve(),)) for asn in asns]
    return found + _by_exposure([p.resolve() for p in calints if p.resolve() not in listed])


def _by_exposure(files: list[Path]) -> list[ObservationInput]:
    groups: dict[str, list[Path]] = {}
    for path in files:
        fields = parse_exposure_name(path)
        if fields is None:
            key = path.parent.name or str(path.parent)
        else:
            key = "jw{program}{observation}{visit}_{visit_group}{sequence}{activity}_{exposure}"
            key = key.format(**fields)
        groups.setdefault(key, []).append(path)
    return [ObservationInput(key, tuple(paths)) for key, paths in groups.items()]


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
    memory = observation_memory([seg.path.stat().st_size for seg in obs.segments])
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
    previous = _previous_rows(root / SUMMARY_NAME)
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
            planned = _carry_over(row, previous.get(row.product))
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
        _write_summary(summary, rows, options)
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


# ------------------------------------------------------------------------------------
# the summary table


def _write_summary(path: Path, rows: list[BatchRow], options: RunOptions) -> None:
    """``batch_summary.ecsv``, written atomically; provenance in the ``tso3`` meta key."""
    from astropy.table import Table

    numbers = {"integrations": int, "flagged_fraction": float, "scatter_ppm": float}
    table = Table(
        [[getattr(r, name) for r in rows] for name in COLUMNS],
        names=COLUMNS,
        dtype=[numbers.get(name, float if name == "elapsed_s" else str) for name in COLUMNS],
    )
    for name in COLUMNS:
        table[name].description = DESCRIPTIONS[name]
    table["elapsed_s"].unit = "s"
    prov = {"version": __version__, "mode": options.mode, "parameters": options.parameters}
    table.meta["tso3"] = {**prov, "skip": list(options.skip), "plots": options.plots}
    with atomic_output(path) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)


def read_summary(path: str | os.PathLike) -> list[BatchRow]:
    """The rows of a ``batch_summary.ecsv``.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    list of BatchRow
    """
    from astropy.table import Table

    table = Table.read(path, format="ascii.ecsv")
    text = {"product", "mode", "status", "error"}
    for name in text & set(table.colnames):
        if table.masked or hasattr(table[name], "mask"):  # ECSV reads "" as masked
            table[name] = table[name].filled("")
    kinds = {"integrations": int, **dict.fromkeys(COLUMNS[3:6], float)}
    return [
        BatchRow(**{name: kinds.get(name, str)(record[name]) for name in COLUMNS})
        for record in table
    ]


def _previous_rows(path: Path) -> dict[str, BatchRow]:
    """An earlier batch's rows by product, for the numbers of products it made."""
    if not path.is_file():
        return {}
    try:
        rows = read_summary(path)
    except Exception as exc:  # only a convenience: the batch does not need it
        log.debug("%s: not read (%s)", path, exc)
        return {}
    return {r.product: r for r in rows if r.status in ("done", "skipped")}


def _carry_over(row: BatchRow, earlier: BatchRow | None) -> BatchRow:
    """A skipped row with the numbers of the run that made its products, when known."""
    if earlier is None:
        return row
    numbers = {k: v for k, v in asdict(earlier).items() if k in COLUMNS[2:6]}
    return replace(row, **numbers)
