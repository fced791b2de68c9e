"""SessionStore (logger/store/library.py) against a real SQLite file (tmp_path); the
helpers here build sessions for the other store and command tests."""

from __future__ import annotations

import inspect
import re
import sqlite3
import subprocess
import sys
from typing import get_type_hints

import numpy as np
import pytest

from calibration.models import CalibrationInfo, ZeroEvent, ZeroSource
from logger.errors import BadInput, DeviceError
from logger.paths import default_db_path
from logger.recalibrate import recalibrate, recompute_events
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
    SessionMeta,
    SessionStats,
    SessionStatus,
)
from logger.store import (
    SessionLibrary,
    SessionStore,
    SessionWriter,
    force_timeline,
    schema,
)


def make_meta(
    *,
    started_at: str = "2026-11-27T14:05:12+00:00",
    channels: int = 1,
    client: str | None = "C-017",
    therapist: str | None = "Ana",
    points: list[Point] | None = None,
) -> SessionMeta:
    return SessionMeta(
        started_at=started_at,
        device=DeviceInfo("SIM-0001", "1.2.0", "1.0", 1000.0, channels),
        calibration=CalibrationInfo(4000.0, 120000.0, "factory", "2026-01-01T00:00:00+00:00"),
        config={"units": "N", "holds": {"onset_n": 5.0}},
        client=client,
        therapist=therapist,
        notes="left side tender",
        points=points
        if points is not None
        else [Point(0, "Upper trapezius L", 35.0, 50.0, (25.0, 35.0), 60.0), Point(1, "B")],
    )


def make_hold(index: int, point: str | None = "Upper trapezius L") -> Hold:
    return Hold(
        index=index,
        point_index=0,
        point=point,
        start_s=3.0 + index * 10,
        end_s=8.0 + index * 10,
        duration_s=5.0,
        mean_n=30.0,
        peak_n=33.5,
        cv_pct=2.5,
        ramp_rate_n_per_s=None,
        time_over_warn_s=0.0,
        time_over_max_s=0.0,
        in_target_pct=97.5,
    )


def signal_raw(t_s: np.ndarray, channels: int = 1) -> np.ndarray:
    """120000 counts + 4000 counts/N × a slow sine (0..30 N), one column per channel."""
    base = 120000 + 4000 * 15.0 * (1 - np.cos(t_s * 0.5))
    return np.stack([base + 1000 * c for c in range(channels)], axis=1).astype(np.int32)


def fill(store: SessionStore, sid: str, seconds: float, block: int = 50, channels: int = 1):
    n = int(seconds * 1000)
    t = np.arange(n) / 1000.0
    raw = signal_raw(t, channels)
    for i in range(0, n, block):
        store.append_samples(sid, i, t[i : i + block], raw[i : i + block])
    return t, raw


# --------------------------------------------------------------------- basics


def test_create_session_id_wal_and_schema_version(db_path):
    store = SessionStore(db_path)
    sid = store.create_session(make_meta())
    assert re.fullmatch(r"20261127-140512-[0-9a-f]{4}", sid)
    n = len(schema.MIGRATIONS)
    assert store.schema_version == n
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    versions = conn.execute("SELECT version FROM schema_version").fetchall()
    assert versions == [(v,) for v in range(1, n + 1)]
    rec = store.load_session(sid)
    assert rec.status is SessionStatus.RECORDING
    assert rec.meta.points[0].target_n == (25.0, 35.0)
    assert rec.meta.config == {"units": "N", "holds": {"onset_n": 5.0}}
    assert rec.meta.device.uid == "SIM-0001"


def test_non_utc_start_time_gives_utc_id(db_path):
    store = SessionStore(db_path)
    sid = store.create_session(make_meta(started_at="2026-11-27T15:05:12+01:00"))
    assert sid.startswith("20261127-140512-")


