"""The SQLite session library: every session, its events and its raw samples.

Why it looks like this:

- Raw ADC counts and device time are stored, never forces. Forces are derived on load with
  the session's calibration and its zero events in time order (:func:`force_timeline`, the
  one conversion every view uses), so a wrong calibration can be corrected afterwards with
  :meth:`SessionStore.set_calibration` and everything (samples, overview, exports) follows,
  and a Zero pressed mid-session changes the forces from its instant on, never before.
  Holds and alerts are in newtons because the pipeline decided them; a
  recalibration replaces them together with the calibration
  (:meth:`SessionStore.apply_recalibration`, computed by :mod:`logger.recalibrate`).
- Samples live in chunks (numpy int32 ``raw`` and float64 ``t_s`` as BLOBs), a few hundred
  to a few thousand rows each, so loading a time range reads a few BLOBs, not rows per
  sample. A multi-resolution min/max summary of raw channel 0 (bucket widths 0.1 s × 4^k)
  is kept up to date as chunks arrive, so an 8-hour overview reads ≤ ``max_points`` rows.
- WAL mode, ``synchronous=FULL``: a killed process loses nothing that was committed, and
  :class:`SessionWriter` commits at most :data:`COMMIT_INTERVAL_S` after data arrives.
- Live-recording detection: a ``recording`` session carries its owner's host name, pid and
  a heartbeat (unix time, refreshed with every commit and at least every
  :data:`HEARTBEAT_S`). Opening the store marks it ``interrupted`` when the owner is gone:
  on the same host, when that pid is not alive (or the heartbeat is older than
  :data:`PID_REUSE_AFTER_S`, so a recycled pid after a reboot is not taken for the
  recorder); from another host, when the heartbeat is older than :data:`STALE_AFTER_S`.
  A second window therefore never takes over a live recording. Should a live recorder's
  session be marked anyway (a host suspended for minutes), nothing is lost: its writer
  keeps storing, and its ``close`` sets the final status.
- Privacy: the file (and so its WAL and SHM) is created 0600 in 0700 directories, with
  a warning for an existing one others can read; an ``audit`` table records exports,
  reports and erasures; :meth:`SessionStore.forget_client` erases a client so that none of
  their text stays in the file.
- The interface is narrow (ids, records, numpy arrays) so that a server-backed store can
  stand in later.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import getpass
import json
import logging
import math
import os
import queue
import re
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from calibration.models import CalibrationInfo, ZeroEvent, ZeroSource

from ..errors import BadInput, DeviceError, StorageError
from ..files import private_file
from ..records import (
    Alert,
    AlertKind,
    DeviceInfo,
    Gap,
    GapCause,
    Hold,
    Mark,
    MarkSource,
    Point,
    SampleBlock,
    SessionMeta,
    SessionStats,
    SessionStatus,
)

if TYPE_CHECKING:
    from calibration.tare import ForceTimeline

log = logging.getLogger(__name__)

COMMIT_INTERVAL_S = 0.25  # SessionWriter commits this long after the first pending item
HEARTBEAT_S = 2.0  # a live writer refreshes its heartbeat at least this often
STALE_AFTER_S = 30.0  # another host's recording with a heartbeat this old is abandoned
PID_REUSE_AFTER_S = 600.0  # same host: a live pid with a heartbeat this old is not the owner
MAX_CHUNK_SAMPLES = 16384  # the writer coalesces contiguous blocks up to this many rows
SUMMARY_BASE_S = 0.1  # finest summary bucket
SUMMARY_FACTOR = 4  # each level's bucket is this many times the previous one
SUMMARY_LEVELS = 8  # 0.1 s … 1638.4 s buckets

_HOST = socket.gethostname()

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
]
# tables other modules keep in the same file (calibration.store): not a sign of a foreign file
SHARED_TABLES = frozenset({"calibrations"})
# every table the migrations create: one missing from a versioned library is damage
_TABLES = frozenset(
    name
    for step in MIGRATIONS
    if isinstance(step, str)
    for name in re.findall(r"CREATE TABLE (\w+)", step)
) | {"schema_version"}

_T_DTYPE = np.dtype("<f8")
_RAW_DTYPE = np.dtype("<i4")


def check_writable(path: Path) -> None:
    """Raise :class:`StorageError` unless a recording can be stored at ``path`` (an
    existing library that opens writable, or a folder where one can be created)."""
    if path.exists():
        with SessionStore(path) as store:
            if store.read_only:
                raise StorageError(f"{path}: {store.read_only_reason}: cannot record")
        return
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StorageError(f"{folder}: read-only folder: cannot create the library {path}")


def session_exists(path: Path, sid: str) -> bool:
    """Whether ``sid`` is in the library at ``path`` now (never creates a library)."""
    if not path.is_file():
        return False
    with SessionStore(path, _recover=False) as store:
        return store.has_session(sid)


def force_timeline(cal: CalibrationInfo, zeros: Sequence[ZeroEvent] = ()) -> ForceTimeline:
    """A session's raw counts → newtons: its stored calibration record plus its zero events
    in time order. The calibration package does the arithmetic for the live view too, so
    live and stored forces cannot disagree."""
    from calibration.models import Calibration
    from calibration.tare import ForceTimeline

    return ForceTimeline(Calibration.from_info(cal), zeros)


def _check_calibration(cal: CalibrationInfo) -> None:
    from calibration.models import UNCALIBRATED

    linear = cal.model == "linear" or not cal.coefficients
    none = cal.counts_per_n == 0 and cal.source == UNCALIBRATED  # a fresh board: raw counts
    if linear and not none and (not math.isfinite(cal.counts_per_n) or cal.counts_per_n == 0):
        raise BadInput(f"calibration counts_per_n={cal.counts_per_n!r} is not usable")
    if not math.isfinite(cal.offset_counts):
        raise BadInput(f"calibration offset_counts={cal.offset_counts!r} is not finite")


@dataclass(slots=True)
class SessionSummary:
    """One row of the session library (``sessions`` command, GUI library view)."""

    id: str
    started_at: str
    status: SessionStatus
    client: str | None
    therapist: str | None
    duration_s: float
    holds: int
    alerts: int
    samples: int
    ended_at: str | None = None
    device_uid: str | None = None
    lost_samples: int = 0
    unsaved_samples: int = 0  # received but not stored (a storage failure stopped it)


class AuditAction(enum.StrEnum):
    """What the audit trail records: everything that leaves the library or is erased."""

    EXPORT = "export"
    REPORT = "report"
    FORGET = "forget"


@dataclass(slots=True)
class AuditEntry:
    """One line of the audit trail (``sessions --audit``). ``sessions`` are library ids;
    ``detail`` holds the format, the file written, the ids a de-identified hand-over used."""

    at: str
    user: str
    action: AuditAction
    sessions: list[str]
    deidentified: bool = False
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ErasureResult:
    """What :meth:`SessionStore.forget_client` did."""

    sessions: list[str]
    file_bytes: int  # size of the library file after compaction
    wal_clean: bool  # False: another program's open read kept old pages in the WAL


@dataclass(slots=True)
class SessionRecord:
    """Everything about one session except its samples (load those by time range)."""

    id: str
    meta: SessionMeta
    status: SessionStatus
    ended_at: str | None
    stats: SessionStats
    last_t_s: float | None = None  # device time of the last stored sample (None: no samples)
    marks: list[Mark] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    reconnects: list[tuple[str, float | None]] = field(default_factory=list)
    zeros: list[ZeroEvent] = field(default_factory=list)

    @property
    def points(self) -> list[Point]:
        return self.meta.points

    def force_timeline(self, cal: CalibrationInfo | None = None) -> ForceTimeline:
        """This session's conversion to newtons (with ``cal`` in place of its own)."""
        return force_timeline(cal if cal is not None else self.meta.calibration, self.zeros)

    def zeros_removed_n(self) -> list[tuple[ZeroEvent, float]]:
        """Each zero event with the force (N) it removed, as the JSON and EDF exports and
        the review show it."""
        return list(zip(self.zeros, self.force_timeline().removed_n(), strict=True))


def _duration_s(samples: int, last_t_s: float | None, rate_hz: float) -> float:
    """Recorded length: the last sample's time plus one sample period (as ``record`` counts)."""
    if not samples or last_t_s is None:
        return 0.0
    return round(float(last_t_s) + (1.0 / rate_hz if rate_hz > 0 else 0.0), 6)


