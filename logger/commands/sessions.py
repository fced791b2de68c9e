"""`pressure-logger sessions`: list the session library as a table or as JSON.

Listing never creates a library: a missing ``--db`` file is simply an empty library.
Opening an existing one marks sessions abandoned by a dead recorder ``interrupted`` (when
it can be written: a library on read-only media is listed as it is). LOST counts samples
the device link lost; UNSAVED those received but not stored (a storage failure);
PROTOCOL what the session ran (``PPT pre/post, drill basic, guided``).
``--audit`` lists the audit trail instead: every export, report and erasure.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from ..cli import add_db_argument
from ..db import open_library
from ..store import AuditEntry, SessionSummary
from ..store.open import describe, library_exists
from ..store.rows import PROTOCOL_FILTERS

COLUMNS = (
    "ID",
    "STARTED (UTC)",
    "STATUS",
    "CLIENT",
    "THERAPIST",
    "DURATION",
    "HOLDS",
    "ALERTS",
    "SAMPLES",
    "LOST",
    "UNSAVED",
    "PROTOCOL",
)
RIGHT = {"DURATION", "HOLDS", "ALERTS", "SAMPLES", "LOST", "UNSAVED"}
AUDIT_COLUMNS = ("AT (UTC)", "USER", "ACTION", "DE-IDENTIFIED", "SESSIONS", "DETAIL")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sessions", help="list recorded sessions")
    add_db_argument(p, url=True)
    p.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    p.add_argument("--therapist", help="only sessions by this therapist/trainee")
    p.add_argument("--client", help="only sessions of this client")
    p.add_argument("--point", help="only sessions that include this point")
    p.add_argument("--since", metavar="DATE", help="started at or after (ISO 8601, UTC)")
    p.add_argument("--until", metavar="DATE", help="started at or before (ISO 8601, UTC)")
    p.add_argument(
        "--protocol", choices=tuple(PROTOCOL_FILTERS),
        help="only sessions that ran this protocol (a PPT round, a drill, a guided profile)",
    )  # fmt: skip
    p.add_argument(
        "--audit", action="store_true",
        help="list the audit trail (exports, reports, erasures) instead of the sessions",
    )  # fmt: skip
    p.set_defaults(run=run)


def format_duration(seconds: float) -> str:
    total = int(round(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}"


def _table(columns: tuple[str, ...], cells: Sequence[tuple[str, ...]], right: set[str]) -> str:
    widths = [max(len(c) for c in col) for col in zip(columns, *cells, strict=True)]
    lines = []
    for row in (columns, *cells):
        parts = [
            cell.rjust(w) if name in right else cell.ljust(w)
            for name, cell, w in zip(columns, row, widths, strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def _detail(value: object) -> str:
    """``handed_over_as`` maps real ids to the ids the recipient saw: show the latter."""
    return ",".join(map(str, value.values())) if isinstance(value, dict) else str(value)


def format_audit(entries: list[AuditEntry]) -> str:
    cells = [
        (
            _utc(e.at),
            e.user,
            e.action.value,
            "yes" if e.deidentified else "no",
            ", ".join(e.sessions),
            " ".join(f"{k}={_detail(v)}" for k, v in e.detail.items() if v is not None),
        )
        for e in entries
    ]
    return _table(AUDIT_COLUMNS, cells, set())


def format_table(rows: list[SessionSummary]) -> str:
    cells = [
        (
            r.id,
            _utc(r.started_at),
            r.status.value,
            r.client or "-",
            r.therapist or "-",
            format_duration(r.duration_s),
            str(r.holds),
            str(r.alerts),
            str(r.samples),
            str(r.lost_samples),
            str(r.unsaved_samples),
            r.protocols or "-",
        )
        for r in rows
    ]
    return _table(COLUMNS, cells, RIGHT)


def _utc(iso: str) -> str:
    """Start time as ``YYYY-MM-DD HH:MM:SS`` in UTC (the zone session ids use)."""
    try:
        dt = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def run(args: argparse.Namespace) -> int:
    if args.audit:
        return run_audit(args)
    db = args.db
    rows: list[SessionSummary] = []
    if library_exists(db):
        with open_library(db) as store:
            rows = store.list_sessions(
                therapist=args.therapist,
                client=args.client,
                point=args.point,
                since=args.since,
                until=args.until,
                protocol=args.protocol,
            )
    return _print(rows, args.json, format_table, f"no sessions in {describe(db)}")


def run_audit(args: argparse.Namespace) -> int:
    entries: list[AuditEntry] = []
    if library_exists(args.db):
        with open_library(args.db) as store:
            entries = store.audit()
    return _print(entries, args.json, format_audit, f"no audit entries in {describe(args.db)}")


def _print(rows: list, as_json: bool, table: Callable[[list], str], empty: str) -> int:
    if as_json:
        print(json.dumps([dataclasses.asdict(r) for r in rows], indent=2))
    else:
        print(table(rows) if rows else empty)
    return 0
