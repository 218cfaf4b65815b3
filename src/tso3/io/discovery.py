"""The observations a batch runs: one per ASN, or per exposure of loose calints files
(``tso3 batch`` INPUT arguments, :func:`find_observations`)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .association import INPUT_SUFFIX, parse_exposure_name, read_association

__all__ = ["ObservationInput", "find_observations"]


@dataclass(frozen=True)
class ObservationInput:
    """What ``tso3 run`` would be given for one observation.

    Attributes
    ----------
    label : str
        The ASN file as given or the exposure id, for messages before the product is
        known.
    paths : tuple of Path
        One ASN JSON, or the calints segments of one exposure.
    """

    label: str
    paths: tuple[Path, ...]


def find_observations(
    inputs: Sequence[str | os.PathLike] | str | os.PathLike,
    exclude: Iterable[str | os.PathLike] = (),
) -> list[ObservationInput]:
    """The observations of ``tso3 batch`` INPUT arguments.

    An ASN JSON is one observation.  A folder gives one observation per ``*_asn.json``
    in it and one per exposure of the ``*_calints.fits`` files no ASN there lists; a
    folder with neither is searched the same way in its subfolders (a folder of
    folders).  Calints files given directly are grouped by exposure too.  Segments of
    one exposure (all its ``-segNNN`` files and detectors) are one observation, files
    whose names are not JWST exposure names one per folder, as ``tso3 run FOLDER``
    would take them.

    Parameters
    ----------
    inputs : path-like or sequence of path-like
    exclude : iterable of path-like
        Folders not to search (the output folder).

    Returns
    -------
    list of ObservationInput
        In input order, each observation once.

    Raises
    ------
    InputError
        No input, an input that does not exist, or a folder without any observation.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    paths = [Path(p) for p in inputs]
    if not paths:
        raise InputError(None, "no input given: pass ASN JSONs, folders or a folder of folders")
    skipped = {Path(p).resolve() for p in exclude}
    found: list[ObservationInput] = []
    loose: list[Path] = []
    for path in paths:
        if not path.exists():
            raise InputError(path, "no such file or directory")
        if path.is_dir():
            in_folder = _search_folder(path, skipped)
            if not in_folder:
                raise InputError(
                    path, f"holds no *_asn.json or *_{INPUT_SUFFIX}.fits files, nor do its folders"
                )
            found += in_folder
        elif path.suffix.lower() == ".json":
            found.append(ObservationInput(str(path), (path.resolve(),)))
        else:
            loose.append(path.resolve())
    found += _by_exposure(loose)
    unique = {item.paths: item for item in reversed(found)}  # the first of duplicates
    return [item for item in found if unique[item.paths] is item]


def _search_folder(folder: Path, skipped: set[Path]) -> list[ObservationInput]:
    if folder.resolve() in skipped:
        return []
    asns = sorted(folder.glob("*_asn.json"))
    calints = sorted(folder.glob(f"*_{INPUT_SUFFIX}.fits"))
    if not asns and not calints:
        subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and p.name[0] != ".")
        return [item for sub in subfolders for item in _search_folder(sub, skipped)]
    listed: set[Path] = set()
    for asn in asns:
        # a broken ASN is reported when its observation is planned, not here
        with contextlib.suppress(InputError):
            listed.update(read_association(asn).members)
    found = [ObservationInput(str(asn), (asn.resolve(),)) for asn in asns]
    return found + _by_exposure([p.resolve() for p in calints if p.resolve() not in listed])


def _by_exposure(files: list[Path]) -> list[ObservationInput]:
    groups: dict[str, list[Path]] = {}
    for path in files:
        fields = parse_exposure_name(path)
        if fields is None:
            key = path.parent.name or str(path.parent)
        else:
            key = "jw{program}{observation}{visit}_{visit_group}{sequence}{activity}_{exposure}"
            key = key.format(**fields)
        groups.setdefault(key, []).append(path)
    return [ObservationInput(key, tuple(paths)) for key, paths in groups.items()]
