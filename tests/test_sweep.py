"""``tso3 sweep``: a grid scored from one read per outlier setting, honestly."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from tso3.cli import main
from tso3.io.lightcurves import read_speclc
from tso3.pipeline import run
from tso3.simulate import simulate
from tso3.stages.scoring import SCORE_NAMES, light_curve_scores
from tso3.sweeping import sweep

GRID = ["extract_1d.extract_width=5,9", "extract_1d.repair=true,false",
        "outlier_detection.snr=4,6"]  # fmt: skip


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    sim = simulate("nrs_brightobj", root / "in", nints=80, segments=2, seed=6)
    table = sweep(sim.asn_path, root / "out", vary=GRID, score="white_mad+spec_mad",
                  overrides=["white_light.nbins=6"], quiet=True)  # fmt: skip
    return sim, root, table


def test_every_configuration_scores_what_a_run_with_it_gives(swept):
    """The sweep's numbers are those of ``tso3 run`` with each configuration: repaired
    and dropped pixels, two outlier settings (two passes), two widths."""
    sim, root, table = swept
    assert len(table) == 8 and sorted(table["rank"]) == list(range(1, 9))
    for row in table[[0, 3, 5, 6]]:
        settings = [f"{name}={str(row[name]).lower()}" for name in table.meta["varied"]]
        result = run(sim.asn_path, root / f"run{row['config']}", plots=False, quiet=True,
                     overrides=[*settings, "white_light.nbins=6"])  # fmt: skip
        scores = light_curve_scores(Table.read(result.whtlt), read_speclc(result.speclc))
        for name in SCORE_NAMES:
            assert row[name] == pytest.approx(scores[name], rel=1e-6), (settings, name)


def test_products_rank_and_best_config_reproduces_the_best(swept):
    sim, root, table = swept
    out = root / "out"
    product = sim.truth["product_name"]
    written = Table.read(out / f"{product}_sweep.ecsv")
    assert written.colnames[:4] == ["config", *table.meta["varied"]]
    assert (out / f"{product}_sweep.png").stat().st_size > 10_000
    combined = written["white_mad_ppm"] + written["spec_mad_ppm"]
    assert np.all(np.diff(combined[np.argsort(written["rank"])]) >= 0)  # ranked by the score
    best = written[np.argmin(written["rank"])]
    result = run(sim.asn_path, root / "best", config=out / f"{product}_best.toml", plots=False,
                 quiet=True)  # fmt: skip
    scores = light_curve_scores(Table.read(result.whtlt), read_speclc(result.speclc))
    assert scores["white_mad_ppm"] == pytest.approx(best["white_mad_ppm"], rel=1e-6)
    assert scores["spec_mad_ppm"] == pytest.approx(best["spec_mad_ppm"], rel=1e-6)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--vary", "extract_1d.nope=1,2"], "cannot vary it"),
        (["--vary", "extract_1d.extract_width="], "an empty value"),
        (["--vary", "extract_1d.extract_width=4,-1"], "extract_width must be > 0"),
        (["--vary", "outlier_detection.snr=" + ",".join(map(str, range(1, 40))),
          "--vary", "outlier_detection.rolling_window_width=" + ",".join(map(str, range(3, 33)))],
         "1170 configurations, more than 1000"),
        (["--vary", "tso_photometry.radius=3,-1"], "radius must be > 0"),
        (["--vary", "tso_photometry.radius_inner=4,6", "--set", "tso_photometry.radius_outer=5"],
         "need 0 <= radius_inner < radius_outer"),
        (["--vary", "extract_1d.extract_width=4,6", "--score", "white_mad+spec_mad"],
         "needs binned light curves"),
        ([], "nothing varies"),
    ],
)  # fmt: skip
def test_bad_grids_exit_2_before_reading_data(tmp_path, capsys, args, needle):
    """One line, exit 2, nothing written; the input is a folder that does not even exist:
    the grid is refused before any data are read."""
    status = main(["sweep", str(tmp_path / "no-such-input"), "-o", str(tmp_path / "out"),
                   "-q", *args])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and needle in err[0], err
    assert not (tmp_path / "out").exists()


def test_existing_products_refused_without_overwrite(swept, capsys):
    sim, root, _ = swept
    status = main(["sweep", str(sim.asn_path), "-o", str(root / "out"), "-q",
                   "--vary", "extract_1d.extract_width=5,9"])  # fmt: skip
    assert status == 2 and "product exists" in capsys.readouterr().err


PHOT_GRID = ["tso_photometry.radius=2.5,4", "tso_photometry.radius_inner=5,6",
             "tso_photometry.background_method=mean,sigma_clip",
             "outlier_detection.snr=4,6"]  # fmt: skip


@pytest.fixture(scope="module")
def photometry_swept(tmp_path_factory):
    root = tmp_path_factory.mktemp("phot_sweep")
    sim = simulate("nrc_tsimage", root / "in", nints=60, segments=2, seed=8)
    table = sweep(sim.asn_path, root / "out", vary=PHOT_GRID, score="p2p",
                  overrides=["tso_photometry.radius_outer=8"], quiet=True)  # fmt: skip
    return sim, root, table


def _phot_scores(result) -> dict:
    return light_curve_scores(Table.read(result.phot), prefix="net_aperture_sum")


def test_photometry_configurations_score_what_a_run_gives(photometry_swept):
    """Imaging: radii, annulus, background method and two outlier settings; the score of
    each configuration is that of the ``net_aperture_sum`` a run writes."""
    sim, root, table = photometry_swept
    assert len(table) == 16 and np.isfinite(table["white_p2p_ppm"]).all()
    assert "spec_mad_ppm" not in table.colnames  # one light curve: nothing binned
    assert len(set(np.round(table["white_p2p_ppm"], 6))) > 8  # the settings matter
    for row in table[[0, 5, 10, 15]]:
        settings = [f"{name}={row[name]}" for name in table.meta["varied"]]
        result = run(sim.asn_path, root / f"run{row['config']}", plots=False, quiet=True,
                     overrides=[*settings, "tso_photometry.radius_outer=8"])  # fmt: skip
        scores = _phot_scores(result)
        for name in ("white_p2p_ppm", "white_mad_ppm"):
            assert row[name] == pytest.approx(scores[name], rel=1e-6), (settings, name)


def test_photometry_sweep_in_jwst_mode_scores_the_reference_sequence(photometry_swept, tmp_path):
    """--mode jwst places and measures each segment on its own, for every configuration."""
    sim, _, _ = photometry_swept
    table = sweep(sim.asn_path, tmp_path / "out", vary=["tso_photometry.radius=2.5,4"],
                  mode="jwst", plots=False, quiet=True)  # fmt: skip
    for row in table:
        radius = f"tso_photometry.radius={row['tso_photometry.radius']}"
        result = run(sim.asn_path, tmp_path / f"run{row['config']}", mode="jwst", plots=False,
                     quiet=True, overrides=[radius])  # fmt: skip
        assert row["white_mad_ppm"] == pytest.approx(_phot_scores(result)["white_mad_ppm"],
                                                     rel=1e-6)  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "args", "needle"),
    [
        ("imaging", ["--vary", "extract_1d.extract_width=4,6"], "has no extract_1d step"),
        ("imaging", ["--vary", "tso_photometry.radius=3,4", "--score", "white_mad+spec_mad",
                     "--set", "white_light.nbins=5"], "imaging has one light curve"),
        ("spectra", ["--vary", "tso_photometry.radius=3,4"], "has no tso_photometry step"),
    ],
)  # fmt: skip
def test_a_grid_of_the_other_kind_of_observation_exits_2(swept, photometry_swept, tmp_path,
                                                         capsys, kind, args, needle):  # fmt: skip
    sim = photometry_swept[0] if kind == "imaging" else swept[0]
    status = main(["sweep", str(sim.asn_path), "-o", str(tmp_path / "out"), "-q", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and needle in err[0], err
    assert not (tmp_path / "out").exists()


def test_photometry_best_config_reproduces_the_best(photometry_swept):
    sim, root, table = photometry_swept
    product = sim.truth["product_name"]
    best = table[np.argmin(table["rank"])]
    result = run(sim.asn_path, root / "best", config=root / "out" / f"{product}_best.toml",
                 plots=False, quiet=True)  # fmt: skip
    assert _phot_scores(result)["white_p2p_ppm"] == pytest.approx(best["white_p2p_ppm"],
                                                                  rel=1e-6)  # fmt: skip


def test_the_background_region_varies_and_scores_what_a_run_gives(swept, tmp_path):
    """extract_1d.bkg_gap moves tso3's background region; each gap's score is the run's."""
    sim, _, _ = swept
    table = sweep(sim.asn_path, tmp_path / "out", vary=["extract_1d.bkg_gap=1,6"],
                  plots=False, quiet=True)  # fmt: skip
    assert table["white_mad_ppm"][0] != table["white_mad_ppm"][1]
    result = run(sim.asn_path, tmp_path / "run", plots=False, quiet=True,
                 overrides=["extract_1d.bkg_gap=6"])  # fmt: skip
    scores = light_curve_scores(Table.read(result.whtlt))
    assert table["white_mad_ppm"][1] == pytest.approx(scores["white_mad_ppm"], rel=1e-6)
