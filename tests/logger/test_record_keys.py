"""`record` at a keyboard: Enter marks the next point. The lines typed are read on a thread
(``select`` cannot wait on a Windows console); on a terminal the command behaves as it did."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from logger.commands.record import typed_lines
from logger.records import MarkSource
from logger.store import SessionStore

posix_only = pytest.mark.skipif(os.name != "posix", reason="needs a pty")


def _reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "record:keys"]


def test_typed_lines_come_as_they_are_typed_and_the_reader_ends_with_the_stream():
    r, w = os.pipe()
    with os.fdopen(r, "r") as stream:
        lines = typed_lines(stream)
        (reader,) = _reader_threads()
        assert reader.daemon  # it never holds the program open
        assert lines.empty()
        os.write(w, b"\n")
        assert lines.get(timeout=5) == ""
        os.write(w, b"next\nand ")  # lines come in any pieces
        os.write(w, b"next\r\n")  # (a console on Windows ends lines so)
        assert [lines.get(timeout=5), lines.get(timeout=5)] == ["next", "and next"]
        assert lines.empty()
        os.close(w)
        reader.join(5)
        assert not reader.is_alive()


def _scenario(tmp_path: Path) -> Path:
    path = tmp_path / "rest.toml"
    path.write_text('[[steps]]\naction = "rest"\nseconds = 10.0\n')
    return path


def _record_args(tmp_path: Path, db_path: Path, duration_s: float) -> list[str]:
    port = f"sim://keys?scenario={_scenario(tmp_path)}&speed=1"
    return [sys.executable, "-m", "logger.cli", "record", "--port", port, "--db", str(db_path),
            "--points", "Upper trapezius L;Upper trapezius R",
            "--duration", str(duration_s)]  # fmt: skip


def _env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[2])  # this tree, whatever is installed
    return {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}


@posix_only
@pytest.mark.slow
def test_enter_at_a_terminal_marks_the_next_point(tmp_path, db_path):
    master, slave = os.openpty()
    proc = subprocess.Popen(_record_args(tmp_path, db_path, 3.0), stdin=slave,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env())  # fmt: skip
    os.close(slave)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith("recording; Enter"):
                break
        time.sleep(1.0)
        os.write(master, b"\n")
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        os.close(master)
    assert proc.returncode == 0, err
    assert "mark at" in err and "Upper trapezius L" in err
    rec = SessionStore(db_path).load_session(out.strip().splitlines()[-1])
    assert [(m.source, m.point_index) for m in rec.marks] == [(MarkSource.CLI, 0)]
    assert 0.5 < rec.marks[0].t_s < 3.0


@posix_only
@pytest.mark.slow
def test_a_recording_in_the_background_of_a_terminal_is_not_stopped(tmp_path, db_path):
    """`record … &` at an interactive shell: a job in the background that reads its
    terminal is stopped (SIGTTIN); record must only read what was typed to it."""
    import pty
    import signal

    out_file = tmp_path / "sid.txt"
    command = " ".join(f"'{a}'" for a in _record_args(tmp_path, db_path, 1.0))
    pid, master = pty.fork()
    if pid == 0:  # the child: an interactive shell with job control on the pty
        os.execvpe("bash", ["bash", "--norc", "--noprofile", "-i"], _env())
    try:
        os.write(master, f"{command} > '{out_file}' 2>/dev/null &\n".encode())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _written(out_file):
            _drain(master)
            time.sleep(0.2)
        assert _written(out_file), "the job never finished (stopped for reading its terminal?)"
    finally:
        with contextlib.suppress(OSError):
            os.write(master, b"kill -9 %1 2>/dev/null\n")
            _drain(master)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(master)
    assert SessionStore(db_path).load_session(out_file.read_text().split()[-1]).marks == []


def _written(path: Path) -> bool:
    return path.exists() and bool(path.read_text().strip())


def _drain(fd: int) -> None:
    """Read what the shell wrote, so that it never blocks on a full terminal."""
    import select

    while select.select([fd], [], [], 0.05)[0]:
        try:
            if not os.read(fd, 4096):
                return
        except OSError:
            return
