"""``tso3 export``: an x1dints in the layout other tools read (:mod:`tso3.io.legacy_x1dints`)."""

from __future__ import annotations

import os
from pathlib import Path

from .. import __version__
from ..io.legacy_x1dints import write_legacy

__all__ = ["export_legacy"]


def export_legacy(
    x1dints: str | os.PathLike,
    output_dir: str | os.PathLike | None = None,
    *,
    overwrite: bool = False,
) -> list[Path]:
    """Write the spectra of an x1dints in the pre-2025 layout, for chromatic, specutils
    and jdaviz: one EXTRACT1D per integration and order, one file per detector,
    ``<product>[_<detector>]_legacy_x1dints.fits``.

    Parameters
    ----------
    x1dints : path-like
        An x1dints of the current layout (tso3's, or jwst >= 1.19's).
    output_dir : path-like, optional
        Folder for the exports (made if needed); default the x1dints' folder.
    overwrite : bool
        Replace existing exports.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Raises
    ------
    tso3.errors.InputError
        Not an x1dints, already in the old layout, or without integration times.
    tso3.errors.OutputExistsError
        An export exists and ``overwrite`` is False.
    """
    return write_legacy(x1dints, output_dir, overwrite=overwrite, version=__version__)
