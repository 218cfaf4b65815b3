"""Many extraction configurations on one block at once (``tso3 sweep``; the NIS_SOSS
orders of a run).

:func:`extract_block_many` gives what :func:`tso3.steps.extract.extract_block` gives for
each configuration, but measures the box configurations together.  A box flux with a
polynomial background is one weighted row sum per column::

    S = sum_y P d - sum_k M_k c_k = sum_y P d - sum_y W d,   W = sum_k M_k G_k

(``c_k = sum_y G_k d`` the background fit, ``M_k = sum_y P y'^k``), and its variances are
``sum_y (P^2 + W^2) VAR``.  So every configuration's sums are weighted sums of the
block with per-pixel weight planes, and configurations share planes (the same box with
several background orders): one weighted sum per distinct plane and array for the whole
grid, instead of a background fit and a box sum per configuration.  The
(integration, column) pairs with a missing pixel where a configuration looks are
computed exactly, as a run computes them (:func:`tso3.steps.background.refit_pairs`,
:func:`tso3.steps.extract.box_pairs`).  Configurations this does not cover (optimal
extraction, median or smoothed backgrounds) go through ``extract_block`` one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tso3.steps.aperture import Aperture
from tso3.steps.background import background_operator, poly_basis, refit_pairs
from tso3.steps.extract import (
    ExtractParams,
    box_pairs,
    extract_block,
    repair_profile,
    trace_half_width,
)
from tso3.steps.trace import trace_timeseries

__all__ = ["BoxWeights", "box_weights", "extract_block_many"]

_VARS = ("var_poisson", "var_rnoise", "var_flat")


@dataclass
class BoxWeights:
    """One box configuration as per-pixel weights (full frame, DISPAXIS=1).

    Made by :func:`box_weights`.  The flux is ``sum_y (profile - background) d``.
    """

    profile: np.ndarray  # P (ny, nx), float64
    rows: slice  # the aperture's row span
    background: np.ndarray | None  # W (ny, nx), float64; None without a background
    support: np.ndarray  # (ny, nx) bool: where a missing pixel changes the sums
    fit: tuple | None  # (rows, mask0, basis, m_k, G): the background fit's pieces


def box_weights(aperture: Aperture, params: ExtractParams) -> BoxWeights | None:
    """The weights of a configuration whose sums are weighted row sums (box extraction,
    a polynomial or mean background without smoothing, or none); None for the others.

    Parameters
    ----------
    aperture : Aperture
    params : ExtractParams

    Returns
    -------
    BoxWeights or None
    """
    if params.extraction_type != "box":
        return None
    subtract = params.subtract_background and aperture.bkg_profile is not None
    if subtract and (aperture.bkg_fit not in ("poly", "mean") or aperture.smoothing_length > 1):
        return None
    prof = np.asarray(aperture.profile, dtype=np.float64)
    ny, nx = prof.shape
    spanned = np.flatnonzero(prof.any(axis=1))
    rows = slice(int(spanned[0]), int(spanned[-1]) + 1) if spanned.size else slice(0, 0)
    # where a missing pixel changes the sums: the box and the background region (a pixel
    # of the span outside the box has weight 0, in the exact pairs as here)
    support = prof > 0
    if not subtract:
        return BoxWeights(prof, rows, None, support, None)
    order = 0 if aperture.bkg_fit == "mean" else int(aperture.bkg_order)
    basis = poly_basis(ny, order)
    bkg_rows = np.flatnonzero(np.asarray(aperture.bkg_profile).any(axis=1))
    if bkg_rows.size == 0:  # no region: the fit is zero
        return BoxWeights(prof, rows, np.zeros((ny, nx)), support, None)
    mask0 = np.asarray(aperture.bkg_profile)[bkg_rows] != 0
    g_col = background_operator(basis[bkg_rows], mask0)  # (K, nyb, nx)
    m_k = prof.T @ basis  # (nx, K)
    w = np.zeros((ny, nx))
    w[bkg_rows] = np.einsum("xk,kyx->yx", m_k, g_col)
    support[bkg_rows] |= mask0
    return BoxWeights(prof, rows, w, support, (bkg_rows, mask0, basis, m_k, g_col))


def _planes(arrays: list[np.ndarray | None]) -> tuple[np.ndarray, list[int | None]]:
    """The distinct weight planes of ``arrays`` (configurations of a grid share many: the
    same aperture with several background orders) and each array's index among them."""
    index: dict[bytes, int] = {}
    planes: list[np.ndarray] = []
    where: list[int | None] = []
    for a in arrays:
        if a is None:
            where.append(None)
            continue
        key = a.tobytes()
        if key not in index:
            index[key] = len(planes)
            planes.append(a)
        where.append(index[key])
    return np.stack(planes), where


