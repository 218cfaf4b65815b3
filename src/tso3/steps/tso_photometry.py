"""The imaging TSO photometry flow of one segment (jwst ``tso_photometry``), on arrays.

:func:`tso_photometry` runs the whole reference sequence on an in-memory cube:

1. pass 1: background-subtracted centre of mass in a ``search_box_width`` box around the
   planned position (XREF_SCI-1, YREF_SCI-1), every integration;
2. pass 2: the same in a ``fit_box_width`` box around the median of pass 1, and a
   fixed-centre Gaussian fit (PSF widths and flux) around each pass-2 centroid;
3. aperture photometry at the median pass-2 centroid (or the per-integration centroid
   with ``moving_centroid``), or the whole-frame sum for SUB64P + WLP8.

It is :func:`place_aperture` (passes 1 and 2: the fit box and the aperture centre) then
:func:`measure` (pass 2 and photometry) on the same integrations.  tso3's pipeline calls
the same two functions: in default mode it places once on a sample of the observation
and measures every streamed block; in jwst mode it places and measures each whole
segment, as the reference.

Background for the centroids: jwst mode takes the median of every frame pixel beyond
``radius_inner`` (the reference); default mode takes the same statistic over the
``search_box_width`` square around the box centre only -- a local background, which
follows spatial gradients better and costs a fraction of a full-frame median (the
frame median alone is ~3x the time to read the data).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .centroid import centroid_cube, frame_background, psf_widths, psf_widths_photutils
from .photometry import aperture_photometry, whole_frame_photometry

log = logging.getLogger(__name__)


def odd_box_width(name: str, value: int, frame: tuple[int, ...] | None = None) -> int:
    """Return ``value`` made odd as the reference does (even -> decrement, with a warning).

    With ``frame`` (its last two axes are ny, nx), a box wider than twice the frame is cut
    to ``2 * max(ny, nx) + 1``: from any position on the frame it still covers the whole
    frame, and its cutouts stay small.
    """
    value = int(value)
    if value < 1:
        raise ValueError(f"{name} must be a positive odd integer, not {value}")
    if value % 2 == 0:
        log.warning("%s=%d is even; using %d", name, value, value - 1)
        value -= 1
    if frame is not None and value > 2 * max(frame[-2:]) + 1:
        log.info("%s=%d is wider than the frame; using %d", name, value, 2 * max(frame[-2:]) + 1)
        value = 2 * max(frame[-2:]) + 1
    return value


def locate_source(
    sci: np.ndarray,
    valid: np.ndarray | None,
    x0: float,
    y0: float,
    *,
    search_box_width: int = 41,
    radius_inner: float = 4.0,
    mode: str = "default",
) -> tuple[np.ndarray, np.ndarray]:
    """Pass 1: centroids in the search box around the planned position (0-based).

    Only the median of the result is used, so a pipeline may pass any evenly spaced
    subset of the integrations.  ``mode="jwst"`` takes the background from the whole
    frame (the reference), default mode from the search box (see ``frame_background``).
    """
    bkg_box = None if mode == "jwst" else search_box_width
    return centroid_cube(
        sci, None, x0, y0, search_box_width, bkg_radius=radius_inner, bkg_box=bkg_box, valid=valid
    )


def measure_centroids(
    sci: np.ndarray,
    valid: np.ndarray | None,
    xb: float,
    yb: float,
    *,
    fit_box_width: int = 11,
    radius_inner: float = 4.0,
    bkg_box: int | None = 41,
    mode: str = "default",
) -> dict[str, np.ndarray]:
    """Pass 2: centroids in the fit box around (xb, yb), then Gaussian PSF widths and flux.

    Parameters
    ----------
    sci : ndarray, shape (nints, ny, nx)
        Data.
    valid : ndarray of bool or None
        False where a pixel must not be used (``DQ & DO_NOT_USE``); NaNs are always
        ignored.
    xb, yb : float
        Fit-box centre: the median of the pass-1 centroids.
    fit_box_width : int
        Box side (odd).
    radius_inner : float
        Background pixels are at least this far from (xb, yb).
    bkg_box : int or None
        Background region side (None: whole frame, as the reference).
    mode : {"default", "jwst"}
        ``jwst``: the PSF is fitted with the reference's fitter
        (:func:`~tso3.steps.centroid.psf_widths_photutils`), else with
        :func:`~tso3.steps.centroid.psf_widths`.

    Returns
    -------
    dict
        ``centroid_x``, ``centroid_y``, ``psf_width_x``, ``psf_width_y``, ``psf_flux``,
        each shape (nints,).
    """
    bkg = frame_background(sci, None, xb, yb, radius_inner, box=bkg_box, valid=valid)
    cx, cy = centroid_cube(
        sci, None, xb, yb, fit_box_width, bkg_radius=radius_inner, bkg=bkg, valid=valid
    )
    if mode == "jwst":
        sx, sy, flux = psf_widths_photutils(sci, valid, cx, cy, fit_box_width, bkg=bkg)
    else:
        sx, sy, flux = psf_widths(sci, None, cx, cy, fit_box_width, bkg=bkg, valid=valid)
    return {
        "centroid_x": cx,
        "centroid_y": cy,
        "psf_width_x": sx,
        "psf_width_y": sy,
        "psf_flux": flux,
    }


def aperture_centre(
    cx: np.ndarray, cy: np.ndarray, *, moving_centroid: bool = False
) -> tuple[float | np.ndarray, float | np.ndarray]:
    """Aperture position from the pass-2 centroids: their median, or themselves if moving."""
    if moving_centroid:
        return np.asarray(cx, dtype=float), np.asarray(cy, dtype=float)
    return float(np.nanmedian(cx)), float(np.nanmedian(cy))


@dataclass(frozen=True)
class Placement:
    """Where a sequence of integrations is measured (:func:`place_aperture`).

    ``box``: centre of the pass-2 fit box (the median pass-1 centroid), None when no
    centroiding ran or it failed; ``aperture``: the fixed aperture centre (the median
    pass-2 centroid, else the planned position); ``centroids``: the pass-2 columns of the
    integrations it was placed on (empty without ``box``).
    """

    box: tuple[float, float] | None
    aperture: tuple[float, float]
    centroids: dict[str, np.ndarray] = field(default_factory=dict)


def place_aperture(
    sci: np.ndarray,
    valid: np.ndarray | None,
    x0: float,
    y0: float,
    *,
    centroid_source: bool = True,
    search_box_width: int = 41,
    fit_box_width: int = 11,
    radius_inner: float = 4.0,
    mode: str = "default",
) -> Placement:
    """Passes 1 and 2 on these integrations: where the fit box and the aperture go.

    A pipeline places once, on a sample of the observation (default mode), or on each
    whole segment (jwst mode, as the reference), and then :func:`measure` s every block.
    Pass 1 runs on every integration in jwst mode; in default mode on at most about 1000
    evenly spaced ones (only its median is used).  Box widths must already be odd
    (:func:`odd_box_width`).
    """
    x0, y0 = float(x0), float(y0)
    if not centroid_source:
        return Placement(None, (x0, y0))
    step = 1 if mode == "jwst" else max(1, sci.shape[0] // 1000)
    cx1, cy1 = locate_source(
        sci[::step], None if valid is None else valid[::step], x0, y0,
        search_box_width=search_box_width, radius_inner=radius_inner, mode=mode,
    )  # fmt: skip
    if np.all(np.isnan(cx1)) or np.all(np.isnan(cy1)):
        log.warning("centroiding failed in every integration; using the planned position")
        return Placement(None, (x0, y0))
    box = float(np.nanmedian(cx1)), float(np.nanmedian(cy1))
    centroids = measure_centroids(
        sci, valid, *box, fit_box_width=fit_box_width, radius_inner=radius_inner,
        bkg_box=None if mode == "jwst" else search_box_width, mode=mode,
    )  # fmt: skip
    aperture = aperture_centre(centroids["centroid_x"], centroids["centroid_y"])
    return Placement(box, aperture, centroids)


def placed_centroids(
    sci: np.ndarray,
    valid: np.ndarray | None,
    placement: Placement,
    *,
    fit_box_width: int = 11,
    radius_inner: float = 4.0,
    search_box_width: int = 41,
    mode: str = "default",
) -> dict[str, np.ndarray]:
    """The pass-2 centroids :func:`measure` measures at a placement (empty when it has no
    fit box): a caller measuring several apertures at one placement measures them once."""
    if placement.box is None:
        return {}
    return measure_centroids(
        sci, valid, *placement.box, fit_box_width=fit_box_width, radius_inner=radius_inner,
        bkg_box=None if mode == "jwst" else search_box_width, mode=mode,
    )  # fmt: skip


def measure(
    sci: np.ndarray,
    err: np.ndarray,
    valid: np.ndarray | None,
    placement: Placement,
    *,
    radius: float | Sequence[float] = 3.0,
    radius_inner: float = 4.0,
    radius_outer: float = 5.0,
    search_box_width: int = 41,
    fit_box_width: int = 11,
    moving_centroid: bool = False,
    background_method: str = "mean",
    whole_frame: bool = False,
    model: np.ndarray | None = None,
    centroids: dict[str, np.ndarray] | None = None,
    mode: str = "default",
) -> dict[str, np.ndarray]:
    """Pass-2 centroids and photometry of a block of integrations at a placement.

    ``centroids``: the pass-2 columns of exactly these integrations when already known
    (``placement.centroids`` when the block is what was placed on), else they are
    measured in the fit box.  The aperture sits at ``placement.aperture``, or at each
    integration's centroid with ``moving_centroid``.  Other arguments as
    :func:`tso_photometry`.
    """
    cent: dict[str, np.ndarray] = {}
    if placement.box is not None:
        cent = centroids if centroids is not None else placed_centroids(
            sci, valid, placement, fit_box_width=fit_box_width, radius_inner=radius_inner,
            search_box_width=search_box_width, mode=mode,
        )  # fmt: skip
    xa, ya = placement.aperture
    if moving_centroid and cent:
        xa, ya = aperture_centre(cent["centroid_x"], cent["centroid_y"], moving_centroid=True)
    if whole_frame:
        cols = whole_frame_photometry(sci, err, valid, model=model, mode=mode)
        n = sci.shape[0]
        cols["aperture_x"] = np.broadcast_to(np.asarray(xa, dtype=float), (n,)).copy()
        cols["aperture_y"] = np.broadcast_to(np.asarray(ya, dtype=float), (n,)).copy()
    else:
        cols = aperture_photometry(
            sci, err, valid, xa, ya, radius, radius_inner, radius_outer, model=model,
            background_method=background_method, mode=mode,
        )  # fmt: skip
    cols.update(cent)
    return cols


def tso_photometry(
    sci: np.ndarray,
    err: np.ndarray,
    valid: np.ndarray | None,
    x0: float,
    y0: float,
    *,
    radius: float | Sequence[float] = 3.0,
    radius_inner: float = 4.0,
    radius_outer: float = 5.0,
    centroid_source: bool = True,
    search_box_width: int = 41,
    fit_box_width: int = 11,
    moving_centroid: bool = False,
    background_method: str = "mean",
    whole_frame: bool = False,
    model: np.ndarray | None = None,
    mode: str = "default",
) -> dict[str, np.ndarray]:
    """Photometry columns of one segment, the reference's sequence on arrays: placed
    and measured on the same integrations (:func:`place_aperture`, :func:`measure`).

    Parameters
    ----------
    sci, err : ndarray, shape (nints, ny, nx)
        Calibrated data and errors (see ``calibration_factor``).
    valid : ndarray of bool or None
        False where ``DQ & DO_NOT_USE``.
    x0, y0 : float
        Planned source position, 0-based (XREF_SCI - 1, YREF_SCI - 1).
    radius, radius_inner, radius_outer, centroid_source, search_box_width, fit_box_width,
    moving_centroid
        The jwst step parameters (``radius`` may be a list: extra radii add columns).
    background_method : {"mean", "sigma_clip"}
        Annulus statistic.
    whole_frame : bool
        Sum the whole frame (SUB64P + WLP8) instead of aperture photometry.
    model : ndarray, optional
        Outlier-step model cube used to repair invalid aperture pixels (default mode).
    mode : {"default", "jwst"}
        Repair (default) or drop (jwst) invalid aperture pixels; jwst mode also uses the
        reference's whole-frame centroid background and runs pass 1 on every integration.

    Returns
    -------
    dict of str to ndarray
        Photometry columns (see ``aperture_photometry``), and, when centroiding ran and
        found the source, ``centroid_x/y``, ``psf_width_x/y`` and ``psf_flux``.
    """
    search_box_width = odd_box_width("search_box_width", search_box_width, sci.shape)
    fit_box_width = odd_box_width("fit_box_width", fit_box_width, sci.shape)
    placement = place_aperture(
        sci, valid, x0, y0, centroid_source=centroid_source, search_box_width=search_box_width,
        fit_box_width=fit_box_width, radius_inner=radius_inner, mode=mode,
    )  # fmt: skip
    return measure(
        sci, err, valid, placement, radius=radius, radius_inner=radius_inner,
        radius_outer=radius_outer, search_box_width=search_box_width,
        fit_box_width=fit_box_width, moving_centroid=moving_centroid,
        background_method=background_method, whole_frame=whole_frame, model=model,
        centroids=placement.centroids or None, mode=mode,
    )  # fmt: skip
