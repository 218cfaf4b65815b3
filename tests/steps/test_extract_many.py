"""Tests of tso3.steps.extract_many: many configurations equal extract_block one by one."""

import bottleneck as bn
import numpy as np
import pytest

from tests.builders import gaussian_profile
from tso3.steps.aperture import default_aperture
from tso3.steps.extract import ExtractParams, extract_block, profile_model
from tso3.steps.extract_many import extract_block_many

NY, NX, NINTS = 32, 60, 40


def _block(seed=3):
    """A drifting trace on a sloped background, with missing pixels of every kind: a
    cosmic-ray hole in the aperture, one in the background rows, a pixel missing in every
    integration at the trace core, a NaN variance, and a whole missing column."""
    rng = np.random.default_rng(seed)
    y = np.arange(NY)[:, None]
    sky = 5.0 + 0.2 * (y - 16) + 0.01 * (y - 16) ** 2
    drift = 0.05 * np.sin(np.arange(NINTS) / 5.0)
    sci = np.stack([2000 * gaussian_profile(center=15.2 + s) + sky for s in drift])
    sci = (sci + rng.normal(0, 1.0, sci.shape)).astype(np.float32)
    var_p = np.abs(sci / 10).astype(np.float32)
    var_r = np.full_like(sci, 1.0)
    sci[4, 15, 10] = np.nan  # in the aperture
    sci[7, 2, 20] = np.nan  # in the background rows
    sci[:, 15, 40] = np.nan  # at the trace core, throughout
    sci[:, :, 55] = np.nan  # a whole column
    var_p[9, 14, 30] = np.nan
    sci[11, 15, 25] = np.nan  # in the aperture, with a pixel left out of the
    sci[11, 3, 25] = np.nan  # background region (below) missing in the same integration
    return sci, var_p, var_r


def _configurations(sci):
    trace = np.full(NX, 15.2)
    median = bn.nanmedian(sci, axis=0)
    valid = np.ones((NY, NX), bool)
    valid[3, 25] = False  # a bad pixel of the median image: not in the background region
    out = []
    for width in (4, 7):
        for order in (0, 1, 2):
            ap = default_aperture((NY, NX), trace, extract_width=width, bkg_order=order,
                                  valid=valid)  # fmt: skip
            for repair in ("profile", None):
                out.append((ap, ExtractParams(repair=repair), profile_model(median, ap), 15.2))
        plain = default_aperture((NY, NX), trace, extract_width=width, subtract_background=False)
        out.append((plain, ExtractParams(subtract_background=False), None, None))
    # not fused: extract_block itself, one by one
    median_bkg = default_aperture((NY, NX), trace, extract_width=5, bkg_fit="median")
    smoothed = default_aperture((NY, NX), trace, extract_width=5, smoothing_length=3)
    optimal = default_aperture((NY, NX), trace, extract_width=7)
    out += [
        (median_bkg, ExtractParams(), profile_model(median, median_bkg), 15.2),
        (smoothed, ExtractParams(), profile_model(median, smoothed), 15.2),
        (optimal, ExtractParams(extraction_type="optimal"), profile_model(median, optimal), 15.2),
    ]
    return out


@pytest.mark.parametrize("dispaxis", [1, 2])
def test_equals_extract_block_for_every_configuration(dispaxis):
    sci, var_p, var_r = _block()
    if dispaxis == 2:  # the stage passes swapped views of (nints, x, y) files
        sci, var_p, var_r = (np.swapaxes(np.ascontiguousarray(np.swapaxes(a, 1, 2)), 1, 2)
                             for a in (sci, var_p, var_r))  # fmt: skip
    configs = _configurations(sci)
    many = extract_block_many(
        sci, var_p, var_r, None, apertures=[c[0] for c in configs],
        params=[c[1] for c in configs], models=[c[2] for c in configs],
        reference_positions=[c[3] for c in configs],
    )  # fmt: skip
    assert len(many) == len(configs)
    for (ap, params, model, ref), got in zip(configs, many, strict=True):
        want = extract_block(sci, var_p, var_r, None, aperture=ap, params=params, model=model,
                             reference_position=ref)  # fmt: skip
        assert got.keys() == want.keys()
        for key in want:
            # flux and background sum in float64 in both; the variances in float32
            rtol = 1e-12 if key in ("flux", "background", "npixels") else 1e-6
            np.testing.assert_allclose(got[key], want[key], rtol=rtol, atol=1e-9,
                                       equal_nan=True, err_msg=key)  # fmt: skip
        assert np.isnan(got["flux"][:, 55]).all()
    repaired = [m["n_repaired"].sum() for m, c in zip(many, configs, strict=True)
                if c[1].repair == "profile" and c[1].extraction_type == "box"]  # fmt: skip
    assert min(repaired) >= NINTS  # the core pixel, in every integration


def test_missing_pixels_outside_a_configuration_leave_it_dense():
    """A NaN in the background rows changes only the configurations that subtract a
    background: the plain box sums of the other stay as they are."""
    sci, var_p, var_r = _block()
    trace = np.full(NX, 15.2)
    plain = default_aperture((NY, NX), trace, extract_width=4, subtract_background=False)
    with_bkg = default_aperture((NY, NX), trace, extract_width=4)
    params = [ExtractParams(subtract_background=False), ExtractParams()]
    a, b = extract_block_many(sci, var_p, var_r, None, apertures=[plain, with_bkg],
                              params=params, models=[None, None],
                              reference_positions=[None, None])  # fmt: skip
    assert np.isfinite(a["flux"][7, 20]) and np.isfinite(b["flux"][7, 20])
    assert a["background"][7, 20] == 0.0 and b["background"][7, 20] != 0.0
