"""Level-3 TSO associations: read the archive's ASN JSON, or build one from files.

An :class:`Association` is what tso3 needs from an ASN: the science members of its first
product (absolute paths), the product name and the association id.  When the user gives
calints files or a folder instead, :func:`association_from_files` derives the same fields
from the segment file names, the way the JWST association generator would.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

#: Exposure-level file name: jw<ppppp><ooo><vvv>_<gg><s><aa>_<eeeee>(-seg<NNN>)_<det>_<suffix>.fits
EXPOSURE_NAME = re.compile(
    r"^jw(?P<program>\d{5})(?P<observation>\d{3})(?P<visit>\d{3})"
    r"_(?P<visit_group>\d{2})(?P<sequence>\d)(?P<activity>\w{2})"
    r"_(?P<exposure>\d{5})(?:-seg(?P<segment>\d{3}))?"
    r"_(?P<detector>[a-z0-9]+)(?:_(?P<suffix>[a-z0-9]+))?\.fits$",
    re.IGNORECASE,
)

#: Suffix of the stage-2 products tso3 reads.
INPUT_SUFFIX = "calints"


@dataclass
class Association:
    """The parts of a level-3 TSO association that tso3 uses.

    Attributes
    ----------
    members : list of Path
        Science members of the first product, as absolute paths, in ASN order.
    product_name : str
        Root name of the level-3 products (``<product>_x1dints.fits`` ...).
    asn_id : str
        Association id (``"o002"``, ``"a3001"``); it goes into crfints names.
    asn_pool : str or None
        Pool name, recorded as ASNPOOL in products.
    asn_table : str or None
        ASN file name (ASNTABLE in products), ``None`` when built from files.
    source : Path or None
        The ASN file, when there is one.
    """

    members: list[Path]
    product_name: str
    asn_id: str
    asn_pool: str | None = None
    asn_table: str | None = None
    source: Path | None = None
    extra: dict = field(default_factory=dict)


def read_association(path: str | os.PathLike) -> Association:
    """Read a level-3 association JSON file.

    Only ``products[0]`` is used and only members whose ``exptype`` is ``science``,
    as the reference pipeline does; member names are resolved relative to the ASN
    file's directory.

    Parameters
    ----------
    path : str or os.PathLike
        The ASN JSON file.

    Returns
    -------
    Association

    Raises
    ------
    InputError
        If the file is not valid JSON, lacks products, science members, ``asn_id`` or
        a product name, or names member files that do not exist.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(path, f"cannot read association file: {exc.strerror}") from None
    try:
        asn = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(asn, dict):
        raise InputError(path, "not an association: the JSON top level is not an object")
    products = asn.get("products")
    if not isinstance(products, list) or not products or not isinstance(products[0], dict):
        raise InputError(path, "association has no 'products' list")
    product = products[0]
    name = product.get("name")
    if not isinstance(name, str) or not name:
        raise InputError(path, "products[0] has no 'name'")
    check_name_part(path, "product name", name)
    asn_id = asn.get("asn_id")
    if not isinstance(asn_id, str) or not asn_id:
        raise InputError(path, "association has no 'asn_id'")
    check_name_part(path, "asn_id", asn_id)
    members = product.get("members")
    if not isinstance(members, list):
        raise InputError(path, "products[0] has no 'members' list")
    science = []
    for i, member in enumerate(members):
        if not isinstance(member, dict) or not isinstance(member.get("expname"), str):
            raise InputError(path, f"member {i} has no 'expname' file name")
        if str(member.get("exptype", "")).lower() == "science":
            science.append(member["expname"])
    if not science:
        raise InputError(path, "association has no science members")
    resolved = []
    for expname in science:
        member_path = (path.parent / expname).resolve()
        if not member_path.is_file():
            raise InputError(path, f"science member {expname} does not exist")
        resolved.append(member_path)
    return Association(
        members=resolved,
        product_name=name,
        asn_id=asn_id,
        asn_pool=asn.get("asn_pool"),
        asn_table=path.name,
        source=path.resolve(),
    )


