"""Metadata from the FITS headers and the WCS from the ASDF tree, without stdatamodels."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
from astropy.io import fits
from stdatamodels.jwst import datamodels

from tso3.errors import InputError
from tso3.io.header_meta import META_KEYWORDS, header_meta
from tso3.io.segments import read_segment

MODES = ["nrc_tsimage", "nrs_brightobj", "nrc_tsgrism", "mir_lrs-slitless", "nis_soss"]


def _schema_value(meta, path: str):
    node = meta
    for name in path.split("."):
        node = getattr(node, name, None)
        if node is None:
            return None
    return node


@pytest.mark.parametrize("mode", MODES)
def test_every_path_reads_what_stdatamodels_reads(simulated, mode):
    path = simulated(mode).files[0]
    seg = read_segment(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = datamodels.open(path)
    with model:
        found = 0
        for dotted in META_KEYWORDS:
            ours = _schema_value(seg.meta, dotted)
            theirs = _schema_value(model.meta, dotted)
            if isinstance(theirs, float):
                # a FITS card holds 15-16 digits, the tree (which stdatamodels prefers) 17
                assert ours == pytest.approx(theirs, rel=1e-14), dotted
            else:
                assert ours == theirs, (dotted, ours, theirs)
            found += ours is not None
    assert found >= 20  # the simulator writes most of them: the comparison has teeth


def test_the_map_is_the_schema_map():
    """Every path is where the JWST core schema puts it (HDU and keyword)."""
    for cls in (datamodels.CubeModel, datamodels.SlitModel):
        schema = cls().schema["properties"]["meta"]
        for dotted, (hdu, key) in META_KEYWORDS.items():
            node = schema
            for name in dotted.split("."):
                node = node["properties"][name]
            assert node["fits_keyword"] == key, dotted
            assert node.get("fits_hdu", "PRIMARY") == hdu, dotted


def test_absent_keywords_read_as_none():
    meta = header_meta({"PRIMARY": fits.Header({"INSTRUME": "NIRCAM"})})
    assert meta.instrument.name == "NIRCAM"
    assert meta.instrument.pupil is None and meta.bunit_data is None


def test_tree_wcs_equals_the_stdatamodels_wcs(simulated):
    path = simulated("nrc_tsimage").files[0]
    seg = read_segment(path)
    x, y = np.array([10.0, 31.5, 100.2]), np.array([5.0, 32.0, 40.7])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = datamodels.open(path)
    with model:
        expected = model.meta.wcs(x, y)
    np.testing.assert_array_equal(seg.wcs(x, y), expected)
    assert seg.stored_at(path).wcs is seg.wcs  # parsed once, shared by the views


def test_no_asdf_extension_means_no_wcs(simulated, tmp_path):
    src = simulated("nrs_brightobj").files[0]
    path = tmp_path / src.name
    with fits.open(src) as hdul:
        fits.HDUList([h for h in hdul if h.name != "ASDF"]).writeto(path)
    seg = read_segment(path)
    assert seg.wcs is None and seg.meta.instrument.name == "NIRSPEC"


def _damaged(src, tmp_path, edit):
    path = tmp_path / src.name
    shutil.copy(src, path)
    with fits.open(path, mode="update") as hdul:
        edit(hdul["ASDF"].data["ASDF_METADATA"][0])
    return path


def test_malformed_yaml_is_found_when_the_file_is_read(simulated, tmp_path):
    def garbage(tree):
        tree[40:200] = ord("x")

    path = _damaged(simulated("nrs_brightobj").files[0], tmp_path, garbage)
    with pytest.raises(InputError, match=f"{path.name}.*not a valid JWST data model"):
        read_segment(path)


def test_a_wcs_asdf_cannot_build_reads_as_no_wcs(simulated, tmp_path):
    """A tag no installed package converts (jwst-only transforms, say): no WCS, said."""

    def unknown_tag(tree):
        text = bytes(tree)
        start = text.index(b"gwcs/wcs-1.")
        tree[start : start + 13] = np.frombuffer(b"gwcs/wcs-9.9.", np.uint8)

    path = _damaged(simulated("nrc_tsimage").files[0], tmp_path, unknown_tag)
    seg = read_segment(path)  # the syntax is fine
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert seg.wcs is None
