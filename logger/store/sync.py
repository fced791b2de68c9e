"""Station → school library: push a local SQLite library's sessions to PostgreSQL.

A station always records into its own file; ``pressure-logger sync --to URL`` sends what
it has when the server can be reached. Each session goes in one server transaction:

1. its rows are read from the station's file, in the order the library reads them;
2. samples (binary chunks, the stored bytes), the min/max summary and every kind of event
   are loaded with ``COPY``;
3. the server's copy is read back as a *manifest* (every row, each chunk's length and
   MD5 computed by the server, sample counts) and its SHA-256 compared with the
   station's: only an identical copy is committed, with that checksum;
4. the station records the session as synced (table ``sync_state``, below).

So a sync killed at any instant leaves the server without a half session (its
transaction dies with the connection), and the next run copies it again; a session
committed just before the kill is found on the server with the same checksum and only
recorded. A second run copies nothing: a session whose local fingerprint (everything but
the sample bytes, which a library never rewrites) matches its ``sync_state`` row is not
even looked up. A session whose notes, calibration or events changed on the station
after it was synced is sent again: its row and events are replaced, its samples must
match. Sessions still recording are left for later; interrupted ones go, as such.

Devices and calibrations go first, in their own short transaction (rows keyed by station
and local id: a second run adds nothing). Nothing is deleted locally unless asked
(``prune``), and then only sessions the server holds with the checksum recorded here.

Local state lives in the library file itself, in two tables of the library's migrations
(:data:`logger.store.schema.MIGRATIONS`): ``sync_meta`` (this station's id, and the id of
the library each server address led to) and ``sync_state`` (one row per session and
school library).

For the app: :func:`session_sync_states` tells each local session's state (synced,
changed since its sync, not synced, recording) from the file alone, and :func:`sync_pass`
runs one sync that never raises: a server that cannot be reached is a result saying so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import secrets
import socket
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import psycopg

from ..errors import BadInput, DeviceError, StorageError
from ..records import SessionStatus
from .library import SessionStore
from .pg_connect import ServerError, connect, on_server
from .pg_schema import ADMIN, PROTOCOL_TABLES, SCHEMA, TRAINER
from .postgres import check_version
from .urls import redacted

log = logging.getLogger(__name__)

SESSION_COLUMNS = (
    "id, started_at, started_unix, ended_at, status, client, therapist, notes, device, "
    "calibration, config, stats, samples, last_t_s"
)
# event tables: their columns, and the order the library reads them in (the server keeps
# that order as ``seq``; points and holds have their own index)
EVENTS: dict[str, tuple[str, str]] = {
    "points": ("idx, name, data", "idx"),
    "marks": ("t_s, point_index, source", "t_s, rowid"),
    "holds": ("idx, point_index, point, start_s, end_s, data", "idx"),
    "alerts": ("t_s, kind, value, point_index, hold_index", "t_s, rowid"),
    "gaps": ("start_s, end_s, lost_samples, cause", "start_s, rowid"),
    "reconnects": ("at, t_s", "rowid"),
    "zeros": ("t_s, zero_counts, source", "t_s, rowid"),
    "signals": ("t_s, source", "t_s, rowid"),
    "ratings": ("t_s, value, source", "t_s, rowid"),
    "protocols": ("t_s, kind, data", "t_s, rowid"),
}
# tables added later: a session without their rows digests as it did before them, so
# that sessions synced then are not sent again
LATER_EVENTS = frozenset(PROTOCOL_TABLES)
KEYED = {"points", "holds"}  # ordered by their own idx; the rest get seq = read order
CHUNK_META = "first_index, n, channels, t0_s, t1_s"
SUMMARY_AGG = (
    "SELECT level, count(*), sum(n), sum(min_raw), sum(max_raw), min(bucket), max(bucket) "
    "FROM summary WHERE session_pk = {p} GROUP BY level ORDER BY level"
)
CAL_COLUMNS = (
    "device_uid, created_at, model, coefficients, masses_kg, counts, residuals_n, r2, "
    "nonlinearity_pct, g, note"
)
CHUNK_TYPES = ["int8", "int4", "int8", "int4", "int4", "float8", "float8", "bytea", "bytea"]


@dataclasses.dataclass(slots=True)
class SyncReport:
    """What one run did, session ids by outcome."""

    copied: list[str] = dataclasses.field(default_factory=list)
    updated: list[str] = dataclasses.field(default_factory=list)
    already: list[str] = dataclasses.field(default_factory=list)  # on the server: recorded
    unchanged: list[str] = dataclasses.field(default_factory=list)  # synced before
    recording: list[str] = dataclasses.field(default_factory=list)
    not_theirs: list[str] = dataclasses.field(default_factory=list)  # another trainee's
    failed: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    pruned: list[str] = dataclasses.field(default_factory=list)
    samples: int = 0
    calibrations: int = 0
    stopped: bool = False  # asked to stop: the sessions not reached go next time


class _Digest:
    """SHA-256 over rows as JSON lines, a label per part (the same on both sides)."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def part(self, label: str, rows: Sequence[Sequence[Any]]) -> None:
        self._h.update(f"#{label} {len(rows)}\n".encode())
        for row in rows:
            self._h.update(json.dumps(list(row), separators=(",", ":")).encode())
            self._h.update(b"\n")

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def _manifest(
    session: Sequence[Any],
    events: dict[str, list],
    chunks: list,
    summary: list,
    *,
    with_md5: bool,
) -> str:
    """The digest of one session's content. ``chunks`` rows end with the blobs' lengths
    and (``with_md5``) their MD5s: without them, the cheap fingerprint."""
    d = _Digest()
    d.part("session", [session])
    for table in EVENTS:
        if events[table] or table not in LATER_EVENTS:
            d.part(table, events[table])
    d.part("chunks", chunks if with_md5 else [c[:7] for c in chunks])
    d.part("summary", summary)
    return d.hexdigest()


