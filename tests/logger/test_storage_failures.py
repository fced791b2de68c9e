"""Storage failures and damaged libraries, through real filesystems where this host allows.

A full disk is a 1 MiB tmpfs (``mount`` needs root with CAP_SYS_ADMIN); elsewhere SQLite's
own page limit (``PRAGMA max_page_count``) makes the library full, a real SQLITE_FULL.
Read-only media is a tmpfs remounted read-only, or a write-protected folder for a user
that is not root. A deleted or replaced library is the real thing everywhere.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from logger.cli import main
from logger.config import Config
from logger.errors import StorageError
from logger.live import LiveSession
from logger.records import Mark, MarkSource, SessionStatus
from logger.store import SessionStore, SessionWriter
from tests.logger.test_store import make_meta
from tests.logger.test_store_schema import v3_library

RATE_HZ = 1000
LONG_SCENARIO = """
[device]
uid = "SIM-FULL"
rate_hz = 1000

[[steps]]
action = "rest"
seconds = 1.0

[[steps]]
action = "mark"

[[steps]]
action = "hold"
force_n = 20.0
seconds = 120.0
"""
PAGE_CAP = 60  # pages (4 KiB) when no tmpfs can be mounted: full after a few seconds


def _mount(*args: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(["mount", *args], capture_output=True, check=False)
    return done.returncode == 0


@contextlib.contextmanager
def _tmpfs(where: Path, size: str) -> Iterator[bool]:
    where.mkdir(parents=True, exist_ok=True)
    mounted = _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where))
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture
def full_disk(tmp_path) -> Iterator[tuple[Path, list[str]]]:
    """``(library path, command prefix)``: a library that fills up after a few seconds of
    recording at 1 kHz, and the Python command that runs ``pressure-logger`` on it."""
    with _tmpfs(tmp_path / "disk", "512k") as mounted:
        db = tmp_path / "disk" / "sessions.sqlite3"
        if mounted:
            yield db, [sys.executable, "-m", "logger.cli"]
            return
        capped = textwrap.dedent(f"""
            import sys, logger.store as s
            connect = s.SessionStore._connect
            def capped(path, read_only):
                conn = connect(path, read_only)
                conn.execute("PRAGMA max_page_count = {PAGE_CAP}")
                return conn
            s.SessionStore._connect = staticmethod(capped)
            from logger.cli import main
            sys.exit(main(sys.argv[1:]))
        """)
        yield db, [sys.executable, "-c", capped]


@pytest.fixture
def read_only_dir(tmp_path) -> Iterator[tuple[Path, Callable[[], None]]]:
    """``(folder, protect)``: fill the folder, then ``protect()`` makes it read-only media."""
    where = tmp_path / "media"
    with _tmpfs(where, "8m") as mounted:
        if not mounted and os.geteuid() == 0:
            pytest.skip("root without mount rights: no way to make read-only media here")

        def protect() -> None:
            if mounted:
                assert _mount("-o", "remount,ro", str(where))
            else:
                for f in where.iterdir():
                    f.chmod(0o444)
                where.chmod(0o555)

        try:
            yield where, protect
        finally:
            if not mounted:
                where.chmod(0o755)


def _record(prefix: list[str], db: Path, scenario: Path, *extra: str, duration_s: float = 60.0):
    return subprocess.run(
        [*prefix, "record", "--port", f"sim://full?scenario={scenario}&speed=4",
         "--db", str(db), "--duration", str(duration_s), *extra],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if not ln.startswith("warning:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def _sessions_json(db: Path, capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["sessions", "--db", str(db), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _library_with_one_session(db: Path, *, finish: bool = True) -> str:
    with SessionStore(db) as store:
        sid = store.create_session(make_meta())
        store.append_samples(sid, 0, np.arange(100) / RATE_HZ, np.arange(100).reshape(-1, 1))
        if finish:
            store.finish_session(sid, SessionStatus.COMPLETE)
    return sid


# ------------------------------------------------------------------ a full disk
@pytest.mark.slow
def test_record_on_a_full_disk_stops_with_one_line_and_keeps_what_fits(full_disk, tmp_path, capsys):
    db, prefix = full_disk
    scenario = tmp_path / "long.toml"
    scenario.write_text(LONG_SCENARIO)
    done = _record(prefix, db, scenario)
    assert done.returncode == 1
    line = _one_error_line(done.stderr)
    assert line.startswith("pressure-logger record: error: ") and str(db) in line
    assert "full" in line
    # the session is kept: its id is printed and it is in the library, interrupted
    sid = done.stdout.strip()
    [row] = _sessions_json(db, capsys)
    assert row["id"] == sid and row["status"] == "interrupted"
    kept, unsaved = row["samples"], row["unsaved_samples"]
    assert f"keeps {kept} samples, {unsaved} not saved" in line
    assert kept > RATE_HZ  # what came before the failure is there …
    assert kept + unsaved < 60 * RATE_HZ  # … and the recording stopped long before --duration
    # the stored samples are exactly what the stats say, gap-free, in order
    out = tmp_path / "s.csv"
    assert main(["export", sid, "--format", "csv", "--out", str(out), "--db", str(db)]) == 0
    with out.open() as fh:
        rows = list(csv.reader(fh))[1:]
    assert len(rows) == kept
    t_s = np.array([float(r[0]) for r in rows])
    assert np.allclose(np.diff(t_s), 1.0 / RATE_HZ)
    doc_out = tmp_path / "s.json"
    assert main(["export", sid, "--format", "json", "--out", str(doc_out), "--db", str(db)]) == 0
    doc = json.loads(doc_out.read_text())
    assert doc["stats"]["unsaved_samples"] == unsaved and doc["stats"]["samples"] == kept
    assert [m["point_index"] for m in doc["marks"]] == [0]  # the event before it is kept
    assert not db.with_name(db.name + "-reserve").exists()


def test_writer_on_a_full_disk_counts_every_sample_it_could_not_store(full_disk, monkeypatch):
    db, prefix = full_disk
    if prefix[1] == "-c":  # no tmpfs: the same page limit as the subprocess gets
        connect = SessionStore._connect

        def capped(path: Path, read_only: bool) -> sqlite3.Connection:
            conn = connect(path, read_only)
            conn.execute(f"PRAGMA max_page_count = {PAGE_CAP}")
            return conn

        monkeypatch.setattr(SessionStore, "_connect", staticmethod(capped))
    store = SessionStore(db)
    sid = store.create_session(make_meta())
    failures: list[StorageError] = []
    writer = SessionWriter(store, sid, on_failure=failures.append)
    writer.put_marks([Mark(0.0, 0, MarkSource.CLI)])
    rng = np.random.default_rng(1)
    block, sent = 100, 0
    while not writer.failed.is_set() and sent < 10_000_000:
        raw = rng.integers(-(2**31), 2**31 - 1, size=(block, 1), dtype=np.int64)
        writer.put_samples(sent, (sent + np.arange(block)) / RATE_HZ, raw.astype(np.int32))
        sent += block
        if sent % 5000 == 0:
            writer.flush(timeout_s=30)
    for _ in range(10):  # more arrives after the failure, before the owner stops
        writer.put_samples(sent, (sent + np.arange(block)) / RATE_HZ, np.zeros((block, 1)))
        sent += block
    with pytest.raises(StorageError, match="full") as err:
        writer.close(SessionStatus.COMPLETE)
    assert failures and failures[0].disk_full
    rec = store.load_session(sid)
    t_s, _ = store.load_samples(sid)
    assert rec.status is SessionStatus.INTERRUPTED
    assert rec.stats.samples == len(t_s) == writer.committed_samples
    assert rec.stats.samples + rec.stats.unsaved_samples == sent  # nothing unaccounted
    assert f"{writer.unsaved_samples} not saved" in str(err.value)
    assert len(rec.marks) == 1
    store.close()


def test_a_library_on_a_full_disk_still_lists_and_exports(full_disk, tmp_path, capsys):
    """Opening marks a dead recorder's session interrupted; on a full disk it cannot, and
    the library is listed and exported as it is (with a warning), not refused."""
    db, prefix = full_disk
    if prefix[1] == "-c":
        pytest.skip("needs a filesystem that can be filled (tmpfs mount)")
    sid = _library_with_one_session(db, finish=False)
    con = sqlite3.connect(db)
    with con:  # its recorder died: a pid that cannot be alive
        con.execute("UPDATE sessions SET owner_pid = ?", (2**22 + 1,))
    con.close()
    with (db.parent / "filler").open("wb") as fh, contextlib.suppress(OSError):
        while True:
            fh.write(bytes(64 * 1024))
            fh.flush()
    [row] = _sessions_json(db, capsys)
    assert row["id"] == sid and row["status"] == "recording" and row["samples"] == 100
    out = tmp_path / "x.csv"
    assert main(["export", sid, "--format", "csv", "--out", str(out), "--db", str(db)]) == 0
    assert len(out.read_text().splitlines()) == 101


def test_writer_on_media_turned_read_only_stops_and_says_what_was_kept(db_path, monkeypatch):
    """A disk that turns read-only mid-recording (ext4 errors=remount-ro) cannot be staged
    here (a remount is refused while files are open for writing): SQLite's error is
    injected into the writer's transaction instead."""
    store = SessionStore(db_path)
    sid = store.create_session(make_meta())
    failures: list[StorageError] = []
    writer = SessionWriter(store, sid, on_failure=failures.append)
    writer.put_samples(0, np.arange(500) / RATE_HZ, np.zeros((500, 1)))
    assert writer.flush(timeout_s=30) and writer.committed_samples == 500

    def read_only(self, *args, **kwargs):  # what _tx makes of SQLite's SQLITE_READONLY
        raise StorageError(f"{self.db_path}: attempt to write a readonly database")

    monkeypatch.setattr(SessionStore, "write_batch", read_only)
    writer.put_samples(500, (500 + np.arange(300)) / RATE_HZ, np.zeros((300, 1)))
    assert writer.failed.wait(10) and "readonly" in str(failures[0])
    writer.put_samples(800, (800 + np.arange(200)) / RATE_HZ, np.zeros((200, 1)))
    with pytest.raises(StorageError) as err:
        writer.close(SessionStatus.COMPLETE)
    text = str(err.value)
    assert "keeps 500 samples, 500 not saved" in text and "opens as interrupted" in text
    monkeypatch.undo()
    store.close()
    with SessionStore(db_path) as again:  # what was committed before the failure is there
        rec = again.load_session(sid)
        assert rec.stats.samples == 500 and len(again.load_samples(sid)[0]) == 500


