from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from logger.config import Config, HoldConfig, Limits
from logger.errors import BadInput
from logger.hold_detector import detect_contacts, detect_holds, hold_metrics
from logger.pipeline import Pipeline, PipelineOutput
from logger.points import PointPlan
from logger.records import AlertKind, Hold, MarkSource, Point, SampleBlock

RATE_HZ = 1000


def curve(knots, rate_hz=RATE_HZ):
    t = np.arange(round(knots[-1][0] * rate_hz) + 1) / rate_hz
    kt, kf = zip(*knots, strict=True)
    return t, np.interp(t, kt, kf)


def block(t, f, first_index=0, channels=1):
    force = np.repeat(f[:, None], channels, axis=1)
    if channels > 1:
        force[:, 1:] = -1.0  # other channels must be ignored
    raw = np.zeros((len(t), channels), dtype=np.int32)
    return SampleBlock(first_index=first_index, t_s=t, raw=raw, force_n=force)


def feed(pipe, t, f, size, marks=(), channels=1):
    """Feed in blocks of `size` samples; marks (t_s, source) are given between blocks,
    after the block containing their time."""
    out = PipelineOutput()
    pending = sorted(marks)
    for a in range(0, len(t), size):
        out.extend(pipe.process(block(t[a : a + size], f[a : a + size], a, channels)))
        while pending and pending[0][0] <= t[min(a + size, len(t)) - 1]:
            ts, src = pending.pop(0)
            out.marks.append(pipe.mark(ts, src))
    out.extend(pipe.finish())
    return out


# rest; mark A at 1 s; hold 30 N (ramp 10 N/s) 3.0–16.0 s; a 1 s press; mark B at 20 s;
# hold at 30 N with a 45 N step held 1.3 s; release
SESSION = [(0, 0), (2, 0), (5, 30), (15, 30), (16, 0), (17, 0), (17.1, 12), (17.9, 12), (18, 0)]
SESSION += [(21, 0), (24, 30), (26, 30), (26, 45), (27.3, 45), (27.3, 30), (30, 30), (31, 0)]
SESSION += [(32, 0)]
MARKS = [(1.0, MarkSource.DEVICE), (20.0, MarkSource.KEYBOARD)]


@pytest.mark.parametrize("size", [1, 37, 1000])
def test_scripted_session(size):
    cfg = Config(points=[Point(0, "A", target_n=(25.0, 35.0)), Point(1, "B", warn_n=42.0)])
    t, f = curve(SESSION)
    out = feed(Pipeline(cfg), t, f, size, MARKS)
    assert [(m.t_s, m.point_index, m.source) for m in out.marks] == [
        (1.0, 0, MarkSource.DEVICE),
        (20.0, 1, MarkSource.KEYBOARD),
    ]
    assert out.rejected == 1
    assert len(out.holds_started) == 3
    assert [(h.start_s, h.hold_index, h.point_index) for h in out.holds_started] == [
        pytest.approx((2.5, 0, 0)),
        pytest.approx((17 + 0.1 * 5 / 12, 1, 0), abs=2e-3),
        pytest.approx((21.5, 1, 1)),
    ]
    h0, h1 = out.holds
    assert (h0.index, h0.point_index, h0.point) == (0, 0, "A")
    assert (h1.index, h1.point_index, h1.point) == (1, 1, "B")
    assert h0.start_s == pytest.approx(2.5)
    assert h0.end_s == pytest.approx(15.866, abs=2e-3)
    assert h0.ramp_rate_n_per_s == pytest.approx(10.0, rel=1e-9)
    assert h0.peak_n == 30.0
    assert h0.in_target_pct is not None and h0.in_target_pct > 95.0
    assert h1.in_target_pct is None
    assert h1.time_over_warn_s == pytest.approx(1.3, abs=2e-3)  # B warns at 42 N
    assert h1.time_over_max_s == 0.0
    assert [(a.kind, a.point_index, a.hold_index, a.value) for a in out.alerts] == [
        (AlertKind.WARN, 1, 1, 45.0)
    ]
    assert out.alerts[0].t_s == pytest.approx(26.0, abs=2e-3)
    assert out.unlinked_alerts == []


