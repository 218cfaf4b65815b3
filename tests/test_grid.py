"""Parameter grids of ``tso3 sweep``: parsing, checking, the configurations."""

from __future__ import annotations

import pytest

from tso3.config import resolve_parameters
from tso3.errors import InputError, ParameterError
from tso3.grid import MAX_GRID_POINTS, make_grid, parse_vary, read_grid


def test_vary_options_make_the_product_of_their_values():
    axes = parse_vary(["extract_1d.extract_width=4, 6,8", "outlier_detection.snr=4,6"])
    grid = make_grid(axes)
    assert len(grid) == 6 and grid.steps() == {"extract_1d", "outlier_detection"}
    points = grid.points()
    assert points[0] == {"extract_1d": {"extract_width": "4"}, "outlier_detection": {"snr": "4"}}
    assert points[1] == {"extract_1d": {"extract_width": "4"}, "outlier_detection": {"snr": "6"}}
    widths = [resolve_parameters(overrides=p).extract_1d.extract_width for p in points]
    assert widths == [4.0, 4.0, 6.0, 6.0, 8.0, 8.0]


def test_grid_file_and_vary_together(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text('[tso_photometry]\nradius = [[3.0], [3.0, 4.0]]\nradius_outer = [6, 8]\n'
                    '[extract_1d]\nbkg_fit = ["poly", "median"]\n')  # fmt: skip
    axes = read_grid(path)
    assert axes["tso_photometry.radius"] == ([3.0], [3.0, 4.0])
    grid = make_grid(axes, parse_vary(["outlier_detection.rolling_window_width=11,25"]))
    assert len(grid) == 2 * 2 * 2 * 2
    radii = {tuple(resolve_parameters(overrides=p).tso_photometry.radius) for p in grid.points()}
    assert radii == {(3.0,), (3.0, 4.0)}


def test_fixed_settings_apply_to_every_configuration(tmp_path):
    """--set and --config hold for every point; a point that breaks them with a fixed
    setting is refused, naming the grid point."""
    grid = make_grid(parse_vary(["tso_photometry.radius_inner=3,4"]),
                     overrides=["tso_photometry.radius_outer=7"])  # fmt: skip
    assert len(grid) == 2
    with pytest.raises(ParameterError, match=r"radius_inner < radius_outer.*radius_inner='6'"):
        make_grid(parse_vary(["tso_photometry.radius_inner=3,6"]),
                  overrides=["tso_photometry.radius_outer=5"])  # fmt: skip


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        (["extract_1d.extract_width"], "expected --vary STEP.PARAM=V1,V2"),
        (["extract_width=4,6"], "expected --vary STEP.PARAM=V1,V2"),
        (["extract_1d.extract_width=4,,6"], "an empty value"),
        (["extract_1d.extract_width="], "an empty value"),
        (["extract_1d.extract_width=4", "extract_1d.extract_width=6"], "varied twice"),
    ],
)
def test_malformed_vary_options_are_refused(options, needle):
    with pytest.raises(ParameterError, match=needle):
        parse_vary(options)


@pytest.mark.parametrize(
    ("axes", "needle"),
    [
        ({"extract_1d.nope": ("1",)}, "cannot vary it"),
        ({"extract_1d.override_extract1d": ("a.json",)}, "cannot vary it"),
        ({"white_light.nbins": ("5", "10")}, "cannot vary it"),
        ({"photometry.radius": ("3",)}, "unknown step 'photometry'"),
        ({"extract_1d.extract_width": ()}, "an empty list"),
        ({"extract_1d.extract_width": ("4", "-2")}, "extract_width must be > 0"),
        ({"outlier_detection.snr": ("5", "many")}, "'many'"),
        ({"extract_1d.extraction_type": ("box", "psf")}, "expected one of box, optimal"),
        ({}, "nothing varies"),
    ],
)
def test_bad_grids_are_refused_with_one_line(axes, needle):
    with pytest.raises(ParameterError, match=needle) as found:
        make_grid(axes)
    assert "\n" not in str(found.value)


def test_grid_over_the_limit_is_refused():
    values = tuple(str(v) for v in range(1, 33))
    axes = {"outlier_detection.snr": values, "outlier_detection.rolling_window_width": values}
    with pytest.raises(ParameterError, match=f"32 x 32 = 1024 configurations, more than "
                                             f"{MAX_GRID_POINTS}"):  # fmt: skip
        make_grid(axes)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[extract_1d]\nextract_width = 4\n", "must be a list of values"),
        ("extract_width = [4]\n", "must be a table"),
        ("[extract_1d\n", "not valid TOML"),
    ],
)
def test_bad_grid_files_are_refused(tmp_path, text, needle):
    path = tmp_path / "grid.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=needle):
        read_grid(path)
    with pytest.raises(InputError, match="cannot read grid file"):
        read_grid(tmp_path / "missing.toml")
