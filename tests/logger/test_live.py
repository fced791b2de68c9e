"""LiveSession details the end-to-end recording tests do not isolate."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from calibration.models import ZeroSource
from logger.config import Config
from logger.live import PREROLL_S, DeviceNotice, LiveSession, limit_notice, wait_until
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


def test_record_keeps_a_pre_roll_so_a_hold_under_way_keeps_its_onset(tmp_path, db_path):
    """Record pressed 4 s into a hold: the session starts ≥ 10 s back and has the hold
    whole, with its real onset (5 N reached 0.25 s into a 1 s ramp to 20 N at 12 s)."""
    path = tmp_path / "preroll.toml"
    path.write_text(
        "[device]\nnoise_n = 0.02\n[therapist]\ntremor_n = 0.0\n"
        '[[steps]]\naction = "rest"\nseconds = 12.0\n'
        '[[steps]]\naction = "hold"\nforce_n = 20.0\nramp_s = 1.0\nseconds = 7.0\n'
        '[[steps]]\naction = "rest"\nseconds = 1.0\n'
    )
    live = LiveSession(f"sim://preroll?scenario={path}&speed=4", Config(), db_path=db_path)
    live.start()
    try:
        assert wait_until(lambda: live.t_s > 17.0, 20.0)
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
    assert hold.start_s + t0 == pytest.approx(12.25, abs=0.02)
    assert hold.duration_s == pytest.approx(8.0 - 0.25 + 0.2, abs=0.3)
    assert hold.mean_n == pytest.approx(20.0, abs=0.1)
    [live_hold] = live.holds  # the live table's, on the live timeline
    shifted = dataclasses.replace(hold, start_s=hold.start_s + t0, end_s=hold.end_s + t0)
    assert dataclasses.astuple(live_hold) == pytest.approx(dataclasses.astuple(shifted), abs=2e-3)


def test_a_unit_change_leaves_the_pipeline_and_new_levels_number_holds_on():
    """Changing units mid-recording restarted hold numbering: the next hold replaced an
    earlier one in the store. Display settings leave the pipeline alone now."""
    from logger.config import HoldConfig

    live = LiveSession("sim://never-opened", Config())
    pipeline = live.pipeline
    pipeline._n_holds = 3  # as if three holds were finished
    live.set_config(Config(units="kgf", contact_area_cm2=1.0))
    assert live.pipeline is pipeline and live.config.units == "kgf"
    live.set_config(Config(units="kgf", holds=HoldConfig(onset_n=6.0, release_n=5.0)))
    assert live.pipeline is not pipeline and live.pipeline.holds_finished == 3


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