def test_holds_equal_offline_metrics():
    cfg = Config(points=[Point(0, "A", warn_n=25.0, target_n=(28.0, 31.0))])
    t, f = curve(SESSION)
    f = f + np.random.default_rng(1).normal(0, 0.3, len(f))
    pipe = Pipeline(cfg)
    pipe.mark(0.0, MarkSource.CLI)
    out = feed(pipe, t, f, 250)
    expected = []
    for i, (s, e) in enumerate(detect_holds(t, f, cfg.holds)):
        m = hold_metrics(t, f, s, e, warn_n=25.0, max_n=60.0, target_n=(28.0, 31.0))
        expected.append(Hold(index=i, point_index=0, point="A", **m))
    assert out.holds == expected


def test_before_the_first_mark_holds_have_no_point():
    t, f = curve(SESSION)
    out = feed(Pipeline(Config()), t, f, 500)
    assert [(h.point_index, h.point) for h in out.holds] == [(None, None), (None, None)]
    assert [a.point_index for a in out.alerts] == [None]


def test_adhoc_points_without_a_plan():
    t, f = curve(SESSION)
    pipe = Pipeline(Config())
    out = feed(pipe, t, f, 500, MARKS)
    assert [(h.point_index, h.point) for h in out.holds] == [(0, "Point 1"), (1, "Point 2")]
    assert [p.name for p in pipe.points] == ["Point 1", "Point 2"]


def test_late_device_mark_moves_the_open_contact():
    cfg = Config(points=[Point(0, "A"), Point(1, "B")])
    t, f = curve([(0, 0), (1, 30), (5, 30), (6, 0)])
    pipe = Pipeline(cfg)
    out = pipe.process(block(t[:2000], f[:2000]))  # contact starts at 0.167 s
    assert [s.point_index for s in out.holds_started] == [None]
    pipe.mark(0.1, MarkSource.DEVICE)  # pressed before the contact, decoded after
    out = pipe.process(block(t[2000:], f[2000:], 2000))
    out.extend(pipe.finish())
    assert [(h.point_index, h.point) for h in out.holds] == [(0, "A")]
    pipe2 = Pipeline(cfg)
    pipe2.process(block(t[:2000], f[:2000]))
    pipe2.mark(1.5, MarkSource.DEVICE)  # pressed during the hold: it stays where it started
    out = pipe2.process(block(t[2000:], f[2000:], 2000))
    assert [h.point_index for h in out.holds] == [None]


@pytest.mark.parametrize("size", [100, 5000])
def test_alert_during_a_press_is_unlinked(size):
    t, f = curve([(0, 0), (0.2, 45), (1.0, 45), (1.2, 0), (3, 0), (4, 20), (8, 20), (9, 0)])
    out = feed(Pipeline(Config()), t, f, size)
    assert out.rejected == 1
    assert len(out.holds) == 1 and out.holds[0].index == 0
    warn = [a for a in out.alerts if a.kind == AlertKind.WARN]
    assert len(warn) == 1
    assert warn[0].hold_index is None
    if size < 1000:  # the press ended in a later block than its alert: reported again
        assert out.unlinked_alerts == warn
    else:
        assert out.unlinked_alerts == []


def test_hold_duration_alert_through_the_pipeline():
    cfg = Config(limits=Limits(max_hold_s=5.0))
    t, f = curve([(0, 0), (1, 20), (10, 20), (11, 0)], rate_hz=100)
    out = feed(Pipeline(cfg), t, f, 64)
    (a,) = out.alerts
    assert a.kind == AlertKind.HOLD_DURATION
    assert a.hold_index == 0
    assert a.t_s == pytest.approx(0.25 + 5.01)  # onset at 0.25 s, first sample after +5 s
    assert a.value == pytest.approx(5.01)


