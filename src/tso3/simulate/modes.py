"""Instrument set-ups of the simulated TSO modes: keywords, detectors, optics, dispersion.

Numbers are typical of real JWST TSO programmes (subarrays, frame times, pixel scales,
gains, wavelength ranges); they are meant to make realistic-looking files, not to
reproduce a particular calibration.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

#: Telescope diameter used for diffraction-limited widths (m).
TELESCOPE_DIAMETER = 6.5
_ARCSEC_PER_RAD = 206264.806


@dataclass(frozen=True)
class Band:
    """Wavelength coverage of one detector of a spectroscopic mode.

    The dispersion follows a resolving-power law ``R(lambda)``: pixels per micron are
    ``R / (2 lambda)`` (Nyquist-sampled resolution elements), integrated and scaled so
    that ``[lam_min, lam_max]`` spans the fraction ``[start, stop]`` of the dispersion axis.
    """

    lam_min: float
    lam_max: float
    start: float = 0.0
    stop: float = 1.0
    resolution: str = "linear"  # "linear", "prism", "lrs", "grating"
    decreasing: bool = False  # wavelength decreases with pixel index (MIRI LRS)


@dataclass(frozen=True)
class ModeSpec:
    """Everything mode-specific the simulator needs."""

    exp_type: str
    instrument: str
    detectors: tuple[str, ...]
    model: str  # "cube" or "slit"
    filter: str
    pupil: str | None
    grating: str | None
    subarray: str
    subarray_shape: tuple[int, int]  # (SUBSIZE2, SUBSIZE1) of the named subarray
    substrt: tuple[int, int]  # (SUBSTRT1, SUBSTRT2), 1-based
    default_shape: tuple[int, int]
    known_subarrays: dict[tuple[int, int], str]
    aperture: str
    pixel_scale: float  # arcsec / pixel
    frame_time: float  # s
    ngroups: int
    gain: float  # e- / DN
    read_noise: float  # e- per pixel per integration (after ramp fitting)
    photom: float  # SCI unit per DN/s at the throughput peak
    bunit: str
    star_electrons: float  # e- per integration from the star (all detectors)
    background: float  # e- per pixel per integration
    blur_fwhm: float  # detector/optics blur added in quadrature to diffraction (px)
    ref_wavelength: float  # um: imaging PSF wavelength, spectra reference for depth
    dispaxis: int | None = None
    bands: dict[str, Band] = field(default_factory=dict)
    slit_name: str | None = None
    channel: str | None = None
    feature_wavelength: float = 4.3
    ref_position: tuple[float, float] = (0.5, 0.5)  # planned (x, y) as fraction of shape
    substrt_by_subarray: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: Cross-dispersion pixels [start, stop) of a slit in the frame (MIRI LRS fixed slit):
    #: spec2 writes the whole subarray, with wavelengths (and the source) only in the slit.
    slit_window: tuple[int, int] | None = None
    #: Sky outside the slit, as a multiple of ``background`` (the imager field sees the
    #: dispersed sky through the prism, the slit only its own narrow strip).
    field_background: float = 1.0
    default_nints: int = 120
    #: DETECTOR of the files when ``detectors`` name something else (DHS stripes)
    detector_name: str | None = None

    @property
    def spectroscopic(self) -> bool:
        return self.dispaxis is not None

    def detector_key(self, detector: str) -> str:
        return detector.lower()


def _grating_set(detectors: tuple[str, ...]) -> dict[str, Band]:
    bands = {
        "NRS1": Band(2.87, 3.72, 0.005, 0.995, "grating"),
        "NRS2": Band(3.82, 5.18, 0.005, 0.995, "grating"),
    }
    return {d: bands[d] for d in detectors}


MODES: dict[str, ModeSpec] = {
    "nrc_tsimage": ModeSpec(
        exp_type="NRC_TSIMAGE",
        instrument="NIRCAM",
        detectors=("NRCA3",),
        model="cube",
        filter="F210M",
        pupil="CLEAR",
        grating=None,
        subarray="SUB64P",
        subarray_shape=(64, 64),
        substrt=(1, 1),
        default_shape=(64, 64),
        known_subarrays={(64, 64): "SUB64P", (160, 160): "SUB160P", (400, 400): "SUB400P"},
        aperture="NRCA3_SUB64P",
        pixel_scale=0.031,
        frame_time=0.05016,
        ngroups=30,
        gain=2.05,
        read_noise=12.0,
        photom=1.9,
        bunit="MJy/sr",
        star_electrons=2.0e5,
        background=3.0,
        blur_fwhm=1.0,
        ref_wavelength=2.09,
        channel="SHORT",
    ),
    "mir_image": ModeSpec(
        exp_type="MIR_IMAGE",
        instrument="MIRI",
        detectors=("MIRIMAGE",),
        model="cube",
        filter="F1500W",
        pupil=None,
        grating=None,
        subarray="SUB64",
        subarray_shape=(64, 64),
        substrt=(1, 779),
        default_shape=(64, 64),
        known_subarrays={(64, 64): "SUB64", (128, 128): "SUB128", (256, 256): "SUB256"},
        aperture="MIRIM_SUB64",
        pixel_scale=0.11,
        frame_time=0.08512,
        ngroups=40,
        gain=3.1,
        read_noise=25.0,
        photom=0.9,
        bunit="MJy/sr",
        star_electrons=8.0e5,
        background=1500.0,
        blur_fwhm=1.0,
        ref_wavelength=15.0,
    ),
    "nrs_brightobj": ModeSpec(
        exp_type="NRS_BRIGHTOBJ",
        instrument="NIRSPEC",
        detectors=("NRS1",),
        model="slit",
        filter="CLEAR",
        pupil=None,
        grating="PRISM",
        subarray="SUB512",
        subarray_shape=(32, 512),
        substrt=(1025, 1),
        default_shape=(32, 512),
        known_subarrays={(32, 512): "SUB512", (32, 1024): "SUB1024A", (32, 2048): "SUB2048"},
        aperture="NRS_S1600A1_SLIT",
        pixel_scale=0.1,
        frame_time=0.22616,
        ngroups=8,
        gain=1.0,
        read_noise=14.0,
        photom=4.0e-13,
        bunit="MJy",
        star_electrons=8.0e6,
        background=4.0,
        blur_fwhm=1.0,
        ref_wavelength=2.5,
        dispaxis=1,
        bands={"NRS1": Band(0.6, 5.3, 0.03, 0.93, "prism")},
        slit_name="S1600A1",
        feature_wavelength=4.3,
        ref_position=(0.5, 0.5),
    ),
    "nrc_tsgrism": ModeSpec(
        exp_type="NRC_TSGRISM",
        instrument="NIRCAM",
        detectors=("NRCALONG",),
        model="slit",
        filter="F322W2",
        pupil="GRISMR",
        grating=None,
        subarray="SUBGRISM64",
        subarray_shape=(64, 2048),
        substrt=(1, 1),
        default_shape=(64, 256),
        known_subarrays={(64, 2048): "SUBGRISM64", (128, 2048): "SUBGRISM128"},
        aperture="NRCA5_GRISM64_F322W2",
        pixel_scale=0.063,
        frame_time=0.34061,
        ngroups=12,
        gain=1.82,
        read_noise=11.0,
        photom=0.5,
        bunit="MJy/sr",
        star_electrons=1.0e7,
        background=25.0,
        blur_fwhm=0.8,
        ref_wavelength=3.2,
        dispaxis=1,
        bands={"NRCALONG": Band(2.35, 4.05, 0.0, 1.0, "linear")},
        channel="LONG",
        feature_wavelength=3.3,
        ref_position=(0.5, 34.0 / 64.0),
    ),
    # GR700XD orders from the trace models (simulate/soss.py); DN/s, as spec2 leaves SOSS
    "nis_soss": ModeSpec(
        exp_type="NIS_SOSS",
        instrument="NIRISS",
        detectors=("NIS",),
        model="cube",
        filter="CLEAR",
        pupil="GR700XD",
        grating=None,
        subarray="SUBSTRIP256",
        subarray_shape=(256, 2048),
        substrt=(1, 1793),
        default_shape=(256, 2048),
        known_subarrays={
            (256, 2048): "SUBSTRIP256",
            (96, 2048): "SUBSTRIP96",
            (2048, 2048): "FULL",
        },
        aperture="NIS_SUBSTRIP256",
        pixel_scale=0.0656,
        frame_time=5.494,
        ngroups=9,
        gain=1.61,
        read_noise=14.0,
        photom=1.0,
        bunit="DN/s",
        star_electrons=2.0e8,
        background=60.0,
        blur_fwhm=1.0,
        ref_wavelength=1.5,
        dispaxis=1,
        feature_wavelength=1.4,
        ref_position=(0.5, 0.3),
        substrt_by_subarray={"SUBSTRIP96": (1, 1803), "FULL": (1, 1)},
    ),
    "mir_lrs-slitless": ModeSpec(
        exp_type="MIR_LRS-SLITLESS",
        instrument="MIRI",
        detectors=("MIRIMAGE",),
        model="slit",
        filter="P750L",
        pupil=None,
        grating=None,
        subarray="SLITLESSPRISM",
        subarray_shape=(416, 72),
        substrt=(1, 529),
        default_shape=(416, 72),
        known_subarrays={(416, 72): "SLITLESSPRISM"},
        aperture="MIRIM_SLITLESSPRISM",
        pixel_scale=0.11,
        frame_time=0.15904,
        ngroups=20,
        gain=3.1,
        read_noise=25.0,
        photom=0.6,
        bunit="MJy/sr",
        star_electrons=3.0e6,
        background=150.0,
        blur_fwhm=1.2,
        ref_wavelength=7.5,
        dispaxis=2,
        bands={"MIRIMAGE": Band(5.0, 12.0, 0.35, 0.95, "lrs", decreasing=True)},
        feature_wavelength=6.3,
        ref_position=(37.5 / 72.0, 0.7),
    ),
}


# LRS through its 0.51" x 4.7" slit (Cycle 7 TSOs): calwebb_spec2 keeps the whole FULL frame
# (1024 x 1032) in a SlitModel; assign_wcs gives wavelengths inside the slit's bounding box
# only (about 44 columns around x = 326, 5-14 um over rows ~5-395).  The detector and
# prism are the slitless mode's.
MODES["mir_lrs-fixedslit"] = replace(
    MODES["mir_lrs-slitless"],
    exp_type="MIR_LRS-FIXEDSLIT",
    subarray="FULL",
    subarray_shape=(1024, 1032),
    substrt=(1, 1),
    default_shape=(1024, 1032),
    known_subarrays={(1024, 1032): "FULL"},
    aperture="MIRIM_SLIT",
    frame_time=2.77504,
    ngroups=8,
    star_electrons=2.0e7,
    background=400.0,
    bands={"MIRIMAGE": Band(5.0, 14.0, 5.0 / 1023, 395.0 / 1023, "lrs", decreasing=True)},
    ref_position=(325.5 / 1032.0, 300.7 / 1024.0),
    slit_window=(304, 348),
    field_background=4.0,
    default_nints=40,
)


#: Columns of each simulated DHS slit (calwebb_spec2 cuts each stripe to where its
#: spectrum falls; real cutouts are some 1000-2000 columns wide).
DHS_COLUMNS = 1024


def dhs_variant(spec: ModeSpec, subarray: str) -> ModeSpec:
    """NIRCam short-wave DHS time series: GDHS0 on NRCA1 with F150W2, one spectrum per
    stripe of ``subarray`` (:data:`tso3.formats.DHS_SUBARRAYS`).  The stripes are the
    "detectors" ``STRIPE1`` ... of the simulation (each its own scene and noise), written
    as the slits of one MultiSlit calints per segment."""

    from ..formats import DHS_SUBARRAYS

    count, rows = DHS_SUBARRAYS[subarray]
    stripes = tuple(f"STRIPE{k}" for k in range(1, count + 1))
    return replace(
        spec,
        detectors=stripes,
        model="multislit",
        filter="F150W2",
        pupil="GDHS0",
        subarray=subarray,
        subarray_shape=(count * rows, 2048),
        substrt=(1, 1),
        default_shape=(rows, DHS_COLUMNS),
        known_subarrays={},
        aperture="NRCA1_FULL",
        pixel_scale=0.031,
        frame_time=0.34061,
        ngroups=10,
        gain=2.05,
        read_noise=15.0,
        star_electrons=2.0e7,
        background=10.0,
        ref_wavelength=1.5,
        bands={s: Band(1.0, 2.3, 0.02, 0.98, "linear") for s in stripes},
        channel="SHORT",
        feature_wavelength=1.4,
        ref_position=(0.5, 0.5),
        default_nints=120,
        detector_name="NRCA1",
    )


def grating_variant(spec: ModeSpec, detectors: tuple[str, ...]) -> ModeSpec:
    """NIRSpec BOTS with G395H/F290LP on the given detectors (NRS1 and/or NRS2)."""

    return replace(
        spec,
        detectors=detectors,
        filter="F290LP",
        grating="G395H",
        subarray="SUB2048",
        subarray_shape=(32, 2048),
        known_subarrays={(32, 2048): "SUB2048"},
        ngroups=20,
        star_electrons=3.0e7,
        bands=_grating_set(detectors),
        ref_wavelength=4.0,
        feature_wavelength=4.3,
    )


def _resolving_power(kind: str, lam: np.ndarray) -> np.ndarray:
    """Resolving power shapes; only the relative variation matters (the axis is rescaled)."""
    if kind == "prism":  # NIRSpec PRISM: R ~ 30 near 1.2 um, ~80 at 0.6, ~300 at 5.3 um
        return np.where(lam < 1.2, 30 + 50 * ((1.2 - lam) / 0.6) ** 2, 30 + 16 * (lam - 1.2) ** 2)
    if kind == "lrs":  # MIRI LRS: R ~ 40 at 5 um rising to ~150 at 12 um
        return 40 + 15 * (lam - 5.0)
    if kind == "grating":  # gratings: near-constant dispersion with a little curvature
        return lam**1.15
    return lam  # constant dispersion


def dispersion_solution(band: Band, n_pix: int) -> np.ndarray:
    """Wavelength (um) at each pixel centre along the dispersion axis; NaN outside the band.

    Parameters
    ----------
    band : Band
        Coverage and resolving-power law.
    n_pix : int
        Pixels along the dispersion axis.

    Returns
    -------
    numpy.ndarray
        float64, shape ``(n_pix,)``, monotonic over its finite part.
    """
    grid = np.linspace(band.lam_min, band.lam_max, 4001)
    density = _resolving_power(band.resolution, grid) / (2 * grid)  # pixels per um
    cumulative = np.concatenate(
        [[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * np.diff(grid))]
    )
    cumulative /= cumulative[-1]
    # Pixel-centre positions of the band ends, so that the finite range really is the band.
    first = band.start * (n_pix - 1)
    last = band.stop * (n_pix - 1)
    pix = np.arange(n_pix, dtype=float)
    if band.decreasing:
        pix = pix[::-1]
        first, last = (n_pix - 1) - last, (n_pix - 1) - first
    frac = (pix - first) / max(last - first, 1e-9)
    lam = np.interp(frac, cumulative, grid, left=np.nan, right=np.nan)
    return lam


def throughput(spec: ModeSpec, lam: np.ndarray) -> np.ndarray:
    """Smooth end-to-end throughput shape (peak ~1) of the mode at wavelengths ``lam`` (um)."""
    lam = np.asarray(lam, dtype=float)

    def edges(lo: float, hi: float, width: float) -> np.ndarray:
        return 0.25 * (1 + np.tanh((lam - lo) / width)) * (1 + np.tanh((hi - lam) / width))

    if spec.grating == "PRISM":
        shape = edges(0.62, 5.25, 0.06) * np.exp(-0.5 * (np.log(lam / 2.0) / 0.9) ** 2)
    elif spec.grating == "G395H":
        shape = edges(2.9, 5.2, 0.04) * np.exp(-0.5 * ((lam - 3.9) / 1.5) ** 2)
    elif spec.filter == "F322W2":
        shape = edges(2.43, 4.01, 0.03) * np.exp(-0.5 * ((lam - 3.6) / 1.0) ** 2)
    elif spec.filter == "P750L":
        shape = edges(4.9, 12.5, 0.3) * np.exp(-0.5 * ((lam - 7.5) / 3.0) ** 2)
    else:
        shape = np.ones_like(lam)
    return np.where(np.isfinite(lam), shape, 0.0)


def diffraction_fwhm(spec: ModeSpec, lam: np.ndarray | float) -> np.ndarray:
    """PSF FWHM in pixels: diffraction (1.03 lambda/D) and a detector blur in quadrature."""
    lam = np.asarray(lam, dtype=float)
    diff = 1.03 * lam * 1e-6 / TELESCOPE_DIAMETER * _ARCSEC_PER_RAD / spec.pixel_scale
    return np.hypot(diff, spec.blur_fwhm)


def subarray_name(spec: ModeSpec, shape: tuple[int, int]) -> tuple[str, tuple[int, int]]:
    """SUBARRAY name and (SUBSIZE2, SUBSIZE1) for a data shape.

    Imaging data are the whole subarray, so an unknown shape is ``GENERIC``.  Spectral
    data are a cutout (extract_2d) of the named subarray: a cutout that fits keeps the
    mode's subarray, a larger one picks a known larger subarray or ``GENERIC``.
    """
    if tuple(shape) in spec.known_subarrays:
        return spec.known_subarrays[tuple(shape)], tuple(shape)
    if spec.spectroscopic:
        if shape[0] <= spec.subarray_shape[0] and shape[1] <= spec.subarray_shape[1]:
            return spec.subarray, spec.subarray_shape
        for size, name in sorted(spec.known_subarrays.items()):
            if shape[0] <= size[0] and shape[1] <= size[1]:
                return name, size
    return "GENERIC", tuple(shape)
