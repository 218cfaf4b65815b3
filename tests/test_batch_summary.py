"""tso3.batch_summary: the rows of a batch and their table."""

from __future__ import annotations

import math

from tso3.batch_summary import BatchRow, read_summary, write_summary


def test_summary_round_trip(tmp_path):
    rows = [
        BatchRow("p1", "NRS_BRIGHTOBJ", 60, 1e-4, 480.5, 3.2, "done"),
        BatchRow("p2.json", status="failed", error="x.fits: bad, really"),
    ]
    path = tmp_path / "batch_summary.ecsv"
    write_summary(path, rows, {"version": "x", "mode": "jwst", "parameters": {}})
    back = read_summary(path)
    assert back[0] == rows[0]
    assert back[1].error == rows[1].error and back[1].mode == ""
    assert math.isnan(back[1].scatter_ppm) and back[1].integrations == 0
    assert [p.name for p in tmp_path.iterdir()] == ["batch_summary.ecsv"]  # no temporary
