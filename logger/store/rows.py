"""Stored rows back into records: the decoding both back ends share (SQLite's
:mod:`library` and PostgreSQL's :mod:`postgres` keep the same JSON columns)."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import UTC, datetime
from typing import Any

import numpy as np

from calibration.models import CalibrationInfo

from ..errors import BadInput
from ..records import Point, SampleBlock, SessionStats
from .schema import RAW_DTYPE, T_DTYPE


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
