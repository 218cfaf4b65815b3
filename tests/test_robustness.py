"""The bad-input contract, case by case, on malformed copies of simulated observations.

Every case copies a small simulated observation, breaks it in one way (a truncation, a
missing extension or keyword, inconsistent segments, degenerate arrays, a hostile name, a
bad parameter, an unusable output folder) and runs ``tso3 run`` in this process.  Then:

- refused inputs: exit status 2 and one line on stderr naming the file or parameter, no
  traceback, no product (nothing in the output folder);
- usable inputs: exit status 0, the documented warning, and every integration in every
  product (one whtlt or phot row per integration, one x1dints row per integration);
- always: the inputs are byte-identical afterwards.

docs/usage.md, "What tso3 refuses, and what it accepts with a warning", lists the cases.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from tso3.cli import main
from tso3.simulate import simulate

NINTS = 30  # per observation, in 3 segments of 10


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    """One small observation per mode kind, simulated once for the module."""
    root = tmp_path_factory.mktemp("robustness")
    out = {}
    for mode in ("nrs_brightobj", "nrc_tsimage"):
        out[mode] = simulate(mode, root / mode, nints=NINTS, segments=3, seed=5).asn_path.parent
    sim = simulate("nis_soss", root / "soss", nints=8, segments=2, seed=5, subarray="SUBSTRIP96")
    out["nis_soss"] = sim.asn_path.parent
    sim = simulate("nis_soss", root / "stripes", nints=8, segments=2, seed=5,
                   subarray="SUB680STRIPE_SOSS")  # fmt: skip
    out["soss_stripes"] = sim.asn_path.parent
    sim = simulate("nrs_brightobj", root / "multistripe", nints=NINTS, segments=3, seed=5,
                   subarray="SUB128M4_PRISM")  # fmt: skip
    out["nrs_multistripe"] = sim.asn_path.parent
    return out


@dataclass
class Case:
    """What a broken input should give.

    status : the exit status; needle : a text the stderr line (status 2) or a warning
    (status 0) must hold; args : extra command-line arguments; output : the ``-o`` folder
    relative to the case folder; nints : integrations every product must hold (status 0).
    """

    status: int
    needle: str
    args: tuple = ()
    output: str | None = None
    nints: int = NINTS
    inputs: str | None = None  # a glob of the INPUTs in the copy (default: the ASN)
    check: Callable[[Path, str], None] | None = None  # more checks: (output folder, stderr)


# --- helpers that break a copy ---------------------------------------------------------


def segments(d: Path) -> list[Path]:
    return sorted(d.glob("*_calints.fits"))


def asn_path(d: Path) -> Path:
    return next(d.glob("*_asn.json"))


def edit_asn(d: Path, edit: Callable[[dict], None]) -> None:
    path = asn_path(d)
    asn = json.loads(path.read_text())
    edit(asn)
    path.write_text(json.dumps(asn))


def drop_segment(d: Path, index: int) -> None:
    """Remove one segment file and its ASN member."""
    gone = segments(d)[index]
    gone.unlink()

    def edit(asn):
        members = asn["products"][0]["members"]
        members[:] = [m for m in members if m["expname"] != gone.name]

    edit_asn(d, edit)


def set_keyword(path: Path, key: str, value, ext: int | str = 0) -> None:
    with fits.open(path, mode="update") as hdul:
        hdul[ext].header[key] = value


def del_keyword(path: Path, key: str, ext: int | str = 0) -> None:
    with fits.open(path, mode="update") as hdul:
        del hdul[ext].header[key]


def rewrite(path: Path, edit: Callable[[fits.HDUList], fits.HDUList | None]) -> None:
    """Load every HDU, let ``edit`` change the list, write it back."""
    with fits.open(path, memmap=False) as hdul:
        hdul.readall()
        new = edit(hdul) or hdul
        new.writeto(path, overwrite=True, output_verify="silentfix")


def edit_array(path: Path, name: str, edit: Callable[[np.ndarray], np.ndarray]) -> None:
    def change(hdul):
        hdul[name].data = edit(np.array(hdul[name].data))

    rewrite(path, change)


def drop_hdu(path: Path, name: str) -> None:
    def change(hdul):
        del hdul[name]

    rewrite(path, change)


def edit_int_times(path: Path, edit: Callable[[np.ndarray], np.ndarray]) -> None:
    def change(hdul):
        table = edit(np.array(hdul["INT_TIMES"].data))
        hdu = fits.BinTableHDU(table, header=hdul["INT_TIMES"].header, name="INT_TIMES")
        hdul[hdul.index_of("INT_TIMES")] = hdu

    rewrite(path, change)


def nan_int_times(rows: slice) -> Callable[[np.ndarray], np.ndarray]:
    def edit(table):
        for name in table.dtype.names[1:]:
            table[name][rows] = np.nan
        return table

    return edit


# --- the cases -------------------------------------------------------------------------
# Each takes the copy's folder, breaks it and returns the expected outcome.

CASES: dict[str, tuple[str, Callable[[Path], Case]]] = {}


def case(name: str, base: str = "nrs_brightobj"):
    def register(fn):
        CASES[name] = (base, fn)
        return fn

    return register


# hostile names and associations


@case("product_name_climbs_out")
def _(d):
    edit_asn(d, lambda a: a["products"][0].__setitem__("name", "../../x"))
    return Case(2, "product name")


@case("product_name_absolute")
def _(d):
    edit_asn(d, lambda a: a["products"][0].__setitem__("name", str(d / "elsewhere")))
    return Case(2, "product name")


@case("product_name_with_folder")
def _(d):
    edit_asn(d, lambda a: a["products"][0].__setitem__("name", "sub/x"))
    return Case(2, "product name")


@case("asn_id_climbs_out")
def _(d):
    edit_asn(d, lambda a: a.__setitem__("asn_id", "../o004"))
    return Case(2, "asn_id")


@case("asn_not_json")
def _(d):
    asn_path(d).write_text("{not json")
    return Case(2, "not valid JSON")


@case("asn_without_science")
def _(d):
    edit_asn(
        d, lambda a: [m.__setitem__("exptype", "background") for m in a["products"][0]["members"]]
    )
    return Case(2, "no science members")


@case("asn_member_missing")
def _(d):
    segments(d)[1].unlink()
    return Case(2, "does not exist")


@case("asn_member_is_a_folder")
def _(d):
    (d / "folder_calints.fits").mkdir()
    edit_asn(
        d, lambda a: a["products"][0]["members"][1].__setitem__("expname", "folder_calints.fits")
    )
    return Case(2, "does not exist")


@case("asn_member_absolute_path")
def _(d):
    first = segments(d)[0]
    edit_asn(d, lambda a: a["products"][0]["members"][0].__setitem__("expname", str(first)))
    return Case(0, "")


# truncations, missing extensions and keywords


@case("truncated_segment")
def _(d):
    path = segments(d)[1]
    path.write_bytes(path.read_bytes()[:200_000])
    return Case(2, "truncated")


@case("empty_file")
def _(d):
    segments(d)[0].write_bytes(b"")
    return Case(2, "seg001")


@case("not_fits")
def _(d):
    segments(d)[0].write_text("SIMPLE? no\n" * 100)
    return Case(2, "seg001")


@case("no_sci")
def _(d):
    drop_hdu(segments(d)[2], "SCI")
    return Case(2, "no SCI extension")


@case("no_dq")
def _(d):
    drop_hdu(segments(d)[0], "DQ")
    return Case(2, "DQ")


@case("no_exp_type")
def _(d):
    del_keyword(segments(d)[0], "EXP_TYPE")
    return Case(2, "EXP_TYPE")


@case("no_wavelength_nor_wcs")
def _(d):
    for path in segments(d):
        drop_hdu(path, "WAVELENGTH")
        drop_hdu(path, "ASDF")
    return Case(2, "wavelength")


@case("expname_not_a_string")
def _(d):
    edit_asn(d, lambda a: a["products"][0]["members"][0].__setitem__("expname", 12))
    return Case(2, "expname")


@case("unknown_bunit", base="nrc_tsimage")
def _(d):
    for path in segments(d):
        set_keyword(path, "BUNIT", "furlongs", ext="SCI")
    return Case(0, "BUNIT 'furlongs'")


@case("no_variance_arrays")
def _(d):
    for path in segments(d):
        for name in ("VAR_POISSON", "VAR_RNOISE", "VAR_FLAT"):
            drop_hdu(path, name)
    return Case(0, "")


@case("infinite_sci_values")
def _(d):
    def spikes(a):
        a.reshape(-1)[::97] = np.inf
        return a

    edit_array(segments(d)[0], "SCI", spikes)
    return Case(0, "")


@case("products_would_replace_inputs")
def _(d):
    for path in segments(d):  # crfints of an earlier run, reduced again into their folder
        path.rename(path.with_name(path.name.replace("_calints", "_o004_crfints")))
    return Case(2, "an input would be replaced", args=("--overwrite",), inputs="*.fits", output=".")


@case("no_intstart")
def _(d):
    for path in segments(d):
        del_keyword(path, "INTSTART")  # INTEND and the cube's length give it
    return Case(0, "")


@case("every_pixel_do_not_use")
def _(d):
    for path in segments(d):
        edit_array(path, "DQ", lambda a: a | 1)
    return Case(2, "DO_NOT_USE")


@case("every_pixel_do_not_use_imaging", base="nrc_tsimage")
def _(d):
    for path in segments(d):
        edit_array(path, "DQ", lambda a: a | 1)
    return Case(2, "DO_NOT_USE")


@case("product_name_too_long")
def _(d):
    edit_asn(d, lambda a: a["products"][0].__setitem__("name", "jw" + "x" * 300))
    return Case(2, "product name has 302 characters")


@case("sci_2d")
def _(d):
    edit_array(segments(d)[0], "SCI", lambda a: a[0])
    return Case(2, "3-D")


# times


@case("int_times_nan_rows", base="nrs_brightobj")
def _(d):
    edit_int_times(segments(d)[1], nan_int_times(slice(0, 10)))
    return Case(0, "no time", args=("--plots",), check=recorded("1-30", 10, "derived"))


@case("int_times_nan_rows_imaging", base="nrc_tsimage")
def _(d):
    edit_int_times(segments(d)[0], nan_int_times(slice(2, 5)))
    return Case(0, "no time")


@case("int_times_short")
def _(d):
    edit_int_times(segments(d)[0], lambda t: t[:3])
    return Case(0, "INT_TIMES")


@case("int_times_empty")
def _(d):
    edit_int_times(segments(d)[2], lambda t: t[:0])
    return Case(0, "INT_TIMES")


@case("int_times_missing")
def _(d):
    drop_hdu(segments(d)[1], "INT_TIMES")
    return Case(0, "INT_TIMES")


# inconsistent segments


def recorded(ranges: str, derived: int, caveat: str) -> Callable[[Path, str], None]:
    """A check that the products say which integrations are present, how many times were
    derived, and that the run log repeats the caveat."""

    def check(out: Path, err: str) -> None:
        for path in out.glob("*.fits"):
            header = fits.getheader(path)
            assert (header["TSO3INTS"], header["TSO3DTIM"]) == (ranges, derived), path.name
        for path in out.glob("*.ecsv"):
            meta = Table.read(path, format="ascii.ecsv").meta["tso3"]
            assert (meta["integrations"], meta["derived_times"]) == (ranges, derived)
        assert caveat in next(out.glob("*_tso3.log")).read_text()

    return check


@case("missing_last_segment")
def _(d):
    drop_segment(d, 2)
    return Case(0, "incomplete", nints=20, check=recorded("1-20", 0, "integrations 21-30"))


@case("missing_first_segment")
def _(d):
    drop_segment(d, 0)
    return Case(0, "incomplete", nints=20, check=recorded("11-30", 0, "integrations 1-10"))


@case("missing_first_segment_imaging", base="nrc_tsimage")
def _(d):
    drop_segment(d, 0)
    return Case(0, "incomplete", nints=20, check=recorded("11-30", 0, "integrations 1-10"))


@case("missing_middle_segment")
def _(d):
    drop_segment(d, 1)
    return Case(2, "missing")


@case("segment_listed_twice")
def _(d):
    edit_asn(d, lambda a: a["products"][0]["members"].append(dict(a["products"][0]["members"][0])))
    return Case(2, "seg001")


# degenerate arrays


def _as_int16(sci: np.ndarray) -> np.ndarray:
    """The data in counts as an int16 cube (a NaN becomes 0)."""
    scaled = np.nan_to_num(sci / np.nanmax(sci) * 20000)
    return np.round(scaled).astype(np.int16)


@case("integer_sci")
def _(d):
    for path in segments(d):
        edit_array(path, "SCI", _as_int16)
    return Case(0, "")


@case("integrations_all_nan")
def _(d):
    def blank(a):
        a[3:6] = np.nan
        return a

    edit_array(segments(d)[1], "SCI", blank)
    return Case(0, "", check=lost_integrations("whitelight_flux", [14, 15, 16]))


def lost_integrations(column: str, numbers: list[int]) -> Callable[[Path, str], None]:
    """A check that ``column`` of the table product is NaN exactly at ``numbers``."""

    def check(out: Path, err: str) -> None:
        table = Table.read(next(out.glob("*.ecsv")), format="ascii.ecsv")
        name = next(c for c in table.colnames if c.startswith(column))
        nan = np.flatnonzero(np.isnan(np.asarray(table[name], dtype=float))) + 1
        assert nan.tolist() == numbers, nan

    return check


@case("integrations_all_nan_imaging", base="nrc_tsimage")
def _(d):
    def blank(a):
        a[0:2] = np.nan
        return a

    edit_array(segments(d)[1], "SCI", blank)
    return Case(0, "", check=lost_integrations("net_aperture_sum", [11, 12]))


@case("integrations_all_do_not_use")
def _(d):
    def bad(a):
        a[4:7] |= 1
        return a

    edit_array(segments(d)[2], "DQ", bad)
    return Case(0, "", check=lost_integrations("whitelight_flux", [25, 26, 27]))


@case("err_all_zero")
def _(d):
    for path in segments(d):
        edit_array(path, "ERR", lambda a: np.zeros_like(a))
    return Case(0, "ERR")


@case("all_sci_nan")
def _(d):
    for path in segments(d):
        edit_array(path, "SCI", lambda a: np.full_like(a, np.nan))
    return Case(2, "usable")


# the exposure's setup


@case("single_integration_tso")
def _(d):
    drop_segment(d, 2)
    drop_segment(d, 1)

    def one(hdul):
        for name in ("SCI", "ERR", "DQ", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT"):
            hdul[name].data = np.array(hdul[name].data[:1])
        hdul["INT_TIMES"] = fits.BinTableHDU(hdul["INT_TIMES"].data[:1], name="INT_TIMES")
        for key, value in (("NINTS", 1), ("INTEND", 1), ("EXSEGTOT", 1)):
            hdul[0].header[key] = value

    rewrite(segments(d)[0], one)
    return Case(2, "1 integration")


@case("source_off_the_frame", base="nrc_tsimage")
def _(d):
    for path in segments(d):
        set_keyword(path, "XREF_SCI", 5000.0, ext="SCI")
    return Case(0, "XREF_SCI", check=lost_integrations("net_aperture_sum", []))


@case("source_off_the_frame_jwst_mode", base="nrc_tsimage")
def _(d):
    for path in segments(d):
        set_keyword(path, "YREF_SCI", -400.0, ext="SCI")
    return Case(2, "YREF_SCI=-400", args=("--mode", "jwst"))


@case("soss_without_pupil", base="nis_soss")
def _(d):
    for path in segments(d):
        del_keyword(path, "PUPIL")
    return Case(0, "PUPIL", nints=8)


# superstripe SOSS


def stripe_rows_of_both_segments(out: Path, err: str) -> None:
    """The x1dints holds every segment's INT_TIMES_STRIPE rows (a jwst version kept one),
    and stdatamodels reads them as the model's int_times_stripe."""
    from stdatamodels.jwst import datamodels

    path = next(out.glob("*_x1dints.fits"))
    with fits.open(path) as hdul:
        rows = hdul["INT_TIMES_STRIPE"].data
        assert rows["integration_number"].tolist() == np.repeat(np.arange(1, 9), 3).tolist()
        assert rows["stripe_number"].tolist() == [1, 2, 3] * 8
        assert np.all(np.diff(rows["int_mid_MJD_UTC"]) > 0)
    with datamodels.open(path) as model:
        assert type(model).__name__ == "TSOMultiSpecModel"
        assert len(model.int_times) == 8 and len(model.int_times_stripe) == 24
        assert {s.spectral_order for s in model.spec} == {1, 2}
    # each bin of order 1 is timed by its stripes: the blue end (column 2043) read first
    table = Table.read(next(out.glob("*_speclc.fits")), hdu=("SPECLC", 1))
    delay = (np.asarray(table["BJD_TDB_BIN"]) - np.asarray(table["BJD_TDB"])[:, None]) * 86400
    bins = Table.read(next(out.glob("*_speclc.fits")), hdu=("BINS", 1))["WAVELENGTH"]
    blue_first = delay[:, np.argsort(bins)]
    # 3 stripes of 680 columns: bins within one stripe share its time
    assert np.all(np.diff(blue_first, axis=1) > -1e-3) and np.all(np.abs(delay) < 60)
    assert np.all(blue_first[:, -1] - blue_first[:, 0] > 30)


