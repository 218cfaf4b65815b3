"""NIRISS SOSS trace and wavelength models: the shipped PASTASOSS data, or a CRDS file.

Three sources, one result (:class:`SossModel`):

- default: the GR700XD model data of STScI's ``pastasoss`` 1.2.4 (BSD-3-Clause), shipped
  in ``tso3/data/pastasoss`` with their licence.  tso3 reads the data files and
  evaluates the models itself (:mod:`tso3.steps.soss`); it does not depend on the
  ``pastasoss`` package, whose install metadata pulls jupyter and pytest
  (docs/soss.md, "Why the model data are shipped");
- ``extract_1d.override_pastasoss``: a CRDS ``pastasoss`` reference (PastasossModel,
  ASDF), the format jwst reads;
- ``extract_1d.override_spectrace``: a CRDS ``spectrace`` reference (SpecTraceModel,
  FITS): per-order tables of X, Y, WAVELENGTH, used as given (no pupil-wheel rotation).
"""

from __future__ import annotations

import functools
import json
import os
import warnings
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import numpy as np

from tso3.errors import InputError

__all__ = [
    "PWCPOS_BOUNDS",
    "SHIPPED_VERSION",
    "SossModel",
    "SossOrderModel",
    "default_soss_model",
    "load_soss_model",
]

#: Version of pastasoss whose model data tso3 ships.
SHIPPED_VERSION = "pastasoss 1.2.4"
#: Pupil-wheel positions jwst accepts (degrees): 245.79 +- 0.25.
PWCPOS_BOUNDS = (245.54, 246.04)
_COMMANDED = 245.76
_SHIPPED = {
    1: ("jwst_niriss_gr700xd_order1_trace_refmodel.txt",
        "jwst_niriss_gr700xd_wavelength_model_order1.json"),
    2: ("jwst_niriss_gr700xd_order2_trace_refmodel_002.txt",
        "jwst_niriss_gr700xd_wavelength_model_order2_002.json"),
}  # fmt: skip


@dataclass
class SossOrderModel:
    """Trace and wavelength model of one GR700XD order (SUBSTRIP256 rows, 0-based).

    Either a rotatable reference trace (``pivot`` set) with a polynomial wavelength
    model (``coefficients``, ``extents``, ``degree``), or fixed tables (``pivot`` None,
    ``wavelength`` per ``x``).
    """

    order: int
    x: np.ndarray
    y: np.ndarray
    pivot: tuple[float, float] | None = None
    coefficients: np.ndarray | None = None
    extents: np.ndarray | None = None
    degree: int = 0
    wavelength: np.ndarray | None = None

    @property
    def pupil_is_offset(self) -> bool:
        """Whether the wavelength model's second variable is ``PWCPOS - pwcpos_cmd``.

        PASTASOSS trained order 1 on the offset and order 2 on the position itself;
        the scaling range says which (an offset range holds 0, a position range does
        not).
        """
        lo, hi = self.extents[0, 1], self.extents[1, 1]
        return bool(lo <= 0.0 <= hi)


@dataclass
class SossModel:
    """Models of the orders tso3 extracts, and where they came from."""

    orders: dict[int, SossOrderModel]
    pwcpos_cmd: float = _COMMANDED
    source: str = SHIPPED_VERSION
    info: dict[str, object] = field(default_factory=dict)


def _shipped_trace(name: str) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    table = np.loadtxt(files("tso3").joinpath("data", "pastasoss", name))
    pivot = (float(table[0, 0]), float(table[0, 1]))  # first row: the rotation pivot
    return table[1:, 0], table[1:, 1], pivot


def _shipped_wavelength(name: str) -> tuple[np.ndarray, np.ndarray, int]:
    data = json.loads(files("tso3").joinpath("data", "pastasoss", name).read_text())
    model = data["model"]
    coefficients = np.concatenate([[model["intercept"]], model["coef"]])
    scaler = model["scaler"]
    extents = np.array([scaler["data_min_"], scaler["data_max_"]], dtype=np.float64)
    return coefficients, extents, int(model["poly_deg"])


