"""Tests of the TSO simulator (tso3.simulate.core): files, keywords, injected signals."""

from __future__ import annotations

import hashlib
import json
import warnings

import numpy as np
import pytest
from astropy.io import fits
from stdatamodels.jwst import datamodels

from tso3 import dqflags
from tso3.simulate import simulate
from tso3.simulate.core import _segment_bounds

MODES = ["nrc_tsimage", "mir_image", "nrs_brightobj", "nrc_tsgrism", "mir_lrs-slitless"]
CASES = MODES + ["g395h"]
BANDS = {  # (detector, min, max) wavelength ranges in um
    "nrs_brightobj": {"NRS1": (0.6, 5.3)},
    "g395h": {"NRS1": (2.87, 3.72), "NRS2": (3.82, 5.18)},
    "nrc_tsgrism": {"NRCALONG": (2.35, 4.05)},
    "mir_lrs-slitless": {"MIRIMAGE": (5.0, 12.0)},
}


@pytest.fixture(scope="module")
def sims(tmp_path_factory):
    """One default simulation per case, shared by the tests of this module."""
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # schema validation problems surface as warnings
        for case in CASES:
            if case == "g395h":
                out[case] = simulate(
                    "nrs_brightobj",
                    tmp_path_factory.mktemp(case),
                    detectors=("NRS1", "NRS2"),
                    nints=60,
                    segments=2,
                    seed=5,
                )
            elif case.startswith("mir"):  # large frames: fewer integrations suffice
                out[case] = simulate(
                    case, tmp_path_factory.mktemp(case), nints=60, segments=2, seed=1
                )
            else:
                out[case] = simulate(case, tmp_path_factory.mktemp(case), seed=1)
    return out


def _cube(result, detector, name="data"):
    """Concatenate one array over the segments of ``detector`` (file order = time order)."""
    parts = []
    for path in result.files:
        if f"_{detector.lower()}_" in path.name:
            with datamodels.open(path) as model:
                parts.append(np.array(getattr(model, name)))
    return np.concatenate(parts)


def _without_crs(result, detector):
    data = _cube(result, detector)
    for i, y, x, amplitude, _ in result.truth["detectors"][detector]["cosmic_rays"]:
        data[i, y, x] -= amplitude
    return data


# ---------------------------------------------------------------- transit model


# ---------------------------------------------------------------- arguments


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="nrc_tsimage"):
        simulate("nis_soss_typo", tmp_path)
    with pytest.raises(ValueError, match="unknown simulation parameter"):
        simulate("nrc_tsimage", tmp_path, transit_dpth=0.01)
    with pytest.raises(ValueError, match="NRS1"):
        simulate("nrs_brightobj", tmp_path, detectors=("NRS3",))
    with pytest.raises(ValueError):
        simulate("nrc_tsimage", tmp_path, nints=3, segments=4)


def test_segment_bounds_cover_exposure_once():
    for nints, segments in [(120, 3), (10, 4), (5, 4), (6000, 4), (7, 1)]:
        bounds = _segment_bounds(nints, segments)
        assert len(bounds) == segments
        assert bounds[0][0] == 0 and bounds[-1][1] == nints
        assert all(a < b for a, b in bounds)
        assert all(bounds[i][1] == bounds[i + 1][0] for i in range(segments - 1))


# ---------------------------------------------------------------- files


