from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from logger.config import HoldConfig
from logger.hold_detector import (
    HoldDetector,
    HoldEventKind,
    HoldLevels,
    detect_holds,
    hold_metrics,
    plateau_range,
)
from logger.records import Hold

CFG = HoldConfig(onset_n=5.0, release_n=4.0, min_duration_s=2.0)
RATE_HZ = 1000


def curve(knots: list[tuple[float, float]], rate_hz: int = RATE_HZ):
    """Piecewise-linear force through (t_s, force_n) knots, sampled from 0 to the last knot."""
    t_end = knots[-1][0]
    t = np.arange(round(t_end * rate_hz) + 1) / rate_hz
    kt, kf = zip(*knots, strict=True)
    return t, np.interp(t, kt, kf)


# rest 1 s, ramp 0→30 N at 10 N/s, plateau 10 s, ramp down at 10 N/s, rest
TRAPEZOID = [(0, 0), (1, 0), (4, 30), (14, 30), (17, 0), (20, 0)]


def metrics_of(t, f, **levels):
    holds = detect_holds(t, f, CFG)
    assert len(holds) == 1
    s, e = holds[0]
    kw = {"warn_n": 40.0, "max_n": 60.0, "target_n": None} | levels
    return s, e, hold_metrics(t, f, s, e, **kw)


def test_trapezoid_hand_computed():
    t, f = curve(TRAPEZOID)
    s, e, m = metrics_of(t, f)
    assert t[s] == pytest.approx(1.5)  # 5 N is reached 0.5 s into the ramp
    assert f[s - 1] < 5.0 <= f[s]
    assert f[e - 1] >= 4.0 > f[e]
    assert m["start_s"] == pytest.approx(1.5)
    assert m["end_s"] == pytest.approx(16.6, abs=2e-3)  # 30 - 10·(t - 14) falls below 4
    assert m["duration_s"] == pytest.approx(15.1, abs=2e-3)
    # plateau: ≥ 27 N (90 % of the median 30 N), i.e. 3.7 s … 14.3 s
    p0, p1 = plateau_range(f[s:e])
    assert t[s + p0] == pytest.approx(3.7, abs=2e-3)
    assert t[s + p1 - 1] == pytest.approx(14.3, abs=2e-3)
    # mean: 10 s at 30 N plus two 0.3 s ramps averaging 28.5 N
    assert m["mean_n"] == pytest.approx((10 * 30 + 0.6 * 28.5) / 10.6, abs=1e-3)
    assert m["peak_n"] == 30.0
    assert m["ramp_rate_n_per_s"] == pytest.approx(10.0, rel=1e-9)
    assert m["time_over_warn_s"] == 0.0
    assert m["time_over_max_s"] == 0.0
    assert m["in_target_pct"] is None
    assert 0 < m["cv_pct"] < 2.0


def test_metrics_are_exactly_the_hold_record_fields():
    t, f = curve(TRAPEZOID)
    _, _, m = metrics_of(t, f)
    not_metrics = {"index", "point_index", "point", "cut_short"}
    fields = {fd.name for fd in dataclasses.fields(Hold)} - not_metrics
    assert set(m) == fields
    assert Hold(index=0, point_index=None, point=None, **m).mean_n == m["mean_n"]


@pytest.mark.parametrize("rate", [2.0, 6.8, 20.0])
def test_ramp_rate_follows_the_rise(rate):
    up_s = 30.0 / rate
    t, f = curve([(0, 0), (0.5, 0), (0.5 + up_s, 30), (0.5 + up_s + 5, 30), (up_s + 7, 0)])
    _, _, m = metrics_of(t, f)
    assert m["ramp_rate_n_per_s"] == pytest.approx(rate, rel=1e-6)


def test_ramp_rate_at_low_sample_rate_is_interpolated():
    t, f = curve(TRAPEZOID, rate_hz=10)
    _, _, m = metrics_of(t, f)
    assert m["ramp_rate_n_per_s"] == pytest.approx(10.0, rel=1e-9)


def test_ramp_rate_not_measurable_when_already_pressing_at_start():
    t, f = curve([(0, 20), (5, 30), (10, 30), (12, 0)])
    _, _, m = metrics_of(t, f)
    assert m["ramp_rate_n_per_s"] is None


def test_ramp_rate_not_measured_across_a_gap():
    t, f = curve(TRAPEZOID)
    keep = (t < 1.2) | (t > 1.3)  # 0.1 s lost in the ramp: bridged, ramp measured from 1.3 s
    _, _, m = metrics_of(t[keep], f[keep])
    assert m["ramp_rate_n_per_s"] == pytest.approx(10.0, rel=1e-9)
    keep = (t < 1.2) | (t > 2.0)  # 0.8 s lost: the rise before the gap is not used
    _, _, m = metrics_of(t[keep], f[keep])
    assert m["ramp_rate_n_per_s"] is None