def test_unknown_session_is_bad_input(db_path):
    store = SessionStore(db_path)
    with pytest.raises(BadInput, match=r"^unknown session 'nope'$"):
        store.load_session("nope")
    with pytest.raises(BadInput, match="unknown session"):
        store.load_samples("nope")
    with pytest.raises(BadInput, match="unknown session"):
        SessionWriter(store, "nope")


def test_deleted_session_ids_and_keys_are_not_reused(db_path):
    store = SessionStore(db_path)
    a = store.create_session(make_meta())
    fill(store, a, 0.1)
    other = SessionStore(db_path)  # e.g. a writer that still knows a's key
    other.add_marks(a, [Mark(0.0, None, MarkSource.CLI)])
    other.add_points(a, [Point(0, "A")])
    other.add_holds(a, [make_hold(0)])
    other.add_alerts(a, [Alert(0.05, AlertKind.WARN, 41.0, 0, 0)])
    other.add_gaps(a, [Gap(0.05, 0.06, 3, GapCause.CRC)])
    other.add_reconnect(a, t_s=0.06)
    children = ("points", "marks", "holds", "alerts", "gaps", "reconnects", "chunks", "summary")
    conn = sqlite3.connect(db_path)

    def rows() -> list[int]:
        return [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in children]

    assert all(rows())  # every child table holds rows of a
    store.delete_session(a)
    with pytest.raises(BadInput, match="unknown session"):
        store.load_session(a)
    assert rows() == [0] * len(children)  # ON DELETE CASCADE removed them all
    conn.close()
    b = store.create_session(make_meta())
    with pytest.raises(sqlite3.IntegrityError):  # not silently added to b
        other.append_samples(a, 0, np.zeros(2), np.zeros(2))
    assert store.load_samples(b)[0].size == 0
    with pytest.raises(BadInput, match="index repeated"):
        store.create_session(make_meta(points=[Point(0, "A"), Point(0, "B")]))


def test_zero_sensitivity_calibration_is_refused(db_path):
    store = SessionStore(db_path)
    meta = make_meta()
    meta.calibration = CalibrationInfo(0.0, 0.0, "factory")
    with pytest.raises(BadInput, match="counts_per_n=0.0"):
        store.create_session(meta)
    assert store.list_sessions() == []


def test_samples_round_trip_and_time_range(db_path):
    store = SessionStore(db_path)
    sid = store.create_session(make_meta(channels=2))
    t, raw = fill(store, sid, 3.0, block=37, channels=2)
    t_all, raw_all = store.load_samples(sid)
    np.testing.assert_array_equal(t_all, t)
    np.testing.assert_array_equal(raw_all, raw)
    assert raw_all.dtype == np.int32 and raw_all.shape == (3000, 2)
    t_w, raw_w = store.load_samples(sid, 1.0005, 2.0)
    sel = (t >= 1.0005) & (t <= 2.0)
    np.testing.assert_array_equal(t_w, t[sel])
    np.testing.assert_array_equal(raw_w, raw[sel])
    blocks = list(store.iter_chunks(sid, 1.0005, 2.0))
    assert blocks[0].first_index == 1001  # first_index follows the trim
    t_f, force = store.load_forces(sid, 0.0, 0.5)
    np.testing.assert_allclose(force, (raw[t <= 0.5] - 120000.0) / 4000.0)


def test_recalibration_changes_forces_and_overview(db_path):
    store = SessionStore(db_path)
    sid = store.create_session(make_meta())
    _, raw = fill(store, sid, 2.0)
    _, f1 = store.load_forces(sid)
    _, lo1, hi1 = store.load_overview(sid, 0, 2.0, 10)
    store.set_calibration(sid, CalibrationInfo(2000.0, 100000.0, "stored:7"))
    _, f2 = store.load_forces(sid)
    np.testing.assert_allclose(f2, (raw - 100000.0) / 2000.0)
    assert not np.allclose(f1, f2)
    _, lo2, hi2 = store.load_overview(sid, 0, 2.0, 10)
    np.testing.assert_allclose(hi2, (hi1 * 4000.0 + 20000.0) / 2000.0)
    assert store.load_session(sid).meta.calibration.source == "stored:7"
    with pytest.raises(BadInput):
        store.set_calibration(sid, CalibrationInfo(float("nan"), 0.0, "x"))


