"""The session library: the :class:`SessionLibrary` protocol the rest of the code uses,
and :class:`SessionStore`, its SQLite implementation.

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
  sample. The summary pyramid (:mod:`.overview`) is kept up to date as chunks arrive, so
  an 8-hour overview reads ≤ ``max_points`` rows.
- WAL mode, ``synchronous=FULL``: a killed process loses nothing that was committed, and
  :class:`~logger.store.writer.SessionWriter` commits at most
  :data:`~logger.store.writer.COMMIT_INTERVAL_S` after data arrives.
- A recording whose process died is found when the library is opened and marked
  ``interrupted`` (:mod:`.ownership`); the caller may pass ``redetect`` to have its holds
  and alerts decided again on its stored samples.
- Privacy: the file (and so its WAL and SHM) is created 0600 in 0700 directories, with
  a warning for an existing one others can read; an ``audit`` table records exports,
  reports and erasures; :meth:`SessionStore.forget_client` erases a client so that none of
  their text stays in the file.
- The interface is narrow (ids, records, numpy arrays: :class:`SessionLibrary`) so that a
  server-backed library can stand in later.
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
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

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
    ProtocolEvent,
    ProtocolKind,
    Rating,
    SampleBlock,
    SessionMeta,
    SessionStats,
    SessionStatus,
    Signal,
)
from . import overview, ownership, schema
from .ownership import Owner
from .reading import ProtocolReading, SampleReading
from .rows import (
    check_calibration,
    chunk_block,
    duration_s,
    from_dict,
    json_obj,
    label_sessions,
    parse_time,
    point_from_dict,
    protocol_filter,
    protocol_rows_query,
    stored_stats,
)
from .schema import RAW_DTYPE, SHARED_TABLES, T_DTYPE, utc_iso

if TYPE_CHECKING:
    from calibration.tare import ForceTimeline

log = logging.getLogger(__name__)


def check_writable(path: Path, redetect: Redetect | None = None) -> None:
    """Raise :class:`StorageError` unless a recording can be stored at ``path`` (an
    existing library that opens writable, or a folder where one can be created). An
    existing library is opened as a recorder opens it (``redetect``: see SessionStore)."""
    if path.exists():
        with SessionStore(path, redetect=redetect) as store:
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
    with SessionStore(path, recover=False) as store:
        return store.has_session(sid)


def force_timeline(cal: CalibrationInfo, zeros: Sequence[ZeroEvent] = ()) -> ForceTimeline:
    """A session's raw counts → newtons: its stored calibration record plus its zero events
    in time order. The calibration package does the arithmetic for the live view too, so
    live and stored forces cannot disagree."""
    from calibration.models import Calibration
    from calibration.tare import ForceTimeline

    return ForceTimeline(Calibration.from_info(cal), zeros)


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
    protocols: str = ""  # what it ran: "PPT pre/post, drill basic, guided" ("" none)


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
    signals: list[Signal] = field(default_factory=list)
    ratings: list[Rating] = field(default_factory=list)
    protocols: list[ProtocolEvent] = field(default_factory=list)

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


@dataclass(slots=True)
class WriteBatch:
    """What one transaction of a live session stores (:meth:`SessionLibrary.write_batch`):
    sample runs and events, and with ``end`` the session's final status."""

    samples: list[SampleBlock] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)
    reconnects: list[tuple[str, float | None]] = field(default_factory=list)
    zeros: list[ZeroEvent] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    ratings: list[Rating] = field(default_factory=list)
    protocols: list[ProtocolEvent] = field(default_factory=list)
    end: SessionEnd | None = None  # finalise the session in the same transaction

    @property
    def n_samples(self) -> int:
        return sum(len(b) for b in self.samples)

    def extend(self, other: WriteBatch) -> None:
        for f in dataclasses.fields(self):  # every list, so a new kind of event is never lost
            mine = getattr(self, f.name)
            if isinstance(mine, list):
                mine.extend(getattr(other, f.name))

    def events(self) -> WriteBatch:
        """Everything but the samples (small: what a nearly full disk should keep first)."""
        return dataclasses.replace(self, samples=[])

    def pieces(self) -> list[WriteBatch]:
        """The batch as small transactions: the events (possibly none), then one per
        sample run."""
        return [self.events()] + [WriteBatch(samples=[b]) for b in self.samples]