@case("superstripe_products_hold_every_segment", base="soss_stripes")
def _(d):
    return Case(0, "", nints=8, check=stripe_rows_of_both_segments,
                args=("--set", "white_light.nbins=6"))  # fmt: skip


@case("superstripe_without_stripe_table", base="soss_stripes")
def _(d):
    drop_hdu(segments(d)[1], "INT_TIMES_STRIPE")
    return Case(2, "seg002_nis_calints.fits: SUBARRAY=SUB680STRIPE_SOSS reads 3 stripes")


@case("superstripe_unknown_subarray", base="soss_stripes")
def _(d):
    for path in segments(d):
        set_keyword(path, "SUBARRAY", "SUB99STRIPE_SOSS")
    return Case(2, "SUBARRAY=SUB99STRIPE_SOSS: not one of")


@case("superstripe_unequal_stripes", base="soss_stripes")
def _(d):
    def change(hdul):
        rows = np.array(hdul["INT_TIMES_STRIPE"].data)
        keep = ~((rows["integration_number"] == 6) & (rows["stripe_number"] == 3))
        hdul["INT_TIMES_STRIPE"] = fits.BinTableHDU(rows[keep], name="INT_TIMES_STRIPE")

    rewrite(segments(d)[1], change)
    return Case(2, "integration 6 has stripes 1-2; SUBARRAY=SUB680STRIPE_SOSS reads stripes 1-3")


