"""Ownership and recovery (logger/store/ownership.py): which recordings are abandoned,
what opening a library does with them, and the ``redetect`` seam to the pipeline."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from logger.recalibrate import redetect_events
from logger.records import Gap, GapCause, SessionStatus
from logger.store import SessionLibrary, SessionStore, check_writable
from logger.store.ownership import HOST, PID_REUSE_AFTER_S, STALE_AFTER_S, Owner, abandoned

from .test_store import _dead_pid, fill, make_hold, make_meta

ROOT = Path(__file__).resolve().parents[2]


def test_abandoned_by_host_pid_and_heartbeat():
    now = time.time()
    alive, dead = os.getpid(), _dead_pid()
    assert not abandoned(Owner(HOST, alive, now), now)
    assert abandoned(Owner(HOST, dead, now), now)  # its process is gone
    assert abandoned(Owner(HOST, alive, now - PID_REUSE_AFTER_S - 1), now)  # a recycled pid
    assert abandoned(Owner(HOST, None, None), now)
    assert not abandoned(Owner("station-2", 1, now - STALE_AFTER_S + 5), now)
    assert abandoned(Owner("station-2", 1, now - STALE_AFTER_S - 1), now)
    assert abandoned(Owner("station-2", 1, None), now)


def test_stale_recording_is_marked_interrupted_live_one_is_not(db_path):
    store = SessionStore(db_path)
    dead = store.create_session(make_meta())
    fill(store, dead, 1.5)
    store.add_gaps(dead, [Gap(0.5, 0.6, 100, GapCause.SEQUENCE)])
    old = store.create_session(make_meta())
    live = store.create_session(make_meta())
    slow = store.create_session(make_meta())  # alive, but no heartbeat for a minute
    remote_live = store.create_session(make_meta())
    remote_gone = store.create_session(make_meta())
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE sessions SET owner_pid = ? WHERE id = ?", (_dead_pid(), dead))
    conn.execute("UPDATE sessions SET heartbeat_unix = ? WHERE id = ?", (time.time() - 3600, old))
    conn.execute("UPDATE sessions SET heartbeat_unix = ? WHERE id = ?", (time.time() - 60, slow))
    for sid, age_s in ((remote_live, 5), (remote_gone, 60)):
        conn.execute(
            "UPDATE sessions SET owner_host = 'station-2', owner_pid = 1, heartbeat_unix = ? "
            "WHERE id = ?",
            (time.time() - age_s, sid),
        )
    conn.commit()
    conn.close()

    second = SessionStore(db_path)  # "a second window"
    status = {s.id: s.status for s in second.list_sessions()}
    assert status == {
        dead: SessionStatus.INTERRUPTED,
        old: SessionStatus.INTERRUPTED,
        live: SessionStatus.RECORDING,
        slow: SessionStatus.RECORDING,
        remote_live: SessionStatus.RECORDING,
        remote_gone: SessionStatus.INTERRUPTED,
    }
    rec = second.load_session(dead)
    assert rec.stats.samples == 1500 and rec.stats.lost_samples == 100
    assert rec.stats.duration_s == pytest.approx(1.5)
    assert rec.ended_at is not None


def _dead_recording_in_a_hold(store: SessionStore) -> str:
    """A recording whose process died 8 s into a 25 N hold: its samples are stored, the
    hold is not (the recorder stores a hold once it ends)."""
    sid = store.create_session(make_meta())
    t = np.arange(10000) / 1000.0
    force_n = np.interp(t, [0, 1, 2, 10], [0, 0, 25, 25])
    raw = (120000 + 4000 * force_n).astype(np.int32).reshape(-1, 1)
    for i in range(0, t.size, 500):
        store.append_samples(sid, i, t[i : i + 500], raw[i : i + 500])
    store.add_holds(sid, [make_hold(0)])  # an earlier, finished hold: replaced by the replay
    conn = sqlite3.connect(store.db_path)
    conn.execute("UPDATE sessions SET owner_pid = ? WHERE id = ?", (_dead_pid(), sid))
    conn.commit()
    conn.close()
    return sid


def test_opened_with_redetect_a_dead_recording_keeps_its_hold_cut_short(db_path):
    with SessionStore(db_path) as store:
        sid = _dead_recording_in_a_hold(store)
    with SessionStore(db_path, redetect=redetect_events) as store:
        rec = store.load_session(sid)
    assert rec.status is SessionStatus.INTERRUPTED
    [hold] = rec.holds
    assert hold.cut_short and hold.mean_n == pytest.approx(25.0, rel=0.02)
    assert hold.end_s == pytest.approx(9.999, abs=0.01)


def test_record_checking_its_library_recovers_it_as_a_recorder_opens_it(db_path):
    with SessionStore(db_path) as store:
        sid = _dead_recording_in_a_hold(store)
    check_writable(db_path, redetect_events)  # `record`'s first opening
    with SessionStore(db_path, recover=False) as store:
        [hold] = store.load_session(sid).holds
    assert hold.cut_short


def test_redetect_is_called_once_for_each_recording_marked(db_path):
    with SessionStore(db_path) as store:
        dead = _dead_recording_in_a_hold(store)
        live = store.create_session(make_meta())
    calls: list[tuple[object, str]] = []
    with SessionStore(db_path, redetect=lambda lib, sid: calls.append((lib, sid))) as store:
        assert [sid for _, sid in calls] == [dead]
        assert calls[0][0] is store and isinstance(store, SessionLibrary)
        assert store.load_session(live).status is SessionStatus.RECORDING
    with SessionStore(db_path, redetect=lambda lib, sid: calls.append((lib, sid))):
        assert len(calls) == 1  # marked once: never decided again


def test_without_redetect_a_dead_recording_keeps_what_its_recorder_stored(db_path):
    with SessionStore(db_path) as store:
        sid = _dead_recording_in_a_hold(store)
    with SessionStore(db_path, recover=False) as store:  # looks, changes nothing
        assert store.load_session(sid).status is SessionStatus.RECORDING
    with SessionStore(db_path) as store:
        rec = store.load_session(sid)
    assert rec.status is SessionStatus.INTERRUPTED and rec.holds == [make_hold(0)]


def test_a_redetect_that_fails_leaves_the_session_interrupted_and_the_library_open(db_path, caplog):
    with SessionStore(db_path) as store:
        sid = _dead_recording_in_a_hold(store)

    def broken(library: SessionLibrary, sid: str) -> None:
        raise RuntimeError("no pipeline today")

    with caplog.at_level(logging.ERROR), SessionStore(db_path, redetect=broken) as store:
        rec = store.load_session(sid)
    assert rec.status is SessionStatus.INTERRUPTED and rec.holds == [make_hold(0)]
    assert "could not re-run hold detection" in caplog.text


KILL_CHILD = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from logger.records import *
    from logger.store import SessionStore, SessionWriter
    store = SessionStore(sys.argv[1])
    meta = SessionMeta(
        started_at="2026-11-27T14:05:12+00:00",
        device=DeviceInfo("SIM-K", "1", "1.0", 1000.0, 1),
        calibration=CalibrationInfo(4000.0, 120000.0, "factory"),
        config={},
    )
    sid = store.create_session(meta)
    writer = SessionWriter(store, sid)
    i = 0
    def put(n):
        global i
        t = np.arange(i, i + n) / 1000.0
        writer.put_samples(i, t, np.full(n, 120000 + i, dtype=np.int32))
        i += n
    for _ in range(50):
        put(20)
        time.sleep(0.002)
    safe = i
    time.sleep(1.0)  # twice the 0.5 s guarantee: everything up to `safe` must be on disk
    print(sid, safe, flush=True)
    while True:  # keep writing so that the kill lands mid-stream
        put(20)
        time.sleep(0.001)
    """
)


@pytest.mark.slow
def test_kill_9_leaves_committed_data_and_a_sound_file(db_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_CHILD, str(db_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        sid, safe = proc.stdout.readline().split()
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    store = SessionStore(db_path)
    assert store.integrity_check() == "ok"
    rec = store.load_session(sid)
    assert rec.status is SessionStatus.INTERRUPTED
    t, raw = store.load_samples(sid)
    assert rec.stats.samples == t.size >= int(safe)
    np.testing.assert_array_equal(t, np.arange(t.size) / 1000.0)  # no holes, no duplicates
    np.testing.assert_array_equal(raw[:, 0], 120000 + (np.arange(t.size) // 20) * 20)