def default_soss_model() -> SossModel:
    """The GR700XD models shipped with tso3 (from pastasoss 1.2.4)."""
    orders = {}
    for order, (trace_file, wave_file) in _SHIPPED.items():
        x, y, pivot = _shipped_trace(trace_file)
        coefficients, extents, degree = _shipped_wavelength(wave_file)
        orders[order] = SossOrderModel(order, x, y, pivot, coefficients, extents, degree)
    return SossModel(orders)


def _open(path: Path, model_class: str):
    from stdatamodels.jwst import datamodels

    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return getattr(datamodels, model_class)(str(path))
    except Exception as exc:  # stdatamodels raises many types for unreadable files
        raise InputError(path, f"cannot read as a {model_class} ({exc})") from None


def _pastasoss_reference(path: Path) -> SossModel:
    ref = _open(path, "PastasossModel")
    with ref:
        try:
            cmd = float(ref.meta.pwcpos_cmd)
            traces = {int(t.spectral_order): t for t in ref.traces}
            waves = {int(w.spectral_order): w for w in ref.wavecal_models}
            orders = {}
            for order in (1, 2):
                t, w = traces[order], waves[order]
                xy = np.asarray(t.trace, np.float64)
                if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) < 2:
                    raise ValueError(f"order {order} trace is not an (N, 2) array")
                coefficients = np.asarray(w.coefficients, np.float64)
                extents = np.asarray(w.scale_extents, np.float64)
                degree = int(w.polynomial_degree)
                n_features = (degree + 1) * (degree + 2) // 2 - 1
                if extents.shape != (2, 2) or coefficients.size != n_features + 1:
                    raise ValueError(f"order {order} wavelength model has the wrong size")
                orders[order] = SossOrderModel(
                    order, xy[:, 0], xy[:, 1], (float(t.pivot_x), float(t.pivot_y)),
                    coefficients, extents, degree,
                )  # fmt: skip
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            problem = f"order {exc} missing" if isinstance(exc, KeyError) else str(exc)
            raise InputError(path, f"malformed pastasoss reference: {problem}") from None
    return SossModel(orders, pwcpos_cmd=cmd, source=str(path))


def _spectrace_reference(path: Path) -> SossModel:
    ref = _open(path, "SpecTraceModel")
    with ref:
        orders = {}
        try:
            for entry in ref.trace:
                order = int(entry.order)
                table = entry.data
                x, y = np.asarray(table["X"], np.float64), np.asarray(table["Y"], np.float64)
                lam = np.asarray(table["WAVELENGTH"], np.float64)
                if order in (1, 2) and len(x) >= 2:
                    keep = np.isfinite(x) & np.isfinite(y) & np.isfinite(lam)
                    orders[order] = SossOrderModel(order, x[keep], y[keep], wavelength=lam[keep])
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise InputError(path, f"malformed spectrace reference: {exc}") from None
    if 1 not in orders:
        raise InputError(path, "malformed spectrace reference: no order 1 trace table")
    return SossModel(orders, source=str(path))


@functools.lru_cache(maxsize=8)
def _cached(pastasoss: str | None, spectrace: str | None, _stamp: tuple) -> SossModel:
    # _stamp (the files' size and mtime) is only part of the cache key: a changed file is read again
    if pastasoss:
        return _pastasoss_reference(Path(pastasoss))
    if spectrace:
        return _spectrace_reference(Path(spectrace))
    return default_soss_model()


def load_soss_model(
    override_pastasoss: str | os.PathLike | None = None,
    override_spectrace: str | os.PathLike | None = None,
) -> SossModel:
    """The SOSS model of a run: a user's reference file, else the shipped one.

    Loaded once per file version (path, size and modification time); treat the result
    as read-only.

    Raises
    ------
    InputError
        The file does not exist, is not that kind of reference, or lacks order 1 / 2.
    """
    given = override_pastasoss or override_spectrace
    stamp: tuple = ()
    if given and Path(given).is_file():
        st = Path(given).stat()
        stamp = (st.st_size, st.st_mtime_ns)
    pastasoss = os.fspath(override_pastasoss) if override_pastasoss else None
    spectrace = os.fspath(override_spectrace) if override_spectrace else None
    return _cached(pastasoss, spectrace, stamp)
