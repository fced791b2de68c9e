from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from logger.config import HoldConfig, _toml_str
from logger.drills import (
    Drill,
    DrillError,
    DrillTask,
    TrialScore,
    builtin_drills,
    drill_trials,
    learning_curve,
    load_drill,
    parse_drill,
    score_drills,
    score_trial,
    summarise,
)
from logger.errors import BadInput
from logger.hold_detector import detect_holds, hold_metrics
from logger.records import Hold, ProtocolEvent, ProtocolKind

RATE_HZ = 100.0


def hold_trace(levels_n: list[float], ramp_n_per_s: float | None = 10.0, hold_s: float = 5.0):
    """Holds from rest: a linear ramp at ``ramp_n_per_s`` (None: a step), a flat plateau,
    a quick release, 3 s rest. Returns t, f and the holds as the detector finds them."""
    dt = 1 / RATE_HZ
    t_parts, f_parts, t0 = [], [], 0.0
    for level in levels_n:
        rise = level / ramp_n_per_s if ramp_n_per_s else dt / 2
        seg_t = np.arange(0, 3 + rise + hold_s + 0.2 + 3, dt)
        fall = 0.2 if ramp_n_per_s else dt / 2
        knots = [0, 3, 3 + rise, 3 + rise + hold_s, 3 + rise + hold_s + fall]
        f_parts.append(np.interp(seg_t, knots, [0, 0, level, level, 0]))
        t_parts.append(t0 + seg_t)
        t0 += seg_t[-1] + dt
    t, f = np.concatenate(t_parts), np.concatenate(f_parts)
    holds = [
        Hold(
            index=i,
            point_index=None,
            point=None,
            **hold_metrics(t, f, s, e, warn_n=1000.0, max_n=2000.0),
        )  # fmt: skip
        for i, (s, e) in enumerate(detect_holds(t, f, HoldConfig()))
    ]
    return t, f, holds


@given(target=st.floats(15.0, 80.0), error=st.floats(-8.0, 8.0), tol=st.floats(0.5, 5.0))
def test_a_hold_off_target_by_e_has_abs_error_e(target, error, tol):
    """A step to target + e and a flat plateau: the plateau mean is exactly target + e."""
    task = DrillTask(target_n=target, hold_s=5.0, tolerance_n=tol)
    t, f, (hold,) = hold_trace([target + error], ramp_n_per_s=None)
    s = score_trial(task, 0, hold, t, f)
    assert s.plateau_n == hold.mean_n  # the hold's own plateau mean, not a second one
    assert s.abs_error_n == pytest.approx(abs(error), abs=1e-9)
    assert s.error_n == pytest.approx(error, abs=1e-9)
    assert s.rel_error_pct == pytest.approx(abs(error) / target * 100, abs=1e-7)
    # a flat plateau is wholly inside the band or wholly outside it
    if abs(error) < tol - 1e-9:
        assert s.in_band_pct == 100.0
    elif abs(error) > tol + 1e-9:
        assert s.in_band_pct == 0.0
    assert s.overshoot_n == pytest.approx(max(0.0, error), abs=1e-9)
    assert s.ramp_rate_n_per_s == hold.ramp_rate_n_per_s and s.ramp_error_pct is None
    assert 0.0 <= s.score <= 100.0
    accuracy = 100 * max(0.0, 1 - abs(error) / (2 * tol))  # docs/DRILLS.md
    assert s.score == pytest.approx((accuracy + s.in_band_pct) / 2, abs=1e-6)


def test_trial_k_is_the_kth_hold_after_the_drill_event():
    drill = load_drill("basic")
    t, f, holds = hold_trace([30.0] * 9)
    # the drill starts after the first hold; a second drill after the 5th trial
    start = ProtocolEvent((holds[0].end_s + holds[1].start_s) / 2, ProtocolKind.DRILL,
                          drill.to_dict())  # fmt: skip
    short = Drill("two", "", drill.tasks[:2])
    second = ProtocolEvent((holds[5].end_s + holds[6].start_s) / 2, ProtocolKind.DRILL,
                           short.to_dict())  # fmt: skip
    other = ProtocolEvent(0.0, ProtocolKind.ROUND, {"label": "pre"})
    trials = drill_trials([second, other, start], holds)
    assert [(d.name, k, h.index) for d, k, h in trials] == [
        ("basic", 0, 1), ("basic", 1, 2), ("basic", 2, 3), ("basic", 3, 4), ("basic", 4, 5),
        ("two", 0, 6), ("two", 1, 7),
    ]  # fmt: skip
    scores = score_drills([start, second], holds, t, f)
    assert [s.hold_index for s in scores] == [h.index for _, _, h in trials]
    assert [s.feedback for s in scores] == [True] * 4 + [False, True, True]
    for s in scores:  # on target, ramped at the task's 10 N/s
        assert s.ramp_error_pct == pytest.approx(0.0, abs=1.0)
        assert s.abs_error_n < 0.2 and s.in_band_pct == 100.0 and s.score > 95.0
    summary = summarise(scores)
    assert summary.trials == summary.feedback_trials + summary.blind_trials == 7
    assert summary.abs_error_blind_n == scores[4].abs_error_n
    assert summary.in_band_pct == 100.0
    assert summary.score == pytest.approx(np.mean([s.score for s in scores]))


def test_builtin_drills_load_and_round_trip_through_json():
    assert {"basic", "ladder", "ppt-rate"} <= set(builtin_drills())
    for name in builtin_drills():
        drill = load_drill(name)
        assert Drill.from_dict(json.loads(json.dumps(drill.to_dict()))) == drill
    basic = load_drill("basic")
    assert [t.feedback for t in basic.tasks] == [True] * 4 + [False] * 2
    assert set(basic.tasks) == {
        DrillTask(target_n=30.0, hold_s=5.0, tolerance_n=3.0, ramp_n_per_s=10.0,
                  feedback=t.feedback, rest_s=4.0) for t in basic.tasks
    }  # fmt: skip
    assert load_drill("ppt-rate").tasks[0].target_n == pytest.approx(30.0)  # 300 kPa, 1 cm²


