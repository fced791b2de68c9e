"""Station libraries for the school-library tests: sessions with every kind of row."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from calibration.models import CalibrationInfo, ZeroEvent, ZeroSource
from logger.records import (
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
    SessionMeta,
    SessionStatus,
    Signal,
)
from logger.store import MAX_CHUNK_SAMPLES, SessionStore
from logger.store.library import WriteBatch

RATE_HZ = 1000.0


def write_session(
    store: SessionStore,
    *,
    seconds: float = 20.0,
    therapist: str | None = "alice",
    client: str | None = "C-001",
    started_at: str = "2026-11-27T14:05:12+00:00",
    status: SessionStatus | None = SessionStatus.COMPLETE,
    uid: str = "SIM-0001",
    seed: int = 0,
) -> str:
    """A session of ``seconds`` at 1 kHz with points, marks, holds, alerts, a gap, a
    reconnect, a zero, a PPT round with a signal and ratings; ``status`` None leaves it
    recording."""
    meta = SessionMeta(
        started_at=started_at,
        device=DeviceInfo(uid, "1.2.0", "1.0", RATE_HZ, 1, adc="sim"),
        calibration=CalibrationInfo(4000.0, 120000.0, "factory", "2026-01-01T00:00:00+00:00"),
        config={"units": "N", "holds": {"onset_n": 5.0}, "limits": {"warn_n": 40.0}},
        client=client,
        therapist=therapist,
        notes="left side tender",
        points=[Point(0, "Upper trapezius L", 35.0, 50.0, (25.0, 35.0), 60.0), Point(1, "B")],
    )
    sid = store.create_session(meta)
    n = int(seconds * RATE_HZ)
    t = np.arange(n) / RATE_HZ
    rng = np.random.default_rng(seed)
    raw = (120000 + 4000 * 15.0 * (1 - np.cos(t * 0.5)) + rng.normal(0, 50, n)).astype(np.int32)
    cut = n // 2  # a gap of 100 lost samples in the middle
    for lo, hi, first in ((0, cut, 0), (cut, n, cut + 100)):
        for i in range(lo, hi, MAX_CHUNK_SAMPLES):
            j = min(hi, i + MAX_CHUNK_SAMPLES)
            store.append_samples(sid, first + i - lo, t[i:j] + (first - lo) / RATE_HZ,
                                 raw[i:j].reshape(-1, 1))  # fmt: skip
    half = seconds / 2
    store.add_marks(sid, [Mark(1.0, 0, MarkSource.DEVICE), Mark(half + 1, 1, MarkSource.KEYBOARD)])
    store.add_holds(sid, [_hold(0, 2.0), _hold(1, half + 2)])
    store.add_alerts(sid, [Alert(3.0, AlertKind.WARN, 40.0, 0, 0)])
    store.add_gaps(sid, [Gap(half, half + 0.1, 100, GapCause.DISCONNECT)])
    store.add_reconnect(sid, "2026-11-27T14:05:40+00:00", half + 0.1)
    store.add_zeros(sid, [ZeroEvent(half / 2, 120400.0, ZeroSource.USER)])
    store.write_batch(sid, WriteBatch(
        protocols=[ProtocolEvent(0.0, ProtocolKind.ROUND, {"label": "pre"})],
        signals=[Signal(2.5, MarkSource.DEVICE)],
        ratings=[Rating(1.5, 4.25, MarkSource.DEVICE), Rating(2.6, 6.0, MarkSource.KEYBOARD)],
    ))  # fmt: skip
    if status is not None:
        store.finish_session(sid, status)
    return sid


def _hold(index: int, start_s: float) -> Hold:
    return Hold(index, 0 if index == 0 else 1, "Upper trapezius L" if index == 0 else "B",
                start_s, start_s + 5, 5.0, 30.0, 33.5, 2.5, None, 0.0, 0.0, 97.5)  # fmt: skip


def make_station(path: Path, sessions: int = 2, **kwargs) -> list[str]:
    """A station library with ``sessions`` finished sessions a day apart."""
    with SessionStore(path) as store:
        return [
            write_session(
                store, started_at=f"2026-11-{10 + k:02d}T09:00:00+00:00", seed=k, **kwargs
            )  # fmt: skip
            for k in range(sessions)
        ]


def count_rows(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
