"""tso3.io.soss_models: the shipped GR700XD models and CRDS reference overrides."""

import numpy as np
import pytest

from tests.builders import write_pastasoss_reference, write_spectrace_reference
from tso3.errors import InputError
from tso3.io.soss_models import default_soss_model, load_soss_model
from tso3.stages.soss import predicted_orders

# pastasoss 1.2.4 get_soss_traces(245.79, "12"): (x, y, wavelength um) at a few columns.
PASTASOSS_245_79 = {
    1: ([4, 500, 1000, 1500, 2043],
        [83.690984, 63.473604, 46.574447, 38.993646, 75.215879],
        [2.828675, 2.337665, 1.845136, 1.357073, 0.85052]),
    2: ([0, 600, 1200, 1700],
        [103.551664, 94.906575, 115.504032, 208.29007],
        [1.418452, 1.129348, 0.843552, 0.620962]),
}  # fmt: skip
PASTASOSS_245_70_ORDER1_Y = [86.650928, 65.652945, 47.96744, 39.601606, 74.96477]


def _predict(model, pwcpos, shape=(256, 2048), substrt2=1793, subarray="SUBSTRIP256"):
    return predicted_orders(model, pwcpos, shape, substrt2, subarray)


def test_shipped_model_reproduces_pastasoss():
    pred = _predict(default_soss_model(), 245.79)
    for order, (x, y, lam) in PASTASOSS_245_79.items():
        centre, wavelength = pred[order]
        np.testing.assert_allclose(centre[x], y, atol=1e-5)
        np.testing.assert_allclose(wavelength[x], lam, atol=1e-5)
    np.testing.assert_allclose(
        _predict(default_soss_model(), 245.70)[1][0][PASTASOSS_245_79[1][0]],
        PASTASOSS_245_70_ORDER1_Y, atol=1e-5,
    )  # fmt: skip


def test_substrip96_has_order_1_ten_rows_lower():
    full = _predict(default_soss_model(), 245.79)
    s96 = _predict(default_soss_model(), 245.79, (96, 2048), 1803, "SUBSTRIP96")
    assert list(s96) == [1]
    ok = np.isfinite(s96[1][0])
    np.testing.assert_allclose(s96[1][0][ok], full[1][0][ok] - 10.0)


def test_pastasoss_reference_override_gives_the_same_traces(tmp_path):
    path = write_pastasoss_reference(tmp_path / "jwst_niriss_pastasoss_0001.asdf")
    model = load_soss_model(override_pastasoss=path)
    assert model.source == str(path)
    a, b = _predict(model, 245.8), _predict(default_soss_model(), 245.8)
    for order in (1, 2):
        np.testing.assert_allclose(a[order][0], b[order][0], equal_nan=True)
        np.testing.assert_allclose(a[order][1], b[order][1], equal_nan=True)


def test_spectrace_reference_override_is_used_as_given(tmp_path):
    x = np.arange(0.0, 2048.0)
    path = write_spectrace_reference(
        tmp_path / "spectrace.fits", {1: (x, 40.0 + 0.01 * x, 2.8 - 0.001 * x)}
    )
    pred = _predict(load_soss_model(override_spectrace=path), 245.9)
    assert list(pred) == [1]
    np.testing.assert_allclose(pred[1][0][[0, 1000]], [40.0, 50.0])
    np.testing.assert_allclose(pred[1][1][[0, 1000]], [2.8, 1.8])


def test_missing_and_malformed_references_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_soss_model(override_pastasoss=tmp_path / "nope.asdf")
    bad = tmp_path / "bad.asdf"
    bad.write_text("not asdf at all")
    with pytest.raises(InputError, match="cannot read as a PastasossModel"):
        load_soss_model(override_pastasoss=bad)
    no2 = write_pastasoss_reference(tmp_path / "no2.asdf", drop_order=2)
    with pytest.raises(InputError, match="malformed pastasoss reference: order 2 missing"):
        load_soss_model(override_pastasoss=no2)
    only2 = write_spectrace_reference(tmp_path / "st.fits", {2: (np.arange(5.0),) * 3})
    with pytest.raises(InputError, match="no order 1"):
        load_soss_model(override_spectrace=only2)


def test_full_frame_traces_are_the_substrip256_ones_1792_rows_up():
    s256 = _predict(default_soss_model(), 245.79)
    full = _predict(default_soss_model(), 245.79, (2048, 2048), 1, "FULL")
    for order in (1, 2):
        ok = np.isfinite(s256[order][0])
        np.testing.assert_allclose(full[order][0][ok], s256[order][0][ok] + 1792.0)
        np.testing.assert_allclose(full[order][1][ok], s256[order][1][ok])
