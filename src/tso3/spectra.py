"""The in-memory forms of extracted time-series spectra and of their light curves.

One :class:`SpectraSet` holds the 1-D spectra of every integration of one
segment, for one spectral order on one detector: exactly what one EXTRACT1D
extension of an ``x1dints`` file holds.  Extraction produces them (the sums of the
extraction step become their columns through :func:`spectra_columns` and
:func:`to_spectra_set`), the x1dints writer and reader convert them to and from files,
and the white-light and binning steps consume them.

One :class:`SpecLightCurve` holds the binned spectroscopic light curves of one
(detector, order): what one SPECLC/BINS pair of a ``speclc`` file holds.

Column and keyword names of the files are in :mod:`tso3.formats`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from .dqflags import DO_NOT_USE

__all__ = [
    "SpecLightCurve", "SpectraSet", "series_label", "spectra_columns", "to_spectra_set",
]  # fmt: skip

log = logging.getLogger(__name__)

_X = ("poisson", "rnoise", "flat")


def series_label(detector: str, slit: str | None) -> str:
    """The name of one time series of an observation: its DETECTOR, or for a slit of a
    MultiSlit calints (NIRCam DHS, whose slits are named by stripe number) ``STRIPE<n>``.

    It keys the series of a run and suffixes their white-light columns.
    """
    return detector if slit is None else f"STRIPE{slit}"


@dataclass
class SpectraSet:
    """Spectra of every integration of one segment x order x detector.

    All vector attributes are 2-D, shape ``(nints, nwave)``; ``wavelength`` may be
    1-D ``(nwave,)`` when it is the same for every integration (box extraction) and is
    broadcast on output.  Fluxes are in ``flux_unit`` (Jy after photometric calibration),
    surface brightness in ``sb_unit``.
    """

    wavelength: np.ndarray
    flux: np.ndarray
    flux_var_poisson: np.ndarray
    flux_var_rnoise: np.ndarray
    flux_var_flat: np.ndarray
    surf_bright: np.ndarray
    sb_var_poisson: np.ndarray
    sb_var_rnoise: np.ndarray
    sb_var_flat: np.ndarray
    background: np.ndarray
    bkgd_var_poisson: np.ndarray
    bkgd_var_rnoise: np.ndarray
    bkgd_var_flat: np.ndarray
    npixels: np.ndarray
    dq: np.ndarray
    #: 1-based integration numbers in the exposure, shape (nints,)
    int_num: np.ndarray
    #: EXSEGNUM of the segment the spectra come from
    segment: int = 1
    spectral_order: int = 1
    detector: str = ""
    flux_unit: str = "Jy"
    sb_unit: str = "MJy/sr"
    #: per-integration times (days), keys of tso3.formats.TIME_COLUMNS, each (nints,)
    times: dict[str, np.ndarray] = field(default_factory=dict)
    #: keywords for the EXTRACT1D header (SLTNAME, SRCTYPE, EXTRXSTR, DISPAXIS, ...)
    meta: dict[str, object] = field(default_factory=dict)
    #: tso3 additions, shape (nints,): offset of the trace from its place in the median
    #: image and its width (px, cross-dispersion), number of repaired pixels per
    #: integration; None when not measured
    trace_position: np.ndarray | None = None
    trace_width: np.ndarray | None = None
    n_repaired: np.ndarray | None = None
    #: the trace itself: cross-dispersion centre (px, 0-based) at every dispersion pixel
    #: of the detector, shape (nx,) (fitted on the median image); None when not known
    trace_centre: np.ndarray | None = None
    #: striped readouts (:mod:`tso3.io.stripes`): the stripe of each element, shape
    #: (nwave,), 0 where none; and each stripe's mid time minus the integration's (days),
    #: shape (nints, nstripes).  None for other data.
    element_stripe: np.ndarray | None = None
    stripe_delay: np.ndarray | None = None
    #: the slit of a MultiSlit calints the spectra come from (NIRCam DHS: the stripe
    #: number, also their SLTNAME); None for one-cube calints
    slit: str | None = None

    @property
    def series(self) -> str:
        """The time series the spectra belong to (:func:`series_label`)."""
        return series_label(self.detector, self.slit)

    @property
    def nints(self) -> int:
        """Number of integrations (rows)."""
        return int(self.flux.shape[0])

    @property
    def nwave(self) -> int:
        """Number of spectral elements."""
        return int(self.flux.shape[-1])

    @property
    def flux_error(self) -> np.ndarray:
        """Total flux uncertainty, the root of the summed variances."""
        return np.sqrt(self.flux_var_poisson + self.flux_var_rnoise + self.flux_var_flat)

    @property
    def sb_error(self) -> np.ndarray:
        """Total surface-brightness uncertainty."""
        return np.sqrt(self.sb_var_poisson + self.sb_var_rnoise + self.sb_var_flat)

    @property
    def bkgd_error(self) -> np.ndarray:
        """Total background uncertainty."""
        return np.sqrt(self.bkgd_var_poisson + self.bkgd_var_rnoise + self.bkgd_var_flat)

    def wavelength_2d(self) -> np.ndarray:
        """Wavelengths as a ``(nints, nwave)`` array (a broadcast view when 1-D)."""
        wl = np.asarray(self.wavelength)
        return np.broadcast_to(wl, self.flux.shape) if wl.ndim == 1 else wl


@dataclass
class SpecLightCurve:
    """Binned light curves of one (detector, order), all segments, sorted by time.

    Attributes
    ----------
    edges, centres : numpy.ndarray
        Bin edges ``(nbins+1,)`` and centres ``(nbins,)``, microns.
    mjd_utc, bjd_tdb : numpy.ndarray
        Mid-integration times ``(nints,)``; BJD_TDB is BJD - 2400000.5.
    bin_delay : numpy.ndarray or None
        Striped readouts: when each bin was exposed relative to those times (days),
        ``(nints, nbins)`` (:func:`tso3.steps.binning.bin_delays`); None otherwise.
    int_num : numpy.ndarray
        Integration numbers ``(nints,)``.
    flux, flux_err, npoints : numpy.ndarray
        ``(nints, nbins)``, see :func:`tso3.steps.binning.bin_spectra`.
    """

    edges: np.ndarray
    centres: np.ndarray
    mjd_utc: np.ndarray
    bjd_tdb: np.ndarray
    int_num: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    npoints: np.ndarray
    spectral_order: int = 1
    detector: str = ""
    flux_unit: str = "Jy"
    meta: dict[str, object] = field(default_factory=dict)
    bin_delay: np.ndarray | None = None
    #: NIRCam DHS: the stripe (slit) of the spectra binned; None otherwise
    slit: str | None = None

    @property
    def series(self) -> str:
        """The time series binned (:func:`series_label`)."""
        return series_label(self.detector, self.slit)


def spectra_columns(
    sums: dict[str, np.ndarray],
    *,
    pixar_sr: float | None,
    source_type: str | None,
    instrument: str | None,
    photom_complete: bool = True,
    optimal: bool = False,
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """EXTRACT1D vector columns from extraction sums, in the reference's units.

    Parameters
    ----------
    sums : dict
        Output of ``box_extract``/``optimal_extract``/``extract_block``: ``flux`` (S),
        ``var_*`` (including background terms), ``background`` (BKG),
        ``bkg_var_*``, ``npixels``.  Absent ``var_*``, ``bkg_var_*`` or ``background``
        (a sweep, which scores fluxes only) give columns of 0.
    pixar_sr : float or None
        PIXAR_SR; None -> 1.0 with a warning, as the reference.
    source_type, instrument : str or None
        SRCTYPE and INSTRUME: NIRSPEC + POINT means per-pixel MJy input.
    photom_complete : bool
        False (S_PHOTOM not COMPLETE) keeps the data units (DN/s).
    optimal : bool
        Optimal extraction: the SB columns are 0 (as the reference).

    Returns
    -------
    columns : dict of ndarray (nints, nx)
        ``flux``, ``flux_var_{poisson,rnoise,flat}``, ``surf_bright``, ``sb_var_*``,
        ``background``, ``bkgd_var_*``, ``npixels`` (float64) and ``dq`` (uint32).
    units : dict of str
        ``flux``, ``flux_var``, ``sb``, ``sb_var`` units.
    """
    s = np.asarray(sums["flux"], dtype=np.float64)
    npix = np.asarray(sums["npixels"], dtype=np.float64)
    n = np.where(npix == 0, 1.0, npix)
    zeros = np.broadcast_to(np.float64(0.0), s.shape)  # 0 columns share one read-only 0

    def given(key: str) -> np.ndarray:  # a sweep's sums have fluxes only: 0 variances
        return np.asarray(sums[key], dtype=np.float64) if key in sums else zeros

    def keep_zero(column: np.ndarray, convert) -> np.ndarray:
        return zeros if column is zeros else convert(column)

    bkg = given("background")
    var = {x: given("var_" + x) for x in _X}
    bvar = {x: given("bkg_var_" + x) for x in _X}
    omega = pixar_sr
    if omega is None:
        log.warning("PIXAR_SR missing: using 1.0 sr for the flux conversion")
        omega = 1.0
    per_pixel = (instrument or "").upper() == "NIRSPEC" and (source_type or "").upper() == "POINT"
    cols: dict[str, np.ndarray] = {}
    sb = s / n
    sbv = {x: keep_zero(var[x], lambda v: v / n**2) for x in _X}
    background = keep_zero(bkg, lambda v: v / n)
    bkgd_var = {x: keep_zero(bvar[x], lambda v: v / n**2) for x in _X}
    if not photom_complete:
        units = {"flux": "DN/s", "flux_var": "DN^2 / s^2", "sb": "DN/s", "sb_var": "DN^2 / s^2"}
        cols["flux"] = s.copy()
        fvar = {x: keep_zero(var[x], np.copy) for x in _X}
    elif per_pixel:
        units = {"flux": "Jy", "flux_var": "Jy^2", "sb": "MJy/sr", "sb_var": "MJy^2 / sr^2"}
        cols["flux"] = s * 1e6
        fvar = {x: keep_zero(var[x], lambda v: v * 1e12) for x in _X}
        sb = zeros
        sbv = {x: zeros for x in _X}
        background = keep_zero(background, lambda v: v / omega)
        bkgd_var = {x: keep_zero(bkgd_var[x], lambda v: v / omega**2) for x in _X}
    else:
        units = {"flux": "Jy", "flux_var": "Jy^2", "sb": "MJy/sr", "sb_var": "MJy^2 / sr^2"}
        cols["flux"] = s * omega * 1e6
        fvar = {x: keep_zero(var[x], lambda v: v * omega**2 * 1e12) for x in _X}
    if optimal:
        sb = zeros
        sbv = {x: zeros for x in _X}
    for x in _X:
        cols["flux_var_" + x] = fvar[x]
    cols["surf_bright"] = sb
    for x in _X:
        cols["sb_var_" + x] = sbv[x]
    cols["background"] = background
    for x in _X:
        cols["bkgd_var_" + x] = bkgd_var[x]
    cols["npixels"] = npix.copy()
    cols["dq"] = np.where(np.isnan(cols["flux"]), DO_NOT_USE, 0).astype(np.uint32)
    return cols, units


def to_spectra_set(
    columns: dict[str, np.ndarray],
    wavelength: np.ndarray,
    *,
    int_num: np.ndarray,
    units: dict[str, str] | None = None,
    extras: dict[str, np.ndarray] | None = None,
    column_stripe: np.ndarray | None = None,
    **kwargs: object,
) -> SpectraSet:
    """Build a :class:`SpectraSet`, dropping elements whose wavelength is NaN (as jwst does).

    Parameters
    ----------
    columns : dict
        From :func:`spectra_columns`.
    wavelength : ndarray (nx,)
        From :func:`tso3.steps.aperture.aperture_wavelength`.
    int_num : ndarray (nints,)
    units : dict, optional
        From :func:`spectra_columns` (sets ``flux_unit`` and ``sb_unit``).
    extras : dict, optional
        ``trace_position``, ``trace_width``, ``n_repaired`` per integration.
    column_stripe : ndarray (nx,), optional
        Striped readouts: the stripe of each column (kept for the elements, as
        ``element_stripe``); give ``stripe_delay`` with it.
    **kwargs
        Other SpectraSet fields: ``segment``, ``spectral_order``, ``detector``,
        ``times``, ``meta``, ``trace_centre``.

    Returns
    -------
    SpectraSet
    """
    keep = np.isfinite(np.asarray(wavelength, dtype=np.float64))
    finite = np.flatnonzero(keep)
    if finite.size and finite[-1] - finite[0] + 1 == finite.size:
        # one run of finite wavelengths (NaN only at the ends, the usual case): views
        # of the columns, not copies of every one of them
        run = slice(int(finite[0]), int(finite[-1]) + 1)
        vec = {k: v[:, run] for k, v in columns.items()}
    else:
        vec = {k: np.ascontiguousarray(v[:, keep]) for k, v in columns.items()}
    extras = extras or {}
    if units:
        kwargs.setdefault("flux_unit", units["flux"])
        kwargs.setdefault("sb_unit", units["sb"])
    return SpectraSet(
        wavelength=np.asarray(wavelength, dtype=np.float64)[keep],
        int_num=np.asarray(int_num),
        element_stripe=None if column_stripe is None else np.asarray(column_stripe)[keep],
        trace_position=extras.get("trace_position"),
        trace_width=extras.get("trace_width"),
        n_repaired=extras.get("n_repaired"),
        **vec,
        **kwargs,  # type: ignore[arg-type]
    )
