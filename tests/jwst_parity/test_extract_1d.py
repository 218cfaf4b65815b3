"""extract_1d and white_light: tso3 ``--mode jwst`` against jwst 3.0.0's calwebb_tso3.

Both read the same NIRSpec BOTS segments (jwst's own mock WCS, :mod:`.mocks`) with the
same extract1d reference, outlier detection off.  Every EXTRACT1D column jwst writes must
agree to 1e-6 (relative), times to 1e-8 d, and so must the whtlt table.
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from tests.builders import lrs_apcorr_file, nrs_apcorr_file
from tso3.pipeline import run

from .mocks import (
    dhs_extract1d_json,
    dhs_segments,
    extract1d_json,
    run_jwst_tso3,
    tso_segments,
)

RTOL = 1e-6
TIME_COLUMNS = {"MJD-BEG", "MJD-AVG", "MJD-END", "TDB-BEG", "TDB-MID", "TDB-END"}


def _differences(have, want, name: str) -> str | None:
    have, want = np.asarray(have, dtype=float), np.asarray(want, dtype=float)
    if have.shape != want.shape:
        return f"{name}: shape {have.shape} != {want.shape}"
    time = name in TIME_COLUMNS or name.startswith(("MJD", "BJD"))
    rtol, atol = (0.0, 1e-8) if time else (RTOL, 0.0)
    if np.allclose(have, want, rtol=rtol, atol=atol, equal_nan=True):
        return None
    worst = np.nanmax(np.abs(have - want) / np.maximum(np.abs(want), 1e-300))
    return f"{name}: max relative difference {worst:.3g}"


def compare_x1dints(tso3_path, jwst_path) -> list[str]:
    """Every EXTRACT1D column and extraction keyword of jwst's file, in tso3's."""
    problems = []
    with fits.open(tso3_path) as ours, fits.open(jwst_path) as theirs:
        mine = [h for h in ours if h.name == "EXTRACT1D"]
        ref = [h for h in theirs if h.name == "EXTRACT1D"]
        if len(mine) != len(ref):
            return [f"{len(mine)} EXTRACT1D extensions, jwst {len(ref)}"]
        for k, (a, b) in enumerate(zip(mine, ref, strict=True), start=1):
            problems += _compare_extension(a, b, f"EXTRACT1D {k}")
    return problems


def _compare_extension(a, b, label: str) -> list[str]:
    """Every column and extraction keyword of jwst's EXTRACT1D ``b`` in tso3's ``a``."""
    problems = []
    for name in b.columns.names:
        if name not in a.columns.names:
            problems.append(f"{label}: no column {name}")
            continue
        if b.data[name].dtype.kind in "SU":
            if list(a.data[name]) != list(b.data[name]):
                problems.append(f"{label}: {name} differs")
            continue
        found = _differences(a.data[name], b.data[name], name)
        if found:
            problems.append(f"{label}: {found}")
    for key in ("SPORDER", "SLTNAME", "SRCTYPE", "EXTRXSTR", "EXTRXSTP", "EXTRYSTR",
                "EXTRYSTP", "DISPAXIS", "DETECTOR", "PA_APER"):  # fmt: skip
        if key in b.header and (key not in a.header or a.header[key] != b.header[key]):
            problems.append(f"{label}: {key} {a.header.get(key)!r} != {b.header[key]!r}")
    return problems


def compare_whtlt(tso3_path, jwst_path) -> list[str]:
    ours, theirs = Table.read(tso3_path), Table.read(jwst_path)
    problems = [f"no column {c}" for c in theirs.colnames if c not in ours.colnames]
    for name in theirs.colnames:
        if name in ours.colnames:
            found = _differences(ours[name], theirs[name], name)
            if found:
                problems.append(found)
    return problems


def assert_equal_jwst(asn, tmp_path, extract_1d: dict):
    """Run jwst's calwebb_tso3 and tso3 --mode jwst with the same extract_1d settings
    (jwst's names are tso3's), outliers off; every product difference fails the test.
    Returns tso3's RunResult."""
    expected = run_jwst_tso3(asn, tmp_path / "jwst", extract_1d)
    overrides = [f"extract_1d.{k}={v}" for k, v in extract_1d.items()]
    result = run(asn, tmp_path / "tso3", overrides=overrides, skip=["outlier_detection"],
                 mode="jwst", plots=False, quiet=True)  # fmt: skip
    problems = compare_x1dints(result.x1dints, expected["x1dints"])
    problems += compare_whtlt(result.whtlt, expected["whtlt"])
    assert not problems, "\n".join(problems)
    return result


