"""LiveSession details the end-to-end recording tests do not isolate."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from calibration.models import ZeroSource
from logger.config import Config, HoldConfig
from logger.hold_detector import detect_holds
from logger.live import (
    PREROLL_S,
    DeviceNotice,
    LiveSession,
    LiveTap,
    SettingsChanged,
    limit_notice,
    wait_until,
)
from logger.records import Point
from logger.store import SessionStore


def test_device_alarm_notices_are_in_plain_words():
    assert limit_notice(1) == "device alarm: over warning level"
    assert limit_notice(-1) == "device alarm: back below warning level"
    assert limit_notice(2) == "device alarm: over maximum"


def test_the_device_buzzer_and_the_end_of_a_script_reach_the_window_in_words(tmp_path):
    """The simulated device sounds its buzzer over the limits LiveSession gave it."""
    path = tmp_path / "buzz.toml"
    path.write_text(
        '[[steps]]\naction = "rest"\nseconds = 1.0\n'
        '[[steps]]\naction = "hold"\nforce_n = 45.0\nseconds = 3.0\n'
        '[[steps]]\naction = "rest"\nseconds = 1.0\n'
    )
    live = LiveSession(f"sim://buzz?scenario={path}&speed=0", Config())
    live.start()
    try:
        assert wait_until(live.finished.is_set, 20.0)
    finally:
        live.stop()
    notices = [e.text for e in live.poll_events() if isinstance(e, DeviceNotice)]
    assert "device alarm: over warning level" in notices
    assert "device alarm: back below warning level" in notices
    assert notices[-1] == "simulated scenario ended"


@pytest.mark.slow
def test_a_zero_mid_session_changes_what_follows_and_every_view_agrees(tmp_path, db_path):
    """The bug: a Zero at 10 s shifted the whole saved session. Now it is an event: live,
    stored and exported forces agree sample for sample, the hold before the zero keeps the
    reading it had, and both holds match the simulator's truth plus the drift left over."""
    drift = 0.2  # N/s: the unloaded reading creeps (zero_drift_n_per_s)
    path = tmp_path / "drift.toml"
    path.write_text(
        f"[device]\nnoise_n = 0.02\nzero_drift_n_per_s = {drift}\n[therapist]\ntremor_n = 0.0\n"
        '[[steps]]\naction = "rest"\nseconds = 4.0\n'
        '[[steps]]\naction = "hold"\nforce_n = 20.0\nramp_s = 0.5\nseconds = 4.0\n'
        '[[steps]]\naction = "rest"\nseconds = 3.0\n'
        '[[steps]]\naction = "hold"\nforce_n = 20.0\nramp_s = 0.5\nseconds = 4.0\n'
        '[[steps]]\naction = "rest"\nseconds = 1.0\n'
    )
    live = LiveSession(f"sim://drift?scenario={path}&speed=4", Config(), db_path=db_path)
    live.arm_recording()
    live.start()
    try:
        assert wait_until(lambda: live.t_s > 10.0, 20.0)  # at rest between the holds
        assert live.zero_load_n() == pytest.approx(drift * 10.0, abs=0.3)
        removed_n = live.tare()
        assert wait_until(live.finished.is_set, 20.0)
    finally:
        sid = live.stop()
    store = SessionStore(db_path)
    rec = store.load_session(sid)
    *autos, user = rec.zeros  # at start only when the first 0.5 s looked steady
    assert [z.source for z in autos] in ([], [ZeroSource.AUTO])
    assert user.source == ZeroSource.USER and 10.0 < user.t_s < 10.5
    assert rec.zeros_removed_n()[-1][1] == pytest.approx(removed_n)
    # live (the ring buffer) and stored forces: the same numbers, sample for sample
    t_live, f_live = live.ring.latest(live.ring.written)
    t_st, f_st = store.load_forces(sid)
    assert t_st.size == t_live.size
    np.testing.assert_array_equal(f_st.astype(f_live.dtype), f_live)  # the ring keeps float32

    def zero_n(t_s: float) -> float:
        """Ground truth of the zero in force at t_s: the drift it took away (N)."""
        in_force = [z for z in rec.zeros if z.t_s <= t_s]
        return (in_force[-1].zero_counts - 120000.0) / 4000.0 if in_force else 0.0

    # at rest, each sample reads the drift since the zero in force at its time
    for t0, t1 in ((1.0, 4.0), (9.5, 11.0)):
        sel = (t_st > t0) & (t_st < t1)
        want = drift * t_st[sel] - np.array([zero_n(t) for t in t_st[sel]])
        np.testing.assert_allclose(f_st[sel, 0], want, atol=0.1)
    # the holds (plateaus centred on 6.5 s and 14.5 s): as the live table showed them,
    # each against the zero of its time
    assert [dataclasses.astuple(h) for h in rec.holds] == [
        dataclasses.astuple(h) for h in live.holds
    ]
    first, second = rec.holds
    assert first.mean_n == pytest.approx(20.0 + drift * 6.5 - zero_n(6.5), abs=0.2)
    assert second.mean_n == pytest.approx(20.0 + drift * 14.5 - zero_n(14.5), abs=0.2)
    assert zero_n(14.5) == pytest.approx(drift * 10.1, abs=0.15)
    store.close()