def test_drill_file_by_path_and_unknown_name(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\n[[tasks]]\ntarget_n = 25\nhold_s = 3\n', encoding="utf-8")
    drill = load_drill(path)
    assert drill.tasks == (DrillTask(25.0, 3.0, 2.5),)  # ± 10 % by default
    assert load_drill(str(path)) == drill
    with pytest.raises(DrillError, match=r"^nosuch: no such drill \(built-in: basic"):
        load_drill("nosuch")
    with pytest.raises(DrillError, match=r"gone\.toml: cannot read drill"):
        load_drill(tmp_path / "gone.toml")
    assert issubclass(DrillError, BadInput)  # the command line's exit code 2


def _toml(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return _toml_str(v)
    return repr(v)


WILD = (
    st.floats()
    | st.integers(-(2**40), 2**40)
    | st.booleans()
    | st.text(st.characters(blacklist_categories=("Cs",)), max_size=5)
    | st.sampled_from([0, -1.0, 1e9, 2000.5, 0.0])
)
TASK_KEYS = ["target_n", "hold_s", "tolerance_n", "tolerance_pct", "ramp_n_per_s",
             "feedback", "repeat", "rest_s", "colour"]  # fmt: skip


@given(key=st.sampled_from(TASK_KEYS), value=WILD, task=st.integers(0, 2))
@example(key="repeat", value=199, task=0)  # 201 trials in all: the 199 is named, not a 1
def test_a_bad_task_value_is_named_by_file_key_and_value(key, value, task):
    lines = ['name = "d"']
    for i in range(3):
        table = {"target_n": 30.0, "hold_s": 5.0} | ({key: value} if i == task else {})
        lines += ["[[tasks]]", *(f"{k} = {_toml(v)}" for k, v in table.items())]
    text = "\n".join(lines) + "\n"
    try:
        drill = parse_drill(text, "my.toml")
    except DrillError as exc:
        message = str(exc)
        assert "\n" not in message
        assert re.match(rf"^my\.toml: tasks\[{task}\]\.\w+ = .+: .+", message), message
    else:  # accepted: every trial is a sensible one
        assert 3 <= len(drill.tasks) <= 200
        for t in drill.tasks:
            assert 0 < t.tolerance_n < t.target_n <= 2000 and t.hold_s > 0 and t.rest_s >= 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[tasks]]\ntarget_n = 3\nhold_s = 1", "d.toml: name = None: expected a non-empty"),
        ('name = "x"', "d.toml: tasks = None: expected one or more [[tasks]] tables"),
        ('name = "x"\n[[tasks]]\ntarget_kpa = 300\nhold_s = 1',
         "d.toml: tasks[0].target_kpa = 300: needs contact_area_cm2 at the top of the file"),
        ('name = "x"\n[[tasks]]\ntarget_n = 3\ntarget_kpa = 30\nhold_s = 1',
         "d.toml: tasks[0].target_n = 3: give exactly one of target_n and target_kpa"),
        ('name = "x"\n[[tasks]]\ntarget_n = 3', "d.toml: tasks[0].hold_s = None: missing"),
        ('name = "x"\n[[tasks]]\ntarget_n = 3\nhold_s = 1\ntolerance_n = 3',
         "d.toml: tasks[0].tolerance_n = 3.0: must be < the target (3 N)"),
        ("name = [", "d.toml: invalid TOML"),
    ],
)  # fmt: skip
def test_drill_file_errors(text, message):
    with pytest.raises(DrillError) as info:
        parse_drill(text, "d.toml")
    assert str(info.value).startswith(message)


def _score(feedback: bool, abs_error: float, score: float) -> TrialScore:
    return TrialScore("d", 0, feedback, 30.0, 3.0, 0, 0.0, 5.0, 30.0 + abs_error, abs_error,
                      abs_error, abs_error / 30 * 100, 1.0, None, None, 100.0, 0.0, 0.0,
                      score)  # fmt: skip


def test_learning_curve_is_in_time_order_and_skips_sessions_without_drills():
    a = [_score(True, 4.0, 40.0), _score(False, 6.0, 20.0)]
    b = [_score(True, 1.0, 90.0), _score(False, 2.0, 70.0)]
    curve = learning_curve([("s2", "2026-02-01T10:00:00.000+00:00", b),
                            ("s0", "2026-01-15T10:00:00.000+00:00", []),
                            ("s1", "2026-01-20T10:00:00.000+00:00", a)])  # fmt: skip
    assert [p.session_id for p in curve] == ["s1", "s2"]
    assert curve[0].summary.abs_error_feedback_n == 4.0
    assert curve[0].summary.abs_error_blind_n == 6.0
    assert curve[1].summary.score == 80.0


@given(stop_after=st.integers(0, 6))
def test_a_stopped_drill_takes_no_more_trials(stop_after):
    """A DRILL event with empty data stops the drill: holds after it are no trials."""
    drill = load_drill("basic")
    _, _, holds = hold_trace([30.0] * 8, hold_s=2.5)
    start = ProtocolEvent(0.0, ProtocolKind.DRILL, drill.to_dict())
    at = holds[stop_after].start_s - 0.5
    trials = drill_trials([start, ProtocolEvent(at, ProtocolKind.DRILL, {})], holds)
    assert [h.index for _, _, h in trials] == list(range(stop_after))
