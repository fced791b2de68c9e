"""The school library on PostgreSQL: the reading side of :class:`SessionStore`, and the
few edits a reviewer makes (notes, a recalibration, the audit trail).

Sessions arrive here from the stations by ``pressure-logger sync`` (:mod:`.sync`); nothing
records into the server directly, so recording never depends on the network. The schema
(:mod:`.pg_schema`) mirrors the SQLite library, and every method answers exactly as
:class:`~logger.store.SessionStore` does for the same session: the same records, the same
sample arrays (the stored bytes), the same overview from the same min/max summary. What
a login may see is decided by the server's row-level security, not here: a trainee's
``list_sessions`` simply returns its own sessions.

Failures are one line: a server that cannot be reached or goes away is a
:class:`~logger.store.pg_connect.ServerError` (exit 1); a URL, login or schema version that
does not fit is :class:`~logger.errors.BadInput` (exit 2).
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import json
import math
import os
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg

from calibration.models import Calibration, CalibrationInfo, ModelKind, ZeroEvent, ZeroSource

from ..errors import BadInput, StorageError
from ..records import (
    Alert,
    AlertKind,
    DeviceInfo,
    Gap,
    GapCause,
    Hold,
    Mark,
    MarkSource,
    SampleBlock,
    SessionMeta,
    SessionStats,
    SessionStatus,
)
from .library import (
    AuditAction,
    AuditEntry,
    SessionRecord,
    SessionSummary,
    force_timeline,
)
from .pg_connect import ServerError, connect, server_error
from .pg_schema import PG_MIGRATIONS, SCHEMA, stored_version
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
    stored_name,
    stored_stats,
)
from .schema import utc_iso
from .urls import redacted

if TYPE_CHECKING:
    from calibration.tare import ForceTimeline

CHUNKS_PER_QUERY = 8  # iter_chunks reads this many chunks per round trip


def check_version(conn: psycopg.Connection, url: str) -> int:
    """The library's schema version; BadInput unless it is the one this program knows."""
    want = len(PG_MIGRATIONS)
    try:
        version = stored_version(conn)
    except psycopg.errors.InsufficientPrivilege:
        raise BadInput(
            f"{redacted(url)}: role {conn.info.user!r} may not read the school library "
            "(make it a member of pl_trainee, pl_trainer or pl_admin)"
        ) from None
    if version is None:
        raise BadInput(
            f"{redacted(url)}: no school library in this database "
            "(run `pressure-logger server init` first)"
        )
    if version > want:
        raise BadInput(
            f"{redacted(url)}: the school library is at schema version {version}, newer "
            f"than this program understands ({want}): update pressure-logger"
        )
    if version < want:
        raise BadInput(
            f"{redacted(url)}: the school library is at schema version {version}, this "
            f"program needs {want}: run `pressure-logger server init` to upgrade it"
        )
    return version


@dataclasses.dataclass(frozen=True, slots=True)
class ServerCalibration:
    """One calibration as the school library keeps it (ids are the server's own)."""

    id: int
    device_uid: str
    created_at: str
    calibration: Calibration  # source "stored:<server id>"
    station: str