def multistripe_rows_of_every_segment(out: Path, err: str) -> None:
    from stdatamodels.jwst import datamodels

    path = next(out.glob("*_x1dints.fits"))
    with fits.open(path) as hdul:
        rows = hdul["INT_TIMES_STRIPE"].data
        assert rows["integration_number"].tolist() == np.repeat(np.arange(1, 31), 4).tolist()
        assert np.all(np.diff(rows["int_start_MJD_UTC"]) > 0)
    with datamodels.open(path) as model:
        assert len(model.int_times_stripe) == 120 and len(model.spec) == 3
        assert model.meta.subarray.name == "SUB128M4_PRISM"


@case("multislit_calints", base="nrs_brightobj")
def _(d):
    """A MultiSlitModel (as calwebb_spec2 writes NIRCam DHS, one slit per stripe): reading
    the first SCI alone would silently drop the other slits."""

    def second_slit(hdul):
        extra = fits.ImageHDU(np.array(hdul["SCI"].data), hdul["SCI"].header.copy(), name="SCI")
        extra.ver, extra.header["SLTNAME"] = 2, "2"
        hdul.insert(len(hdul) - 1, extra)

    rewrite(segments(d)[1], second_slit)
    return Case(2, "seg002_nrs1_calints.fits: 2 slits in one file")