def test_force_timeline_models():
    raw = np.array([120000, 124000, 128000])
    t = np.array([0.0, 1.0, 2.0])
    lin = CalibrationInfo(4000.0, 120000.0, "factory")
    np.testing.assert_allclose(force_timeline(lin).counts_to_n(t, raw), [0.0, 1.0, 2.0])
    quad = CalibrationInfo(4000.0, 120000.0, "fit", model="quadratic", coefficients=[0, 1e-3, 1e-8])
    np.testing.assert_allclose(force_timeline(quad).counts_to_n(t, raw), [0.0, 4.16, 8.64])


def test_a_zero_changes_forces_from_its_instant_on(db_path):
    """The bug this guards against: a Zero mid-session shifted the whole saved session."""
    store = SessionStore(db_path)
    sid = store.create_session(make_meta())
    t, raw = fill(store, sid, 4.0)
    zero_counts = float(raw[2000, 0])  # the reading at t = 2 s becomes 0 N from there
    store.add_zeros(sid, [ZeroEvent(2.0, zero_counts, ZeroSource.USER)])
    tf, force = store.load_forces(sid)
    before = tf < 2.0
    np.testing.assert_allclose(force[before, 0], (raw[before, 0] - 120000.0) / 4000.0)
    np.testing.assert_allclose(force[~before, 0], (raw[~before, 0] - zero_counts) / 4000.0)
    rec = store.load_session(sid)
    assert rec.zeros == [ZeroEvent(2.0, zero_counts, ZeroSource.USER)]
    [(event, removed_n)] = rec.zeros_removed_n()
    assert removed_n == pytest.approx((zero_counts - 120000.0) / 4000.0)
    # the overview (bucket centres) follows the same zero
    to, lo, hi = store.load_overview(sid, 0.0, 4.0, max_points=40)
    late = to > 2.1
    want = (signal_raw(to[late])[:, 0] - zero_counts) / 4000.0
    assert np.all(lo[late] <= want + 0.05) and np.all(hi[late] >= want - 0.05)
    store.close()


def test_zero_events_survive_a_recalibration(db_path):
    store = SessionStore(db_path)
    sid = store.create_session(make_meta())
    _, raw = fill(store, sid, 3.0)
    zero_counts = float(raw[1500, 0])
    store.add_zeros(sid, [ZeroEvent(1.5, zero_counts, ZeroSource.USER)])
    recalibrate(store, sid, CalibrationInfo(2000.0, 110000.0, "stored:9"))
    tf, force = store.load_forces(sid)
    late = tf >= 1.5
    np.testing.assert_allclose(force[late, 0], (raw[late, 0] - zero_counts) / 2000.0)
    np.testing.assert_allclose(force[~late, 0], (raw[~late, 0] - 110000.0) / 2000.0)
    store.close()