class PostgresLibrary(SampleReading, ProtocolReading):
    """The school library at ``url`` (see the module docstring). Thread-safe: one
    connection (autocommit; writes in explicit transactions) guarded by a lock."""

    read_only = False
    read_only_reason = ""

    def __init__(self, url: str) -> None:
        self.url = url
        self.db_path = redacted(url)  # what messages and the de-identified view name
        self._lock = threading.RLock()
        self._pk_cache: dict[str, int] = {}
        self._conn = connect(url)
        try:
            with self._server("opening the school library"):
                self._conn.execute(f"SET search_path TO {SCHEMA}")
                self._conn.execute("SET jit = off")  # short queries: compiling costs more
                self.schema_version = check_version(self._conn, url)
        except BaseException:
            self._conn.close()
            raise

    # ----------------------------------------------------------------- plumbing
    @contextlib.contextmanager
    def _server(self, doing: str) -> Iterator[None]:
        """Server failures inside become one :class:`ServerError` line."""
        try:
            yield
        except psycopg.Error as exc:
            raise server_error(self.url, exc, doing) from None

    @contextlib.contextmanager
    def _decoding(self, what: str) -> Iterator[None]:
        """Server failures and damaged content read inside become one line naming
        ``what`` (as SessionStore does for its file)."""
        try:
            with self._server(what):
                yield
        except (BadInput, ServerError):
            raise
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            raise StorageError(f"{self.db_path}: {what}: damaged ({exc})") from None

    def _rows(self, query: str, params: Sequence[Any] = (), *, binary: bool = False) -> list:
        with self._lock:
            cur = self._conn.cursor(binary=binary)
            return cur.execute(query, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> PostgresLibrary:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pk(self, sid: str) -> int:
        pk = self._pk_cache.get(sid)
        if pk is None:
            with self._decoding("table sessions"):
                rows = self._rows("SELECT pk FROM sessions WHERE id = %s", (sid,))
            if not rows:  # unknown, or another trainee's (row security hides it)
                raise BadInput(f"unknown session {sid!r}")
            pk = self._pk_cache[sid] = int(rows[0][0])
        return pk

    def has_session(self, sid: str) -> bool:
        with self._decoding("table sessions"):
            return bool(self._rows("SELECT 1 FROM sessions WHERE id = %s", (sid,)))

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
        """Sessions matching every given filter, oldest first (as SessionStore's)."""
        where: list[str] = []
        params: list[Any] = []
        for column, value in (("therapist", therapist), ("client", client)):
            if value is not None:
                where.append(f"s.{column} = %s")
                params.append(value)
        if point is not None:
            where.append(
                "(EXISTS (SELECT 1 FROM points p WHERE p.session_pk = s.pk AND p.name = %s) "
                "OR EXISTS (SELECT 1 FROM holds h WHERE h.session_pk = s.pk AND h.point = %s))"
            )
            params += [point, point]
        for op, bound, what in ((">=", since, "since"), ("<=", until, "until")):
            if bound is not None:
                where.append(f"s.started_unix {op} %s")
                params.append(parse_time(bound, what).timestamp())
        if status is not None:
            where.append("s.status = %s")
            params.append(SessionStatus(status).value)
        kind = protocol_filter(protocol, where, params, "%s")
        filters = " WHERE " + " AND ".join(where) if where else ""
        out = self._summaries(filters + " ORDER BY s.started_unix, s.id", params)
        sql = protocol_rows_query("(p.data::json -> '{}')::text", filters, "p.seq")
        with self._decoding("table protocols"):
            try:
                rows = self._rows(sql, params)
            except psycopg.errors.DataError:  # JSON the server cannot read (a \u0000)
                whole = self._rows(protocol_rows_query(None, filters, "p.seq"), params)
                rows = [(sid, k, stored_name(k, data)) for sid, k, data in whole]
            return label_sessions(out, rows, kind)

    def _summaries(self, tail: str, params: list[Any]) -> list[SessionSummary]:
        """The sessions the filters and order ``tail`` select, without their protocols."""
        try:  # the server reads the JSON columns: 10,000 rows without a json.loads each
            with self._lock, self._server("table sessions"):
                rows = self._conn.execute(_SUMMARY_QUERY + tail, params).fetchall()
            return [
                SessionSummary(
                    sid,
                    started,
                    SessionStatus(st),
                    cl,
                    th,
                    duration_s(n, last_t, rate or 0.0) if dur is None else dur,
                    int(nh),
                    int(na),
                    int(n),
                    ended,
                    uid,
                    int(lost),
                    int(unsaved),
                )  # fmt: skip
                for (
                    sid,
                    started,
                    st,
                    cl,
                    th,
                    ended,
                    uid,
                    n,
                    dur,
                    last_t,
                    rate,
                    lost,
                    unsaved,
                    nh,
                    na,
                ) in rows  # fmt: skip
            ]
        except (ServerError, ValueError, TypeError, KeyError):
            pass  # damaged content somewhere: decoded row by row below, naming the session
        query = (
            "SELECT s.id, s.started_at, s.status, s.client, s.therapist, s.stats, s.ended_at, "
            "s.device, s.samples, s.last_t_s, "
            "(SELECT count(*) FROM holds h WHERE h.session_pk = s.pk), "
            "(SELECT count(*) FROM alerts a WHERE a.session_pk = s.pk) FROM sessions s"
        )
        with self._decoding("table sessions"):
            rows = self._rows(query + tail, params)
        out = []
        for sid, started, st, cl, th, stats_json, ended, dev, samples, last_t, nh, na in rows:
            with self._decoding(f"session {sid}"):
                device = json_obj(dev, "device")
                stats = stored_stats(stats_json) or _so_far(samples, last_t, device)
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
                        device_uid=device.get("uid"),
                        lost_samples=stats.lost_samples,
                        unsaved_samples=stats.unsaved_samples,
                    )
                )
        return out

    def load_session(self, sid: str) -> SessionRecord:
        """Metadata and events of a session; BadInput for an id this login cannot see."""
        pk = self._pk(sid)
        with self._decoding(f"session {sid}"):
            return self._read_session(sid, pk)

    def _read_session(self, sid: str, pk: int) -> SessionRecord:
        with self._lock:
            row = self._rows(
                "SELECT started_at, ended_at, status, client, therapist, notes, device, "
                "calibration, config, stats, last_t_s, samples FROM sessions WHERE pk = %s",
                (pk,),
            )[0]
            points = [
                point_from_dict(json_obj(d, "data"))
                for (d,) in self._rows(
                    "SELECT data FROM points WHERE session_pk = %s ORDER BY idx", (pk,)
                )
            ]
            marks = [
                Mark(t_s=t, point_index=pi, source=MarkSource(src))
                for t, pi, src in self._rows(
                    "SELECT t_s, point_index, source FROM marks WHERE session_pk = %s ORDER BY seq",
                    (pk,),
                )
            ]
            holds = [
                from_dict(Hold, json_obj(d, "data"))
                for (d,) in self._rows(
                    "SELECT data FROM holds WHERE session_pk = %s ORDER BY idx", (pk,)
                )
            ]
            alerts = [
                Alert(t_s=t, kind=AlertKind(k), value=v, point_index=pi, hold_index=hi)
                for t, k, v, pi, hi in self._rows(
                    "SELECT t_s, kind, value, point_index, hold_index FROM alerts "
                    "WHERE session_pk = %s ORDER BY seq",
                    (pk,),
                )
            ]
            gaps = [
                Gap(start_s=a, end_s=b, lost_samples=int(n), cause=GapCause(cause))
                for a, b, n, cause in self._rows(
                    "SELECT start_s, end_s, lost_samples, cause FROM gaps "
                    "WHERE session_pk = %s ORDER BY seq",
                    (pk,),
                )
            ]
            reconnects = [
                (at, t)
                for at, t in self._rows(
                    "SELECT at, t_s FROM reconnects WHERE session_pk = %s ORDER BY seq", (pk,)
                )
            ]
            zeros = self._zeros(pk)
            signals, ratings, protocols = self._protocol_events(sid)
        started, ended, status, client, therapist, notes = row[:6]
        device_json = json_obj(row[6], "device")
        stats = stored_stats(row[9]) or _so_far(row[11], row[10], device_json, gaps)
        meta = SessionMeta(
            started_at=started,
            device=from_dict(DeviceInfo, device_json),
            calibration=from_dict(CalibrationInfo, json_obj(row[7], "calibration")),
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
        with self._decoding(f"session {sid}: table {table}"):
            return self._rows(
                f"SELECT {columns} FROM {table} WHERE session_pk = %s ORDER BY seq", (pk,)
            )

    def _zeros(self, pk: int) -> list[ZeroEvent]:
        rows = self._rows(
            "SELECT t_s, zero_counts, source FROM zeros WHERE session_pk = %s ORDER BY seq",
            (pk,),
        )
        return [ZeroEvent(t, zc, ZeroSource(src)) for t, zc, src in rows]

    def calibration(self, sid: str) -> CalibrationInfo:
        pk = self._pk(sid)
        with self._decoding(f"session {sid}"):
            (text,) = self._rows("SELECT calibration FROM sessions WHERE pk = %s", (pk,))[0]
            return from_dict(CalibrationInfo, json_obj(text, "calibration"))

    def force_timeline(self, sid: str) -> ForceTimeline:
        """The session's calibration and zero events: its one raw → newton conversion."""
        cal = self.calibration(sid)
        with self._decoding(f"session {sid}"):
            return force_timeline(cal, self._zeros(self._pk(sid)))

    def iter_chunks(
        self, sid: str, t0_s: float | None = None, t1_s: float | None = None
    ) -> Iterator[SampleBlock]:
        """Stored chunks overlapping [t0_s, t1_s] in order, trimmed to the range (a few
        chunks per round trip: bounded memory for exports of any length)."""
        pk = self._pk(sid)
        lo = -math.inf if t0_s is None else float(t0_s)
        hi = math.inf if t1_s is None else float(t1_s)
        last = -1
        while True:
            with self._decoding(f"session {sid}"):
                rows = self._rows(
                    "SELECT seq, first_index, n, channels, t_s, raw FROM chunks "
                    "WHERE session_pk = %s AND t1_s >= %s AND t0_s <= %s AND seq > %s "
                    f"ORDER BY seq LIMIT {CHUNKS_PER_QUERY}",
                    (pk, lo, hi, last),
                    binary=True,
                )
            if not rows:
                return
            for seq, first, n, channels, tb, rb in rows:
                last = seq
                with self._decoding(f"session {sid}: chunk {seq}"):
                    block = chunk_block(first, n, channels, tb, rb, lo, hi)
                if block is not None:
                    yield block

    def _channels(self, sid: str) -> int:
        return self.load_session(sid).meta.device.channels or 1

    def _extent(self, sid: str) -> tuple[int, float | None, float]:
        pk = self._pk(sid)
        with self._decoding(f"session {sid}"):
            samples, last_t, dev = self._rows(
                "SELECT samples, last_t_s, device FROM sessions WHERE pk = %s", (pk,)
            )[0]
            rate_hz = float(json_obj(dev, "device").get("rate_hz") or 0.0)
        return int(samples or 0), last_t, rate_hz

    def _summary(
        self, sid: str, level: int, bucket_lo: int, bucket_hi: int
    ) -> Sequence[Sequence[float]]:
        """The summary levels copied from the station with the samples."""
        pk = self._pk(sid)
        with self._decoding(f"session {sid}"):
            return self._rows(
                "SELECT bucket, min_raw, max_raw FROM summary WHERE session_pk = %s "
                "AND level = %s AND bucket BETWEEN %s AND %s ORDER BY bucket",
                (pk, level, bucket_lo, bucket_hi),
                binary=True,
            )

    def clients(self) -> list[str]:
        """Every client code this login may see, the most recently recorded first."""
        with self._decoding("table sessions"):
            rows = self._rows(
                "SELECT client FROM sessions WHERE client IS NOT NULL AND client <> '' "
                "GROUP BY client ORDER BY max(started_unix) DESC, client"
            )
        return [c for (c,) in rows]

    # ----------------------------------------------------------- calibrations
    def stored_calibration(self, calibration_id: int) -> ServerCalibration:
        """One calibration by its server id (``recalibrate --calibration ID``)."""
        rows = self._calibrations("id = %s", (int(calibration_id),))
        if not rows:
            raise BadInput(f"calibration id {calibration_id}: not found in {self.db_path}")
        return rows[0]

    def latest_calibration(self, uid: str) -> ServerCalibration | None:
        """The newest calibration of device ``uid`` any station synced, or None."""
        rows = self._calibrations("device_uid = %s", (uid,))
        return rows[0] if rows else None

    def _calibrations(self, where: str, params: Sequence[Any]) -> list[ServerCalibration]:
        with self._decoding("table calibrations"):
            rows = self._rows(
                "SELECT id, device_uid, created_at, model, coefficients, station "
                f"FROM calibrations WHERE {where} ORDER BY created_at DESC, id DESC",
                params,
            )
            return [
                ServerCalibration(
                    int(cid),
                    uid,
                    created,
                    Calibration(
                        ModelKind(model), tuple(json.loads(coeffs)), f"stored:{cid}", created
                    ),
                    station,
                )
                for cid, uid, created, model, coeffs, station in rows
            ]

    # ------------------------------------------------------------------ edits
    @contextlib.contextmanager
    def _tx(self, doing: str) -> Iterator[psycopg.Connection]:
        with self._lock, self._server(doing), self._conn.transaction():
            yield self._conn

    def set_notes(self, sid: str, notes: str | None) -> None:
        """Replace the session's notes (the trainer's or the owner's edit in review)."""
        pk = self._pk(sid)
        with self._tx(f"session {sid}: saving notes") as c:
            c.execute("UPDATE sessions SET notes = %s WHERE pk = %s", (notes or None, pk))

    def apply_recalibration(
        self, sid: str, cal: CalibrationInfo, holds: Sequence[Hold], alerts: Sequence[Alert]
    ) -> None:
        """The session's calibration, holds and alerts replaced in one transaction."""
        check_calibration(cal)
        pk = self._pk(sid)
        with self._tx(f"session {sid}: recalibrating") as c:
            c.execute(
                "UPDATE sessions SET calibration = %s WHERE pk = %s",
                (json.dumps(dataclasses.asdict(cal)), pk),
            )
            c.execute("DELETE FROM holds WHERE session_pk = %s", (pk,))
            c.execute("DELETE FROM alerts WHERE session_pk = %s", (pk,))
            with c.cursor() as cur:
                cur.executemany(
                    "INSERT INTO holds (session_pk, idx, point_index, point, start_s, end_s, "
                    "data) VALUES (%s, %s, %s, %s, %s, %s, %s)",
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
                    ],  # fmt: skip
                )
                cur.executemany(
                    "INSERT INTO alerts (session_pk, seq, t_s, kind, value, point_index, "
                    "hold_index) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [
                        (
                            pk,
                            i,
                            float(a.t_s),
                            AlertKind(a.kind).value,
                            float(a.value),
                            a.point_index,
                            a.hold_index,
                        )
                        for i, a in enumerate(sorted(alerts, key=lambda a: a.t_s))
                    ],  # fmt: skip
                )

    # ------------------------------------------------------------------ audit
    def log_audit(
        self,
        action: AuditAction | str,
        sessions: Sequence[str],
        *,
        deidentified: bool = False,
        **detail: Any,
    ) -> None:
        """A line in the school library's audit trail (who: the OS user and the login)."""
        try:
            user = getpass.getuser()
        except (OSError, KeyError):
            user = str(os.getuid()) if hasattr(os, "getuid") else "?"
        with self._tx("writing the audit trail") as c:
            c.execute(
                'INSERT INTO audit (at, "user", action, sessions, deidentified, detail) '
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (utc_iso(), user, AuditAction(action).value, json.dumps(list(sessions)),
                 deidentified, json.dumps(detail, default=str)),
            )  # fmt: skip

    def audit(self) -> list[AuditEntry]:
        """The audit trail, oldest first (trainers and admins; a trainee sees none)."""
        with self._decoding("table audit"):
            rows = self._rows(
                'SELECT at, "user", action, sessions, deidentified, detail FROM audit ORDER BY pk'
            )
            return [
                AuditEntry(at, user, AuditAction(a), json.loads(s), bool(d), json.loads(det))
                for at, user, a, s, d, det in rows
            ]


