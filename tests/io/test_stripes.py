"""Superstripe layout and INT_TIMES_STRIPE checks (tso3.io.stripes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.lib.recfunctions as rfn
import pytest

from tso3.errors import InputError
from tso3.formats import INT_TIMES_STRIPE_DTYPE
from tso3.io.stripes import segment_stripe_times, stripe_layout

PATH = Path("seg.fits")
SUB680 = stripe_layout("SUB680STRIPE_SOSS")


def _table(ints, count, drop=()):
    rows = [(i, s) for i in ints for s in range(1, count + 1) if (i, s) not in drop]
    out = np.zeros(len(rows), INT_TIMES_STRIPE_DTYPE)
    out["integration_number"], out["stripe_number"] = np.array(rows).T
    out["int_mid_MJD_UTC"] = 60000 + out["integration_number"] + out["stripe_number"] / 100
    return out


@pytest.mark.parametrize(
    ("subarray", "count", "width"),
    [("SUB17STRIPE_SOSS", 120, 17), ("SUB60STRIPE_SOSS", 34, 60), ("SUB204STRIPE_SOSS", 10, 204),
     ("sub680stripe_soss", 3, 680), ("SUB256M2_PRISM", 2, 252), ("SUB128M4_PRISM", 4, 124),
     ("SUB64M8_PRISM", 8, 60), ("SUB32M16_PRISM", 16, 28)],
)  # fmt: skip
def test_layouts(subarray, count, width):
    layout = stripe_layout(subarray)
    assert (layout.count, layout.width) == (count, width)


@pytest.mark.parametrize("subarray", ["SUBSTRIP256", "SUB512", "", "SUB99STRIPE_SOSS"])
def test_other_subarrays_have_no_layout(subarray):
    assert stripe_layout(subarray) is None


def test_soss_columns_are_read_from_column_2043_down():
    number = stripe_layout("SUB204STRIPE_SOSS").column_stripes(2048, "NIS")
    assert (number[:4] == 0).all() and (number[2044:] == 0).all()  # reference columns
    assert number[2043] == number[1840] == 1 and number[1839] == 2
    assert number[4] == number[207] == 10
    assert np.bincount(number)[1:].tolist() == [204] * 10


def test_prism_multistripe_columns_on_nrs1_and_nrs2():
    layout = stripe_layout("SUB64M8_PRISM")  # 8 stripes of 60 science columns: 480
    nrs1 = layout.column_stripes(480, "NRS1")
    assert nrs1[0] == nrs1[59] == 1 and nrs1[60] == 2 and nrs1[479] == 8
    nrs2 = layout.column_stripes(480, "NRS2")
    assert nrs2[479] == 1 and nrs2[0] == 8


def test_segment_rows_are_picked_and_ordered():
    table = _table(range(1, 9), 3)[::-1]  # a superset, in any order
    rows = segment_stripe_times(PATH, SUB680, table, 4, 6, 2048)
    assert rows["integration_number"].tolist() == [4, 4, 4, 5, 5, 5, 6, 6, 6]
    assert rows["stripe_number"].tolist() == [1, 2, 3] * 3
    np.testing.assert_allclose(rows["int_mid_MJD_UTC"][:2], [60004.01, 60004.02])


def test_no_table_is_an_error():
    with pytest.raises(InputError, match="reads 10 stripes per integration but the file has no"):
        segment_stripe_times(PATH, stripe_layout("SUB204STRIPE_SOSS"), None, 1, 5, 2048)


def test_a_missing_stripe_is_named():
    table = _table(range(1, 6), 3, drop={(4, 2)})
    with pytest.raises(InputError, match=r"integration 4 has stripes 1, 3; .* reads stripes 1-3"):
        segment_stripe_times(PATH, SUB680, table, 1, 5, 2048)


def test_unequal_stripes_are_an_error():
    table = _table(range(1, 6), 4)  # 4 stripes where SUB680 reads 3
    with pytest.raises(InputError, match="integration 1 has stripes 1-4"):
        segment_stripe_times(PATH, SUB680, table, 1, 5, 2048)


def test_frame_width_must_be_the_reassembled_one():
    with pytest.raises(InputError, match="2048 columns wide, not 1024"):
        segment_stripe_times(PATH, SUB680, _table([1], 3), 1, 1, 1024)


def test_missing_column_is_named():
    table = _table([1, 2], 3)
    plain = rfn.drop_fields(table, "stripe_number", usemask=False)
    with pytest.raises(InputError, match="INT_TIMES_STRIPE has no column stripe_number"):
        segment_stripe_times(PATH, SUB680, plain, 1, 2, 2048)
