"""Files only the user can read: library (+ WAL/SHM), calibration, configuration, exports,
created 0600 in 0700 directories; an existing library others can read gets one warning."""

from __future__ import annotations

import logging
import os
import stat

import pytest

from logger.cli import main
from logger.config import Config, save_config
from logger.files import private_dir
from logger.store import CalibrationStore, SessionStore

from .test_store import fill, make_meta

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask():
    """The usual desktop umask (022), under which files default to world-readable."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_library_wal_and_shm_are_0600_in_0700_directories(tmp_path):
    db = tmp_path / "data" / "pressure-logger" / "sessions.sqlite3"
    store = SessionStore(db)
    sid = store.create_session(make_meta())
    fill(store, sid, 0.2)
    files = sorted(db.parent.iterdir())
    assert [f.name for f in files] == [db.name, f"{db.name}-shm", f"{db.name}-wal"]
    assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    assert mode(db.parent) == mode(db.parent.parent) == 0o700
    store.close()


def test_calibration_store_first_in_the_file_is_private_too(tmp_path):
    db = tmp_path / "new" / "sessions.sqlite3"
    CalibrationStore(db)
    assert mode(db) == 0o600 and mode(db.parent) == 0o700


def test_config_and_exports_are_0600(db_path, tmp_path):
    cfg = tmp_path / "conf" / "deep" / "config.toml"
    save_config(Config(), cfg)
    assert mode(cfg) == 0o600 and mode(cfg.parent) == mode(cfg.parent.parent) == 0o700
    with SessionStore(db_path) as store:
        sid = store.create_session(make_meta())
        fill(store, sid, 0.2)
    for fmt in ("csv", "json", "edf"):
        out = tmp_path / f"out.{fmt}"
        out.write_text("old")
        out.chmod(0o644)  # replacing a readable file does not keep its mode
        assert main(["export", sid, "--format", fmt, "--out", str(out), "--db", str(db_path)]) == 0
        assert mode(out) == 0o600, fmt


def test_a_library_others_can_read_gets_one_warning_line(db_path, caplog):
    SessionStore(db_path).close()
    assert mode(db_path) == 0o600
    SessionStore(db_path).close()
    assert not caplog.records  # private: nothing to say
    db_path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="logger.store"):
        SessionStore(db_path).close()
        SessionStore(db_path).close()  # once per process, not per opening
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert str(db_path) in warnings[0] and "readable by other users" in warnings[0]
    assert "chmod 600" in warnings[0]


def test_private_dir_creates_only_what_is_missing(tmp_path):
    (tmp_path / "a").mkdir(mode=0o755)
    private_dir(tmp_path / "a" / "b" / "c")
    assert mode(tmp_path / "a") == 0o755
    assert mode(tmp_path / "a" / "b") == mode(tmp_path / "a" / "b" / "c") == 0o700
