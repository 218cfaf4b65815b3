"""End to end: every simulated mode through the ``tso3`` command (subprocess), every
product opened and compared with the simulator's truth."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import warnings
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable
from matplotlib import image as mpimg
from stdatamodels.jwst import datamodels

from tso3 import __version__ as TSO3_VERSION
from tso3.cli import main
from tso3.simulate import simulate

MODES = {
    # mode: (simulate kwargs, detectors)
    "nrc_tsimage": ({"nints": 120, "segments": 3}, 1),
    "mir_image": ({"nints": 80, "segments": 2}, 1),
    "nrs_brightobj": ({"nints": 120, "segments": 3}, 1),
    "nrs_g395h": ({"nints": 60, "segments": 2, "detectors": ("NRS1", "NRS2")}, 2),
    "nrc_tsgrism": ({"nints": 80, "segments": 2}, 1),
    "mir_lrs-slitless": ({"nints": 60, "segments": 2}, 1),
    "mir_lrs-fixedslit": ({"nints": 20, "segments": 2}, 1),  # FULL frames: 25 MB each
}


def tso3(*args, cwd=None) -> subprocess.CompletedProcess:
    """Run the command line as the ``tso3`` script does, in this interpreter: the same
    parsing, messages and exit status without a new interpreter's start-up (about 1.5 s
    a call).  The ``runs`` fixture and the README sequence run it in fresh ones."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd or os.getcwd()), redirect_stdout(out), redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse's usage errors and --help
            code = exc.code if isinstance(exc.code, int) else 2
    return subprocess.CompletedProcess(["tso3", *args], code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Simulate each mode and run ``tso3 run ASN -o DIR`` on it once (the runs side by
    side: each spends a good part of its time starting up and writing, one core each)."""
    started = {}
    for case, (kwargs, _) in MODES.items():
        root = tmp_path_factory.mktemp(case)
        mode = "nrs_brightobj" if case == "nrs_g395h" else case
        sim = simulate(mode, root / "in", seed=3, **kwargs)
        command = [sys.executable, "-m", "tso3", "run", sim.asn_path, "-o", root / "out", "-q"]
        process = subprocess.Popen(list(map(str, command)), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)  # fmt: skip
        started[case] = (sim, root / "out", process)
    out = {}
    for case, (sim, folder, process) in started.items():
        stdout, stderr = process.communicate(timeout=600)
        done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        out[case] = (sim, folder, done)
    return out


def _product(out_dir, suffix):
    found = sorted(out_dir.glob(f"*{suffix}"))
    assert len(found) == 1, f"expected one *{suffix} in {out_dir}: {found}"
    return found[0]


def _transit_scale(flux, model):
    """Least-squares k in flux/oot = 1 - k (1 - model): 1 means the injected depth."""
    flux = np.asarray(flux, dtype=float)
    model = np.asarray(model, dtype=float)
    oot = model > 1 - 1e-9
    assert oot.sum() > 5 and (~oot).sum() > 5, "simulation must contain in- and out-of-transit"
    y = flux / np.nanmedian(flux[oot]) - 1
    x = model - 1
    good = np.isfinite(y)
    k = np.sum(x[good] * y[good]) / np.sum(x[good] ** 2)
    resid = y[good] - k * x[good]
    return k, np.std(resid)


@pytest.mark.parametrize("case", list(MODES))
def test_run_succeeds_quietly(runs, case):
    _, _, proc = runs[case]
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("case", list(MODES))
def test_crfints_flag_injected_cosmic_rays(runs, case):
    sim, out, _ = runs[case]
    crfints = sorted(out.glob("*_crfints.fits"))
    assert len(crfints) == len(sim.files)
    for det, entry in sim.truth["detectors"].items():
        files = [p for p in crfints if f"_{det.lower()}_" in p.name]
        dq = np.concatenate([fits.getdata(p, "DQ") for p in files])
        strong = [(t, y, x) for t, y, x, _, sigma in entry["cosmic_rays"] if sigma > 10]
        assert strong
        # DO_NOT_USE everywhere; OUTLIER unless the pixel was already unusable
        assert all(dq[t, y, x] & 1 for t, y, x in strong)
        assert np.mean([bool(dq[t, y, x] & 16) for t, y, x in strong]) > 0.95
        with fits.open(files[0]) as hdul:
            assert hdul[0].header["S_OUTLIR"] == "COMPLETE"
            assert hdul[0].header["TSO3VER"]


@pytest.mark.parametrize("case", list(MODES))
def test_every_jwst_product_opens_with_stdatamodels(runs, case):
    """crfints and x1dints are written without stdatamodels: jwst's reader must still
    give the model types and the values astropy reads."""
    sim, out, _ = runs[case]
    for path in sorted(out.glob("*_crfints.fits")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = datamodels.open(path)
        with model, fits.open(path) as hdul:
            assert type(model).__name__ == hdul[0].header["DATAMODL"]
            assert model.meta.cal_step.outlier_detection == "COMPLETE"
            np.testing.assert_array_equal(model.dq, hdul["DQ"].data)
            # the software that made it is tso3; the inputs' jwst version is kept apart
            assert hdul[0].header["CAL_VER"] == f"tso3 {TSO3_VERSION}"
            assert hdul[0].header["CALVERIN"] == "1.18.0"
    x1d = sorted(out.glob("*_x1dints.fits"))
    for path in x1d:
        with datamodels.open(path) as model, fits.open(path) as hdul:
            assert type(model).__name__ == "TSOMultiSpecModel"
            assert model.meta.filename == path.name
            assert len(model.spec) == sum(h.name == "EXTRACT1D" for h in hdul)
            # tso3's additions: the trace time series and the trace itself
            assert {"TSO3_TRACE", "TSO3_TRACE_CENTRE"} <= {h.name for h in hdul}
            assert hdul[-1].name == "ASDF"  # last, as jwst writes it
            assert model.meta.calibration_software_version == f"tso3 {TSO3_VERSION}"
            assert hdul[0].header["CALVERIN"] == "1.18.0"
            for k, spec in enumerate(model.spec, start=1):
                table = hdul["EXTRACT1D", k].data
                np.testing.assert_array_equal(spec.spec_table["FLUX"], table["FLUX"])
                assert spec.spectral_order == hdul["EXTRACT1D", k].header["SPORDER"]
    assert len(x1d) == (0 if case in ("nrc_tsimage", "mir_image") else 1)


@pytest.mark.parametrize("case", ["nrc_tsimage", "mir_image"])
def test_photometry_recovers_transit_and_centroids(runs, case):
    sim, out, _ = runs[case]
    table = QTable.read(_product(out, "_phot.ecsv"))
    n = sim.truth["nints"]
    assert len(table) == n
    assert table["net_aperture_sum"].unit in ("Jy", "electron")
    assert np.all(np.diff(table["MJD"]) > 0)
    k, rms = _transit_scale(table["net_aperture_sum"].value, sim.truth["transit_model"])
    depth = sim.truth["params"]["depth"]
    err = rms / depth / np.sqrt(n / 4)  # depth error with ~quarter of points in transit
    assert abs(k - 1) < max(5 * err, 0.03), (k, err)
    # the centroid follows the injected drift and jitter
    x = np.asarray(sim.truth["positions"]["x"])
    cx = table["centroid_x"].value
    offset = np.median(cx - x)
    assert np.std(cx - x - offset) < 0.03  # photon-limited here; 0.02 px: test_photometry
    assert table.meta["number_of_integrations"] == n
    assert table.meta["tso3"]["parameters"]["tso_photometry"]["radius"] == [3.0]


@pytest.mark.parametrize(
    "case", ["nrs_brightobj", "nrs_g395h", "nrc_tsgrism", "mir_lrs-slitless", "mir_lrs-fixedslit"]
)
def test_spectra_and_white_light(runs, case):
    sim, out, _ = runs[case]
    ndet = MODES[case][1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = datamodels.open(_product(out, "_x1dints.fits"))
    with model:
        assert type(model).__name__ == "TSOMultiSpecModel"
        assert len(model.spec) == len(sim.files)  # one per segment and detector
        assert model.meta.cal_step.outlier_detection == "COMPLETE"
        int_num = np.concatenate(
            [s.spec_table["INT_NUM"] for s in model.spec[: len(model.spec) // ndet]]
        )
        assert np.array_equal(int_num, np.arange(1, sim.truth["nints"] + 1))
        assert model.spec[0].spec_table.columns["FLUX"].unit == "Jy"
        flux = model.spec[0].spec_table["FLUX"]
        assert np.isfinite(flux).mean() > 0.5
    table = QTable.read(_product(out, "_whtlt.ecsv"))
    flux_cols = [c for c in table.colnames if c.startswith("whitelight_flux") and "_err" not in c]
    assert len(flux_cols) == ndet
    if case.startswith("nrs"):
        assert all(c.endswith(("_NRS1", "_NRS2")) for c in flux_cols)
    assert table.meta["number_of_integrations"] == sim.truth["nints"]
    for col in flux_cols:
        k, rms = _transit_scale(table[col].value, sim.truth["transit_model"])
        # white-light depth differs from the reference-wavelength depth by the injected
        # slope and feature; allow 15 %
        assert abs(k - 1) < 0.15, (col, k)
        err_col = col.replace("whitelight_flux", "whitelight_flux_err")
        rel_err = np.nanmedian(table[err_col].value / table[col].value)
        assert 0.5 < rms / rel_err < 2.0, (rms, rel_err)  # errors describe the scatter


@pytest.mark.parametrize("case", list(MODES))
def test_plots_exist_and_are_not_blank(runs, case):
    _, out, _ = runs[case]
    plot_dir = next(out.glob("*_plots"))
    pngs = sorted(plot_dir.glob("*.png"))
    expected = 3 if case in ("nrc_tsimage", "mir_image") else 5
    assert len(pngs) >= expected
    for png in pngs:
        img = mpimg.imread(png)
        assert img.shape[0] > 200 and img.shape[1] > 200
        assert np.std(img[..., :3]) > 0.02, f"{png.name} looks blank"


def test_log_records_version_and_parameters(runs):
    _, out, _ = runs["nrs_brightobj"]
    text = _product(out, "_tso3.log").read_text()
    assert "tso3 " in text and "rolling_window_width" in text


def test_whitelight_command_reproduces_run(runs, tmp_path):
    _, out, _ = runs["nrs_brightobj"]
    x1d = _product(out, "_x1dints.fits")
    proc = tso3("whitelight", x1d, "-o", tmp_path, "--set", "white_light.nbins=10", "--quiet")
    assert proc.returncode == 0, proc.stderr
    mine = QTable.read(_product(tmp_path, "_whtlt.ecsv"))
    ref = QTable.read(_product(out, "_whtlt.ecsv"))
    np.testing.assert_allclose(
        mine["whitelight_flux_NRS1"].value, ref["whitelight_flux_NRS1"].value, rtol=1e-12
    )
    with fits.open(_product(tmp_path, "_speclc.fits")) as hdul:
        assert hdul["SPECLC"].data["FLUX"].shape == (len(ref), 10)


def test_overwrite_refused_then_allowed(runs):
    sim, out, _ = runs["mir_image"]
    before = {p: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()}
    proc = tso3("run", sim.asn_path, "-o", out, "--no-plots")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--overwrite" in proc.stderr
    assert {p: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()} == before
    proc = tso3("run", sim.asn_path, "-o", out, "--overwrite", "--no-plots", "--quiet")
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("small")
    return simulate("nrc_tsimage", root / "in", nints=40, segments=2, seed=9)


def _outputs(path):
    return sorted(p.name for p in path.rglob("*")) if path.exists() else []


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--set", "outlier_detection.snr=-1"], "snr"),
        (["--set", "outlier_detection.nonsense=3"], "nonsense"),
        (["--set", "no_equals_sign"], "no_equals_sign"),
        (["--config", "missing.toml"], "missing.toml"),
        (["--set", "outlier_detection.good_bits=FOO"], "good_bits"),
        (["--set", "white_light.nbins=0"], "nbins"),
        (["--set", "extract_1d.override_extract1d=none.json"], "none.json"),
        (["--skip", "nonsense"], "nonsense"),
    ],
)
def test_bad_parameters_exit_2_without_outputs(small, tmp_path, args, needle):
    out = tmp_path / "out"
    proc = tso3("run", small.asn_path, "-o", out, *args, cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in proc.stderr
    assert not any(p.suffix in (".fits", ".ecsv", ".png") for p in out.rglob("*"))


def test_bad_input_file_exit_2_inputs_untouched(small, tmp_path):
    broken = tmp_path / "jw09001004001_04101_00001-seg003_nrca3_calints.fits"
    broken.write_bytes(small.files[0].read_bytes()[:20000])  # truncated copy
    stamps = {p: p.stat().st_mtime_ns for p in small.files}
    out = tmp_path / "out"
    proc = tso3("run", *small.files, broken, "-o", out)
    assert proc.returncode == 2
    assert str(broken.name) in proc.stderr and proc.stderr.count("\n") == 1
    assert _outputs(out) == []
    assert {p: p.stat().st_mtime_ns for p in small.files} == stamps


def test_config_and_set_precedence(small, tmp_path):
    config = tmp_path / "tso3.toml"
    config.write_text(
        "[outlier_detection]\nrolling_window_width = 11\nsnr = 6.0\n"
        "[tso_photometry]\nradius = [3.0, 4.5]\n"
    )
    out = tmp_path / "out"
    proc = tso3(
        "run", small.asn_path, "-o", out, "--config", config,
        "--set", "outlier_detection.rolling_window_width=15", "--quiet", "--no-plots",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    header = fits.getheader(sorted(out.glob("*_crfints.fits"))[0])
    assert header["TSO3RWW"] == 15  # --set beats the config file
    assert header["TSO3SNR"] == 6.0  # the config file beats the default
    table = QTable.read(_product(out, "_phot.ecsv"))
    assert "net_aperture_sum_r4.5" in table.colnames
    recorded = table.meta["tso3"]["parameters"]["outlier_detection"]
    assert recorded["rolling_window_width"] == 15 and recorded["snr"] == 6.0


def test_skip_outliers_and_jwst_mode(small, tmp_path):
    out = tmp_path / "out"
    proc = tso3(
        "run", small.asn_path, "-o", out, "--skip", "outlier_detection", "--mode", "jwst",
        "--quiet", "--no-plots",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert not list(out.glob("*_crfints.fits"))
    table = QTable.read(_product(out, "_phot.ecsv"))
    assert "n_repaired" not in table.colnames  # jwst mode drops, does not repair
    assert table.meta["tso3"]["mode"] == "jwst"


def test_python_api_mirrors_cli(small, tmp_path):
    import tso3 as package

    result = package.run(small.asn_path, tmp_path, plots=False, quiet=True)
    assert result.phot is not None and result.phot.exists()
    assert [p.exists() for p in result.crfints] == [True, True]
    assert result.summary["integrations"] == 40
    assert np.isfinite(result.summary["scatter_ppm"])


def test_folder_input_and_info(small, tmp_path):
    proc = tso3("run", small.files[0].parent, "-o", tmp_path, "--quiet", "--no-plots")
    assert proc.returncode == 0, proc.stderr
    info = tso3("info", _product(tmp_path, "_phot.ecsv").parent / small.asn_path.name)
    assert info.returncode in (0, 2)  # the ASN is not in tmp_path: a clean error at worst
    info = tso3("info", small.asn_path)
    assert info.returncode == 0 and "NRC_TSIMAGE" in info.stdout
    info = tso3("info", _product(tmp_path, "_phot.ecsv"))
    assert info.returncode == 0 and "net_aperture_sum [" in info.stdout and "40 rows" in info.stdout


def test_bad_metadata_tree_exit_2_without_outputs(small, tmp_path):
    """A broken ASDF tree is found only when the models are parsed, which a run does
    while it already copies the crfints: still one line, no outputs, no leftovers."""
    files = []
    for path in small.files:
        files.append(tmp_path / path.name)
        files[-1].write_bytes(path.read_bytes())
    with fits.open(files[1], mode="update") as hdul:
        tree = hdul["ASDF"].data["ASDF_METADATA"][0]
        tree[40:200] = ord("x")  # garbage in the YAML header
    stamps = {p: p.stat().st_mtime_ns for p in files}
    out = tmp_path / "out"
    proc = tso3("run", *files, "-o", out)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert files[1].name in proc.stderr and "not a valid JWST data model" in proc.stderr
    assert not out.exists()  # not even the folder the run made, nor hidden temporaries
    assert {p: p.stat().st_mtime_ns for p in files} == stamps


def test_demo_runs(tmp_path):
    proc = tso3("demo", "-o", tmp_path / "demo")
    assert proc.returncode == 0, proc.stderr
    assert "Products are in" in proc.stdout
    products = tmp_path / "demo" / "products"
    assert list(products.glob("*_x1dints.fits")) and list(products.glob("*_whtlt.ecsv"))
    assert list(products.glob("*_speclc.fits"))
    truth = json.loads(next((tmp_path / "demo" / "input").glob("*truth.json")).read_text())
    assert truth["nints"] >= 200


def test_unsupported_mode_and_mixed_inputs_exit_2(small, tmp_path):
    from tests.builders import make_segment

    (tmp_path / "wfss").mkdir()
    wfss = make_segment(tmp_path / "wfss", exp_type="NIS_WFSS", detector="NIS")
    proc = tso3("run", wfss, "-o", tmp_path / "out")
    assert proc.returncode == 2 and "NIS_WFSS" in proc.stderr and proc.stderr.count("\n") == 1
    proc = tso3("run", small.files[0].parent, small.asn_path, "-o", tmp_path / "out")
    assert proc.returncode == 2 and "folder must be the only input" in proc.stderr
    assert _outputs(tmp_path / "out") == []


def test_whitelight_command_refuses_other_steps(runs, tmp_path):
    _, out, _ = runs["nrs_brightobj"]
    x1d = _product(out, "_x1dints.fits")
    proc = tso3("whitelight", x1d, "-o", tmp_path, "--set", "outlier_detection.snr=3")
    assert proc.returncode == 2 and "white_light" in proc.stderr
    assert _outputs(tmp_path) == []


def test_log_and_provenance_of_binned_curves(runs, tmp_path):
    sim, out, _ = runs["nrs_brightobj"]
    text = _product(out, "_tso3.log").read_text()
    assert "timings [s]" in text and "light-curve scatter" in text
    proc = tso3("run", sim.asn_path, "-o", out, "--no-plots")  # the log exists: refused
    assert proc.returncode == 2
    x1d = _product(out, "_x1dints.fits")
    assert fits.getheader(x1d)["TSO3MODE"] == "default"
    proc = tso3("whitelight", x1d, "-o", tmp_path, "--set", "white_light.bin_width=0.5")
    assert proc.returncode == 0, proc.stderr
    assert fits.getheader(_product(tmp_path, "_speclc.fits"))["TSO3VER"]
    table = QTable.read(_product(tmp_path, "_whtlt.ecsv"))
    assert table.meta["tso3"]["parameters"]["white_light"]["bin_width"] == 0.5


def test_transmission_spectrum_recovered_within_errors(runs, tmp_path):
    sim, out, _ = runs["nrs_brightobj"]
    proc = tso3("whitelight", _product(out, "_x1dints.fits"), "-o", tmp_path,
                "--set", "white_light.bin_edges=1.0,1.6,2.2,2.8,3.4,4.0,4.6,5.2")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    with fits.open(_product(tmp_path, "_speclc.fits")) as hdul:
        flux = hdul["SPECLC"].data["FLUX"].astype(float)
        edges = np.append(hdul["BINS"].data["WAVE_LO"], hdul["BINS"].data["WAVE_HI"][-1])
    truth = sim.truth["detectors"]["NRS1"]
    lam = np.asarray(truth["wavelength_per_column"], dtype=float)
    depth = np.asarray(truth["depth_per_column"], dtype=float)
    weight = np.asarray(truth["star_electrons_per_column"], dtype=float)
    white = np.asarray(sim.truth["transit_model"], dtype=float)
    shape = (1 - white) / sim.truth["params"]["depth"]  # transit shape for unit depth
    oot = shape < 1e-9
    pulls = []
    for b in range(flux.shape[1]):
        y = flux[:, b] / np.median(flux[oot, b]) - 1
        fit = -np.sum(shape * y) / np.sum(shape**2)
        resid = y + fit * shape
        sigma = np.std(resid[oot]) / np.sqrt(np.sum(shape**2))
        inside = (lam >= edges[b]) & (lam < edges[b + 1]) & np.isfinite(depth)
        expected = np.average(depth[inside], weights=weight[inside])
        pulls.append((fit - expected) / sigma)
    pulls = np.array(pulls)
    assert np.all(np.abs(pulls) < 4), pulls  # every bin within 4 sigma
    assert np.sqrt(np.mean(pulls**2)) < 2.5, pulls  # and errors of the right size


def test_extract1d_reference_file(runs, tmp_path):
    sim, _, _ = runs["nrs_brightobj"]
    centre = float(np.median(sim.truth["detectors"]["NRS1"]["trace_per_column"]))
    ref = {
        "apertures": [
            {
                "id": "S1600A1",
                "region_type": "target",
                "xstart": 20,
                "xstop": 470,
                "ystart": round(centre) - 4,
                "ystop": round(centre) + 4,
                "bkg_coeff": [[0.5], [4.5], [26.5], [31.5]],
                "bkg_fit": "poly",
                "bkg_order": 0,
            }
        ]
    }
    path = tmp_path / "extract1d.json"
    path.write_text(json.dumps(ref))
    out = tmp_path / "out"
    proc = tso3("run", sim.asn_path, "-o", out, "--no-plots", "--quiet",
                "--set", f"extract_1d.override_extract1d={path}")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = datamodels.open(_product(out, "_x1dints.fits"))
    with model:
        spec = model.spec[0]
        assert spec.extraction_ystart == pytest.approx(round(centre) - 4 + 1)
        assert spec.extraction_ystop == pytest.approx(round(centre) + 4 + 1)
        assert spec.extraction_xstart == pytest.approx(21)
        assert np.all(spec.spec_table["NPIXELS"][:, 30:400] == pytest.approx(9.0))
    table = QTable.read(_product(out, "_whtlt.ecsv"))
    k, _ = _transit_scale(table["whitelight_flux_NRS1"].value, sim.truth["transit_model"])
    assert abs(k - 1) < 0.15


def test_optimal_extraction_end_to_end(runs, tmp_path):
    """Optimal extraction on a bright, drifting, undersampled trace: the profile follows
    the trace, so the white light stays within a few times the box's scatter (an unmoved
    profile gave ~25x)."""
    sim, out, _ = runs["nrs_brightobj"]
    proc = tso3("run", sim.asn_path, "-o", tmp_path, "--no-plots", "--quiet",
                "--set", "extract_1d.extraction_type=optimal")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    model = np.asarray(sim.truth["transit_model"])
    scatter = {}
    for name, folder in (("box", out), ("optimal", tmp_path)):
        flux = QTable.read(_product(folder, "_whtlt.ecsv"))["whitelight_flux_NRS1"].value
        _, scatter[name] = _transit_scale(flux, model)
    assert scatter["optimal"] < 4 * scatter["box"], scatter


def test_a_spectroscopic_run_loads_no_schema_machinery(simulated, tmp_path):
    """The start-up the speed depends on: a run whose spectra carry WAVELENGTH images
    imports neither stdatamodels nor gwcs (no model, no ASDF tree turned into a WCS),
    nor photutils. (asdf itself is imported by astropy.table's I/O registry.)"""
    sim = simulated("nrs_brightobj")
    code = (
        "import sys, tso3\n"
        f"tso3.run({str(sim.asn_path)!r}, {str(tmp_path / 'out')!r}, plots=False, quiet=True)\n"
        "loaded = [m for m in ('stdatamodels', 'gwcs', 'photutils', 'matplotlib')"
        " if m in sys.modules]\n"
        "print(','.join(loaded) or 'none')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "none"
    assert len(list((tmp_path / "out").glob("*_x1dints.fits"))) == 1


@pytest.mark.parametrize("case", ["nrs_brightobj", "nrs_g395h"])
def test_the_trace_itself_is_recorded(runs, case):
    """TSO3_TRACE_CENTRE: one row per detector and order, the fitted cross-dispersion
    centre at every dispersion pixel, inside the frame where light was extracted."""
    _, out, _ = runs[case]
    with fits.open(_product(out, "_x1dints.fits")) as hdul:
        table = hdul["TSO3_TRACE_CENTRE"].data
        ny = hdul[0].header.get("SUBSIZE2") or 32
        detectors = {h.header["DETECTOR"] for h in hdul if h.name == "EXTRACT1D"}
        assert sorted(table["DETECTOR"]) == sorted(detectors) and set(table["SPORDER"]) == {1}
        for row in table:
            centre = row["CENTRE"][64:448]
            assert np.all(np.isfinite(centre)) and np.all((centre > 0) & (centre < ny))
            assert np.array_equal(row["PIXEL"], np.arange(row["PIXEL"].size))