@pytest.fixture(scope="module")
def bots(tmp_path_factory, jwst_step):
    """A flat trace whose WCS puts the source 1.3 px below the light (so that
    use_source_posn shows), and a trace tilted by 2.5 px across the frame."""
    return {
        "flat": tso_segments(tmp_path_factory.mktemp("flat"), source_ypos=23.3),
        "tilted": tso_segments(
            tmp_path_factory.mktemp("tilted"), source_ypos=24.0, tilt=0.05
        ),  # fmt: skip
        "prism": tso_segments(tmp_path_factory.mktemp("prism"), prism=True),
    }


@pytest.mark.parametrize(
    ("aperture", "setting"),
    [
        ({"use_source_posn": False}, None),
        ({}, False),  # the step parameter wins over the JSON's default
        ({"use_source_posn": False, "extract_width": 6}, None),
        ({}, None),  # jwst's default for a NIRSpec point source: the WCS source position
        ({"extract_width": 6}, None),  # ... and with a width, the WCS trace
        ({"use_source_posn": False}, True),
    ],
)
@pytest.mark.parametrize("trace", ["flat", "tilted", "prism"])
def test_nrs_bots_box_equal_jwst(bots, tmp_path, aperture, setting, trace):
    asn = bots[trace]
    ref = extract1d_json(tmp_path / "extract1d.json", **aperture)
    step = {"override_extract1d": str(ref)}
    if setting is not None:
        step["use_source_posn"] = setting
    assert_equal_jwst(asn, tmp_path, step)


def test_two_detectors_equal_jwst(tmp_path_factory, tmp_path, jwst_step):
    """NRS1 and NRS2 of one exposure: one EXTRACT1D per detector x segment, and a whtlt
    with a time and flux column per detector."""
    asn = tso_segments(tmp_path_factory.mktemp("nrs12"), detectors=("NRS1", "NRS2"))
    ref = extract1d_json(tmp_path / "extract1d.json", use_source_posn=False)
    assert_equal_jwst(asn, tmp_path, {"override_extract1d": str(ref)})


@pytest.mark.parametrize("exp_type", ["NRC_TSGRISM", "MIR_LRS-SLITLESS"])
@pytest.mark.parametrize("width", [None, 6])
@pytest.mark.parametrize("source_posn", [None, True])
def test_slitless_modes_equal_jwst(tmp_path, jwst_step, exp_type, width, source_posn):
    """NIRCam grism (DISPAXIS=1) and MIRI LRS slitless (DISPAXIS=2, a CubeModel): no
    source position there, so the JSON aperture as given, or centred with a width, even
    when use_source_posn asks for it."""
    asn = tso_segments(tmp_path / "in", exp_type)
    extra = {} if width is None else {"extract_width": width}
    ref = extract1d_json(tmp_path / "extract1d.json", exp_type, **extra)
    step = {"override_extract1d": str(ref)}
    if source_posn is not None:
        step["use_source_posn"] = source_posn
    assert_equal_jwst(asn, tmp_path, step)