@pytest.mark.parametrize("case", CASES)
def test_files_keywords_and_int_times(sims, case):
    result = sims[case]
    truth = result.truth
    nints = truth["nints"]
    spectro = case not in ("nrc_tsimage", "mir_image")
    detectors = truth["detectors_list"]
    assert len(result.files) == len(truth["segments"]) * len(detectors)
    for path in result.files:
        assert path.name.startswith("jw09001004001_04101_00001-seg")
        assert path.name.endswith("_calints.fits")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model = datamodels.open(path)
        with model:
            assert type(model).__name__ == ("SlitModel" if spectro else "CubeModel")
            meta = model.meta
            assert meta.exposure.type == truth["exp_type"]
            assert meta.visit.tsovisit is True
            assert meta.exposure.nints == nints
            start, end = meta.exposure.integration_start, meta.exposure.integration_end
            segment = meta.exposure.segment_number
            assert f"-seg{segment:03d}_" in path.name
            assert meta.exposure.segment_total == len(truth["segments"])
            assert [start - 1, end] == truth["segments"][segment - 1]
            assert model.data.shape == (end - start + 1, *truth["shape"])
            for name in ("data", "err", "var_poisson", "var_rnoise", "var_flat"):
                assert getattr(model, name).dtype.newbyteorder("=") == np.float32
                assert getattr(model, name).shape == model.data.shape
            assert model.dq.dtype.newbyteorder("=") == np.uint32
            assert meta.cal_step.photom == "COMPLETE"
            assert meta.photometry.pixelarea_steradians == pytest.approx(truth["pixar_sr"])
            assert meta.wcsinfo.siaf_xref_sci == pytest.approx(truth["reference_position"][0] + 1)
            assert meta.wcsinfo.siaf_yref_sci == pytest.approx(truth["reference_position"][1] + 1)
            assert meta.target.catalog_name == "TSO-SIM-1"
            assert meta.exposure.integration_time > 0
            times = model.int_times
            np.testing.assert_array_equal(times["integration_number"], np.arange(start, end + 1))
            mid = np.asarray(times["int_mid_MJD_UTC"])
            np.testing.assert_allclose(
                mid, truth["times"]["int_mid_mjd_utc"][start - 1 : end], rtol=0, atol=1e-9
            )
            assert np.all(np.diff(mid) > 0)
            assert np.all(times["int_start_MJD_UTC"] < mid)
            assert np.all(mid < times["int_end_MJD_UTC"])
            # BJD_TDB = UTC + (TT-UTC = 69.184 s in 2023) + light-travel offset (+ <2 ms TDB-TT).
            lag = (np.asarray(times["int_mid_BJD_TDB"]) - mid) * 86400
            np.testing.assert_allclose(lag, 69.184 + 212.7, atol=0.01)
            assert 59000 < mid[0] < 70000
            if spectro:
                assert meta.wcsinfo.dispersion_direction == (2 if "lrs" in case else 1)
                assert model.source_type == "POINT"
                assert meta.wcsinfo.spectral_order == 1
                assert model.wavelength.shape == tuple(truth["shape"])
            else:
                assert meta.bunit_data == "MJy/sr"
        header = fits.getheader(path, "SCI")
        assert header["BUNIT"] == ("MJy" if "nrs" in path.name else "MJy/sr")
        if "nrs" in path.name:
            assert header["SLTNAME"] == "S1600A1"
            assert header["SRCTYPE"] == "POINT"
        primary = fits.getheader(path)
        for key in ("INSTRUME", "DETECTOR", "FILTER", "SUBARRAY", "SUBSTRT1", "SUBSIZE2"):
            assert key in primary
        assert primary["S_PHOTOM"] == "COMPLETE"
        assert primary["EXPSTART"] < primary["EXPEND"]


@pytest.mark.parametrize("case", CASES)
def test_error_is_root_sum_of_variances_and_bad_pixels_are_nan(sims, case):
    result = sims[case]
    path = result.files[-1]
    detector = fits.getheader(path)["DETECTOR"]
    bad = np.array(result.truth["detectors"][detector]["bad_pixels"])
    assert len(bad) > 0
    with datamodels.open(path) as model:
        err2 = model.var_poisson + model.var_rnoise + model.var_flat
        np.testing.assert_allclose(model.err**2, err2, rtol=1e-5)
        for name in ("data", "err", "var_poisson", "var_rnoise", "var_flat"):
            assert np.all(np.isnan(getattr(model, name)[:, bad[:, 0], bad[:, 1]]))
        assert np.all(model.dq[:, bad[:, 0], bad[:, 1]] & dqflags.DO_NOT_USE)
        good = np.ones(model.data.shape[1:], bool)
        good[bad[:, 0], bad[:, 1]] = False
        assert np.all(np.isfinite(model.data[:, good]))
        assert not np.any(model.dq[:, good] & dqflags.DO_NOT_USE)
        # Some harmless stage-2 flags (JUMP_DET) are present on good pixels.
        assert np.any(model.dq[:, good] == dqflags.JUMP_DET) or model.dq.size < 2e5