def test_time_over_warn_and_max():
    # plateau 30 N with a 45 N step held 1.3 s and a 65 N step held 0.2 s
    knots = [(0, 0), (1, 30), (3, 30), (3, 45), (4.3, 45), (4.3, 30), (6, 30)]
    knots += [(6, 65), (6.2, 65), (6.2, 30), (9, 30), (10, 0)]
    t, f = curve(knots)
    _, _, m = metrics_of(t, f)
    assert m["time_over_warn_s"] == pytest.approx(1.5, abs=2e-3)
    assert m["time_over_max_s"] == pytest.approx(0.2, abs=2e-3)
    assert m["peak_n"] == 65.0
    _, _, m = metrics_of(t, f, warn_n=50.0, max_n=70.0)
    assert m["time_over_warn_s"] == pytest.approx(0.2, abs=2e-3)
    assert m["time_over_max_s"] == 0.0


def test_cv_and_in_target():
    t = np.arange(0, 10, 0.01)
    f = np.where(np.arange(len(t)) % 2 == 0, 29.0, 31.0)
    f[:10] = 0.0
    f[-10:] = 0.0
    s, e, m = metrics_of(t, f, target_n=(30.0, 40.0))
    assert m["mean_n"] == pytest.approx(30.0)
    assert m["cv_pct"] == pytest.approx(100 / 30)
    assert m["in_target_pct"] == pytest.approx(50.0)
    m = hold_metrics(t, f, s, e, warn_n=40, max_n=60, target_n=(25.0, 35.0))
    assert m["in_target_pct"] == 100.0
    m = hold_metrics(t, f, s, e, warn_n=40, max_n=60, target_n=(31.5, 35.0))
    assert m["in_target_pct"] == 0.0


def test_press_is_not_a_hold_and_hysteresis_keeps_a_hold():
    # a 1 s press, then a hold that sags to 4.5 N (between release and onset) and recovers
    knots = [(0, 0), (0.2, 12), (1.0, 12), (1.2, 0), (3, 0), (3.2, 20), (5, 20), (5.1, 4.5)]
    knots += [(6, 4.5), (6.1, 20), (9, 20), (9.2, 0), (10, 0)]
    t, f = curve(knots)
    holds = detect_holds(t, f, CFG)
    assert len(holds) == 1
    s, e = holds[0]
    assert t[s] == pytest.approx(3.0 + 0.2 * 5 / 20, abs=2e-3)
    assert t[e - 1] == pytest.approx(9.2 - 0.2 * 4 / 20, abs=2e-3)


def test_gap_longer_than_max_gap_splits_a_hold():
    t, f = curve(TRAPEZOID)
    keep = (t < 8.0) | (t >= 9.0)  # one second lost in the plateau
    holds = detect_holds(t[keep], f[keep], CFG)
    tk = t[keep]
    assert [(tk[s], tk[e - 1]) for s, e in holds] == [
        pytest.approx((1.5, 7.999)),
        pytest.approx((9.0, 16.6), abs=2e-3),
    ]
    keep = (t < 8.0) | (t >= 8.2)  # 0.2 s lost: bridged
    assert len(detect_holds(t[keep], f[keep], CFG)) == 1


def test_very_long_contact_is_cut():
    t, f = curve([(0, 0), (1, 30), (25, 30), (26, 0)], rate_hz=100)
    holds = detect_holds(t, f, CFG, max_contact_s=10.0)
    bounds = [t[s] for s, _ in holds] + [t[e - 1] for _, e in holds]
    assert bounds == pytest.approx([1 / 6, 10 + 1 / 6, 20 + 1 / 6, 10.16, 20.16, 25.86], abs=0.011)
    assert holds[0][1] == holds[1][0] and holds[1][1] == holds[2][0]
    det = HoldDetector(CFG, max_contact_s=10.0)
    ev = det.process(t, f) + det.flush()
    assert [(e.start_i, e.end_i) for e in ev if e.kind == HoldEventKind.ENDED] == holds


def test_open_hold_at_the_end_ends_at_the_last_sample():
    t, f = curve([(0, 0), (1, 30), (5, 30)])
    assert detect_holds(t, f, CFG) == [(int(np.argmax(f >= 5.0)), len(t))]


def test_streaming_events_and_current_state():
    t, f = curve(TRAPEZOID)
    det = HoldDetector(CFG, levels=lambda _i: HoldLevels(25.0, 60.0, (28.0, 32.0)))
    assert det.current is None
    ev = det.process(t[:3000], f[:3000])  # up to 2.999 s
    assert [e.kind for e in ev] == [HoldEventKind.STARTED]
    assert ev[0].start_s == pytest.approx(1.5)
    cur = det.current
    assert cur is not None
    assert cur.start_s == pytest.approx(1.5)
    assert cur.elapsed_s == pytest.approx(1.499)
    assert cur.peak_n == pytest.approx(19.99)
    assert cur.mean_n == pytest.approx((5 + 19.99) / 2, abs=1e-6)
    assert not cur.is_hold
    ev = det.process(t[3000:5000], f[3000:5000])
    assert ev == []
    assert det.current.is_hold
    ev = det.process(t[5000:], f[5000:])
    assert [e.kind for e in ev] == [HoldEventKind.ENDED]
    assert det.current is None
    m = ev[0].metrics
    assert m["time_over_warn_s"] == pytest.approx(11.0, abs=2e-3)  # > 25 N: 3.5 s … 14.5 s
    # plateau 3.7 … 14.3 s; inside 28…32 N from 3.8 s to 14.2 s
    assert m["in_target_pct"] == pytest.approx(100 * 10.4 / 10.6, abs=0.05)
    assert det.flush() == []