@pytest.mark.parametrize("size", [1, 64, 1000, 100_000])
def test_hovering_at_warn_with_tremor_one_alert_of_each_kind_per_hold(size):
    # two 40.5 N holds drifting down through the warn level with 10 Hz tremor and noise,
    # each longer than max_hold_s: per hold one warn and one hold_duration alert
    cfg = Config(limits=Limits(max_hold_s=8.0))
    hold = [(1, 40.5), (21, 39.5), (21.5, 0), (23, 0)]
    t, f = curve([(0, 0), *hold, *[(ts + 23, fn) for ts, fn in hold]])
    f = f + 0.6 * np.sin(2 * np.pi * 10.0 * t) * (f > 5)
    f += np.random.default_rng(5).normal(0, 0.1, len(t))
    assert np.count_nonzero(np.diff((f > 40).astype(int)) == 1) > 20
    out = feed(Pipeline(cfg), t, f, size)
    assert len(out.holds) == 2
    kinds = [AlertKind.WARN, AlertKind.HOLD_DURATION]
    assert [(a.kind, a.hold_index) for a in out.alerts] == [
        *[(k, 0) for k in kinds],
        *[(k, 1) for k in kinds],
    ]


def test_gap_ends_the_open_hold():
    t, f = curve([(0, 0), (1, 30), (6, 30)])
    pipe = Pipeline(Config())
    pipe.process(block(t, f))
    assert not pipe.gap(6.0, 6.2)  # bridged
    assert pipe.current_hold is not None
    assert not pipe.gap(6.5, 9.0)  # samples up to 6.5 s not processed yet: nothing to do
    assert pipe.current_hold is not None
    assert not pipe.gap(6.0, 9.0)  # ends the hold; reported with the next output
    assert pipe.current_hold is None
    out = pipe.process(block(t + 9.0, np.zeros(len(t)), len(t)))
    assert len(out.holds) == 1 and out.holds[0].end_s == 6.0
    assert not out.alerts
    assert not pipe.finish()


def test_hold_ended_by_a_gap_is_reported_by_finish():
    t, f = curve([(0, 0), (1, 30), (6, 30)])
    pipe = Pipeline(Config())
    pipe.process(block(t, f))
    pipe.gap(6.0, 60.0)
    out = pipe.finish()
    assert [h.end_s for h in out.holds] == [6.0]
    assert not out.holds[0].cut_short  # the gap ended it, not the end of the recording


def test_a_hold_still_going_at_the_end_is_flagged_cut_short():
    t, f = curve([(0, 0), (1, 30), (6, 30), (7, 0), (8, 0), (9, 30), (12, 30)])
    pipe = Pipeline(Config())
    out = pipe.process(block(t, f))
    assert [h.cut_short for h in out.holds] == [False]
    [last] = pipe.finish().holds
    assert last.cut_short and last.end_s == 12.0


def test_long_gap_same_result_with_or_without_gap_call():
    t, f = curve(SESSION)
    keep = (t < 8.0) | (t >= 9.0)
    tk, fk = t[keep], f[keep]
    split = int(np.searchsorted(tk, 9.0))
    a = Pipeline(Config())
    out_a = a.process(block(tk[:split], fk[:split]))
    a.gap(float(tk[split - 1]), 9.0)
    out_a.extend(a.process(block(tk[split:], fk[split:], split)))
    out_a.extend(a.finish())
    out_b = feed(Pipeline(Config()), tk, fk, 10_000)
    assert out_a.holds == out_b.holds
    assert [h.end_s for h in out_a.holds][:2] == pytest.approx([7.999, 15.866], abs=2e-3)


def test_multichannel_block_uses_channel_0():
    t, f = curve(SESSION)
    out = feed(Pipeline(Config()), t, f, 1000, channels=3)
    assert len(out.holds) == 2


def test_uncalibrated_block_is_refused():
    with pytest.raises(ValueError, match="force_n is None"):
        Pipeline(Config()).process(SampleBlock(0, np.zeros(2), np.zeros((2, 1), np.int32)))


