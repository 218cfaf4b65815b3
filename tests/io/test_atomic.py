"""tso3.io.atomic: products published all at once, output folders checked first."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from tso3.errors import InputError
from tso3.io.atomic import StagedOutputs, atomic_output, output_folder


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    final = tmp_path / "a.fits"
    with pytest.raises(RuntimeError), atomic_output(final) as tmp:
        tmp.write_text("partial")
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []


def test_staged_outputs_publish_together(tmp_path):
    staged = StagedOutputs()
    for name in ("a.ecsv", "b.fits"):
        staged.reserve(tmp_path / name).write_text(name)
    assert not (tmp_path / "a.ecsv").exists()
    staged.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ecsv", "b.fits"]


def test_output_folder_made_and_removed_on_failure(tmp_path):
    out = tmp_path / "new" / "deeper"
    with pytest.raises(RuntimeError), output_folder(out):
        assert out.is_dir()
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []  # both new folders gone


def test_output_folder_kept_when_it_existed(tmp_path):
    with pytest.raises(RuntimeError), output_folder(tmp_path):
        raise RuntimeError
    assert tmp_path.is_dir()


@pytest.mark.parametrize(
    ("where", "needle"),
    [("file", "is a file"), ("file/below", "is a file"), ("/proc/tso3-test", "cannot write")],
)
def test_unusable_output_folders(tmp_path, where, needle):
    (tmp_path / "file").write_text("x")
    out = Path(where) if where.startswith("/") else tmp_path / where
    with pytest.raises(InputError, match=needle), output_folder(out):
        pass


def test_read_only_file_system(tmp_path, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(Path, "touch", refuse)
    with pytest.raises(InputError, match="Read-only file system"), output_folder(tmp_path / "o"):
        pass
    assert not (tmp_path / "o").exists()


def test_temporary_names_carry_the_writing_process(tmp_path):
    """One rule for the temporary name, read back by tso3 batch's clean-up."""
    import os

    from tso3.io.atomic import temporary_owner, temporary_path

    tmp = temporary_path(tmp_path / "jw_x1dints.fits")
    assert tmp.parent == tmp_path and tmp.name.startswith(".") and tmp.suffix == ".fits"
    assert temporary_owner(tmp) == os.getpid()
    assert temporary_owner(tmp_path / "jw_x1dints.fits") is None
    assert temporary_owner(temporary_path(tmp_path / "jw_plots")) == os.getpid()  # a folder
