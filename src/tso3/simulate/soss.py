"""NIRISS SOSS scenes: two curved GR700XD orders, a stepped zodiacal background, 1/f noise.

The orders follow the same trace and wavelength models tso3 extracts with (the shipped
PASTASOSS data at the exposure's PWCPOS), moved by ``trace_offset`` px so that a
reduction has to find them.  Each order's cross-dispersion profile is the defocused
GR700XD shape: two horns ``HORN_SEPARATION`` px apart.  The calints are in DN/s, as
calwebb_spec2 leaves SOSS data (no photom before extraction).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..io.soss_models import default_soss_model
from ..stages.soss import predicted_orders
from . import scenes
from .transit import transit_flux

#: Distance (px) between the two horns of the SOSS cross-dispersion profile.
HORN_SEPARATION = 9.0
#: FWHM (px) of each horn.
HORN_FWHM = 5.0
#: Relative peak throughput of order 2.
ORDER2_THROUGHPUT = 0.45
#: Background right of the zodiacal step, relative to the left.
BACKGROUND_STEP = 1.35


@dataclass
class OrderScene:
    """One order on the detector (vectors along x; NaN/0 where off the subarray)."""

    order: int
    wavelength: np.ndarray
    trace: np.ndarray
    k: np.ndarray  # radius ratio per column
    electrons: np.ndarray  # star electrons per integration per column
    white_light: np.ndarray | None = None


def throughput(order: int, lam: np.ndarray) -> np.ndarray:
    """Smooth GR700XD + detector throughput shape of an order (peak ~1 for order 1)."""
    lam = np.asarray(lam, dtype=float)
    if order == 1:
        shape = 0.25 * (1 + np.tanh((lam - 0.9) / 0.05)) * (1 + np.tanh((2.8 - lam) / 0.1))
        shape *= np.exp(-0.5 * ((lam - 1.35) / 0.7) ** 2)
    else:
        shape = 0.25 * (1 + np.tanh((lam - 0.62) / 0.03)) * (1 + np.tanh((1.35 - lam) / 0.05))
        shape *= ORDER2_THROUGHPUT * np.exp(-0.5 * ((lam - 0.8) / 0.3) ** 2)
    return np.where(np.isfinite(lam), shape, 0.0)


def order_scenes(p: dict, shape: tuple[int, int], subarray: str, substrt2: int) -> list[OrderScene]:
    """The orders of a SUBSTRIP256/96 (or FULL) frame, electrons not yet normalised."""
    predicted = predicted_orders(default_soss_model(), float(p["pwcpos"]), shape, substrt2,
                                 subarray)  # fmt: skip
    out = []
    for order, (centre, lam) in predicted.items():
        on = np.isfinite(lam)
        dlam = np.abs(np.gradient(np.where(on, lam, np.nan)))
        electrons = np.nan_to_num(scenes.photon_sed(lam, p["teff"]) * throughput(order, lam) * dlam)
        depth = scenes.transit_depth_spectrum(
            lam, float(p["depth"]), 1.5, float(p["depth_slope"]), float(p["feature_depth"]),
            float(p["feature_wavelength"]), float(p["feature_width"]),
        )  # fmt: skip
        depth = np.where(on, depth, float(p["depth"]))
        if np.any(depth <= 0):
            raise ValueError("the depth spectrum (depth, depth_slope, feature_*) goes <= 0")
        trace = np.where(on, centre + float(p["trace_offset"]), np.nan)
        out.append(OrderScene(order, np.where(on, lam, np.nan), trace, np.sqrt(depth),
                              np.where(on, electrons, 0.0)))  # fmt: skip
    return out


def background(level: float, shape: tuple[int, int], substrt2: int) -> np.ndarray:
    """Zodiacal background of the GR700XD: smooth, with its step near column 700.

    The step line leans a little with the row (full-frame rows, so SUBSTRIP96 sees
    the same pattern as SUBSTRIP256 where they overlap).
    """
    ny, nx = shape
    rows = np.arange(ny)[:, None] + (substrt2 - 1793)
    cols = np.arange(nx)[None, :]
    step = 700.0 + 0.3 * (rows - 128.0)
    image = level * (1.0 + (BACKGROUND_STEP - 1.0) / (1.0 + np.exp(-(cols - step) / 3.0)))
    image *= 1.0 + 0.1 * (cols - nx / 2) / nx
    return image.astype(np.float32)


def order_electrons(
    orders: list[OrderScene], offset: np.ndarray, z: np.ndarray, u1: float, u2: float, ny: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Star electrons of a block (n, ny, nx) from every order, and each order's white light.

    ``offset`` (n,) is the cross-dispersion shift of each integration, ``z`` (n,) the
    star-planet separation (or (n, nx), one per column, for superstripe readouts).
    """
    total = None
    whites = []
    half = HORN_SEPARATION / 2.0
    fwhm = np.full(orders[0].trace.size, HORN_FWHM, np.float32)
    for o in orders:
        trace = np.where(np.isfinite(o.trace), o.trace, -1000.0)  # off the subarray: no light
        zz = z[:, None] if z.ndim == 1 else z  # (n, nx): columns read at their own times
        lc = transit_flux(zz, o.k[None, :], u1, u2).astype(np.float32)
        profile = 0.5 * (
            scenes.spectral_trace_cube(offset, trace - half, fwhm, ny)
            + scenes.spectral_trace_cube(offset, trace + half, fwhm, ny)
        )
        profile *= (o.electrons[None, :] * lc)[:, None, :].astype(np.float32)
        total = profile if total is None else total + profile
        whites.append(lc @ o.electrons / max(o.electrons.sum(), 1e-30))
    return total, whites


def one_over_f(rng: np.random.Generator, n: int, nx: int, sigma: float) -> np.ndarray:
    """Per-(integration, column) offsets with a 1/f spectrum along x, rms ``sigma``.

    What ramp fitting leaves of the detector's 1/f noise in SOSS data: each column of an
    integration shifted by a common amount, correlated between nearby columns.
    """
    if sigma <= 0:
        return np.zeros((n, nx), np.float32)
    white = rng.standard_normal((n, nx))
    f = np.fft.rfftfreq(nx)
    f[0] = f[1]
    pink = np.fft.irfft(np.fft.rfft(white, axis=1) / np.sqrt(f / f[1]), n=nx, axis=1)
    pink *= sigma / max(np.std(pink), 1e-30)
    return pink.astype(np.float32)
