"""Where the WCS puts a slit's source on the detector, as jwst 3.0's extract_1d finds it.

``--mode jwst`` with ``use_source_posn`` on (jwst's default for NIRSpec fixed-slit and
BOTS point sources and the MIRI LRS fixed slit) moves the extract1d aperture so that its
centre at the middle column lies on the source position the WCS gives (NIRSpec: SRCXPOS,
SRCYPOS in the slit frame; MIRI: DITH_RA, DITH_DEC on the sky), and, with an
``extract_width``, makes it follow the trace the WCS predicts.  The functions here
reproduce ``jwst.extract_1d.source_location`` for those two cases, literal quirks
included: the trace is evaluated on ``arange(n)``, not from the bounding box's start.
The default mode centres on the trace measured in the data instead
(:mod:`tso3.steps.trace`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SourceLocation:
    """The source on the detector: ``location`` (cross-dispersion pixel) at column
    ``middle`` and wavelength ``middle_wavelength``, and the ``trace`` (one
    cross-dispersion position per column, NaN outside the WCS's bounding box)."""

    middle: int
    middle_wavelength: float
    location: float
    trace: np.ndarray


def bounding_box(wcs, shape: tuple[int, int]) -> tuple[tuple[float, float], tuple[float, float]]:
    """``((x0, x1), (y0, y1))`` of the WCS, or the whole frame (jwst's default)."""
    box = getattr(wcs, "bounding_box", None)
    if box is None:
        return (-0.5, shape[1] - 0.5), (-0.5, shape[0] - 0.5)
    if hasattr(box, "bounding_box"):  # astropy's ModelBoundingBox
        box = box.bounding_box(order="F")
    (x0, x1), (y0, y1) = box
    return (float(x0), float(x1)), (float(y0), float(y1))


def middle_from_wcs(wcs, box, dispaxis: int = 1) -> tuple[float, float, float]:
    """Middle of the bounding box along the dispersion, and the mean wavelength across it.

    Returns ``(middle dispersion pixel, cross-dispersion pixel of that wavelength,
    wavelength)``, as jwst's ``middle_from_wcs`` (file orientation: the dispersion runs
    along x for DISPAXIS=1, along y for DISPAXIS=2).
    """
    disp, cross = (0, 1) if dispaxis == 1 else (1, 0)
    width = int(round(box[cross][1]))
    middle = (box[disp][0] + box[disp][1]) / 2.0
    along = np.full(width, middle)
    across = np.arange(width, dtype=np.float64)
    _, _, wavelengths = wcs(along, across) if dispaxis == 1 else wcs(across, along)
    wavelengths = np.asarray(wavelengths, dtype=np.float64)
    order = np.argsort(wavelengths)
    valid = np.isfinite(wavelengths[order])
    mean = np.nanmean(wavelengths) if valid.any() else np.nan
    if np.isnan(mean) or np.allclose(wavelengths, mean):
        return middle, float(np.mean(across)), float(mean)
    position = np.interp(mean, wavelengths[order][valid], across[order[valid]])
    return middle, float(position), float(mean)


def slit_source_location(
    wcs, shape: tuple[int, int], source_xpos: float, source_ypos: float
) -> SourceLocation | None:
    """The source position and trace of a NIRSpec slit from its WCS (DISPAXIS=1).

    Parameters
    ----------
    wcs : gwcs.WCS
        With ``slit_frame`` and ``detector`` frames.
    shape : (ny, nx)
        Frame shape.
    source_xpos, source_ypos : float
        Source position in the slit frame (SRCXPOS, SRCYPOS).

    Returns
    -------
    SourceLocation or None
        None when the WCS has no slit frame, or puts the source outside its bounding box
        or nowhere (jwst then keeps the nominal aperture).
    """
    if "slit_frame" not in getattr(wcs, "available_frames", ()):
        return None
    box = bounding_box(wcs, shape)
    middle, _, middle_wl = middle_from_wcs(wcs, box)
    # wavelengths are in metres in the slit frame of data not yet resampled
    scale = 1e-6 if "gwa" in wcs.available_frames else 1.0
    slit_to_detector = wcs.get_transform("slit_frame", "detector")
    _, location = slit_to_detector(source_xpos, source_ypos, middle_wl * scale)
    location = float(location)
    if not np.isfinite(location) or not box[1][0] <= location <= box[1][1]:
        return None
    trace = _wcs_trace(wcs, shape, box, 1, wcs.get_transform("detector", "slit_frame"),
                       slit_to_detector, (source_xpos, source_ypos))  # fmt: skip
    return SourceLocation(int(np.round(middle)), middle_wl, location, trace)


def _wcs_trace(wcs, shape, box, dispaxis: int, detector_to, to_detector, source) -> np.ndarray:
    """The source's cross-dispersion position at every dispersion pixel, from the WCS.

    jwst's ``_nirspec_trace_from_wcs`` (DISPAXIS=1: slit frame, a y per column) and
    ``_miri_trace_from_wcs`` (DISPAXIS=2: sky, an x per row): the wavelengths of the
    bounding box, spread evenly over its length, taken back to the detector from the
    ``source`` position by ``to_detector``, interpolated at ``arange(n)`` (as jwst, not
    from the box's start) and placed in a full-length array.
    """
    from gwcs.wcstools import grid_from_bounding_box
    from scipy.interpolate import interp1d

    disp = 0 if dispaxis == 1 else 1
    x, y = grid_from_bounding_box(box)
    n = int(box[disp][1] - box[disp][0])
    wavelength = np.asarray(detector_to(x, y)[2])
    waves = np.linspace(np.nanmin(wavelength), np.nanmax(wavelength), n)
    on_detector = to_detector(*(np.full(n, value) for value in source), waves)
    along, across = on_detector[disp], on_detector[1 - disp]
    follow = interp1d(along, across, fill_value="extrapolate")
    full = np.full(shape[1 - disp], np.nan)
    start = int(np.ceil(box[disp][0]))
    full[start : start + n] = follow(np.arange(n))
    return full


def sky_source_location(
    wcs, shape: tuple[int, int], ra: float, dec: float
) -> SourceLocation | None:
    """The source position and trace of a MIRI LRS fixed slit from its WCS (DISPAXIS=2).

    As jwst's ``location_from_wcs`` for MIR_LRS-FIXEDSLIT: the sky position where
    assign_wcs put the source (DITH_RA, DITH_DEC) taken back to the detector at the mean
    wavelength of the middle row; the trace from the same position at every wavelength.

    Parameters
    ----------
    wcs : gwcs.WCS
        detector (x, y) -> (RA, Dec, wavelength), with an inverse.
    shape : (ny, nx)
        Frame shape (file orientation).
    ra, dec : float
        Sky position of the source (deg).

    Returns
    -------
    SourceLocation or None
        ``location`` is an x (column), ``middle`` a row and ``trace`` one x per row; None
        when the WCS puts the source outside its bounding box or nowhere.
    """
    box = bounding_box(wcs, shape)
    middle, _, middle_wl = middle_from_wcs(wcs, box, dispaxis=2)
    location = float(np.asarray(wcs.backward_transform(ra, dec, middle_wl)[0]))
    if not np.isfinite(location) or not box[0][0] <= location <= box[0][1]:
        return None
    trace = _wcs_trace(wcs, shape, box, 2, wcs, wcs.backward_transform, (ra, dec))
    return SourceLocation(int(np.round(middle)), middle_wl, location, trace)


def aperture_centre(profile: np.ndarray, middle: int) -> float:
    """Weighted cross-dispersion centre of an aperture profile at column ``middle``
    (jwst's ``aperture_center`` with ``middle_pix``; all weights 1 when the column is
    empty)."""
    weights = np.clip(np.asarray(profile, dtype=np.float64)[:, middle], 0.0, None)
    if weights.sum() == 0:
        weights[:] = 1.0
    return float(np.average(np.arange(profile.shape[0]), weights=weights))


def slit_pixel_scale(wcs, profile: np.ndarray, wavelength: float) -> float:
    """Arcsec per pixel across the dispersion at the aperture's sky position (DISPAXIS=1).

    As jwst 3.0 converts APCORR sizes given in arcsec (``compute_scale``): the sky
    position of the profile-weighted centre of the aperture, taken back to the detector
    at ``wavelength`` (jwst: the median wavelength of the spectrum), and the separation
    on the sky of that pixel and the next one across the dispersion.

    Returns
    -------
    float
        NaN when the WCS gives no sky position there.
    """
    from astropy.coordinates import SkyCoord  # only NIRSpec APCORR files in arcsec need it

    weights = np.clip(np.nan_to_num(profile), 0.0, None)
    y, x = np.mgrid[: profile.shape[0], : profile.shape[1]]
    total = weights.sum()
    if total <= 0:
        return float("nan")
    ra, dec = np.asarray(wcs(np.sum(x * weights) / total, np.sum(y * weights) / total))[:2]
    if not (np.isfinite(ra) and np.isfinite(dec)):
        return float("nan")
    px, py = wcs.invert(ra, dec, wavelength, with_bounding_box=False)
    sky = wcs(np.array([px, px]), np.array([py, py + 1.0]), with_bounding_box=False)
    ends = SkyCoord(np.asarray(sky[0]), np.asarray(sky[1]), unit="deg")
    return float(ends[0].separation(ends[1]).arcsec)