# ------------------------------------------- the library deleted or replaced under record
def _record_and(tmp_path: Path, db: Path, action) -> subprocess.CompletedProcess:
    scenario = tmp_path / "long.toml"
    scenario.write_text(LONG_SCENARIO)
    proc = subprocess.Popen(
        [sys.executable, "-m", "logger.cli", "record", "--port",
         f"sim://gone?scenario={scenario}&speed=1", "--db", str(db), "--duration", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    def committed() -> bool:
        try:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        except sqlite3.Error:
            return False
        try:
            return con.execute("SELECT count(*) FROM chunks").fetchone()[0] > 0
        except sqlite3.Error:
            return False
        finally:
            con.close()

    stop = threading.Event()
    try:
        while not committed():
            assert proc.poll() is None, proc.communicate()
            stop.wait(0.05)
        action()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_record_whose_library_is_deleted_fails_and_prints_no_session_id(tmp_path):
    db = tmp_path / "sessions.sqlite3"
    done = _record_and(tmp_path, db, db.unlink)
    assert done.returncode == 1
    line = _one_error_line(done.stderr)
    assert str(db) in line and "deleted" in line
    assert done.stdout.strip() == ""  # no id of a session that does not exist
    assert not db.exists()


def test_record_whose_library_is_replaced_fails_and_prints_no_session_id(tmp_path):
    db = tmp_path / "sessions.sqlite3"
    other = tmp_path / "other.sqlite3"
    SessionStore(other).close()
    done = _record_and(tmp_path, db, lambda: other.replace(db))
    assert done.returncode == 1
    line = _one_error_line(done.stderr)
    assert "replaced" in line
    assert done.stdout.strip() == ""
    with SessionStore(db) as store:
        assert store.list_sessions() == []  # nothing went into the file that took its place


# ------------------------------------------------------------------- read-only media


def test_a_library_on_read_only_media_lists_and_exports(read_only_dir, tmp_path, capsys):
    media, protect = read_only_dir
    db = media / "sessions.sqlite3"
    sid = _library_with_one_session(db)
    protect()
    [row] = _sessions_json(db, capsys)
    assert row["id"] == sid and row["samples"] == 100
    out = tmp_path / "s.csv"
    assert main(["export", sid, "--format", "csv", "--out", str(out), "--db", str(db)]) == 0
    assert len(out.read_text().splitlines()) == 101
    assert sorted(p.name for p in media.iterdir()) == ["sessions.sqlite3"]  # no -wal, -shm


def test_record_into_a_read_only_library_says_so(read_only_dir, capsys):
    media, protect = read_only_dir
    db = media / "sessions.sqlite3"
    _library_with_one_session(db)
    protect()
    capsys.readouterr()
    assert main(["record", "--port", "sim://?speed=0", "--db", str(db)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "read-only" in err[0] and "no device" not in err[0]


def test_record_into_a_read_only_folder_says_so(read_only_dir, capsys):
    media, protect = read_only_dir
    protect()
    db = media / "new" / "sessions.sqlite3"
    assert main(["record", "--port", "sim://?speed=0", "--db", str(db)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "read-only" in err[0] and "no device" not in err[0]


def test_recalibrate_on_read_only_media_says_so(read_only_dir, capsys):
    media, protect = read_only_dir
    db = media / "sessions.sqlite3"
    sid = _library_with_one_session(db)
    protect()
    capsys.readouterr()
    assert main(["recalibrate", sid, "--db", str(db)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "read-only" in err[0] and str(db) in err[0]


def test_live_view_of_a_read_only_library_streams_and_refuses_to_record(read_only_dir, caplog):
    media, protect = read_only_dir
    db = media / "sessions.sqlite3"
    _library_with_one_session(db)
    protect()
    live = LiveSession("sim://ro?scenario=demo&speed=1", Config(), db_path=db)
    live.start()
    try:
        assert live.wait_ready(15.0) and live.error is None
        assert live.calibration is not None  # the device's own: the stored ones unreadable
        with pytest.raises(StorageError, match="read-only"):
            live.start_recording()
    finally:
        live.stop()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_an_old_library_on_read_only_media_says_it_needs_an_upgrade(read_only_dir):
    media, protect = read_only_dir
    db = media / "sessions.sqlite3"
    v3_library(db, calibrations="none")  # made by an earlier version
    protect()
    with pytest.raises(StorageError, match=r"read-only, and its schema \(version 3\) needs an"):
        SessionStore(db)


# ---------------------------------------------------------------- damaged content
def _damage(db: Path, sid: str, how: str) -> str:
    """Damage the library; return what the error line must name."""
    con = sqlite3.connect(db)
    with con:
        match how:
            case "dropped table":
                con.execute("DROP TABLE holds")
                named = "holds"
            case "bad JSON":
                con.execute("UPDATE sessions SET device = '{\"uid\": ' WHERE id = ?", (sid,))
                named = sid
            case "unknown status":
                con.execute("UPDATE sessions SET status = 'paused' WHERE id = ?", (sid,))
                named = sid
            case "damaged stats":
                con.execute("UPDATE sessions SET stats = '[1, 2]' WHERE id = ?", (sid,))
                named = sid
    con.close()
    return named


DAMAGE = ["dropped table", "bad JSON", "unknown status", "damaged stats"]


@pytest.mark.parametrize("how", DAMAGE)
@pytest.mark.parametrize("command", ["sessions", "export", "report", "review"])
def test_damaged_content_is_one_line_naming_the_table_or_session(
    db_path, tmp_path, capsys, how, command
):
    sid = _library_with_one_session(db_path)
    named = _damage(db_path, sid, how)
    argv = {
        "sessions": ["sessions"],
        "export": ["export", sid, "--format", "json", "--out", str(tmp_path / "x.json")],
        "report": ["report", sid, "--out", str(tmp_path / "x.pdf")],
        "review": ["review", sid],
    }[command]
    capsys.readouterr()
    assert main([*argv, "--db", str(db_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert str(db_path) in err[0] and named in err[0]
    assert not (tmp_path / "x.json").exists() and not (tmp_path / "x.pdf").exists()