def test_nircam_dhs_stripes_equal_jwst(tmp_path, jwst_step):
    """NIRCam DHS: jwst has no stage 3 for it, but calwebb_spec2's extract_1d extracts
    each stripe (slit) of a MultiSlit calints, its aperture chosen by the slit's name.
    tso3 --mode jwst gives every stripe of every segment as jwst's Extract1dStep does."""
    import stdatamodels.jwst.datamodels as dm
    from jwst.extract_1d import Extract1dStep

    asn = dhs_segments(tmp_path / "in")
    ref = dhs_extract1d_json(tmp_path / "extract1d.json")
    expected = []
    for k, path in enumerate(sorted((tmp_path / "in").glob("*_calints.fits")), start=1):
        with dm.open(path) as model:
            spectra = jwst_step(Extract1dStep, model, override_extract1d=str(ref),
                                apply_apcorr=False, override_psf="N/A")  # fmt: skip
        out = tmp_path / f"jwst_{k}_x1dints.fits"
        spectra.save(out)
        expected.append(out)
    result = run(asn, tmp_path / "tso3", overrides=[f"extract_1d.override_extract1d={ref}"],
                 skip=["outlier_detection"], mode="jwst", plots=False, quiet=True)  # fmt: skip
    with fits.open(result.x1dints) as hdul:  # stripe by stripe, each segment in turn
        ours = {(int(h.data["SEGMENT"][0]), h.header["SLTNAME"]): h
                for h in hdul if h.name == "EXTRACT1D"}  # fmt: skip
        assert sorted(ours) == [(1, "1"), (1, "2"), (2, "1"), (2, "2")]
        problems, compared = [], []
        for k, path in enumerate(expected, start=1):  # jwst: segment by segment
            with fits.open(path) as theirs:
                for ref_hdu in (h for h in theirs if h.name == "EXTRACT1D"):
                    stripe = ref_hdu.header["SLTNAME"]
                    compared.append((k, stripe))
                    problems += _compare_extension(
                        ours[k, stripe], ref_hdu, f"segment {k} stripe {stripe}"
                    )
    assert sorted(compared) == sorted(ours)  # every spectrum of each, one to one
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("width", [None, 6])
@pytest.mark.parametrize("source_posn", [None, False])
def test_lrs_fixed_slit_equal_jwst(tmp_path, jwst_step, width, source_posn):
    """MIRI LRS fixed slit (a FULL-frame SlitModel, DISPAXIS=2): a point source's aperture
    moves to where the WCS puts DITH_RA/DITH_DEC (jwst's default there), and with a width
    follows the WCS trace; use_source_posn off keeps the JSON's aperture."""
    asn = tso_segments(tmp_path / "in", "MIR_LRS-FIXEDSLIT", source_ypos=23.3)
    extra = {} if width is None else {"extract_width": width}
    ref = extract1d_json(tmp_path / "extract1d.json", "MIR_LRS-FIXEDSLIT", **extra)
    step = {"override_extract1d": str(ref)}
    if source_posn is not None:
        step["use_source_posn"] = source_posn
    result = assert_equal_jwst(asn, tmp_path, step)
    with fits.open(result.x1dints) as hdul:
        centre = hdul["EXTRACT1D"].header["EXTRXSTR"] + hdul["EXTRACT1D"].header["EXTRXSTP"]
    # 1-based: the JSON's columns 21-28 are centred on 25.5, the source on 24.3
    assert centre / 2 == pytest.approx(25.5 if source_posn is False else 24.3, abs=0.01)