# a session's content: its row, events by table, chunk metadata rows, summary aggregates
Content = tuple[list, dict[str, list], list, list]


def _read_content(
    query: Callable[[str, tuple], list],
    pk: int,
    *,
    event_order: dict[str, str],
    chunk_extra: str,
    chunk_order: str,
) -> Content:
    """One session's content through ``query`` (SQLite's or the server's, ``%s``
    placeholders), rows as lists so that both sides compare and hash alike."""
    (session,) = query(f"SELECT {SESSION_COLUMNS} FROM sessions WHERE pk = %s", (pk,))
    events = {
        table: [
            list(r)
            for r in query(
                f"SELECT {cols} FROM {table} WHERE session_pk = %s ORDER BY {event_order[table]}",
                (pk,),
            )
        ]
        for table, (cols, _) in EVENTS.items()
    }
    chunks = [
        list(r)
        for r in query(
            f"SELECT {CHUNK_META}, length(t_s), length(raw){chunk_extra} FROM chunks "
            f"WHERE session_pk = %s ORDER BY {chunk_order}",
            (pk,),
        )
    ]
    summary = [list(r) for r in query(SUMMARY_AGG.format(p="%s"), (pk,))]
    return list(session), events, chunks, summary


def _local_content(conn: sqlite3.Connection, pk: int) -> Content:
    """One session's content as a station's library file holds it."""
    return _read_content(
        lambda q, p: conn.execute(q.replace("%s", "?"), p).fetchall(),
        pk,
        event_order={t: order for t, (_, order) in EVENTS.items()},
        chunk_extra="",
        chunk_order="chunk_id",
    )


def _fingerprint(content: Content) -> str:
    """The cheap digest of a session's content (everything but the sample bytes, which a
    library never rewrites): what ``sync_state`` keeps to tell a changed session."""
    return _manifest(*content, with_md5=False)


