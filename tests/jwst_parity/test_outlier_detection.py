"""outlier_detection: tso3 ``--mode jwst`` crfints against jwst 3.0.0's, bit for bit.

jwst runs OutlierDetectionStep in TSO mode on each segment (as calwebb_tso3 does); tso3
runs the whole observation.  DQ must be equal, and SCI equal with NaN in the same places,
for rolling windows and for the static median (0, 1, or a window as long as a segment).
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from tso3.pipeline import run

SKIP = {"nrs_brightobj": ["extract_1d"], "nrc_tsimage": ["tso_photometry"]}


@pytest.fixture(scope="module")
def jwst_crfints(simulated, jwst_step):
    """``jwst_crfints(mode, width)``: jwst's (DQ, SCI) of every segment."""
    from jwst.outlier_detection import OutlierDetectionStep
    from stdatamodels.jwst import datamodels

    made = {}

    def get(mode, width):
        if (mode, width) not in made:
            out = []
            for path in simulated(mode).files:
                with datamodels.open(path) as model:
                    result = jwst_step(
                        OutlierDetectionStep, model, mode="tso", rolling_window_width=width
                    )
                    out.append((np.array(result.dq), np.array(result.data)))
            made[mode, width] = out
        return made[mode, width]

    return get


@pytest.mark.parametrize("mode", sorted(SKIP))
@pytest.mark.parametrize("width", [0, 1, 2, 5, 7, 25, 1000])
def test_crfints_equal_jwst(simulated, jwst_crfints, tmp_path, mode, width):
    sim = simulated(mode)
    setting = f"outlier_detection.rolling_window_width={width}"
    result = run(sim.asn_path, tmp_path, overrides=[setting], skip=SKIP[mode], mode="jwst",
                 plots=False, quiet=True)  # fmt: skip
    expected = jwst_crfints(mode, width)
    assert len(result.crfints) == len(expected)
    for path, (dq, sci) in zip(result.crfints, expected, strict=True):
        with fits.open(path) as hdul:
            np.testing.assert_array_equal(hdul["DQ"].data, dq, err_msg=path.name)
            np.testing.assert_array_equal(hdul["SCI"].data, sci, err_msg=path.name)