def dhs_segments(d: Path, nints: int = 6) -> list[Path]:
    """A NIRCam DHS observation (simulated, two stripes, two segments) in place of ``d``'s."""
    for path in d.glob("*"):
        path.unlink()
    sim = simulate("nrc_tsgrism", d, nints=nints, segments=2, seed=5, subarray="SUB82STRIPE2_DHS")
    return sim.files


def every_dhs_stripe(out: Path, err: str) -> None:
    path = next(out.glob("*_x1dints.fits"))
    with fits.open(path) as hdul:
        slits = [h.header["SLTNAME"] for h in hdul if h.name == "EXTRACT1D"]
    assert slits == ["1", "1", "2", "2"]


@case("nircam_dhs_multislit", base="nrs_brightobj")
def _(d):
    """A real-layout DHS observation (simulated): every slit reduced, none dropped."""
    dhs_segments(d)
    return Case(0, "", nints=6, check=every_dhs_stripe)


@case("nircam_dhs_slit_missing", base="nrs_brightobj")
def _(d):
    """A DHS segment that lacks a stripe another has: refused, not reduced with a gap."""
    files = dhs_segments(d)
    drop_hdu(files[1], ("SCI", 2))
    return Case(2, "seg002_nrca1_calints.fits: slits 1 but 1, 2 in")


