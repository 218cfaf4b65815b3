"""tso3.stages.soss, and NIS_SOSS through the whole run: traces, orders, products."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from scipy.ndimage import median_filter

import tso3
from tests.conftest import realdata_file
from tso3.dqflags import OTHER_BAD_PIXEL
from tso3.io.soss_models import default_soss_model
from tso3.stages.soss import predicted_orders, refined_traces
from tso3.steps.extract import box_extract, fit_aperture_background
from tso3.steps.soss import order_apertures

#: PWCPOS of the GR700XD model's commanded position range centre (the real frame's own
#: value is not known; the fitted global offset absorbs the difference).
PWCPOS = 245.79


@pytest.fixture(scope="module")
def wasp39_frame() -> np.ndarray:
    path = realdata_file("frames", "wasp39_niriss_soss_substrip256_medframe.npy")
    return np.load(path).astype(np.float64)


@pytest.fixture(scope="module")
def wasp39_traces(wasp39_frame):
    pred = predicted_orders(default_soss_model(), PWCPOS, wasp39_frame.shape, 1793, "SUBSTRIP256")
    return pred, refined_traces(wasp39_frame, {o: c for o, (c, _) in pred.items()}, True)


def test_real_frame_traces_follow_the_model_after_an_offset(wasp39_traces):
    pred, traces = wasp39_traces
    assert sorted(traces) == [1, 2]
    for order, min_columns in ((1, 1200), (2, 900)):
        measured = traces[order][1].measured
        resid = measured - pred[order][0]
        ok = np.isfinite(resid)
        assert ok.sum() >= min_columns
        offset = np.median(resid[ok])
        assert abs(offset) < 3.0
        dev = np.abs(resid[ok] - offset)
        assert np.median(dev) < 0.3, order
        assert np.mean(dev < 0.5) >= 0.8, order


def test_real_frame_box_extraction_is_smooth_without_nan(wasp39_frame, wasp39_traces):
    pred, traces = wasp39_traces
    centres = {o: c for o, (c, _) in traces.items()}
    apertures, overlap = order_apertures(wasp39_frame.shape, centres, width=40.0)
    ap = apertures[1]
    bkg = fit_aperture_background(wasp39_frame[None], None, None, None, ap)
    flux = box_extract(wasp39_frame[None], None, None, None, ap.profile, background=bkg)["flux"][0]
    on = np.isfinite(pred[1][1])
    assert on.sum() >= 2000
    spectrum = flux[on]
    assert np.isfinite(spectrum).all() and (spectrum > 0).all()
    smooth = median_filter(spectrum, 15)
    local = np.abs(spectrum - smooth) / smooth
    assert np.median(local) < 0.01 and np.percentile(local, 99) < 0.10
    assert 200 < overlap[1].sum() < 1200  # the red end of order 1 shares its box


def _product(out, suffix):
    (path,) = out.glob(f"*{suffix}")
    return path


@pytest.fixture(scope="module")
def soss_run(simulated, tmp_path_factory):
    sim = simulated("nis_soss")
    out = tmp_path_factory.mktemp("soss_out")
    result = tso3.run(sim.asn_path, out, plots=True, quiet=True, overrides=["white_light.nbins=8"])
    return sim, out, result


def test_soss_products_hold_both_orders(soss_run):
    sim, out, _ = soss_run
    x1d = _product(out, "_x1dints.fits")
    with fits.open(x1d) as hdul:
        assert hdul[0].header["FILENAME"] == x1d.name  # not the name it was staged under
        spec = [h for h in hdul if h.name == "EXTRACT1D"]
        assert [h.header["SPORDER"] for h in spec] == [1, 2, 1, 2]  # per segment: orders
        for h in spec:
            assert h.columns["FLUX"].unit == "DN/s"
            assert np.isfinite(h.data["FLUX"]).all()
            flagged = (h.data["DQ"] & OTHER_BAD_PIXEL) != 0
            assert 0 < flagged[0].sum() < flagged.shape[1]
        truth = sim.truth["detectors"]["NIS"]["orders"]
        for h, order in zip(spec[:2], ("1", "2"), strict=True):
            lam = np.asarray(truth[order]["wavelength_per_column"], float)
            np.testing.assert_allclose(h.data["WAVELENGTH"][0], lam[np.isfinite(lam)], atol=1e-9)
    white = Table.read(_product(out, "_whtlt.ecsv"))
    assert white.colnames[:3] == ["MJD_UTC", "BJD_TDB", "whitelight_flux_order_1"]
    assert "whitelight_flux_order_2" in white.colnames
    with fits.open(_product(out, "_speclc.fits")) as hdul:
        assert [h.header["SPORDER"] for h in hdul if h.name == "SPECLC"] == [1, 2]
    plots = {p.name for p in next(out.glob("*_plots")).iterdir()}
    assert {"median_frame_order1.png", "median_frame_order2.png"} <= plots


def test_soss_white_light_transits_in_both_orders(soss_run):
    sim, out, _ = soss_run
    white = Table.read(_product(out, "_whtlt.ecsv"))
    for order, entry in sim.truth["detectors"]["NIS"]["orders"].items():
        model = np.asarray(entry["white_light_model"], float)
        flux = np.asarray(white[f"whitelight_flux_order_{order}"], float)
        oot = model > 1 - 1e-6
        y = flux / np.median(flux[oot]) - 1
        k = np.sum((model - 1) * y) / np.sum((model - 1) ** 2)
        assert k == pytest.approx(1.0, abs=0.02), order


def test_soss_trace_offset_is_found(soss_run, caplog):
    sim, out, result = soss_run
    log = _product(out, "_tso3.log").read_text()
    # the simulator moves the traces by trace_offset + the pointing's cross offset
    p = sim.truth["params"]
    expected = p["trace_offset"] + p["pointing_offset"][1]
    for order in (1, 2):
        line = next(x for x in log.splitlines() if f"SOSS order {order}: trace offset" in x)
        found = float(line.split("trace offset")[1].split("px")[0])
        assert found == pytest.approx(expected, abs=0.1)


def test_substrip96_has_order_1_only(simulated, tmp_path):
    sim = simulated("nis_soss", shape=(96, 2048), nints=16)
    tso3.run(sim.asn_path, tmp_path, plots=False, quiet=True)
    with fits.open(_product(tmp_path, "_x1dints.fits")) as hdul:
        assert {h.header["SPORDER"] for h in hdul if h.name == "EXTRACT1D"} == {1}
        assert fits.getheader(sim.files[0])["SUBARRAY"] == "SUBSTRIP96"
    assert "whitelight_flux" in Table.read(_product(tmp_path, "_whtlt.ecsv")).colnames


def test_jwst_mode_moves_the_model_by_one_offset(soss_run, tmp_path):
    sim, out, _ = soss_run
    tso3.run(sim.asn_path, tmp_path, plots=False, quiet=True, mode="jwst")
    with (
        fits.open(_product(tmp_path, "_x1dints.fits")) as j,
        fits.open(_product(out, "_x1dints.fits")) as d,
    ):
        for a, b in zip(j[2:4], d[2:4], strict=True):
            assert a.header["SPORDER"] == b.header["SPORDER"]
            assert np.all(a.data["BACKGROUND"] == 0)  # jwst leaves the background to spec2
            # the same box, with the background light still in it
            ratio = np.nanmedian(a.data["FLUX"] / b.data["FLUX"])
            assert 1.0 < ratio < 1.3


def _soss_segment(directory, **keywords):
    """A small NIS_SOSS calints whose primary header has ``keywords`` (None: removed)."""
    from tests.builders import make_segment

    directory.mkdir(parents=True, exist_ok=True)
    path = make_segment(directory, exp_type="NIS_SOSS", detector="NIS")
    base = {"FILTER": "CLEAR", "PUPIL": "GR700XD", "PWCPOS": 245.79, "SUBARRAY": "SUBSTRIP256"}
    with fits.open(path, mode="update") as hdul:
        for key, value in {**base, **keywords}.items():
            if value is None:
                hdul[0].header.remove(key, ignore_missing=True)
            else:
                hdul[0].header[key] = value
    return path


@pytest.mark.parametrize(
    "keywords, needle",
    [
        ({"FILTER": "F277W"}, "FILTER=F277W"),
        ({"PWCPOS": None}, "without PWCPOS"),
        ({"PWCPOS": 250.0}, "PWCPOS=250.0 is outside"),
        ({"SUBARRAY": "SUBSTRIP512"}, "SUBARRAY=SUBSTRIP512"),
        ({"PUPIL": "CLEARP"}, "PUPIL=CLEARP"),
    ],
)
def test_bad_soss_headers_exit_2(tmp_path, keywords, needle):
    from tests.test_pipeline import _outputs, tso3

    path = _soss_segment(tmp_path / "in", **keywords)
    before = path.read_bytes()
    proc = tso3("run", path, "-o", tmp_path / "out")
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr and path.name in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert _outputs(tmp_path / "out") == [] and path.read_bytes() == before


def test_bad_soss_references_exit_2(tmp_path):
    from tests.builders import write_pastasoss_reference
    from tests.test_pipeline import _outputs, tso3

    path = _soss_segment(tmp_path / "in")
    missing = tmp_path / "jwst_niriss_pastasoss_9999.asdf"
    malformed = write_pastasoss_reference(tmp_path / "no_order2.asdf", drop_order=2)
    garbage = tmp_path / "spectrace.fits"
    garbage.write_bytes(b"SIMPLE  = not a fits file")
    cases = [
        (f"extract_1d.override_pastasoss={missing}", "not found"),
        (f"extract_1d.override_pastasoss={malformed}", "order 2 missing"),
        (f"extract_1d.override_spectrace={garbage}", "cannot read as a SpecTraceModel"),
    ]
    for setting, needle in cases:
        proc = tso3("run", path, "-o", tmp_path / "out", "--set", setting)
        assert proc.returncode == 2, proc.stderr
        assert needle in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
        assert _outputs(tmp_path / "out") == []


def test_box_width_settings_of_other_modes_are_not_ignored_silently(simulated, tmp_path, caplog):
    """extract_width does not size the SOSS boxes, soss_width no other mode's box: a
    warning says so."""
    from tso3 import run

    soss = simulated("nis_soss")
    run(soss.asn_path, tmp_path / "a", overrides=["extract_1d.extract_width=6"], plots=False,
        quiet=True)  # fmt: skip
    assert "extract_width does not apply to NIS_SOSS" in caplog.text
    nrs = simulated("nrs_brightobj")
    run(nrs.asn_path, tmp_path / "b", overrides=["extract_1d.soss_width=30"], plots=False,
        quiet=True)  # fmt: skip
    assert "soss_width applies to NIS_SOSS only: ignored for NRS_BRIGHTOBJ" in caplog.text
