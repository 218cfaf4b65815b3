"""Detector effects: photon and read noise, flat-field residuals, cosmic rays, bad pixels.

Noise is drawn in electrons and converted to the calibrated unit with a per-pixel factor
``conv`` (SCI unit per electron), so the variance arrays are exactly the variances of the
noise that was injected:

- ``VAR_POISSON = conv^2 * E`` (E = expected electrons, the noise-free scene);
- ``VAR_RNOISE = conv^2 * read_noise^2``;
- ``VAR_FLAT = (conv * E * flat_error)^2``: the flat-field residual is a *static* pattern
  (the same in every integration), of relative rms ``flat_error`` across pixels.

Photon noise uses the Gaussian limit of the Poisson law (scenes are >> 10 e- per pixel),
which lets photon and read noise be drawn as one normal deviate per pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dqflags

#: jwst pixel-DQ bits used for persistent bad pixels (not needed elsewhere in tso3).
DEAD = 1 << 10
HOT = 1 << 11


#: Names of the float cubes of a block, as attributes of :class:`NoisyBlock`.
FLOAT_NAMES = ("sci", "err", "var_poisson", "var_rnoise", "var_flat")


@dataclass
class NoisyBlock:
    """Calibrated arrays of a block of integrations, all float32 ``(n, ny, nx)``."""

    sci: np.ndarray
    err: np.ndarray
    var_poisson: np.ndarray
    var_rnoise: np.ndarray
    var_flat: np.ndarray

    @property
    def sigma(self) -> np.ndarray:
        """Standard deviation of the injected time-variable noise (photon + read)."""
        return np.sqrt(self.var_poisson + self.var_rnoise)


def realize_noise(
    electrons: np.ndarray,
    conv: np.ndarray | float,
    read_noise: float,
    flat_error: float,
    rng: np.random.Generator,
) -> NoisyBlock:
    """Noisy calibrated data and consistent variances for a block of integrations.

    Parameters
    ----------
    electrons : numpy.ndarray
        Expected electrons per pixel and integration, float32 ``(n, ny, nx)``, already
        multiplied by the static flat-field pattern.
    conv : array_like
        SCI unit per electron, broadcastable to ``electrons`` (scalar, or per column).
    read_noise : float
        Read noise in electrons per pixel per integration.
    flat_error : float
        Relative rms of the flat-field residual pattern (for VAR_FLAT).
    rng : numpy.random.Generator
        Source of the normal deviates.

    Returns
    -------
    NoisyBlock
    """
    conv = np.asarray(conv, dtype=np.float32)
    conv2 = conv * conv
    signal = electrons * conv
    var_poisson = np.clip(electrons, 0, None) * conv2
    var_rnoise = np.broadcast_to(conv2 * np.float32(read_noise**2), electrons.shape).copy()
    var_flat = signal * signal * np.float32(flat_error**2)
    deviates = rng.standard_normal(electrons.shape, dtype=np.float32)
    deviates *= np.sqrt(var_poisson + var_rnoise)
    sci = signal + deviates
    err = np.sqrt(var_poisson + var_rnoise + var_flat)
    return NoisyBlock(sci, err, var_poisson, var_rnoise, var_flat)


def flat_pattern(rng: np.random.Generator, shape: tuple[int, int], flat_error: float) -> np.ndarray:
    """Static multiplicative flat-field residual, mean 1 and rms ``flat_error``."""
    return (1 + flat_error * rng.standard_normal(shape)).astype(np.float32)


def draw_bad_pixels(
    rng: np.random.Generator, shape: tuple[int, int], fraction: float
) -> np.ndarray:
    """Persistent bad pixels as a sorted ``(m, 2)`` int array of ``[y, x]``."""
    n_pix = shape[0] * shape[1]
    count = int(round(fraction * n_pix))
    flat = np.sort(rng.choice(n_pix, size=count, replace=False))
    return np.column_stack(np.unravel_index(flat, shape)).astype(np.int64)


def draw_cosmic_rays(
    rng: np.random.Generator,
    nints: int,
    shape: tuple[int, int],
    rate: float,
    sigma_range: tuple[float, float],
    bad: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Residual cosmic-ray hits of a whole exposure.

    The number of hits is Poisson with mean ``rate * nints * ny * nx``; positions are
    uniform; amplitudes, in units of the pixel's noise sigma, are log-uniform within
    ``sigma_range``.  Hits on persistent bad pixels (NaN anyway) and repeated
    (integration, pixel) draws are dropped.

    Returns
    -------
    where : numpy.ndarray
        int64 ``(m, 3)`` rows ``[integration (0-based, global), y, x]``, sorted.
    amp_sigma : numpy.ndarray
        float64 ``(m,)`` amplitude in sigma.
    """
    ny, nx = shape
    count = rng.poisson(rate * nints * ny * nx)
    flat = rng.integers(0, nints * ny * nx, size=count)
    lo, hi = np.log(sigma_range[0]), np.log(sigma_range[1])
    amp = np.exp(rng.uniform(lo, hi, size=count))
    flat, first = np.unique(flat, return_index=True)
    amp = amp[first]
    where = np.column_stack(np.unravel_index(flat, (nints, ny, nx))).astype(np.int64)
    if len(bad) and len(where):
        bad_flat = bad[:, 0] * nx + bad[:, 1]
        keep = ~np.isin(where[:, 1] * nx + where[:, 2], bad_flat)
        where, amp = where[keep], amp[keep]
    return where, amp


def block_dq(
    rng: np.random.Generator,
    n: int,
    shape: tuple[int, int],
    bad: np.ndarray,
    bad_kind: np.ndarray,
    jump_fraction: float,
) -> np.ndarray:
    """DQ cube of a block: persistent bad pixels plus harmless JUMP_DET flags.

    Parameters
    ----------
    bad : numpy.ndarray
        ``(m, 2)`` ``[y, x]`` of persistent bad pixels.
    bad_kind : numpy.ndarray
        ``(m,)`` extra DQ bit of each bad pixel (HOT or DEAD), ORed with DO_NOT_USE.
    jump_fraction : float
        Fraction of pixel-integrations that carry JUMP_DET only (valid data: the ramp
        fit already handled the jump), as real calints do.
    """
    dq = np.zeros((n,) + tuple(shape), dtype=np.uint32)
    if jump_fraction > 0:
        count = rng.poisson(jump_fraction * dq.size)
        dq.reshape(-1)[rng.integers(0, dq.size, size=count)] = dqflags.JUMP_DET
    if len(bad):
        dq[:, bad[:, 0], bad[:, 1]] = (dqflags.DO_NOT_USE | bad_kind).astype(np.uint32)
    return dq