@dataclass(slots=True, frozen=True)
class SessionEnd:
    """How a live session ends (``WriteBatch.end``; the writer's last message): its
    status and stats, and how many samples it received but could not store."""

    status: SessionStatus
    stats: SessionStats | None
    ended_at: str | None
    unsaved_samples: int = 0


@runtime_checkable
class SessionLibrary(Protocol):
    """The session library as the rest of the code uses it, and all that a second back
    end (a PostgreSQL server) has to offer: ids are strings, records are dataclasses,
    samples are numpy arrays. :class:`SessionStore` is the SQLite implementation.

    Writing a live session goes through :class:`~logger.store.writer.SessionWriter`
    (``create_session``, then ``write_batch`` and ``finish_session`` from its thread, on
    a handle of its own from ``reopen``); reading never blocks it.
    """

    @property
    def db_path(self) -> Path: ...

    @property
    def read_only(self) -> bool: ...

    @property
    def read_only_reason(self) -> str: ...

    # -- reading
    def list_sessions(
        self,
        *,
        therapist: str | None = None,
        client: str | None = None,
        point: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        status: SessionStatus | str | None = None,
        protocol: str | None = None,
    ) -> list[SessionSummary]: ...

    def load_session(self, sid: str) -> SessionRecord: ...

    def load_signals(self, sid: str) -> list[Signal]: ...

    def load_ratings(self, sid: str) -> list[Rating]: ...

    def load_protocols(self, sid: str) -> list[ProtocolEvent]: ...

    def calibration(self, sid: str) -> CalibrationInfo: ...

    def iter_chunks(
        self, sid: str, t0_s: float | None = None, t1_s: float | None = None
    ) -> Iterator[SampleBlock]: ...

    def load_samples(
        self, sid: str, t0_s: float | None = None, t1_s: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def load_forces(
        self, sid: str, t0_s: float | None = None, t1_s: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def load_overview(
        self,
        sid: str,
        t0_s: float | None = None,
        t1_s: float | None = None,
        max_points: int = 2000,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    def clients(self) -> list[str]: ...

    def audit(self) -> list[AuditEntry]: ...

    def has_session(self, sid: str) -> bool: ...

    # -- writing
    def reopen(self) -> SessionLibrary: ...

    def create_session(self, meta: SessionMeta) -> str: ...

    def write_batch(self, sid: str, batch: WriteBatch) -> None: ...

    def heartbeat(self, sid: str) -> None: ...

    def finish_session(
        self,
        sid: str,
        status: SessionStatus | str = SessionStatus.COMPLETE,
        stats: SessionStats | None = None,
        ended_at: str | None = None,
    ) -> None: ...

    def set_device(self, sid: str, device: DeviceInfo) -> None: ...

    def set_notes(self, sid: str, notes: str | None) -> None: ...

    def replace_alerts(self, sid: str, alerts: Sequence[Alert]) -> None: ...

    def apply_recalibration(
        self, sid: str, cal: CalibrationInfo, holds: Sequence[Hold], alerts: Sequence[Alert]
    ) -> None: ...

    # -- privacy
    def log_audit(
        self,
        action: AuditAction | str,
        sessions: Sequence[str],
        *,
        deidentified: bool = False,
        **detail: Any,
    ) -> None: ...

    def forget_client(self, client: str) -> ErasureResult: ...

    def close(self) -> None: ...


# What decides a dead recording's holds and alerts again, given to the library that finds
# it: hold detection belongs to the pipeline, above the store (logger.recalibrate).
Redetect = Callable[[SessionLibrary, str], None]


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
    rate_hz = float(json_obj(device, "device").get("rate_hz") or 0.0)
    return SessionStats(
        samples=int(samples),
        duration_s=duration_s(samples, last_t_s, rate_hz),
        rate_hz=rate_hz,
        lost_samples=int(lost),
        crc_errors=int(crc),
        reconnects=int(reconnects),
    )


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


class SessionStore(SampleReading, ProtocolReading):
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

    def __init__(
        self,
        db_path: str | os.PathLike[str],
        *,
        recover: bool = True,
        redetect: Redetect | None = None,
    ) -> None:
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
        if recover and not self.read_only:
            self.recover_stale(redetect)

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
            current = schema.stored_version(self._conn)
        latest = len(schema.MIGRATIONS)
        if current > latest:
            raise BadInput(
                f"{self.db_path}: schema_version {current} is newer than this program "
                f"understands ({latest})"
            )
        if current == latest:
            return  # nothing to do: no write (a read-only or full library still opens)
        if self.read_only:
            raise StorageError(
                f"{self.db_path}: read-only, and its schema (version {current}) needs an "
                f"upgrade to version {latest}"
            )
        with self._tx() as c:
            schema.migrate(c, self.db_path)

    def _check_tables(self) -> None:
        """Every table the migrations create must be there (a dropped one is damage)."""
        with self._lock:
            tables = {
                name
                for (name,) in self._conn.execute(
                    "SELECT name FROM sqlite_master WHERE type='table'"
                )
            }
        missing = sorted(schema.TABLES - tables)
        if missing:
            raise StorageError(
                f"{self.db_path}: damaged session library: table {missing[0]} is missing"
            )

    @property
    def schema_version(self) -> int:
        with self._lock:
            return schema.stored_version(self._conn)

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
    def reopen(self) -> SessionStore:
        """Another handle on this library, with a connection of its own and no recovery:
        a writer thread stores through it while this one goes on reading."""
        return SessionStore(self.db_path, recover=False)

    def recover_stale(self, redetect: Redetect | None = None) -> list[str]:
        """Mark abandoned ``recording`` sessions ``interrupted`` and, with ``redetect``,
        have their holds and alerts decided again; return the ids marked."""
        return ownership.recover_stale(self, redetect)

    def recording_owners(self) -> dict[str, Owner]:
        """Every session still marked ``recording``, with the owner its row names."""
        with self._decoding("table sessions"), self._lock:
            rows = self._conn.execute(
                "SELECT id, owner_host, owner_pid, heartbeat_unix FROM sessions WHERE status = ?",
                (SessionStatus.RECORDING.value,),
            ).fetchall()
        return {sid: Owner(host, pid, beat) for sid, host, pid, beat in rows}

    def mark_interrupted(self, sid: str) -> bool:
        """Finalise a recording whose owner is gone as ``interrupted``, with the stats of
        what it committed and its last heartbeat as its end; False when it was no longer
        recording (another process was first)."""
        pk = self._pk(sid)
        with self._tx() as c:
            beat, status = c.execute(
                "SELECT heartbeat_unix, status FROM sessions WHERE pk = ?", (pk,)
            ).fetchone()
            if status != SessionStatus.RECORDING.value:
                return False
            c.execute(
                "UPDATE sessions SET status = ?, stats = ?, ended_at = ? WHERE pk = ?",
                (
                    SessionStatus.INTERRUPTED.value,
                    json.dumps(dataclasses.asdict(_committed_stats(c, pk))),
                    utc_iso(beat) if beat else None,
                    pk,
                ),
            )
        return True

    def create_session(self, meta: SessionMeta) -> str:
        """Start a ``recording`` session owned by this process; returns its id."""
        check_calibration(meta.calibration)
        indices = [p.index for p in meta.points]
        if len(set(indices)) != len(indices):
            raise BadInput(f"session points: index repeated in {indices}")
        started = parse_time(meta.started_at, "started_at")
        stamp = started.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
        device = json.dumps(dataclasses.asdict(meta.device))
        calibration = json.dumps(dataclasses.asdict(meta.calibration))
        try:
            config = json.dumps(meta.config)
        except (TypeError, ValueError) as exc:
            raise BadInput(f"session config is not JSON-serialisable: {exc}") from None
        owner = ownership.this_process()
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
                            owner.host,
                            owner.pid,
                            owner.heartbeat_unix,
                        ),
                    )
                    assert cur.lastrowid is not None  # an INSERT into a rowid table
                    pk = cur.lastrowid
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
        check_calibration(cal)
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
        """Store a live session's batch (sample runs, events) in one transaction and
        refresh its heartbeat: what :class:`~logger.store.writer.SessionWriter` commits.
        With ``batch.end`` the same transaction finalises the session, its stats taking
        samples and duration from what is stored."""
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
                signals=batch.signals,
                ratings=batch.ratings,
                protocols=batch.protocols,
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
            _insert_events(c, pk, reconnects=[(at or utc_iso(), t_s)])

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
        check_calibration(cal)
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
        protocol: str | None = None,
    ) -> list[SessionSummary]:
        """Sessions matching every given filter, oldest first.

        ``point`` matches a point name in the session's plan or on one of its holds;
        ``since``/``until`` compare with ``started_at`` (ISO 8601; naive means UTC);
        ``protocol`` (``ppt``, ``drill``, ``guided``) keeps the sessions that ran it.
        """
        where: list[str] = []
        params: list[str | float] = []
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
            params.append(parse_time(since, "since").timestamp())
        if until is not None:
            where.append("s.started_unix <= ?")
            params.append(parse_time(until, "until").timestamp())
        if status is not None:
            where.append("s.status = ?")
            params.append(SessionStatus(status).value)
        kind = protocol_filter(protocol, where, params, "?")
        filters = " WHERE " + " AND ".join(where) if where else ""
        sql = (
            "SELECT s.pk, s.id, s.started_at, s.status, s.client, s.therapist, s.stats, "
            "s.ended_at, s.device, "
            "(SELECT count(*) FROM holds h WHERE h.session_pk = s.pk), "
            "(SELECT count(*) FROM alerts a WHERE a.session_pk = s.pk) "
            "FROM sessions s"
        )
        sql += filters + " ORDER BY s.started_unix, s.id"
        out = []
        with self._decoding("table sessions"), self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        for pk, sid, started, st, cl, th, stats_json, ended, dev, nh, na in rows:
            with self._decoding(f"session {sid}"), self._lock:
                stats = stored_stats(stats_json) or _committed_stats(self._conn, pk)
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
                        device_uid=json_obj(dev, "device").get("uid"),
                        lost_samples=stats.lost_samples,
                        unsaved_samples=stats.unsaved_samples,
                    )
                )
        sql = protocol_rows_query(
            "json_quote(json_extract(p.data, '$.{}'))", filters, "p.t_s, p.rowid"
        )
        with self._decoding("table protocols"), self._lock:
            rows = self._conn.execute(sql, params).fetchall()
            return label_sessions(out, rows, kind)

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
            stats = stored_stats(row[9]) or _committed_stats(c, pk)  # recording: so far
            points = [
                point_from_dict(json_obj(d, "data"))
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
                from_dict(Hold, json_obj(d, "data"))
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
            signals, ratings, protocols = self._protocol_events(sid)
        started, ended, status, client, therapist, notes = row[:6]
        device = from_dict(DeviceInfo, json_obj(row[6], "device"))
        cal = from_dict(CalibrationInfo, json_obj(row[7], "calibration"))
        meta = SessionMeta(
            started_at=started,
            device=device,
            calibration=cal,
            config=json_obj(row[8], "config"),
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
            signals=signals,
            ratings=ratings,
            protocols=protocols,
        )

    def _event_rows(self, sid: str, table: str, columns: str) -> Sequence[Sequence[Any]]:
        pk = self._pk(sid)
        with self._decoding(f"session {sid}: table {table}"), self._lock:
            return self._conn.execute(
                f"SELECT {columns} FROM {table} WHERE session_pk = ? ORDER BY t_s, rowid", (pk,)
            ).fetchall()

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
            return from_dict(CalibrationInfo, json_obj(row[0], "calibration"))

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
                    block = chunk_block(first, n, channels, tb, rb, lo, hi)
                if block is not None:
                    yield block

    def _channels(self, sid: str) -> int:
        return self.load_session(sid).meta.device.channels or 1

    def _extent(self, sid: str) -> tuple[int, float | None, float]:
        pk = self._pk(sid)
        with self._decoding(f"session {sid}"), self._lock:
            row = self._conn.execute(
                "SELECT samples, last_t_s, device FROM sessions WHERE pk = ?", (pk,)
            ).fetchone()
            rate_hz = float(json_obj(row[2], "device").get("rate_hz") or 0.0)
        return int(row[0]), row[1], rate_hz

    def _summary(
        self, sid: str, level: int, bucket_lo: int, bucket_hi: int
    ) -> Sequence[Sequence[float]]:
        pk = self._pk(sid)
        with self._decoding(f"session {sid}"), self._lock:
            return self._conn.execute(
                "SELECT bucket, min_raw, max_raw FROM summary WHERE session_pk = ? "
                "AND level = ? AND bucket BETWEEN ? AND ? ORDER BY bucket",
                (pk, level, bucket_lo, bucket_hi),
            ).fetchall()


def _beat(c: sqlite3.Connection, pk: int) -> None:
    owner = ownership.this_process()
    c.execute(
        "UPDATE sessions SET heartbeat_unix = ?, owner_host = ?, owner_pid = ? "
        "WHERE pk = ? AND status = ?",
        (owner.heartbeat_unix, owner.host, owner.pid, pk, SessionStatus.RECORDING.value),
    )


def _insert_chunk(
    c: sqlite3.Connection, pk: int, first_index: int, t_s: np.ndarray, raw: np.ndarray
) -> None:
    t = np.ascontiguousarray(t_s, dtype=T_DTYPE).reshape(-1)
    r = np.asarray(raw)
    if r.ndim == 1:
        r = r.reshape(-1, 1)
    r = np.ascontiguousarray(r, dtype=RAW_DTYPE)
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
    overview.add_chunk(c, pk, t, r[:, 0])
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
    now = time.time()
    c.execute(
        "UPDATE sessions SET status = ?, stats = ?, ended_at = ?, owner_pid = NULL, "
        "heartbeat_unix = ? WHERE pk = ?",
        (status.value, json.dumps(dataclasses.asdict(stats)), ended_at or utc_iso(now), now, pk),
    )


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
    signals: Sequence[Signal] = (),
    ratings: Sequence[Rating] = (),
    protocols: Sequence[ProtocolEvent] = (),
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
    client_events: dict[str, list[tuple[Any, ...]]] = {
        "signals (session_pk, t_s, source)": [
            (pk, float(g.t_s), MarkSource(g.source).value) for g in signals
        ],
        "ratings (session_pk, t_s, value, source)": [
            (pk, float(r.t_s), float(r.value), MarkSource(r.source).value) for r in ratings
        ],
        "protocols (session_pk, t_s, kind, data)": [
            (pk, float(p.t_s), ProtocolKind(p.kind).value, json.dumps(p.data)) for p in protocols
        ],
    }
    for into, rows in client_events.items():
        if rows:
            c.executemany(f"INSERT INTO {into} VALUES ({','.join('?' * len(rows[0]))})", rows)


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
        (utc_iso(), user, action.value, json.dumps(sessions), int(deidentified),
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
