"""tso3.progress: bars on a terminal, never sharing a line with a log message."""

from __future__ import annotations

import io
import logging

from tso3.progress import BarAwareHandler, Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_log_lines_do_not_land_on_the_bar():
    term = _Terminal()
    logger = logging.getLogger("tso3.test_progress")
    handler = BarAwareHandler(term)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with Progress("outliers", 10, stream=term) as bar:
            bar(5)
            logger.warning("a message")
            bar(5)
    finally:
        logger.removeHandler(handler)
    text = term.getvalue()
    before, after = text.split("a message\n")
    assert before.endswith("\r\x1b[K")  # the bar's line was cleared first
    assert after.startswith("\routliers")  # and the bar drawn again below the message


def test_silent_off_a_terminal():
    stream = io.StringIO()
    with Progress("x", 3, stream=stream) as bar:
        bar(3)
    assert stream.getvalue() == ""
