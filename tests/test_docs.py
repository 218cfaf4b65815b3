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


def _readme_examples() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("```sh\n", text.index("Examples, a sequence you can paste"))
    return text[start + len("```sh\n") : text.index("```\n", start + 6)]


def test_readme_examples_run_in_order(tmp_path):
    """Every command of the README's example block, in order, in an empty folder."""
    import os
    import subprocess
    import sys

    script = _readme_examples()
    assert script.count("tso3 ") >= 10
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script + "\n"], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "out-img").is_dir() and list((tmp_path / "wl").glob("*_whtlt.ecsv"))
    # then the snippet of docs/products.md that opens the products in other tools
    proc = subprocess.run([sys.executable, "-c", _products_snippet()], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "(460, 100)" in proc.stdout  # chromatic: wavelengths x integrations


def _products_snippet() -> str:
    text = (ROOT / "docs/products.md").read_text()
    start = text.index("```python\n", text.index("## Opening tso3 products in other tools"))
    return text[start + len("```python\n") : text.index("```\n", start + 10)]