@pytest.mark.slow
def test_record_keeps_a_pre_roll_so_a_hold_under_way_keeps_its_onset(tmp_path, db_path):
    """Record pressed 4 s into a hold: the session starts ≥ 10 s back and has the hold
    whole, with its real onset (5 N reached 0.25 s into a 1 s ramp to 20 N at 8 s, so the pre-roll
    reaches back to 3 s)."""
    path = tmp_path / "preroll.toml"
    path.write_text(
        "[device]\nnoise_n = 0.02\n[therapist]\ntremor_n = 0.0\n"
        '[[steps]]\naction = "rest"\nseconds = 8.0\n'
        '[[steps]]\naction = "hold"\nforce_n = 20.0\nramp_s = 1.0\nseconds = 7.0\n'
        '[[steps]]\naction = "rest"\nseconds = 1.0\n'
    )
    live = LiveSession(f"sim://preroll?scenario={path}&speed=4", Config(), db_path=db_path)
    live.start()
    try:
        assert wait_until(lambda: live.t_s > 13.0, 20.0)
        pressed_at_s = live.t_s
        live.start_recording()
        assert wait_until(live.finished.is_set, 20.0)
    finally:
        sid = live.stop()
    with SessionStore(db_path) as store:
        rec = store.load_session(sid)
        t_st, raw_st = store.load_samples(sid)
    t0 = live.t_s - rec.last_t_s  # the session's first sample on the live timeline
    # ≥ 10 s before the newest sample when Record read the recent blocks; that is a few
    # blocks (at 4× real time, some 0.1 s of device time) after pressed_at_s was read
    assert pressed_at_s - t0 >= PREROLL_S - 0.3
    assert t_st[0] == 0.0 and np.all(np.diff(t_st) > 0)
    [hold] = rec.holds
    assert hold.start_s + t0 == pytest.approx(8.25, abs=0.02)
    assert hold.duration_s == pytest.approx(8.0 - 0.25 + 0.2, abs=0.3)
    assert hold.mean_n == pytest.approx(20.0, abs=0.1)
    [live_hold] = live.holds  # the live table's, on the live timeline
    shifted = dataclasses.replace(hold, start_s=hold.start_s + t0, end_s=hold.end_s + t0)
    assert dataclasses.astuple(live_hold) == pytest.approx(dataclasses.astuple(shifted), abs=2e-3)


TWO_HOLDS = (  # a mark at 1 s; holds of 20 N: ramp 1-2 s, 2-12 s, release 12-13 s; 15-20 s
    # (changed 4 s in, the first hold goes on 8 s of device time, 2 s of host time at speed
    # 4: a host held up by a loaded machine still acts during it)
    "[device]\nnoise_n = 0.02\n[therapist]\ntremor_n = 0.0\n"
    '[[steps]]\naction = "rest"\nseconds = 1.0\n[[steps]]\naction = "mark"\n'
    '[[steps]]\naction = "hold"\nforce_n = 20.0\nramp_s = 1.0\nseconds = 10.0\nrelease_s = 1.0\n'
    '[[steps]]\naction = "rest"\nseconds = 2.0\n'
    '[[steps]]\naction = "hold"\nforce_n = 20.0\nramp_s = 1.0\nseconds = 3.0\nrelease_s = 1.0\n'
    '[[steps]]\naction = "rest"\nseconds = 1.0\n'
)
AB = [Point(0, "A"), Point(1, "B")]


