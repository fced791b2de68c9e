"""The scripted pty device the logger's tests talk to: once closed it sends nothing, even
from a thread still streaming, so its descriptor numbers, soon another file's, stay untouched."""

from __future__ import annotations

import os

from .pty_device import PtyDevice


def test_a_closed_device_writes_nothing_into_the_file_that_reuses_its_descriptor(tmp_path):
    dev = PtyDevice()
    master = dev.master
    dev.close()
    library = tmp_path / "sessions.sqlite3"
    library.write_bytes(b"SQLite format 3\x00")
    fd = os.open(library, os.O_RDWR)
    if fd != master:  # the library on the number the device's master had
        os.dup2(fd, master)
        os.close(fd)
    try:
        dev.write(b"\x00frame bytes still on their way\x00")  # a player thread, late
    finally:
        os.close(master)
    assert library.read_bytes() == b"SQLite format 3\x00"