def test_jump_and_bad_jump():
    pipe = Pipeline(Config(points=[Point(0, "A"), Point(1, "B")]))
    assert pipe.jump(1, 2.0, MarkSource.KEYBOARD).point_index == 1
    with pytest.raises(BadInput):
        pipe.jump(5, 3.0, MarkSource.KEYBOARD)
    assert pipe.plan.current_index == 1


def test_explicit_plan_and_live_state():
    plan = PointPlan([Point(0, "X", max_n=50.0)], Limits())
    pipe = Pipeline(Config(holds=HoldConfig(onset_n=10.0, release_n=8.0)), plan)
    assert pipe.plan is plan
    t, f = curve([(0, 0), (1, 20), (3, 20)])
    pipe.process(block(t, f))
    cur = pipe.current_hold
    assert cur is not None and cur.start_s == pytest.approx(0.5)
    assert cur.peak_n == 20.0 and cur.is_hold


def test_marks_from_another_thread_while_processing():
    t, f = curve(SESSION)
    pipe = Pipeline(Config(points=[Point(i, str(i)) for i in range(50)]))
    marks = []

    def marker():
        for i in range(40):
            marks.append(pipe.mark(float(i), MarkSource.MOUSE))

    th = threading.Thread(target=marker)
    th.start()
    out = feed(pipe, t, f, 100)
    th.join()
    assert [m.point_index for m in marks] == list(range(40))
    assert len(out.holds) == 2


def segments(levels_n: list[float], longest_s: float, most: int):
    """Random traces: (duration, level) segments joined by ramps."""
    return st.lists(
        st.tuples(st.floats(0.05, longest_s), st.sampled_from(levels_n)), min_size=1, max_size=most
    )


def noisy_trace(segs, rng: np.random.Generator, noise_n: float) -> tuple[np.ndarray, np.ndarray]:
    """The segments at 100 Hz from 0 N, with white noise."""
    knots = [(0.0, 0.0)]
    for dur, level in segs:
        knots.append((knots[-1][0] + dur, level))
    t, f = curve(knots, rate_hz=100)
    return t, f + rng.normal(0, noise_n, len(f))


@given(
    segs=segments([0.0, 4.5, 8.0, 30.0, 41.0, 62.0], 4.0, 20),
    seed=st.integers(0, 2**32 - 1),
    n_cuts=st.integers(0, 30),
    mark_at=st.lists(st.floats(0.0, 60.0), max_size=4),
)
def test_pipeline_output_does_not_depend_on_block_boundaries(segs, seed, n_cuts, mark_at):
    rng = np.random.default_rng(seed)
    t, f = noisy_trace(segs, rng, 0.2)
    cfg = Config(
        holds=HoldConfig(min_duration_s=1.0),
        limits=Limits(max_hold_s=3.0),
        points=[Point(0, "A", warn_n=35.0), Point(1, "B"), Point(2, "C", max_n=50.0)],
    )
    # marks are applied between blocks: cut the stream at every mark in both runs
    mark_i = sorted({int(np.searchsorted(t, m)) for m in mark_at if m <= t[-1]})
    cuts_a = np.unique(np.concatenate([[0, len(t)], np.array(mark_i, dtype=int)]))
    extra = rng.integers(0, len(t), n_cuts)
    cuts_b = np.unique(np.concatenate([cuts_a, extra]))

    def run(cuts):
        pipe = Pipeline(cfg)
        out = PipelineOutput()
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            if a in mark_i:
                out.marks.append(pipe.mark(float(t[a]) - 1e-9, MarkSource.DEVICE))
            out.extend(pipe.process(block(t[a:b], f[a:b], int(a))))
        out.extend(pipe.finish())
        return out

    one, many = run(cuts_a), run(cuts_b)
    assert many.holds == one.holds
    assert many.alerts == one.alerts
    assert many.rejected == one.rejected
    assert [h.index for h in one.holds] == list(range(len(one.holds)))
    assert {a.hold_index for a in one.alerts} <= {None} | {h.index for h in one.holds}
    assert len(one.holds_started) == len(one.holds) + one.rejected