def test_events_round_trip(db_path):
    store = SessionStore(db_path)
    sid = store.create_session(make_meta())
    store.add_marks(sid, [Mark(0.5, 0, MarkSource.DEVICE), Mark(9.0, 1, MarkSource.KEYBOARD)])
    store.add_holds(sid, [make_hold(0), make_hold(1)])
    store.add_holds(sid, [make_hold(1, point="B")])  # same index replaces
    store.add_alerts(sid, [Alert(4.0, AlertKind.WARN, 41.0, 0, 0)])
    store.add_gaps(sid, [Gap(5.0, 7.0, 2000, GapCause.DISCONNECT)])
    store.add_reconnect(sid, "2026-11-27T14:05:19+00:00", 7.0)
    store.add_points(sid, [Point(2, "ad hoc 3")])
    rec = store.load_session(sid)
    assert [p.name for p in rec.points] == ["Upper trapezius L", "B", "ad hoc 3"]
    assert [m.source for m in rec.marks] == [MarkSource.DEVICE, MarkSource.KEYBOARD]
    assert [h.point for h in rec.holds] == ["Upper trapezius L", "B"]
    assert rec.holds[0] == make_hold(0)
    assert rec.alerts == [Alert(4.0, AlertKind.WARN, 41.0, 0, 0)]
    assert rec.gaps == [Gap(5.0, 7.0, 2000, GapCause.DISCONNECT)]
    assert rec.reconnects == [("2026-11-27T14:05:19+00:00", 7.0)]
    assert rec.stats.lost_samples == 2000 and rec.stats.reconnects == 1
    store.replace_holds(sid, [make_hold(5)])
    store.replace_alerts(sid, [])
    rec = store.load_session(sid)
    assert [h.index for h in rec.holds] == [5] and rec.alerts == []


def test_finish_and_list_sessions_with_filters(db_path):
    store = SessionStore(db_path)
    a = store.create_session(make_meta(started_at="2026-11-01T09:00:00Z"))
    fill(store, a, 1.0)
    store.add_holds(a, [make_hold(0)])
    store.finish_session(a, SessionStatus.COMPLETE, SessionStats(1000, 1.0, 1000.0, 0, 0, 0))
    b = store.create_session(
        make_meta(started_at="2026-11-20T09:00:00Z", client="C-2", therapist="Bo", points=[])
    )
    store.add_alerts(b, [Alert(1.0, AlertKind.MAX, 61.0, None, None)])
    rows = store.list_sessions()
    assert [r.id for r in rows] == [a, b]
    assert (rows[0].status, rows[0].samples, rows[0].holds, rows[0].duration_s) == (
        SessionStatus.COMPLETE,
        1000,
        1,
        1.0,
    )
    assert rows[1].status is SessionStatus.RECORDING and rows[1].alerts == 1
    assert [r.id for r in store.list_sessions(therapist="Bo")] == [b]
    assert [r.id for r in store.list_sessions(client="C-017")] == [a]
    assert [r.id for r in store.list_sessions(point="Upper trapezius L")] == [a]
    assert [r.id for r in store.list_sessions(since="2026-11-10")] == [b]
    assert [r.id for r in store.list_sessions(until="2026-11-10T00:00:00+00:00")] == [a]
    assert store.list_sessions(therapist="nobody") == []
    with pytest.raises(BadInput, match="since='last week'"):
        store.list_sessions(since="last week")