def test_streaming_press_rejected_and_flush_ends_open_hold():
    t, f = curve([(0, 0), (0.2, 12), (1.0, 12), (1.2, 0), (3, 0), (3.2, 20), (8, 20)])
    det = HoldDetector(CFG)
    ev = det.process(t, f)
    assert [e.kind for e in ev] == [
        HoldEventKind.STARTED,
        HoldEventKind.REJECTED,
        HoldEventKind.STARTED,
    ]
    assert ev[1].metrics is None
    # 5 N reached at 0.2·5/12 s; below 4 N after 1.0 + 0.2·8/12 s
    assert ev[1].end_s - ev[1].start_s == pytest.approx(1.0 + 0.2 * 8 / 12 - 0.2 * 5 / 12, abs=2e-3)
    end = det.flush()
    assert [e.kind for e in end] == [HoldEventKind.ENDED]
    assert end[0].end_i == len(t)
    assert end[0].end_s == 8.0


def test_reported_gap_closes_open_hold():
    t, f = curve([(0, 0), (1, 30), (5, 30)])
    det = HoldDetector(CFG)
    det.process(t, f)
    assert det.gap(5.0, 5.3) == []  # short: bridged
    ev = det.gap(5.0, 7.0)
    assert [e.kind for e in ev] == [HoldEventKind.ENDED]
    assert ev[0].end_s == 5.0
    # force still high after the gap: a new contact starts at the first sample
    ev = det.process(np.array([7.0, 7.001]), np.array([30.0, 30.0]))
    assert [(e.kind, e.start_s) for e in ev] == [(HoldEventKind.STARTED, 7.0)]


def test_process_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shapes"):
        HoldDetector(CFG).process(np.zeros(3), np.zeros(4))


# ---------------------------------------------------------------------------- property

segments = st.lists(
    st.tuples(
        st.floats(0.02, 4.0),  # segment duration, s
        st.sampled_from([0.0, 3.0, 4.0, 4.5, 5.0, 8.0, 20.0, 30.0, 45.0, 65.0]),  # end level
        st.booleans(),  # step (True) or linear ramp
    ),
    min_size=1,
    max_size=25,
)


@given(
    segs=segments,
    seed=st.integers(0, 2**32 - 1),
    noise_n=st.sampled_from([0.0, 0.3, 2.0]),
    rate_hz=st.sampled_from([10, 80, 500]),
    n_gaps=st.integers(0, 3),
    n_cuts=st.integers(0, 30),
    target=st.none() | st.just((25.0, 35.0)),
    max_contact_s=st.sampled_from([600.0, 3.0]),
)
def test_streaming_equals_offline(
    segs, seed, noise_n, rate_hz, n_gaps, n_cuts, target, max_contact_s
):
    rng = np.random.default_rng(seed)
    knots = [(0.0, 0.0)]
    for dur, level, step in segs:
        t0 = knots[-1][0]
        if step:
            knots.append((t0, level))
        knots.append((t0 + dur, level))
    t, f = curve(knots, rate_hz)
    f = f + rng.normal(0, noise_n, len(f)) if noise_n else f
    # time jumps: drop random runs of samples (short ones are bridged, long ones split)
    for _ in range(n_gaps):
        if len(t) == 0:
            break
        a = int(rng.integers(0, len(t)))
        keep = np.ones(len(t), dtype=bool)
        keep[a : a + int(rng.integers(1, 3 * rate_hz))] = False
        t, f = t[keep], f[keep]
    if len(t) == 0:
        return
    cfg = HoldConfig(onset_n=5.0, release_n=4.0, min_duration_s=0.5)
    levels = HoldLevels(40.0, 60.0, target)

    offline = [
        (s, e, hold_metrics(t, f, s, e, warn_n=40.0, max_n=60.0, target_n=target, lookback_s=1.5))
        for s, e in detect_holds(t, f, cfg, max_contact_s=max_contact_s)
    ]

    det = HoldDetector(cfg, levels=lambda _i: levels, lookback_s=1.5, max_contact_s=max_contact_s)
    cuts = np.unique(np.concatenate([[0, len(t)], rng.integers(0, len(t), n_cuts)]))
    events = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        events += det.process(t[a:b], f[a:b])
    events += det.flush()
    streamed = [(e.start_i, e.end_i, e.metrics) for e in events if e.kind == HoldEventKind.ENDED]
    assert streamed == offline
    n_started = sum(e.kind == HoldEventKind.STARTED for e in events)
    assert n_started == len(events) - n_started  # every contact ended (hold or press)
