"""tso3.io.legacy_x1dints: the x1dints in the pre-2025 layout, read back by the tools
users take spectra to (chromatic, specutils), value for value."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from astropy.io import fits

from tso3 import export_legacy, run
from tso3.cli import main
from tso3.errors import InputError, OutputExistsError
from tso3.simulate import simulate


@pytest.fixture(scope="module")
def x1dints(tmp_path_factory):
    """tso3 x1dints with two orders (NIS_SOSS) and with two detectors (NRS1 + NRS2),
    two segments each."""
    root = tmp_path_factory.mktemp("legacy")
    out = {}
    for name, kwargs in {
        "soss": {"mode": "nis_soss"},
        "nrs12": {"mode": "nrs_brightobj", "detectors": ("NRS1", "NRS2")},
    }.items():
        sim = simulate(**kwargs, output_dir=root / name, nints=12, segments=2, seed=2)
        result = run(sim.asn_path, root / f"{name}_out", plots=False, quiet=True)
        out[name] = result.x1dints
    return out


def _rows(path):
    """(detector, order, integration) -> the row's vector values and times, from the
    current-layout file."""
    rows = {}
    with fits.open(path) as hdul:
        for hdu in hdul:
            if hdu.name != "EXTRACT1D":
                continue
            data, key = hdu.data, (hdu.header["DETECTOR"], hdu.header["SPORDER"])
            for r, number in enumerate(data["INT_NUM"]):
                n = data["N_ALONGDISP"][r]
                rows[(*key, int(number))] = {
                    **{c: np.array(data[c][r][:n]) for c in hdu.columns.names
                       if data[c].ndim == 2},
                    "TDB-MID": data["TDB-MID"][r], "MJD-AVG": data["MJD-AVG"][r],
                }  # fmt: skip
    return rows


def test_two_orders_read_by_chromatic(x1dints, tmp_path, chromatic):
    (path,) = export_legacy(x1dints["soss"], tmp_path)
    assert path.name.endswith("_legacy_x1dints.fits") and path.parent == tmp_path
    rows = _rows(x1dints["soss"])
    with fits.open(path) as hdul:
        names = [h.name for h in hdul]
        assert names[:2] == ["PRIMARY", "INT_TIMES"] and names[-1] == "ASDF"
        assert names.count("EXTRACT1D") == 2 * 12  # every integration, both orders
        # integration by integration, orders within: what chromatic indexes
        keys = [(h.header["INT_NUM"], h.header["SPORDER"]) for h in hdul[2:-1]]
        assert keys == [(i, o) for i in range(1, 13) for o in (1, 2)]
        assert hdul[0].header["DATAMODL"] == "MultiSpecModel"
        assert {h.header["SRCTYPE"] for h in hdul[2:-1]} == {"POINT"}
    for order in (1, 2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rainbow = chromatic.read_rainbow(str(path), format="x1dints", order=order)
        wave = rainbow.wavelike["original_wave_index"]
        times = rainbow.timelike["original_time_index"]
        assert rainbow.flux.shape[1] == 12
        for column, name in (("FLUX", "flux"), ("FLUX_ERROR", "uncertainty")):
            want = np.array([rows[("NIS", order, i)][column] for i in range(1, 13)]).T
            np.testing.assert_array_equal(rainbow.fluxlike[name].value, want[wave][:, times])
        want = rows[("NIS", order, 1)]["WAVELENGTH"]
        np.testing.assert_array_equal(rainbow.wavelength.value, want[wave])
        tdb = [rows[("NIS", order, i)]["TDB-MID"] for i in range(1, 13)]
        np.testing.assert_array_equal(rainbow.timelike["int_mid_BJD_TDB"].value[times], tdb)


def test_every_spectrum_read_by_specutils(x1dints, tmp_path):
    from specutils import SpectrumList

    paths = export_legacy(x1dints["nrs12"], tmp_path)
    assert [p.name.split("_")[-3] for p in paths] == ["nrs1", "nrs2"]  # a file per detector
    rows = _rows(x1dints["nrs12"])
    for path, detector in zip(paths, ("NRS1", "NRS2"), strict=True):
        assert fits.getheader(path)["DETECTOR"] == detector
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spectra = SpectrumList.read(str(path))
        assert len(spectra) == 12
        for spectrum in spectra:
            header = spectrum.meta["header"]
            row = rows[(detector, header["SPORDER"], header["INT_NUM"])]
            np.testing.assert_array_equal(spectrum.flux.value, row["FLUX"])
            np.testing.assert_array_equal(spectrum.spectral_axis.value, row["WAVELENGTH"])
            np.testing.assert_array_equal(spectrum.uncertainty.array, row["FLUX_ERROR"])
            assert str(spectrum.flux.unit) == "Jy"
            assert header["MJD-AVG"] == row["MJD-AVG"] and header["TDB-MID"] == row["TDB-MID"]
        with fits.open(path) as hdul:  # every column, DQ unsigned as in the x1dints
            for hdu in hdul[2:-1]:
                row = rows[(detector, hdu.header["SPORDER"], hdu.header["INT_NUM"])]
                for name in hdu.columns.names:
                    np.testing.assert_array_equal(hdu.data[name], row[name])
                assert hdu.data["DQ"].dtype == np.uint32


def test_the_export_opens_with_stdatamodels(x1dints, tmp_path):
    from stdatamodels.jwst import datamodels

    (path,) = export_legacy(x1dints["soss"], tmp_path)
    with datamodels.open(path) as model:
        assert type(model).__name__ == "MultiSpecModel" and len(model.spec) == 24
        assert model.spec[1].spectral_order == 2 and model.spec[1].int_num == 1


def test_refusals_leave_nothing(x1dints, tmp_path):
    (path,) = export_legacy(x1dints["soss"], tmp_path / "a")
    with pytest.raises(OutputExistsError):
        export_legacy(x1dints["soss"], tmp_path / "a")
    assert export_legacy(x1dints["soss"], tmp_path / "a", overwrite=True) == [path]
    with pytest.raises(InputError, match="already in the pre-2025 layout"):
        export_legacy(path, tmp_path / "b")
    no_times = tmp_path / "no_times_x1dints.fits"
    with fits.open(x1dints["soss"]) as hdul:
        hdus = [hdul[0]]
        for hdu in hdul[1:]:
            if hdu.name == "EXTRACT1D":
                keep = [c for c in hdu.columns if not c.name.startswith(("MJD", "TDB"))]
                hdus.append(fits.BinTableHDU.from_columns(keep, header=hdu.header))
        fits.HDUList(hdus).writeto(no_times)
    with pytest.raises(InputError, match="no integration times"):
        export_legacy(no_times, tmp_path / "c")
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


def test_command_line(x1dints, tmp_path, capsys):
    assert main(["export", str(x1dints["nrs12"]), "-o", str(tmp_path / "out")]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert main(["export", str(x1dints["nrs12"]), "-o", str(tmp_path / "out")]) == 2
    calints = next(x1dints["nrs12"].parent.glob("*_crfints.fits"))
    assert main(["export", str(calints), "-o", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "exists" in err and "not an x1dints file" in err
    assert len(err.strip().splitlines()) == 2 and not (tmp_path / "bad").exists()


def test_int_times_made_from_the_rows_when_missing(x1dints, tmp_path):
    """chromatic takes the times from INT_TIMES: an x1dints without the table still
    exports, with a table made from the per-row times."""
    source = tmp_path / "bare_x1dints.fits"
    with fits.open(x1dints["soss"]) as hdul:
        want = np.array(hdul["INT_TIMES"].data)
        fits.HDUList([h for h in hdul if h.name != "INT_TIMES"]).writeto(source)
    (path,) = export_legacy(source, tmp_path)
    have = fits.getdata(path, "INT_TIMES")
    for name in want.dtype.names:
        np.testing.assert_array_equal(have[name], want[name])
