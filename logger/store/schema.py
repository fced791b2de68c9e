"""What a session library holds on disk: its tables, their one versioned history, the
byte layout of stored samples and the one format of stored wall-clock times.

Every table is created by a step of :data:`MIGRATIONS`, and by nothing else; a library's
version is the number of steps applied to it (table ``schema_version``).
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np

log = logging.getLogger(__name__)

# Schema migrations: MIGRATIONS[i] takes a database from version i to version i + 1.
# Append, never edit: a database's version is the number of migrations applied to it.
MIGRATIONS: list[str | Callable[[sqlite3.Connection], None]] = [
    """
    CREATE TABLE sessions (
        pk INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, even after a delete
        id TEXT NOT NULL UNIQUE,
        started_at TEXT NOT NULL,
        started_unix REAL NOT NULL,
        ended_at TEXT,
        status TEXT NOT NULL,
        client TEXT,
        therapist TEXT,
        notes TEXT,
        device TEXT NOT NULL,
        calibration TEXT NOT NULL,
        config TEXT NOT NULL,
        stats TEXT,
        samples INTEGER NOT NULL DEFAULT 0,
        last_t_s REAL,
        owner_host TEXT,
        owner_pid INTEGER,
        heartbeat_unix REAL
    );
    CREATE INDEX sessions_started ON sessions(started_unix);
    CREATE TABLE points (
        session_pk INTEGER NOT NULL REFERENCES sessions(pk) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        name TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (session_pk, idx)
    ) WITHOUT ROWID;
    CREATE TABLE marks (
        session_pk INTEGER NOT NULL REFERENCES sessions(pk) ON DELETE CASCADE,
        t_s REAL NOT NULL,
        point_index INTEGER,
        source TEXT NOT NULL
    );
    CREATE INDEX marks_session ON marks(session_pk, t_s);
    CREATE TABLE holds (
        session_pk INTEGER NOT NULL REFERENCES sessions(pk) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        point_index INTEGER,
        point TEXT,
        start_s REAL NOT NULL,
        end_s REAL NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (session_pk, idx)
    ) WITHOUT ROWID;
    CREATE TABLE alerts (
        session_pk INTEGER NOT NULL REFERENCES sessions(pk) ON DELETE CASCADE,
        t_s REAL NOT NULL,
        kind TEXT NOT NULL,
        value REAL NOT NULL,
        point_index INTEGER,
        hold_index INTEGER
    );
    CREATE INDEX alerts_session ON alerts(session_pk, t_s);
    CREATE TABLE gaps (
        session_pk INTEGER NOT NULL REFERENCES sessions(pk) ON DELETE CASCADE,
        start_s REAL NOT NULL,
        end_s REAL NOT NULL,
        lost_samples INTEGER NOT NULL,
        cause TEXT NOT NULL
    );
    CREATE INDEX gaps_session ON gaps(session_pk, start_s);
    CREATE TABLE reconnects (
        session_pk INTEGER NOT NULL REFERENCES sessions(pk) ON DELETE CASCADE,
        at TEXT NOT NULL,
        t_s REAL
    );
    CREATE INDEX reconnects_session ON reconnects(session_pk);
    CREATE TABLE chunks (
        chunk_id INTEGER PRIMARY KEY,
        session_pk INTEGER NOT NULL REFERENCES sessions(pk) ON DELETE CASCADE,
        first_index INTEGER NOT NULL,
        n INTEGER NOT NULL,
        channels INTEGER NOT NULL,
        t0_s REAL NOT NULL,
        t1_s REAL NOT NULL,
        t_s BLOB NOT NULL,
        raw BLOB NOT NULL
    );
    CREATE INDEX chunks_time ON chunks(session_pk, t1_s);
    CREATE TABLE summary (
        session_pk INTEGER NOT NULL REFERENCES sessions(pk) ON DELETE CASCADE,
        level INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        min_raw INTEGER NOT NULL,
        max_raw INTEGER NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (session_pk, level, bucket)
    ) WITHOUT ROWID;
    """,
    # zero events: from t_s on, raw zero_counts reads 0 N (the calibration's zero before)
    """
    CREATE TABLE zeros (
        session_pk INTEGER NOT NULL REFERENCES sessions(pk) ON DELETE CASCADE,
        t_s REAL NOT NULL,
        zero_counts REAL NOT NULL,
        source TEXT NOT NULL
    );
    CREATE INDEX zeros_session ON zeros(session_pk, t_s);
    """,
    # the audit trail: what left the library or was erased from it, when, by whom
    """
    CREATE TABLE audit (
        pk INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        user TEXT NOT NULL,
        action TEXT NOT NULL,
        sessions TEXT NOT NULL,
        deidentified INTEGER NOT NULL DEFAULT 0,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    """,
    # the calibration history by device uid (logger.store.calibrations). Until version 4
    # the calibration store created this table itself, so a library may hold it already,
    # with exactly these columns: IF NOT EXISTS takes it as it is.
    """
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
    """,
    # what `sync` has sent where (logger.store.sync): this station's id, and per session
    # and school library the fingerprint and checksum that the server confirmed
    """
    CREATE TABLE IF NOT EXISTS sync_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS sync_state (
        library_id TEXT NOT NULL,
        session_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        checksum TEXT NOT NULL,
        samples INTEGER NOT NULL,
        synced_at TEXT NOT NULL,
        server TEXT NOT NULL,
        PRIMARY KEY (library_id, session_id)
    );
    """,
    # clinical protocols: the client's signals ("now": a pressure-pain threshold), pain
    # ratings 0-10, and protocol events (a PPT round, a drill, a guided profile; data JSON)
    """
    CREATE TABLE signals (
        session_pk INTEGER NOT NULL REFERENCES sessions(pk) ON DELETE CASCADE,
        t_s REAL NOT NULL,
        source TEXT NOT NULL
    );
    CREATE INDEX signals_session ON signals(session_pk, t_s);
    CREATE TABLE ratings (
        session_pk INTEGER NOT NULL REFERENCES sessions(pk) ON DELETE CASCADE,
        t_s REAL NOT NULL,
        value REAL NOT NULL,
        source TEXT NOT NULL
    );
    CREATE INDEX ratings_session ON ratings(session_pk, t_s);
    CREATE TABLE protocols (
        session_pk INTEGER NOT NULL REFERENCES sessions(pk) ON DELETE CASCADE,
        t_s REAL NOT NULL,
        kind TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX protocols_session ON protocols(session_pk, t_s);
    """,
]
# Tables that versions before 4 created outside MIGRATIONS (the calibration history): a
# file holding only these is a library not yet migrated, not a foreign database.
SHARED_TABLES = frozenset({"calibrations"})
# every table the migrations create: one missing from a versioned library is damage
TABLES = frozenset(
    name
    for step in MIGRATIONS
    if isinstance(step, str)
    for name in re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", step)
) | {"schema_version"}

# a chunk's samples: times and raw counts as little-endian BLOBs
T_DTYPE = np.dtype("<f8")
RAW_DTYPE = np.dtype("<i4")


def utc_iso(unix_s: float | None = None) -> str:
    """Now (or unix time ``unix_s``) as the library stores every wall-clock time: ISO 8601
    in UTC to the millisecond, ``2026-11-27T14:05:12.345+00:00``."""
    at = datetime.now(UTC) if unix_s is None else datetime.fromtimestamp(unix_s, UTC)
    return at.isoformat(timespec="milliseconds")


def stored_version(c: sqlite3.Connection) -> int:
    """The number of migrations applied to the database (0: a new, empty file)."""
    try:
        row = c.execute("SELECT max(version) FROM schema_version").fetchone()
    except sqlite3.OperationalError:  # no schema_version table yet
        return 0
    return int(row[0] or 0)


def migrate(c: sqlite3.Connection, name: object) -> None:
    """Apply the migrations the database lacks, each recorded in ``schema_version``.
    Runs inside the caller's transaction (all steps or none); ``name`` is for the log."""
    c.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    for version in range(stored_version(c), len(MIGRATIONS)):
        step = MIGRATIONS[version]
        if callable(step):
            step(c)
        else:
            for statement in step.split(";"):
                if statement.strip():
                    c.execute(statement)
        c.execute("INSERT INTO schema_version(version) VALUES (?)", (version + 1,))
        log.info("%s: migrated schema to version %d", name, version + 1)