@case("multistripe_products_hold_every_segment", base="nrs_multistripe")
def _(d):
    return Case(0, "", check=multistripe_rows_of_every_segment)


@case("multistripe_without_stripe_table", base="nrs_multistripe")
def _(d):
    drop_hdu(segments(d)[2], "INT_TIMES_STRIPE")
    return Case(2, "seg003_nrs1_calints.fits: SUBARRAY=SUB128M4_PRISM reads 4 stripes")


# bad parameters


PARAMETER_CASES = {
    "window_overflow": (("outlier_detection.rolling_window_width=1e400",), "rolling_window_width"),
    "window_negative": (("outlier_detection.rolling_window_width=-3",), "rolling_window_width"),
    "snr_nan": (("outlier_detection.snr=nan",), "snr"),
    "snr_inf": (("outlier_detection.snr=inf",), "snr"),
    "radius_nan": (("tso_photometry.radius=nan",), "radius"),
    "unknown_parameter": (("extract_1d.no_such=1",), "no_such"),
    "wavelength_outside_data": (("white_light.min_wavelength=40",), "wavelength"),
    "snr_empty": (("outlier_detection.snr=",), "snr"),
    "gain_negative": (("tso_photometry.gain=-1",), "gain"),
    "smoothing_negative": (("extract_1d.smoothing_length=-5",), "smoothing_length"),
    "nbins_beyond_elements": (("white_light.nbins=1000000000",), "white_light.nbins"),
    "resolving_power_beyond_elements": (
        ("white_light.resolving_power=1e9",),
        "white_light.resolving_power",
    ),
    "wavelength_min_over_max": (
        ("white_light.min_wavelength=4", "white_light.max_wavelength=2"),
        "wavelength",
    ),
}


