"""The documents say what the code does: generated parts are current."""

from __future__ import annotations

from pathlib import Path

import pytest

from tso3.config import parameter_tables

ROOT = Path(__file__).resolve().parents[1]
START = "<!-- PARAMETERS: generated from src/tso3/config.py -->"
END = "<!-- /PARAMETERS -->"


@pytest.mark.parametrize("document", ["README.md", "docs/usage.md"])
def test_parameter_tables_are_current(document):
    """Regenerate with ``tso3.config.parameter_tables()`` when a parameter changes."""
    text = (ROOT / document).read_text()
    shown = text[text.index(START) + len(START) : text.index(END)].strip()
    assert shown == parameter_tables(), f"{document}: parameter tables out of date"
