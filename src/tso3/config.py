"""Step parameters: the one home of every tunable, with jwst's names and defaults.

Precedence: command line (``--set step.param=value``) beats the TOML config file
(``--config``: one table per step) beats the defaults below.  Every value is checked
here, so steps can trust what they receive.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError, ParameterError
from .steps import MODES


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number")
    number = float(value)
    if not np.isfinite(number):  # nan, inf, and 1e400 (which float() makes inf)
        raise ValueError("expected a finite number")
    return number


def _optional_number(value: Any) -> float | None:
    return None if value is None or str(value).lower() in ("none", "") else _number(value)


def _integer(value: Any) -> int:
    number = _number(value)
    if number != int(number):
        raise ValueError("expected an integer")
    return int(number)


def _optional_integer(value: Any) -> int | None:
    return None if value is None or str(value).lower() in ("none", "") else _integer(value)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _optional_boolean(value: Any) -> bool | None:
    return None if value is None or str(value).lower() == "none" else _boolean(value)


def _number_list(value: Any) -> list[float]:
    if isinstance(value, str):
        value = [v for v in value.replace("[", "").replace("]", "").replace(",", " ").split()]
    if not isinstance(value, (list, tuple)):
        value = [value]
    numbers = [_number(v) for v in value]
    if not numbers:
        raise ValueError("expected at least one number")
    return numbers


def _optional_path(value: Any) -> str | None:
    if value is None or str(value).strip().upper() in ("", "NONE", "N/A"):
        return None
    return os.fspath(value)


def _choice(*choices: str):
    def parse(value: Any) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return text

    return parse


def _optional_choice(*choices: str):
    inner = _choice(*choices)

    def parse(value: Any) -> str | None:
        return None if value is None or str(value).lower() == "none" else inner(value)

    return parse


def _snr(value: Any) -> float:
    # jwst accepts "5.0 4.0" and uses only the first number in TSO mode
    if isinstance(value, str):
        value = (value.split() or [""])[0]
    return _number(value)


def _gain(value: Any) -> float | str | None:
    if value is None or str(value).strip().lower() in ("", "none"):
        return None
    try:
        number = _number(value)
    except (TypeError, ValueError):
        return os.fspath(value)
    if not number > 0:
        raise ValueError("a gain must be > 0 electrons/DN")
    return number


def _wavelength_range(value: Any) -> float | dict[int, float] | None:
    """A wavelength bound: one number for all orders, or {order: number}."""
    if value is None or str(value).lower() == "none":
        return None
    if isinstance(value, Mapping):
        return {_integer(k): _number(v) for k, v in value.items()}
    if isinstance(value, str) and ":" in value:
        pairs = (item.split(":") for item in value.replace(",", " ").split())
        return {_integer(k): _number(v) for k, v in pairs}
    return _number(value)


def param(default: Any, parse, doc: str) -> Any:
    """A step parameter: default, parser/validator, and one line of documentation."""
    return field(default=default, metadata={"parse": parse, "doc": doc})


@dataclass(frozen=True)
class OutlierDetectionParams:
    rolling_window_width: int = param(
        25,
        _integer,
        "integrations in the rolling-median window (0 or 1: one static median, as jwst)",
    )
    snr: float = param(5.0, _snr, "flag |SCI - median| > snr * ERR")
    good_bits: str = param("~DO_NOT_USE", str, "DQ bits that still count as good (jwst syntax)")
    maskpt: float = param(
        0.7, _number, "accepted for jwst compatibility; has no effect in TSO mode"
    )
    motion_modes: int = param(
        3, _integer, "frame-wide patterns (jitter, focus, flux) added to the median; 0: off"
    )

    def check(self) -> None:
        if self.rolling_window_width < 0:
            raise ValueError("rolling_window_width must be >= 0 (0 or 1: one static median)")
        if self.snr <= 0:
            raise ValueError("snr must be > 0")
        if not 0 <= self.motion_modes <= 10:
            raise ValueError("motion_modes must be between 0 and 10")
        from .dqflags import interpret_bit_flags

        try:
            interpret_bit_flags(self.good_bits)
        except (ValueError, TypeError, KeyError) as exc:
            problem = f"good_bits {self.good_bits!r} is not a DQ bit expression ({exc})"
            raise ValueError(problem) from None


@dataclass(frozen=True)
class TsoPhotometryParams:
    radius: list[float] = param((3.0,), _number_list, "aperture radius (px); a list adds columns")
    radius_inner: float = param(4.0, _number, "inner radius of the background annulus (px)")
    radius_outer: float = param(5.0, _number, "outer radius of the background annulus (px)")
    centroid_source: bool = param(True, _boolean, "measure the source centroid")
    search_box_width: int = param(41, _integer, "box for the first centroid pass (odd, px)")
    fit_box_width: int = param(11, _integer, "box for the second pass and PSF fit (odd, px)")
    moving_centroid: bool = param(False, _boolean, "aperture follows each integration's centroid")
    gain: float | str | None = param(None, _gain, "e-/DN number or GAIN reference file for DN/s")
    background_method: str = param("mean", _choice("mean", "sigma_clip"), "annulus statistic")

    def check(self) -> None:
        if any(r <= 0 for r in self.radius):
            raise ValueError("radius must be > 0")
        if not 0 <= self.radius_inner < self.radius_outer:
            raise ValueError("need 0 <= radius_inner < radius_outer")
        if self.search_box_width < 3 or self.fit_box_width < 3:
            raise ValueError("box widths must be >= 3")


#: extract_width = None without an extract1d reference: the box's full width (px) per
#: EXP_TYPE, about +-2.5 sigma of the PSF at the longest wavelength of each mode
#: (docs/extraction.md; NIS_SOSS has soss_width instead).
DEFAULT_EXTRACT_WIDTH: dict[str, float] = {
    "NRS_BRIGHTOBJ": 8.0,
    "NRC_TSGRISM": 10.0,
    "MIR_LRS-SLITLESS": 8.0,
    "MIR_LRS-FIXEDSLIT": 8.0,
}
#: bkg_gap = None: the gap (px) between the box and tso3's background region, per
#: EXP_TYPE (used without an extract1d reference, whose bkg_coeff place the region).
DEFAULT_BKG_GAP: dict[str, float] = {
    "NRS_BRIGHTOBJ": 3.0,
    "NRC_TSGRISM": 6.0,
    "MIR_LRS-SLITLESS": 6.0,
    "MIR_LRS-FIXEDSLIT": 6.0,  # the slit's own sky: ~11 px each side of a centred source
    "NIS_SOSS": 2.0,  # from every order's box
}


def default_subtract_background(exp_type: str, mode: str) -> bool:
    """What ``subtract_background = None`` means without an extract1d reference: on,
    except for NIS_SOSS in ``--mode jwst`` (jwst leaves the SOSS background to
    calwebb_spec2).  With a reference, None means: where it defines background regions."""
    return not (exp_type == "NIS_SOSS" and mode == "jwst")


@dataclass(frozen=True)
class Extract1dParams:
    extraction_type: str = param("box", _choice("box", "optimal"), "box or optimal extraction")
    extract_width: float | None = param(
        None, _optional_number, "aperture width (px); None: the reference's, else per EXP_TYPE "
        "(DEFAULT_EXTRACT_WIDTH); not NIS_SOSS (soss_width)",
    )  # fmt: skip
    override_extract1d: str | None = param(None, _optional_path, "extract1d JSON reference file")
    subtract_background: bool | None = param(
        None, _optional_boolean, "subtract a background fit (None: where the extract1d "
        "reference has background regions; without one, on, except NIS_SOSS in --mode jwst)",
    )  # fmt: skip
    bkg_fit: str | None = param(
        None, _optional_choice("poly", "mean", "median"), "background statistic"
    )
    bkg_order: int | None = param(None, _optional_integer, "polynomial order of the background fit")
    bkg_gap: float | None = param(
        None, _optional_number, "the background region: pixels at least this far (px) from "
        "the box's edge; None: per EXP_TYPE (DEFAULT_BKG_GAP); an extract1d reference "
        "places its own region",
    )  # fmt: skip
    smoothing_length: int | None = param(
        None, _optional_integer, "boxcar along dispersion before the background fit"
    )
    use_source_posn: bool | None = param(
        None, _optional_boolean,
        "with an extract1d JSON: centre its aperture on the source (None: the JSON's "
        "setting, else jwst's default; see docs/extraction.md)",
    )  # fmt: skip
    apply_apcorr: bool = param(
        True,
        _boolean,
        "aperture correction of point-source spectra, when override_apcorr gives the reference",
    )
    override_apcorr: str | None = param(
        None,
        _optional_path,
        "CRDS APCORR reference file (MirLrsApcorrModel, NrsFsApcorrModel); "
        "without it no correction",
    )
    repair: bool = param(True, _boolean, "repair flagged pixels from the spatial profile")
    soss_width: float = param(40.0, _number, "NIS_SOSS: full box width of each order (px)")
    override_pastasoss: str | None = param(
        None, _optional_path, "NIS_SOSS: CRDS pastasoss reference (traces, wavelengths)"
    )
    override_spectrace: str | None = param(
        None, _optional_path, "NIS_SOSS: CRDS spectrace reference (trace tables)"
    )

    def check(self) -> None:
        if not self.soss_width > 0:
            raise ValueError("soss_width must be > 0")
        if self.override_pastasoss and self.override_spectrace:
            raise ValueError("give override_pastasoss or override_spectrace, not both")
        if self.extract_width is not None and self.extract_width <= 0:
            raise ValueError("extract_width must be > 0")
        if self.bkg_order is not None and self.bkg_order < 0:
            raise ValueError("bkg_order must be >= 0")
        if self.bkg_gap is not None and self.bkg_gap < 0:
            raise ValueError("bkg_gap must be >= 0")
        if self.bkg_gap is not None and self.override_extract1d is not None:
            raise ValueError("bkg_gap places tso3's background region; the extract1d "
                             "reference (override_extract1d) places its own")  # fmt: skip
        if self.smoothing_length is not None and self.smoothing_length < 0:
            raise ValueError("smoothing_length must be >= 0")
        if self.override_apcorr is not None and not os.path.isfile(self.override_apcorr):
            raise ValueError(f"override_apcorr file {self.override_apcorr} not found")
        if self.override_extract1d is not None and not os.path.isfile(self.override_extract1d):
            raise ValueError(f"override_extract1d file {self.override_extract1d} not found")
        for name in ("override_pastasoss", "override_spectrace"):
            path = getattr(self, name)
            if path is not None and not os.path.isfile(path):
                raise ValueError(f"{name} file {path} not found")
        if self.override_pastasoss or self.override_spectrace:
            from .io.soss_models import load_soss_model

            try:  # a bad reference stops the run before it starts (cached for the run)
                load_soss_model(self.override_pastasoss, self.override_spectrace)
            except InputError as exc:
                raise ValueError(str(exc)) from None


@dataclass(frozen=True)
class WhiteLightParams:
    min_wavelength: float | dict[int, float] | None = param(
        None, _wavelength_range, "lower bound (um), or order:um pairs"
    )
    max_wavelength: float | dict[int, float] | None = param(
        None, _wavelength_range, "upper bound (um), or order:um pairs"
    )
    nbins: int | None = param(
        None, _optional_integer, "spectroscopic light curves: number of equal-width bins"
    )
    bin_width: float | None = param(
        None, _optional_number, "spectroscopic light curves: bin width (um)"
    )
    resolving_power: float | None = param(
        None, _optional_number, "spectroscopic light curves: constant R bins"
    )
    bin_edges: list[float] | None = param(
        None, lambda v: None if v is None else _number_list(v), "explicit bin edges (um)"
    )

    def check(self) -> None:
        low, high = self.min_wavelength, self.max_wavelength
        for order in (_orders(low) | _orders(high)) - {None} or {None}:
            a, b = _for_order(low, order), _for_order(high, order)
            if a is not None and b is not None and a > b:
                where = "" if order is None else f" for order {order}"
                raise ValueError(f"min_wavelength {a} > max_wavelength {b}{where}")
        given = [
            x is not None
            for x in (self.nbins, self.bin_width, self.resolving_power, self.bin_edges)
        ]
        if sum(given) > 1:
            raise ValueError("give at most one of nbins, bin_width, resolving_power, bin_edges")
        if self.nbins is not None and self.nbins < 1:
            raise ValueError("nbins must be >= 1")
        if self.bin_width is not None and not self.bin_width > 0:
            raise ValueError("bin_width must be > 0")
        if self.resolving_power is not None and not self.resolving_power > 0.5:
            raise ValueError("resolving_power must be > 0.5")
        if self.bin_edges is not None:
            edges = np.asarray(self.bin_edges, dtype=float)
            if edges.size < 2 or not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
                raise ValueError("bin_edges must be >= 2 finite, strictly increasing values")


def _orders(bound: float | dict[int, float] | None) -> set[int | None]:
    """The orders a wavelength bound names (``{None}``: every order; empty: unbounded)."""
    if bound is None:
        return set()
    return set(bound) if isinstance(bound, dict) else {None}


def _for_order(bound: float | dict[int, float] | None, order: int | None) -> float | None:
    """The bound of ``order`` (``None``: unbounded)."""
    if isinstance(bound, dict):
        return bound.get(order)
    return bound


STEPS: dict[str, type] = {
    "outlier_detection": OutlierDetectionParams,
    "tso_photometry": TsoPhotometryParams,
    "extract_1d": Extract1dParams,
    "white_light": WhiteLightParams,
}


@dataclass(frozen=True)
class Parameters:
    """The effective parameters of a run, one frozen dataclass per step."""

    outlier_detection: OutlierDetectionParams = field(default_factory=OutlierDetectionParams)
    tso_photometry: TsoPhotometryParams = field(default_factory=TsoPhotometryParams)
    extract_1d: Extract1dParams = field(default_factory=Extract1dParams)
    white_light: WhiteLightParams = field(default_factory=WhiteLightParams)

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """Plain nested dict (for product metadata and logs)."""
        return {name: dataclasses.asdict(getattr(self, name)) for name in STEPS}


def _build(step: str, values: Mapping[str, Any], source: str | None) -> Any:
    cls = STEPS[step]
    known = {f.name: f for f in dataclasses.fields(cls)}
    parsed = {}
    for name, raw in values.items():
        if name not in known:
            raise ParameterError(
                f"{step}.{name}", f"unknown parameter (known: {', '.join(known)})", source
            )
        try:
            parsed[name] = known[name].metadata["parse"](raw)
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"{step}.{name}", f"{raw!r}: {exc}", source) from None
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    if isinstance(defaults.get("radius"), tuple):
        defaults["radius"] = list(defaults["radius"])
    obj = cls(**{**defaults, **parsed})
    try:
        obj.check()
    except ValueError as exc:
        raise ParameterError(step, str(exc), source) from None
    return obj


def parameter_tables() -> str:
    """The Markdown tables of every step parameter (README and docs/usage.md show them).

    ``tests/test_docs.py`` checks that both documents hold exactly this text between
    their ``<!-- PARAMETERS -->`` markers.
    """
    blocks = []
    for step, cls in STEPS.items():
        rows = ["| parameter | default | meaning |", "|---|---|---|"]
        for f in dataclasses.fields(cls):
            default = f.default
            if isinstance(default, bool):
                shown = str(default).lower()
            elif isinstance(default, str):
                shown = f'"{default}"'
            elif isinstance(default, tuple):
                shown = str(list(default))
            else:
                shown = str(default)
            meaning = f.metadata["doc"].replace("|", "\\|")
            rows.append(f"| `{f.name}` | `{shown}` | {meaning} |")
        blocks.append(f"**`{step}`**\n\n" + "\n".join(rows))
    return "\n\n".join(blocks)


def read_config(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Read a TOML config file: one table per step, keys are parameter names."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise InputError(path, f"cannot read config file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"not valid TOML ({exc})") from None
    for step, table in data.items():
        if step not in STEPS:
            raise InputError(path, f"unknown step [{step}] (known: {', '.join(STEPS)})")
        if not isinstance(table, dict):
            raise InputError(path, f"[{step}] must be a table of parameters")
    return data


def parse_set_options(options: Iterable[str]) -> dict[str, dict[str, str]]:
    """Parse ``--set step.param=value`` strings into ``{step: {param: value}}``."""
    out: dict[str, dict[str, str]] = {}
    for option in options:
        key, sep, value = option.partition("=")
        step, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise ParameterError(option, "expected STEP.PARAM=VALUE")
        if step not in STEPS:
            raise ParameterError(key, f"unknown step {step!r} (known: {', '.join(STEPS)})")
        out.setdefault(step, {})[name] = value.strip()
    return out


def resolve_parameters(
    config: str | os.PathLike | Mapping[str, Mapping[str, Any]] | None = None,
    overrides: Iterable[str] | Mapping[str, Mapping[str, Any]] = (),
) -> Parameters:
    """Combine defaults, a config file (or dict) and ``--set`` overrides.

    Parameters
    ----------
    config : path-like or mapping or None
        TOML file, or an already parsed ``{step: {param: value}}`` mapping.
    overrides : iterable of str or mapping
        ``"step.param=value"`` strings (command line) or a ``{step: {param: value}}``
        mapping (Python API); they win over ``config``.

    Returns
    -------
    Parameters
    """
    source = None
    if config is None:
        layers: dict[str, dict[str, Any]] = {}
    elif isinstance(config, Mapping):
        layers = {k: dict(v) for k, v in config.items()}
        for step in layers:
            if step not in STEPS:
                raise ParameterError(step, f"unknown step (known: {', '.join(STEPS)})")
    else:
        source = os.fspath(config)
        layers = read_config(config)
    extra = overrides if isinstance(overrides, Mapping) else parse_set_options(overrides)
    for step, values in extra.items():
        if step not in STEPS:
            raise ParameterError(step, f"unknown step (known: {', '.join(STEPS)})")
        layers.setdefault(step, {}).update(values)
    return Parameters(**{step: _build(step, layers.get(step, {}), source) for step in STEPS})


def changed_settings(params: Parameters) -> dict[str, list[str]]:
    """The parameters that differ from their defaults, per step (``{step: [name, ...]}``)."""
    changed: dict[str, list[str]] = {}
    for step, cls in STEPS.items():
        defaults, values = cls(), getattr(params, step)
        names = [
            f.name
            for f in dataclasses.fields(cls)
            if _comparable(getattr(values, f.name)) != _comparable(getattr(defaults, f.name))
        ]
        if names:
            changed[step] = names
    return changed


def _comparable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def check_run_options(skip: Iterable[str], mode: str) -> set[str]:
    """The steps to skip, checked, and the mode (ParameterError for unknown names)."""
    if mode not in MODES:
        raise ParameterError("mode", f"{mode!r} is not one of {', '.join(MODES)}")
    skip = set(skip)
    for name in skip:
        if name not in STEPS:
            raise ParameterError("skip", f"unknown step {name!r} (known: {', '.join(STEPS)})")
    return skip