def _parameter_case(settings: tuple[str, ...], needle: str) -> Callable[[Path], Case]:
    args = tuple(a for s in settings for a in ("--set", s))
    return lambda d: Case(2, needle, args=args)


for _name, (_settings, _needle) in PARAMETER_CASES.items():
    CASES[_name] = ("nrs_brightobj", _parameter_case(_settings, _needle))


#: One keyword set to a bad value: name -> (base, segment index or None for every
#: segment, keyword, value, HDU, what the error line must hold).
KEYWORD_CASES = {
    "nints_not_a_number": ("nrs", 1, "NINTS", "abc", 0, "NINTS"),
    "intstart_not_a_number": ("nrs", 2, "INTSTART", "x", 0, "INTSTART"),
    "xref_not_a_number": ("nrc", 0, "XREF_SCI", "abc", "SCI", "XREF_SCI='abc'"),
    "expstart_not_a_number": ("nrs", 1, "EXPSTART", "abc", 0, "EXPSTART='abc'"),
    "segment_with_another_filter": ("nrc", 1, "FILTER", "F444W", 0, "FILTER=F444W"),
    "segment_of_another_exposure": ("nrs", 2, "EXPSTART", 60300.0, 0, "seg001"),
    "segment_of_another_observation": ("nrs", 1, "OBSERVTN", "007", 0, "seg001"),
    "segment_of_another_visit": ("nrs", 1, "VISIT", "002", 0, "seg001"),
    "segment_of_another_mode": ("nrs", 1, "EXP_TYPE", "NRC_TSGRISM", 0, "EXP_TYPE"),
    "overlapping_segments": ("nrs", 1, "INTSTART", 8, 0, "overlap"),
    "soss_other_filter": ("soss", 0, "FILTER", "F277W", 0, "F277W"),
    "dispaxis_not_1_or_2": ("nrs", None, "DISPAXIS", 3, "SCI", "DISPAXIS=3"),
    "intend_beyond_nints": ("nrs", None, "NINTS", 20, 0, "INTEND=30 is beyond NINTS=20"),
    "not_a_tso": ("nrc", None, "EXP_TYPE", "NRC_IMAGE", 0, "NRC_IMAGE"),
}
_BASES = {"nrs": "nrs_brightobj", "nrc": "nrc_tsimage", "soss": "nis_soss"}


