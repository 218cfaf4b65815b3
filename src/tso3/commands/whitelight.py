"""``tso3 whitelight``: white light (and binned curves) from an existing x1dints file.

Reads the spectra of a tso3 or archive ``x1dints`` (either layout), applies only
``white_light.PARAM=VALUE`` settings, refuses to replace existing products unless told to,
and writes ``<product>_whtlt.ecsv`` (and ``<product>_speclc.fits`` when a binning is set)
through the white-light stage (:mod:`tso3.stages.whitelight`), all or nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from .. import __version__
from ..config import parse_set_options, resolve_parameters
from ..errors import OutputExistsError, ParameterError
from ..io.atomic import StagedOutputs, output_folder
from ..io.x1dints_read import read_x1dints
from ..stages.whitelight import binning_requested, measure, write

__all__ = ["product_base", "whitelight_from_x1dints"]


def product_base(x1dints: str | os.PathLike) -> str:
    """``jw..._x1dints.fits`` -> ``jw...`` (the product name).

    Parameters
    ----------
    x1dints : path-like
        The x1dints file.

    Returns
    -------
    str
        Its name without ``_x1dints.fits`` (or ``.fits``).
    """
    name = Path(x1dints).name
    for suffix in ("_x1dints.fits", ".fits"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def whitelight_from_x1dints(
    x1dints: str | os.PathLike,
    output_dir: str | os.PathLike = ".",
    *,
    overrides: Iterable[str] | Mapping = (),
    mode: str = "default",
    overwrite: bool = False,
) -> list[Path]:
    """White light (and binned curves) from an existing x1dints file, either layout.

    Parameters
    ----------
    x1dints : path-like
        A ``*_x1dints.fits`` from tso3 or from the archive (current or pre-2025 layout).
    output_dir : path-like
        Where ``<product>_whtlt.ecsv`` (and ``<product>_speclc.fits``) go.
    overrides : iterable of str or mapping
        ``white_light.PARAM=VALUE`` settings.
    mode : {"default", "jwst"}
    overwrite : bool
        Replace existing files instead of refusing.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    tso3.errors.ParameterError
        A setting of another step, or a bad white_light value.
    tso3.errors.OutputExistsError
        A product exists and ``overwrite`` is False.
    tso3.errors.InputError
        The x1dints file is missing or unreadable.
    """
    steps = overrides if isinstance(overrides, Mapping) else parse_set_options(overrides)
    for step in steps:
        if step != "white_light":
            raise ParameterError(
                f"{step}", "tso3 whitelight only takes white_light.PARAM=VALUE settings"
            )
    params = resolve_parameters(None, steps).white_light
    provenance = {
        "version": __version__,
        "mode": mode,
        "parameters": {"white_light": resolve_parameters(None, steps).as_dict()["white_light"]},
    }
    data = read_x1dints(x1dints)
    out = Path(output_dir)
    base = product_base(x1dints)
    whtlt, speclc = out / f"{base}_whtlt.ecsv", out / f"{base}_speclc.fits"
    planned = [whtlt] + ([speclc] if binning_requested(params) else [])
    if not overwrite:
        for path in planned:
            if path.exists():
                raise OutputExistsError(f"{path}: product exists; use --overwrite")
    curves = measure(data.spectra, data.primary, params, mode=mode, provenance=provenance)
    staged = StagedOutputs()
    with output_folder(out):
        try:
            write(
                curves,
                staged.reserve(whtlt),
                staged.reserve(speclc) if curves.binned else None,
            )
            staged.commit()
        except BaseException:
            staged.abort()
            raise
    return [whtlt, speclc] if curves.binned else [whtlt]