def test_the_open_hold_keeps_the_point_where_it_began():
    plan = PointPlan([Point(0, "A", target_hold_s=7.0), Point(1, "B", target_hold_s=60.0)])
    pipe = Pipeline(Config(), plan)
    pipe.mark(0.5, MarkSource.KEYBOARD)
    t, f = curve([(0, 0), (1, 0), (2, 30), (5, 30)])
    pipe.process(block(t, f))
    assert pipe.current_hold_point == plan.points[0]
    pipe.mark(5.0, MarkSource.KEYBOARD)  # the next point, during the hold
    assert pipe.plan.current_index == 1 and pipe.current_hold_point == plan.points[0]
    pipe.process(block(t[1:] + 5.0, np.zeros(len(t) - 1), len(t)))
    assert pipe.current_hold_point is None


def test_new_thresholds_mid_hold_leave_that_hold_whole_and_judge_the_next():
    """A hold is under way when the onset rises above its plateau: it stays one hold, ended
    by the release it began with; the next contact at the same force is no hold at all."""
    t, f = curve([(0, 0), (1, 0), (1.5, 20), (6, 20), (6.5, 0), (8, 0), (8.5, 20), (13, 20),
                  (13.5, 0), (15, 0)])  # fmt: skip
    pipe = Pipeline(Config(limits=Limits(warn_n=30.0, max_n=50.0)))
    high = Config(holds=HoldConfig(onset_n=25.0, release_n=24.0),
                  limits=Limits(warn_n=15.0, max_n=50.0))  # fmt: skip
    out = PipelineOutput()
    mid = int(np.searchsorted(t, 3.0))
    out.extend(pipe.process(block(t[:mid], f[:mid])))
    assert pipe.current_hold is not None
    pipe.set_config(high)
    assert pipe.holds_in_force == HoldConfig() and pipe.current_hold is not None
    out.extend(pipe.process(block(t[mid:], f[mid:], mid)))
    out.extend(pipe.finish())
    [hold] = out.holds
    assert hold.start_s == pytest.approx(1.125, abs=2e-3)  # 5 N on a 40 N/s ramp
    assert hold.end_s == pytest.approx(6.4, abs=2e-3)  # last sample at or above 4 N
    assert hold.time_over_warn_s == 0.0  # judged by the 30 N it began with
    # the new 15 N warn level applies from the next block: the hold under way passes it
    assert [(a.kind, a.hold_index) for a in out.alerts] == [(AlertKind.WARN, 0)] * 1 + [
        (AlertKind.WARN, None)
    ]
    assert [a.t_s for a in out.alerts] == pytest.approx([3.0, 8.375], abs=2e-3)
    assert pipe.holds_in_force == high.holds
    assert len(out.holds_started) == 1  # 20 N never reaches the new 25 N onset


def test_a_plan_replaced_mid_hold_leaves_the_hold_its_point():
    plan = PointPlan([Point(0, "A", warn_n=10.0, max_n=70.0), Point(1, "B")])
    pipe = Pipeline(Config(), plan)
    pipe.mark(0.5, MarkSource.KEYBOARD)
    t, f = curve([(0, 0), (1, 0), (1.5, 20), (6, 20), (6.5, 0), (8, 0)])
    mid = int(np.searchsorted(t, 3.0))
    out = pipe.process(block(t[:mid], f[:mid]))
    plan.replace([Point(0, "X"), Point(1, "Y"), Point(2, "Z")])
    assert plan.current_index is None and pipe.current_hold_point == Point(0, "A", 10.0, 70.0)
    out.extend(pipe.process(block(t[mid:], f[mid:], mid)))
    [hold] = out.holds
    assert (hold.point_index, hold.point) == (0, "A")
    assert hold.time_over_warn_s == pytest.approx(5.0, abs=0.01)  # A's own 10 N warn level
    plan.replace([Point(0, "X", warn_n=5.0), Point(1, "Y"), Point(2, "Z")])
    pipe.jump(2, 8.0, MarkSource.MOUSE)
    plan.replace([Point(0, "X", warn_n=5.0), Point(1, "Y"), Point(2, "Z", max_n=90.0)])
    assert plan.current_index == 2 and plan.levels().max_n == 90.0  # Z is still there


