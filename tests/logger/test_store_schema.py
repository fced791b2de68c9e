"""The library's one schema history (logger/store/schema.py): migrations, libraries made
by earlier versions, and the one format of stored wall-clock times."""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from pathlib import Path

import pytest

from calibration.models import Calibration, FitResult, fit_calibration
from logger.errors import BadInput, StorageError
from logger.records import SessionStats, SessionStatus
from logger.store import AuditAction, CalibrationStore, SessionStore, schema, utc_iso

from .test_store import _dead_pid, fill, make_meta

# The calibration store's own table as versions before 4 created it, by itself, in any file
# it was given (before or after the session tables): kept verbatim, it is history.
OLD_CALIBRATIONS_DDL = """
CREATE TABLE IF NOT EXISTS calibrations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_uid TEXT NOT NULL,
    created_at TEXT NOT NULL,
    model TEXT NOT NULL,
    coefficients TEXT NOT NULL,
    masses_kg TEXT NOT NULL,
    counts TEXT NOT NULL,
    residuals_n TEXT NOT NULL,
    r2 REAL NOT NULL,
    nonlinearity_pct REAL NOT NULL,
    g REAL NOT NULL DEFAULT 9.80665,
    note TEXT
);
CREATE INDEX IF NOT EXISTS calibrations_by_device ON calibrations (device_uid, created_at);
"""
OLD_VERSION = 3  # the schema version those libraries carry
ISO_MS_UTC = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00"


def _fit() -> FitResult:
    cal = Calibration.factory(4000.0, 120000.0)
    return fit_calibration([(float(cal.n_to_counts(m * 9.80665)), m) for m in (0, 0.5, 1, 2)])


def _old_calibration_row(con: sqlite3.Connection) -> None:
    con.execute(
        "INSERT INTO calibrations (device_uid, created_at, model, coefficients, masses_kg, "
        "counts, residuals_n, r2, nonlinearity_pct, note) VALUES (?,?,?,?,?,?,?,?,?,?)",
        ("SIM-OLD", "2026-01-05T10:00:00Z", "linear", "[120000.0, 0.00025]", "[0.0, 1.0]",
         "[120000.0, 159226.6]", "[0.0, 0.0]", 1.0, 0.0, "from the old store"),
    )  # fmt: skip


