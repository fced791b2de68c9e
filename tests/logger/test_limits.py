from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from calibration.models import Calibration
from firmware_protocol.framing import encode_frame
from firmware_protocol.messages import INT24_MAX, INT24_MIN, SetLimits
from logger.cli import main
from logger.config import MAX_FORCE_N, Limits
from logger.limits import (
    REARM_S,
    ContactSpan,
    ExcursionState,
    LimitMonitor,
    device_limits,
    excursion_starts,
    hysteresis_n,
)
from logger.points import PointPlan
from logger.records import Alert, AlertKind, MarkSource, Point

RATE_HZ = 1000


def curve(knots, rate_hz=RATE_HZ):
    t = np.arange(round(knots[-1][0] * rate_hz) + 1) / rate_hz
    kt, kf = zip(*knots, strict=True)
    return t, np.interp(t, kt, kf)


def run(monitor, t, f, block=None, spans_for=None):
    alerts = []
    block = block or len(t)
    for a in range(0, len(t), block):
        spans = spans_for(a, min(a + block, len(t))) if spans_for else ()
        alerts += monitor.process(t[a : a + block], f[a : a + block], spans)
    return alerts


# 30 N plateau with a 45 N step held 1.3 s (from 3.0 s to 4.3 s)
OVER_WARN = [(0, 0), (1, 30), (3, 30), (3, 45), (4.3, 45), (4.3, 30), (6, 30), (7, 0)]


def test_hysteresis_and_rearm_time():
    assert hysteresis_n(40.0) == pytest.approx(2.0)
    assert hysteresis_n(60.0) == pytest.approx(3.0)
    assert hysteresis_n(10.0) == 1.0
    assert REARM_S == 1.0


def tremor(t, amplitude_n, seed=0):
    """10 Hz tremor wandering within 8–12 Hz (like the simulator's)."""
    phase0 = np.random.default_rng(seed).uniform(0, 2 * np.pi)
    w = 2 * np.pi * 0.07
    phase = 2 * np.pi * 10.0 * t - (2 * np.pi * 2.0 / w) * np.cos(w * t + phase0)
    return amplitude_n * np.sin(phase)


def test_one_warn_alert_for_a_1_3_s_excursion():
    t, f = curve(OVER_WARN)
    alerts = run(LimitMonitor(Limits()), t, f)
    k = int(np.argmax(f > 40.0))
    assert alerts == [
        Alert(t_s=t[k], kind=AlertKind.WARN, value=45.0, point_index=None, hold_index=None)
    ]
    assert t[k] == pytest.approx(3.0, abs=2e-3)


@pytest.mark.parametrize("block", [1, 7, 50, 1000, 10_000])
def test_chatter_around_the_level_gives_one_alert(block):
    t = np.arange(0, 10, 0.001)
    rng = np.random.default_rng(3)
    f = 40.0 + rng.uniform(-0.7, 0.7, len(t))  # crosses 40 N hundreds of times, never below 39.2
    f[:100] = 0.0
    crossings = np.count_nonzero(np.diff((f > 40).astype(int)) == 1)
    assert crossings > 100
    alerts = run(LimitMonitor(Limits()), t, f, block=block)
    assert [(a.kind, a.t_s) for a in alerts] == [(AlertKind.WARN, t[np.argmax(f > 40)])]


@pytest.mark.parametrize("block", [333, 10_000])
def test_only_a_stay_below_the_band_for_the_rearm_time_ends_the_excursion(block):
    t, f = curve(
        [(0, 0), (1, 41), (2, 41), (2.1, 38.5), (5, 38.5), (5.1, 41), (6, 41)]  # inside band
        + [(6.1, 36), (6.8, 36), (6.9, 41), (8, 41)]  # below the band for 0.8 s only
        + [(8.1, 36), (9.6, 36), (9.7, 41), (11, 41), (12, 0)]  # below it for 1.5 s: ends
    )
    alerts = run(LimitMonitor(Limits()), t, f, block=block)
    assert [a.t_s for a in alerts] == pytest.approx([40 / 41, 9.6 + 0.1 * 4 / 5], abs=2e-3)


def test_max_also_raises_warn_first():
    t, f = curve([(0, 0), (1, 65), (2, 65), (3, 0)])
    alerts = run(LimitMonitor(Limits()), t, f, block=100)
    assert [a.kind for a in alerts] == [AlertKind.WARN, AlertKind.MAX]
    assert alerts[0].t_s == pytest.approx(40 / 65, abs=2e-3)
    assert alerts[1].t_s == pytest.approx(60 / 65, abs=2e-3)
    assert alerts[1].value > 60.0


