from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from logger.config import Limits
from logger.limits import ContactSpan, LimitMonitor, excursion_starts, hysteresis_n
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


def test_hysteresis():
    assert hysteresis_n(40.0) == pytest.approx(0.8)
    assert hysteresis_n(10.0) == 0.5


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


def test_falling_below_the_band_ends_the_excursion():
    t, f = curve(
        [(0, 0), (1, 41), (2, 41), (2.5, 39.5), (3, 41), (4, 41), (4.5, 39.0), (5, 41), (6, 0)]
    )
    alerts = run(LimitMonitor(Limits()), t, f, block=333)
    # the dip to 39.5 stays inside the 0.8 N band; the dip to 39.0 leaves it
    assert [a.t_s for a in alerts] == pytest.approx([40 / 41, 4.75], abs=2e-3)


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
    f = np.array([41.0, 41.0, 39.5, 41.0, 39.0, 41.0])
    assert excursion_starts(f, 40.0, 0.8, False) == ([0, 5], True)
    assert excursion_starts(f, 40.0, 0.8, True) == ([5], True)
    assert excursion_starts(np.array([]), 40.0, 0.8, True) == ([], True)


def test_empty_block():
    assert LimitMonitor(Limits()).process(np.array([]), np.array([])) == []


@given(
    levels=st.lists(st.sampled_from([0.0, 30.0, 39.0, 39.5, 40.2, 41.0, 59.5, 61.0]), min_size=2),
    seed=st.integers(0, 2**32 - 1),
    n_cuts=st.integers(0, 40),
)
def test_alerts_do_not_depend_on_block_boundaries(levels, seed, n_cuts):
    rng = np.random.default_rng(seed)
    t = np.arange(len(levels) * 50) / 100.0
    f = np.repeat(levels, 50) + rng.normal(0, 0.3, len(t))
    whole = LimitMonitor(Limits()).process(t, f)
    mon = LimitMonitor(Limits())
    cuts = np.unique(np.concatenate([[0, len(t)], rng.integers(0, len(t), n_cuts)]))
    split = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        split += mon.process(t[a:b], f[a:b])
    assert split == whole
    # between two alerts of one kind force went below the level minus hysteresis
    for kind, level in ((AlertKind.WARN, 40.0), (AlertKind.MAX, 60.0)):
        times = [a.t_s for a in whole if a.kind == kind]
        for t0, t1 in zip(times, times[1:], strict=False):
            between = f[(t > t0) & (t < t1)]
            assert between.min() < level - hysteresis_n(level)