def _two_holds(tmp_path, name: str, config: Config, db_path=None) -> LiveSession:
    path = tmp_path / f"{name}.toml"
    path.write_text(TWO_HOLDS)
    return LiveSession(f"sim://{name}?scenario={path}&speed=4", config, db_path=db_path)


def _mid_first_hold(live: LiveSession) -> None:
    """Until the first hold is well under way (4 s of the scenario's 1-13 s)."""
    assert wait_until(lambda: live.t_s > 4.0 and live.current_hold is not None, 20.0)


@pytest.mark.slow
def test_new_thresholds_mid_hold_leave_it_whole_and_judge_the_next(tmp_path, db_path):
    """Settings changed 4 s into a recorded hold: that hold stays one hold, with its point,
    ended by the release it began with; the next is found by the new thresholds, as an
    offline re-detection with each hold's thresholds finds them. The pipeline is the
    same one throughout, numbering the holds 0, 1 (a rebuilt one once split the hold)."""
    live = _two_holds(tmp_path, "thresholds", Config(points=AB), db_path)
    old = live.config.holds
    new = HoldConfig(onset_n=10.0, release_n=9.0, min_duration_s=1.0)
    live.arm_recording()
    live.start()
    try:
        _mid_first_hold(live)
        pipeline = live.pipeline  # the recording's
        live.set_config(Config(units="kgf", holds=new, points=AB))
        assert live.pipeline is pipeline and live.config.units == "kgf"
        assert live.config.holds == new and live.holds_in_force == old  # the hold's own
        assert live.current_hold_point == AB[0]
        assert wait_until(live.finished.is_set, 20.0)
        assert live.holds_in_force == new
    finally:
        sid = live.stop()
    first, second = live.holds
    assert live.pipeline is pipeline and (first.index, second.index) == (0, 1)
    assert (first.point, second.point) == ("A", "A")
    t, f = live.ring.latest(live.ring.written)
    [(s0, e0), *_] = detect_holds(t, f[:, 0], old)
    assert (first.start_s, first.end_s) == pytest.approx((t[s0], t[e0 - 1]), abs=2e-3)
    [(s1, e1)] = detect_holds(t[e0:], f[e0:, 0], new)
    assert (second.start_s, second.end_s) == pytest.approx((t[e0 + s1], t[e0 + e1 - 1]), abs=2e-3)
    assert second.start_s - 15.0 == pytest.approx(0.5, abs=0.05)  # 10 N on the ramp, not 5 N
    events = live.poll_events()
    changed = [e for e in events if isinstance(e, SettingsChanged)]
    assert [e.holds_pending for e in changed] == [True, False]
    assert events.index(changed[1]) > events.index(first)  # in force once that hold ended
    with SessionStore(db_path) as store:
        stored = store.load_session(sid).holds
    assert [(h.index, h.point) for h in stored] == [(0, "A"), (1, "A")]


@pytest.mark.slow
def test_a_plan_changed_mid_hold_leaves_the_hold_its_point(tmp_path):
    """The plan replaced (the Settings dialog's points) during the hold on A: the hold
    keeps A; the plan in force is the new one, not started; a jump works on it at once."""
    live = _two_holds(tmp_path, "plan", Config(points=AB))
    live.start()
    try:
        _mid_first_hold(live)
        assert live.plan.current_index == 0
        xyz = [Point(0, "X"), Point(1, "Y", warn_n=15.0), Point(2, "Z")]
        live.set_config(Config(points=xyz))
        assert live.pipeline.detector.pending_config is None  # same thresholds: none wait
        assert [p.name for p in live.plan.points] == ["X", "Y", "Z"]
        assert live.plan.current_index is None and live.current_hold_point == AB[0]
        live.jump(1)
        assert live.plan.levels().warn_n == 15.0 and live.current_hold_point == AB[0]
        assert wait_until(live.finished.is_set, 20.0)
    finally:
        live.stop()
    first, second = live.holds
    assert (first.point_index, first.point) == (0, "A")
    assert (second.point_index, second.point) == (1, "Y")
    assert second.time_over_warn_s > 3.0 and first.time_over_warn_s == 0.0  # Y's 15 N
    changed = [e for e in live.poll_events() if isinstance(e, SettingsChanged)]
    assert [e.holds_pending for e in changed] == [False]


