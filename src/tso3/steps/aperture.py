"""Extraction apertures: box profiles, default apertures around a trace, extract1d JSON.

Every function works in the DISPAXIS=1 orientation: cross-dispersion is axis -2 (y),
dispersion is axis -1 (x).  For DISPAXIS=2 data the caller passes swapped views and
``dispaxis=2`` where the extract1d JSON semantics depend on it (its x/y keys).

Profiles follow jwst's pixel convention (docs/extraction.md, "Apertures"): the
aperture limits ``L`` and ``U`` are *pixel-centre* limits, the continuous edges are
``[L - 0.5, U + 0.5]``, so a width ``w`` covers exactly ``w`` pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Aperture",
    "ApertureMatchError",
    "OrderNotInReference",
    "aperture_from_reference",
    "aperture_wavelength",
    "box_profile",
    "default_aperture",
    "normalize_smoothing_length",
]


class ApertureMatchError(ValueError):
    """No aperture of the extract1d reference matches the slit name / EXP_TYPE."""


class OrderNotInReference(LookupError):
    """An aperture matches the slit but not the spectral order (the order is skipped)."""


@dataclass
class Aperture:
    """Source and background profiles of one spectrum (DISPAXIS=1 orientation).

    Attributes
    ----------
    profile : ndarray, shape (ny, nx)
        Source weights in [0, 1].
    bkg_profile : ndarray or None
        Background region weights (nonzero = used), or None for no background.
    bkg_fit, bkg_order, smoothing_length
        Background model settings (see :func:`tso3.steps.background.fit_background`).
    lower, upper : float
        Mean cross-dispersion pixel-centre limits (0-based), for EXTR* keywords.
    origin : str
        ``"reference"``, ``"trace"`` or ``"full"`` — how the aperture was built.
    trace : ndarray or None, shape (nx,)
        Cross-dispersion centre used, when built around a trace.
    background_ok : bool
        False when background subtraction was wanted but no usable region exists
        (the caller logs it).
    """

    profile: np.ndarray
    bkg_profile: np.ndarray | None = None
    bkg_fit: str = "poly"
    bkg_order: int = 0
    smoothing_length: int = 0
    lower: float = float("nan")
    upper: float = float("nan")
    origin: str = "full"
    trace: np.ndarray | None = None
    background_ok: bool = True
    info: dict[str, object] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """(ny, nx) of the profile."""
        return tuple(self.profile.shape)  # type: ignore[return-value]

    @property
    def columns(self) -> tuple[int, int]:
        """First and last dispersion column with a nonzero profile (-1, -1 if none)."""
        cols = np.flatnonzero(self.profile.any(axis=0))
        return (int(cols[0]), int(cols[-1])) if cols.size else (-1, -1)

    def extraction_keywords(self, dispaxis: int = 1) -> dict[str, float]:
        """EXTRXSTR/EXTRXSTP/EXTRYSTR/EXTRYSTP (1-based), as the reference writes them."""
        left, right = self.columns
        disp = (float(left + 1), float(right + 1))
        cross = (float(self.lower) + 1.0, float(self.upper) + 1.0)
        x, y = (disp, cross) if dispaxis == 1 else (cross, disp)
        return {"EXTRXSTR": x[0], "EXTRXSTP": x[1], "EXTRYSTR": y[0], "EXTRYSTP": y[1]}


def _set_weights(profile: np.ndarray, lower, upper, *, partial: bool = True) -> None:
    """Set ``profile`` (in place) to 1 between pixel-centre limits, partial at the edges.

    Cumulative over calls like the reference: later regions overwrite earlier ones, and
    a partial weight never lowers an existing one.
    """
    idx = np.arange(profile.shape[0], dtype=np.float64)[:, None]
    lower = np.asarray(lower, dtype=np.float64)
    upper = np.asarray(upper, dtype=np.float64)
    profile[np.broadcast_to((idx >= lower) & (idx <= upper), profile.shape)] = 1.0
    if not partial:
        return
    for w in (idx - lower + 1.0, upper - idx + 1.0):
        w = np.broadcast_to(w, profile.shape)
        test = (w > 0) & (w < 1) & (profile < w)
        profile[test] = w[test]


def box_profile(
    shape: tuple[int, int],
    lower: float | np.ndarray,
    upper: float | np.ndarray,
    *,
    xstart: float | None = None,
    xstop: float | None = None,
    wavelength: np.ndarray | None = None,
    partial: bool = True,
) -> np.ndarray:
    """Box aperture weights with the reference's fractional-edge convention.

    Parameters
    ----------
    shape : (ny, nx)
        Profile shape (cross-dispersion, dispersion).
    lower, upper : float or ndarray of shape (nx,)
        Pixel-centre limits L and U per column (inclusive); pixels just outside get
        the fraction ``i - L + 1`` or ``U - i + 1`` when it lies in (0, 1).
    xstart, xstop : float, optional
        Dispersion limits (inclusive, 0-based): columns ``< ceil(xstart)`` and
        ``> floor(xstop)`` get 0 (no partial weights along dispersion).
    wavelength : ndarray (ny, nx), optional
        The profile is 0 wherever it is not finite.
    partial : bool
        False gives whole-pixel weights only (the reference's median background).

    Returns
    -------
    ndarray, float64, shape (ny, nx)
    """
    profile = np.zeros(shape, dtype=np.float64)
    _set_weights(profile, lower, upper, partial=partial)
    _cut_columns(profile, xstart, xstop)
    if wavelength is not None:
        profile[~np.isfinite(wavelength)] = 0.0
    return profile


def _cut_columns(profile: np.ndarray, xstart: float | None, xstop: float | None) -> None:
    if xstart is not None:
        profile[:, : max(int(np.ceil(xstart)), 0)] = 0.0
    if xstop is not None:
        profile[:, int(np.floor(xstop)) + 1 :] = 0.0


def normalize_smoothing_length(value: float | None) -> int:
    """Apply the reference's rules: round, values below 3 become 0, even values drop by 1."""
    if value is None:
        return 0
    n = int(round(float(value)))
    if n < 3:
        return 0
    return n - 1 if n % 2 == 0 else n


def default_aperture(
    shape: tuple[int, int],
    trace: np.ndarray,
    *,
    extract_width: float,
    bkg_gap: float = 3.0,
    min_bkg_pixels: int = 4,
    valid: np.ndarray | None = None,
    wavelength: np.ndarray | None = None,
    bkg_fit: str = "poly",
    bkg_order: int = 0,
    smoothing_length: int = 0,
    subtract_background: bool = True,
) -> Aperture:
    """Aperture of ``extract_width`` px centred on a trace, background rows far from it.

    The source limits are ``L = trace - (w-1)/2``, ``U = L + w - 1`` (reference rule 2).
    Background pixels are whole rows with ``|y - trace| >= w/2 + bkg_gap`` on both sides;
    pixels invalid in the median image (``valid`` False) are left out up front so that
    they never force per-integration refits.

    Parameters
    ----------
    shape : (ny, nx)
    trace : ndarray (nx,)
        Cross-dispersion centre per column (e.g. ``Trace.center``).
    extract_width : float
        Full width in pixels.
    bkg_gap : float
        Pixels between the aperture edge and the background region.
    min_bkg_pixels : int
        Fewer background pixels than this in the median column -> no background
        (``background_ok=False``).
    valid, wavelength : ndarray (ny, nx), optional
        Usable pixels; wavelength (profiles are 0 where it is not finite).
    bkg_fit, bkg_order, smoothing_length, subtract_background
        Background settings carried by the aperture.

    Returns
    -------
    Aperture
    """
    ny, nx = shape
    trace = np.asarray(trace, dtype=np.float64)
    lower = trace - (extract_width - 1.0) / 2.0
    upper = lower + extract_width - 1.0
    profile = box_profile(shape, lower, upper, wavelength=wavelength)
    ap = Aperture(
        profile=profile,
        lower=float(np.nanmean(lower)),
        upper=float(np.nanmean(upper)),
        origin="trace",
        trace=trace,
        bkg_fit="poly" if bkg_fit == "mean" else bkg_fit,
        bkg_order=0 if bkg_fit == "mean" else int(bkg_order),
        smoothing_length=normalize_smoothing_length(smoothing_length),
    )
    if not subtract_background:
        return ap
    dist = np.abs(np.arange(ny, dtype=np.float64)[:, None] - trace[None, :])
    bkg = (dist >= extract_width / 2.0 + bkg_gap).astype(np.float64)
    if valid is not None:
        bkg[~valid] = 0.0
    if wavelength is not None:
        bkg[~np.isfinite(wavelength)] = 0.0
    used = profile.any(axis=0)
    counts = bkg.sum(axis=0)[used] if used.any() else np.zeros(1)
    if np.median(counts) < max(min_bkg_pixels, ap.bkg_order + 2):
        ap.background_ok = False
        return ap
    ap.bkg_profile = bkg
    return ap


def _poly(coeffs) -> np.polynomial.Polynomial:
    return np.polynomial.Polynomial(np.asarray(coeffs, dtype=np.float64))


def _select_aperture(ref: dict, names: list[str], spectral_order: int) -> dict:
    """First aperture matching one of ``names`` (or "ANY") and the spectral order."""
    id_matched = False
    for entry in ref.get("apertures", []):
        ident = str(entry.get("id", ""))
        if ident.lower() == "dummy":
            continue
        if ident.upper() != "ANY" and ident.upper() not in names:
            continue
        if entry.get("region_type", "target") != "target":
            continue
        id_matched = True
        order = entry.get("spectral_order", "ANY")
        if isinstance(order, str) and order.upper() == "ANY":
            return entry
        if int(order) == int(spectral_order):
            return entry
    if id_matched:
        raise OrderNotInReference(
            f"extract1d reference has no aperture for {names[0]} order {spectral_order}"
        )
    raise ApertureMatchError(f"extract1d reference has no aperture with id in {names} or 'ANY'")


def _source_posn(entry: dict, setting: bool | None, default: bool) -> bool:
    """jwst's order: the parameter, else the aperture's ``use_source_posn``, else ``default``."""
    if setting is None:
        setting = entry.get("use_source_posn")
    return bool(default if setting is None else setting)


def source_posn_wanted(
    ref: dict,
    *,
    slit_name: str,
    exp_type: str | None,
    spectral_order: int = 1,
    use_source_posn: bool | None = None,
    default_source_posn: bool = True,
) -> bool:
    """Whether the aperture :func:`aperture_from_reference` builds follows the source.

    Same arguments as there; raises what it raises when no aperture matches.
    """
    names = [slit_name.upper()] + ([exp_type.upper()] if exp_type else [])
    entry = _select_aperture(ref, names, spectral_order)
    return _source_posn(entry, use_source_posn, default_source_posn)


def _shifted(entry: dict, offset: float, cross_keys: tuple[str, str]) -> dict:
    """The aperture entry moved by ``offset`` pixels across the dispersion: its
    cross-dispersion limits and the constant term of every src/bkg coefficient list."""
    moved = dict(entry)
    for key in cross_keys:
        if moved.get(key) is not None:
            moved[key] = float(moved[key]) + offset
    for key in ("src_coeff", "bkg_coeff"):
        if moved.get(key) is not None:
            moved[key] = [[float(c[0]) + offset, *c[1:]] for c in moved[key]]
    return moved


def aperture_from_reference(
    ref: dict,
    shape: tuple[int, int],
    *,
    slit_name: str,
    spectral_order: int = 1,
    exp_type: str | None = None,
    dispaxis: int = 1,
    wavelength: np.ndarray | None = None,
    trace: np.ndarray | None = None,
    extract_width: float | None = None,
    subtract_background: bool | None = None,
    bkg_fit: str | None = None,
    bkg_order: int | None = None,
    smoothing_length: float | None = None,
    use_source_posn: bool | None = None,
    default_source_posn: bool = True,
    source_offset: float = 0.0,
) -> Aperture:
    """Source and background profiles from an extract1d JSON, as the reference builds them.

    Parameters
    ----------
    ref : dict
        Parsed extract1d reference (:func:`tso3.io.extract1d_ref.load_extract1d_reference`).
    shape : (ny, nx)
        Shape in the DISPAXIS=1 orientation (swapped for DISPAXIS=2 data).
    slit_name : str
        SLTNAME (NRS_BRIGHTOBJ) or the EXP_TYPE; matched against ``id`` (as is "ANY").
    spectral_order : int
    exp_type : str, optional
        Also accepted as an id (the reference uses EXP_TYPE as slit name for TSO data).
    dispaxis : {1, 2}
        DISPAXIS of the data: with 2 the JSON's x keys are cross-dispersion.
    wavelength : ndarray (ny, nx), optional
        Wavelength (oriented like ``shape``); needed for ``independent_var="wavelength"``.
    trace : ndarray (nx,), optional
        Cross-dispersion centre; with ``extract_width`` it centres the aperture (rule 2).
    extract_width : float, optional
        Overrides the JSON value.
    subtract_background, bkg_fit, bkg_order, smoothing_length : optional
        Step parameters; they take precedence over the JSON (None = use the JSON).
    use_source_posn : bool, optional
        Whether ``trace`` centres the aperture (with a width).  As the reference decides:
        this parameter, else the JSON aperture's ``use_source_posn``, else
        ``default_source_posn``.  When it is False the JSON's limits are used as given.
    default_source_posn : bool
        The choice when neither the parameter nor the JSON make one.
    source_offset : float
        Cross-dispersion shift of the JSON's limits and coefficients (jwst's
        ``shift_by_offset`` to the source position, :mod:`tso3.steps.source_location`).

    Returns
    -------
    Aperture

    Raises
    ------
    ApertureMatchError
        No aperture id matches.
    OrderNotInReference
        An id matches but not the order (the reference skips the order).
    ValueError
        Odd number of coefficient lists, or wavelength needed but missing.
    """
    names = [slit_name.upper()] + ([exp_type.upper()] if exp_type else [])
    entry = _select_aperture(ref, names, spectral_order)
    use_source_posn = _source_posn(entry, use_source_posn, default_source_posn)
    if not use_source_posn:
        trace = None
    ny, nx = shape
    # The JSON keys are in detector x/y; map them to (cross, dispersion) of our frame.
    cross_keys, disp_keys = (("ystart", "ystop"), ("xstart", "xstop"))
    if dispaxis != 1:
        cross_keys, disp_keys = disp_keys, cross_keys
    if source_offset:
        entry = _shifted(entry, float(source_offset), cross_keys)
    cstart = entry.get(cross_keys[0])
    cstart = float(0 if cstart is None else cstart)
    cstop = entry.get(cross_keys[1])
    cstop = float(ny - 1 if cstop is None else cstop)
    dstart = entry.get(disp_keys[0])
    dstop = entry.get(disp_keys[1])
    dstart = float(0 if dstart is None else dstart)
    dstop = float(nx - 1 if dstop is None else dstop)
    width = extract_width if extract_width is not None else entry.get("extract_width")

    fit = bkg_fit if bkg_fit is not None else entry.get("bkg_fit", "poly") or "poly"
    order = bkg_order if bkg_order is not None else entry.get("bkg_order", 0) or 0
    if fit == "mean":
        fit, order = "poly", 0
    smooth = normalize_smoothing_length(
        smoothing_length if smoothing_length is not None else entry.get("smoothing_length", 0)
    )
    indep = str(entry.get("independent_var", "pixel")).lower()
    if indep.startswith("wavelength"):
        if wavelength is None:
            raise ValueError("independent_var 'wavelength' needs a wavelength array")
        ival = np.asarray(wavelength, dtype=np.float64)
    else:
        ival = np.broadcast_to(np.arange(nx, dtype=np.float64), (ny, nx))

    def coeff_profile(key: str, partial: bool) -> tuple[np.ndarray, float, float]:
        lists = entry[key]
        if len(lists) % 2:
            raise ValueError(f"{key} must alternate lower and upper limit polynomials")
        prof = np.zeros(shape, dtype=np.float64)
        lo_mean, up_mean = np.inf, -np.inf
        for lo_c, up_c in zip(lists[0::2], lists[1::2], strict=True):
            # src/bkg coefficients give the edges; +-0.5 turns them into centre limits.
            lo = _poly(lo_c)(ival) + 0.5
            up = _poly(up_c)(ival) - 0.5
            _set_weights(prof, lo, up, partial=partial)
            lo_mean = min(lo_mean, float(np.nanmean(lo)))
            up_mean = max(up_mean, float(np.nanmean(up)))
        return prof, lo_mean, up_mean

    origin = "reference"
    if entry.get("src_coeff") is not None:
        profile, lower, upper = coeff_profile("src_coeff", True)
    elif width is not None and trace is not None:
        lo = np.asarray(trace, dtype=np.float64) - (float(width) - 1.0) / 2.0
        profile = box_profile(shape, lo, lo + float(width) - 1.0)
        lower, upper = float(np.nanmean(lo)), float(np.nanmean(lo)) + float(width) - 1.0
        origin = "trace"
    elif width is not None:
        lower = (cstart + cstop) / 2.0 - (float(width) - 1.0) / 2.0
        upper = lower + float(width) - 1.0
        profile = box_profile(shape, lower, upper)
    else:
        lower, upper = cstart, cstop
        profile = box_profile(shape, lower, upper)
    _cut_columns(profile, dstart, dstop)
    if wavelength is not None:
        profile[~np.isfinite(wavelength)] = 0.0

    want_bkg = subtract_background
    if want_bkg is None:
        want_bkg = entry.get("bkg_coeff") is not None
    bkg_profile = None
    if want_bkg and entry.get("bkg_coeff") is not None:
        bkg_profile, _, _ = coeff_profile("bkg_coeff", fit != "median")
        _cut_columns(bkg_profile, dstart, dstop)
        if wavelength is not None:
            bkg_profile[~np.isfinite(wavelength)] = 0.0
    return Aperture(
        profile=profile,
        bkg_profile=bkg_profile,
        bkg_fit=fit,
        bkg_order=int(order),
        smoothing_length=smooth,
        lower=float(lower),
        upper=float(upper),
        origin=origin,
        trace=None if trace is None else np.asarray(trace, dtype=np.float64),
        background_ok=not (want_bkg and bkg_profile is None),
        info={"id": entry.get("id"), "use_source_posn": bool(use_source_posn)},
    )


def aperture_wavelength(profile: np.ndarray, wavelength: np.ndarray) -> np.ndarray:
    """1-D wavelength of an aperture: ``sum(P*lambda)/sum(P)`` over finite lambda, P > 0.

    Parameters
    ----------
    profile, wavelength : ndarray (ny, nx)

    Returns
    -------
    ndarray (nx,), float64; NaN for columns with no such pixel (the reference drops them).
    """
    wl = np.asarray(wavelength, dtype=np.float64)
    w = np.where(np.isfinite(wl) & (profile > 0), profile, 0.0)
    den = w.sum(axis=0)
    num = np.where(w > 0, w * np.nan_to_num(wl), 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)
