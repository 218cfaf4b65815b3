"""``simulate``: realistic stage-2 TSO exposures (calints segments, ASN, truth JSON)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..formats import DHS_SUBARRAYS, NRS_MULTISTRIPES, SOSS_SUPERSTRIPES
from ..io.stripes import StripeLayout, stripe_layout
from ..parallel import Cores, cores
from . import headers, noise, scenes, soss, stripes, writer
from . import modes as M
from .times import ExposureTimes, exposure_times
from .transit import orbit_for, orbit_separation, transit_flux
from .truth import build_truth

#: Integrations rendered per block: bounds the temporaries, and fixes the random streams
#: (one per block) independently of the number of threads.
#: Integrations rendered at once (fewer for big frames: about 64 MB per float cube).
BLOCK = 256
_BLOCK_PIXELS = 1 << 24

#: Physical and observational parameters accepted as ``**params`` (None: mode default).
DEFAULTS: dict[str, object] = {
    # transit
    "depth": 0.01,
    "t0": None,
    "duration": None,
    "impact": 0.3,
    "period": 3.5,
    "a_rs": None,
    "inc": None,
    "u1": 0.2,
    "u2": 0.2,
    "depth_slope": -5e-4,
    "feature_depth": 8e-4,
    "feature_wavelength": None,
    "feature_width": 0.15,
    # source and background
    "teff": 4500.0,
    "star_electrons": None,
    "background": None,
    "background_gradient": (0.2, 0.1),
    # detector
    "read_noise": None,
    "gain": None,
    "photom": None,
    "flat_error": 0.003,
    "frame_time": None,
    "ngroups": None,
    "integration_time": None,
    # time
    "expstart": 60204.25,
    "barycentric_offset": 212.7,
    # pointing and trace
    "jitter": None,
    "drift": None,
    "pointing_offset": (0.15, -0.1),
    "trace_tilt": 0.6,
    "trace_curvature": 0.3,
    # NIS_SOSS only
    "pwcpos": None,
    "trace_offset": None,
    "one_over_f": None,
    # artefacts
    "cr_rate": 3e-5,
    "cr_sigma": (8.0, 2000.0),
    "bad_pixel_fraction": 0.002,
    "jump_flag_fraction": 1e-4,
    # identifiers
    "target_name": "TSO-SIM-1",
    "target_ra": 217.3267,
    "target_dec": -33.5468,
    "roll": 73.0,
    "program": "09001",
    "observation": 4,
    "visit": 1,
}


@dataclass
class SimulationResult:
    """What :func:`simulate` wrote.

    Attributes
    ----------
    asn_path : Path
        The level-3 association JSON.
    files : list of Path
        The calints segment files, in ASN member order.
    truth_path : Path
        The truth JSON.
    truth : dict
        The truth, as written to ``truth_path``.
    """

    asn_path: Path
    files: list[Path]
    truth_path: Path
    truth: dict = field(repr=False)


@dataclass
class _Detector:
    """Static scene of one detector (everything but the per-integration parts)."""

    name: str
    index: int
    shape: tuple[int, int]  # (ny, nx) of the data
    background: np.ndarray
    flat: np.ndarray
    bad: np.ndarray
    bad_kind: np.ndarray
    cr_where: np.ndarray
    cr_sigma: np.ndarray
    conv: np.ndarray  # SCI unit per electron, broadcastable to (n, ny, nx)
    # spectroscopy only (dispersion-axis vectors)
    wavelength_1d: np.ndarray | None = None
    wavelength_2d: np.ndarray | None = None
    cross_mask: np.ndarray | None = None  # 1 inside a slit, 0 outside (cross-dispersion)
    trace: np.ndarray | None = None
    fwhm: np.ndarray | None = None
    k: np.ndarray | None = None
    electrons: np.ndarray | None = None
    cr_amplitude: np.ndarray | None = None
    white_light: np.ndarray | None = None
    orders: list | None = None  # NIS_SOSS: soss.OrderScene per order


def _resolve_params(spec: M.ModeSpec, params: dict) -> dict:
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise ValueError(
            f"unknown simulation parameter(s) {', '.join(unknown)}; "
            f"valid: {', '.join(sorted(DEFAULTS))}"
        )
    p = dict(DEFAULTS)
    p.update(params)
    for name, value in (
        ("star_electrons", spec.star_electrons),
        ("background", spec.background),
        ("read_noise", spec.read_noise),
        ("gain", spec.gain),
        ("photom", spec.photom),
        ("frame_time", spec.frame_time),
        ("ngroups", spec.ngroups),
        ("feature_wavelength", spec.feature_wavelength),
        ("drift", 0.08 if spec.spectroscopic else (0.08, -0.05)),
        # ~1 mas rms line-of-sight jitter: 0.005 px of NIRSpec/MIRI/grism spectra, where
        # the undersampled trace turns larger shifts into > 5 sigma pixel changes; more
        # for the defocused or finer-sampled imaging PSFs
        ("jitter", 0.005 if spec.spectroscopic else 0.02),
        ("pwcpos", 245.79),
        ("trace_offset", 0.8 if spec.exp_type == "NIS_SOSS" else 0.0),
        ("one_over_f", 8.0 if spec.exp_type == "NIS_SOSS" else 0.0),  # e- rms per column
    ):
        if p[name] is None:
            p[name] = value
    if p["integration_time"] is not None:  # EFFINTTM given: adapt the frame time
        p["frame_time"] = float(p["integration_time"]) / (int(p["ngroups"]) - 1)
    if int(p["ngroups"]) < 2:
        raise ValueError("ngroups must be >= 2")
    if not 0 < float(p["depth"]) < 1:
        raise ValueError("depth must be in (0, 1)")
    if not spec.spectroscopic and np.ndim(p["drift"]) == 0:
        p["drift"] = (float(p["drift"]), float(p["drift"]))
    return p


def _mode_spec(mode: str, detectors: tuple[str, ...] | None) -> M.ModeSpec:
    key = str(mode).lower()
    if key not in M.MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of: {', '.join(M.MODES)}")
    spec = M.MODES[key]
    if detectors is None:
        return spec
    detectors = tuple(str(d).upper() for d in detectors)
    if key == "nrs_brightobj":
        if not detectors or len(set(detectors)) != len(detectors):
            raise ValueError("detectors must be distinct, e.g. ('NRS1', 'NRS2')")
        if not set(detectors) <= {"NRS1", "NRS2"}:
            raise ValueError(f"nrs_brightobj detectors must be NRS1 and/or NRS2, not {detectors}")
        if detectors == ("NRS1",):
            return spec
        return M.grating_variant(spec, tuple(sorted(detectors)))
    if detectors != spec.detectors:
        raise ValueError(f"mode {key} has detector(s) {spec.detectors}, not {detectors}")
    return spec


#: Striped subarrays each EXP_TYPE can simulate (NIRSpec: PRISM on NRS1 only).
_STRIPED = {"NIS_SOSS": tuple(SOSS_SUPERSTRIPES), "NRS_BRIGHTOBJ": tuple(NRS_MULTISTRIPES)}


def _striped_layout(spec: M.ModeSpec, subarray: str | None) -> StripeLayout | None:
    """The stripe layout of ``subarray`` when it is a striped subarray of the mode."""
    if subarray is None or str(subarray).upper() not in _STRIPED.get(spec.exp_type, ()):
        return None
    if spec.grating not in (None, "PRISM") and spec.exp_type == "NRS_BRIGHTOBJ":
        raise ValueError(f"subarray {subarray!r} is a PRISM subarray: simulate NRS1 only")
    return stripe_layout(subarray)


def _segment_bounds(nints: int, segments: int) -> list[tuple[int, int]]:
    """0-based [start, stop) of each segment: equal sizes, the last one shorter (as DMS)."""
    size = -(-nints // segments)
    if (segments - 1) * size >= nints:  # too few integrations for equal sizes
        edges = np.linspace(0, nints, segments + 1).round().astype(int)
    else:
        edges = np.minimum(np.arange(segments + 1) * size, nints)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _pointing(spec, p, times: ExposureTimes, rng, ref: tuple[float, float]) -> dict:
    """Per-integration source position: planned + offset + linear drift + white jitter."""
    tau = (times.mid_utc - times.mid_utc[0]) / max(times.mid_utc[-1] - times.mid_utc[0], 1e-12)
    n = times.nints
    if spec.spectroscopic:
        cross = 1 if spec.dispaxis == 1 else 0  # index into (dx, dy)
        offset = (
            p["pointing_offset"][cross]
            + float(p["drift"]) * (tau - 0.5)
            + p["jitter"] * rng.standard_normal(n)
        )
        return {"cross_dispersion_offset": offset}
    x = ref[0] + p["pointing_offset"][0] + p["drift"][0] * (tau - 0.5)
    y = ref[1] + p["pointing_offset"][1] + p["drift"][1] * (tau - 0.5)
    return {
        "x": x + p["jitter"] * rng.standard_normal(n),
        "y": y + p["jitter"] * rng.standard_normal(n),
    }


def _conversion(p: dict, times: ExposureTimes) -> float:
    """SCI unit per electron at the throughput peak: photom / (gain * EFFINTTM)."""
    return float(p["photom"]) / (float(p["gain"]) * times.integration_time)


def _setup_detectors(spec, p, shape, times, seed, subarray) -> list[_Detector]:
    dets = []
    totals = []
    for index, name in enumerate(spec.detectors):
        rng = np.random.default_rng([seed, 1, index])
        bad = noise.draw_bad_pixels(rng, shape, float(p["bad_pixel_fraction"]))
        bad_kind = rng.choice(np.array([noise.HOT, noise.DEAD], dtype=np.uint32), size=len(bad))
        cr_where, cr_sigma = noise.draw_cosmic_rays(
            rng, times.nints, shape, float(p["cr_rate"]), tuple(p["cr_sigma"]), bad
        )
        det = _Detector(
            name=name,
            index=index,
            shape=shape,
            background=scenes.background_image(
                float(p["background"]), tuple(p["background_gradient"]), shape
            ),
            flat=noise.flat_pattern(rng, shape, float(p["flat_error"])),
            bad=bad,
            bad_kind=bad_kind,
            cr_where=cr_where,
            cr_sigma=cr_sigma,
            conv=np.float32(_conversion(p, times)),
        )
        if spec.exp_type == "NIS_SOSS":
            totals.append(_setup_soss(spec, p, det, subarray))
        elif spec.spectroscopic:
            totals.append(_setup_spectrum(spec, p, det))
        dets.append(det)
    if spec.spectroscopic:  # share the star's electrons between detectors by their SEDs
        factor = float(p["star_electrons"]) / sum(totals)
        for det in dets:
            det.electrons = (det.electrons * factor).astype(np.float32)
            for o in det.orders or ():
                o.electrons = (o.electrons * factor).astype(np.float32)
    return dets


def _setup_soss(spec: M.ModeSpec, p: dict, det: _Detector, subarray: str) -> float:
    """The GR700XD orders of ``det`` (soss.py); return their unnormalised electrons."""
    ystart = spec.substrt_by_subarray.get(subarray, spec.substrt)[1]
    det.orders = soss.order_scenes(p, det.shape, subarray, ystart)
    det.background = soss.background(float(p["background"]), det.shape, ystart)
    det.electrons = sum(o.electrons for o in det.orders)
    # star_electrons is the star's light in orders 1 + 2 of SUBSTRIP256, whatever the
    # subarray shows of them: SUBSTRIP96 holds order 1 alone, not a brighter star
    full = soss.order_scenes(p, (256, det.shape[1]), "SUBSTRIP256", 1793)
    return float(sum(o.electrons.sum() for o in full))


def _setup_spectrum(spec: M.ModeSpec, p: dict, det: _Detector) -> float:
    """Fill the dispersion-axis vectors of ``det``; return its unnormalised electrons."""
    ny, nx = det.shape
    n_cross, n_disp = (ny, nx) if spec.dispaxis == 1 else (nx, ny)
    band = spec.bands[det.name]
    lam = M.dispersion_solution(band, n_disp)
    finite = np.isfinite(lam)
    frac = spec.ref_position[1] if spec.dispaxis == 1 else spec.ref_position[0]
    ref_cross = frac * (ny if spec.dispaxis == 1 else nx) - 0.5
    u = (np.arange(n_disp) - (n_disp - 1) / 2) / max((n_disp - 1) / 2, 1)
    trace = ref_cross + 0.5 * p["trace_tilt"] * u + p["trace_curvature"] * (u**2 - 1 / 3)
    fwhm = M.diffraction_fwhm(spec, np.where(finite, lam, np.nanmedian(lam)))
    tput = M.throughput(spec, lam)
    dlam = np.abs(np.gradient(np.where(finite, lam, np.nan)))
    electrons = np.nan_to_num(scenes.photon_sed(lam, p["teff"]) * tput * dlam)
    depth = scenes.transit_depth_spectrum(
        lam,
        float(p["depth"]),
        spec.ref_wavelength,
        float(p["depth_slope"]),
        float(p["feature_depth"]),
        float(p["feature_wavelength"]),
        float(p["feature_width"]),
    )
    depth = np.where(finite, depth, float(p["depth"]))
    if np.any(depth <= 0):
        raise ValueError("the depth spectrum (depth, depth_slope, feature_*) goes <= 0")
    # photom inverts the throughput (floored), so calibrated spectra follow the SED.
    # Outside the band (NaN wavelength) nothing is calibrated: keep the peak factor.
    rel = np.where(finite, np.clip(tput / max(tput.max(), 1e-30), 0.05, None), 1.0)
    conv = det.conv / rel.astype(np.float32)
    # Iso-wavelength lines are slightly tilted: lambda depends a little on cross position.
    cross = np.arange(n_cross)[:, None]
    shifted = np.arange(n_disp)[None, :] + 0.03 * (cross - trace[None, :])
    wl2d = np.interp(shifted, np.arange(n_disp), lam, left=np.nan, right=np.nan)
    if spec.slit_window is not None:  # light and wavelengths only where the slit is
        inside = np.zeros(n_cross, bool)
        inside[slice(*spec.slit_window)] = True
        wl2d[~inside] = np.nan
        det.cross_mask = inside.astype(np.float32)
        field = np.where(inside, 1.0, spec.field_background).astype(np.float32)
        det.background *= field[:, None] if spec.dispaxis == 1 else field[None, :]
    det.wavelength_1d = lam
    det.wavelength_2d = wl2d if spec.dispaxis == 1 else wl2d.T.copy()
    det.trace = trace
    det.fwhm = fwhm
    det.k = np.sqrt(depth)
    det.electrons = electrons
    det.conv = (conv[None, None, :] if spec.dispaxis == 1 else conv[None, :, None]).astype(
        np.float32
    )
    return float(electrons.sum())


def _render_block(spec, p, det: _Detector, state: dict, start: int, stop: int, seed: int):
    """Noisy arrays of global integrations ``[start, stop)`` of one detector."""
    rng = np.random.default_rng([seed, 2, det.index, start])
    n = stop - start
    if det.orders:
        electrons, whites = soss.order_electrons(
            det.orders, state["cross_dispersion_offset"][start:stop], state["z"][start:stop],
            p["u1"], p["u2"], det.shape[0],
        )  # fmt: skip
        white = np.stack(whites)
    elif spec.spectroscopic:
        z = state["z"][start:stop]
        z = z[:, None] if z.ndim == 1 else z  # (n, nx): columns read at their own times
        lc = transit_flux(z, det.k[None, :], p["u1"], p["u2"]).astype(np.float32)
        n_cross = det.shape[0] if spec.dispaxis == 1 else det.shape[1]
        profile = scenes.spectral_trace_cube(
            state["cross_dispersion_offset"][start:stop], det.trace, det.fwhm, n_cross
        )
        profile *= (det.electrons[None, :] * lc)[:, None, :]
        if det.cross_mask is not None:
            profile *= det.cross_mask[None, :, None]
        electrons = profile if spec.dispaxis == 1 else profile.transpose(0, 2, 1)
        weights = det.electrons * det.conv.ravel()
        white = lc @ weights / weights.sum()
    else:
        electrons = scenes.psf_cube(
            state["x"][start:stop], state["y"][start:stop], state["fwhm"], det.shape
        )
        electrons *= (float(p["star_electrons"]) * state["transit_model"][start:stop]).astype(
            np.float32
        )[:, None, None]
        white = None
    electrons = np.ascontiguousarray(electrons)
    electrons += det.background
    electrons *= det.flat
    block = noise.realize_noise(electrons, det.conv, p["read_noise"], p["flat_error"], rng)
    if float(p["one_over_f"]) > 0:  # column stripes: not in VAR_RNOISE, as in real data
        offsets = soss.one_over_f(rng, n, det.shape[1], float(p["one_over_f"]))
        block.sci += offsets[:, None, :] * det.conv
    # Residual cosmic rays: amplitudes are given in sigma of the injected noise.
    sel = (det.cr_where[:, 0] >= start) & (det.cr_where[:, 0] < stop)
    hits = det.cr_where[sel]
    amplitude = None
    if len(hits):
        i, y, x = hits[:, 0] - start, hits[:, 1], hits[:, 2]
        amplitude = det.cr_sigma[sel] * block.sigma[i, y, x]
        block.sci[i, y, x] += amplitude.astype(np.float32)
    dq = noise.block_dq(rng, n, det.shape, det.bad, det.bad_kind, p["jump_flag_fraction"])
    if len(det.bad):
        for cube in (block.sci, block.err, block.var_poisson, block.var_rnoise, block.var_flat):
            cube[:, det.bad[:, 0], det.bad[:, 1]] = np.nan
    return block, dq, sel, amplitude, white


def _render_segment(spec, p, det, state, start, stop, seed, pool) -> dict[str, np.ndarray]:
    n = stop - start
    shape = (n,) + det.shape
    out = {name: np.empty(shape, np.float32) for name in noise.FLOAT_NAMES}
    out["dq"] = np.empty(shape, np.uint32)

    step = max(1, min(BLOCK, _BLOCK_PIXELS // (det.shape[0] * det.shape[1])))

    def work(b0: int) -> None:
        b1 = min(b0 + step, stop)
        block, dq, sel, amplitude, white = _render_block(spec, p, det, state, b0, b1, seed)
        local = slice(b0 - start, b1 - start)
        for name in noise.FLOAT_NAMES:
            out[name][local] = getattr(block, name)
        out["dq"][local] = dq
        if amplitude is not None:
            det.cr_amplitude[sel] = amplitude
        if white is not None:
            det.white_light[..., b0:b1] = white

    list(pool.map(work, range(start, stop, step)))
    return out


def simulate(
    mode: str,
    output_dir: str | os.PathLike,
    *,
    nints: int | None = None,
    segments: int | None = None,
    seed: int = 0,
    shape: tuple[int, int] | None = None,
    detectors: tuple[str, ...] | None = None,
    subarray: str | None = None,
    **params,
) -> SimulationResult:
    """Simulate a JWST TSO exposure as stage-2 calints segments, with its ASN and truth.

    Parameters
    ----------
    mode : str
        EXP_TYPE in lower case: ``nrc_tsimage``, ``mir_image``, ``nrs_brightobj``,
        ``nrc_tsgrism``, ``mir_lrs-slitless``, ``mir_lrs-fixedslit`` or ``nis_soss``.
    output_dir : path-like
        Where the files go (created if needed).
    nints : int, optional
        Integrations in the exposure (default 120; 40 for the full-frame
        ``mir_lrs-fixedslit``).
    segments : int, optional
        Number of segment files per detector (default 3).
    seed : int
        Random seed; the same arguments and seed give identical files.
    shape : tuple of int, optional
        ``(ny, nx)`` of the data arrays (default: the mode's usual size).
    detectors : tuple of str, optional
        ``("NRS1", "NRS2")`` (or ``("NRS2",)``) for NIRSpec G395H data; other modes
        accept only their own detector.
    subarray : str, optional
        A named subarray of the mode (its frame size), e.g. ``SUBSTRIP96`` for
        ``nis_soss``; instead of ``shape``.  Striped subarrays (:mod:`.stripes`): the
        superstripes ``SUB17STRIPE_SOSS`` ... ``SUB680STRIPE_SOSS`` of ``nis_soss``, the
        PRISM multistripes ``SUB256M2_PRISM`` ... ``SUB32M16_PRISM`` of
        ``nrs_brightobj``; ``nints`` counts the reassembled frames.
    **params
        Physical and observational parameters; see ``DEFAULTS`` and ``docs/simulate.md``.

    Returns
    -------
    SimulationResult

    Raises
    ------
    ValueError
        For an unknown mode or parameter, or inconsistent sizes.
    """
    spec = _mode_spec(mode, detectors)
    nints = spec.default_nints if nints is None else int(nints)
    segments = 3 if segments is None else int(segments)
    if nints < 2 or segments < 1 or segments > nints:
        raise ValueError(f"need nints >= 2 and 1 <= segments <= nints (got {nints}, {segments})")
    if spec.exp_type == "NRC_TSGRISM" and str(subarray).upper() in DHS_SUBARRAYS:
        if shape is not None:
            raise ValueError(f"subarray {subarray!r}: give it without shape")
        spec = M.dhs_variant(spec, str(subarray).upper())
        subarray, shape = None, spec.default_shape
    layout = _striped_layout(spec, subarray)
    if layout is not None:
        if shape is not None:
            raise ValueError(f"subarray {subarray!r}: give it without shape")
        if params.get("frame_time") is None and params.get("integration_time") is None:
            params["frame_time"] = stripes.stripe_frame_time(layout, spec.frame_time)
        shape = stripes.frame_shape(layout, spec.default_shape[0])
    elif subarray is not None:
        sizes = {name.upper(): size for size, name in spec.known_subarrays.items()}
        if shape is not None or str(subarray).upper() not in sizes:
            names = [*sizes, *_STRIPED.get(spec.exp_type, ())]
            raise ValueError(f"subarray {subarray!r}: give one of {', '.join(names) or 'none'} "
                             f"for {mode}, without shape")  # fmt: skip
        shape = sizes[str(subarray).upper()]
    shape = tuple(int(v) for v in (shape or spec.default_shape))
    if len(shape) != 2 or min(shape) < 8:
        raise ValueError(f"shape must be (ny, nx) with both >= 8, got {shape}")
    p = _resolve_params(spec, params)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)

    if layout is not None:  # columns are read stripe after stripe: each has its own times
        times, stripe_times = stripes.superstripe_times(nints, layout, p)
    else:
        times = exposure_times(nints, float(p["expstart"]), float(p["frame_time"]),
                               int(p["ngroups"]), float(p["barycentric_offset"]))  # fmt: skip
    orbit = orbit_for(p, times.start_bjd[0], times.end_bjd[-1])
    elements = (orbit["t0"], orbit["period"], orbit["a_rs"], orbit["inc"])
    z = orbit_separation(times.mid_bjd, *elements)
    ny, nx = shape
    ref = (spec.ref_position[0] * nx - 0.5, spec.ref_position[1] * ny - 0.5)  # 0-based
    state = {
        # (nints,), or (nints, nx) when each column is read at its own time
        "z": orbit_separation(
            stripes.column_times(stripe_times, times, layout, shape[1], spec.detectors[0]),
            *elements,
        )
        if layout is not None
        else z,
        "transit_model": transit_flux(z, np.sqrt(float(p["depth"])), p["u1"], p["u2"]),
        "fwhm": float(M.diffraction_fwhm(spec, spec.ref_wavelength)),
    }
    state.update(_pointing(spec, p, times, np.random.default_rng([seed, 0]), ref))
    if layout is not None:
        subarray, subsize = layout.subarray, shape
    elif spec.model == "multislit":
        subarray, subsize = spec.subarray, spec.subarray_shape
    else:
        subarray, subsize = M.subarray_name(spec, shape)
    dets = _setup_detectors(spec, p, shape, times, seed, subarray)
    obs = writer.Observation(
        program=str(p["program"]).zfill(5),
        observation=int(p["observation"]),
        visit=int(p["visit"]),
        visit_group="04",
        sequence="1",
        activity="01",
        exposure=1,
        target_name=str(p["target_name"]),
        ra=float(p["target_ra"]),
        dec=float(p["target_dec"]),
        roll=float(p["roll"]),
    )
    dates = writer.date_keywords(times.start_utc[0])
    common = headers.common_meta(spec, p, obs, times, shape, subarray, subsize, ref, dates)
    transform = writer.sky_transform(obs, spec.pixel_scale, ref)
    common["meta.wcsinfo.s_region"] = writer.s_region(transform, shape)
    wcs = None if spec.spectroscopic else writer.imaging_wcs(obs, spec.pixel_scale, ref, shape)

    bounds = _segment_bounds(nints, segments)
    files: list[Path] = []
    pool = Cores(min(4, cores()))
    for det in dets:
        det.cr_amplitude = np.zeros(len(det.cr_where))
        det.white_light = np.ones(nints) if spec.spectroscopic else None
        if det.orders:
            det.white_light = np.ones((len(det.orders), nints))
    if spec.model == "multislit":  # DHS: the stripes of a segment are the slits of a file
        slits = [
            {"name": str(k + 1), "xstart": 1 + (subsize[1] - shape[1]) // 2, "xsize": shape[1],
             "ystart": 1 + k * shape[0], "ysize": shape[0], "source_type": "POINT"}
            for k in range(len(dets))
        ]  # fmt: skip
        files = writer.write_multislit_segments(
            output_dir, spec, obs, dets, bounds, common, times, slits, dates["processed"],
            render=lambda det, a, b: _render_segment(spec, p, det, state, a, b, seed, pool),
        )  # fmt: skip
    for det in dets if spec.model != "multislit" else ():
        for number, (start, stop) in enumerate(bounds, 1):
            arrays = _render_segment(spec, p, det, state, start, stop, seed, pool)
            meta = dict(common)
            meta.update(
                {
                    "meta.instrument.detector": det.name,
                    "meta.exposure.integration_start": start + 1,
                    "meta.exposure.integration_end": stop,
                    "meta.exposure.segment_number": number,
                    "meta.exposure.segment_total": len(bounds),
                }
            )
            model = writer.segment_model(
                spec,
                arrays=arrays,
                meta=meta,
                int_times=times.int_times_table(start, stop),
                stripe_times=stripes.stripe_table(stripe_times, layout, start, stop)
                if layout is not None
                else None,
                wavelength=det.wavelength_2d,
                wcs=wcs,
                slit=headers.slit_meta(spec, shape, subsize),
                date=dates["processed"],
            )
            path = output_dir / f"{obs.file_stem(number, det.name)}_calints.fits"
            model.save(os.fspath(path))
            model.close()
            del arrays, model
            files.append(path)

    name = writer.product_name(spec, obs, subarray)
    asn_path = writer.write_asn(output_dir, obs, name, [f.name for f in files], dates["date"])
    truth = build_truth(spec, p, seed, nints, bounds, shape, dets, times, orbit, state, files, ref)
    truth["asn"] = asn_path.name
    truth["product_name"] = name
    truth_path = output_dir / f"{name}_truth.json"
    writer.write_truth(truth_path, truth)
    return SimulationResult(asn_path=asn_path, files=files, truth_path=truth_path, truth=truth)