def _keyword_case(index, key, value, ext, needle) -> Callable[[Path], Case]:
    def make(d: Path) -> Case:
        chosen = segments(d) if index is None else [segments(d)[index]]
        for path in chosen:
            set_keyword(path, key, value, ext=ext)
        return Case(2, needle)

    return make


for _name, (_base, *_edit) in KEYWORD_CASES.items():
    CASES[_name] = (_BASES[_base], _keyword_case(*_edit))


# unusable output folders


@case("output_is_a_file")
def _(d):
    (d / "taken").write_text("x")
    return Case(2, "taken", output="taken")


@case("output_under_a_file")
def _(d):
    (d / "taken").write_text("x")
    return Case(2, "taken", output="taken/out")


@case("output_in_proc")
def _(d):
    return Case(2, "/proc", output="/proc/tso3-out")


@case("apcorr_for_another_mode", base="nis_soss")
def _(d):
    from tests.builders import nrs_apcorr_file

    apcorr = nrs_apcorr_file(d / "apcorr.fits")
    return Case(2, "supported for MIRI LRS and NIRSpec BOTS, not NIS_SOSS",
                args=("--set", f"extract_1d.override_apcorr={apcorr}"))  # fmt: skip


@case("apcorr_of_another_instrument")
def _(d):
    from tests.builders import lrs_apcorr_file

    apcorr = lrs_apcorr_file(d / "apcorr.fits")
    return Case(2, "not a NIRSpec APCORR reference",
                args=("--set", f"extract_1d.override_apcorr={apcorr}"))  # fmt: skip


@case("apcorr_missing_file")
def _(d):
    return Case(2, "override_apcorr", args=("--set", f"extract_1d.override_apcorr={d}/none.fits"))


@case("output_name_with_nul")
def _(d):
    return Case(2, "NUL", output=str(d / "a\0b"))


