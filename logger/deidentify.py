"""De-identified hand-over: a read-only view of the session library without the people.

A trainer or a researcher needs the forces, points, holds, alerts, gaps and the
calibration source; they do not need to know who was treated, by whom, or on which day.
:class:`DeidentifiedStore` wraps a :class:`~logger.store.SessionStore` and answers the same
reading calls with:

- client, therapist and notes removed (``None``);
- session ids replaced by random ones (``anon-1a2b3c4d``), fixed for the life of the
  view; the audit trail of the real library records which is which;
- every wall-clock date (start, end, reconnects, calibration date) moved by one shift so
  that the anchor session starts at :data:`EPOCH`, 1 January 1985 00:00 UTC, the first
  date an EDF header can hold (EDF's "clipping date", which EDF readers take for an
  anonymised date). Day numbers (:meth:`DeidentifiedStore.day`) count from there: the
  anchor is day 0, a session a week later day 7. Durations and device time (``t_s``) are
  untouched.

Exports, reports and the review window take the view wherever they take a store, so one
code path writes identified and de-identified files.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, overload

import numpy as np

from calibration.models import CalibrationInfo

from .errors import BadInput
from .records import SampleBlock, SessionStatus
from .store import AuditAction, SessionRecord, SessionSummary

EPOCH = datetime(1985, 1, 1, tzinfo=UTC)
ID_PREFIX = "anon-"


class SessionReader(Protocol):
    """What exports, reports and the review window read from a library (a
    :class:`~logger.store.SessionStore` or a :class:`DeidentifiedStore`)."""

    def load_session(self, sid: str) -> SessionRecord: ...

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

    def iter_chunks(
        self, sid: str, t0_s: float | None = None, t1_s: float | None = None
    ) -> Iterator[SampleBlock]: ...

    def load_forces(
        self, sid: str, t0_s: float | None = None, t1_s: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def log_audit(
        self,
        action: AuditAction | str,
        sessions: Sequence[str],
        *,
        deidentified: bool = False,
        **detail: Any,
    ) -> None: ...


class LibraryReader(SessionReader, Protocol):
    """A library a de-identified view can stand on, and what reports read: the reading
    surface plus samples, the overview, a session's calibration, a name for messages and
    ``close`` (a :class:`~logger.store.SessionStore`, the school's
    :class:`~logger.store.postgres.PostgresLibrary`, or a :class:`DeidentifiedStore`)."""

    @property
    def db_path(self) -> Path | str: ...

    def calibration(self, sid: str) -> CalibrationInfo: ...

    def load_samples(
        self, sid: str, t0_s: float | None = None, t1_s: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def load_overview(
        self,
        sid: str,
        t0_s: float | None = None,
        t1_s: float | None = None,
        max_points: int = 2000,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    def close(self) -> None: ...


def _parse(iso: str) -> datetime:
    try:
        dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise BadInput(f"date {iso!r} is not ISO 8601") from None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


class DeidentifiedStore:
    """The view described in the module docstring. ``anchor_sid`` is day 0 (default: the
    library's first session). Ids passed in may be real or the view's own."""

    def __init__(self, store: LibraryReader, anchor_sid: str | None = None) -> None:
        self.store = store
        self.db_path: Path | str = store.db_path
        self._public: dict[str, str] = {}
        self._real: dict[str, str] = {}
        if anchor_sid is not None:
            anchor = store.load_session(anchor_sid).meta.started_at
        else:
            first = store.list_sessions()
            anchor = first[0].started_at if first else EPOCH.isoformat()
        self.shift = _parse(anchor) - EPOCH

    # --------------------------------------------------------------- identities
    def public_id(self, sid: str) -> str:
        """The view's id of real session ``sid`` (made up on first use)."""
        if sid in self._real:
            return sid
        if sid not in self._public:
            public = f"{ID_PREFIX}{secrets.token_hex(4)}"
            self._public[sid], self._real[public] = public, sid
        return self._public[sid]

    def real_id(self, sid: str) -> str:
        return self._real.get(sid, sid)

    @overload
    def shifted(self, iso: str) -> str: ...
    @overload
    def shifted(self, iso: str | None) -> str | None: ...
    def shifted(self, iso: str | None) -> str | None:
        """A wall-clock date moved by the view's shift (None stays None)."""
        if not iso:
            return iso
        return (_parse(iso) - self.shift).astimezone(UTC).isoformat(timespec="milliseconds")

    def day(self, iso: str) -> int:
        """Day number of a date *already shifted* by this view (the anchor's is 0)."""
        return (_parse(iso) - EPOCH).days

    # ------------------------------------------------------------------ reading
    def load_session(self, sid: str) -> SessionRecord:
        rec = self.store.load_session(self.real_id(sid))
        cal: CalibrationInfo = dataclasses.replace(
            rec.meta.calibration, created_at=self.shifted(rec.meta.calibration.created_at)
        )
        meta = dataclasses.replace(
            rec.meta,
            started_at=self.shifted(rec.meta.started_at),
            calibration=cal,
            client=None,
            therapist=None,
            notes=None,
        )
        return dataclasses.replace(
            rec,
            id=self.public_id(rec.id),
            meta=meta,
            ended_at=self.shifted(rec.ended_at),
            reconnects=[(self.shifted(at), t_s) for at, t_s in rec.reconnects],
        )

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
        """The library without names; a filter by client or therapist finds nothing (the
        view has no names to match). ``since``/``until`` are dates of this view (shifted).
        The protocols label stays: it names protocols and drills, never a person."""
        if client is not None or therapist is not None:
            return []
        real = [None if d is None else self._unshifted(d) for d in (since, until)]
        return [
            dataclasses.replace(
                s,
                id=self.public_id(s.id),
                started_at=self.shifted(s.started_at),
                ended_at=self.shifted(s.ended_at),
                client=None,
                therapist=None,
            )
            for s in self.store.list_sessions(
                point=point, since=real[0], until=real[1], status=status, protocol=protocol
            )
        ]

    def _unshifted(self, when: str | datetime) -> datetime:
        """A date of this view back on the library's own calendar."""
        dt = when if isinstance(when, datetime) else _parse(when)
        return (dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)) + self.shift

    def clients(self) -> list[str]:
        return []

    def calibration(self, sid: str) -> CalibrationInfo:
        cal = self.store.calibration(self.real_id(sid))
        return dataclasses.replace(cal, created_at=self.shifted(cal.created_at))

    def iter_chunks(
        self, sid: str, t0_s: float | None = None, t1_s: float | None = None
    ) -> Iterator[SampleBlock]:
        return self.store.iter_chunks(self.real_id(sid), t0_s, t1_s)

    def load_samples(
        self, sid: str, t0_s: float | None = None, t1_s: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.store.load_samples(self.real_id(sid), t0_s, t1_s)

    def load_forces(
        self, sid: str, t0_s: float | None = None, t1_s: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.store.load_forces(self.real_id(sid), t0_s, t1_s)

    def load_overview(
        self,
        sid: str,
        t0_s: float | None = None,
        t1_s: float | None = None,
        max_points: int = 2000,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.store.load_overview(self.real_id(sid), t0_s, t1_s, max_points)

    # ------------------------------------------------------------------- audit
    def log_audit(
        self,
        action: AuditAction | str,
        sessions: Sequence[str],
        *,
        deidentified: bool = True,
        **detail: Any,
    ) -> None:
        """Audit in the real library: real ids, and the ids the recipient sees."""
        real = [self.real_id(s) for s in sessions]
        detail["handed_over_as"] = {r: self.public_id(r) for r in real}
        self.store.log_audit(action, real, deidentified=True, **detail)

    def close(self) -> None:
        self.store.close()


def deidentified(store: LibraryReader, anchor_sid: str) -> DeidentifiedStore:
    """``store`` as a de-identified view anchored on ``anchor_sid`` (a view stays as is)."""
    if isinstance(store, DeidentifiedStore):
        return store
    return DeidentifiedStore(store, anchor_sid)
