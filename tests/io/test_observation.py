"""Reading observations: ASN and file input, ordering, grouping, named errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.io import fits

from tests.builders import int_times, make_segment, write_asn
from tso3.errors import InputError
from tso3.io.association import output_basename, product_name_from_meta
from tso3.io.observation import load_observation


@pytest.fixture
def three_segments(tmp_path):
    return [
        make_segment(tmp_path, seg=k, nseg=3, intstart=1 + 10 * (k - 1), intend=10 * k, nints=30)
        for k in (1, 2, 3)
    ]


def test_file_list_is_ordered_by_intstart(three_segments):
    shuffled = [three_segments[2], three_segments[0], three_segments[1]]
    obs = load_observation(shuffled)
    assert [s.intstart for s in obs.segments] == [1, 11, 21]
    assert obs.nints() == 30
    times = obs.int_times()
    assert np.all(np.diff(times["int_mid_MJD_UTC"]) > 0)
    assert times["integration_number"].tolist() == list(range(1, 31))


def test_folder_input_derives_association(three_segments):
    obs = load_observation(three_segments[0].parent)
    assert obs.asn_id == "o004"
    assert obs.product_name.startswith("jw01366-o004_t001_nirspec")
    assert "s1600a1" in obs.product_name
    assert not obs.is_imaging


def test_asn_input(three_segments, tmp_path):
    asn = write_asn(tmp_path / "asn.json", [p.name for p in reversed(three_segments)])
    obs = load_observation(asn)
    assert obs.product_name == "jw01366-o004_t001_nirspec_clear-prism"
    assert obs.association.asn_pool == "jw01366_20230101t000000_pool.csv"
    assert obs.association.asn_table == "asn.json"
    assert [s.intstart for s in obs.segments] == [1, 11, 21]


def test_nrs1_nrs2_form_two_series(tmp_path):
    files = []
    for det in ("NRS2", "NRS1"):
        for k in (1, 2):
            files.append(
                make_segment(
                    tmp_path,
                    seg=k,
                    nseg=2,
                    intstart=1 + 5 * (k - 1),
                    intend=5 * k,
                    nints=10,
                    detector=det,
                )
            )
    obs = load_observation(files)
    assert obs.detectors == ["NRS1", "NRS2"]
    assert [len(v) for v in obs.series.values()] == [2, 2]
    assert all(s.detector == "NRS2" for s in obs.series["NRS2"])


def test_imaging_is_detected(tmp_path):
    p = make_segment(tmp_path, exp_type="NRC_TSIMAGE", detector="NRCA3")
    assert load_observation([p]).is_imaging
    (tmp_path / "miri").mkdir()
    p2 = make_segment(tmp_path / "miri", exp_type="MIR_IMAGE", detector="MIRIMAGE", tsovisit=True)
    assert load_observation([p2]).is_imaging


def test_output_names():
    assert output_basename("jw1_calints.fits", "o002") == "jw1"
    assert output_basename("jw1_o002_calints.fits", "o002") == "jw1"
    name = product_name_from_meta(
        program="02783",
        observation="002",
        instrument="miri",
        filter="P750L",
        subarray="SLITLESSPRISM",
    )
    assert name == "jw02783-o002_t001_miri_p750l-slitlessprism"


# ----- named errors -----------------------------------------------------------------


def _error(inputs) -> str:
    with pytest.raises(InputError) as info:
        load_observation(inputs)
    return str(info.value)


def test_truncated_fits(tmp_path):
    p = make_segment(tmp_path)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    msg = _error([p])
    assert p.name in msg and "truncated" in msg


def test_not_fits(tmp_path):
    p = tmp_path / "jw01366004001_04101_00001-seg001_nrs1_calints.fits"
    p.write_text("hello")
    assert "cannot read FITS" in _error([p])


def test_not_tso(tmp_path):
    p = make_segment(tmp_path, exp_type="MIR_IMAGE", tsovisit=False, detector="MIRIMAGE")
    assert "not a TSO exposure" in _error([p])


def test_mixed_exp_type(tmp_path):
    a = make_segment(tmp_path, seg=1, intstart=1, intend=5, nints=10)
    (tmp_path / "b").mkdir()
    b = make_segment(
        tmp_path / "b",
        seg=2,
        intstart=6,
        intend=10,
        nints=10,
        exp_type="NRC_TSGRISM",
        detector="NRCALONG",
    )
    assert "EXP_TYPE" in _error([a, b])


def test_mismatched_frame_shapes(tmp_path):
    a = make_segment(tmp_path, seg=1, intstart=1, intend=5, nints=10)
    b = make_segment(tmp_path, seg=2, intstart=6, intend=10, nints=10, shape=(9, 16))
    assert "frame shape" in _error([a, b])


def test_mismatched_extension_shape(tmp_path):
    p = make_segment(tmp_path)
    with fits.open(p, mode="update") as hdul:
        hdul["ERR"].data = np.zeros((3, 8, 16), np.float32)
    assert "ERR has shape" in _error([p])


def test_overlapping_segments(tmp_path):
    a = make_segment(tmp_path, seg=1, intstart=1, intend=6, nints=10)
    b = make_segment(tmp_path, seg=2, intstart=5, intend=10, nints=10)
    assert "overlap" in _error([a, b])


def test_duplicated_segments(tmp_path):
    a = make_segment(tmp_path, seg=1, intstart=1, intend=5, nints=10)
    (tmp_path / "b").mkdir()
    b = make_segment(tmp_path / "b", seg=1, intstart=1, intend=5, nints=10)
    assert "duplicates" in _error([a, b])


def test_missing_integrations(tmp_path):
    a = make_segment(tmp_path, seg=1, intstart=1, intend=5, nints=15)
    b = make_segment(tmp_path, seg=3, intstart=11, intend=15, nints=15)
    msg = _error([a, b])
    assert "6-10 are missing" in msg


def test_int_times_short_derived_from_the_cadence(tmp_path):
    p = make_segment(tmp_path, intstart=1, intend=10, table=int_times(1, 7))
    obs = load_observation([p])
    assert obs.derived_times == 3 and "derived from the cadence" in obs.caveats[0]
    expected = int_times(1, 10)
    for name in expected.dtype.names:
        np.testing.assert_allclose(obs.int_times()[name], expected[name], rtol=0, atol=1e-9)


def test_int_times_nan_rows_derived(tmp_path):
    table = int_times(1, 10)
    for name in table.dtype.names[1:]:
        table[name][4:6] = np.nan
    obs = load_observation([make_segment(tmp_path, table=table)])
    assert obs.derived_times == 2
    np.testing.assert_allclose(
        obs.int_times()["int_mid_MJD_UTC"], int_times(1, 10)["int_mid_MJD_UTC"]
    )


def _without_int_times(path, *, empty: bool) -> None:
    with fits.open(path) as hdul:
        keep = [h for h in hdul if h.name != "INT_TIMES"]
        if empty:
            keep.append(fits.BinTableHDU(hdul["INT_TIMES"].data[:0], name="INT_TIMES"))
        fits.HDUList(keep).writeto(path, overwrite=True)


@pytest.mark.parametrize("empty", [False, True])
def test_int_times_absent_derived_from_the_header(tmp_path, empty):
    p = make_segment(tmp_path, intstart=1, intend=10)
    _without_int_times(p, empty=empty)
    with fits.open(p, mode="update") as hdul:
        hdul[0].header.update(EXPSTART=60000.0, EXPEND=60000.0 + 100 / 86400, NINTS=10)
    obs = load_observation([p])
    assert obs.derived_times == 10 and "EXPSTART and EXPEND" in obs.caveats[0]
    times = obs.int_times()
    np.testing.assert_allclose(times["int_start_MJD_UTC"][[0, 9]], 60000 + np.r_[0, 90] / 86400)
    np.testing.assert_allclose(times["int_mid_MJD_UTC"][0], 60000 + 5 / 86400)
    assert np.isnan(times["int_mid_BJD_TDB"]).all()  # no BSTRTIME/BENDTIME


def test_no_times_anywhere_is_an_error(tmp_path):
    p = make_segment(tmp_path, intstart=1, intend=10)
    _without_int_times(p, empty=False)
    with fits.open(p, mode="update") as hdul:
        for key in ("EXPSTART", "EXPEND"):
            hdul[0].header.remove(key, ignore_missing=True)
    assert "EXPSTART/EXPEND cannot give them" in _error([p])


def test_data_not_3d(tmp_path):
    p = make_segment(tmp_path)
    with fits.open(p, mode="update") as hdul:
        hdul["SCI"].data = np.zeros((8, 16), np.float32)
    assert "not a 3-D" in _error([p])


def test_single_integration(tmp_path):
    p = make_segment(tmp_path, intstart=1, intend=1, nints=2)
    assert "needs >= 2" in _error([p])


def test_asn_invalid_json(tmp_path):
    p = tmp_path / "asn.json"
    p.write_text("{not json")
    assert "not valid JSON" in _error(p)


def test_asn_without_science(tmp_path):
    p = tmp_path / "asn.json"
    p.write_text(
        json.dumps(
            {
                "asn_id": "o001",
                "products": [
                    {"name": "x", "members": [{"expname": "a.fits", "exptype": "background"}]}
                ],
            }
        )
    )
    assert "no science members" in _error(p)


def test_asn_missing_member(tmp_path):
    asn = write_asn(tmp_path / "asn.json", ["nope_calints.fits"])
    msg = _error(asn)
    assert "asn.json" in msg and "nope_calints.fits does not exist" in msg


def test_empty_folder(tmp_path):
    assert "no *_calints.fits" in _error(tmp_path)


def test_zero_times_are_unset(tmp_path):
    # as in a real MIRI LRS ground-test cube: 3 INT_TIMES rows for 10 integrations, BJD 0
    table = int_times(1, 3)
    for name in ("int_start_BJD_TDB", "int_mid_BJD_TDB", "int_end_BJD_TDB"):
        table[name] = 0.0
    obs = load_observation([make_segment(tmp_path, intstart=1, intend=10, table=table)])
    times = obs.int_times()
    assert obs.derived_times == 7 and np.isnan(times["int_mid_BJD_TDB"]).all()
    np.testing.assert_allclose(times["int_mid_MJD_UTC"], int_times(1, 10)["int_mid_MJD_UTC"])


def test_read_slits_gives_every_dhs_stripe_with_its_own_cubes(tmp_path):
    """The groundwork of NIRCam DHS (issue 29): each slit of a MultiSlit calints is a
    Segment with its EXTVER, SLTNAME, wavelengths and arrays; INT_TIMES comes from the
    ASDF tree, where the MultiSlitModel keeps it."""
    from tso3.io.segments import read_slits
    from tso3.simulate import simulate

    sim = simulate("nrc_tsgrism", tmp_path, nints=6, segments=2, seed=2,
                   subarray="SUB82STRIPE2_DHS")  # fmt: skip
    slits = read_slits(sim.files[1])
    assert [(s.extver, s.slit) for s in slits] == [(1, "1"), (2, "2")]
    for s in slits:
        assert s.shape == (3, 41, 1024) and (s.intstart, s.intend) == (4, 6)
        assert s.int_times["integration_number"].tolist() == [4, 5, 6]
        assert np.isfinite(s.int_times["int_mid_MJD_UTC"]).all()
        assert s.sci_header["SLTNAME"] == s.slit and s.wavelength_image.shape == (41, 1024)
    with fits.open(sim.files[1]) as hdul:
        second = np.asarray(hdul["SCI", 2].data[1], np.float32)
        dq = np.asarray(hdul["DQ", 2].data[0])
    with slits[1].arrays() as arrays:
        np.testing.assert_array_equal(arrays.read("SCI", 1, 2)[0], second)
        np.testing.assert_array_equal(arrays.read_dq(np.s_[0]), dq)
        assert arrays.has("VAR_FLAT") and not arrays.has("ZEROFRAME")
    obs = load_observation(sim.files)  # a series per stripe, the files' slits in each
    assert list(obs.series) == ["STRIPE1", "STRIPE2"] and obs.files == sim.files
    assert [[s.key for s in segs] for segs in obs.series.values()] == [
        [(f, ver) for f in sim.files] for ver in (1, 2)
    ]
    assert obs.nints("STRIPE2") == 6
