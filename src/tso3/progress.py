"""Progress bars on a terminal, silence elsewhere."""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

#: The bar being drawn, so that a log line can clear it first and draw it again after.
_drawn: Progress | None = None


class Progress:
    """A one-line progress bar for ``total`` units of work.

    Drawn on ``stream`` only when it is a terminal and ``enabled``; otherwise every
    call is a no-op, so logs and pipes stay clean.

    Parameters
    ----------
    label : str
        What is being counted, e.g. ``"outliers"``.
    total : int
        Units of work (integrations, or integration-rows).
    enabled : bool
        False with ``--quiet``.
    stream : file-like
        Defaults to ``sys.stderr``.
    """

    def __init__(
        self, label: str, total: int, *, enabled: bool = True, stream: TextIO | None = None
    ):
        self.stream = stream or sys.stderr
        self.label = label
        self.total = max(int(total), 1)
        self.done = 0
        self.active = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self._start = time.perf_counter()
        self._last = 0.0

    def __call__(self, amount: int) -> None:
        """Advance by ``amount`` units."""
        self.done = min(self.total, self.done + int(amount))
        if not self.active:
            return
        now = time.perf_counter()
        if now - self._last < 0.1 and self.done < self.total:
            return
        self._last = now
        self._draw(now)

    def _draw(self, now: float | None = None) -> None:
        global _drawn
        now = time.perf_counter() if now is None else now
        frac = self.done / self.total
        bar = "#" * int(30 * frac)
        self.stream.write(
            f"\r{self.label:<12} [{bar:<30}] {100 * frac:5.1f}%  {now - self._start:6.1f}s"
        )
        self.stream.flush()
        _drawn = self

    def close(self) -> None:
        """Finish the line."""
        global _drawn
        if self.active:
            self(self.total - self.done)
            self.stream.write("\n")
            self.stream.flush()
        if _drawn is self:
            _drawn = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class BarAwareHandler(logging.StreamHandler):
    """A StreamHandler that clears a progress bar drawn on its stream before a message and
    draws it again after, so that messages and the bar never share a line."""

    def emit(self, record: logging.LogRecord) -> None:
        bar = _drawn
        if bar is not None and bar.stream is self.stream:
            self.stream.write("\r\x1b[K")
            super().emit(record)
            bar._draw()
            return
        super().emit(record)
