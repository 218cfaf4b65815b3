"""Tests of tso3.steps.source_location on small gwcs WCSs (jwst parity: tests/jwst_parity)."""

from __future__ import annotations

import numpy as np
import pytest

from tso3.steps.source_location import middle_from_wcs, sky_source_location

ARCSEC = 1 / 3600


def _vertical_wcs(shape=(60, 40), tilt=0.0, box=None):
    """DISPAXIS=2: RA/Dec from x (0.1"/px in Dec), wavelength 7.5 - 0.01 y um; the source
    column moves by ``tilt`` px per row (a slit not quite along y)."""
    import gwcs
    from astropy.modeling.models import Mapping, Polynomial2D, Scale, Shift

    ny, nx = shape
    column = Polynomial2D(1, c0_0=0.0, c1_0=1.0, c0_1=-tilt)  # x - tilt y
    ra = Shift(-20.0) | Scale(1e-7 * ARCSEC) | Shift(45.0)
    dec = Shift(-20.0) | Scale(0.1 * ARCSEC) | Shift(45.1)
    wave = Scale(-0.01) | Shift(7.5)
    forward = Mapping((0, 1, 0, 1, 1)) | (column | ra) & (column.copy() | dec) & wave
    # inverse: x = column + tilt y with y from the wavelength
    y_of = Shift(-7.5) | Scale(-100.0)
    x_of = Polynomial2D(1, c0_0=0.0, c1_0=1.0, c0_1=tilt)
    forward.inverse = (
        Mapping((0, 2)) | ra.inverse & y_of | Mapping((0, 1, 1)) | x_of & Mapping((0,))
    )
    frames = {"naxes": 3, "axes_order": (0, 1, 2), "axes_type": ["SPATIAL", "SPATIAL", "SPECTRAL"]}
    wcs = gwcs.WCS(
        forward,
        input_frame=gwcs.Frame2D(name="detector"),
        output_frame=gwcs.CoordinateFrame(name="world", **frames),
    )
    wcs.bounding_box = box or ((-0.5, nx - 0.5), (-0.5, ny - 0.5))
    return wcs


def test_middle_from_wcs_vertical_dispersion():
    wcs = _vertical_wcs()
    middle, cross, wavelength = middle_from_wcs(wcs, wcs.bounding_box.bounding_box(order="F"), 2)
    assert middle == pytest.approx(29.5)  # the middle row of the box
    assert wavelength == pytest.approx(7.5 - 0.01 * 29.5)
    assert cross == pytest.approx(19.5)  # one wavelength across the row: its mean x


@pytest.mark.parametrize("tilt", [0.0, 0.02])
def test_sky_source_location_follows_the_sky_position(tilt):
    wcs = _vertical_wcs(tilt=tilt)
    ra = 45.0 + (17.25 - 20.0) * 1e-7 * ARCSEC  # column 17.25 at row 0
    found = sky_source_location(wcs, (60, 40), ra, 45.1)
    assert found is not None
    assert found.middle == 30  # round(29.5), as jwst's int(np.round())
    assert found.location == pytest.approx(17.25 + tilt * 29.5, abs=1e-3)
    assert found.trace.shape == (60,)
    rows = np.arange(60)
    np.testing.assert_allclose(found.trace, 17.25 + tilt * rows, atol=1e-3)


def test_sky_source_location_outside_the_box_is_none():
    wcs = _vertical_wcs(box=((10.5, 30.5), (-0.5, 59.5)))
    ra = 45.0 + (5.0 - 20.0) * 1e-7 * ARCSEC  # column 5: left of the box
    assert sky_source_location(wcs, (60, 40), ra, 45.1) is None
