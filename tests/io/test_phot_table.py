"""Tests of tso3.io.phot_table: phot.ecsv layout and round trip."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.table import QTable

from tso3.formats import PHOT_COLUMNS
from tso3.io.phot_table import build_phot_table, write_phot_table
from tso3.steps.photometry import aperture_photometry, apertures_text, whole_frame_photometry

REFERENCE_ORDER = [
    "MJD",
    "BJD_TDB",
    *PHOT_COLUMNS,
    "aperture_x",
    "aperture_y",
    "aperture_ra_icrs",
    "aperture_dec_icrs",
    "centroid_x",
    "centroid_y",
    "psf_width_x",
    "psf_width_y",
    "psf_flux",
]
META = {
    "instrument": "NIRCAM",
    "detector": "NRCA3",
    "channel": "SHORT",
    "subarray": "SUB160P",
    "filter": "F210M",
    "pupil": "CLEAR",
    "target_name": "WASP-XX",
}


def _columns(n=5, radii=(3.0, 4.5)):
    rng = np.random.default_rng(0)
    sci = 1.0 + rng.normal(0, 0.1, (n, 20, 20))
    cols = aperture_photometry(sci, np.full_like(sci, 0.1), None, 10.2, 9.8, list(radii), 5, 7)
    cols.update(
        centroid_x=np.full(n, 10.2),
        centroid_y=np.full(n, 9.8),
        psf_width_x=np.full(n, 1.1),
        psf_width_y=np.full(n, 1.2),
        psf_flux=np.full(n, 123.0),
    )
    return cols


def _table(cols, n=5, **kw):
    t = np.arange(n) * 1e-3
    return build_phot_table(
        cols,
        unit="Jy",
        meta=META,
        mjd=60000.0 + t,
        bjd_tdb=60000.004 + t,
        ra=np.full(n, 150.1),
        dec=np.full(n, -20.5),
        apertures=apertures_text(3.0, 5.0, 7.0),
        **kw,
    )


def test_table_round_trip_columns_units_meta(tmp_path):
    cols = _columns()
    table = _table(cols)
    path = tmp_path / "x_phot.ecsv"
    write_phot_table(table, path)
    back = QTable.read(path)
    extras = ["net_aperture_sum_r4.5", "net_aperture_sum_err_r4.5", "n_repaired"]
    assert back.colnames == REFERENCE_ORDER + extras
    assert back["aperture_sum"].unit == u.Jy and back["psf_flux"].unit == u.Jy
    assert back["net_aperture_sum_r4.5"].unit == u.Jy
    assert back["aperture_x"].unit == u.pix and back["psf_width_y"].unit == u.pix
    assert back["aperture_ra_icrs"].unit == u.deg
    assert not hasattr(back["MJD"], "unit") or back["MJD"].unit is None
    np.testing.assert_allclose(back["BJD_TDB"], 60000.004 + np.arange(5) * 1e-3, rtol=0, atol=1e-12)
    np.testing.assert_allclose(back["net_aperture_sum"].value, cols["net_aperture_sum"])
    np.testing.assert_array_equal(back["n_repaired"], cols["n_repaired"])
    assert list(back.meta)[:9] == [*META, "apertures", "number_of_integrations"]
    assert back.meta["number_of_integrations"] == 5
    assert back.meta["filter"] == "F210M"
    assert back.meta["apertures"].startswith("Photometry measured in a circular aperture of r=3.0")
    assert "2400000.5" in back["BJD_TDB"].info.description
    assert "r=4.5" in back["net_aperture_sum_r4.5"].info.description
    assert not list(tmp_path.glob(".*tmp*"))


def test_no_centroid_columns_when_centroiding_failed():
    cols = _columns(radii=(3.0,))
    for name in ("centroid_x", "centroid_y", "psf_width_x", "psf_width_y", "psf_flux"):
        del cols[name]
    table = _table(cols)
    assert table.colnames == REFERENCE_ORDER[:16] + ["n_repaired"]


def test_whole_frame_table_unitless_background_columns(tmp_path):
    sci = np.ones((3, 8, 8))
    cols = whole_frame_photometry(sci, sci * 0.5, None, mode="jwst")
    cols.update(aperture_x=np.full(3, 4.0), aperture_y=np.full(3, 4.0))
    table = _table(cols, n=3, whole_frame=True)
    table.meta["apertures"] = apertures_text(3, 4, 5, whole_frame=True)
    path = tmp_path / "w_phot.ecsv"
    write_phot_table(table, path)
    back = QTable.read(path)
    assert back["aperture_sum"].unit == u.Jy
    assert back["aperture_sum"][0].value == 64.0
    for name in PHOT_COLUMNS[2:8]:
        assert getattr(back[name], "unit", None) is None
        assert np.all(np.isnan(back[name]))
    assert "sum of all values in the subarray" in back.meta["apertures"]


def test_row_count_mismatch_is_an_error():
    cols = _columns()
    with pytest.raises(ValueError, match="rows"):
        build_phot_table(
            cols,
            unit="electron",
            meta=META,
            mjd=np.zeros(4),
            bjd_tdb=np.zeros(4),
            ra=np.zeros(4),
            dec=np.zeros(4),
            apertures="",
        )


# --------------------------------------------------------------------------------- gain
