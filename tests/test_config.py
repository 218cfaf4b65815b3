"""Parameters: defaults, TOML config, --set precedence, validation."""

from __future__ import annotations

import pytest

from tso3.config import parse_set_options, resolve_parameters
from tso3.errors import InputError, ParameterError


def test_defaults_are_jwst_defaults():
    p = resolve_parameters()
    assert p.outlier_detection.rolling_window_width == 25
    assert p.outlier_detection.snr == 5.0
    assert list(p.tso_photometry.radius) == [3.0]
    assert (p.tso_photometry.radius_inner, p.tso_photometry.radius_outer) == (4.0, 5.0)
    assert p.tso_photometry.search_box_width == 41 and p.tso_photometry.fit_box_width == 11
    assert p.extract_1d.extraction_type == "box"
    assert p.white_light.min_wavelength is None


def test_set_beats_config_beats_default(tmp_path):
    cfg = tmp_path / "tso3.toml"
    cfg.write_text(
        "[outlier_detection]\nrolling_window_width = 15\nsnr = 6.0\n"
        "[white_light]\nmin_wavelength = 5.0\n"
    )
    p = resolve_parameters(cfg, ["outlier_detection.rolling_window_width=11"])
    assert p.outlier_detection.rolling_window_width == 11  # command line wins
    assert p.outlier_detection.snr == 6.0  # config beats default
    assert p.white_light.min_wavelength == 5.0
    assert p.white_light.max_wavelength is None  # default


def test_value_parsing():
    p = resolve_parameters(
        overrides=[
            "tso_photometry.radius=3,4.5,6",
            "outlier_detection.snr=5.0 4.0",
            "tso_photometry.moving_centroid=true",
            "white_light.min_wavelength=1:0.9,2:0.6",
            "tso_photometry.gain=2.05",
        ]
    )
    assert p.tso_photometry.radius == [3.0, 4.5, 6.0]
    assert p.outlier_detection.snr == 5.0
    assert p.tso_photometry.moving_centroid is True
    assert p.white_light.min_wavelength == {1: 0.9, 2: 0.6}
    assert p.tso_photometry.gain == 2.05


@pytest.mark.parametrize(
    "option, text",
    [
        ("outlier_detection.rolling_window_width=-1", ">= 0"),
        ("outlier_detection.rolling_window_width=2.5", "integer"),
        ("outlier_detection.nope=1", "unknown parameter"),
        ("nostep.x=1", "unknown step"),
        ("outlier_detection", "STEP.PARAM=VALUE"),
        ("tso_photometry.radius_inner=6", "radius_inner < radius_outer"),
        ("extract_1d.extraction_type=fancy", "one of box, optimal"),
        ("extract_1d.bkg_gap=-1", "bkg_gap must be >= 0"),
        ("white_light.nbins=5", None),
    ],
)
def test_bad_values_are_named(option, text):
    if text is None:
        resolve_parameters(overrides=[option])
        return
    with pytest.raises(ParameterError) as info:
        resolve_parameters(overrides=[option])
    assert text in str(info.value)


def test_bad_config_file(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[outlier_detection\n")
    with pytest.raises(InputError, match="bad.toml: not valid TOML"):
        resolve_parameters(cfg)
    cfg.write_text("[nostep]\na = 1\n")
    with pytest.raises(InputError, match="unknown step"):
        resolve_parameters(cfg)


def test_parse_set_options():
    assert parse_set_options(["extract_1d.extract_width=7"]) == {
        "extract_1d": {"extract_width": "7"}
    }


@pytest.mark.parametrize(
    ("low", "high", "needle"),
    [("4", "2", "min_wavelength 4.0 > max_wavelength 2.0"), ("1:3", "2", "for order 1")],
)
def test_wavelength_range_upside_down(low, high, needle):
    settings = [f"white_light.min_wavelength={low}", f"white_light.max_wavelength={high}"]
    with pytest.raises(ParameterError, match=needle):
        resolve_parameters(None, settings)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400"])
def test_non_finite_numbers_refused(value):
    with pytest.raises(ParameterError, match="finite"):
        resolve_parameters(None, [f"outlier_detection.snr={value}"])
    with pytest.raises(ParameterError, match="finite"):
        resolve_parameters(None, [f"outlier_detection.rolling_window_width={value}"])


def test_bkg_gap_and_an_extract1d_reference_are_refused_together(tmp_path):
    """The reference's bkg_coeff place its background region: a gap cannot move it."""
    ref = tmp_path / "extract1d.json"
    ref.write_text("{}")
    with pytest.raises(ParameterError) as info:
        resolve_parameters(overrides=[f"extract_1d.override_extract1d={ref}",
                                      "extract_1d.bkg_gap=2"])  # fmt: skip
    assert "places its own" in str(info.value)
