"""The log file and the step timings of a run."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path

#: The closing summary and the timings go to the log file only (the console prints the
#: summary on stdout).
file_only = logging.getLogger("tso3.logfile")


@contextlib.contextmanager
def run_log(path: Path) -> Iterator[None]:
    """Log everything of this run at INFO and above to ``path`` (the ``_tso3.log``)."""
    handler = logging.FileHandler(path, mode="w")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("tso3")
    previous = root.level
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
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


class Timings(dict):
    """Wall seconds per step name; ``with timings("step"):`` adds a block's time."""

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self[name] = self.get(name, 0.0) + time.perf_counter() - start

    def rounded(self) -> dict[str, float]:
        return {k: round(v, 2) for k, v in self.items()}
