"""atomic_write: the file appears complete or not at all."""

from __future__ import annotations

import pytest

from logger.errors import BadInput, DeviceError
from logger.files import atomic_write


def test_success_renames_the_temporary_into_place(tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("old")
    with atomic_write(out) as tmp:
        assert tmp.parent == tmp_path and tmp != out
        tmp.write_text("new")
        assert out.read_text() == "old"  # not visible before the block ends
    assert out.read_text() == "new"
    assert list(tmp_path.iterdir()) == [out]


def test_an_error_leaves_the_target_alone_and_removes_the_temporary(tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("old")
    with pytest.raises(BadInput, match="refused"), atomic_write(out) as tmp:
        tmp.write_text("half")
        raise BadInput("refused")
    assert out.read_text() == "old"
    assert list(tmp_path.iterdir()) == [out]


def test_os_errors_become_one_line_device_errors_naming_the_file(tmp_path):
    out = tmp_path / "out.txt"
    with pytest.raises(DeviceError, match=f"^{out}: cannot write"), atomic_write(out) as tmp:
        tmp.write_text("x")
        (tmp_path / "missing" / "y").write_text("x")  # FileNotFoundError
    assert list(tmp_path.iterdir()) == []
    missing = tmp_path / "missing" / "out.txt"
    with pytest.raises(DeviceError, match=f"^{missing}: cannot write"), atomic_write(missing):
        pass
    with pytest.raises(DeviceError, match=f"^{tmp_path}: cannot write"), atomic_write(tmp_path):
        pass  # the rename onto a directory fails
    assert list(tmp_path.iterdir()) == []
    assert not list(tmp_path.parent.glob(f".{tmp_path.name}.*"))  # its temporary is gone
