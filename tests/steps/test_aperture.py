"""Aperture profiles: fractional edges, extract1d JSON semantics, default apertures."""

import json

import numpy as np
import pytest

from tso3.errors import InputError
from tso3.io.extract1d_ref import load_extract1d_reference
from tso3.steps.aperture import (
    ApertureMatchError,
    OrderNotInReference,
    aperture_from_reference,
    aperture_wavelength,
    box_profile,
    default_aperture,
    normalize_smoothing_length,
)


def test_width5_around_5p5_gives_half_edges():
    # extract_width=5 around 5.5: L = 5.5 - 2 = 3.5, U = 7.5
    p = box_profile((12, 4), 3.5, 7.5)
    np.testing.assert_allclose(p[3:9, 0], [0.5, 1, 1, 1, 1, 0.5])
    assert p[:, 2].sum() == pytest.approx(5.0)


def test_fractional_limits_npixels_6p75():
    p = box_profile((16, 3), 4.5, 10.25)
    assert p[4, 0] == pytest.approx(0.5)
    assert p[11, 0] == pytest.approx(0.25)
    np.testing.assert_allclose(p.sum(axis=0), 6.75)


def test_dispersion_limits_cut_whole_columns_and_nan_wavelength():
    wl = np.ones((10, 20))
    wl[:, 7] = np.nan
    p = box_profile((10, 20), 2.0, 5.0, xstart=3.5, xstop=15.9, wavelength=wl)
    cols = np.flatnonzero(p.any(axis=0))
    # ceil(3.5)=4 .. floor(15.9)=15, minus the NaN-wavelength column 7
    assert cols[0] == 4 and cols[-1] == 15 and 7 not in cols
    assert p[:, 10].sum() == pytest.approx(4.0)


def _ref(**ap):
    base = {"id": "NRC_TSGRISM", "spectral_order": 1}
    base.update(ap)
    return {"apertures": [{"id": "dummy"}, base]}


def test_src_coeff_are_edges_and_bkg_coeff_two_regions():
    ref = _ref(
        src_coeff=[[10.0, 0.01], [15.0, 0.01]],
        bkg_coeff=[[0.0], [4.0], [25.5], [30.0]],
        bkg_order=1,
    )
    ap = aperture_from_reference(ref, (32, 100), slit_name="NRC_TSGRISM", spectral_order=1)
    # column 50: edges 10.5 .. 15.5 -> pixels 11..15 in full; column 0: 10 .. 15 -> halves
    np.testing.assert_allclose(ap.profile[9:17, 50], [0, 0, 1, 1, 1, 1, 1, 0])
    np.testing.assert_allclose(ap.profile[9:17, 0], [0, 0.5, 1, 1, 1, 1, 0.5, 0])
    np.testing.assert_allclose(ap.profile.sum(axis=0), 5.0)
    # background edges [0,4] -> rows 0..3 (+0.5 of 0 and 4) and [25.5, 30]
    assert ap.bkg_profile[:, 0].sum() == pytest.approx(4.0 + 4.5)
    assert ap.bkg_order == 1 and ap.bkg_fit == "poly"
    assert ap.lower == pytest.approx(10.0 + 0.01 * 49.5 + 0.5)


def test_extract_width_with_trace_and_alone():
    trace = np.linspace(10.0, 12.0, 50)
    ref = _ref(extract_width=4, ystart=2, ystop=20)
    ap = aperture_from_reference(ref, (32, 50), slit_name="x", exp_type="NRC_TSGRISM", trace=trace)
    assert ap.origin == "trace"
    np.testing.assert_allclose(ap.profile.sum(axis=0), 4.0)
    yc = (ap.profile * np.arange(32)[:, None]).sum(axis=0) / 4.0
    np.testing.assert_allclose(yc, trace, atol=1e-12)
    ap2 = aperture_from_reference(ref, (32, 50), slit_name="NRC_TSGRISM")
    # centred on (2+20)/2 = 11: L = 9.5, U = 12.5
    np.testing.assert_allclose(ap2.profile[9:14, 0], [0.5, 1, 1, 1, 0.5])


def test_start_stop_only_and_dispersion_limits():
    ref = _ref(ystart=3, ystop=6, xstart=10, xstop=40)
    ap = aperture_from_reference(ref, (16, 64), slit_name="NRC_TSGRISM")
    assert ap.columns == (10, 40)
    np.testing.assert_allclose(ap.profile[:, 20], [0, 0, 0, 1, 1, 1, 1] + [0] * 9)
    kw = ap.extraction_keywords(dispaxis=1)
    assert kw == {"EXTRXSTR": 11.0, "EXTRXSTP": 41.0, "EXTRYSTR": 4.0, "EXTRYSTP": 7.0}


def test_dispaxis2_uses_x_keys_as_cross_dispersion():
    ref = {"apertures": [{"id": "MIR_LRS-SLITLESS", "xstart": 4.5, "xstop": 10.25}]}
    ap = aperture_from_reference(
        ref, (72, 416), slit_name="MIR_LRS-SLITLESS", spectral_order=1, dispaxis=2
    )
    np.testing.assert_allclose(ap.profile.sum(axis=0), 6.75)