HOLDS = st.builds(
    HoldConfig,
    onset_n=st.sampled_from([3.0, 5.0, 12.0, 25.0]),
    release_n=st.sampled_from([1.0, 2.5]),
    min_duration_s=st.sampled_from([0.3, 1.0, 2.0]),
)
PLANS = st.lists(st.sampled_from(["A", "B", "C"]), max_size=3)


@given(
    segs=segments([0.0, 2.0, 4.0, 8.0, 15.0, 30.0], 3.0, 16),
    seed=st.integers(0, 2**32 - 1),
    changes=st.lists(
        st.tuples(st.floats(0.0, 1.0), st.one_of(HOLDS, PLANS), st.booleans()), max_size=6
    ),
)
def test_settings_changed_between_blocks_match_an_offline_redetection(segs, seed, changes):
    """Thresholds and plans changed between any blocks: the holds are exactly those found
    offline, stretch by stretch, with the thresholds in force over each stretch (a change
    made during a contact takes over where that contact ends); each hold has the point
    that was current when it began."""
    t, f = noisy_trace(segs, np.random.default_rng(seed), 0.3)
    calls = sorted(((int(at * len(t)), change, mark) for at, change, mark in changes),
                   key=lambda call: call[0])  # fmt: skip
    pipe = Pipeline(Config(points=[Point(0, "A")]))
    out = PipelineOutput()
    reigns = [(0, pipe.holds_in_force)]  # (first sample, thresholds): the oracle's account
    point_at = np.full(len(t), -1)  # the plan's current point's name per sample (-1: none)
    names: list[str] = []
    pos = 0
    for at, change, mark in [*calls, (len(t), None, False)]:
        out.extend(pipe.process(block(t[pos:at], f[pos:at], pos)) if at > pos else PipelineOutput())
        cur = pipe.plan.current
        point_at[pos:at] = -1 if cur is None else _name_id(names, cur.name)
        pos = at
        if change is None:
            break
        if mark and at < len(t):
            pipe.mark(float(t[at]) - 1e-9, MarkSource.DEVICE)
        if isinstance(change, HoldConfig):
            pipe.set_config(Config(holds=change))
            start, cfg_then = reigns[-1]
            if start > at:  # a contact under way still holds the last change back
                reigns[-1] = (start, change)  # the latest change wins
                continue
            contacts = detect_contacts(t[start:at], f[start:at], cfg_then)
            if contacts and contacts[-1][1] == at - start:  # open at the change
                s0 = contacts[-1][0]
                whole = detect_contacts(t[start:], f[start:], cfg_then)
                reigns.append((start + next(e for s, e in whole if s == s0), change))
            else:
                reigns.append((at, change))
        else:
            pipe.plan.replace([Point(i, n) for i, n in enumerate(change)])
    out.extend(pipe.finish())
    expected = []
    bounds = [a for a, _ in reigns[1:]] + [len(t)]
    for (a, c), b in zip(reigns, bounds, strict=True):
        expected += [(a + s, a + e) for s, e in detect_holds(t[a:b], f[a:b], c)]
    assert [(h.start_s, h.end_s) for h in out.holds] == [(t[s], t[e - 1]) for s, e in expected]
    for hold, (s, _) in zip(out.holds, expected, strict=True):
        want = None if point_at[s] == -1 else names[point_at[s]]
        assert hold.point == want


def _name_id(names: list[str], name: str) -> int:
    if name not in names:
        names.append(name)
    return names.index(name)