#: What a product name or asn_id may hold: they become parts of file names in ``-o``.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
#: Longest product name or asn_id: file systems take 255 bytes per name, and the products
#: add suffixes (``_x1dints.fits``, the crfints' segment name, staging names).
MAX_NAME_LENGTH = 160


def check_name_part(path: str | os.PathLike | None, what: str, value: str) -> None:
    """InputError unless ``value`` can be part of a file name inside the output folder.

    Letters, digits and ``. _ + -`` (not first): no folder separators, no ``..``, no
    absolute path, so a crafted association cannot place products outside ``-o``.
    """
    if len(value) > MAX_NAME_LENGTH:
        problem = f"{what} has {len(value)} characters, more than {MAX_NAME_LENGTH}"
        raise InputError(path, f"{problem}: the product file names would be too long")
    if not SAFE_NAME.match(value) or ".." in value:
        raise InputError(
            path, f"{what} {value!r} is not a plain file name (letters, digits, . _ + -): "
            "products must stay in the output folder",
        )  # fmt: skip


def collect_inputs(inputs: Sequence[str | os.PathLike]) -> Association | list[Path]:
    """Interpret the user's INPUT arguments.

    Parameters
    ----------
    inputs : sequence of path-like
        One ASN JSON, one or more calints files, or one folder of them.

    Returns
    -------
    Association or list of Path
        The association when an ASN was given, else the segment files.

    Raises
    ------
    InputError
        For missing paths, mixtures of ASN and files, or a folder without calints files.
    """
    paths = [Path(p) for p in inputs]
    if not paths:
        raise InputError(None, "no input given: pass an ASN JSON, calints files or a folder")
    for p in paths:
        if not p.exists():
            raise InputError(p, "no such file or directory")
    if len(paths) > 1 and any(p.is_dir() for p in paths):
        folder = next(p for p in paths if p.is_dir())
        raise InputError(folder, "a folder must be the only input")
    if len(paths) == 1 and paths[0].is_dir():
        found = sorted(paths[0].glob(f"*_{INPUT_SUFFIX}.fits"))
        if not found:
            raise InputError(paths[0], f"folder holds no *_{INPUT_SUFFIX}.fits files")
        return [f.resolve() for f in found]
    if any(p.suffix.lower() == ".json" for p in paths):
        if len(paths) > 1:
            raise InputError(
                paths[0], "give either one association JSON or segment files, not both"
            )
        return read_association(paths[0])
    for p in paths:
        if p.is_dir():
            raise InputError(p, "a folder must be the only input")
    return [p.resolve() for p in paths]


def parse_exposure_name(path: str | os.PathLike) -> dict[str, str] | None:
    """Split a JWST exposure file name into its fields, or ``None`` if it does not match."""
    match = EXPOSURE_NAME.match(Path(path).name)
    return match.groupdict() if match else None


def product_name_from_meta(
    *,
    program: str,
    observation: str,
    instrument: str,
    filter: str | None,
    pupil: str | None = None,
    grating: str | None = None,
    slit: str | None = None,
    subarray: str | None = None,
    target: str = "t001",
) -> str:
    """Level-3 product name as the association generator builds it.

    ``jw{program}-o{obs}_{target}_{instrument}_{opt_elem}{-slit}{-subarray}``, lower-cased,
    the subarray omitted when FULL.  The target id is an archive catalogue number that
    files do not carry; ``t001`` is used unless given.
    """
    elements = [e for e in (filter, pupil, grating) if e and e.upper() not in ("CLEAR", "N/A")]
    if not elements and filter:
        elements = [filter]
    opt_elem = "-".join(elements) if elements else "clear"
    name = f"jw{program}-o{observation}_{target}_{instrument}_{opt_elem}"
    if slit:
        name += f"-{slit}"
    if subarray and subarray.upper() != "FULL":
        name += f"-{subarray}"
    return name.lower()


def output_basename(segment_path: str | os.PathLike, asn_id: str) -> str:
    """Segment basename for crfints: the input name without its suffix and any ``_<asn_id>``."""
    stem = Path(segment_path).name
    if stem.lower().endswith(".fits"):
        stem = stem[:-5]
    for suffix in ("_calints", "_crfints"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    if stem.endswith(f"_{asn_id}"):
        stem = stem[: -len(asn_id) - 1]
    return stem
