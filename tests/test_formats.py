"""Tests of tso3.formats: product column and keyword conventions."""

from __future__ import annotations

import numpy as np

from tests.builders import spectra_set
from tso3.formats import whitelight_meta
from tso3.steps.whitelight import white_light_table

WL = np.arange(1.0, 11.0)  # 1..10 um, one element per micron


def test_whitelight_meta_from_keywords_or_names():
    meta = whitelight_meta({"INSTRUME": "NIRSPEC", "instrument": "NIRCAM", "PUPIL": "CLEAR"})
    assert list(meta) == ["instrument", "exp_type", "subarray", "filter", "pupil", "target_name"]
    assert meta["instrument"] == "NIRCAM" and meta["pupil"] == "CLEAR"
    assert meta["exp_type"] is None and whitelight_meta(None)["target_name"] is None
    # the step copies the meta it is given
    s = spectra_set(np.ones((2, 10)), WL, [1.0, 2.0])
    assert white_light_table([s], meta={"a": 1}).meta == {"a": 1, "number_of_integrations": 2}