# --------------------------------------------------------------------- the station
class Station:
    """The station's library file, read for syncing (its own connection)."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise BadInput(f"--db {path}: no such session library")
        # opening it as a library first: migrations (the sync tables among them), and
        # recording sessions whose recorder is gone are marked interrupted (synced as such;
        # the command opened it before with their events re-detected)
        with SessionStore(path) as store:
            if store.read_only:
                raise StorageError(f"{path}: {store.read_only_reason}: cannot record the sync")
        self.path = path
        self.conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        try:
            self.conn.execute("PRAGMA busy_timeout = 30000")
            self.station_id = self._station_id()
        except sqlite3.Error as exc:
            self.conn.close()
            raise StorageError(f"{path}: cannot keep the sync state ({exc})") from None

    def _station_id(self) -> str:
        row = self.conn.execute("SELECT value FROM sync_meta WHERE key = 'station'").fetchone()
        if row:
            return str(row[0])
        new = f"{socket.gethostname()}-{secrets.token_hex(4)}"
        self.conn.execute(
            "INSERT OR IGNORE INTO sync_meta (key, value) VALUES ('station', ?)", (new,)
        )
        return str(
            self.conn.execute("SELECT value FROM sync_meta WHERE key = 'station'").fetchone()[0]
        )

    def close(self) -> None:
        self.conn.close()

    def sessions(self) -> list[tuple[int, str, str, str | None]]:
        """(pk, id, status, therapist) of every session, oldest first."""
        return self.conn.execute(
            "SELECT pk, id, status, therapist FROM sessions ORDER BY started_unix, id"
        ).fetchall()

    def calibrations(self) -> list[tuple]:
        found = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'calibrations'"
        ).fetchone()
        if not found:
            return []
        return self.conn.execute(
            f"SELECT id, {CAL_COLUMNS} FROM calibrations ORDER BY id"
        ).fetchall()

    def read(self, pk: int) -> Content:
        """Session row, events (in read order), chunk metadata (with blob lengths) and the
        summary aggregates: what the fingerprint covers."""
        return _local_content(self.conn, pk)

    def chunk_blobs(self, pk: int) -> Iterator[tuple[bytes, bytes]]:
        """(t_s, raw) bytes of each chunk, in order, a few at a time."""
        last = -1
        while True:
            rows = self.conn.execute(
                "SELECT chunk_id, t_s, raw FROM chunks WHERE session_pk = ? AND chunk_id > ? "
                "ORDER BY chunk_id LIMIT 16",
                (pk, last),
            ).fetchall()
            if not rows:
                return
            for chunk_id, t, raw in rows:
                last = chunk_id
                yield bytes(t), bytes(raw)

    def summary_rows(self, pk: int) -> Iterator[tuple]:
        yield from self.conn.execute(
            "SELECT level, bucket, min_raw, max_raw, n FROM summary WHERE session_pk = ? "
            "ORDER BY level, bucket",
            (pk,),
        )

    def remember_library(self, url: str, library_id: str) -> None:
        """Note which library ``url`` led to (what :func:`session_sync_states` reads)."""
        self.conn.execute(
            "INSERT OR REPLACE INTO sync_meta (key, value) VALUES (?, ?)",
            (library_key(url), library_id),
        )

    def state(self, library_id: str, sid: str) -> tuple[str, str] | None:
        row = self.conn.execute(
            "SELECT fingerprint, checksum FROM sync_state WHERE library_id = ? AND session_id = ?",
            (library_id, sid),
        ).fetchone()
        return (row[0], row[1]) if row else None

    def record(self, library_id: str, sid: str, fingerprint: str, checksum: str,
               samples: int, server: str) -> None:  # fmt: skip
        self.conn.execute(
            "INSERT OR REPLACE INTO sync_state (library_id, session_id, fingerprint, checksum, "
            "samples, synced_at, server) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (library_id, sid, fingerprint, checksum, samples,
             datetime.now(UTC).isoformat(timespec="milliseconds"), server),
        )  # fmt: skip


def _md5_rows(chunks: list, blobs: Iterator[tuple[bytes, bytes]]) -> Iterator[tuple]:
    """Each chunk's metadata row completed with its blobs' MD5s, yielding the blobs."""
    for meta, (t, raw) in zip(chunks, blobs, strict=True):
        meta += [hashlib.md5(t).hexdigest(), hashlib.md5(raw).hexdigest()]
        yield t, raw


# ---------------------------------------------------------------------- the server
class _Server:
    """One connection to the school library, for one sync run."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn = connect(url)
        try:
            with self.on_server("opening the school library"):
                self.conn.execute(f"SET search_path TO {SCHEMA}")
                check_version(self.conn, url)
                self.library_id = str(
                    _one(self.conn.execute("SELECT library_id FROM library_info"))[0]
                )
                self.user = str(_one(self.conn.execute("SELECT current_user"))[0])
                self.staff = bool(
                    _one(
                        self.conn.execute(
                            "SELECT rolsuper OR pg_has_role(current_user, %s, 'MEMBER') "
                            "OR pg_has_role(current_user, %s, 'MEMBER') "
                            "FROM pg_roles WHERE rolname = current_user",
                            (TRAINER, ADMIN),
                        )
                    )[0]
                )
        except BaseException:
            self.conn.close()
            raise

    def on_server(self, doing: str) -> AbstractContextManager[None]:
        return on_server(self.url, doing)

    def owner_for(self, therapist: str | None) -> str:
        """Who owns a session on the server: a trainee syncs as itself; staff give each
        session to the login named like its trainee (themselves when there is none)."""
        if not self.staff or not therapist:
            return self.user
        row = self.conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname = %s AND rolcanlogin", (therapist,)
        ).fetchone()
        return str(row[0]) if row else self.user

    def checksums(self, ids: list[str]) -> dict[str, str]:
        """The checksum of each of ``ids`` the server holds (one query)."""
        rows = self.conn.execute(
            "SELECT id, checksum FROM sessions WHERE id = ANY(%s)", (ids,)
        ).fetchall()
        return {str(sid): str(checksum) for sid, checksum in rows}

    def manifest_rows(self, pk: int) -> Content:
        """The same content as :meth:`Station.read`, as the server holds it, with the
        server's own MD5 of each chunk's bytes."""
        return _read_content(
            lambda q, p: self.conn.execute(q, p).fetchall(),
            pk,
            event_order={t: "idx" if t in KEYED else "seq" for t in EVENTS},
            chunk_extra=", md5(t_s), md5(raw)",
            chunk_order="seq",
        )

    def close(self) -> None:
        self.conn.close()


