"""Read and validate an extract1d reference file (the JSON the reference accepts)."""

from __future__ import annotations

import json
import os
from numbers import Real

from tso3.errors import InputError

__all__ = ["load_extract1d_reference"]

_NUMBER_KEYS = ("xstart", "xstop", "ystart", "ystop", "extract_width", "smoothing_length")


def _is_number(v: object) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool)


def _check_coeffs(path: str, i: int, key: str, value: object) -> None:
    where = f"apertures[{i}].{key}"
    if not isinstance(value, list) or not value:
        raise InputError(path, f"{where} must be a non-empty list of coefficient lists")
    if len(value) % 2:
        raise InputError(path, f"{where} must alternate lower and upper limits (even count)")
    for c in value:
        if not isinstance(c, list) or not c or not all(_is_number(x) for x in c):
            raise InputError(path, f"{where} entries must be non-empty lists of numbers")


def _check_aperture(path: str, i: int, ap: object) -> None:
    if not isinstance(ap, dict):
        raise InputError(path, f"apertures[{i}] is not an object")
    if not isinstance(ap.get("id"), str):
        raise InputError(path, f"apertures[{i}] has no string 'id'")
    for key in _NUMBER_KEYS:
        if ap.get(key) is not None and not _is_number(ap[key]):
            raise InputError(path, f"apertures[{i}].{key} must be a number")
    order = ap.get("spectral_order")
    if order is not None and not (
        (isinstance(order, int) and not isinstance(order, bool))
        or (isinstance(order, str) and order.upper() == "ANY")
    ):
        raise InputError(path, f"apertures[{i}].spectral_order must be an integer or 'ANY'")
    for key in ("src_coeff", "bkg_coeff"):
        if ap.get(key) is not None:
            _check_coeffs(path, i, key, ap[key])
    indep = ap.get("independent_var", "pixel")
    if not isinstance(indep, str) or not indep.lower().startswith(("pixel", "wavelength")):
        raise InputError(path, f"apertures[{i}].independent_var must be 'pixel' or 'wavelength'")
    fit = ap.get("bkg_fit")
    if fit is not None and fit not in ("poly", "mean", "median"):
        raise InputError(path, f"apertures[{i}].bkg_fit must be 'poly', 'mean' or 'median'")
    order_b = ap.get("bkg_order")
    if order_b is not None and (
        not isinstance(order_b, int) or isinstance(order_b, bool) or order_b < 0
    ):
        raise InputError(path, f"apertures[{i}].bkg_order must be an integer >= 0")


def load_extract1d_reference(path: str | os.PathLike) -> dict:
    """Load an extract1d JSON reference and check the keys tso3 reads.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    dict
        The parsed JSON (``{"apertures": [...], ...}``), unchanged.

    Raises
    ------
    tso3.errors.InputError
        Unreadable file, not JSON, no ``apertures`` list, or a malformed aperture.
    """
    spath = os.fspath(path)
    try:
        with open(spath, encoding="utf-8") as fh:
            ref = json.load(fh)
    except OSError as exc:
        raise InputError(spath, f"cannot read extract1d reference: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(spath, f"extract1d reference is not valid JSON ({exc})") from None
    if not isinstance(ref, dict) or not isinstance(ref.get("apertures"), list):
        raise InputError(spath, "extract1d reference has no 'apertures' list")
    if not ref["apertures"]:
        raise InputError(spath, "extract1d reference has an empty 'apertures' list")
    for i, ap in enumerate(ref["apertures"]):
        _check_aperture(spath, i, ap)
    return ref
