"""``tso3 whitelight`` (tso3.commands.whitelight) on a small x1dints written here."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable

from tso3 import __version__
from tso3.cli import main
from tso3.commands.whitelight import product_base, whitelight_from_x1dints
from tso3.errors import OutputExistsError, ParameterError
from tso3.formats import INT_TIMES_DTYPE
from tso3.io.x1dints import write_x1dints
from tso3.spectra import SpectraSet

NINTS, NWAVE = 6, 20
PRIMARY = {
    "TELESCOP": "JWST",
    "INSTRUME": "MIRI",
    "DETECTOR": "MIRIMAGE",
    "EXP_TYPE": "MIR_LRS-SLITLESS",
    "SUBARRAY": "SLITLESSPRISM",
    "FILTER": "P750L",
    "NINTS": NINTS,
    "SRCTYPE": "POINT",
    "TARGNAME": "WASP-39",
    "EXSEGNUM": 1,
    "INTSTART": 1,
    "INTEND": NINTS,
}


@pytest.fixture(scope="module")
def x1dints(tmp_path_factory):
    path = tmp_path_factory.mktemp("in") / "jw_test_x1dints.fits"
    times = np.zeros(NINTS, dtype=INT_TIMES_DTYPE)
    times["integration_number"] = np.arange(1, NINTS + 1)
    mid = 60000.0 + 0.001 * np.arange(NINTS)
    for which, offset in (("start", -0.0004), ("mid", 0.0), ("end", 0.0004)):
        times[f"int_{which}_MJD_UTC"] = mid + offset
        times[f"int_{which}_BJD_TDB"] = mid + offset + 0.003
    shape = (NINTS, NWAVE)
    flux = np.ones(shape) * (1 + 0.01 * np.arange(NINTS))[:, None]
    z = np.zeros(shape)
    spectra = SpectraSet(
        wavelength=np.linspace(5.0, 12.0, NWAVE),
        flux=flux,
        flux_var_poisson=np.full(shape, 1e-4),
        flux_var_rnoise=z,
        flux_var_flat=z,
        surf_bright=z,
        sb_var_poisson=z,
        sb_var_rnoise=z,
        sb_var_flat=z,
        background=z,
        bkgd_var_poisson=z,
        bkgd_var_rnoise=z,
        bkgd_var_flat=z,
        npixels=np.full(shape, 5.0),
        dq=np.zeros(shape, np.uint32),
        int_num=np.arange(1, NINTS + 1),
        detector="MIRIMAGE",
        times={"mjd_avg": mid, "tdb_mid": mid + 0.003},
        meta={"SLTNAME": "MIR_LRS-SLITLESS", "SRCTYPE": "POINT", "DISPAXIS": 2},
    )
    write_x1dints(path, [spectra], times, primary=PRIMARY)
    return path


def test_product_base():
    assert product_base("/a/jw01_x1dints.fits") == "jw01"
    assert product_base("b.fits") == "b" and product_base("c.txt") == "c.txt"


def test_white_light_only_without_binning(x1dints, tmp_path):
    paths = whitelight_from_x1dints(x1dints, tmp_path, mode="jwst")
    assert paths == [tmp_path / "jw_test_whtlt.ecsv"]
    assert not (tmp_path / "jw_test_speclc.fits").exists()
    t = QTable.read(paths[0])
    np.testing.assert_allclose(t["whitelight_flux"].value, NWAVE * (1 + 0.01 * np.arange(NINTS)))
    assert t.meta["instrument"] == "MIRI" and t.meta["target_name"] == "WASP-39"
    assert t.meta["pupil"] is None and t.meta["number_of_integrations"] == NINTS
    assert t.meta["tso3"]["mode"] == "jwst" and t.meta["tso3"]["version"] == __version__
    assert list(t.meta["tso3"]["parameters"]) == ["white_light"]


def test_binning_writes_speclc_with_provenance(x1dints, tmp_path):
    paths = whitelight_from_x1dints(x1dints, tmp_path, overrides=["white_light.nbins=4"])
    assert paths == [tmp_path / "jw_test_whtlt.ecsv", tmp_path / "jw_test_speclc.fits"]
    with fits.open(paths[1]) as hdul:
        assert hdul[0].header["TSO3VER"] == __version__
        assert hdul[0].header["TSO3MODE"] == "default"
        assert hdul[0].header["INSTRUME"] == "MIRI" and hdul[0].header["NCURVES"] == 1
        assert hdul["SPECLC"].header["NBINS"] == 4


def test_refuses_other_steps(x1dints, tmp_path):
    with pytest.raises(ParameterError) as err:
        whitelight_from_x1dints(x1dints, tmp_path, overrides=["outlier_detection.snr=3"])
    assert str(err.value) == (
        "parameter outlier_detection: tso3 whitelight only takes white_light.PARAM=VALUE settings"
    )
    assert not list(tmp_path.iterdir())


def test_refuses_existing_products_unless_overwrite(x1dints, tmp_path):
    speclc = tmp_path / "jw_test_speclc.fits"
    speclc.write_text("old")
    # without a binning the speclc is not planned, so it is not in the way
    whitelight_from_x1dints(x1dints, tmp_path)
    with pytest.raises(OutputExistsError, match="jw_test_whtlt.ecsv: product exists; use"):
        whitelight_from_x1dints(x1dints, tmp_path, overrides=["white_light.nbins=2"])
    (tmp_path / "jw_test_whtlt.ecsv").unlink()
    with pytest.raises(OutputExistsError, match="jw_test_speclc.fits: product exists"):
        whitelight_from_x1dints(x1dints, tmp_path, overrides=["white_light.nbins=2"])
    assert speclc.read_text() == "old" and not (tmp_path / "jw_test_whtlt.ecsv").exists()
    whitelight_from_x1dints(x1dints, tmp_path, overrides=["white_light.nbins=2"], overwrite=True)
    with fits.open(speclc) as hdul:
        assert hdul["SPECLC"].header["NBINS"] == 2


@pytest.fixture
def tso3_logger():
    """Restore the ``tso3`` logger that ``main`` configures."""
    logger = logging.getLogger("tso3")
    saved = logger.handlers[:], logger.level, logger.propagate
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


def test_cli_whitelight(x1dints, tmp_path, capsys, tso3_logger):
    assert main(["whitelight", str(x1dints), "-o", str(tmp_path)]) == 0
    assert f"wrote {tmp_path / 'jw_test_whtlt.ecsv'}" in capsys.readouterr().out
    assert main(["whitelight", str(x1dints), "-o", str(tmp_path)]) == 2
    assert "product exists; use --overwrite" in capsys.readouterr().err
    assert main(["whitelight", str(tmp_path / "nope.fits"), "-o", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().endswith("nope.fits: file not found")


def _without_times(x1dints, tmp_path, rows):
    """A copy of ``x1dints`` whose EXTRACT1D times are NaN at ``rows``."""
    path = tmp_path / "in" / x1dints.name
    path.parent.mkdir()
    with fits.open(x1dints) as hdul:
        for name in ("MJD-BEG", "MJD-AVG", "MJD-END", "TDB-BEG", "TDB-MID", "TDB-END"):
            hdul["EXTRACT1D"].data[name][rows] = np.nan
        hdul.writeto(path)
    return path


def test_integrations_without_time_are_kept(x1dints, tmp_path, caplog):
    broken = _without_times(x1dints, tmp_path, slice(1, 3))
    with caplog.at_level(logging.WARNING):
        paths = whitelight_from_x1dints(broken, tmp_path / "out")
    assert "2 integrations have no time" in caplog.text
    t = QTable.read(paths[0])
    assert len(t) == NINTS
    np.testing.assert_allclose(t["MJD_UTC"], 60000.0 + 0.001 * np.arange(NINTS), atol=1e-9)
    np.testing.assert_allclose(t["whitelight_flux"].value, NWAVE * (1 + 0.01 * np.arange(NINTS)))


def test_no_times_at_all_is_an_input_error(x1dints, tmp_path, capsys):
    broken = _without_times(x1dints, tmp_path, slice(0, NINTS - 1))
    assert main(["whitelight", str(broken), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "5 of 6 integrations of MIRIMAGE have no time" in err
    assert not (tmp_path / "out").exists()