@case("search_box_wider_than_frame", base="nrc_tsimage")
def _(d):
    return Case(0, "", args=("--set", "tso_photometry.search_box_width=100001"))


@case("output_exists")
def _(d):
    out = d / "out"
    out.mkdir()
    first = next(iter(segments(d))).name.replace("_calints", "_o004_crfints")
    (out / first).write_text("earlier")
    return Case(2, "--overwrite", output="out")


# --- the contract ----------------------------------------------------------------------


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _rows_per_product(out: Path) -> dict[str, int]:
    """Rows of every table product; x1dints rows summed over segments per order, detector
    and slit."""
    rows: dict[str, int] = {}
    for path in out.glob("*.ecsv"):
        rows[path.name] = len(Table.read(path, format="ascii.ecsv"))
    for path in out.glob("*_x1dints.fits"):
        with fits.open(path) as hdul:
            for hdu in hdul:
                if hdu.name == "EXTRACT1D":
                    h = hdu.header
                    key = f"{path.name}[{h.get('SPORDER')},{h.get('DETECTOR')},{h.get('SLTNAME')}]"
                    rows[key] = rows.get(key, 0) + len(hdu.data)
    return rows


@pytest.mark.parametrize("name", sorted(CASES))
def test_contract(name, bases, tmp_path, capsys):
    base, make = CASES[name]
    work = tmp_path / "in"
    shutil.copytree(bases[base], work)
    expected = make(work)
    inputs = sorted(work.glob(expected.inputs)) if expected.inputs else [asn_path(work)]
    out = Path(expected.output) if expected.output else tmp_path / "out"
    if not out.is_absolute():
        out = work / out
    before = _digest(work)
    listing_before = set(os.listdir(out)) if out.is_dir() else None
    args = [a for a in expected.args if a != "--plots"]
    plots = [] if "--plots" in expected.args else ["--no-plots"]
    status = main(["run", *map(str, inputs), "-o", str(out), "--quiet", *plots, *args])
    err = capsys.readouterr().err
    assert status == expected.status, err
    assert "Traceback" not in err
    assert _digest(work) == before, "an input changed"
    if expected.status == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("tso3: error: "), err
        assert expected.needle in lines[0], lines[0]
        if out.is_dir():
            assert set(os.listdir(out)) == (listing_before or set()), "a partial output"
        return
    assert expected.needle in err, err
    rows = _rows_per_product(out)
    assert rows and all(n == expected.nints for n in rows.values()), rows
    if expected.check is not None:
        expected.check(out, err)


def test_at_least_forty_cases():
    assert len(CASES) >= 40


@pytest.mark.parametrize(
    ("command", "needle"),
    [
        (["simulate", "nrs_brightobj", "-o", "/proc/tso3-sim"], "/proc/tso3-sim"),
        (["demo", "-o", "/proc/tso3-demo"], "/proc/tso3-demo"),
        (["info", "{truncated}"], "truncated"),
        (["whitelight", "{x1dints}", "--set", "white_light.max_wavelength=0.1"], "cover"),
    ],
)
def test_other_commands_one_line(command, needle, bases, tmp_path, capsys):
    """The same contract for the other commands: exit 2, one line, no traceback."""
    work = tmp_path / "in"
    shutil.copytree(bases["nrs_brightobj"], work)
    truncated = segments(work)[0]
    truncated.write_bytes(truncated.read_bytes()[:100_000])
    x1dints = tmp_path / "x1dints"
    if "{x1dints}" in command:
        assert (
            main(["run", str(bases["nrs_brightobj"]), "-o", str(x1dints), "-q", "--no-plots"]) == 0
        )
    found = {"truncated": truncated, "x1dints": next(x1dints.glob("*_x1dints.fits"), None)}
    argv = [a.format(**found) for a in command] + ["-o", str(tmp_path / "out")] * (
        command[0] == "whitelight"
    )
    capsys.readouterr()
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tso3: error: ") and needle in lines[0], lines
    assert not (tmp_path / "out").exists()