@pytest.mark.parametrize("case", ["nrc_tsimage", "nrs_brightobj", "mir_lrs-slitless"])
def test_cosmic_rays_are_where_truth_says(sims, case):
    result = sims[case]
    detector = result.truth["detectors_list"][0]
    crs = result.truth["detectors"][detector]["cosmic_rays"]
    assert len(crs) >= 5
    data = _cube(result, detector)
    sigma = np.sqrt(_cube(result, detector, "var_poisson") + _cube(result, detector, "var_rnoise"))
    n = data.shape[0]
    for i, y, x, amplitude, amp_sigma in crs:
        assert amplitude == pytest.approx(amp_sigma * sigma[i, y, x], rel=1e-4)
        neighbours = [j for j in range(i - 3, i + 4) if 0 <= j < n and j != i]
        excess = data[i, y, x] - np.median(data[neighbours, y, x])
        # The hit stands out by about its injected amplitude (within 5 sigma of noise).
        assert abs(excess - amplitude) < 5 * sigma[i, y, x] * 1.5
        if amp_sigma > 20:
            assert excess > 10 * sigma[i, y, x]
    assert np.median([c[4] for c in crs]) > 30  # mostly >> 10 sigma


def test_same_seed_identical_files_other_seed_differs(tmp_path):
    def digest(result):
        return [hashlib.md5(p.read_bytes()).hexdigest() for p in result.files]

    kwargs = {"nints": 20, "segments": 2, "shape": (16, 24)}
    first = simulate("nrc_tsimage", tmp_path / "a", seed=7, **kwargs)
    again = simulate("nrc_tsimage", tmp_path / "b", seed=7, **kwargs)
    other = simulate("nrc_tsimage", tmp_path / "c", seed=8, **kwargs)
    assert digest(first) == digest(again)
    assert first.truth_path.read_text() == again.truth_path.read_text()
    with datamodels.open(first.files[0]) as a, datamodels.open(other.files[0]) as b:
        assert not np.array_equal(a.data, b.data, equal_nan=True)
    # A non-standard shape is a GENERIC subarray of that size.
    header = fits.getheader(first.files[0])
    assert (header["SUBARRAY"], header["SUBSIZE1"], header["SUBSIZE2"]) == ("GENERIC", 24, 16)


# ---------------------------------------------------------------- signals


def test_imaging_transit_depth_and_positions(sims):
    result = sims["nrc_tsimage"]
    truth = result.truth
    data = _without_crs(result, "NRCA3")
    x, y = np.array(truth["positions"]["x"]), np.array(truth["positions"]["y"])
    yy, xx = np.indices(data.shape[1:])
    r = np.hypot(xx - x.mean(), yy - y.mean())
    sky = np.nanmedian(data[:, r > 20], axis=1)
    clean = data - sky[:, None, None]
    flux = np.nansum(clean[:, r < 12], axis=1)
    model = np.array(truth["transit_model"])
    depth = 1 - model.min()
    assert depth == pytest.approx(0.011, abs=0.001)  # k^2 = 0.01 deepened by limb darkening
    out, inn = model > 1 - 1e-6, model < 1 - 0.8 * depth
    measured = 1 - flux[inn].mean() / flux[out].mean()
    expected = 1 - model[inn].mean()
    noise = flux[out].std() / flux[out].mean() * np.sqrt(1 / inn.sum() + 1 / out.sum())
    assert abs(measured - expected) < 4 * noise
    assert noise < 0.1 * expected  # the transit is clearly detected
    # Centroids follow the injected positions (drift + jitter).
    box = r < 6
    weight = np.clip(np.nan_to_num(clean[:, box]), 0, None)  # a bad pixel only adds a bias
    for centroid, true in ((weight @ xx[box], x), (weight @ yy[box], y)):
        error = centroid / weight.sum(axis=1) - true
        assert abs(np.median(error)) < 0.15
        assert np.mean(np.abs(error - np.median(error))) < 0.02  # drift + jitter tracked