# ------------------------------------------------------------------------ the sync
def sync_library(
    db: Path,
    url: str,
    *,
    prune: bool = False,
    progress: Callable[[str], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> SyncReport:
    """Push every finished session of library ``db`` to the school library at ``url``
    (see the module docstring). Raises ServerError (the server went away: what was
    committed stays recorded, the rest goes next time) or BadInput. ``stop`` is asked
    before each session: when it says so the run ends there (``report.stopped``)."""
    say = progress or (lambda text: None)
    report = SyncReport()
    station = Station(db)
    try:
        server = _Server(url)
        try:
            station.remember_library(url, server.library_id)
            _push_calibrations(station, server, report)
            sessions = station.sessions()
            with server.on_server("listing the school library"):
                held = server.checksums([sid for _, sid, _, _ in sessions])
            for pk, sid, status, therapist in sessions:
                if stop is not None and stop():
                    report.stopped = True
                    break
                if status == SessionStatus.RECORDING.value:
                    report.recording.append(sid)
                    continue
                if not server.staff and therapist != server.user:
                    report.not_theirs.append(sid)
                    continue
                try:
                    _sync_one(station, server, pk, sid, therapist, held.get(sid), report, say)
                except _Mismatch as exc:  # rolled back; the others may still go
                    report.failed.append((sid, str(exc)))
                    say(f"not synced {sid}: {exc}")
            if prune and not report.stopped:
                _prune(station, server, db, report, say)
        finally:
            server.close()
    finally:
        station.close()
    return report


def _push_calibrations(station: Station, server: _Server, report: SyncReport) -> None:
    """Devices seen in the station's sessions, and its calibration history."""
    devices: dict[str, str] = {}
    for (text,) in station.conn.execute("SELECT device FROM sessions ORDER BY started_unix"):
        try:
            uid = json.loads(text).get("uid")
        except (TypeError, ValueError, AttributeError):
            continue
        if isinstance(uid, str) and uid:
            devices[uid] = text  # the newest session's record of the device wins
    cals = station.calibrations()
    with (
        server.on_server("sending devices and calibrations"),
        server.conn.transaction(),
        server.conn.cursor() as cur,
    ):
        cur.executemany(
            "INSERT INTO devices (uid, info) VALUES (%s, %s) ON CONFLICT (uid) DO UPDATE "
            "SET info = excluded.info, last_seen = now()",
            list(devices.items()),
        )
        cur.executemany(
            f"INSERT INTO calibrations (station, local_id, {CAL_COLUMNS}) VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (station, local_id) DO NOTHING",
            [(station.station_id, *row) for row in cals],
        )
        report.calibrations = max(0, cur.rowcount)  # rows added (none on a second run)


def _sync_one(
    station: Station,
    server: _Server,
    pk: int,
    sid: str,
    therapist: str | None,
    held: str | None,
    report: SyncReport,
    say: Callable[[str], None],
) -> None:
    """One session, in one server transaction (see the module docstring). ``held`` is the
    checksum the server has for ``sid`` (None: none there, or not visible to this login)."""
    session, events, chunks, summary = content = station.read(pk)
    fingerprint = _fingerprint(content)
    state = station.state(server.library_id, sid)
    if state is not None and state[0] == fingerprint and held == state[1]:
        report.unchanged.append(sid)  # and still on the server (not lost in a restore)
        return
    samples = int(session[12] or 0)
    conn = server.conn
    with server.on_server(f"session {sid}"), conn.transaction():
        # one station at a time per session id (two stations rarely share one)
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (sid,))
        found = conn.execute(
            "SELECT pk, checksum, station FROM sessions WHERE id = %s", (sid,)
        ).fetchone()
        if found is None:
            server_pk = _insert(station, server, pk, sid, session, events, therapist)
            _copy_samples(station, conn, pk, server_pk, chunks)
            outcome = report.copied
        else:
            server_pk, server_checksum, their_station = found
            if their_station != station.station_id:
                report.failed.append((sid, f"the server has a session {sid} from another "
                                           f"station ({their_station})"))  # fmt: skip
                return
            for _ in _md5_rows(chunks, station.chunk_blobs(pk)):
                pass
            checksum = _manifest(session, events, chunks, summary, with_md5=True)
            if checksum == server_checksum:
                station.record(server.library_id, sid, fingerprint, checksum, samples,
                               redacted(server.url))  # fmt: skip
                report.already.append(sid)
                return
            _replace(server, server_pk, session, events)
            outcome = report.updated
        checksum = _manifest(session, events, chunks, summary, with_md5=True)
        theirs = server.manifest_rows(server_pk)
        stored = sum(int(c[1]) for c in theirs[2])
        if stored != samples or _manifest(*theirs, with_md5=True) != checksum:
            why = (
                f"the server holds {stored} samples of {samples}"
                if stored != samples
                else "the server's copy differs from the station's (checksum)"
            )
            if outcome is report.updated and theirs[2] != chunks:
                why = "its samples on the server differ from the station's: not replaced"
            raise _Mismatch(why)
        conn.execute("UPDATE sessions SET checksum = %s WHERE pk = %s", (checksum, server_pk))
    station.record(server.library_id, sid, fingerprint, checksum, samples, redacted(server.url))
    outcome.append(sid)
    report.samples += samples
    status = "" if session[4] == SessionStatus.COMPLETE.value else f" ({session[4]})"
    verb = "sent" if outcome is report.copied else "updated"
    say(f"{verb} {sid}{status}: {samples} samples, checksum verified")


def _one(cur: psycopg.Cursor) -> tuple:
    row = cur.fetchone()
    if row is None:
        raise psycopg.DataError("no row where one was expected")
    return row


class _Mismatch(DeviceError):
    """A session's copy on the server did not verify: its transaction is rolled back."""


def _insert(
    station: Station,
    server: _Server,
    pk: int,
    sid: str,
    session: list,
    events: dict[str, list],
    therapist: str | None,
) -> int:
    conn = server.conn
    placeholders = ", ".join(["%s"] * (len(session) + 3))
    row = conn.execute(
        f"INSERT INTO sessions ({SESSION_COLUMNS}, owner, station, checksum) "
        f"VALUES ({placeholders}) RETURNING pk",
        (*session, server.owner_for(therapist), station.station_id, "pending"),
    ).fetchone()
    assert row is not None
    _copy_events(conn, int(row[0]), events)
    return int(row[0])


@contextlib.contextmanager
def _copy_into(conn: psycopg.Connection, table: str, cols: str, binary: bool = False):
    """``COPY`` rows into ``table`` through a staging table of this connection.

    PostgreSQL refuses ``COPY FROM`` into a table under row-level security for the roles
    it applies to (trainees, trainers), so the rows are copied into a temporary table
    (no row security) and moved with one ``INSERT … SELECT``, which the policies check."""
    stage = f"stage_{table}"
    conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {SCHEMA}.{table}) ON COMMIT DELETE ROWS"
    )
    conn.execute(f"TRUNCATE {stage}")
    fmt = " (FORMAT BINARY)" if binary else ""
    with conn.cursor() as cur:
        with cur.copy(f"COPY {stage} (session_pk, {cols}) FROM STDIN{fmt}") as copy:
            yield copy
        cur.execute(f"INSERT INTO {table} (session_pk, {cols}) SELECT session_pk, {cols} "
                    f"FROM {stage}")  # fmt: skip
        cur.execute(f"TRUNCATE {stage}")


