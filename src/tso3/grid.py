"""Parameter grids for ``tso3 sweep`` (issue 31): what may vary, and every configuration.

A grid is the product of the values given for each varied parameter, from
``--vary STEP.PARAM=V1,V2,...`` options and a ``--grid FILE.toml`` (one table per step,
each parameter a list of values).  Every value is parsed by the parameter's own parser
(:mod:`tso3.config`), and every configuration is checked as a run would check it, so a bad
grid is refused with one line before any data are read.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import (
    STEPS,
    Parameters,
    changed_settings,
    parse_set_options,
    resolve_parameters,
)
from .errors import InputError, ParameterError

#: The parameters a sweep may vary, per step: those that change what is measured from
#: the same data (not file names, references or the binning of the products).
SWEEPABLE: dict[str, tuple[str, ...]] = {
    "outlier_detection": ("snr", "rolling_window_width", "motion_modes"),
    "extract_1d": (
        "extract_width", "extraction_type", "subtract_background", "bkg_fit", "bkg_order",
        "bkg_gap", "smoothing_length", "repair", "soss_width",
    ),
    "tso_photometry": ("radius", "radius_inner", "radius_outer", "background_method"),
}  # fmt: skip
#: The most configurations one sweep may score.
MAX_GRID_POINTS = 1000


@dataclass(frozen=True)
class Grid:
    """The varied parameters and their values, in the order given.

    Attributes
    ----------
    axes : dict of str to tuple
        ``"step.param"`` -> the values as given (strings from ``--vary``, TOML values
        from a grid file), each accepted by the parameter.
    """

    axes: dict[str, tuple[Any, ...]]

    def __len__(self) -> int:
        return math.prod(len(values) for values in self.axes.values())

    def points(self) -> list[dict[str, dict[str, Any]]]:
        """Every configuration, as ``{step: {param: value}}`` overrides, the last axis
        varying fastest."""
        names = list(self.axes)
        out = []
        for values in itertools.product(*self.axes.values()):
            point: dict[str, dict[str, Any]] = {}
            for name, value in zip(names, values, strict=True):
                step, param = name.split(".")
                point.setdefault(step, {})[param] = value
            out.append(point)
        return out

    def steps(self) -> set[str]:
        """The steps whose parameters vary."""
        return {name.split(".")[0] for name in self.axes}


def parse_vary(options: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """``--vary STEP.PARAM=V1,V2,...`` options as ``{"step.param": (values...)}``.

    Raises
    ------
    ParameterError
        An option without ``=`` or ``STEP.PARAM``, a parameter given twice, an empty value.
    """
    axes: dict[str, tuple[str, ...]] = {}
    for option in options:
        key, sep, text = option.partition("=")
        name = key.strip()
        if not sep or name.count(".") != 1 or not all(name.split(".")):
            raise ParameterError(option, "expected --vary STEP.PARAM=V1,V2,...")
        values = tuple(v.strip() for v in text.split(","))
        if not text.strip() or any(not v for v in values):
            raise ParameterError(name, f"an empty value in {text!r}: give V1,V2,...")
        if name in axes:
            raise ParameterError(name, "varied twice: give all its values in one --vary")
        axes[name] = values
    return axes


def read_grid(path: str | os.PathLike) -> dict[str, tuple[Any, ...]]:
    """A grid file: one TOML table per step, each parameter a list of values.

    ``tso_photometry.radius`` takes a list per configuration, so its values are a list
    of lists (or of numbers, one aperture each).

    Raises
    ------
    InputError
        Unreadable or invalid TOML, a table that is not a step, a value that is not a
        list.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise InputError(path, f"cannot read grid file: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not valid TOML ({exc})") from None
    axes: dict[str, tuple[Any, ...]] = {}
    for step, table in data.items():
        if not isinstance(table, dict):
            raise InputError(path, f"{step} must be a table [{step}] of parameter lists")
        for param, values in table.items():
            if not isinstance(values, list):
                raise InputError(path, f"{step}.{param} must be a list of values, not "
                                       f"{values!r}")  # fmt: skip
            axes[f"{step}.{param}"] = tuple(values)
    return axes


