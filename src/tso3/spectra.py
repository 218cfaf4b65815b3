"""The in-memory form of extracted time-series spectra.

One :class:`SpectraSet` holds the 1-D spectra of every integration of one
segment, for one spectral order on one detector: exactly what one EXTRACT1D
extension of an ``x1dints`` file holds.  Extraction produces them, the x1dints
writer and reader convert them to and from files, and the white-light and
binning steps consume them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Vector columns of an EXTRACT1D table, in file order (after INT_NUM).
VECTOR_COLUMNS = (
    "wavelength",
    "flux",
    "flux_error",
    "flux_var_poisson",
    "flux_var_rnoise",
    "flux_var_flat",
    "surf_bright",
    "sb_error",
    "sb_var_poisson",
    "sb_var_rnoise",
    "sb_var_flat",
    "dq",
    "background",
    "bkgd_error",
    "bkgd_var_poisson",
    "bkgd_var_rnoise",
    "bkgd_var_flat",
    "npixels",
)

#: Per-integration time columns: attribute name -> EXTRACT1D column name.
TIME_COLUMNS = {
    "mjd_beg": "MJD-BEG",
    "mjd_avg": "MJD-AVG",
    "mjd_end": "MJD-END",
    "tdb_beg": "TDB-BEG",
    "tdb_mid": "TDB-MID",
    "tdb_end": "TDB-END",
}


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
    #: per-integration times (days), keys of TIME_COLUMNS, each shape (nints,)
    times: dict[str, np.ndarray] = field(default_factory=dict)
    #: keywords for the EXTRACT1D header (SLTNAME, SRCTYPE, EXTRXSTR, DISPAXIS, ...)
    meta: dict[str, object] = field(default_factory=dict)
    #: tso3 additions, shape (nints,): cross-dispersion trace centre and width (px),
    #: number of repaired pixels per integration; None when not measured
    trace_position: np.ndarray | None = None
    trace_width: np.ndarray | None = None
    n_repaired: np.ndarray | None = None

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