@pytest.mark.parametrize("width", [None, 6])
@pytest.mark.parametrize("exp_type", ["MIR_LRS-SLITLESS", "MIR_LRS-FIXEDSLIT"])
def test_lrs_aperture_correction_equal_jwst(tmp_path, jwst_step, width, exp_type):
    """A MIRI LRS APCORR reference: jwst interpolates the correction per element at
    (NPIXELS, WAVELENGTH) of the subarray's row (SLITLESSPRISM, or FULL for the fixed
    slit) and scales the fluxes and variances; so must --mode jwst."""
    asn = tso_segments(tmp_path / "in", exp_type, source_ypos=23.3)
    extra = {} if width is None else {"extract_width": width}
    ref = extract1d_json(tmp_path / "extract1d.json", exp_type, **extra)
    apcorr = lrs_apcorr_file(tmp_path / "apcorr.fits")
    step = {"override_extract1d": str(ref), "apply_apcorr": True, "override_apcorr": str(apcorr)}
    result = assert_equal_jwst(asn, tmp_path, step)
    assert fits.getheader(result.x1dints)["R_APCORR"] == "apcorr.fits"


@pytest.mark.parametrize(
    ("layout", "sizeunit", "source_posn"),
    [("jwst", "pixels", False), ("jwst", "arcsec", True), ("reference", "pixels", False)],
)
def test_nrs_aperture_correction_equal_jwst(bots, tmp_path, layout, sizeunit, source_posn):
    """A NIRSpec APCORR reference (NrsFsApcorrModel): jwst interpolates at pixel phase
    0.5, sizes converted from arcsec with its WCS's scale at the source, wavelengths
    outside the grid uncorrected.  Stored as STScI's files are (phase first), jwst 3.0
    applies no correction at all, and neither does --mode jwst."""
    ref = extract1d_json(tmp_path / "extract1d.json", use_source_posn=source_posn)
    apcorr = nrs_apcorr_file(tmp_path / "apcorr.fits", layout=layout, sizeunit=sizeunit)
    step = {"override_extract1d": str(ref), "apply_apcorr": True, "override_apcorr": str(apcorr)}
    result = assert_equal_jwst(bots["tilted"], tmp_path, step)
    with fits.open(result.x1dints) as hdul:
        assert hdul[0].header["R_APCORR"] == "apcorr.fits"
        flux = hdul["EXTRACT1D"].data["FLUX"]
    plain = run(bots["tilted"], tmp_path / "plain", skip=["outlier_detection"], mode="jwst",
                overrides=[f"extract_1d.override_extract1d={ref}",
                           f"extract_1d.use_source_posn={source_posn}"],
                plots=False, quiet=True)  # fmt: skip
    ratio = flux / fits.getdata(plain.x1dints, "EXTRACT1D")["FLUX"]
    if layout == "reference":
        np.testing.assert_array_equal(ratio[np.isfinite(ratio)], 1.0)
    else:  # corrected inside the grid (> 1.02), not below 7.55 um
        assert np.all(ratio[:, :5] == 1.0) and np.all(ratio[:, 6:] > 1.02)


def test_jwst_x1dints_exported_for_chromatic(bots, tmp_path, chromatic):
    """An x1dints jwst 3.0 wrote (which chromatic cannot open) exported by tso3 to the
    pre-2025 layout: chromatic reads every flux and time jwst wrote."""
    import warnings

    from tso3 import export_legacy

    ref = extract1d_json(tmp_path / "extract1d.json", use_source_posn=False)
    jwst_x1d = run_jwst_tso3(bots["flat"], tmp_path / "jwst", {"override_extract1d": str(ref)})
    (path,) = export_legacy(jwst_x1d["x1dints"], tmp_path / "legacy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rainbow = chromatic.read_rainbow(str(path), format="x1dints")
    with fits.open(jwst_x1d["x1dints"]) as hdul:
        tables = [h.data for h in hdul if h.name == "EXTRACT1D"]
        flux = np.concatenate([t["FLUX"] for t in tables]).T  # (wavelength, time)
        tdb = np.concatenate([t["TDB-MID"] for t in tables])
    wave = rainbow.wavelike["original_wave_index"]
    times = rainbow.timelike["original_time_index"]
    np.testing.assert_array_equal(rainbow.flux.value, flux[wave][:, times])
    np.testing.assert_array_equal(rainbow.timelike["int_mid_BJD_TDB"].value[times], tdb)
