"""Atomic product writing: write to a temporary name, rename on success."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError

# ``.<stem>.tmp<pid><suffix>``: hidden, beside the product, naming the process writing it
_TEMPORARY = re.compile(r"^\..+\.tmp(?P<pid>\d+)(\.[A-Za-z0-9]+)?$")


def temporary_path(final_path: str | os.PathLike) -> Path:
    """Where a product is written before it is renamed to ``final_path``: beside it,
    hidden, with this process's id, keeping the final suffix (``.fits``, ``.ecsv``) so
    that libraries choosing a format from the name still work."""
    final = Path(final_path)
    return final.with_name(f".{final.stem}.tmp{os.getpid()}{final.suffix}")


def temporary_owner(path: str | os.PathLike) -> int | None:
    """The process id in a :func:`temporary_path` name, None for any other name."""
    match = _TEMPORARY.match(Path(path).name)
    return None if match is None else int(match["pid"])


@contextlib.contextmanager
def atomic_output(final_path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``final_path``; rename it into place on success.

    If the body raises, the temporary file is removed and ``final_path`` is left as it
    was, so a failed run never leaves a partial product.

    Parameters
    ----------
    final_path : str or os.PathLike
        Where the product should end up.

    Yields
    ------
    pathlib.Path
        The temporary path to write to.  It keeps the final suffix (``.fits``,
        ``.ecsv``) so that libraries choosing a format from the name still work.
    """
    final = Path(final_path)
    tmp = temporary_path(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def probe_fits_mmap() -> None:
    """Let astropy make its once-per-process mmap check now, before the run writes.

    On its first FITS write astropy checks that ``mmap.flush`` works on a one-byte
    temporary file, which it fsyncs.  On ext4 (``data=ordered``) that fsync commits the
    journal, and with it every file written but not yet on disk.  After the crfints
    have been written, that can take 0.2-0.5 s.  Before anything is written, it takes
    milliseconds.  A failed check is left for astropy to repeat and report.
    """
    from astropy.io.fits.file import _File

    with contextlib.suppress(Exception):  # a private attribute: never fail a run over it
        _File._mmap_available  # noqa: B018 (the lazy class property caches its result)


class StagedOutputs:
    """A set of products written under temporary names and published together.

    Every product of a run is reserved here first; nothing appears under its final name
    until :meth:`commit`, and :meth:`abort` removes every temporary file, so a failed
    run leaves no partial products behind.
    """

    def __init__(self) -> None:
        self._pending: dict[Path, Path] = {}

    def reserve(self, final_path: str | os.PathLike) -> Path:
        """Return the temporary path to write ``final_path`` to."""
        final = Path(final_path)
        tmp = temporary_path(final)
        self._pending[final] = tmp
        return tmp

    @property
    def finals(self) -> list[Path]:
        return list(self._pending)

    def commit(self) -> list[Path]:
        """Rename every written temporary file to its final name."""
        done = []
        for final, tmp in self._pending.items():
            if tmp.exists():
                if tmp.is_dir() and final.is_dir():
                    shutil.rmtree(final)
                os.replace(tmp, final)
                done.append(final)
        self._pending.clear()
        return done

    def abort(self) -> None:
        """Remove every temporary file."""
        for tmp in self._pending.values():
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
        self._pending.clear()


@contextlib.contextmanager
def output_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Make ``path`` (and missing parents) a writable output folder for the body.

    If the body raises, the folders made here are removed again when empty, so a
    failed run leaves the file system as it found it.

    Raises
    ------
    InputError
        When ``path`` (or a parent) is a file, cannot be created, or is not writable
        (a read-only file system, no permission, a virtual file system such as /proc).
    """
    out = Path(path)
    if "\0" in str(out):
        raise InputError(None, "the output folder name holds a NUL character")
    made = [p for p in (out, *out.parents) if not p.exists()]
    if out.exists() and not out.is_dir():
        raise InputError(out, "the output folder is a file")
    blocker = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise InputError(out, f"cannot make the output folder: {blocker} is a file")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".tso3-write-test.{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        _remove_empty(made)
        reason = exc.strerror or str(exc)
        raise InputError(out, f"cannot write to the output folder ({reason})") from None
    try:
        yield out
    except BaseException:
        _remove_empty(made)
        raise


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders (deepest first) that are still there and empty."""
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()