def make_grid(
    *axes_sources: Mapping[str, Sequence[Any]],
    config: str | os.PathLike | Mapping | None = None,
    overrides: Iterable[str] | Mapping = (),
    source: str | os.PathLike | None = None,
) -> Grid:
    """Check the varied parameters and every configuration of their product.

    Parameters
    ----------
    *axes_sources : mapping of str to sequence
        ``{"step.param": values}`` from :func:`parse_vary` and :func:`read_grid`; a
        parameter may appear in one of them only.
    config, overrides
        The fixed settings, as for :func:`tso3.config.resolve_parameters`; each
        configuration is these plus its grid values.
    source : path-like, optional
        The grid file, named in the messages.

    Returns
    -------
    Grid

    Raises
    ------
    ParameterError
        An unknown step or parameter, one a sweep cannot vary, an empty list, a value
        the parameter rejects, a configuration a run would refuse, more than
        MAX_GRID_POINTS configurations, or no varied parameter at all.
    """
    axes: dict[str, tuple[Any, ...]] = {}
    for found in axes_sources:
        for name, values in found.items():
            if name in axes:
                raise ParameterError(name, "varied twice (in --vary and in the grid file)",
                                     source)  # fmt: skip
            axes[name] = tuple(values)
    if not axes:
        raise ParameterError("sweep", "nothing varies: give --vary STEP.PARAM=V1,V2,... or "
                                      "--grid FILE.toml")  # fmt: skip
    for name, values in axes.items():
        step, param = name.split(".")
        if step not in STEPS:
            raise ParameterError(name, f"unknown step {step!r} (known: {', '.join(STEPS)})",
                                 source)  # fmt: skip
        if param not in SWEEPABLE.get(step, ()):
            allowed = ", ".join(f"{s}.{p}" for s, ps in SWEEPABLE.items() for p in ps)
            raise ParameterError(name, f"a sweep cannot vary it (it can: {allowed})", source)
        if not values:
            raise ParameterError(name, "an empty list of values", source)
        for value in values:  # each value alone, so the message names it
            _resolve(config, overrides, {step: {param: value}}, source)
    grid = Grid(axes)
    if len(grid) > MAX_GRID_POINTS:
        sizes = " x ".join(str(len(v)) for v in axes.values())
        raise ParameterError("sweep", f"{sizes} = {len(grid)} configurations, more than "
                                      f"{MAX_GRID_POINTS}", source)  # fmt: skip
    for point in grid.points():  # combinations: radius_inner < radius_outer, ...
        _resolve(config, overrides, point, source)
    return grid


def configuration(
    config: str | os.PathLike | Mapping | None,
    overrides: Iterable[str] | Mapping,
    point: Mapping[str, Mapping[str, Any]],
) -> Parameters:
    """The parameters of one grid point: the fixed settings (``config``, then
    ``overrides``, as for :func:`tso3.config.resolve_parameters`) plus its values."""
    fixed = overrides if isinstance(overrides, Mapping) else parse_set_options(overrides)
    merged = {step: dict(values) for step, values in fixed.items()}
    for step, values in point.items():
        merged.setdefault(step, {}).update(values)
    return resolve_parameters(config, merged)


def _resolve(config, overrides, point: Mapping, source) -> Parameters:
    """:func:`configuration`; a refusal names the grid values."""
    try:
        return configuration(config, overrides, point)
    except ParameterError as exc:
        where = ", ".join(f"{s}.{p}={v!r}" for s, vs in point.items() for p, v in vs.items())
        raise ParameterError(
            exc.name,
            f"{exc.problem.removeprefix(f'parameter {exc.name}: ')} (grid point {where})",
            source or exc.path,
        ) from None


def config_toml(params: Parameters) -> str:
    """A config file (TOML) that ``tso3 run --config`` turns back into ``params``: a
    table per step with every setting that differs from its default."""
    lines = []
    for step, names in changed_settings(params).items():
        lines.append(f"[{step}]")
        values = getattr(params, step)
        lines += [f"{name} = {_toml_value(getattr(values, name))}" for name in names]
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if value is None:
        return '"none"'  # what every optional parameter's parser reads as None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)  # finite: the parsers refuse inf and nan
    if isinstance(value, str):
        return json.dumps(value)  # JSON's string escapes are TOML's
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):  # per-order wavelength bounds
        return "{ " + ", ".join(f'"{k}" = {_toml_value(v)}' for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")