def test_point_overrides_apply_after_the_mark():
    plan = PointPlan([Point(0, "A", warn_n=35.0, max_n=37.0), Point(1, "B")], Limits())
    mon = LimitMonitor(Limits(), plan)
    t, f = curve([(0, 0), (1, 38), (3, 38), (4, 0)])
    assert run(mon, t, f) == []
    plan.mark(4.0, MarkSource.DEVICE)
    t2 = t + 5.0
    alerts = run(mon, t2, f)
    assert [(a.kind, a.point_index) for a in alerts] == [(AlertKind.WARN, 0), (AlertKind.MAX, 0)]
    plan.mark(10.0, MarkSource.DEVICE)
    assert run(mon, t + 10.0, f) == []


def test_alerts_carry_the_hold_index_of_their_span():
    t, f = curve(OVER_WARN)
    span = ContactSpan(first=500, stop=len(t) - 100, start_s=0.5, key=500, hold_index=4)
    alerts = LimitMonitor(Limits()).process(t, f, [span])
    assert [a.hold_index for a in alerts] == [4]


def test_hold_duration_once_per_contact():
    limits = Limits(max_hold_s=5.0)
    mon = LimitMonitor(limits)
    t = np.arange(0, 20, 0.01)
    f = np.full(len(t), 20.0)

    def spans_for(a, b):  # one contact from sample 100 (1.0 s) to the end
        return [ContactSpan(max(100 - a, 0), b - a, 1.0, 100, 0)]

    alerts = run(mon, t, f, block=64, spans_for=spans_for)
    assert len(alerts) == 1
    a = alerts[0]
    assert a.kind == AlertKind.HOLD_DURATION
    assert a.t_s == pytest.approx(6.01)  # first sample more than 5 s after the start
    assert a.value == pytest.approx(5.01)
    assert a.hold_index == 0
    # a new contact gets its own alert
    more = mon.process(t + 20, f, [ContactSpan(0, len(t), 20.0, 2000, 1)])
    assert [(x.kind, x.hold_index, round(x.t_s, 2)) for x in more] == [
        (AlertKind.HOLD_DURATION, 1, 25.01)
    ]


def test_excursion_starts_state_carries_over():
    t = np.arange(8) * 0.5
    f = np.array([41.0, 39.0, 37.0, 37.0, 37.0, 41.0, 37.0, 41.0])
    # 37 N from 1.0 s to 2.0 s re-arms; the one sample at 3.0 s does not
    assert excursion_starts(t, f, 40.0, 2.0, ExcursionState()) == (
        [0, 5],
        ExcursionState(active=True),
    )
    assert excursion_starts(t, f, 40.0, 2.0, ExcursionState(active=True)) == (
        [5],
        ExcursionState(active=True),
    )
    # a run below the band that began in the previous block counts from its start
    assert excursion_starts(t[2:], f[2:], 40.0, 2.0, ExcursionState(True, 0.0)) == (
        [3],
        ExcursionState(active=True),
    )
    assert excursion_starts(t[6:7], f[6:7], 40.0, 2.0, ExcursionState(True)) == (
        [],
        ExcursionState(True, 3.0),
    )
    assert excursion_starts(np.array([]), np.array([]), 40.0, 2.0, ExcursionState(True)) == (
        [],
        ExcursionState(True),
    )


def test_data_gap_below_the_band_counts_towards_the_rearm_time():
    t = np.array([0.0, 0.1, 0.2, 5.0, 5.1])
    f = np.array([41.0, 37.0, 37.0, 37.0, 41.0])
    mon = LimitMonitor(Limits())
    alerts = mon.process(t[:3], f[:3]) + mon.process(t[3:], f[3:])
    assert [a.t_s for a in alerts] == [0.0, 5.1]


