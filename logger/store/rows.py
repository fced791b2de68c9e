"""Stored rows back into records: the decoding both back ends share (SQLite's
:mod:`library` and PostgreSQL's :mod:`postgres` keep the same JSON columns)."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import numpy as np

from calibration.models import CalibrationInfo

from ..errors import BadInput
from ..records import Point, ProtocolKind, SampleBlock, SessionStats
from .schema import RAW_DTYPE, T_DTYPE


class Labelled(Protocol):
    """A session summary as :func:`label_sessions` sees it (both back ends' summaries)."""

    id: str
    protocols: str


L = TypeVar("L", bound=Labelled)


def check_calibration(cal: CalibrationInfo) -> None:
    from calibration.models import UNCALIBRATED

    linear = cal.model == "linear" or not cal.coefficients
    none = cal.counts_per_n == 0 and cal.source == UNCALIBRATED  # a fresh board: raw counts
    if linear and not none and (not math.isfinite(cal.counts_per_n) or cal.counts_per_n == 0):
        raise BadInput(f"calibration counts_per_n={cal.counts_per_n!r} is not usable")
    if not math.isfinite(cal.offset_counts):
        raise BadInput(f"calibration offset_counts={cal.offset_counts!r} is not finite")


def duration_s(samples: int, last_t_s: float | None, rate_hz: float) -> float:
    """Recorded length: the last sample's time plus one sample period (as ``record`` counts)."""
    if not samples or last_t_s is None:
        return 0.0
    return round(float(last_t_s) + (1.0 / rate_hz if rate_hz > 0 else 0.0), 6)


def from_dict(cls: type, data: dict) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def json_obj(text: str | None, column: str) -> dict:
    """A JSON object column; anything else is damage (ValueError naming the column)."""
    try:
        value = json.loads(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = None
    if not isinstance(value, dict):
        raise ValueError(f"column {column} is not a JSON object")
    return value


def parse_time(value: str | datetime, what: str) -> datetime:
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


def point_from_dict(d: dict) -> Point:
    p = from_dict(Point, d)
    if p.target_n is not None:
        p.target_n = (float(p.target_n[0]), float(p.target_n[1]))
    return p


def stored_stats(stats_json: str | None) -> SessionStats | None:
    """The stats a finished session was closed with (None while recording)."""
    return from_dict(SessionStats, json_obj(stats_json, "stats")) if stats_json else None


def chunk_block(
    first_index: int,
    n: int,
    channels: int,
    t_bytes: bytes | memoryview,
    raw_bytes: bytes | memoryview,
    lo: float,
    hi: float,
) -> SampleBlock | None:
    """A stored chunk's samples within ``[lo, hi]`` (None: none); ValueError on damage."""
    t = np.frombuffer(t_bytes, dtype=T_DTYPE).astype(np.float64)
    raw = np.frombuffer(raw_bytes, dtype=RAW_DTYPE).astype(np.int32).reshape(n, channels)
    if t.size != n:
        raise ValueError(f"{t.size} times for {n} samples")
    keep = (t >= lo) & (t <= hi)
    if not keep.all():
        idx = np.flatnonzero(keep)
        if idx.size == 0:
            return None
        first_index += int(idx[0])
        t, raw = t[keep], raw[keep]
    return SampleBlock(first_index=int(first_index), t_s=t, raw=raw)


def joined(blocks: list[SampleBlock], channels: int) -> tuple[np.ndarray, np.ndarray]:
    """``(t_s, raw)`` of consecutive blocks: float64 (n,), int32 (n, channels)."""
    if not blocks:
        return np.zeros(0), np.zeros((0, channels), dtype=np.int32)
    return np.concatenate([b.t_s for b in blocks]), np.concatenate([b.raw for b in blocks])


# ``list_sessions(protocol=…)``: the filter's words, and each kind's word in a label
PROTOCOL_FILTERS = {
    "ppt": ProtocolKind.ROUND,
    "drill": ProtocolKind.DRILL,
    "guided": ProtocolKind.PROFILE,
}
_KINDS = {k.value: k for k in ProtocolKind}
_LABEL_WORDS = {
    ProtocolKind.ROUND: "PPT",
    ProtocolKind.DRILL: "drill",
    ProtocolKind.PROFILE: "guided",
}


def protocol_rows_query(json_value: str | None, filters: str, order: str) -> str:
    """The query of a listing's protocol rows ``(session id, kind, name)``, a session's in
    time order. ``json_value`` is the back end's expression of a key's value as JSON text
    (``{}`` for the key), ``filters`` the listing's WHERE clause on ``sessions s``,
    ``order`` its order of a session's ``protocols p`` rows. The name is the JSON of the
    round's label or the drill's (profile's) name (``null`` without one); NULL for a drill
    or profile stopped (data ``{}``). As JSON, the two back ends' answers decode the same.
    ``json_value`` None: the whole data instead, for :func:`stored_name` to read."""
    label, name = (json_value or "").format("label"), (json_value or "").format("name")
    column = (
        "p.data"
        if json_value is None
        else f"CASE WHEN p.data = '{{}}' THEN NULL WHEN p.kind = 'round' "
        f"THEN coalesce({label}, 'null') ELSE coalesce({name}, 'null') END"
    )
    return (
        f"SELECT s.id, p.kind, {column} FROM protocols p JOIN sessions s "
        f"ON s.pk = p.session_pk{filters} ORDER BY p.session_pk, {order}"
    )


def stored_name(kind: str, data: str) -> str | None:
    """The name column of :func:`protocol_rows_query` from a row's whole ``data``."""
    if data == "{}":
        return None
    return json.dumps(json_obj(data, "data").get("label" if kind == "round" else "name"))


def protocol_filter(
    value: str | None, where: list[str], params: list[Any], mark: str
) -> ProtocolKind | None:
    """The protocol kind ``list_sessions(protocol=value)`` keeps (None: every session),
    its clause on ``sessions s`` added to ``where`` (``mark``: the back end's placeholder):
    the sessions with a row of that kind, which :func:`label_sessions` then narrows to
    those that started it."""
    if value is None:
        return None
    kind = PROTOCOL_FILTERS.get(value.lower())
    if kind is None:
        raise BadInput(f"protocol={value!r} is not one of {', '.join(PROTOCOL_FILTERS)}")
    where.append(
        f"EXISTS (SELECT 1 FROM protocols p WHERE p.session_pk = s.pk AND p.kind = {mark})"
    )
    params.append(kind.value)
    return kind


def protocol_names(rows: Iterable[tuple[str, str | None]]) -> dict[ProtocolKind, list[str]]:
    """The protocols a session ran, from its ``(kind, name)`` rows in time order: each
    kind that started (a round with a label; a drill or profile not stopped) in order of
    its first start, with its distinct names (round labels, drill names) in order."""
    names: dict[ProtocolKind, list[str]] = {}
    for kind, name in rows:
        k = _KINDS.get(kind) or ProtocolKind(kind)  # (the lookup: 10,000 sessions listed)
        if name is None or (k is ProtocolKind.ROUND and not name):
            continue  # a stop, or the end of PPT: starts nothing
        seen = names.setdefault(k, [])
        if name and (name := str(name)) not in seen:
            seen.append(name)
    return names


def protocols_label(names: dict[ProtocolKind, list[str]]) -> str:
    """``"PPT pre/post, drill basic, guided"``: :func:`protocol_names` as a short label."""
    return ", ".join(f"{_LABEL_WORDS[k]} {'/'.join(v)}".rstrip() for k, v in names.items())


def _name(name_json: str | None) -> str | None:
    """A protocol row's name: None for a stop; "" when it has none, or not as text; up to
    a NUL character (where SQLite's JSON functions end a string)."""
    if name_json is None:
        return None
    if len(name_json) > 1 and name_json[0] == name_json[-1] == '"' and "\\" not in name_json:
        return name_json[1:-1]  # a string without escapes (json.loads: 20 ms a 10,000 rows)
    name = json.loads(name_json)
    return name.partition("\x00")[0] if isinstance(name, str) else ""  # as SQLite's JSON


def label_sessions(
    summaries: list[L],
    rows: Iterable[Sequence[Any]],
    only: ProtocolKind | None,
) -> list[L]:
    """``summaries`` with their protocols label set from the ``(session id, kind, name)``
    rows of :func:`protocol_rows_query` (a name that is not text is no name); only those
    that ran ``only`` when it is given."""
    by_id: dict[str, list[tuple[str, str | None]]] = {}
    for sid, kind, name_json in rows:
        by_id.setdefault(sid, []).append((kind, _name(name_json)))
    out = []
    for s in summaries:
        ran = by_id.get(s.id)
        names = protocol_names(ran) if ran else {}  # most sessions: none, nothing to do
        s.protocols = protocols_label(names) if names else ""
        if only is None or only in names:
            out.append(s)
    return out