def _row_sums(cube: np.ndarray, weights: np.ndarray, dtype, missing: np.ndarray) -> np.ndarray:
    """``sum_y cube[i, y, x] * weights[q, y, x]`` for every q, as (Q, nints, nx) float64.

    Plane by plane on the block as it lies, each plane on the rows it weighs, accumulated
    in ``dtype``.  Missing pixels (``missing``: where ``cube`` is not finite) count as 0:
    the caller recomputes the pairs that have one.  (One matrix product per column on a
    transposed copy of the block was measured too: the copy costs more than the sums,
    0.17 s against 0.05 s for 4 planes of 24 x 256 x 2048, 0.32 s against 0.26 s for 48
    planes of 500 x 32 x 512.)
    """
    nints, _, nx = cube.shape
    out = np.zeros((weights.shape[0], nints, nx))
    weighed = weights.any(axis=2)  # (Q, ny)
    rows = np.flatnonzero(weighed.any(axis=0))
    if rows.size == 0:
        return out
    top = int(rows[0])
    part = cube[:, top : int(rows[-1]) + 1]
    gaps = missing[:, top : int(rows[-1]) + 1]
    if gaps.any():  # a copy only when there is something to zero
        part = np.where(gaps, part.dtype.type(0), part)
    for q, w in enumerate(weights):
        own = np.flatnonzero(weighed[q])
        if own.size:
            span = slice(int(own[0]), int(own[-1]) + 1)
            local = slice(span.start - top, span.stop - top)
            out[q] = np.einsum("iyx,yx->ix", part[:, local], w[span].astype(dtype))
    return out


def _weighted(cube, weights: list[BoxWeights], square: bool, dtype, missing) -> list[tuple]:
    """Each configuration's (source, background) row sums of ``cube`` (the background's
    None without one); with ``square`` the sums of the squared weights (variances)."""
    power = 2 if square else 1
    planes, where = _planes(
        [a**power if a is not None else None for c in weights for a in (c.profile, c.background)]
    )
    sums = _row_sums(cube, planes, dtype, missing)
    at = [None if i is None else sums[i] for i in where]
    return list(zip(at[::2], at[1::2], strict=True))


def _traces(sci, apertures, params) -> list:
    """Each configuration's trace time series; configurations that measure the same
    trace share one measurement."""
    done: dict = {}
    out = []
    for aperture, p in zip(apertures, params, strict=True):
        if not (p.measure_trace and aperture.trace is not None):
            out.append(None)
            continue
        half = trace_half_width(aperture, p)
        columns = aperture.profile.any(axis=0)
        key = (np.asarray(aperture.trace).tobytes(), half, columns.tobytes())
        if key not in done:
            done[key] = trace_timeseries(sci, aperture.trace, half, columns=columns)
        out.append(done[key])
    return out


def extract_block_many(
    sci: np.ndarray,
    var_poisson: np.ndarray | None,
    var_rnoise: np.ndarray | None,
    var_flat: np.ndarray | None,
    *,
    apertures: Sequence[Aperture],
    params: Sequence[ExtractParams],
    models: Sequence[np.ndarray | None],
    reference_positions: Sequence[float | None],
    weights: Sequence[BoxWeights | None] | None = None,
    with_variances: bool = True,
) -> list[dict[str, np.ndarray]]:
    """:func:`~tso3.steps.extract.extract_block` of one block for many configurations.

    Parameters
    ----------
    sci, var_poisson, var_rnoise, var_flat : ndarray (nints, ny, nx)
        The block (DISPAXIS=1 orientation), as for ``extract_block``.
    apertures, params, models, reference_positions : sequence
        One entry per configuration: ``extract_block``'s ``aperture``, ``params``,
        ``model`` and ``reference_position``.
    weights : sequence of BoxWeights or None, optional
        :func:`box_weights` of each configuration, when already made (they depend on
        the configuration only, so a caller with many blocks makes them once).
    with_variances : bool
        False: the box configurations' variance sums (``var_*``, ``bkg_var_*``) are
        neither computed nor returned, which saves most of the work when only fluxes
        are wanted.  The fluxes do not change: a pixel with a missing variance still
        counts as missing.

    Returns
    -------
    list of dict of ndarray
        What ``extract_block`` returns for each configuration: the same sums, up to the
        order of floating-point additions (about 1e-12 relative for the flux, 1e-7 for
        the variances, which both accumulate in float32 there and here).
    """
    if weights is None:
        weights = [box_weights(a, p) for a, p in zip(apertures, params, strict=True)]
    variances = {"var_poisson": var_poisson, "var_rnoise": var_rnoise, "var_flat": var_flat}
    traces = _traces(sci, apertures, params)
    out: list = [None] * len(apertures)
    fused = [k for k, w in enumerate(weights) if w is not None]
    for k in (k for k, w in enumerate(weights) if w is None):  # one by one
        out[k] = extract_block(
            sci, var_poisson, var_rnoise, var_flat, aperture=apertures[k], params=params[k],
            model=models[k], reference_position=reference_positions[k],
        )  # fmt: skip
    if not fused:
        return out
    grid = [weights[k] for k in fused]
    gaps = {n: ~np.isfinite(v) for n, v in (("SCI", sci), *variances.items()) if v is not None}
    data_sums = _weighted(sci, grid, False, np.float64, gaps["SCI"])
    var_sums = {n: _weighted(v, grid, True, np.float32, gaps[n])
                for n, v in variances.items() if v is not None and with_variances}  # fmt: skip
    bad = np.logical_or.reduce(list(gaps.values()))
    ic, xc = np.nonzero(bad.any(axis=1))  # the pairs with a missing pixel somewhere
    missing = (ic, xc, bad[ic, :, xc])
    for j, k in enumerate(fused):
        shift = None
        if traces[k] is not None and reference_positions[k] is not None and models[k] is not None:
            shift = traces[k][0] - reference_positions[k]
        sums = _configuration_sums(
            grid[j], data_sums[j], {n: s[j] for n, s in var_sums.items()}, sci,
            variances if with_variances else {}, variances, missing,
            repair=params[k].repair, model=models[k], model_shift=shift,
        )  # fmt: skip
        if traces[k] is not None:
            sums["trace_position"], sums["trace_width"] = traces[k]
        out[k] = sums
    return out