@pytest.mark.parametrize("amplitude_n", [0.3, 0.6, 1.0])
@pytest.mark.parametrize("block", [1, 64, 1000, 100_000])
def test_drifting_plateau_just_above_warn_with_tremor_gives_one_alert(amplitude_n, block):
    # the audit case: 40.5 N drifting -0.05 N/s for 30 s, 10 Hz tremor and sensor noise
    t, f = curve([(0, 0), (1, 0), (2, 40.5), (32, 39.0), (32.5, 0), (34, 0)])
    f = f + np.where(f > 5, tremor(t, amplitude_n), 0.0)
    f += np.random.default_rng(7).normal(0, 0.1, len(t))
    crossings = np.count_nonzero(np.diff((f > 40).astype(int)) == 1)
    assert crossings > 20  # the force really chatters across the level
    mon = LimitMonitor(Limits())
    alerts = run(mon, t, f, block=block)
    assert [a.kind for a in alerts] == [AlertKind.WARN]
    assert alerts[0].t_s == t[np.argmax(f > 40)]
    assert not mon.in_excursion(AlertKind.WARN)  # the release re-armed it


@pytest.mark.parametrize("block", [50, 100_000])
def test_two_genuine_excursions_give_two_alerts(block):
    gap_s = REARM_S + 0.5  # well below the level, longer than the re-arm time
    knots = [(0, 0), (1, 30), (2, 30), (2.2, 45), (4, 45), (4.2, 30), (4.2 + gap_s, 30)]
    knots += [(4.4 + gap_s, 45), (6 + gap_s, 45), (7 + gap_s, 0)]
    t, f = curve(knots)
    f = f + tremor(t, 0.5) + np.random.default_rng(1).normal(0, 0.1, len(t))
    alerts = run(LimitMonitor(Limits()), t, f, block=block)
    assert [a.kind for a in alerts] == [AlertKind.WARN, AlertKind.WARN]
    assert [a.t_s for a in alerts] == pytest.approx([2.13, 4.33 + gap_s], abs=0.02)


def test_max_level_hovering_with_tremor_one_alert_each():
    limits = Limits(warn_n=25.0, max_n=29.0)
    t, f = curve([(0, 0), (1, 0), (2, 29.5), (32, 28.0), (33, 0)])
    f = f + tremor(t, 0.8, seed=2) + np.random.default_rng(2).normal(0, 0.1, len(t))
    alerts = run(LimitMonitor(limits), t, f, block=100)
    assert [a.kind for a in alerts] == [AlertKind.WARN, AlertKind.MAX]


def test_empty_block():
    assert LimitMonitor(Limits()).process(np.array([]), np.array([])) == []


def reference_starts(t, f, level_n, hyst_n, rearm_s=REARM_S):
    """Sample-by-sample statement of the rule, for comparison."""
    starts, active, since = [], False, None
    for k in range(len(t)):
        if not active:
            if f[k] > level_n:
                starts.append(k)
                active = True
        elif f[k] < level_n - hyst_n:
            since = t[k] if since is None else since
            if t[k] >= since + rearm_s:
                active, since = False, None
        else:
            since = None
    return starts


LEVELS_N = [0.0, 30.0, 37.5, 38.5, 39.5, 40.2, 41.0, 56.5, 57.5, 59.5, 61.0]


@given(
    levels=st.lists(st.sampled_from(LEVELS_N), min_size=2, max_size=30),
    seed=st.integers(0, 2**32 - 1),
    n_cuts=st.integers(0, 40),
)
def test_alerts_do_not_depend_on_block_boundaries(levels, seed, n_cuts):
    rng = np.random.default_rng(seed)
    t = np.arange(len(levels) * 60) / 100.0  # 0.6 s per level
    f = np.repeat(levels, 60) + rng.normal(0, 0.3, len(t))
    whole = LimitMonitor(Limits()).process(t, f)
    mon = LimitMonitor(Limits())
    cuts = np.unique(np.concatenate([[0, len(t)], rng.integers(0, len(t), n_cuts)]))
    split = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        split += mon.process(t[a:b], f[a:b])
    assert split == whole
    for kind, level in ((AlertKind.WARN, 40.0), (AlertKind.MAX, 60.0)):
        hyst = hysteresis_n(level)
        times = [a.t_s for a in whole if a.kind == kind]
        assert times == [t[k] for k in reference_starts(t, f, level, hyst)]
        # between two alerts of one kind force stayed below level - hysteresis for REARM_S
        for t0, t1 in zip(times, times[1:], strict=False):
            sel = (t > t0) & (t < t1)
            below = np.concatenate([[False], f[sel] < level - hyst, [False]])
            edges = np.diff(below.astype(int))
            ts = t[sel]
            runs = zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0], strict=True)
            assert max(ts[b - 1] - ts[a] for a, b in runs) >= REARM_S - 1e-9