def test_while_recording_the_plan_stays_the_sessions(tmp_path, db_path):
    live = _two_holds(tmp_path, "recplan", Config(points=AB), db_path)
    live.arm_recording()
    live.start()
    try:
        _mid_first_hold(live)
        with pytest.raises(RuntimeError, match="stop the recording"):
            live.set_points([Point(0, "X")])
        live.set_config(Config(points=[Point(0, "X")]))  # for the next recording
        assert [p.name for p in live.plan.points] == ["A", "B"]
        assert live.config.points == [Point(0, "X")]
        live.stop_recording()
        live.set_points([Point(0, "X")])
        assert [p.name for p in live.plan.points] == ["X"]
    finally:
        live.stop()


def test_a_hold_cut_short_by_stop_is_announced_as_it_is_stored(tmp_path, db_path):
    """Stop during a hold: the live holds table gets the hold the session stores."""
    from logger.records import Hold

    path = tmp_path / "cut.toml"
    path.write_text(
        '[[steps]]\naction = "rest"\nseconds = 1.0\n'
        '[[steps]]\naction = "hold"\nforce_n = 20.0\nramp_s = 0.5\nseconds = 30.0\n'
    )
    live = LiveSession(f"sim://cut?scenario={path}&speed=4", Config(), db_path=db_path)
    live.arm_recording()
    live.start()
    try:
        assert wait_until(lambda: live.t_s > 5.0, 20.0)
        sid = live.stop_recording()
    finally:
        live.stop()
    announced = [e for e in live.poll_events() if isinstance(e, Hold)]
    with SessionStore(db_path) as store:
        stored = store.load_session(sid).holds
    assert len(announced) == len(stored) == 1 and stored[0].cut_short
    assert announced[0].mean_n == pytest.approx(stored[0].mean_n)


def test_a_zero_takes_effect_right_after_the_samples_it_averaged(db_path):
    """Zero pressed while the reader is inside a block (held there: a tap slow on the hold's
    start, or a thread starved and then handed seconds of samples at once): the reading is
    the 0.25 s just before the zero's time, not before the block the reader was in."""
    import threading

    from logger.pipeline import HoldStarted
    from logger.records import SampleBlock

    from .pty_device import PtyDevice, hold_profile_n, sample_frames

    class SlowOnHoldStart(LiveTap):
        def __init__(self) -> None:
            self.inside, self.release = threading.Event(), threading.Event()

        def samples(self, live: LiveSession, block: SampleBlock) -> None:
            pass

        def event(self, live: LiveSession, item: object) -> None:
            if isinstance(item, HoldStarted):
                self.inside.set()
                self.release.wait(10)

    frames = sample_frames(hold_profile_n(3000))  # rest; 1.0-1.2 s a ramp to 30 N; 30 N
    device, tap = PtyDevice(), SlowOnHoldStart()
    live = LiveSession(device.path, Config(), db_path=db_path, taps=[tap])
    live.arm_recording()
    live.start()
    try:
        assert live.wait_ready(10) and device.streaming.wait(10)
        device.stream(frames[:50])  # 1 s at rest
        assert wait_until(lambda: live.t_s >= 0.97, 10.0)
        device.stream(frames[50:100])  # the ramp: the reader stops inside its block
        assert tap.inside.wait(10)
        zeroing = threading.Thread(target=live.tare)
        zeroing.start()
        zeroing.join(0.3)  # the Zero press, while the reader is held
        tap.release.set()
        zeroing.join(10)
        device.stream(frames[100:])
        assert wait_until(lambda: live.t_s >= 2.9, 10.0)
    finally:
        tap.release.set()
        sid = live.stop()
        device.close()
    with SessionStore(db_path) as store:
        rec = store.load_session(sid)
        t_s, raw = store.load_samples(sid)
    (user,) = [z for z in rec.zeros if z.source is ZeroSource.USER]
    before = raw[(t_s < user.t_s) & (t_s >= user.t_s - 0.2505), 0]
    assert len(before) == 250
    assert user.zero_counts == pytest.approx(float(np.mean(before)))