def _copy_events(conn: psycopg.Connection, server_pk: int, events: dict[str, list]) -> None:
    for table, rows in events.items():
        if not rows:
            continue
        cols = EVENTS[table][0]
        if table not in KEYED:
            cols = "seq, " + cols
            rows = [[i, *r] for i, r in enumerate(rows)]
        with _copy_into(conn, table, cols) as copy:
            for r in rows:
                copy.write_row((server_pk, *r))


def _copy_samples(
    station: Station, conn: psycopg.Connection, pk: int, server_pk: int, chunks: list
) -> None:
    """Chunks (binary COPY of the stored bytes, MD5s noted for the checksum) and the
    summary rows."""
    with _copy_into(conn, "chunks", f"seq, {CHUNK_META}, t_s, raw", binary=True) as copy:
        copy.set_types(CHUNK_TYPES)
        for seq, (meta, (t, raw)) in enumerate(
            zip(chunks, _md5_rows(chunks, station.chunk_blobs(pk)), strict=True)
        ):
            copy.write_row((server_pk, seq, *meta[:5], t, raw))
    with _copy_into(conn, "summary", "level, bucket, min_raw, max_raw, n", binary=True) as copy:
        copy.set_types(["int8", "int2", "int8", "int4", "int4", "int4"])
        for row in station.summary_rows(pk):
            copy.write_row((server_pk, *row))