def _json_obj(text: str | None, column: str) -> dict:
    """A JSON object column; anything else is damage (ValueError naming the column)."""
    try:
        value = json.loads(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = None
    if not isinstance(value, dict):
        raise ValueError(f"column {column} is not a JSON object")
    return value


def _stored_stats(stats_json: str | None) -> SessionStats | None:
    """The stats a finished session was closed with (None while recording)."""
    return _from_dict(SessionStats, _json_obj(stats_json, "stats")) if stats_json else None


def _committed_stats(c: sqlite3.Connection, pk: int) -> SessionStats:
    """Stats of what is committed so far (a recording, or a session finished without)."""
    samples, last_t_s, device, lost, crc, reconnects = c.execute(
        "SELECT samples, last_t_s, device, "
        "(SELECT coalesce(sum(lost_samples), 0) FROM gaps WHERE session_pk = s.pk), "
        "(SELECT count(*) FROM gaps WHERE session_pk = s.pk AND cause = ?), "
        "(SELECT count(*) FROM reconnects WHERE session_pk = s.pk) "
        "FROM sessions s WHERE pk = ?",
        (GapCause.CRC.value, pk),
    ).fetchone()
    rate_hz = float(_json_obj(device, "device").get("rate_hz") or 0.0)
    return SessionStats(
        samples=int(samples),
        duration_s=_duration_s(samples, last_t_s, rate_hz),
        rate_hz=rate_hz,
        lost_samples=int(lost),
        crc_errors=int(crc),
        reconnects=int(reconnects),
    )


def _utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _parse_time(value: str | datetime, what: str) -> datetime:
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value))
        except ValueError:
            raise BadInput(f"{what}={value!r} is not an ISO 8601 date/time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt


def _from_dict(cls: type, data: dict) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def _writable(path: Path) -> bool:
    """Whether SQLite can write ``path``: the file and its folder (for -wal and -shm)."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _file_id(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """Open a library that cannot be written. ``mode=ro`` reads a WAL library whose
    -shm can be used; on read-only media it cannot, and SQLite is told the file is
    immutable (then a leftover -wal, from a copy taken while recording, is not read)."""
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None,
                           check_same_thread=False, timeout=10.0)  # fmt: skip
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        log.warning("%s: read-only; its -wal file cannot be read, so the newest commits "
                    "are not shown", path)  # fmt: skip
    return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None,
                           check_same_thread=False)  # fmt: skip


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _summary_rows(session_pk: int, t_s: np.ndarray, raw0: np.ndarray) -> list[tuple]:
    """Min/max of raw channel 0 per bucket at every level for one chunk (vectorised)."""
    if t_s.size == 0:
        return []
    base = np.floor(t_s / SUMMARY_BASE_S).astype(np.int64)
    rows: list[tuple] = []
    vals = raw0.astype(np.int64)
    for level in range(SUMMARY_LEVELS):
        b = base // (SUMMARY_FACTOR**level)
        starts = np.flatnonzero(np.concatenate(([True], b[1:] != b[:-1])))
        mins = np.minimum.reduceat(vals, starts)
        maxs = np.maximum.reduceat(vals, starts)
        counts = np.diff(np.append(starts, b.size))
        rows.extend(
            zip(
                [session_pk] * starts.size,
                [level] * starts.size,
                b[starts].tolist(),
                mins.tolist(),
                maxs.tolist(),
                counts.tolist(),
                strict=True,
            )
        )
    return rows


_warned_shared: set[Path] = set()


def _warn_if_shared(path: Path) -> None:
    """One warning per process for a library (or its WAL/SHM) that others may read."""
    for f in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            mode = f.stat().st_mode & 0o777
        except OSError:
            continue
        if mode & 0o077 and path not in _warned_shared:
            _warned_shared.add(path)
            log.warning(
                "%s is readable by other users (mode %03o); `chmod 600 %s*` makes it private",
                f, mode, path,
            )  # fmt: skip
            return


class SessionStore:
    """SQLite session library (see the module docstring for the design).

    Thread-safe: one connection guarded by a lock. For sustained writing from the
    acquisition side use :class:`SessionWriter`, which has its own connection and thread.

    A library that cannot be written here (read-only media, a write-protected file or
    folder) opens read-only (:attr:`read_only`): it lists, loads and exports, and every
    write raises :class:`StorageError`. Every write first checks that the file at
    :attr:`db_path` is still the one opened (a library deleted or replaced under a running
    program fails loudly instead of writing into a file nobody can see). Damaged content
    (a missing table, bad JSON, an unknown status) is one StorageError naming the table or
    session.
    """

    def __init__(self, db_path: str | os.PathLike[str], *, _recover: bool = True) -> None:
        self.db_path = Path(db_path)
        self._lock = threading.RLock()
        self._pk_cache: dict[str, int] = {}
        self.read_only = self.db_path.exists() and not _writable(self.db_path)
        self.read_only_reason = "the session library is read-only" if self.read_only else ""
        try:
            self._conn = self._connect(self.db_path, self.read_only)
        except StorageError as exc:
            if self.read_only or not self.db_path.is_file():
                raise
            # e.g. a full disk, where WAL's -shm cannot be created: it can still be read
            self._conn = self._connect(self.db_path, True)
            self.read_only = True
            self.read_only_reason = f"the session library cannot be written ({exc.cause})"
            log.warning("%s: opened read-only: %s", self.db_path, exc.cause)
        self._side_ids: dict[str, tuple[int, int]] = {}  # our -wal and -shm (see close)
        try:
            self._file_id = _file_id(self.db_path)
            with self._decoding("schema"):
                self._migrate()
                self._check_tables()
        except BaseException:
            self._conn.close()
            raise
        if _recover and not self.read_only:
            self.recover_stale()

    # ----------------------------------------------------------------- plumbing
    @staticmethod
    def _connect(path: Path, read_only: bool) -> sqlite3.Connection:
        """Open ``path`` (created if missing); refuse foreign files before touching them."""
        if path.is_dir():
            raise BadInput(f"{path}: is a directory, not a session database file")
        created = False
        try:
            if read_only:
                conn = _connect_read_only(path)
            else:
                created = private_file(path)
                conn = sqlite3.connect(
                    path, isolation_level=None, check_same_thread=False, timeout=10.0
                )
            conn.execute("PRAGMA busy_timeout = 10000")
            tables = {
                name
                for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        except sqlite3.OperationalError as exc:
            raise StorageError(f"{path}: cannot open ({exc})", cause=str(exc)) from None
        except sqlite3.DatabaseError as exc:
            raise BadInput(f"{path}: not a session database ({exc})") from None
        except OSError as exc:
            why = exc.strerror or str(exc)
            raise StorageError(f"{path}: cannot open ({why})", cause=why) from None
        foreign = {t for t in tables if not t.startswith("sqlite_")} - SHARED_TABLES
        foreign.discard("schema_version")
        if "schema_version" not in tables and foreign:
            conn.close()
            shown = ", ".join(sorted(foreign)[:3])
            raise BadInput(f"{path}: not a session database (has tables {shown})")
        if not created and os.name == "posix":  # a library, but perhaps not a private one
            _warn_if_shared(path)
        conn.execute("PRAGMA foreign_keys = ON")
        if read_only:
            return conn
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StorageError(f"{path}: cannot open ({exc})", cause=str(exc)) from None
        if str(mode).lower() != "wal":
            log.warning("%s: journal_mode is %s, not WAL", path, mode)
        return conn

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (or ``ROLLBACK``) under the store's lock.

        A write that cannot be stored (read-only library, disk full, I/O error, the file
        deleted or replaced since it was opened) raises :class:`StorageError`."""
        if self.read_only:
            raise StorageError(f"{self.db_path}: {self.read_only_reason}")
        with self._lock:
            self._check_file()
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError as exc:
                raise self._storage_error(exc) from None
            try:
                yield self._conn
                self._conn.execute("COMMIT")
                if len(self._side_ids) < 2:
                    self._note_side_files()
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back already
                    self._conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.DatabaseError) and not isinstance(
                    exc, sqlite3.IntegrityError
                ):
                    raise self._storage_error(exc) from None
                raise

    def _storage_error(self, exc: sqlite3.DatabaseError) -> StorageError:
        full = getattr(exc, "sqlite_errorname", "") == "SQLITE_FULL"
        return StorageError(f"{self.db_path}: {exc}", disk_full=full)

    def _check_file(self) -> None:
        """Raise StorageError(gone=True) when the library file was deleted or replaced
        since this store opened it (SQLite would go on writing into the lost file)."""
        try:
            now = _file_id(self.db_path)
        except FileNotFoundError:
            now = None
        except OSError as exc:
            raise StorageError(f"{self.db_path}: {exc.strerror or exc}") from None
        if now != self._file_id:
            what = "deleted" if now is None else "replaced by another file"
            raise StorageError(f"{self.db_path}: the session library was {what}", gone=True)

    @contextlib.contextmanager
    def _decoding(self, what: str) -> Iterator[None]:
        """Damaged content read inside (a missing table or column, bad JSON, an unknown
        status or kind) becomes one StorageError naming ``what`` (a session, a table)."""
        try:
            yield
        except BadInput:
            raise
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"{self.db_path}: {what}: damaged ({exc})") from None
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            raise StorageError(f"{self.db_path}: {what}: damaged ({exc})") from None

    def _migrate(self) -> None:
        with self._lock:
            current = self._stored_version()
        if current > len(MIGRATIONS):
            raise BadInput(
                f"{self.db_path}: schema_version {current} is newer than this program "
                f"understands ({len(MIGRATIONS)})"
            )
        if current == len(MIGRATIONS):
            return  # nothing to do: no write (a read-only or full library still opens)
        if self.read_only:
            raise StorageError(
                f"{self.db_path}: read-only, and its schema (version {current}) needs an "
                f"upgrade to version {len(MIGRATIONS)}"
            )
        with self._tx() as c:
            c.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            current = self._stored_version()
            for version in range(current, len(MIGRATIONS)):
                step = MIGRATIONS[version]
                if callable(step):
                    step(c)
                else:
                    for statement in step.split(";"):
                        if statement.strip():
                            c.execute(statement)
                c.execute("INSERT INTO schema_version(version) VALUES (?)", (version + 1,))
                log.info("%s: migrated schema to version %d", self.db_path, version + 1)

    def _stored_version(self) -> int:
        try:
            row = self._conn.execute("SELECT max(version) FROM schema_version").fetchone()
        except sqlite3.OperationalError:  # a new, empty file
            return 0
        return int(row[0] or 0)

    def _check_tables(self) -> None:
        """Every table the migrations create must be there (a dropped one is damage)."""
        with self._lock:
            tables = {
                name
                for (name,) in self._conn.execute(
                    "SELECT name FROM sqlite_master WHERE type='table'"
                )
            }
        missing = sorted(_TABLES - tables)
        if missing:
            raise StorageError(
                f"{self.db_path}: damaged session library: table {missing[0]} is missing"
            )

    @property
    def schema_version(self) -> int:
        with self._lock:
            return self._stored_version()

    def _note_side_files(self) -> None:
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(OSError):
                self._side_ids[suffix] = _file_id(
                    self.db_path.with_name(self.db_path.name + suffix)
                )

    def close(self) -> None:
        """Close the connection. When the library was deleted or replaced meanwhile, SQLite
        leaves this connection's -wal and -shm at the path, where a file put in its place
        would read them as its own (pages of another database: corruption); they are
        removed, if they are still the ones this store wrote."""
        with self._lock:
            self._conn.close()
            if self.read_only or not self._side_ids:
                return
            try:
                self._check_file()
                return
            except StorageError:
                pass
            for suffix, ours in self._side_ids.items():
                side = self.db_path.with_name(self.db_path.name + suffix)
                with contextlib.suppress(OSError):
                    if _file_id(side) == ours:
                        side.unlink()

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pk(self, sid: str) -> int:
        pk = self._pk_cache.get(sid)
        if pk is None:
            with self._decoding("table sessions"), self._lock:
                row = self._conn.execute("SELECT pk FROM sessions WHERE id = ?", (sid,)).fetchone()
            if row is None:
                raise BadInput(f"unknown session {sid!r}")
            pk = self._pk_cache[sid] = int(row[0])
        return pk

    def has_session(self, sid: str) -> bool:
        """Whether ``sid`` is in the library (read afresh, not from a cache)."""
        with self._decoding("table sessions"), self._lock:
            row = self._conn.execute("SELECT 1 FROM sessions WHERE id = ?", (sid,)).fetchone()
        return row is not None

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check`` ("ok" when the file is sound)."""
        with self._lock:
            return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])

    # -------------------------------------------------------------- lifecycle
    def recover_stale(self) -> list[str]:
        """Mark abandoned ``recording`` sessions ``interrupted``; return their ids."""
        now = time.time()
        stale = []
        with self._decoding("table sessions"), self._lock:
            rows = self._conn.execute(
                "SELECT id, owner_host, owner_pid, heartbeat_unix FROM sessions WHERE status = ?",
                (SessionStatus.RECORDING.value,),
            ).fetchall()
            for sid, host, pid, beat in rows:
                age_s = math.inf if beat is None else now - float(beat)
                if host == _HOST:
                    gone = not _pid_alive(int(pid or 0)) or age_s > PID_REUSE_AFTER_S
                else:
                    gone = age_s > STALE_AFTER_S
                if gone:
                    stale.append(sid)
        marked = []
        for sid in stale:
            log.warning("session %s was left recording by a process that is gone", sid)
            try:
                self._finish_interrupted(sid)
                self._redetect_events(sid)
            except StorageError as exc:  # a full disk must not stop the library opening
                log.warning("session %s stays 'recording' for now: %s", sid, exc)
                continue
            marked.append(sid)
        return marked

    def _redetect_events(self, sid: str) -> None:
        """Holds and alerts of an interrupted session, decided again on its stored samples:
        the hold in progress when its recorder died is kept (flagged ``cut_short``)."""
        from ..recalibrate import recalibrate  # the pipeline sits above the store

        try:  # with its own calibration: only the events are decided again
            holds, _ = recalibrate(self, sid, self.calibration(sid))
        except Exception:  # a session we cannot replay keeps what its recorder stored
            log.exception("session %s: could not re-run hold detection", sid)
            return
        log.info("session %s: %d holds after re-running hold detection", sid, len(holds))

    def _finish_interrupted(self, sid: str) -> None:
        pk = self._pk(sid)
        with self._tx() as c:
            row = c.execute(
                "SELECT heartbeat_unix, status FROM sessions WHERE pk = ?", (pk,)
            ).fetchone()
            if row[1] != SessionStatus.RECORDING.value:
                return
            stats = _committed_stats(c, pk)
            ended = (
                datetime.fromtimestamp(row[0], UTC).isoformat(timespec="milliseconds")
                if row[0]
                else None
            )
            c.execute(
                "UPDATE sessions SET status = ?, stats = ?, ended_at = ? WHERE pk = ?",
                (
                    SessionStatus.INTERRUPTED.value,
                    json.dumps(dataclasses.asdict(stats)),
                    ended,
                    pk,
                ),
            )

    def create_session(self, meta: SessionMeta) -> str:
        """Start a ``recording`` session owned by this process; returns its id."""
        _check_calibration(meta.calibration)
        indices = [p.index for p in meta.points]
        if len(set(indices)) != len(indices):
            raise BadInput(f"session points: index repeated in {indices}")
        started = _parse_time(meta.started_at, "started_at")
        stamp = started.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
        device = json.dumps(dataclasses.asdict(meta.device))
        calibration = json.dumps(dataclasses.asdict(meta.calibration))
        try:
            config = json.dumps(meta.config)
        except (TypeError, ValueError) as exc:
            raise BadInput(f"session config is not JSON-serialisable: {exc}") from None
        for _ in range(100):
            sid = f"{stamp}-{secrets.token_hex(2)}"
            try:
                with self._tx() as c:
                    cur = c.execute(
                        "INSERT INTO sessions (id, started_at, started_unix, status, client, "
                        "therapist, notes, device, calibration, config, owner_host, owner_pid, "
                        "heartbeat_unix) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (
                            sid,
                            meta.started_at,
                            started.timestamp(),
                            SessionStatus.RECORDING.value,
                            meta.client,
                            meta.therapist,
                            meta.notes,
                            device,
                            calibration,
                            config,
                            _HOST,
                            os.getpid(),
                            time.time(),
                        ),
                    )
                    pk = int(cur.lastrowid)
                    _insert_events(c, pk, points=meta.points)
            except sqlite3.IntegrityError as exc:
                if "sessions.id" in str(exc):
                    continue
                raise
            self._pk_cache[sid] = pk
            log.info("created session %s", sid)
            return sid
        raise DeviceError("could not allocate a unique session id")

    def heartbeat(self, sid: str) -> None:
        """Tell other processes this recording is alive (SessionWriter does it for you)."""
        pk = self._pk(sid)
        with self._tx() as c:
            _beat(c, pk)

    def finish_session(
        self,
        sid: str,
        status: SessionStatus | str = SessionStatus.COMPLETE,
        stats: SessionStats | None = None,
        ended_at: str | None = None,
    ) -> None:
        """Finalise a session (status, stats, host wall-clock end time)."""
        pk = self._pk(sid)
        with self._tx() as c:
            _finish(c, pk, SessionStatus(status), stats, ended_at)

    def set_calibration(self, sid: str, cal: CalibrationInfo) -> None:
        """Replace a session's calibration; forces, overview and exports follow at once.

        Holds and alerts were decided in newtons with the old calibration: to replace them
        in the same transaction use :meth:`apply_recalibration`.
        """
        _check_calibration(cal)
        pk = self._pk(sid)
        with self._tx() as c:
            c.execute(
                "UPDATE sessions SET calibration = ? WHERE pk = ?",
                (json.dumps(dataclasses.asdict(cal)), pk),
            )

    def set_device(self, sid: str, device: DeviceInfo) -> None:
        """Replace the session's device record (e.g. with the clock drift measured by the
        end of the session)."""
        pk = self._pk(sid)
        with self._tx() as c:
            c.execute(
                "UPDATE sessions SET device = ? WHERE pk = ?",
                (json.dumps(dataclasses.asdict(device)), pk),
            )

    def delete_session(self, sid: str) -> None:
        """Delete a session; its samples, summary and events go with it (ON DELETE CASCADE,
        with ``foreign_keys`` on in every connection :meth:`_connect` opens)."""
        pk = self._pk(sid)
        with self._tx() as c:
            c.execute("DELETE FROM sessions WHERE pk = ?", (pk,))
        self._pk_cache.pop(sid, None)

    def set_notes(self, sid: str, notes: str | None) -> None:
        """Replace the session's free-text notes (edited after the session, in review)."""
        pk = self._pk(sid)
        with self._tx() as c:
            c.execute("UPDATE sessions SET notes = ? WHERE pk = ?", (notes or None, pk))

    # ------------------------------------------------------------------ writing
    def append_samples(self, sid: str, first_index: int, t_s: np.ndarray, raw: np.ndarray) -> None:
        """Store one contiguous run of samples (raw int32 (n, channels), t_s float64 (n,))."""
        pk = self._pk(sid)
        with self._tx() as c:
            _insert_chunk(c, pk, first_index, t_s, raw)
            _beat(c, pk)

    def write_batch(self, sid: str, batch: WriteBatch) -> None:
        """Store a live session's batch (sample runs, events, a new calibration) in one
        transaction and refresh its heartbeat: what :class:`SessionWriter` commits.
        With ``batch.end`` the same transaction finalises the session, its stats taking
        samples and duration from what is stored."""
        if batch.calibration is not None:
            _check_calibration(batch.calibration)
        pk = self._pk(sid)
        with self._tx() as c:
            for block in batch.samples:
                _insert_chunk(c, pk, block.first_index, block.t_s, block.raw)
            _insert_events(
                c,
                pk,
                marks=batch.marks,
                holds=batch.holds,
                alerts=batch.alerts,
                gaps=batch.gaps,
                reconnects=batch.reconnects,
                points=batch.points,
                zeros=batch.zeros,
            )
            if batch.calibration is not None:
                c.execute(
                    "UPDATE sessions SET calibration = ? WHERE pk = ?",
                    (json.dumps(dataclasses.asdict(batch.calibration)), pk),
                )
            end = batch.end
            if end is None:
                _beat(c, pk)
            else:  # what is stored decides samples and duration; the rest comes from `end`
                stored = _committed_stats(c, pk)
                stats = dataclasses.replace(
                    end.stats or stored,
                    samples=stored.samples,
                    duration_s=stored.duration_s,
                    unsaved_samples=end.unsaved_samples,
                )
                _finish(c, pk, end.status, stats, end.ended_at)

    def add_points(self, sid: str, points: Sequence[Point]) -> None:
        """Add points to the session's plan (an ad-hoc plan grows with each mark); a point
        with an index already stored replaces it."""
        pk = self._pk(sid)
        with self._tx() as c:
            _insert_events(c, pk, points=points)

    def add_marks(self, sid: str, marks: Sequence[Mark]) -> None:
        pk = self._pk(sid)
        with self._tx() as c:
            _insert_events(c, pk, marks=marks)

    def add_holds(self, sid: str, holds: Sequence[Hold]) -> None:
        """Store holds; a hold with an index already stored replaces it."""
        pk = self._pk(sid)
        with self._tx() as c:
            _insert_events(c, pk, holds=holds)

    def add_alerts(self, sid: str, alerts: Sequence[Alert]) -> None:
        pk = self._pk(sid)
        with self._tx() as c:
            _insert_events(c, pk, alerts=alerts)

    def add_gaps(self, sid: str, gaps: Sequence[Gap]) -> None:
        pk = self._pk(sid)
        with self._tx() as c:
            _insert_events(c, pk, gaps=gaps)

    def add_zeros(self, sid: str, zeros: Sequence[ZeroEvent]) -> None:
        """Store zero events (each changes the forces from its ``t_s`` on)."""
        pk = self._pk(sid)
        with self._tx() as c:
            _insert_events(c, pk, zeros=zeros)

    def add_reconnect(self, sid: str, at: str | None = None, t_s: float | None = None) -> None:
        """Record a reconnect: host wall-clock ``at`` (ISO 8601, UTC) and device time."""
        pk = self._pk(sid)
        with self._tx() as c:
            _insert_events(c, pk, reconnects=[(at or _utc_now_iso(), t_s)])

    def replace_holds(self, sid: str, holds: Sequence[Hold]) -> None:
        """Replace all holds of a session (after a recalibration)."""
        pk = self._pk(sid)
        with self._tx() as c:
            c.execute("DELETE FROM holds WHERE session_pk = ?", (pk,))
            _insert_events(c, pk, holds=holds)

    def replace_alerts(self, sid: str, alerts: Sequence[Alert]) -> None:
        """Replace all alerts of a session (after a recalibration)."""
        pk = self._pk(sid)
        with self._tx() as c:
            c.execute("DELETE FROM alerts WHERE session_pk = ?", (pk,))
            _insert_events(c, pk, alerts=alerts)

    def apply_recalibration(
        self, sid: str, cal: CalibrationInfo, holds: Sequence[Hold], alerts: Sequence[Alert]
    ) -> None:
        """Set a session's calibration and replace its holds and alerts (recomputed with
        that calibration) in one transaction: all three change, or none."""
        _check_calibration(cal)
        pk = self._pk(sid)
        with self._tx() as c:
            c.execute(
                "UPDATE sessions SET calibration = ? WHERE pk = ?",
                (json.dumps(dataclasses.asdict(cal)), pk),
            )
            c.execute("DELETE FROM holds WHERE session_pk = ?", (pk,))
            c.execute("DELETE FROM alerts WHERE session_pk = ?", (pk,))
            _insert_events(c, pk, holds=holds, alerts=alerts)

    # ---------------------------------------------------------------- privacy
    def log_audit(
        self,
        action: AuditAction | str,
        sessions: Sequence[str],
        *,
        deidentified: bool = False,
        **detail: Any,
    ) -> None:
        """Add a line to the audit trail (exports, reports, erasures); written after the
        file it records, so a failed export leaves no line. A library that cannot take
        the line (read-only media, a full disk) must still let its sessions be rescued:
        the hand-over goes on, and a one-line warning says it went unrecorded."""
        why = self.read_only_reason if self.read_only else None
        if why is None:
            try:
                with self._tx() as c:
                    _insert_audit(c, AuditAction(action), list(sessions), deidentified, detail)
                return
            except (sqlite3.Error, StorageError) as exc:
                why = str(exc)
        log.warning("%s: the %s is not in the audit trail (cannot record it: %s)",
                    self.db_path, AuditAction(action).value, why)  # fmt: skip

    def audit(self) -> list[AuditEntry]:
        """The audit trail, oldest first."""
        with self._decoding("table audit"), self._lock:
            rows = self._conn.execute(
                "SELECT at, user, action, sessions, deidentified, detail FROM audit ORDER BY pk"
            ).fetchall()
            return [
                AuditEntry(
                    at, user, AuditAction(action), json.loads(sids), bool(deid), json.loads(d)
                )  # fmt: skip
                for at, user, action, sids, deid, d in rows
            ]

    def clients(self) -> list[str]:
        """Every client code in the library, the most recently recorded first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT client FROM sessions WHERE client IS NOT NULL AND client != '' "
                "GROUP BY client ORDER BY max(started_unix) DESC, client"
            ).fetchall()
        return [c for (c,) in rows]

    def forget_client(self, client: str) -> ErasureResult:
        """Erase every session of ``client`` (samples and events cascade) so that none of
        their text is left in the file: freed pages are zeroed (``secure_delete``), the file
        is rebuilt (``VACUUM``) and the WAL is checkpointed and truncated.

        The audit trail keeps one ``forget`` line naming the erased session ids (not the
        client), and earlier lines about those sessions lose the file names they held.
        Raises BadInput when the client has no sessions or one is still recording.
        """
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, status FROM sessions WHERE client = ? ORDER BY started_unix, id",
                (client,),
            ).fetchall()
            if not rows:
                raise BadInput(f"--client {client!r}: no sessions of this client in {self.db_path}")
            live = [sid for sid, status in rows if status == SessionStatus.RECORDING.value]
            if live:
                raise BadInput(f"--client {client!r}: session {live[0]} is still recording")
            ids = [sid for sid, _ in rows]
            self._conn.execute("PRAGMA secure_delete = ON")
            try:
                with self._tx() as c:
                    c.execute("DELETE FROM sessions WHERE client = ?", (client,))
                    _scrub_audit(c, set(ids))
                    _insert_audit(c, AuditAction.FORGET, ids, False, {"count": len(ids)})
                for sid in ids:
                    self._pk_cache.pop(sid, None)
                self._conn.execute("VACUUM")
                busy, _, _ = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.OperationalError as exc:
                raise DeviceError(f"{self.db_path}: erasing failed ({exc})") from None
            finally:
                self._conn.execute("PRAGMA secure_delete = OFF")
        log.info("erased %d sessions of a client from %s", len(ids), self.db_path)
        return ErasureResult(ids, self.db_path.stat().st_size, wal_clean=not busy)

    # ------------------------------------------------------------------ reading
    def list_sessions(
        self,
        *,
        therapist: str | None = None,
        client: str | None = None,
        point: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        status: SessionStatus | str | None = None,
    ) -> list[SessionSummary]:
        """Sessions matching every given filter, oldest first.

        ``point`` matches a point name in the session's plan or on one of its holds;
        ``since``/``until`` compare with ``started_at`` (ISO 8601; naive means UTC).
        """
        where, params = [], []
        if therapist is not None:
            where.append("s.therapist = ?")
            params.append(therapist)
        if client is not None:
            where.append("s.client = ?")
            params.append(client)
        if point is not None:
            where.append(
                "(EXISTS (SELECT 1 FROM points p WHERE p.session_pk = s.pk AND p.name = ?) "
                "OR EXISTS (SELECT 1 FROM holds h WHERE h.session_pk = s.pk AND h.point = ?))"
            )
            params += [point, point]
        if since is not None:
            where.append("s.started_unix >= ?")
            params.append(_parse_time(since, "since").timestamp())
        if until is not None:
            where.append("s.started_unix <= ?")
            params.append(_parse_time(until, "until").timestamp())
        if status is not None:
            where.append("s.status = ?")
            params.append(SessionStatus(status).value)
        sql = (
            "SELECT s.pk, s.id, s.started_at, s.status, s.client, s.therapist, s.stats, "
            "s.ended_at, s.device, "
            "(SELECT count(*) FROM holds h WHERE h.session_pk = s.pk), "
            "(SELECT count(*) FROM alerts a WHERE a.session_pk = s.pk) "
            "FROM sessions s"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY s.started_unix, s.id"
        out = []
        with self._decoding("table sessions"), self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        for pk, sid, started, st, cl, th, stats_json, ended, dev, nh, na in rows:
            with self._decoding(f"session {sid}"), self._lock:
                stats = _stored_stats(stats_json) or _committed_stats(self._conn, pk)
                out.append(
                    SessionSummary(
                        id=sid,
                        started_at=started,
                        status=SessionStatus(st),
                        client=cl,
                        therapist=th,
                        duration_s=stats.duration_s,
                        holds=int(nh),
                        alerts=int(na),
                        samples=stats.samples,
                        ended_at=ended,
                        device_uid=_json_obj(dev, "device").get("uid"),
                        lost_samples=stats.lost_samples,
                        unsaved_samples=stats.unsaved_samples,
                    )
                )
        return out

    def load_session(self, sid: str) -> SessionRecord:
        """Metadata and events of a session; raises BadInput for an unknown id, and
        StorageError naming the session when its stored content is damaged."""
        pk = self._pk(sid)
        with self._decoding(f"session {sid}"):
            return self._read_session(sid, pk)

    def _read_session(self, sid: str, pk: int) -> SessionRecord:
        with self._lock:
            c = self._conn
            row = c.execute(
                "SELECT started_at, ended_at, status, client, therapist, notes, device, "
                "calibration, config, stats, last_t_s FROM sessions WHERE pk = ?",
                (pk,),
            ).fetchone()
            stats = _stored_stats(row[9]) or _committed_stats(c, pk)  # recording: so far
            points = [
                _point_from_dict(_json_obj(d, "data"))
                for (d,) in c.execute(
                    "SELECT data FROM points WHERE session_pk = ? ORDER BY idx", (pk,)
                )
            ]
            marks = [
                Mark(t_s=t, point_index=pi, source=MarkSource(src))
                for t, pi, src in c.execute(
                    "SELECT t_s, point_index, source FROM marks WHERE session_pk = ? "
                    "ORDER BY t_s, rowid",
                    (pk,),
                )
            ]
            holds = [
                _from_dict(Hold, _json_obj(d, "data"))
                for (d,) in c.execute(
                    "SELECT data FROM holds WHERE session_pk = ? ORDER BY idx", (pk,)
                )
            ]
            alerts = [
                Alert(t_s=t, kind=AlertKind(k), value=v, point_index=pi, hold_index=hi)
                for t, k, v, pi, hi in c.execute(
                    "SELECT t_s, kind, value, point_index, hold_index FROM alerts "
                    "WHERE session_pk = ? ORDER BY t_s, rowid",
                    (pk,),
                )
            ]
            gaps = [
                Gap(start_s=a, end_s=b, lost_samples=n, cause=GapCause(cause))
                for a, b, n, cause in c.execute(
                    "SELECT start_s, end_s, lost_samples, cause FROM gaps "
                    "WHERE session_pk = ? ORDER BY start_s, rowid",
                    (pk,),
                )
            ]
            reconnects = [
                (at, t)
                for at, t in c.execute(
                    "SELECT at, t_s FROM reconnects WHERE session_pk = ? ORDER BY rowid", (pk,)
                )
            ]
            zeros = self._zeros(pk)
        started, ended, status, client, therapist, notes = row[:6]
        device = _from_dict(DeviceInfo, _json_obj(row[6], "device"))
        cal = _from_dict(CalibrationInfo, _json_obj(row[7], "calibration"))
        meta = SessionMeta(
            started_at=started,
            device=device,
            calibration=cal,
            config=_json_obj(row[8], "config"),
            client=client,
            therapist=therapist,
            notes=notes,
            points=points,
        )
        return SessionRecord(
            id=sid,
            meta=meta,
            status=SessionStatus(status),
            ended_at=ended,
            stats=stats,
            last_t_s=row[10],
            marks=marks,
            holds=holds,
            alerts=alerts,
            gaps=gaps,
            reconnects=reconnects,
            zeros=zeros,
        )

    def _zeros(self, pk: int) -> list[ZeroEvent]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT t_s, zero_counts, source FROM zeros WHERE session_pk = ? "
                "ORDER BY t_s, rowid",
                (pk,),
            ).fetchall()
        return [ZeroEvent(t, zc, ZeroSource(src)) for t, zc, src in rows]

    def calibration(self, sid: str) -> CalibrationInfo:
        pk = self._pk(sid)
        with self._decoding(f"session {sid}"), self._lock:
            row = self._conn.execute(
                "SELECT calibration FROM sessions WHERE pk = ?", (pk,)
            ).fetchone()
            return _from_dict(CalibrationInfo, _json_obj(row[0], "calibration"))

    def force_timeline(self, sid: str) -> ForceTimeline:
        """The session's calibration and zero events: its one raw → newton conversion."""
        return force_timeline(self.calibration(sid), self._zeros(self._pk(sid)))

    def iter_chunks(
        self, sid: str, t0_s: float | None = None, t1_s: float | None = None
    ) -> Iterator[SampleBlock]:
        """Stored chunks overlapping [t0_s, t1_s] in order, trimmed to the range.

        Reads one chunk at a time (bounded memory for exports of any length).
        """
        pk = self._pk(sid)
        lo = -math.inf if t0_s is None else float(t0_s)
        hi = math.inf if t1_s is None else float(t1_s)
        last = 0
        while True:
            with self._decoding(f"session {sid}"), self._lock:
                rows = self._conn.execute(
                    "SELECT chunk_id, first_index, n, channels, t_s, raw FROM chunks "
                    "WHERE session_pk = ? AND t1_s >= ? AND t0_s <= ? AND chunk_id > ? "
                    "ORDER BY chunk_id LIMIT 8",
                    (pk, lo, hi, last),
                ).fetchall()
            if not rows:
                return
            for chunk_id, first, n, channels, tb, rb in rows:
                last = chunk_id
                with self._decoding(f"session {sid}: chunk {chunk_id}"):
                    t = np.frombuffer(tb, dtype=_T_DTYPE).astype(np.float64)
                    raw = np.frombuffer(rb, dtype=_RAW_DTYPE).astype(np.int32)
                    raw = raw.reshape(n, channels)
                    if t.size != n:
                        raise ValueError(f"{t.size} times for {n} samples")
                keep = (t >= lo) & (t <= hi)
                if not keep.all():
                    idx = np.flatnonzero(keep)
                    if idx.size == 0:
                        continue
                    first += int(idx[0])
                    t, raw = t[keep], raw[keep]
                yield SampleBlock(first_index=int(first), t_s=t, raw=raw)

    def load_samples(
        self, sid: str, t0_s: float | None = None, t1_s: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(t_s, raw)`` in [t0_s, t1_s]: float64 (n,), int32 (n, channels)."""
        blocks = list(self.iter_chunks(sid, t0_s, t1_s))
        if not blocks:
            channels = self.load_session(sid).meta.device.channels or 1
            return np.zeros(0), np.zeros((0, channels), dtype=np.int32)
        return (
            np.concatenate([b.t_s for b in blocks]),
            np.concatenate([b.raw for b in blocks]),
        )

    def load_forces(
        self, sid: str, t0_s: float | None = None, t1_s: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(t_s, force_n)`` in [t0_s, t1_s]; force_n is (n, channels) newtons."""
        forces = self.force_timeline(sid)
        t, raw = self.load_samples(sid, t0_s, t1_s)
        return t, forces.counts_to_n(t, raw)

    def load_overview(
        self,
        sid: str,
        t0_s: float | None = None,
        t1_s: float | None = None,
        max_points: int = 2000,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Min/max envelope of channel 0 in newtons: ``(t_s, min_n, max_n)``.

        Uses the finest summary level with at most ``max_points`` buckets in the range;
        ``t_s`` is each bucket's centre. When the range holds no more than ``max_points``
        samples the samples themselves are returned (``min_n == max_n``).
        """
        pk = self._pk(sid)
        max_points = max(1, int(max_points))
        with self._decoding(f"session {sid}"), self._lock:
            row = self._conn.execute(
                "SELECT samples, last_t_s, device FROM sessions WHERE pk = ?", (pk,)
            ).fetchone()
            samples, last_t = int(row[0]), row[1]
            rate_hz = float(_json_obj(row[2], "device").get("rate_hz") or 0.0)
        if samples == 0 or last_t is None:
            return np.zeros(0), np.zeros(0), np.zeros(0)
        forces = self.force_timeline(sid)
        lo = 0.0 if t0_s is None else float(t0_s)
        hi = float(last_t) if t1_s is None else float(t1_s)
        if hi < lo:
            return np.zeros(0), np.zeros(0), np.zeros(0)
        span = min(hi, float(last_t)) - lo
        if rate_hz > 0 and span * rate_hz + 1 <= max_points:
            t, force = self.load_forces(sid, lo, hi)
            f0 = force[:, 0] if force.size else np.zeros(0)
            return t, f0, f0.copy()
        b0_lo = math.floor(lo / SUMMARY_BASE_S)
        b0_hi = math.floor(hi / SUMMARY_BASE_S)
        level = SUMMARY_LEVELS - 1
        for k in range(SUMMARY_LEVELS):
            f = SUMMARY_FACTOR**k
            if b0_hi // f - b0_lo // f + 1 <= max_points:
                level = k
                break
        f = SUMMARY_FACTOR**level
        with self._lock:
            data = self._conn.execute(
                "SELECT bucket, min_raw, max_raw FROM summary WHERE session_pk = ? "
                "AND level = ? AND bucket BETWEEN ? AND ? ORDER BY bucket",
                (pk, level, b0_lo // f, b0_hi // f),
            ).fetchall()
        if not data:
            return np.zeros(0), np.zeros(0), np.zeros(0)
        arr = np.asarray(data, dtype=np.float64)
        width_s = SUMMARY_BASE_S * f
        if arr.shape[0] > max_points:  # beyond the coarsest level: merge neighbours
            step = math.ceil(arr.shape[0] / max_points)
            starts = np.arange(0, arr.shape[0], step)
            arr = np.stack(
                [
                    arr[starts, 0] + (step - 1) / 2,
                    np.minimum.reduceat(arr[:, 1], starts),
                    np.maximum.reduceat(arr[:, 2], starts),
                ],
                axis=1,
            )
        t = (arr[:, 0] + 0.5) * width_s
        # a bucket takes the zero in force at its centre (a zero inside a bucket blurs
        # that one bucket; zoomed in, the samples themselves are drawn)
        a, b = forces.counts_to_n(t, arr[:, 1]), forces.counts_to_n(t, arr[:, 2])
        return t, np.minimum(a, b), np.maximum(a, b)


def _beat(c: sqlite3.Connection, pk: int) -> None:
    c.execute(
        "UPDATE sessions SET heartbeat_unix = ?, owner_host = ?, owner_pid = ? "
        "WHERE pk = ? AND status = ?",
        (time.time(), _HOST, os.getpid(), pk, SessionStatus.RECORDING.value),
    )


def _insert_chunk(
    c: sqlite3.Connection, pk: int, first_index: int, t_s: np.ndarray, raw: np.ndarray
) -> None:
    t = np.ascontiguousarray(t_s, dtype=_T_DTYPE).reshape(-1)
    r = np.asarray(raw)
    if r.ndim == 1:
        r = r.reshape(-1, 1)
    r = np.ascontiguousarray(r, dtype=_RAW_DTYPE)
    if r.shape[0] != t.shape[0]:
        raise ValueError(f"t_s has {t.shape[0]} rows but raw has {r.shape[0]}")
    if t.size == 0:
        return
    t0, t1 = float(t[0]), float(t[-1])
    c.execute(
        "INSERT INTO chunks (session_pk, first_index, n, channels, t0_s, t1_s, t_s, raw) "
        "VALUES (?,?,?,?,?,?,?,?)",
        (
            pk,
            int(first_index),
            t.size,
            r.shape[1],
            min(t0, t1),
            max(t0, t1),
            t.tobytes(),
            r.tobytes(),
        ),
    )
    c.executemany(
        "INSERT INTO summary (session_pk, level, bucket, min_raw, max_raw, n) "
        "VALUES (?,?,?,?,?,?) ON CONFLICT(session_pk, level, bucket) DO UPDATE SET "
        "min_raw = min(min_raw, excluded.min_raw), max_raw = max(max_raw, excluded.max_raw), "
        "n = n + excluded.n",
        _summary_rows(pk, t, r[:, 0]),
    )
    c.execute(
        "UPDATE sessions SET samples = samples + ?, "
        "last_t_s = max(coalesce(last_t_s, ?), ?) WHERE pk = ?",
        (t.size, t1, t1, pk),
    )


def _finish(
    c: sqlite3.Connection,
    pk: int,
    status: SessionStatus,
    stats: SessionStats | None,
    ended_at: str | None,
) -> None:
    if stats is None:
        stats = _committed_stats(c, pk)
    c.execute(
        "UPDATE sessions SET status = ?, stats = ?, ended_at = ?, owner_pid = NULL, "
        "heartbeat_unix = ? WHERE pk = ?",
        (
            status.value,
            json.dumps(dataclasses.asdict(stats)),
            ended_at or _utc_now_iso(),
            time.time(),
            pk,
        ),
    )


def _point_from_dict(d: dict) -> Point:
    p = _from_dict(Point, d)
    if p.target_n is not None:
        p.target_n = (float(p.target_n[0]), float(p.target_n[1]))
    return p


def _insert_events(
    c: sqlite3.Connection,
    pk: int,
    *,
    marks: Sequence[Mark] = (),
    holds: Sequence[Hold] = (),
    alerts: Sequence[Alert] = (),
    gaps: Sequence[Gap] = (),
    reconnects: Sequence[tuple[str, float | None]] = (),
    points: Sequence[Point] = (),
    zeros: Sequence[ZeroEvent] = (),
) -> None:
    if points:
        c.executemany(
            "INSERT OR REPLACE INTO points (session_pk, idx, name, data) VALUES (?,?,?,?)",
            [(pk, p.index, p.name, json.dumps(dataclasses.asdict(p))) for p in points],
        )
    if marks:
        c.executemany(
            "INSERT INTO marks (session_pk, t_s, point_index, source) VALUES (?,?,?,?)",
            [(pk, float(m.t_s), m.point_index, MarkSource(m.source).value) for m in marks],
        )
    if holds:
        c.executemany(
            "INSERT OR REPLACE INTO holds (session_pk, idx, point_index, point, start_s, end_s, "
            "data) VALUES (?,?,?,?,?,?,?)",
            [
                (
                    pk,
                    h.index,
                    h.point_index,
                    h.point,
                    float(h.start_s),
                    float(h.end_s),
                    json.dumps(dataclasses.asdict(h)),
                )
                for h in holds
            ],
        )
    if alerts:
        c.executemany(
            "INSERT INTO alerts (session_pk, t_s, kind, value, point_index, hold_index) "
            "VALUES (?,?,?,?,?,?)",
            [
                (
                    pk,
                    float(a.t_s),
                    AlertKind(a.kind).value,
                    float(a.value),
                    a.point_index,
                    a.hold_index,
                )
                for a in alerts
            ],
        )
    if gaps:
        c.executemany(
            "INSERT INTO gaps (session_pk, start_s, end_s, lost_samples, cause) VALUES (?,?,?,?,?)",
            [
                (pk, float(g.start_s), float(g.end_s), int(g.lost_samples), GapCause(g.cause).value)
                for g in gaps
            ],
        )
    if reconnects:
        c.executemany(
            "INSERT INTO reconnects (session_pk, at, t_s) VALUES (?,?,?)",
            [(pk, at, t) for at, t in reconnects],
        )
    if zeros:
        c.executemany(
            "INSERT INTO zeros (session_pk, t_s, zero_counts, source) VALUES (?,?,?,?)",
            [(pk, float(z.t_s), float(z.zero_counts), ZeroSource(z.source).value) for z in zeros],
        )


def _insert_audit(
    c: sqlite3.Connection,
    action: AuditAction,
    sessions: list[str],
    deidentified: bool,
    detail: dict[str, Any],
) -> None:
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        user = str(os.getuid()) if hasattr(os, "getuid") else "?"
    c.execute(
        "INSERT INTO audit (at, user, action, sessions, deidentified, detail) "
        "VALUES (?,?,?,?,?,?)",
        (_utc_now_iso(), user, action.value, json.dumps(sessions), int(deidentified),
         json.dumps(detail, default=str)),
    )  # fmt: skip


def _scrub_audit(c: sqlite3.Connection, erased: set[str]) -> None:
    """Drop the file names (which may carry a client's name) from audit lines about
    erased sessions; what was done, when and to which session ids stays."""
    rows = c.execute("SELECT pk, sessions, detail FROM audit").fetchall()
    for pk, sids, detail in rows:
        d = json.loads(detail)
        if erased & set(json.loads(sids)) and "out" in d:
            d["out"] = None
            c.execute("UPDATE audit SET detail = ? WHERE pk = ?", (json.dumps(d), pk))


# ---------------------------------------------------------------------- the writer
@dataclass(slots=True)
class WriteBatch:
    """What one transaction of a live session stores (:meth:`SessionStore.write_batch`):
    sample runs, events, and a changed calibration (the newest wins)."""

    samples: list[SampleBlock] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)
    reconnects: list[tuple[str, float | None]] = field(default_factory=list)
    zeros: list[ZeroEvent] = field(default_factory=list)
    calibration: CalibrationInfo | None = None
    end: SessionEnd | None = None  # finalise the session in the same transaction

    @property
    def n_samples(self) -> int:
        return sum(len(b) for b in self.samples)

    def extend(self, other: WriteBatch) -> None:
        for f in dataclasses.fields(self):  # every list, so a new kind of event is never lost
            mine = getattr(self, f.name)
            if isinstance(mine, list):
                mine.extend(getattr(other, f.name))
        if other.calibration is not None:
            self.calibration = other.calibration

    def events(self) -> WriteBatch:
        """Everything but the samples (small: what a nearly full disk should keep first)."""
        return dataclasses.replace(self, samples=[])

    def pieces(self) -> list[WriteBatch]:
        """The batch as small transactions: the events (possibly none), then one per
        sample run."""
        return [self.events()] + [WriteBatch(samples=[b]) for b in self.samples]


@dataclass(slots=True)
class _Flush:
    done: threading.Event = field(default_factory=threading.Event)


@dataclass(slots=True, frozen=True)
class SessionEnd:
    """How a recording ends (queued last: it closes the writer)."""

    status: SessionStatus
    stats: SessionStats | None
    ended_at: str | None
    unsaved_samples: int = 0


# what the writer's queue carries: samples, events (and a calibration), flush, the end
_Message = SampleBlock | WriteBatch | _Flush | SessionEnd
MAX_PENDING_ITEMS = 4096  # the writer commits at once after this many queued messages
# Space a writer holds beside the library (``<library>-reserve``) and gives back when the
# disk fills, so that the session can still be closed with its stats (a full disk has no
# room even for that one small transaction otherwise).
RESERVE_BYTES = 256 * 1024


def _make_reserve(path: Path) -> Path | None:
    """Create the reserve file unless it exists already; None when this writer did not."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError:
        return None  # there already (another recorder's) or no room: go without
    try:
        os.write(fd, bytes(RESERVE_BYTES))
        os.fsync(fd)
    except OSError:
        os.close(fd)
        path.unlink(missing_ok=True)
        return None
    os.close(fd)
    return path


class SessionWriter:
    """Stores a live session from a thread of its own, fed through a queue.

    ``put_*`` never block (an unbounded queue; the reader thread must not wait on disk).
    The writer coalesces contiguous sample blocks into chunks and commits at most
    :data:`COMMIT_INTERVAL_S` after the oldest pending item arrived (so a process killed
    with ``kill -9`` loses at most that much), refreshing the session's heartbeat.
    ``close(status, stats)`` flushes everything and finalises the session.

    A storage failure (disk full, read-only, the library deleted or replaced) ends the
    storing at once: :attr:`failed` is set and ``on_failure`` is called (from the writer
    thread) so that the recording can be stopped. Nothing is dropped uncounted. On a full
    disk the batch that failed and whatever arrives until ``close`` are held; ``close``
    gives back the reserve file (:data:`RESERVE_BYTES`), finalises the session as
    ``interrupted`` together with the held events, then adds the held sample runs while
    they fit, each transaction restating ``stats.unsaved_samples``. After other failures
    the final status is tried once. ``close`` then raises :class:`StorageError`, one line
    saying what was kept and what was not.
    """

    def __init__(
        self,
        store: SessionStore,
        sid: str,
        *,
        on_failure: Callable[[StorageError], None] | None = None,
    ) -> None:
        if not store.has_session(sid):  # unknown id → BadInput here, not in the thread
            raise BadInput(f"unknown session {sid!r}")
        self.db_path = store.db_path
        self.sid = sid
        self.on_failure = on_failure
        self.error: StorageError | None = None
        self.failed = threading.Event()
        self.committed_samples = 0
        self.unsaved_samples = 0  # received but not stored (final once closed)
        self._received_samples = 0
        self._finalised = False
        self._held = WriteBatch()  # received after the disk filled: kept at close if it fits
        self._queue: queue.SimpleQueue[_Message] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"SessionWriter-{sid}", daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------- producer
    def put_samples(self, first_index: int, t_s: np.ndarray, raw: np.ndarray) -> None:
        """Queue a contiguous run of samples (copied, so the caller may reuse buffers)."""
        r = np.array(raw, dtype=np.int32, copy=True)
        if r.ndim == 1:
            r = r.reshape(-1, 1)
        t = np.array(t_s, dtype=np.float64, copy=True).reshape(-1)
        if r.ndim != 2 or r.shape[0] != t.shape[0]:
            raise ValueError(f"t_s has {t.shape[0]} rows but raw has shape {r.shape}")
        self._queue.put(SampleBlock(int(first_index), t, r))

    def put_marks(self, marks: Sequence[Mark]) -> None:
        self._queue.put(WriteBatch(marks=list(marks)))

    def put_holds(self, holds: Sequence[Hold]) -> None:
        self._queue.put(WriteBatch(holds=list(holds)))

    def put_alerts(self, alerts: Sequence[Alert]) -> None:
        self._queue.put(WriteBatch(alerts=list(alerts)))

    def put_gaps(self, gaps: Sequence[Gap]) -> None:
        self._queue.put(WriteBatch(gaps=list(gaps)))

    def put_points(self, points: Sequence[Point]) -> None:
        """Points added to the plan while recording (see SessionStore.add_points)."""
        self._queue.put(WriteBatch(points=[dataclasses.replace(p) for p in points]))

    def put_zeros(self, zeros: Sequence[ZeroEvent]) -> None:
        self._queue.put(WriteBatch(zeros=list(zeros)))

    def put_reconnect(self, at: str | None = None, t_s: float | None = None) -> None:
        self._queue.put(WriteBatch(reconnects=[(at or _utc_now_iso(), t_s)]))

    def put_calibration(self, cal: CalibrationInfo) -> None:
        """Change the session's calibration (e.g. after a tare during recording)."""
        _check_calibration(cal)
        self._queue.put(WriteBatch(calibration=cal))

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until everything queued so far is committed (or given up after a storage
        failure: see :attr:`failed`); False on timeout."""
        if not self._thread.is_alive():
            return False
        f = _Flush()
        self._queue.put(f)
        return f.done.wait(timeout_s)

    def close(
        self,
        status: SessionStatus | str = SessionStatus.COMPLETE,
        stats: SessionStats | None = None,
        ended_at: str | None = None,
    ) -> None:
        """Flush, finalise the session and stop the thread (idempotent). Raises
        :class:`StorageError` (one line: the cause, what was kept) after a failure."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(SessionEnd(SessionStatus(status), stats, ended_at))
        self._thread.join()
        if self.error is not None:
            raise StorageError(
                self._failure_text(), disk_full=self.error.disk_full, gone=self.error.gone
            )

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _failure_text(self) -> str:
        assert self.error is not None
        if self.error.gone:
            return (
                f"{self.error}; session {self.sid} went with it "
                f"({self._received_samples} samples received)"
            )
        text = (
            f"{self.error}; recording stopped: session {self.sid} keeps "
            f"{self.committed_samples} samples, {self.unsaved_samples} not saved"
        )
        if not self._finalised:
            text += " (its final status could not be written: it opens as interrupted once "
            text += "this program has ended)"
        return text

    # ------------------------------------------------------------------ thread
    def _run(self) -> None:
        store: SessionStore | None = None
        reserve = self.db_path.with_name(self.db_path.name + "-reserve")
        mine: Path | None = None
        try:
            store = SessionStore(self.db_path, _recover=False)
            mine = _make_reserve(reserve)
        except Exception as exc:  # noqa: BLE001 - reported through close()
            self._fail(exc)
        try:
            self._loop(store, reserve)
        finally:
            if store is not None:
                store.close()
            if mine is not None:
                mine.unlink(missing_ok=True)

    def _loop(self, store: SessionStore | None, reserve: Path) -> None:
        pending, queued = WriteBatch(), 0  # queued: messages in `pending`
        deadline: float | None = None
        last_beat = time.monotonic()
        while True:
            now = time.monotonic()
            wait_s = HEARTBEAT_S - (now - last_beat) if deadline is None else deadline - now
            item: _Message | None
            try:
                item = self._queue.get(timeout=max(0.0, wait_s))
            except queue.Empty:
                item = None
            flushes: list[_Flush] = []
            closing: SessionEnd | None = None
            # take whatever else is already queued, without waiting
            while item is not None:
                match item:
                    case SampleBlock():
                        pending.samples.append(item)
                        self._received_samples += len(item)
                        queued += 1
                    case WriteBatch():
                        pending.extend(item)
                        self._received_samples += item.n_samples
                        queued += 1
                    case _Flush():
                        flushes.append(item)
                    case SessionEnd():
                        closing = item
                        break
                if deadline is None and queued:
                    deadline = time.monotonic() + COMMIT_INTERVAL_S
                if queued > MAX_PENDING_ITEMS:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    item = None
            now = time.monotonic()
            due = deadline is not None and now >= deadline
            if queued and (due or flushes or closing or queued > MAX_PENDING_ITEMS):
                self._write(store, pending)
                pending, queued, deadline, last_beat = WriteBatch(), 0, None, now
            elif not queued and now - last_beat >= HEARTBEAT_S:
                if store is not None and self.error is None:
                    try:
                        store.heartbeat(self.sid)
                    except Exception as exc:  # noqa: BLE001 - reported through close()
                        self._fail(exc)
                last_beat = now
            for f in flushes:
                f.done.set()
            if closing is not None:
                if self.error is not None and self.error.disk_full:
                    reserve.unlink(missing_ok=True)  # room for the session's last word
                self._finish(store, closing)
                return

    def _write(self, store: SessionStore | None, batch: WriteBatch) -> None:
        """Commit one batch. After a failure nothing more is committed: on a full disk
        the batches are held for :meth:`_finish`, otherwise only counted (as unsaved)."""
        if store is None or self.error is not None:
            if self.error is not None and self.error.disk_full:
                self._held.extend(batch)
            return
        batch.samples = _coalesce(batch.samples)
        try:
            store.write_batch(self.sid, batch)
            self.committed_samples += batch.n_samples
        except Exception as exc:  # noqa: BLE001 - reported through close()
            self._fail(exc)
            if self.error is not None and self.error.disk_full:
                self._held.extend(batch)

    def _finish(self, store: SessionStore | None, end: SessionEnd) -> None:
        if store is not None and self.error is None:
            try:
                store.finish_session(self.sid, end.status, end.stats, end.ended_at)
                self._finalised = True
                return
            except Exception as exc:  # noqa: BLE001 - reported through close()
                self._fail(exc)
        assert self.error is not None
        if store is not None and not self.error.gone:
            self._keep_what_fits(store, end)
        self.unsaved_samples = self._received_samples - self.committed_samples

    def _keep_what_fits(self, store: SessionStore, end: SessionEnd) -> None:
        """After a failure: finalise the session as ``interrupted`` together with the held
        events (one small transaction, which often fits where a batch of samples did not),
        then add the held sample runs one transaction each, every one restating the stats,
        until the first that does not fit."""
        held = self._held
        held.samples = _coalesce(held.samples)
        for piece in held.pieces():
            unsaved = self._received_samples - self.committed_samples - piece.n_samples
            piece.end = SessionEnd(SessionStatus.INTERRUPTED, end.stats, end.ended_at, unsaved)
            try:
                store.write_batch(self.sid, piece)
            except (StorageError, BadInput) as exc:  # full after all, or the session is gone
                log.info("session %s: stopped keeping held data: %s", self.sid, exc)
                return
            self.committed_samples += piece.n_samples
            self._finalised = True

    def _fail(self, exc: BaseException) -> None:
        """Remember the first failure and tell the owner (who stops the recording)."""
        if self.error is not None:
            return
        if not isinstance(exc, StorageError):
            log.debug("SessionWriter for %s failed", self.sid, exc_info=exc)
            exc = StorageError(f"{self.db_path}: storing session {self.sid} failed: {exc}")
        log.info("session %s: storage failed: %s", self.sid, exc)
        self.error = exc
        self.failed.set()
        if self.on_failure is not None:
            try:
                self.on_failure(exc)
            except Exception:  # the writer must go on counting whatever the callback does
                log.exception("on_failure callback of the writer for %s", self.sid)


def _coalesce(blocks: list[SampleBlock]) -> list[SampleBlock]:
    """Join contiguous sample blocks (index follows on, same channels) into chunks."""
    runs: list[tuple[int, list[np.ndarray], list[np.ndarray], int]] = []
    for block in blocks:
        first, t, raw = block.first_index, block.t_s, block.raw
        if t.size == 0:
            continue
        if runs:
            r_first, ts, raws, n = runs[-1]
            if (
                first == r_first + n
                and raw.shape[1] == raws[-1].shape[1]
                and n + t.size <= MAX_CHUNK_SAMPLES
            ):
                ts.append(t)
                raws.append(raw)
                runs[-1] = (r_first, ts, raws, n + t.size)
                continue
        runs.append((first, [t], [raw], t.size))
    return [
        SampleBlock(first, np.concatenate(ts), np.concatenate(raws)) for first, ts, raws, _ in runs
    ]