_STATUS = {s.value: s for s in SessionStatus}
# list_sessions: SessionSummary's fields straight from the server (the stored stats of a
# finished session; a session stored without stats counts its samples, as _so_far does)
_SUMMARY_QUERY = """
SELECT s.id, s.started_at, s.status, s.client, s.therapist, s.ended_at, d.uid,
    CASE WHEN s.stats IS NULL THEN s.samples ELSE coalesce(j.samples, 0) END,
    CASE WHEN s.stats IS NOT NULL THEN coalesce(j.duration_s, 0) END, s.last_t_s, d.rate_hz,
    CASE WHEN s.stats IS NOT NULL THEN coalesce(j.lost_samples, 0)
         ELSE (SELECT coalesce(sum(lost_samples), 0) FROM gaps g WHERE g.session_pk = s.pk) END,
    coalesce(j.unsaved_samples, 0),
    (SELECT count(*) FROM holds h WHERE h.session_pk = s.pk),
    (SELECT count(*) FROM alerts a WHERE a.session_pk = s.pk)
FROM sessions s
LEFT JOIN LATERAL json_to_record(s.stats::json)
    AS j(samples bigint, duration_s float8, lost_samples bigint, unsaved_samples bigint) ON true
CROSS JOIN LATERAL json_to_record(s.device::json) AS d(uid text, rate_hz float8)"""


def _so_far(
    samples: int, last_t_s: float | None, device: dict, gaps: Sequence[Gap] = ()
) -> SessionStats:
    """Stats of a session stored without them (what SessionStore computes for a recording
    in progress; a synced session normally carries its own)."""
    rate_hz = float(device.get("rate_hz") or 0.0)
    return SessionStats(
        samples=int(samples),
        duration_s=duration_s(samples, last_t_s, rate_hz),
        rate_hz=rate_hz,
        lost_samples=sum(g.lost_samples for g in gaps),
        crc_errors=sum(1 for g in gaps if g.cause == GapCause.CRC),
    )
