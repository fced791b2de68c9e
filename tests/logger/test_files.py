"""atomic_write: the file appears complete or not at all."""

from __future__ import annotations

import os
import stat
import threading
import tty

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


def test_a_fifo_is_written_through_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    with atomic_write(fifo) as tmp:
        tmp.write_bytes(b"a,b\n1,2\n")
    reader.join(5)
    assert got == [b"a,b\n1,2\n"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_a_failed_block_sends_nothing_into_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(BadInput), atomic_write(fifo) as tmp:
        tmp.write_bytes(b"half")
        raise BadInput("refused")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # nobody opened it: no reader was needed


def test_a_device_node_is_written_through():
    # a pty's slave end is a real character device that a test may write (never /dev/null:
    # a writer that replaced it would break the machine)
    master, slave = os.openpty()
    try:
        path = os.ttyname(slave)
        tty.setraw(slave)
        with atomic_write(path) as tmp:
            tmp.write_bytes(b"t_s,force_n\n")
        assert stat.S_ISCHR(os.lstat(path).st_mode)
        assert os.read(master, 100) == b"t_s,force_n\n"
    finally:
        os.close(master)
        os.close(slave)


def test_a_symlink_stays_a_link_and_its_target_is_replaced(tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(real.name)
    with atomic_write(link) as tmp:
        assert tmp.parent == tmp_path
        tmp.write_text("new")
    assert link.is_symlink() and os.readlink(link) == "real.csv"
    assert real.read_text() == "new"
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to("made.csv")
    with atomic_write(dangling) as tmp:
        tmp.write_text("made")
    assert dangling.is_symlink() and (tmp_path / "made.csv").read_text() == "made"


def test_written_files_are_private_whatever_the_old_mode_or_the_umask(tmp_path):
    old = tmp_path / "old.txt"
    old.write_text("x")
    old.chmod(0o644)
    with atomic_write(old) as tmp:
        tmp.write_text("y")
    assert stat.S_IMODE(old.stat().st_mode) == 0o600
    mask = os.umask(0o000)
    try:
        new = tmp_path / "new.txt"
        with atomic_write(new) as tmp:
            tmp.write_text("y")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(new.stat().st_mode) == 0o600