def test_unopenable_path_is_a_device_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DeviceError, match="cannot open"):
        SessionStore(blocker / "sub" / "s.sqlite3")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_default_db_path(monkeypatch, tmp_path):
    monkeypatch.setenv("PRESSURE_LOGGER_DB", str(tmp_path / "x.sqlite3"))
    assert default_db_path() == tmp_path / "x.sqlite3"
    monkeypatch.delenv("PRESSURE_LOGGER_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    if sys.platform.startswith("linux"):
        assert default_db_path() == tmp_path / "data" / "pressure-logger" / "sessions.sqlite3"
    assert default_db_path().name == "sessions.sqlite3"


# ------------------------------------------------------------ recalibration


def _hold_session(store: SessionStore) -> tuple[str, list[Hold], list[Alert]]:
    """A 25 N hold for 10 s (linear ramps), recorded through the real pipeline."""
    from logger.config import Config
    from logger.pipeline import Pipeline
    from logger.points import PointPlan
    from logger.records import SampleBlock

    config = Config()
    meta = make_meta(points=[Point(0, "A"), Point(1, "B")])
    meta.config = config.to_dict()
    sid = store.create_session(meta)
    t = np.arange(16000) / 1000.0
    force = np.interp(t, [0, 2, 3, 13, 13.5, 16], [0, 0, 25, 25, 0, 0])
    raw = (120000 + 4000 * force).astype(np.int32).reshape(-1, 1)
    pipeline = Pipeline(config, PointPlan(meta.points, config.limits))
    holds, alerts = [], []
    mark = pipeline.jump(1, 1.0, MarkSource.KEYBOARD)
    store.add_marks(sid, [mark])
    for i in range(0, t.size, 50):
        block = SampleBlock(i, t[i : i + 50], raw[i : i + 50], (raw[i : i + 50] - 120000) / 4000)
        out = pipeline.process(block)
        holds += out.holds
        alerts += out.alerts
        store.append_samples(sid, i, block.t_s, block.raw)
    holds += pipeline.finish().holds
    store.add_holds(sid, holds)
    store.add_alerts(sid, alerts)
    return sid, holds, alerts


def test_recompute_after_recalibration(db_path):
    store = SessionStore(db_path)
    sid, holds, alerts = _hold_session(store)
    assert len(holds) == 1 and holds[0].point == "B" and alerts == []
    same_holds, same_alerts = recompute_events(store, sid)
    assert same_holds == holds and same_alerts == []
    # the sensor really had half the sensitivity: the hold was 50 N, not 25 N
    cal = CalibrationInfo(2000.0, 120000.0, "stored:9")
    new_holds, new_alerts = recompute_events(store, sid, cal)
    assert new_holds[0].mean_n == pytest.approx(2 * holds[0].mean_n)
    assert new_holds[0].point_index == 1
    assert {a.kind for a in new_alerts} == {AlertKind.WARN}
    rec = store.load_session(sid)  # computing wrote nothing
    assert rec.meta.calibration.source != "stored:9" and rec.holds == holds and rec.alerts == []
    assert recalibrate(store, sid, cal) == (new_holds, new_alerts)
    rec = store.load_session(sid)
    assert rec.meta.calibration == cal
    assert rec.holds == new_holds and rec.alerts == new_alerts
    assert len(rec.marks) == 1


def test_apply_recalibration_is_one_transaction(db_path):
    store = SessionStore(db_path)
    sid, holds, _ = _hold_session(store)
    before = store.load_session(sid)
    cal = CalibrationInfo(2000.0, 120000.0, "stored:9")
    bad_alert = Alert(1.0, "not-a-kind", 1.0, None, None)  # fails after the other writes
    with pytest.raises(ValueError, match="not-a-kind"):
        store.apply_recalibration(sid, cal, [make_hold(5)], [bad_alert])
    after = store.load_session(sid)
    assert after.meta.calibration == before.meta.calibration
    assert after.holds == holds and after.alerts == before.alerts


# ------------------------------------------------------------------ the protocol


def test_session_store_is_a_session_library(db_path):
    with SessionStore(db_path) as store:
        library: SessionLibrary = store  # mypy checks this assignment
        assert isinstance(library, SessionLibrary)
        with store.reopen() as again:
            assert isinstance(again, SessionLibrary) and again is not store


def test_every_member_of_the_protocol_has_the_stores_signature(db_path):
    """Beyond isinstance (which checks names only): each method of SessionLibrary takes
    the same parameters, with the same kinds and defaults, in SessionStore, and each
    attribute holds a value of the protocol's type."""
    members = {n for n in vars(SessionLibrary) if not n.startswith("_")}
    assert {"list_sessions", "load_session", "write_batch", "reopen", "db_path"} <= members
    store = SessionStore(db_path)
    for name in sorted(members):
        want = inspect.getattr_static(SessionLibrary, name)
        if isinstance(want, property):  # an attribute
            assert want.fget is not None
            assert isinstance(getattr(store, name), get_type_hints(want.fget)["return"]), name
            continue
        have = inspect.getattr_static(SessionStore, name)
        a, b = inspect.signature(want).parameters, inspect.signature(have).parameters
        assert [(p.name, p.kind, p.default) for p in a.values()] == [
            (p.name, p.kind, p.default) for p in b.values()
        ], name
    store.close()