@pytest.mark.parametrize("case", ["nrs_brightobj", "nrc_tsgrism"])
def test_spectral_transit_depth_and_trace(sims, case):
    result = sims[case]
    truth = result.truth
    detector = truth["detectors_list"][0]
    det = truth["detectors"][detector]
    data = _without_crs(result, detector)
    trace = np.array(det["trace_per_column"])
    rows = np.arange(data.shape[1])[:, None]
    near = np.abs(rows - trace[None, :]) < 6
    far = np.abs(rows - trace[None, :]) > 10
    sky = np.nanmedian(np.where(far, data, np.nan), axis=1)  # (n, ncols)
    clean = data - sky[:, None, :]
    white = np.nansum(np.where(near, clean, 0), axis=(1, 2))
    model = np.array(det["white_light_model"])
    out, inn = model > 1 - 1e-6, model < 1 - 0.8 * (1 - model.min())
    measured = 1 - white[inn].mean() / white[out].mean()
    expected = 1 - model[inn].mean()
    noise = white[out].std() / white[out].mean() * np.sqrt(1 / inn.sum() + 1 / out.sum())
    assert abs(measured - expected) < 4 * noise
    assert noise < 0.1 * expected
    # Per-column depth truth follows the depth spectrum parameters.
    lam = np.array(det["wavelength_per_column"], dtype=float)
    depth = np.array(det["depth_per_column"])
    p = truth["params"]
    ok = np.isfinite(lam)
    feature = p["feature_depth"] * np.exp(
        -0.5 * ((lam[ok] - p["feature_wavelength"]) / p["feature_width"]) ** 2
    )
    assert np.ptp(depth[ok]) > 0.5 * p["feature_depth"]
    assert np.all(np.abs(depth[ok] - p["depth"] - feature) <= abs(p["depth_slope"]) * 5)
    # The trace moves by the injected cross-dispersion offsets.
    has_bad = np.isnan(data[0]).any(axis=0)
    electrons = np.where(has_bad, 0, np.array(det["star_electrons_per_column"]))
    bright = np.argsort(electrons)[-20:]
    prof = np.clip(clean[:, :, bright], 0, None) * near[None, :, bright]
    centre = (prof * rows[None]).sum(axis=1) / prof.sum(axis=1) - trace[bright]
    offset = np.array(truth["positions"]["cross_dispersion_offset"])
    assert np.mean(np.abs(centre.mean(axis=1) - offset)) < 0.05


@pytest.mark.parametrize("case", ["nrs_brightobj", "g395h", "nrc_tsgrism", "mir_lrs-slitless"])
def test_wavelength_monotonic_and_in_range(sims, case):
    result = sims[case]
    for detector, (lo, hi) in BANDS[case].items():
        path = next(p for p in result.files if f"_{detector.lower()}_" in p.name)
        with datamodels.open(path) as model:
            wl = np.array(model.wavelength, dtype=float)
            dispaxis = model.meta.wcsinfo.dispersion_direction
        if dispaxis == 2:
            wl = wl.T  # rows of constant cross-dispersion position
        finite = np.isfinite(wl)
        assert finite.mean() > 0.5
        assert np.nanmin(wl) == pytest.approx(lo, abs=0.05)
        assert np.nanmax(wl) == pytest.approx(hi, abs=0.05)
        for row in wl:
            step = np.diff(row[np.isfinite(row)])
            assert np.all(step > 0) if dispaxis == 1 else np.all(step < 0)
        column = np.array(result.truth["detectors"][detector]["wavelength_per_column"], float)
        assert np.nanmin(column) >= lo - 1e-3 and np.nanmax(column) <= hi + 1e-3


def test_imaging_wcs_gives_target_at_reference_pixel(sims):
    result = sims["mir_image"]
    with datamodels.open(result.files[0]) as model:
        wcs = model.meta.wcs
        x0 = model.meta.wcsinfo.siaf_xref_sci - 1
        y0 = model.meta.wcsinfo.siaf_yref_sci - 1
        ra, dec = wcs(x0, y0)
        assert ra == pytest.approx(model.meta.target.ra, abs=1e-9)
        assert dec == pytest.approx(model.meta.target.dec, abs=1e-9)
        ra1, dec1 = wcs(x0 + 1, y0)
    step = np.hypot((ra1 - ra) * np.cos(np.radians(dec)), dec1 - dec) * 3600
    assert step == pytest.approx(0.11, rel=1e-3)  # MIRI imager pixel scale


def test_association_and_truth_file(sims):
    names = {}
    for case, result in sims.items():
        asn = json.loads(result.asn_path.read_text())
        assert asn["asn_type"] == "tso3" and asn["asn_rule"] == "candidate_Asn_Lv3TSO"
        assert asn["asn_id"] == "o004" and asn["program"] == "09001"
        assert asn["asn_pool"].endswith("_pool.csv")
        product = asn["products"][0]
        assert [m["expname"] for m in product["members"]] == [p.name for p in result.files]
        assert {m["exptype"] for m in product["members"]} == {"science"}
        truth = json.loads(result.truth_path.read_text())
        assert result.truth_path.name == f"{product['name']}_truth.json"
        assert len(truth["times"]["int_mid_mjd_utc"]) == truth["nints"]
        assert len(truth["transit_model"]) == truth["nints"]
        names[case] = product["name"]
    assert names["g395h"] == "jw09001-o004_t001_nirspec_f290lp-g395h-s1600a1-sub2048"
    assert names["mir_lrs-slitless"] == "jw09001-o004_t001_miri_p750l-slitlessprism"
    assert names["nrc_tsgrism"] == "jw09001-o004_t001_nircam_f322w2-grismr-subgrism64"
    assert len(sims["g395h"].files) == 4  # 2 segments x NRS1, NRS2 in one ASN