def _replace(server: _Server, server_pk: int, session: list, events: dict[str, list]) -> None:
    """A session changed on its station since it was synced: its row and events are
    replaced (samples are compared afterwards, never replaced)."""
    conn = server.conn
    names = [c.strip() for c in SESSION_COLUMNS.split(",")][1:]
    conn.execute(
        f"UPDATE sessions SET {', '.join(f'{n} = %s' for n in names)}, "
        "synced_at = now() WHERE pk = %s",
        (*session[1:], server_pk),
    )
    for table in EVENTS:
        conn.execute(f"DELETE FROM {table} WHERE session_pk = %s", (server_pk,))
    _copy_events(conn, server_pk, events)


def _prune(
    station: Station, server: _Server, db: Path, report: SyncReport, say: Callable[[str], None]
) -> None:
    """Delete locally the sessions the server holds with the checksum recorded here."""
    rows = station.conn.execute(
        "SELECT session_id, checksum FROM sync_state WHERE library_id = ?", (server.library_id,)
    ).fetchall()
    local = {sid for _, sid, status, _ in station.sessions() if status != "recording"}
    mine = dict(rows)
    with server.on_server("checking what the server holds"):
        held = server.checksums(sorted(set(mine) & local))
    confirmed = [sid for sid in sorted(held) if held[sid] == mine[sid]]
    if not confirmed:
        return
    with SessionStore(db) as store:
        for sid in confirmed:
            store.delete_session(sid)
            station.conn.execute(
                "DELETE FROM sync_state WHERE library_id = ? AND session_id = ?",
                (server.library_id, sid),
            )
            report.pruned.append(sid)
    say(f"removed {len(confirmed)} synced sessions from {db}")