def _configuration_sums(
    c: BoxWeights, data_sums, var_sums, sci, variances, all_variances, missing, *,
    repair, model, model_shift,
) -> dict[str, np.ndarray]:  # fmt: skip
    """One configuration's sums from the batched ones (``var_sums``: those of
    ``variances``, the ones wanted), its pairs with a missing pixel computed exactly."""
    nints, _, nx = sci.shape
    zeros = np.zeros((nints, nx))
    flux = data_sums[0].copy()
    bkg = zeros.copy() if c.background is None else data_sums[1].copy()
    flux -= bkg
    out: dict[str, np.ndarray] = {"flux": flux}
    bkg_var = {}
    for name in variances:
        source, background = var_sums.get(name, (None, None))
        bkg_var[name] = zeros.copy() if background is None else background.copy()
        out[name] = zeros.copy() if source is None else source + bkg_var[name]
    npix = np.broadcast_to(c.profile.sum(axis=0), (nints, nx)).copy()
    n_repaired = np.zeros(nints, dtype=np.int64)
    ic, xc, bad_rows = missing
    hit = (bad_rows & c.support.T[xc]).any(axis=1)
    ii, xx = ic[hit], xc[hit]
    if ii.size:
        rs = c.rows
        coeffs = basis = None
        if c.fit is not None:
            bkg_rows, mask0, full_basis, m_k, g_col = c.fit
            basis = full_basis[rs]
            # the background of a pair whose background pixels are all there is the
            # dense fit's; only pairs missing one are solved again (as fit_background)
            d = sci[ii[:, None], bkg_rows[None, :], xx[:, None]].astype(np.float64)
            coeffs = np.einsum("kym,my->mk", g_col[:, :, xx], np.where(np.isfinite(d), d, 0.0))
            lost = (bad_rows[hit][:, bkg_rows] & mask0.T[xx]).any(axis=1)
            if lost.any():
                coeffs[lost], var_b = refit_pairs(
                    sci, tuple(all_variances.values()), bkg_rows, mask0, full_basis, m_k,
                    ii[lost], xx[lost],
                )  # fmt: skip
                for name, v in zip(_VARS, var_b, strict=True):
                    if name in bkg_var:
                        bkg_var[name][ii[lost], xx[lost]] = v
        elif c.background is not None:  # a wanted background with no region: zero
            basis, coeffs = np.zeros((rs.stop - rs.start, 1)), np.zeros((ii.size, 1))
        data = sci[:, rs]
        f, slope = repair_profile(model, data, c.profile[rs], rs, c.profile.shape[0], repair)
        exact = box_pairs(
            data, {n: None if v is None else v[:, rs] for n, v in variances.items()},
            c.profile[rs], ii, xx, basis=basis, coeffs=coeffs, repair=repair, model=f,
            model_slope=slope, model_shift=model_shift,
        )  # fmt: skip
        flux[ii, xx] = exact["flux"]
        npix[ii, xx] = exact["npixels"]
        for name in variances:
            if name in exact:
                out[name][ii, xx] = exact[name] + bkg_var[name][ii, xx]
        if c.background is not None:
            bkg[ii, xx] = exact["background"]
        np.add.at(n_repaired, ii, exact["n_repaired"])
    for name in variances:
        out["bkg_" + name] = bkg_var[name]
    flux[np.isclose(npix, 0.0)] = np.nan
    out["background"] = bkg
    out["npixels"] = npix
    out["n_repaired"] = n_repaired
    return out
