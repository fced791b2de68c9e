"""Per-point statistics: trials, mean of trials, drop-first, CVs, left/right."""

from __future__ import annotations

import pytest

from logger.point_stats import (
    UNMARKED,
    finite_mean,
    left_right,
    point_name,
    point_stats,
    split_side,
)
from logger.records import Hold, Point


def hold(index: int, pi: int | None, mean_n: float, **kw) -> Hold:
    return Hold(
        index=index,
        point_index=pi,
        point=kw.get("point"),
        start_s=10.0 * index,
        end_s=10.0 * index + kw.get("duration_s", 5.0),
        duration_s=kw.get("duration_s", 5.0),
        mean_n=mean_n,
        peak_n=mean_n + 2.0,
        cv_pct=kw.get("cv_pct", 3.0),
        ramp_rate_n_per_s=kw.get("ramp", 8.0),
        time_over_warn_s=0.0,
        time_over_max_s=0.0,
        in_target_pct=kw.get("in_target_pct"),
    )


POINTS = [
    Point(0, "Upper trapezius L", target_n=(25.0, 35.0)),
    Point(1, "Upper trapezius R"),
    Point(2, "Levator scapulae"),
]


def test_mean_of_trial_means_and_between_trial_cv():
    holds = [hold(0, 0, 20.0), hold(1, 0, 30.0), hold(2, 0, 40.0, in_target_pct=50.0)]
    (s, *rest) = point_stats(holds, POINTS)
    assert s.point == "Upper trapezius L" and s.trials == 3 and s.used_trials == 3
    assert s.mean_n == pytest.approx(30.0)
    assert s.sd_n == pytest.approx(10.0)
    assert s.between_trials_cv_pct == pytest.approx(100.0 / 3.0)
    assert s.plateau_cv_pct == pytest.approx(3.0)
    assert s.peak_n == pytest.approx(42.0)
    assert s.in_target_pct == pytest.approx(50.0)  # None trials are left out
    assert s.target_n == (25.0, 35.0)
    assert s.total_hold_s == pytest.approx(15.0)
    assert [r.trials for r in rest] == [0, 0]  # plan points without holds are listed


def test_drop_first_trial():
    holds = [hold(0, 1, 50.0, ramp=20.0), hold(1, 1, 30.0, ramp=6.0), hold(2, 1, 34.0, ramp=8.0)]
    s = point_stats(holds, POINTS, drop_first=True)[1]
    assert s.dropped_first and s.used_trials == 2 and s.trials == 3
    assert s.mean_n == pytest.approx(32.0)
    assert s.ramp_rate_n_per_s == pytest.approx(7.0)
    assert s.trial_means_n == (50.0, 30.0, 34.0)


def test_drop_first_keeps_a_single_trial():
    s = point_stats([hold(0, 2, 12.0)], POINTS, drop_first=True)[2]
    assert not s.dropped_first and s.mean_n == pytest.approx(12.0) and s.sd_n is None


def test_unmarked_holds_come_first():
    stats = point_stats([hold(0, None, 10.0), hold(1, 0, 20.0)], POINTS)
    assert stats[0].point == UNMARKED and stats[0].point_index is None
    assert stats[1].point == "Upper trapezius L"


def test_left_right_pairs_by_base_name():
    holds = [hold(0, 0, 30.0), hold(1, 1, 20.0), hold(2, 2, 10.0)]
    (pair,) = left_right(point_stats(holds, POINTS))
    assert pair.name == "Upper trapezius"
    assert pair.diff_n == pytest.approx(10.0)
    assert pair.diff_pct == pytest.approx(40.0)


def test_left_right_lists_a_lone_side():
    pts = [Point(0, "Gluteus medius R")]
    (pair,) = left_right(point_stats([hold(0, 0, 25.0)], pts))
    assert pair.left_mean_n is None and pair.right_mean_n == 25.0 and pair.diff_n is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Upper trapezius L", ("Upper trapezius", "L")),
        ("Infraspinatus r", ("Infraspinatus", "R")),
        ("Gluteal", None),
        ("Teres major LR", None),
        ("L", None),
    ],
)
def test_split_side(name, expected):
    assert split_side(name) == expected


def test_point_name_prefers_plan_then_recorded_then_number():
    plan = [Point(0, "Infraspinatus"), Point(2, "Gluteus medius")]
    assert point_name(None, plan, "ignored") == UNMARKED
    assert point_name(2, plan, "old name") == "Gluteus medius"
    assert point_name(1, plan, "Levator scapulae") == "Levator scapulae"
    assert point_name(1, plan, None) == "Point 2"


def test_names_of_holds_off_the_plan_come_from_the_holds():
    stats = point_stats([hold(0, 5, 20.0, point="Piriformis"), hold(1, 6, 20.0)], [])
    assert [s.point for s in stats] == ["Piriformis", "Point 7"]


def test_finite_mean_leaves_out_none_and_nan():
    assert finite_mean([1.0, None, float("nan"), 3.0]) == 2.0
    assert finite_mean([None, float("nan")]) is None