# ------------------------------------------------------------ what the app shows
def library_key(url: str) -> str:
    """Where ``url`` leads, without login or password (``library HOST:PORT/DB`` as libpq
    reads it): the ``sync_meta`` key under which a station keeps the id of the library it
    last found there, so that another spelling of the login still finds it."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return f"library {redacted(url)}"
    dbname = info.get("dbname") or info.get("user") or ""  # libpq's default: the login
    return f"library {info.get('host') or ''}:{info.get('port') or ''}/{dbname}"


class SyncState(StrEnum):
    """A local session as the school library at one URL has it."""

    SYNCED = "synced"  # the server holds it as it is here
    CHANGED = "changed since sync"  # notes, events or calibration changed after its sync
    NOT_SYNCED = "not synced"
    RECORDING = "recording"  # sent once it ends


def session_sync_states(db: Path, url: str) -> dict[str, SyncState]:
    """The sync state of every session of the station library ``db`` with respect to the
    school library at ``url``, as this station last saw it: read from the file alone (no
    server is asked, nothing is written), in one read transaction. A session is synced
    when its fingerprint is the one its ``sync_state`` row records (the same test
    :func:`sync_library` uses to leave it alone). Raises StorageError when the file
    cannot be read."""
    if not db.is_file():
        return {}
    try:
        conn = sqlite3.connect(db, timeout=10.0, isolation_level=None)
    except sqlite3.Error as exc:
        raise StorageError(f"{db}: cannot read the sync state ({exc})") from None
    try:
        conn.execute("BEGIN")  # one snapshot, while a recording may be writing
        sessions = conn.execute(
            "SELECT pk, id, status FROM sessions ORDER BY started_unix, id"
        ).fetchall()
        recorded: dict[str, str] = {}
        has_sync = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
            "AND name IN ('sync_meta', 'sync_state')"
        ).fetchone()[0]
        found = (
            conn.execute(
                "SELECT value FROM sync_meta WHERE key = ?", (library_key(url),)
            ).fetchone()
            if has_sync == 2
            else None
        )
        if found is not None:
            recorded = dict(
                conn.execute(
                    "SELECT session_id, fingerprint FROM sync_state WHERE library_id = ?",
                    (found[0],),
                ).fetchall()
            )
        states: dict[str, SyncState] = {}
        for pk, sid, status in sessions:
            if status == SessionStatus.RECORDING.value:
                states[sid] = SyncState.RECORDING
            elif sid not in recorded:
                states[sid] = SyncState.NOT_SYNCED
            elif _fingerprint(_local_content(conn, pk)) == recorded[sid]:
                states[sid] = SyncState.SYNCED
            else:
                states[sid] = SyncState.CHANGED
        return states
    except sqlite3.Error as exc:
        raise StorageError(f"{db}: cannot read the sync state ({exc})") from None
    finally:
        conn.close()


UNREACHABLE = "server unreachable"


@dataclasses.dataclass(frozen=True, slots=True)
class SyncPass:
    """What one pass of :func:`sync_pass` came to: never an exception.

    ``ok``: every finished session the login may send is on the server, verified.
    ``unreachable``: the server could not be reached or went away (try again later).
    ``text``: one line for a status bar; ``detail``: the reason in full (one line, no
    password). ``report``: what the pass did, as far as it got (None if it never
    connected)."""

    ok: bool
    text: str
    detail: str = ""
    unreachable: bool = False
    report: SyncReport | None = None

    @property
    def sent(self) -> int:
        """Sessions sent or updated by this pass."""
        r = self.report
        return len(r.copied) + len(r.updated) if r is not None else 0


def sync_pass(db: Path, url: str, *, stop: Callable[[], bool] | None = None) -> SyncPass:
    """One sync of ``db`` to ``url`` for a program that goes on whatever happens (the
    app's background sync): every failure (no server, the network gone mid-way, a refused
    login, a session that did not verify, a library that cannot be read) comes back as a
    :class:`SyncPass` saying so. What was committed before a failure stays recorded."""
    if not db.is_file():
        return SyncPass(True, "nothing recorded yet")
    try:
        report = sync_library(db, url, stop=stop)
    except (BadInput, DeviceError, sqlite3.Error, psycopg.Error) as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        if _unreachable(exc):
            return SyncPass(False, UNREACHABLE, detail, unreachable=True)
        return SyncPass(False, "sync failed", detail)
    if report.failed:
        sid, why = report.failed[0]
        more = f" (and {len(report.failed) - 1} more)" if len(report.failed) > 1 else ""
        return SyncPass(False, f"{len(report.failed)} not synced", f"{sid}: {why}{more}",
                        report=report)  # fmt: skip
    sent = len(report.copied) + len(report.updated)
    text = f"sent {sent} session{'s' if sent != 1 else ''}" if sent else "up to date"
    waiting = len(report.recording) + len(report.not_theirs)
    detail = f"{waiting} left for later (recording, or another trainee's)" if waiting else ""
    return SyncPass(not report.stopped, "stopped" if report.stopped else text, detail,
                    report=report)  # fmt: skip


def _unreachable(exc: BaseException) -> bool:
    """Whether a failure means the server could not be reached or went away: the
    connection's own error (psycopg's OperationalError), raised as ours or as it is."""
    lost = (psycopg.OperationalError, psycopg.InterfaceError)
    return isinstance(exc, lost) or (
        isinstance(exc, ServerError) and isinstance(exc.__context__, lost)
    )
