"""The GR700XD trace and wavelength model tso3 extracts with (and simulates SOSS data
with) against jwst 3.0's own PASTASOSS evaluation, ``get_soss_traces``.

tso3's simulator draws its orders from the same model as its extraction, so the SOSS
wavelength test of the pipeline alone would compare tso3 with itself; this one compares
it with jwst's independent implementation of the model, on the same reference data.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

from tests.builders import write_pastasoss_reference
from tso3.io.soss_models import default_soss_model, load_soss_model
from tso3.stages.soss import _MODEL_SUBSTRT2, predicted_orders


def _jwst_convention(model):
    """The shipped model with every wavelength model in jwst's convention: the pupil
    variable is PWCPOS - pwcpos_cmd (PASTASOSS 1.2.4 trained order 2 on PWCPOS itself,
    which jwst 3.0 cannot evaluate); same scaled variable, so the same wavelengths."""
    orders = {}
    for order, om in model.orders.items():
        extents = np.array(om.extents, dtype=float)
        if not om.pupil_is_offset:
            extents[:, 1] -= model.pwcpos_cmd
        orders[order] = dataclasses.replace(om, extents=extents)
    return dataclasses.replace(model, orders=orders)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    from stdatamodels.jwst import datamodels

    path = tmp_path_factory.mktemp("pastasoss") / "pastasoss.asdf"
    write_pastasoss_reference(path, _jwst_convention(default_soss_model()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = datamodels.PastasossModel(str(path))
    ref.meta.pwcpos_bounds = [245.59, 245.93]
    return path, ref


@pytest.mark.parametrize("pwcpos", [245.62, 245.76, 245.79, 245.90])
def test_traces_and_wavelengths_equal_jwst(reference, pwcpos):
    from jwst.extract_1d.soss_extract.pastasoss import get_soss_traces

    path, ref = reference
    shipped = predicted_orders(default_soss_model(), pwcpos, (256, 2048), _MODEL_SUBSTRT2,
                               "SUBSTRIP256")  # fmt: skip
    # the same data read back as a CRDS reference (override_pastasoss), jwst's convention
    given = predicted_orders(load_soss_model(str(path), None), pwcpos, (256, 2048),
                             _MODEL_SUBSTRT2, "SUBSTRIP256")  # fmt: skip
    assert set(shipped) == set(given) == {1, 2}
    for order in (1, 2):
        _, x, y, wavelength = get_soss_traces(pwcpos, str(order), "SUBSTRIP256", refmodel=ref)
        columns = np.arange(2048.0)
        s = np.argsort(x)
        jwst_y = np.interp(columns, x[s], y[s], left=np.nan, right=np.nan)
        jwst_wl = np.interp(columns, x[s], wavelength[s], left=np.nan, right=np.nan)
        for centre, lam in (shipped[order], given[order]):
            both = np.isfinite(centre) & np.isfinite(jwst_y)
            assert both.sum() > 1700
            np.testing.assert_allclose(centre[both], jwst_y[both], atol=1e-9)
            np.testing.assert_allclose(lam[both], jwst_wl[both], rtol=1e-12)
