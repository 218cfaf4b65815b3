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


@pytest.mark.parametrize("table", ["missing", "empty", "short"])
def test_int_times_problems(tmp_path, table):
    if table == "short":
        p = make_segment(tmp_path, intstart=1, intend=10, table=int_times(1, 7))
        assert "does not cover" in _error([p])
        return
    p = make_segment(tmp_path)
    with fits.open(p) as hdul:
        keep = [h for h in hdul if h.name != "INT_TIMES"]
        if table == "empty":
            keep.append(fits.BinTableHDU(hdul["INT_TIMES"].data[:0], name="INT_TIMES"))
        fits.HDUList(keep).writeto(p, overwrite=True)
    assert "INT_TIMES" in _error([p])


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
