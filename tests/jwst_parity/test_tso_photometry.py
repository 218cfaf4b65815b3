"""tso_photometry: tso3 ``--mode jwst`` phot.ecsv against jwst 3.0.0's catalogue.

jwst runs TSOPhotometryStep on each segment (calwebb_tso3 stacks the tables) with a unit
GAIN reference matched to the subarray; tso3 runs the observation with the outlier step
skipped, so both measure the same calints.  Every column jwst writes is compared.
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import QTable, vstack

from tso3.pipeline import run

RTOL = 1e-6


def unit_gain(model, path):
    """A GAIN reference of ones matching the model's subarray (jwst always asks for one)."""
    from stdatamodels.jwst.datamodels import GainModel

    gain = GainModel(data=np.ones(model.data.shape[-2:], np.float32))
    gain.meta.instrument.name = model.meta.instrument.name
    gain.meta.instrument.detector = model.meta.instrument.detector
    for name in ("name", "xstart", "ystart", "xsize", "ysize"):
        setattr(gain.meta.subarray, name, getattr(model.meta.subarray, name))
    gain.meta.subarray.fastaxis = model.meta.subarray.fastaxis or -1
    gain.meta.subarray.slowaxis = model.meta.subarray.slowaxis or 2
    gain.save(path)
    return str(path)


@pytest.mark.parametrize("moving", [False, True])
@pytest.mark.parametrize("centroid", [True, False])
def test_phot_equal_jwst(simulated, jwst_step, tmp_path, centroid, moving):
    if moving and not centroid:
        pytest.skip("moving_centroid needs centroid_source")
    from jwst.tso_photometry import TSOPhotometryStep
    from stdatamodels.jwst import datamodels

    sim = simulated("nrc_tsimage")
    settings = {"centroid_source": centroid, "moving_centroid": moving}
    tables = []
    for k, path in enumerate(sim.files):
        with datamodels.open(path) as model:
            gain = unit_gain(model, tmp_path / f"gain{k}.fits")
            tables.append(jwst_step(TSOPhotometryStep, model, override_gain=gain, **settings))
    expected = vstack(tables)
    overrides = [f"tso_photometry.{k}={v}" for k, v in settings.items()]
    result = run(sim.asn_path, tmp_path / "out", overrides=overrides, mode="jwst",
                 skip=["outlier_detection"], plots=False, quiet=True)  # fmt: skip
    got = QTable.read(result.phot)
    assert len(got) == len(expected)
    differ = {}
    for name in expected.colnames:
        want = np.asarray(getattr(expected[name], "value", expected[name]), dtype=float)
        have = np.asarray(getattr(got[name], "value", got[name]), dtype=float)
        atol = 1e-8 if name in ("MJD", "BJD_TDB") else 0.0
        if not np.allclose(have, want, rtol=RTOL if not atol else 0, atol=atol, equal_nan=True):
            rel = np.nanmax(np.abs(have - want) / np.maximum(np.abs(want), 1e-300))
            differ[name] = float(rel)
    assert not differ, f"columns differing from jwst (max relative difference): {differ}"


def test_undersampled_psf_on_a_gradient(tmp_path, jwst_step):
    """An elliptical, undersampled PSF (sigma 1.1 x 0.98 px) on a sky gradient, in MJy/sr:
    where jwst's PSF fit stops early (its fitter's absolute gradient tolerance on data in
    Jy), --mode jwst must stop at the same place."""
    from jwst.tso_photometry import TSOPhotometryStep
    from stdatamodels.jwst import datamodels

    from tests.builders import gauss_image
    from tso3.simulate import simulate

    n, ny, nx = 12, 40, 40
    path = simulate("nrc_tsimage", tmp_path / "in", nints=n, segments=1, shape=(ny, nx),
                    seed=4).files[0]  # fmt: skip
    rng = np.random.default_rng(4)
    with datamodels.open(path) as model:
        x0, y0 = model.meta.wcsinfo.siaf_xref_sci - 1, model.meta.wcsinfo.siaf_yref_sci - 1
        yy, xx = np.mgrid[:ny, :nx]
        sky = 5.0 + 0.05 * xx + 0.03 * yy
        star = gauss_image(n, ny, nx, x0 + 0.3, y0 - 0.4, 1.1, 0.98, 4000.0)
        model.data = (star + sky + rng.normal(0, 0.5, (n, ny, nx))).astype(np.float32)
        model.err = np.full(model.data.shape, 0.5, np.float32)
        model.dq = np.zeros(model.data.shape, np.uint32)
        model.save(path)
    with datamodels.open(path) as model:
        expected = jwst_step(TSOPhotometryStep, model,
                             override_gain=unit_gain(model, tmp_path / "gain.fits"))  # fmt: skip
    result = run([path], tmp_path / "out", mode="jwst", skip=["outlier_detection"],
                 plots=False, quiet=True)  # fmt: skip
    got = QTable.read(result.phot)
    for name in ("psf_width_x", "psf_width_y", "psf_flux", "centroid_x", "net_aperture_sum"):
        want = np.asarray(getattr(expected[name], "value", expected[name]), dtype=float)
        have = np.asarray(getattr(got[name], "value", got[name]), dtype=float)
        np.testing.assert_allclose(have, want, rtol=RTOL, err_msg=name)
