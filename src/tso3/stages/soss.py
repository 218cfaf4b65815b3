"""NIRISS SOSS set-up for the extraction stage: orders 1 and 2 on one detector.

The GR700XD model (shipped PASTASOSS data or a user's CRDS file) predicts each order's
trace and wavelengths at the exposure's pupil-wheel position ``PWCPOS``; the data's
median image then decides the final trace (per-column centroids, a fitted offset and a
smooth correction).  Each order gets a 40 px box, the overlap split between them and
flagged, and a background from the pixels outside both boxes (docs/soss.md).  The rest
of the extraction — blocks, background, box or optimal sums, trace tracking — is the
common path of :mod:`tso3.stages.extraction`.
"""

from __future__ import annotations

import logging

import numpy as np

from ..config import DEFAULT_BKG_GAP, Extract1dParams, default_subtract_background
from ..errors import InputError
from ..io.segments import Segment
from ..io.soss_models import SossModel, load_soss_model
from ..steps.aperture import Aperture
from ..steps.soss import (
    fit_trace_offset,
    measure_trace_centres,
    order_apertures,
    rotated_trace,
    wavelength_polynomial,
)
from ..steps.trace import Trace

log = logging.getLogger(__name__)

#: First full-frame row (1-based) of SUBSTRIP256, the frame of the trace models.
_MODEL_SUBSTRT2 = 1793


def predicted_orders(
    model: SossModel, pwcpos: float, shape: tuple[int, int], substrt2: int, subarray: str
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Model trace centre and wavelength of each order at every column of the data.

    Returns
    -------
    dict {order: (centre, wavelength)}
        Arrays (nx,), NaN where the order is not on the subarray.  SUBSTRIP96 holds
        order 1 only.
    """
    ny, nx = shape
    dy = _MODEL_SUBSTRT2 - int(substrt2)  # model rows -> data rows
    cols = np.arange(nx, dtype=np.float64)
    out = {}
    for order, om in sorted(model.orders.items()):
        if subarray == "SUBSTRIP96" and order != 1:
            continue
        if om.pivot is not None:
            centre = rotated_trace(om.x, om.y, pwcpos - model.pwcpos_cmd, om.pivot, nx)
            pupil = pwcpos - model.pwcpos_cmd if om.pupil_is_offset else pwcpos
            lam = wavelength_polynomial(cols, pupil, om.coefficients, om.extents, om.degree)
        else:
            order_x = np.argsort(om.x)
            centre = np.interp(cols, om.x[order_x], om.y[order_x], left=np.nan, right=np.nan)
            lam = np.interp(cols, om.x[order_x], om.wavelength[order_x], left=np.nan, right=np.nan)
        centre = centre + dy
        # keep columns where the trace is on the subarray (the model's own domain)
        off = ~((centre >= -0.5) & (centre <= ny - 0.5))
        centre[off] = np.nan
        lam = np.where(np.isnan(centre) | ~(lam > 0), np.nan, lam)
        if np.isfinite(centre).sum() >= 20:
            out[order] = (centre, lam)
    return out


def refined_traces(
    median: np.ndarray, predicted: dict[int, np.ndarray], refine: bool
) -> dict[int, tuple[np.ndarray, Trace]]:
    """Final trace of every order on a median image.

    Parameters
    ----------
    median : ndarray (ny, nx)
    predicted : dict {order: ndarray (nx,)}
        Model centres (:func:`predicted_orders`).
    refine : bool
        True: the model plus a fitted offset and a smooth (quadratic) correction, from
        per-column centroids; False: the model plus the offset only.

    Returns
    -------
    dict {order: (centre (nx,), Trace)}
        The Trace holds the per-column measurements (``measured``, ``fitted``).
    """
    out = {}
    for order, pred in predicted.items():
        others = tuple(p for o, p in predicted.items() if o != order)
        measured = measure_trace_centres(median, pred, others=others)
        try:
            centre, offset, used = fit_trace_offset(measured, pred, degree=2 if refine else 0)
        except ValueError as exc:
            log.warning("SOSS order %d: %s; the model trace is used as is", order, exc)
            centre, offset, used = pred.copy(), 0.0, np.zeros(pred.size, bool)
        if not refine:
            centre = pred + offset
        log.info(
            "SOSS order %d: trace offset %+.2f px from the model (%d columns measured)",
            order, offset, int(used.sum()),
        )  # fmt: skip
        trace = Trace(
            center=centre, width=np.full(pred.size, np.nan), sigma=float("nan"),
            measured=measured, fitted=used, poly=None,
        )  # fmt: skip
        out[order] = (centre, trace)
    return out


def soss_orders(
    seg0: Segment, params: Extract1dParams, median: np.ndarray, mode: str
) -> list[tuple[int, np.ndarray, Aperture, Trace]]:
    """Order, wavelength image, aperture and trace of every SOSS order on the detector.

    Parameters
    ----------
    seg0 : Segment
        First segment of the series (its headers: PWCPOS, SUBARRAY, SUBSTRT2).
    params : Extract1dParams
        ``soss_width``, ``override_pastasoss``, ``override_spectrace``,
        ``subtract_background``.
    median : ndarray (ny, nx)
        Median image of the series.
    mode : {"default", "jwst"}
        ``jwst``: the model trace moved by one fitted offset, no background subtracted
        (jwst leaves the SOSS background to calwebb_spec2).

    Returns
    -------
    list of (order, wavelength (ny, nx), Aperture, Trace)
    """
    model = load_soss_model(params.override_pastasoss, params.override_spectrace)
    pwcpos = float(seg0.keyword("PWCPOS"))
    subarray = str(seg0.keyword("SUBARRAY", "")).upper()
    substrt2 = int(seg0.keyword("SUBSTRT2") or (1 if subarray == "FULL" else _MODEL_SUBSTRT2))
    predicted = predicted_orders(model, pwcpos, median.shape, substrt2, subarray)
    if 1 not in predicted:
        raise InputError(seg0.path, f"the SOSS order 1 trace of {model.source} is not on the data")
    traces = refined_traces(median, {o: c for o, (c, _) in predicted.items()}, mode != "jwst")
    gap = DEFAULT_BKG_GAP["NIS_SOSS"] if params.bkg_gap is None else params.bkg_gap
    apertures, overlap = order_apertures(
        median.shape, {o: c for o, (c, _) in traces.items()}, width=float(params.soss_width),
        bkg_gap=gap, valid=np.isfinite(median),
    )  # fmt: skip
    subtract = params.subtract_background
    if subtract is None:
        subtract = default_subtract_background("NIS_SOSS", mode)
    out = []
    for order, (_, lam) in predicted.items():
        ap = apertures[order]
        if not subtract:
            ap.bkg_profile = None
        log.info(
            "SOSS order %d: %d columns, %.3f-%.3f um, %d overlap columns flagged (%s)",
            order, int(np.isfinite(lam).sum()), np.nanmin(lam), np.nanmax(lam),
            int(overlap[order].sum()), model.source,
        )  # fmt: skip
        wl = np.broadcast_to(lam[None, :], median.shape)
        out.append((order, wl, ap, traces[order][1]))
    return out
