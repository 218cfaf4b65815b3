"""tso3.cli: what the command prints around a run."""

from __future__ import annotations

import pytest

from tso3.cli import main


def test_bare_command_lists_the_commands(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    for command in ("run", "batch", "whitelight", "simulate", "info", "demo"):
        assert command in out


def test_console_without_parameter_json_and_skipped_outliers_said(simulated, tmp_path, capsys):
    sim = simulated("nrs_brightobj")
    out = tmp_path / "out"
    assert main(["run", str(sim.asn_path), "-o", str(out), "--no-plots",
                 "--skip", "outlier_detection"]) == 0  # fmt: skip
    captured = capsys.readouterr()
    assert "parameters:" not in captured.err  # the long JSON goes to the log file only
    assert "parameters:" in next(out.glob("*_tso3.log")).read_text()
    assert "outlier_detection skipped" in captured.out
    assert "rolling median" not in captured.err  # no outlier pass, no kernel line


def test_settings_a_run_ignores_are_warned(simulated, tmp_path, capsys):
    sim = simulated("nrc_tsimage")
    args = ["run", str(sim.asn_path), "-o", str(tmp_path / "o"), "--no-plots", "-q",
            "--set", "white_light.nbins=5", "--set", "tso_photometry.gain=2"]  # fmt: skip
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "white_light.nbins ignored" in err
    assert "gain (for DN/s data) is ignored" in err  # the simulated data are in MJy/sr


def test_simulate_program_and_observation(tmp_path, capsys):
    out = tmp_path / "sim"
    args = ["simulate", "nrc_tsimage", "-o", str(out), "--nints", "10", "--segments", "1"]
    assert main([*args, "--program", "1234", "--observation", "12", "-q"]) == 0
    assert (out / "jw01234-o012_20230917t000000_tso3_001_asn.json").exists()
    with pytest.raises(SystemExit) as usage:  # argparse exits with the usage status
        main([*args, "--program", "abc"])
    assert usage.value.code == 2 and "--program" in capsys.readouterr().err


def test_run_help_lists_every_parameter(capsys):
    import dataclasses

    from tso3.config import STEPS

    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    for step, cls in STEPS.items():
        for f in dataclasses.fields(cls):
            assert f"{step}.{f.name} = " in out


def test_info_describes_speclc_and_x1dints_times(simulated, tmp_path, capsys):
    sim = simulated("nrs_brightobj")
    out = tmp_path / "o"
    args = ["run", str(sim.asn_path), "-o", str(out), "--no-plots", "-q"]
    assert main([*args, "--set", "white_light.nbins=5"]) == 0
    assert main(["info", str(next(out.glob("*_speclc.fits")))]) == 0
    text = capsys.readouterr().out
    assert "speclc with 1 set(s)" in text and "x 5 bins" in text
    assert main(["info", str(next(out.glob("*_x1dints.fits")))]) == 0
    assert "time        MJD" in capsys.readouterr().out


def test_simulate_offers_every_mode_the_simulator_has():
    """The command's list is kept apart (the simulator imports stdatamodels, the command
    line should start without it); it must not fall behind the simulator's."""
    from tso3.cli import SIMULATE_MODES
    from tso3.simulate import MODES

    assert sorted(SIMULATE_MODES) == sorted(MODES)
