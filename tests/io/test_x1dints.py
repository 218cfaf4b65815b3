"""Tests of tso3.io.x1dints: writing the TSOMultiSpecModel layout and reading it back."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from stdatamodels.jwst import datamodels

from tso3.errors import InputError, OutputExistsError
from tso3.formats import INT_TIMES_DTYPE, TIME_COLUMNS
from tso3.io.x1dints import read_x1dints, write_x1dints
from tso3.spectra import SpectraSet


def int_times(n: int) -> np.ndarray:
    rows = np.zeros(n, dtype=INT_TIMES_DTYPE)
    rows["integration_number"] = np.arange(1, n + 1)
    mid = 60000.0 + 0.001 * np.arange(n)
    for col, off in (("start", -0.0004), ("mid", 0.0), ("end", 0.0004)):
        rows[f"int_{col}_MJD_UTC"] = mid + off
        rows[f"int_{col}_BJD_TDB"] = mid + off + 0.003
    return rows


def make_set(
    int_num,
    nwave=6,
    *,
    order=1,
    detector="MIRIMAGE",
    segment=1,
    seed=0,
    trace=False,
    times=None,
    flux_unit="Jy",
):
    rng = np.random.default_rng(seed)
    int_num = np.asarray(int_num)
    n = int_num.size
    shape = (n, nwave)
    f = rng.normal(1.0, 0.1, shape)
    s = SpectraSet(
        wavelength=np.linspace(5.0, 10.0, nwave),
        flux=f,
        flux_var_poisson=np.full(shape, 4e-4),
        flux_var_rnoise=np.full(shape, 1e-4),
        flux_var_flat=np.full(shape, 0.0),
        surf_bright=f * 10,
        sb_var_poisson=np.full(shape, 0.04),
        sb_var_rnoise=np.full(shape, 0.01),
        sb_var_flat=np.zeros(shape),
        background=np.full(shape, 0.5),
        bkgd_var_poisson=np.full(shape, 1e-3),
        bkgd_var_rnoise=np.zeros(shape),
        bkgd_var_flat=np.zeros(shape),
        npixels=np.full(shape, 7.5),
        dq=np.zeros(shape, np.uint32),
        int_num=int_num,
        segment=segment,
        spectral_order=order,
        detector=detector,
        flux_unit=flux_unit,
        sb_unit="MJy/sr" if flux_unit == "Jy" else flux_unit,
        meta={
            "SLTNAME": "MIR_LRS-SLITLESS",
            "SRCTYPE": "POINT",
            "EXTRXSTR": 30.5,
            "DISPAXIS": 2,
            "S_REGION": "POLYGON ICRS 0 0 1 0 1 1 0 1",
            "NOTAKEY": 3,
        },
    )
    if times is not None:
        s.times = {
            a: times[c][int_num - 1]
            for a, c in zip(
                TIME_COLUMNS,
                [
                    "int_start_MJD_UTC",
                    "int_mid_MJD_UTC",
                    "int_end_MJD_UTC",
                    "int_start_BJD_TDB",
                    "int_mid_BJD_TDB",
                    "int_end_BJD_TDB",
                ],
                strict=True,
            )
        }
    if trace:
        s.trace_position = 30.0 + 0.01 * np.arange(n)
        s.trace_width = np.full(n, 1.2)
        s.n_repaired = np.arange(n) % 3
    return s


def primaries():
    common = {
        "TELESCOP": "JWST",
        "INSTRUME": "MIRI",
        "DETECTOR": "MIRIMAGE",
        "EXP_TYPE": "MIR_LRS-SLITLESS",
        "NINTS": 9,
        "SRCTYPE": "POINT",
        "TARGNAME": "X",
    }
    return [
        {
            **common,
            "EXSEGNUM": 1,
            "INTSTART": 1,
            "INTEND": 5,
            "EXPSTART": 60000.0,
            "EXPEND": 60000.004,
            "EXPMID": 60000.002,
        },
        {
            **common,
            "EXSEGNUM": 2,
            "INTSTART": 6,
            "INTEND": 9,
            "EXPSTART": 60000.005,
            "EXPEND": 60000.008,
            "EXPMID": 60000.0065,
        },
    ]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    path = tmp_path_factory.mktemp("x1d") / "prod_x1dints.fits"
    it = int_times(9)
    spectra = [
        make_set(np.arange(1, 6), segment=1, seed=1, trace=True, times=it),
        make_set(np.arange(6, 10), segment=2, seed=2, times=it),
    ]
    write_x1dints(
        path,
        spectra,
        it,
        primary=primaries(),
        asn_pool="pool.csv",
        asn_table="/some/dir/asn.json",
        extra_meta={"S_OUTLIR": "COMPLETE", "TSO3MODE": "default"},
    )
    return path, spectra, it


def test_stdatamodels_opens_with_units(written):
    path, spectra, it = written
    with datamodels.open(path) as m:
        assert isinstance(m, datamodels.TSOMultiSpecModel)
        assert len(m.spec) == 2
        cols = m.spec[0].spec_table.columns
        assert cols["WAVELENGTH"].unit == "um"
        assert cols["FLUX"].unit == "Jy" and cols["FLUX_ERROR"].unit == "Jy"
        assert cols["FLUX_VAR_RNOISE"].unit == "Jy^2"
        assert cols["SURF_BRIGHT"].unit == "MJy/sr"
        assert cols["BKGD_VAR_FLAT"].unit == "MJy^2 / sr^2"
        assert cols["MJD-AVG"].unit == "d"
        assert m.spec[0].spec_table.dtype.names[0] == "INT_NUM"
        assert len(m.spec[0].spec_table.dtype.names) == 27
        t1 = m.spec[1].spec_table
        np.testing.assert_array_equal(t1["INT_NUM"], [6, 7, 8, 9])
        np.testing.assert_array_equal(t1["SEGMENT"], 2)
        np.testing.assert_array_equal(t1["N_ALONGDISP"], 6)
        np.testing.assert_array_equal(t1["MJD-AVG"], it["int_mid_MJD_UTC"][5:])
        np.testing.assert_allclose(t1["FLUX_ERROR"], np.sqrt(5e-4))
        assert m.spec[0].s_region.startswith("POLYGON") and m.spec[1].s_region is None
        assert m.spec[0].extraction_xstart == 30.5 and m.spec[0].dispersion_direction == 2
        assert m.spec[0].detector == "MIRIMAGE" and m.spec[0].spectral_order == 1
        assert len(m.int_times) == 9
        assert m.meta.asn.pool_name == "pool.csv" and m.meta.asn.table_name == "asn.json"
        assert m.meta.filename == path.name


def test_primary_blended(written):
    path, _, _ = written
    h = fits.getheader(path, 0)
    assert (h["INTSTART"], h["INTEND"]) == (1, 9)
    assert h["EXPSTART"] == 60000.0 and h["EXPEND"] == 60000.008
    assert h["EXPMID"] == pytest.approx(60000.00425)
    assert "SRCTYPE" not in h
    assert h["S_EXTR1D"] == "COMPLETE" and h["S_OUTLIR"] == "COMPLETE"
    assert h["TSO3MODE"] == "default" and h["EXSEGNUM"] == 1
    names = [hdu.name for hdu in fits.open(path)]
    # ASDF last, as jwst (its tree names only tso3: the model is in the FITS content)
    assert names == ["PRIMARY", "INT_TIMES", "EXTRACT1D", "EXTRACT1D", "TSO3_TRACE", "ASDF"]
    assert h["DATAMODL"] == "TSOMultiSpecModel"


def test_roundtrip_values_and_trace(written):
    path, spectra, it = written
    x = read_x1dints(path)
    assert x.layout == "tso" and len(x.spectra) == 2
    np.testing.assert_array_equal(x.int_times, it)
    for a, b in zip(x.spectra, spectra, strict=True):
        np.testing.assert_array_equal(a.flux, b.flux)
        np.testing.assert_array_equal(a.wavelength, b.wavelength)
        np.testing.assert_array_equal(a.flux_var_poisson, b.flux_var_poisson)
        np.testing.assert_array_equal(a.int_num, b.int_num)
        np.testing.assert_array_equal(a.times["tdb_mid"], b.times["tdb_mid"])
        assert (a.segment, a.spectral_order, a.detector) == (b.segment, 1, "MIRIMAGE")
        assert (a.flux_unit, a.sb_unit) == ("Jy", "MJy/sr")
    s0, s1 = x.spectra
    np.testing.assert_allclose(s0.trace_position, 30.0 + 0.01 * np.arange(5))
    np.testing.assert_array_equal(s0.n_repaired, [0, 1, 2, 0, 1])
    np.testing.assert_array_equal(s0.trace_width, 1.2)
    assert s1.trace_position is None and s1.n_repaired is None
    assert s0.meta["SLTNAME"] == "MIR_LRS-SLITLESS" and s0.meta["EXTRXSTR"] == 30.5


def test_padding_rules_and_dn_units(tmp_path):
    s = make_set([1, 2], nwave=5, flux_unit="DN/s")
    wl = np.array([[1.0, 2, 3, 4, 5], [1.0, 2, 3, 4, np.nan]])
    s.wavelength = wl
    path = tmp_path / "a_x1dints.fits"
    write_x1dints(path, [s], None, primary={"EXP_TYPE": "NRC_TSGRISM", "SRCTYPE": "POINT"})
    with fits.open(path) as h:
        d = h["EXTRACT1D"].data
        np.testing.assert_array_equal(d["N_ALONGDISP"], [5, 4])
        np.testing.assert_array_equal(d["DQ"][1], [0, 0, 0, 0, 1])
        assert d["NPIXELS"][1, 4] == 0 and np.isnan(d["FLUX"][1, 4])
        assert h["EXTRACT1D"].columns["FLUX_VAR_POISSON"].unit == "DN^2 / s^2"
        assert h["EXTRACT1D"].columns["FLUX"].unit == "DN/s"
        assert np.isnan(d["MJD-AVG"]).all()
    with pytest.raises(OutputExistsError):
        write_x1dints(path, [s], None, primary={}, overwrite=False)


def test_header_as_primary_keeps_its_layout(tmp_path):
    header = fits.Header()
    header["INSTRUME"] = ("NIRCAM", "Instrument used to acquire the data")
    header["TELESCOP"] = "JWST"
    header["DETECTOR"] = "NRCALONG"
    header["EXP_TYPE"] = "NRC_TSGRISM"
    header["INTSTART"] = 3
    header["S_DARK"] = ("COMPLETE", "Dark Subtraction")
    header["S_PHOTOM"] = ("COMPLETE", "Photometric Calibration")
    header["SRCTYPE"] = "POINT"
    header["LASTKEY"] = 1
    path = tmp_path / "b_x1dints.fits"
    s = make_set([3, 4], detector="")
    s.meta = {}
    write_x1dints(path, [s], int_times(4), primary=header, asn_pool="p.csv")
    h = fits.open(path)
    assert h[0].header["INSTRUME"] == "NIRCAM" and h[0].header["INTSTART"] == 3
    assert h[0].header.comments["INSTRUME"] == "Instrument used to acquire the data"
    keys = list(h[0].header.keys())
    # new cards where the schema puts them: statuses with the others, ASN after TELESCOP
    assert keys.index("S_EXTR1D") == keys.index("S_PHOTOM") + 1
    assert keys.index("ASNPOOL") == keys.index("TELESCOP") + 1
    assert "SRCTYPE" not in h[0].header and keys[-1] == "LASTKEY"
    assert keys[4:8] == ["DATE", "FILENAME", "DATAMODL", "INSTRUME"]  # after EXTEND
    # detector and slit name fall back to the primary header, as jwst writes them
    assert h["EXTRACT1D"].header["DETECTOR"] == "NRCALONG"
    assert h["EXTRACT1D"].header["SLTNAME"] == "NRC_TSGRISM"
    with datamodels.open(path) as m:
        assert m.meta.instrument.detector == "NRCALONG" and m.spec[0].spectral_order == 1


def test_bad_inputs(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_x1dints(tmp_path / "missing.fits")
    junk = tmp_path / "junk.fits"
    junk.write_text("this is not FITS at all\n" * 200)
    with pytest.raises(InputError, match="junk.fits"):
        read_x1dints(junk)
    image = tmp_path / "image.fits"
    fits.HDUList([fits.PrimaryHDU(np.zeros((2, 2)))]).writeto(image)
    with pytest.raises(InputError, match="EXTRACT1D"):
        read_x1dints(image)
    bad = tmp_path / "bad.fits"
    fits.HDUList(
        [
            fits.PrimaryHDU(),
            fits.BinTableHDU.from_columns([fits.Column("X", "D", array=[1.0])], name="EXTRACT1D"),
        ]
    ).writeto(bad)
    with pytest.raises(InputError, match="WAVELENGTH"):
        read_x1dints(bad)