# ---------------------------------------------------------------- end to end (docs/SCENARIOS.md)

DRIFTING_HOLD = """
[device]
noise_n = 0.1

[therapist]
seed = 3
tremor_n = 0.3

[[steps]]
action = "rest"
seconds = 1.0

[[steps]]
action = "hold"
force_n = 40.5
seconds = 30.0
drift_n_per_s = -0.05

[[steps]]
action = "rest"
seconds = 1.0
"""


@pytest.mark.parametrize(
    ("config", "expected"),
    [(None, "alerts: 1"), ("[limits]\nmax_hold_s = 10.0\n", "alerts: 2")],
)
def test_record_drifting_hold_at_the_warn_level(tmp_path, capsys, config, expected):
    scenario = tmp_path / "drift.toml"
    scenario.write_text(DRIFTING_HOLD)
    argv = ["record", "--port", f"sim://?scenario={scenario}&speed=0"]
    argv += ["--db", str(tmp_path / "x.sqlite3")]
    if config is not None:  # plus one hold_duration alert, once however long the hold
        (tmp_path / "c.toml").write_text(config)
        argv += ["--config", str(tmp_path / "c.toml")]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "holds: 1  " + expected + "  " in err


# ------------------------------------------------------- the device's own alarm (SET_LIMITS)


def test_device_limits_are_the_raw_counts_of_the_levels():
    msg, clamped = device_limits(Calibration.factory(4000.0, 120000), 40.0, 60.0)
    assert msg == SetLimits(280000, 360000, 1) and not clamped


@pytest.mark.parametrize(("gain", "end"), [(2e6, INT24_MAX), (-2e6, INT24_MIN)])
def test_levels_beyond_full_scale_are_clamped_to_the_adc_range(gain, end):
    msg, clamped = device_limits(Calibration.factory(gain, 0), 1999.0, 2000.0)  # ±4e9 counts
    assert clamped and msg == SetLimits(end, end, 1)
    encode_frame(msg, 1)  # what used to raise in the reader thread


@given(
    gain=st.floats(1e-3, 1e9) | st.floats(-1e9, -1e-3),
    offset=st.integers(INT24_MIN, INT24_MAX),
    warn_n=st.floats(1e-3, MAX_FORCE_N),
    span_n=st.floats(1e-3, MAX_FORCE_N),
)
def test_any_accepted_level_and_calibration_encode(gain, offset, warn_n, span_n):
    msg, _ = device_limits(Calibration.factory(gain, offset), warn_n, warn_n + span_n)
    assert INT24_MIN <= msg.warn_counts <= INT24_MAX and INT24_MIN <= msg.max_counts <= INT24_MAX
    encode_frame(msg, 1)


SENSITIVE = """
[device]
counts_per_n = 2000000.0
offset_counts = 0
noise_n = 0.0

[[steps]]
action = "rest"
seconds = 0.5

[[steps]]
action = "mark"

[[steps]]
action = "rest"
seconds = 1.5
"""


def test_a_point_level_beyond_full_scale_does_not_kill_the_reader(tmp_path, capsys, caplog):
    """At 2e6 counts/N the sensor reads 4 N at most; a point's 2000 N is 4e9 counts, which
    SET_LIMITS cannot carry. The device alarm is clamped; the session records on."""
    (tmp_path / "s.toml").write_text(SENSITIVE)
    (tmp_path / "c.toml").write_text('[[points]]\nname = "A"\nwarn_n = 1999\nmax_n = 2000\n')
    argv = ["record", "--port", f"sim://?scenario={tmp_path / 's.toml'}&speed=0"]
    argv += ["--db", str(tmp_path / "x.sqlite3"), "--config", str(tmp_path / "c.toml")]
    assert main(argv) == 0
    assert "device error" not in capsys.readouterr().err
    told = [r.getMessage() for r in caplog.records if r.name == "logger.live"]
    assert told == [  # once per change of the clamped alarm, and the reader lived on
        "device alarm: warn 40 N / max 60 N lie beyond the sensor's range at this "
        "calibration; it alarms at full scale",
        "device alarm: warn 1999 N / max 2000 N lie beyond the sensor's range at this "
        "calibration; it alarms at full scale",
    ]
    assert not [r for r in caplog.records if r.exc_info]
