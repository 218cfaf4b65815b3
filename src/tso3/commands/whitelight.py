"""``tso3 whitelight``: white light (and binned curves) from an existing x1dints file.

Reads the spectra of a tso3 or archive ``x1dints`` (either layout), applies only
``white_light.PARAM=VALUE`` settings, refuses to replace existing products unless told to,
and writes ``<product>_whtlt.ecsv`` (and ``<product>_speclc.fits`` when a binning is set)
through the white-light stage (:mod:`tso3.stages.whitelight`), all or nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from .. import __version__
from ..config import parse_set_options, resolve_parameters
from ..errors import InputError, OutputExistsError, ParameterError
from ..io.atomic import StagedOutputs, output_folder
from ..io.int_times import cadence_known, fill_from_cadence
from ..io.x1dints_read import read_x1dints
from ..spectra import SpectraSet
from ..stages.whitelight import binning_requested, measure, write

__all__ = ["fill_missing_spectra_times", "product_base", "whitelight_from_x1dints"]

log = logging.getLogger(__name__)


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


def fill_missing_spectra_times(
    spectra: Sequence[SpectraSet], source: str | os.PathLike | None = None
) -> int:
    """Fill NaN times of the spectra from the cadence of each detector's other integrations.

    Every time column (``mjd_avg``, ``tdb_mid``, ...) is filled on its own, by
    integration number (:func:`tso3.io.int_times.fill_from_cadence`), in place.

    Parameters
    ----------
    spectra : sequence of SpectraSet
        Every segment x order x detector of an x1dints.
    source : path-like, optional
        The file they come from, named in an error.

    Returns
    -------
    int
        Integrations whose mid-integration UTC time was missing.

    Raises
    ------
    InputError
        When a detector has fewer than two integrations with a time to derive from.
    """
    derived = 0
    for det in dict.fromkeys(s.detector for s in spectra):
        sets = [s for s in spectra if s.detector == det]
        number = np.concatenate([s.int_num for s in sets]).astype(np.float64)
        sizes = np.cumsum([s.nints for s in sets])[:-1]
        nan = [np.full(s.nints, np.nan) for s in sets]
        mid = np.concatenate([s.times.get("mjd_avg", n) for s, n in zip(sets, nan, strict=True)])
        missing = int(np.count_nonzero(~np.isfinite(mid)))
        if not missing:
            continue
        if not cadence_known(number, mid):
            label = f" of {det}" if det else ""
            raise InputError(source, f"{missing} of {mid.size} integrations{label} have no "
                             "time, and too few have one to derive them from")  # fmt: skip
        for key in set.intersection(*(set(s.times) for s in sets)):
            values = np.concatenate([np.asarray(s.times[key], np.float64) for s in sets])
            for s, part in zip(
                sets, np.split(fill_from_cadence(number, values), sizes), strict=True
            ):
                s.times[key] = part
        derived += missing
    return derived


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
    derived = fill_missing_spectra_times(data.spectra, x1dints)
    if derived:
        log.warning(
            "%s: %d integrations have no time; their times are derived from the cadence of "
            "the others (by INT_NUM)", Path(x1dints).name, derived,
        )  # fmt: skip
    out = Path(output_dir)
    base = product_base(x1dints)
    whtlt, speclc = out / f"{base}_whtlt.ecsv", out / f"{base}_speclc.fits"
    planned = [whtlt] + ([speclc] if binning_requested(params) else [])
    if not overwrite:
        for path in planned:
            if path.exists():
                raise OutputExistsError(
                    f"{path}: product exists; use --overwrite (overwrite=True in Python)"
                )
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
