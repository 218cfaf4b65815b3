"""The batch summary, ``batch_summary.ecsv``: one row per observation of a batch."""

from __future__ import annotations

import logging
import math
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .errors import Tso3Error
from .io.atomic import atomic_output

log = logging.getLogger("tso3")

__all__ = ["BatchResult", "BatchRow", "SUMMARY_NAME", "read_summary", "write_summary"]

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


def write_summary(path: Path, rows: list[BatchRow], provenance: dict) -> None:
    """``batch_summary.ecsv``, written atomically; ``provenance`` in the ``tso3`` meta key."""
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
    table.meta["tso3"] = provenance
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


def previous_rows(path: Path) -> dict[str, BatchRow]:
    """An earlier batch's rows by product, for the numbers of products it made."""
    if not path.is_file():
        return {}
    try:
        rows = read_summary(path)
    except Exception as exc:  # only a convenience: the batch does not need it
        log.debug("%s: not read (%s)", path, exc)
        return {}
    return {r.product: r for r in rows if r.status in ("done", "skipped")}


def carry_over(row: BatchRow, earlier: BatchRow | None) -> BatchRow:
    """A skipped row with the numbers of the run that made its products, when known."""
    if earlier is None:
        return row
    numbers = {k: v for k, v in asdict(earlier).items() if k in COLUMNS[2:6]}
    return replace(row, **numbers)