def test_lrs_fixed_slit_is_the_full_frame_with_light_only_in_the_slit(tmp_path):
    """MIR_LRS-FIXEDSLIT: spec2 keeps the FULL frame; wavelengths and the star are in the
    slit only (about 44 columns), the imager field around it sees only dispersed sky."""
    result = simulate("mir_lrs-fixedslit", tmp_path, nints=6, segments=2, seed=2)
    assert result.truth["nints"] == 6 and len(result.files) == 2
    with datamodels.open(result.files[0]) as model:
        assert type(model).__name__ == "SlitModel"
        assert model.meta.exposure.type == "MIR_LRS-FIXEDSLIT"
        assert model.meta.visit.tsovisit is True
        assert model.meta.subarray.name == "FULL"
        assert model.data.shape == (3, 1024, 1032)
        assert model.meta.wcsinfo.dispersion_direction == 2
        assert model.meta.dither.dithered_ra == model.meta.target.ra  # DITH_RA, for jwst
        assert model.meta.cal_step.pathloss == "COMPLETE"
        wl = np.array(model.wavelength, float)
        data = np.array(model.data[0], float)
    columns = np.flatnonzero(np.isfinite(wl).any(axis=0))
    assert columns[0] == 304 and columns[-1] == 347  # the slit's 44 columns
    rows = np.flatnonzero(np.isfinite(wl).any(axis=1))
    assert 3 <= rows[0] <= 8 and 390 <= rows[-1] <= 398
    assert np.nanmin(wl) == pytest.approx(5.0, abs=0.05)
    assert np.nanmax(wl) == pytest.approx(14.0, abs=0.05)
    band = slice(rows[0], rows[-1] + 1)
    star = np.nanmedian(data[band], axis=0)
    assert 320 <= np.nanargmax(star) <= 330  # the source sits in the slit, near x = 325
    sky_in, sky_out = np.nanmedian(star[306:312]), np.nanmedian(star[500:900])
    assert sky_out > 2 * sky_in  # the field sees the dispersed sky
    assert result.truth["product_name"] == "jw09001-o004_t001_miri_p750l"


def test_soss_superstripe_frames_and_stripe_times(tmp_path):
    """SUB680STRIPE_SOSS: SUBSTRIP256-sized frames of 3 stripes; INT_TIMES spans each
    frame's stripes (jwst's generate_stripe_int_times) and INT_TIMES_STRIPE keeps them."""
    result = simulate("nis_soss", tmp_path, nints=6, segments=2, seed=4,
                      subarray="SUB680STRIPE_SOSS")  # fmt: skip
    with fits.open(result.files[1]) as hdul:
        assert hdul[0].header["SUBARRAY"] == "SUB680STRIPE_SOSS"
        assert hdul[0].header["SUBSTRT2"] == 1793 and hdul["SCI"].shape == (3, 256, 2048)
        frames = hdul["INT_TIMES"].data
        stripes = hdul["INT_TIMES_STRIPE"].data
    assert frames["integration_number"].tolist() == [4, 5, 6]
    assert stripes["integration_number"].tolist() == [4, 4, 4, 5, 5, 5, 6, 6, 6]
    assert stripes["stripe_number"].tolist() == [1, 2, 3] * 3
    for scale in ("MJD_UTC", "BJD_TDB"):
        start, end = stripes[f"int_start_{scale}"], stripes[f"int_end_{scale}"]
        np.testing.assert_array_equal(frames[f"int_start_{scale}"], start[::3])
        np.testing.assert_array_equal(frames[f"int_end_{scale}"], end[2::3])
        np.testing.assert_allclose(frames[f"int_mid_{scale}"], (start[::3] + end[2::3]) / 2)
        assert np.all(start[1:] > end[:-1])  # stripes read one after the other
    # a stripe is a 684-column frame (680 + 4 reference columns) of the SUBSTRIP256 time
    stripe_s = (stripes["int_end_MJD_UTC"][0] - stripes["int_start_MJD_UTC"][0]) * 86400
    ngroups = fits.getheader(result.files[0])["NGROUPS"]
    assert stripe_s == pytest.approx(ngroups * 5.494 * 684 / 2048, rel=1e-6)
    # the transit is drawn at each column's stripe time (the frame's for reference columns)
    from tso3.io.stripes import stripe_layout
    from tso3.simulate.stripes import column_times, superstripe_times

    p, layout = {**result.truth["params"]}, stripe_layout("SUB680STRIPE_SOSS")
    frames_t, stripes_t = superstripe_times(6, layout, p)
    np.testing.assert_array_equal(frames_t.mid_bjd[3:], frames["int_mid_BJD_TDB"])
    when = column_times(stripes_t, frames_t, layout, 2048, "NIS")
    assert when.shape == (6, 2048)
    np.testing.assert_array_equal(when[3, [2043, 1364, 1363, 684, 683, 4]],
                                  stripes["int_mid_BJD_TDB"][[0, 0, 1, 1, 2, 2]])  # fmt: skip
    assert when[3, 0] == when[3, 2047] == frames["int_mid_BJD_TDB"][0]