def v3_library(path: Path, *, calibrations: str) -> str:
    """A library of version 3 built with the old DDL alone (no code of this version
    touches it), holding one finished session; returns its id."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    if calibrations == "before":  # `calibrate` ran before anything was recorded
        con.executescript(OLD_CALIBRATIONS_DDL)
        _old_calibration_row(con)
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for version, step in enumerate(schema.MIGRATIONS[:OLD_VERSION], start=1):
        assert isinstance(step, str)
        con.executescript(step)
        con.execute("INSERT INTO schema_version VALUES (?)", (version,))
    if calibrations == "after":
        con.executescript(OLD_CALIBRATIONS_DDL)
        _old_calibration_row(con)
    sid = "20260105-100000-0abc"
    con.execute(
        "INSERT INTO sessions (id, started_at, started_unix, ended_at, status, device, "
        "calibration, config, stats, samples, last_t_s) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (sid, "2026-01-05T10:00:00.000+00:00", 1767607200.0, "2026-01-05T10:00:01.000+00:00",
         "complete", json.dumps({"uid": "SIM-OLD", "firmware": "1", "protocol": "1.0",
                                 "rate_hz": 1000.0, "channels": 1}),
         json.dumps({"counts_per_n": 4000.0, "offset_counts": 120000.0, "source": "factory"}),
         "{}", json.dumps({"samples": 0, "duration_s": 0.0, "rate_hz": 1000.0}), 0, None),
    )  # fmt: skip
    con.close()
    return sid


# ----------------------------------------------------------------- migrations


def test_migrations_run_once_in_order(db_path, monkeypatch):
    SessionStore(db_path).close()
    extra = "CREATE TABLE annotations (session_pk INTEGER, text TEXT)"
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, extra])
    store = SessionStore(db_path)
    assert store.schema_version == len(schema.MIGRATIONS)
    store.close()
    store = SessionStore(db_path)  # applying again would fail: table exists
    assert store.schema_version == len(schema.MIGRATIONS)
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM annotations").fetchone() == (0,)


def test_newer_schema_and_foreign_files_are_refused(db_path, tmp_path):
    SessionStore(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO schema_version VALUES (99)")
    conn.commit()
    conn.close()
    with pytest.raises(BadInput, match="schema_version 99 is newer"):
        SessionStore(db_path)
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not sqlite at all, " * 100)
    with pytest.raises(BadInput, match="junk.sqlite3: not a session database"):
        SessionStore(junk)
    other = tmp_path / "places.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE moz_places (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(BadInput, match="places.sqlite: not a session database .*moz_places"):
        SessionStore(other)
    with pytest.raises(BadInput, match="places.sqlite: not a session database .*moz_places"):
        CalibrationStore(other)  # the same opening, the same refusal
    conn = sqlite3.connect(other)
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["moz_places"]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # untouched
    conn.close()


def test_the_calibration_store_opens_the_library_like_everyone_else(db_path):
    CalibrationStore(db_path)  # first in a new file: the whole library, at the last version
    conn = sqlite3.connect(db_path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables >= schema.TABLES and "calibrations" in schema.TABLES
    conn.close()
    store = SessionStore(db_path)
    assert store.schema_version == len(schema.MIGRATIONS)
    store.create_session(make_meta())
    assert len(store.list_sessions()) == 1


def test_a_dropped_calibrations_table_is_damage_not_recreated(db_path):
    SessionStore(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute("DROP TABLE calibrations")
    conn.commit()
    conn.close()
    with pytest.raises(StorageError, match="table calibrations is missing"):
        CalibrationStore(db_path)


# ------------------------------------------------- libraries of earlier versions


@pytest.mark.parametrize("calibrations", ["after", "before", "none"])
def test_a_version_3_library_migrates_with_or_without_the_old_calibrations_table(
    db_path, calibrations
):
    sid = v3_library(db_path, calibrations=calibrations)
    conn = sqlite3.connect(db_path)
    has_old_table = bool(
        conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'calibrations'").fetchone()
    )
    assert has_old_table == (calibrations != "none")
    conn.close()
    with SessionStore(db_path) as store:  # migrates to the last version
        assert store.schema_version == len(schema.MIGRATIONS)
        rec = store.load_session(sid)
        assert rec.status is SessionStatus.COMPLETE and rec.meta.device.uid == "SIM-OLD"
        fill(store, store.create_session(make_meta()), 0.1)  # and takes new sessions
    conn = sqlite3.connect(db_path)
    versions = [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY 1")]
    assert versions == list(range(1, len(schema.MIGRATIONS) + 1))
    index = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'calibrations_by_device'")
    assert index.fetchone() is not None
    conn.close()
    cals = CalibrationStore(db_path)
    old = cals.latest("SIM-OLD")
    if calibrations == "none":
        assert old is None
    else:  # the old row is read as it was written
        assert old is not None and old.offset_counts == pytest.approx(120000.0)
        assert cals.history("SIM-OLD")[0].note == "from the old store"
    new_id = cals.save("SIM-OLD", _fit())
    assert cals.history("SIM-OLD")[0].id == new_id


def test_a_file_the_old_calibration_store_made_alone_becomes_a_library(db_path):
    """`calibrate` ran first with an earlier version: the file holds the calibration
    table and nothing else (no schema_version). It is no foreign file."""
    con = sqlite3.connect(db_path)
    con.executescript(OLD_CALIBRATIONS_DDL)
    _old_calibration_row(con)
    con.commit()
    con.close()
    with SessionStore(db_path) as store:
        assert store.schema_version == len(schema.MIGRATIONS)
        assert store.list_sessions() == []
    latest = CalibrationStore(db_path).latest("SIM-OLD")
    assert latest is not None and latest.source.startswith("stored:")


# ------------------------------------------------------------------ the clock


def test_utc_iso_is_milliseconds_in_utc():
    assert utc_iso(0) == "1970-01-01T00:00:00.000+00:00"
    assert utc_iso(1767607200.1234) == "2026-01-05T10:00:00.123+00:00"
    assert re.fullmatch(ISO_MS_UTC, utc_iso())


def test_every_time_the_library_writes_has_the_one_format(db_path):
    store = SessionStore(db_path)
    done = store.create_session(make_meta())
    fill(store, done, 0.1)
    store.add_reconnect(done, t_s=0.05)  # host wall-clock: now
    store.finish_session(done, SessionStatus.COMPLETE, SessionStats(100, 0.1, 1000.0))
    store.log_audit(AuditAction.EXPORT, [done], format="csv", out="x.csv")
    dead = store.create_session(make_meta())
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE sessions SET owner_pid = ? WHERE id = ?", (_dead_pid(), dead))
    conn.commit()
    store.close()
    SessionStore(db_path).close()  # marks the dead recording interrupted, ended at its beat
    fit = _fit()
    undated = dataclasses.replace(
        fit, calibration=dataclasses.replace(fit.calibration, created_at=None)
    )
    CalibrationStore(db_path).save("SIM-0001", undated)  # no date of its own: the store's
    stamped = [
        *[e for (e,) in conn.execute("SELECT ended_at FROM sessions ORDER BY pk")],
        *[at for (at,) in conn.execute("SELECT at FROM reconnects")],
        *[at for (at,) in conn.execute("SELECT at FROM audit")],
        *[c for (c,) in conn.execute("SELECT created_at FROM calibrations")],
    ]
    conn.close()
    assert len(stamped) == 5
    for value in stamped:
        assert re.fullmatch(ISO_MS_UTC, value), value
