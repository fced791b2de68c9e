"""SessionWriter (logger/store/writer.py) against a real SQLite file: what it stores,
when it commits, what it reports, and that the library's public surface is all it uses."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import numpy as np
import pytest

import logger.store.writer as writer_mod
from calibration.models import CalibrationInfo
from logger.errors import BadInput, DeviceError
from logger.records import (
    Alert,
    AlertKind,
    Gap,
    GapCause,
    Mark,
    MarkSource,
    Point,
    SessionStats,
    SessionStatus,
)
from logger.store import SessionLibrary, SessionStore, SessionWriter

from .test_store import make_hold, make_meta, signal_raw


def test_writer_stores_everything_and_finalises(db_path):
    store = SessionStore(db_path)
    sid = store.create_session(make_meta())
    writer = SessionWriter(store, sid)
    t = np.arange(5000) / 1000.0
    raw = signal_raw(t)
    buf = np.empty((20, 1), dtype=np.int32)
    for i in range(0, 5000, 20):
        buf[:] = raw[i : i + 20]  # the caller reuses its buffer: the writer must copy
        writer.put_samples(i, t[i : i + 20], buf)
    writer.put_marks([Mark(1.0, 0, MarkSource.DEVICE)])
    writer.put_holds([make_hold(0)])
    writer.put_alerts([Alert(2.0, AlertKind.MAX, 60.5, 0, 0)])
    writer.put_gaps([Gap(4.0, 4.0, 0, GapCause.CRC)])
    writer.put_reconnect("2026-11-27T14:06:00+00:00", 4.0)
    writer.put_points([Point(2, "C", target_n=(10.0, 20.0))])
    assert writer.flush(timeout_s=30)
    # visible to another connection while still recording
    other = SessionStore(db_path)
    assert other.load_session(sid).status is SessionStatus.RECORDING
    np.testing.assert_array_equal(other.load_samples(sid)[1], raw)
    chunks = sqlite3.connect(db_path).execute("SELECT count(*) FROM chunks").fetchone()[0]
    assert chunks < 250 / 4  # contiguous puts were coalesced
    stats = SessionStats(5000, 5.0, 1000.0, 0, 1, 1)
    writer.close(SessionStatus.COMPLETE, stats, "2026-11-27T14:06:05+00:00")
    writer.close()  # idempotent
    rec = other.load_session(sid)
    assert rec.status is SessionStatus.COMPLETE and rec.stats == stats
    assert rec.ended_at == "2026-11-27T14:06:05+00:00"
    assert len(rec.marks) == len(rec.holds) == len(rec.alerts) == len(rec.gaps) == 1
    assert rec.reconnects == [("2026-11-27T14:06:00+00:00", 4.0)]
    assert rec.points[2] == Point(2, "C", target_n=(10.0, 20.0))
    assert writer.committed_samples == 5000


def test_writer_keeps_non_contiguous_blocks_apart(db_path):
    store = SessionStore(db_path)
    sid = store.create_session(make_meta())
    writer = SessionWriter(store, sid)
    writer.put_samples(0, np.arange(10) / 1000, np.arange(10))
    writer.put_samples(15, np.arange(15, 25) / 1000, np.arange(15, 25))  # 5 lost
    writer.close()
    firsts = [b.first_index for b in store.iter_chunks(sid)]
    assert firsts == [0, 15]
    assert store.load_session(sid).stats.samples == 20


def test_writer_rejects_bad_shapes_in_the_callers_thread(db_path):
    store = SessionStore(db_path)
    sid = store.create_session(make_meta())
    writer = SessionWriter(store, sid)
    with pytest.raises(ValueError, match="t_s has 3 rows"):
        writer.put_samples(0, np.zeros(3), np.zeros((4, 1)))
    writer.close()
    with pytest.raises(BadInput, match="counts_per_n=0.0"):  # a calibration is no message
        store.set_calibration(sid, CalibrationInfo(0.0, 0.0, "tare"))


def test_writer_failure_surfaces_on_close(db_path, caplog):
    store = SessionStore(db_path)
    sid = store.create_session(make_meta())
    writer = SessionWriter(store, sid)
    assert writer.flush(timeout_s=30)
    store.delete_session(sid)  # the rows the writer refers to are gone
    writer.put_samples(0, np.zeros(3), np.zeros(3))
    with pytest.raises(DeviceError, match="storing session"):
        writer.close()
    assert not writer.alive


def test_idle_writer_keeps_its_heartbeat_fresh(db_path, monkeypatch):
    monkeypatch.setattr(writer_mod, "HEARTBEAT_S", 0.05)
    store = SessionStore(db_path)
    sid = store.create_session(make_meta())
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE sessions SET heartbeat_unix = 0 WHERE id = ?", (sid,))
    conn.commit()
    writer = SessionWriter(store, sid)
    beat = 0.0
    for _ in range(200):  # nothing is put: only the heartbeat can change the row
        time.sleep(0.02)
        beat = conn.execute("SELECT heartbeat_unix FROM sessions WHERE id = ?", (sid,)).fetchone()
        if beat[0] > 0:
            break
    assert beat[0] > 0
    assert SessionStore(db_path).load_session(sid).status is SessionStatus.RECORDING
    writer.close()
    conn.close()


class PublicOnly:
    """A library that lends the writer only what SessionLibrary names: any other attribute
    (a private ``_pk``, ``_tx``, ``_conn``, or a public one off the protocol) raises."""

    names = frozenset(n for n in vars(SessionLibrary) if not n.startswith("_"))

    def __init__(self, store: SessionStore, used: list[str]) -> None:
        self._store, self._used = store, used

    def __getattr__(self, name: str) -> Any:
        if name not in self.names:
            raise AssertionError(f"the writer used {name!r}, which SessionLibrary does not offer")
        self._used.append(name)
        if name == "reopen":
            return lambda: PublicOnly(self._store.reopen(), self._used)
        return getattr(self._store, name)


def test_the_writer_uses_only_the_public_session_library(db_path):
    store = SessionStore(db_path)
    sid = store.create_session(make_meta())
    used: list[str] = []
    writer = SessionWriter(PublicOnly(store, used), sid)
    t = np.arange(300) / 1000.0
    writer.put_samples(0, t, signal_raw(t))
    writer.put_marks([Mark(0.1, 0, MarkSource.CLI)])
    assert writer.flush(timeout_s=30)
    writer.close(SessionStatus.COMPLETE)
    assert writer.error is None
    assert {"has_session", "reopen", "write_batch", "finish_session", "close"} <= set(used)
    rec = store.load_session(sid)
    assert rec.status is SessionStatus.COMPLETE and rec.stats.samples == 300
    assert len(rec.marks) == 1