@pytest.mark.parametrize(("subarray", "width"), [("SUB256M2_PRISM", 504), ("SUB32M16_PRISM", 448)])
def test_nirspec_prism_multistripe_frames(tmp_path, subarray, width):
    """PRISM multistripes: each raw integration reads one stripe of 512/n columns (4 of
    them reference), n of them make a frame of n (512/n - 4) science columns."""
    result = simulate("nrs_brightobj", tmp_path, nints=4, segments=1, seed=4, subarray=subarray)
    with fits.open(result.files[0]) as hdul:
        assert hdul[0].header["SUBARRAY"] == subarray
        assert hdul["SCI"].shape == (4, 32, width)
        stripes = hdul["INT_TIMES_STRIPE"].data
    count = {"SUB256M2_PRISM": 2, "SUB32M16_PRISM": 16}[subarray]
    assert len(stripes) == 4 * count and stripes["stripe_number"].max() == count
    with pytest.raises(ValueError, match="PRISM subarray"):
        simulate("nrs_brightobj", tmp_path / "g395h", nints=4, detectors=("NRS1", "NRS2"),
                 subarray=subarray)  # fmt: skip


def test_nircam_dhs_is_a_multislit_calints_with_a_slit_per_stripe(tmp_path):
    """NIRCam DHS (SUB164STRIPE4_DHS): calwebb_spec2 writes a MultiSlitModel, one slit
    per stripe with its own WAVELENGTH; INT_TIMES is the model's, kept in the ASDF tree."""
    result = simulate("nrc_tsgrism", tmp_path, nints=6, segments=2, seed=4,
                      subarray="SUB164STRIPE4_DHS")  # fmt: skip
    assert len(result.files) == 2 and set(result.truth["detectors"]) == {
        "STRIPE1", "STRIPE2", "STRIPE3", "STRIPE4"}  # fmt: skip
    with fits.open(result.files[1]) as hdul:
        assert hdul[0].header["PUPIL"] == "GDHS0" and hdul[0].header["DETECTOR"] == "NRCA1"
        assert hdul[0].header["SUBARRAY"] == "SUB164STRIPE4_DHS"
        sci = [h for h in hdul if h.name == "SCI"]
        assert [h.header["SLTNAME"] for h in sci] == ["1", "2", "3", "4"]
        assert [h.header["SLTSTRT2"] for h in sci] == [1, 42, 83, 124]
        assert all(h.shape == (3, 41, 1024) and h.header["DISPAXIS"] == 1 for h in sci)
        assert "INT_TIMES" not in hdul  # no FITS table for it in the MultiSlitModel schema
    with datamodels.open(result.files[1]) as model:
        assert type(model).__name__ == "MultiSlitModel" and len(model.slits) == 4
        assert model.int_times["integration_number"].tolist() == [4, 5, 6]
        wl = np.array(model.slits[2].wavelength)
    assert np.nanmin(wl) == pytest.approx(1.0, abs=0.05)
    assert np.nanmax(wl) == pytest.approx(2.3, abs=0.05)
