"""Small synthetic inputs shared by the tests: calints segments, profiles, spectra.

Plain functions (imported by test modules); fixtures live in ``conftest.py``.  The
simulator (:mod:`tso3.simulate`) makes the realistic observations.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.special import erf
from stdatamodels.jwst import datamodels

from tso3.spectra import SpectraSet

INT_DTYPE = [
    ("integration_number", "i4"),
    ("int_start_MJD_UTC", "f8"),
    ("int_mid_MJD_UTC", "f8"),
    ("int_end_MJD_UTC", "f8"),
    ("int_start_BJD_TDB", "f8"),
    ("int_mid_BJD_TDB", "f8"),
    ("int_end_BJD_TDB", "f8"),
]


def int_times(first: int, last: int, t0: float = 60000.0, dt: float = 10 / 86400) -> np.ndarray:
    n = np.arange(first, last + 1)
    table = np.zeros(len(n), dtype=INT_DTYPE)
    table["integration_number"] = n
    start = t0 + (n - 1) * dt
    for prefix, offset in (("int_start", 0.0), ("int_mid", 0.5), ("int_end", 1.0)):
        table[f"{prefix}_MJD_UTC"] = start + offset * dt
        table[f"{prefix}_BJD_TDB"] = start + offset * dt + 0.003
    return table


def make_segment(
    directory: Path,
    *,
    exp_type: str = "NRS_BRIGHTOBJ",
    seg: int = 1,
    nseg: int = 1,
    intstart: int = 1,
    intend: int = 10,
    nints: int | None = None,
    shape: tuple[int, int] = (8, 16),
    detector: str = "NRS1",
    table: np.ndarray | None = None,
    tsovisit: bool = True,
    value: float = 1.0,
) -> Path:
    """Write one small calints segment and return its path."""
    n = intend - intstart + 1
    cube = (n, *shape)
    slit = exp_type in ("NRS_BRIGHTOBJ", "NRC_TSGRISM", "MIR_LRS-SLITLESS", "NIS_SOSS")
    model = datamodels.SlitModel() if slit else datamodels.CubeModel()
    model.data = np.full(cube, value, np.float32)
    model.err = np.full(cube, 0.1, np.float32)
    model.dq = np.zeros(cube, np.uint32)
    for name in ("var_poisson", "var_rnoise", "var_flat"):
        setattr(model, name, np.full(cube, 0.01 / 3, np.float32))
    meta = model.meta
    meta.exposure.type = exp_type
    meta.visit.tsovisit = tsovisit
    meta.exposure.nints = nints if nints is not None else intend
    meta.exposure.integration_start = intstart
    meta.exposure.integration_end = intend
    meta.exposure.segment_number = seg
    meta.exposure.segment_total = nseg
    instrument = {"NRS": "NIRSPEC", "NRC": "NIRCAM", "MIR": "MIRI", "NIS": "NIRISS"}[exp_type[:3]]
    meta.instrument.name = instrument
    meta.instrument.detector = detector
    meta.observation.program_number = "01366"
    meta.observation.observation_number = "004"
    meta.bunit_data = "MJy/sr"
    meta.bunit_err = "MJy/sr"
    if slit:
        model.wavelength = np.tile(np.linspace(1, 5, shape[1], dtype=np.float32), (shape[0], 1))
        meta.wcsinfo.dispersion_direction = 1
    model.int_times = int_times(intstart, intend) if table is None else table
    name = f"jw01366004001_04101_00001-seg{seg:03d}_{detector.lower()}_calints.fits"
    path = Path(directory) / name
    model.save(path)
    return path


def write_asn(
    path: Path,
    members: list[str],
    *,
    asn_id: str = "o004",
    name: str = "jw01366-o004_t001_nirspec_clear-prism",
) -> Path:
    asn = {
        "asn_type": "tso3",
        "asn_rule": "candidate_Asn_Lv3TSO",
        "asn_id": asn_id,
        "asn_pool": "jw01366_20230101t000000_pool.csv",
        "program": "01366",
        "target": "t001",
        "products": [
            {"name": name, "members": [{"expname": m, "exptype": "science"} for m in members]}
        ],
    }
    path.write_text(json.dumps(asn))
    return path


def gaussian_profile(
    center: float = 15.2, ny: int = 32, nx: int = 60, sigma: float = 1.3
) -> np.ndarray:
    """Cross-dispersion Gaussian normalised per column, shape (ny, nx) (a read-only view)."""
    y = np.arange(ny)[:, None]
    g = np.exp(-0.5 * ((y - center) / sigma) ** 2)
    return np.broadcast_to(g / g.sum(axis=0), (ny, nx))


def gauss_image(n, ny, nx, xc, yc, sx, sy, flux) -> np.ndarray:
    """Pixel-integrated elliptical Gaussian, shape (n, ny, nx); centres may vary per row."""
    xc = np.broadcast_to(np.asarray(xc, float), (n,))[:, None]
    yc = np.broadcast_to(np.asarray(yc, float), (n,))[:, None]
    x = np.arange(nx)[None, :]
    y = np.arange(ny)[None, :]
    ex = 0.5 * (erf((x - xc + 0.5) / (np.sqrt(2) * sx)) - erf((x - xc - 0.5) / (np.sqrt(2) * sx)))
    ey = 0.5 * (erf((y - yc + 0.5) / (np.sqrt(2) * sy)) - erf((y - yc - 0.5) / (np.sqrt(2) * sy)))
    return flux * ey[:, :, None] * ex[:, None, :]


def spectra_set(
    flux,
    wavelength,
    mjd,
    *,
    int_num=None,
    order: int = 1,
    detector: str = "MIRIMAGE",
    var: float = 0.01,
    unit: str = "Jy",
    tdb_offset: float = 0.5,
) -> SpectraSet:
    """A SpectraSet with the given flux, constant variance and zero everything else."""
    flux = np.asarray(flux, dtype=float)
    z = np.zeros_like(flux)
    n = flux.shape[0]
    return SpectraSet(
        wavelength=np.asarray(wavelength, float),
        flux=flux,
        flux_var_poisson=np.full_like(flux, var),
        flux_var_rnoise=z.copy(),
        flux_var_flat=z.copy(),
        surf_bright=z,
        sb_var_poisson=z,
        sb_var_rnoise=z,
        sb_var_flat=z,
        background=z,
        bkgd_var_poisson=z,
        bkgd_var_rnoise=z,
        bkgd_var_flat=z,
        npixels=z,
        dq=np.zeros(flux.shape, np.uint32),
        int_num=np.arange(1, n + 1) if int_num is None else np.asarray(int_num),
        spectral_order=order,
        detector=detector,
        flux_unit=unit,
        times={"mjd_avg": np.asarray(mjd, float), "tdb_mid": np.asarray(mjd, float) + tdb_offset},
    )


def write_pastasoss_reference(path: Path, model=None, *, drop_order: int | None = None) -> Path:
    """A CRDS-style ``pastasoss`` reference (PastasossModel ASDF) of a SOSS model.

    Default: the model tso3 ships; ``drop_order`` leaves that order out (malformed).
    """
    import warnings

    from tso3.io.soss_models import default_soss_model

    model = model or default_soss_model()
    ref = datamodels.PastasossModel()
    ref.meta.pwcpos_cmd = model.pwcpos_cmd
    orders = {o: om for o, om in model.orders.items() if o != drop_order}
    ref.traces = [
        {"spectral_order": o, "pivot_x": om.pivot[0], "pivot_y": om.pivot[1],
         "trace": np.column_stack([om.x, om.y])}
        for o, om in orders.items()
    ]  # fmt: skip
    ref.wavecal_models = [
        {"spectral_order": o, "polynomial_degree": om.degree, "coefficients": om.coefficients,
         "scale_extents": om.extents}
        for o, om in orders.items()
    ]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # reference-file meta (author, pedigree...) not set
        ref.save(str(path))
    return path


def write_spectrace_reference(path: Path, tables: dict[int, tuple]) -> Path:
    """A CRDS-style ``spectrace`` reference: ``{order: (x, y, wavelength)}`` tables."""
    import warnings

    ref = datamodels.SpecTraceModel()
    for order, (x, y, lam) in tables.items():
        single = datamodels.SpecTraceSingleModel()
        single.order = order
        columns = ("WAVELENGTH", "X", "Y", "THROUGHPUT", "TILT")
        table = np.zeros(len(x), dtype=[(c, "f8") for c in columns])
        table["X"], table["Y"], table["WAVELENGTH"] = x, y, lam
        single.data = table
        ref.trace.append(single)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.save(str(path))
    return path


def lrs_apcorr_file(path: Path, subarray: str = "SLITLESSPRISM") -> Path:
    """A MIRI LRS APCORR reference (MirLrsApcorrModel) whose correction varies with both
    wavelength and extraction size, so that its interpolation shows."""
    nwl, nsize = 8, 6
    wavelength = np.zeros(20, np.float32)
    wavelength[:nwl] = np.linspace(12.0, 5.0, nwl)  # descending: jwst sorts them
    size = np.zeros(10, np.uint8)
    size[:nsize] = np.arange(3, 3 + 2 * nsize, 2)
    apcorr = np.zeros((20, 10), np.float32)
    grid_wl, grid_size = np.meshgrid(wavelength[:nwl], size[:nsize], indexing="ij")
    apcorr[:nwl, :nsize] = 1.0 + 0.02 * grid_wl / grid_size
    table = np.zeros(2, dtype=[("subarray", "S17"), ("wavelength", "f4", (20,)),
                               ("nelem_wl", "i2"), ("size", "u1", (10,)),
                               ("nelem_size", "i2"), ("apcorr", "f4", (20, 10)),
                               ("apcorr_err", "f4", (20, 10))])  # fmt: skip
    for k, name in enumerate((subarray, "FULL")):
        table[k] = (name, wavelength, nwl, size, nsize, apcorr * (1 + k), apcorr * 0.01)
    model = datamodels.MirLrsApcorrModel(apcorr_table=table)
    model.sizeunit = "pixels"
    model.meta.instrument.name = "MIRI"
    model.meta.exposure.type = "MIR_LRS-SLITLESS"
    model.meta.reftype = "APCORR"
    model.save(path)
    return path


def nrs_apcorr_file(
    path: Path, *, layout: str = "jwst", sizeunit: str = "pixels", slit: str = "S1600A1"
) -> Path:
    """A NIRSpec fixed-slit APCORR reference (NrsFsApcorrModel) for F290LP/G395H whose
    correction varies with wavelength, extraction size and pixel phase.

    ``layout``: "jwst" stores ``apcorr`` per row as (size, wavelength, phase), the shape
    jwst 3.0 interpolates; "reference" as (phase, size, wavelength), as STScI's files.
    The wavelengths (7.55-8.2 um) leave the first elements of the jwst mock outside.
    """
    nwl, nsize, nph = 14, 6, 3
    wavelength = np.linspace(8.2, 7.55, nwl)  # descending: both sort them
    base = np.arange(3.0, 3.0 + 2 * nsize, 2)
    size = base[:, None] * (1 + 0.02 * (wavelength - 7.5))[None, :]  # (size, wavelength)
    pixphase = np.array([0.0, 0.25, 0.5])
    grid = 1.0 + 0.05 * wavelength[None, :, None] / size[:, :, None] + 0.02 * pixphase
    if sizeunit == "arcsec":
        size = size * 0.1  # the jwst mock's slit frame: 0.1 arcsec per pixel
    if layout == "reference":
        grid = np.moveaxis(grid, -1, 0)
    rows = [("F290LP", "G395H", slit), ("F290LP", "G395H", "S200A1"), ("CLEAR", "PRISM", slit)]
    table = np.zeros(len(rows), dtype=[
        ("filter", "S12"), ("grating", "S15"), ("slit", "S15"), ("wavelength", "f4", (nwl,)),
        ("nelem_wl", "i2"), ("size", "f4", size.shape), ("nelem_size", "i2"),
        ("pixphase", "f4", (nph,)), ("apcorr", "f4", grid.shape),
        ("apcorr_err", "f4", grid.shape),
    ])  # fmt: skip
    for k, key in enumerate(rows):
        table[k] = (*key, wavelength, nwl, size, nsize, pixphase, grid * (1 + k), grid * 0.01)
    model = datamodels.NrsFsApcorrModel(apcorr_table=table)
    model.sizeunit = sizeunit
    model.meta.instrument.name = "NIRSPEC"
    model.meta.exposure.type = "NRS_BRIGHTOBJ"
    model.meta.reftype = "APCORR"
    model.save(path)
    return path