def test_wavelength_independent_variable():
    wl = np.broadcast_to(np.linspace(5.0, 10.0, 40), (20, 40))
    ref = _ref(src_coeff=[[-2.0, 1.0], [2.0, 1.0]], independent_var="wavelength")
    ap = aperture_from_reference(ref, (20, 40), slit_name="NRC_TSGRISM", wavelength=wl)
    centre = (ap.profile * np.arange(20)[:, None]).sum(axis=0) / ap.profile.sum(axis=0)
    np.testing.assert_allclose(centre, wl[0] - 0.5 + 0.5, atol=0.6)
    np.testing.assert_allclose(ap.profile.sum(axis=0), 4.0)
    with pytest.raises(ValueError):
        aperture_from_reference(ref, (20, 40), slit_name="NRC_TSGRISM")


def test_matching_errors_and_any():
    ref = _ref(ystart=1, ystop=3)
    with pytest.raises(ApertureMatchError):
        aperture_from_reference(ref, (8, 8), slit_name="S1600A1")
    with pytest.raises(OrderNotInReference):
        aperture_from_reference(ref, (8, 8), slit_name="NRC_TSGRISM", spectral_order=2)
    ref_any = {"apertures": [{"id": "ANY", "spectral_order": "ANY", "ystart": 1, "ystop": 3}]}
    ap = aperture_from_reference(ref_any, (8, 8), slit_name="S1600A1", spectral_order=2)
    assert ap.profile[:, 0].sum() == pytest.approx(3.0)


def test_background_settings_precedence_and_median_whole_pixels():
    ref = _ref(
        ystart=10, ystop=14, bkg_coeff=[[0.0], [4.2]], bkg_fit="median", smoothing_length=4.4
    )
    ap = aperture_from_reference(ref, (32, 16), slit_name="NRC_TSGRISM")
    assert ap.bkg_fit == "median" and ap.smoothing_length == 3
    # edges 0..4.2 -> L = 0.5, U = 3.7; no partial weights for median: rows 1..3 only
    np.testing.assert_allclose(ap.bkg_profile[:6, 0], [0, 1, 1, 1, 0, 0])
    ap2 = aperture_from_reference(
        ref, (32, 16), slit_name="NRC_TSGRISM", bkg_fit="mean", smoothing_length=2
    )
    assert (ap2.bkg_fit, ap2.bkg_order, ap2.smoothing_length) == ("poly", 0, 0)
    ap3 = aperture_from_reference(ref, (32, 16), slit_name="NRC_TSGRISM", subtract_background=False)
    assert ap3.bkg_profile is None


@pytest.mark.parametrize(("value", "expected"), [(None, 0), (2, 0), (2.6, 3), (4, 3), (7, 7)])
def test_smoothing_length_rules(value, expected):
    assert normalize_smoothing_length(value) == expected


def test_odd_coefficient_count_rejected():
    with pytest.raises(ValueError):
        aperture_from_reference(_ref(src_coeff=[[1.0]]), (8, 8), slit_name="NRC_TSGRISM")


def test_loader_validates(tmp_path):
    good = tmp_path / "ok.json"
    good.write_text(json.dumps(_ref(src_coeff=[[1.0], [3.0]])))
    assert load_extract1d_reference(good)["apertures"][1]["src_coeff"] == [[1.0], [3.0]]
    cases = {
        "notjson.json": "{apertures: ",
        "noap.json": json.dumps({"foo": 1}),
        "odd.json": json.dumps(_ref(bkg_coeff=[[1.0], [2.0], [3.0]])),
        "badfit.json": json.dumps(_ref(bkg_fit="spline")),
        "badwidth.json": json.dumps(_ref(extract_width="wide")),
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(InputError, match=name):
            load_extract1d_reference(path)
    with pytest.raises(InputError):
        load_extract1d_reference(tmp_path / "missing.json")


def test_aperture_wavelength_is_profile_weighted():
    wl = np.tile(np.arange(5.0)[:, None], (1, 3)) + np.array([0.0, 10.0, np.nan])
    p = box_profile((5, 3), 1.5, 2.5)  # 0.5, 1, 0.5 on rows 1..3
    wl[2, 1] = np.nan
    out = aperture_wavelength(p, wl)
    assert out[0] == pytest.approx((0.5 * 1 + 2 + 0.5 * 3) / 2.0)
    assert out[1] == pytest.approx((0.5 * 11 + 0.5 * 13) / 1.0)
    assert np.isnan(out[2])


def test_default_aperture_background_rows_and_narrow_flag():
    trace = np.full(30, 15.0)
    ap = default_aperture((32, 30), trace, extract_width=8, bkg_gap=3)
    # background where |y - 15| >= 7: rows 0..8 and 22..31
    np.testing.assert_array_equal(
        np.flatnonzero(ap.bkg_profile[:, 0]), list(range(9)) + list(range(22, 32))
    )
    np.testing.assert_allclose(ap.profile.sum(axis=0), 8.0)
    narrow = default_aperture((12, 30), np.full(30, 6.0), extract_width=8, bkg_gap=3)
    assert narrow.bkg_profile is None and not narrow.background_ok
