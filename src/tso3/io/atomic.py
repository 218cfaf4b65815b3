"""Atomic product writing: write to a temporary name, rename on success."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


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
    tmp = final.with_name(f".{final.stem}.tmp{os.getpid()}{final.suffix}")
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
