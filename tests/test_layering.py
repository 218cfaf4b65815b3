"""Layering of the package: what each layer may import of tso3."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "tso3"


def _tso3_imports(path: Path) -> set[str]:
    """Absolute names of the tso3 modules a source file imports (relative ones resolved)."""
    package = ["tso3", *path.relative_to(SRC).parent.parts]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                names.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                names.add(node.module)
    return {n for n in names if n == "tso3" or n.startswith("tso3.")}


def _violations(files, allowed) -> list[str]:
    return [
        f"{f.relative_to(SRC)} imports {name}"
        for f in files
        for name in sorted(_tso3_imports(f))
        if not allowed(name)
    ]


def _under(*prefixes: str):
    return lambda name: any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize(
    "files, allowed",
    [
        # the algorithms: nothing of tso3 but the flags, the errors and each other
        (sorted((SRC / "steps").glob("*.py")), _under("tso3.steps", "tso3.dqflags", "tso3.errors")),
        # the file formats: nothing of tso3 but the flags and the errors
        ([SRC / "formats.py"], _under("tso3.dqflags", "tso3.errors")),
        # the containers of spectra and light curves
        ([SRC / "spectra.py"], _under("tso3.dqflags", "tso3.errors", "tso3.formats")),
        # readers and writers: no algorithm, no stage (docs/architecture.md)
        (
            sorted((SRC / "io").glob("*.py")),
            _under(
                "tso3.io",
                "tso3.dqflags",
                "tso3.errors",
                "tso3.formats",
                "tso3.spectra",
                "tso3.parallel",
            ),
        ),
    ],
    ids=["steps", "formats", "spectra", "io"],
)
def test_layer_imports(files, allowed):
    assert files
    assert _violations(files, allowed) == []


def _stdlib_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_threads_live_in_parallel_and_steps_leave_warning_filters_alone():
    """tso3.parallel owns every pool (a lock elsewhere is fine); the steps, which may run
    on any of its threads, never change the process-wide warning filters."""
    pools = {"concurrent", "multiprocessing", "threadpoolctl"}
    offenders = [
        str(f.relative_to(SRC))
        for f in sorted(SRC.rglob("*.py"))
        if f.name != "parallel.py"
        and (_stdlib_imports(f) & pools or "threading.Thread" in f.read_text())
    ]
    assert offenders == []
    steps = sorted((SRC / "steps").glob("*.py"))
    assert [str(f.relative_to(SRC)) for f in steps if "catch_warnings(" in f.read_text()] == []


def test_documents_cited_in_the_code_are_in_the_repository():
    repo = SRC.parents[1]
    cited = set()
    for f in sorted(SRC.rglob("*.py")):
        text = f.read_text()
        assert "REFERENCE.md" not in text and "DESIGN.md" not in text, f
        cited.update(re.findall(r"docs/[\w.-]+\.md", text))
    assert cited
    assert [c for c in sorted(cited) if not (repo / c).exists()] == []


def test_src_never_imports_the_jwst_stack():
    """tso3 replaces jwst, stpipe, stcal and crds: the tests may import them (jwst 3.0.0
    is the parity reference, in the [test] extra), the package never does."""
    forbidden = {"jwst", "stpipe", "stcal", "crds"}
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            else:
                continue
            found += [f"{path.relative_to(SRC)}: {n}" for n in names
                      if n.split(".")[0] in forbidden]  # fmt: skip
    assert not found, found


def test_no_module_imports_one_that_imports_it():
    """No import cycle between two modules (cli and commands.batch once had one); a
    package and its own submodules (``from . import x``) do not count."""
    modules = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = _tso3_imports(path)
    cycles = sorted(
        f"{a} <-> {b}"
        for a, imports in modules.items()
        for b in imports
        if a < b and b in modules and a in modules[b] and not b.startswith(a + ".")
    )
    assert cycles == []
