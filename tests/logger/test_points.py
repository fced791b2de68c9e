from __future__ import annotations

import pytest

from logger.config import Limits
from logger.errors import BadInput
from logger.hold_detector import HoldLevels
from logger.points import PointPlan
from logger.records import Mark, MarkSource, Point

PLAN = [
    Point(0, "Upper trapezius L", warn_n=35.0, target_n=(25.0, 35.0)),
    Point(1, "Upper trapezius R", max_n=50.0),
    Point(2, "Levator scapulae"),
]


def test_before_first_mark_no_point():
    plan = PointPlan(PLAN)
    assert plan.current_index is None
    assert plan.current is None
    assert plan.next == PLAN[0]
    assert plan.levels() == HoldLevels(40.0, 60.0, None)


def test_marks_advance_and_stay_on_last_point():
    plan = PointPlan(PLAN)
    marks = [plan.mark(float(t), MarkSource.DEVICE) for t in range(5)]
    assert [m.point_index for m in marks] == [0, 1, 2, 2, 2]
    assert marks[0] == Mark(0.0, 0, MarkSource.DEVICE)
    assert plan.current == PLAN[2]
    assert plan.next is None
    assert len(plan) == 3
    assert plan.added == []


def test_source_is_kept_and_coerced():
    plan = PointPlan(PLAN)
    m = plan.mark(1.5, "keyboard")
    assert m.source is MarkSource.KEYBOARD
    with pytest.raises(ValueError):
        plan.mark(2.0, "elbow")


def test_points_are_reindexed_copies():
    src = [Point(7, "A"), Point(9, "B")]
    plan = PointPlan(src)
    assert [p.index for p in plan.points] == [0, 1]
    assert [p.index for p in src] == [7, 9]


def test_levels_use_point_overrides():
    plan = PointPlan(PLAN, Limits(warn_n=40.0, max_n=60.0, max_hold_s=90.0))
    plan.mark(0.0, MarkSource.CLI)
    assert plan.levels() == HoldLevels(35.0, 60.0, (25.0, 35.0))
    plan.mark(1.0, MarkSource.CLI)
    assert plan.levels() == HoldLevels(40.0, 50.0, None)
    assert plan.levels(0) == HoldLevels(35.0, 60.0, (25.0, 35.0))


def test_jump():
    plan = PointPlan(PLAN)
    m = plan.jump(2, 3.0, MarkSource.MOUSE)
    assert m == Mark(3.0, 2, MarkSource.MOUSE)
    assert plan.current_index == 2
    assert plan.mark(4.0, MarkSource.KEYBOARD).point_index == 2
    assert plan.jump(0, 5.0, MarkSource.KEYBOARD).point_index == 0
    assert plan.next == PLAN[1]
    with pytest.raises(BadInput, match=r"point index 3 out of range \(plan has 3 points\)"):
        plan.jump(3, 6.0, MarkSource.KEYBOARD)
    with pytest.raises(BadInput):
        plan.jump(-1, 6.0, MarkSource.KEYBOARD)
    assert plan.current_index == 0


def test_empty_plan_creates_adhoc_points():
    plan = PointPlan([])
    assert plan.next == Point(0, "Point 1")
    marks = [plan.mark(float(t), MarkSource.DEVICE) for t in range(3)]
    assert [m.point_index for m in marks] == [0, 1, 2]
    assert [p.name for p in plan.points] == ["Point 1", "Point 2", "Point 3"]
    assert plan.added == plan.points
    assert plan.levels() == HoldLevels(40.0, 60.0, None)
    with pytest.raises(BadInput):
        plan.jump(3, 4.0, MarkSource.KEYBOARD)


def test_resume_a_plan():
    plan = PointPlan(PLAN, current_index=1)
    assert plan.current == PLAN[1]
    with pytest.raises(BadInput):
        PointPlan(PLAN, current_index=3)
    adhoc = PointPlan([Point(0, "Point 1")], current_index=0, adhoc=True)
    assert adhoc.mark(1.0, MarkSource.DEVICE).point_index == 1
    assert adhoc.points[1].name == "Point 2"


def test_replace_keeps_the_current_point_while_the_plan_has_it():
    plan = PointPlan(PLAN)
    plan.jump(1, 1.0, MarkSource.MOUSE)
    plan.replace([Point(0, p.name, warn_n=20.0) for p in PLAN])  # overrides edited
    assert plan.current_index == 1 and plan.levels().warn_n == 20.0
    plan.replace([Point(0, "X"), PLAN[1]])  # another plan with that point: on it still
    assert plan.current_index == 1 and plan.current.name == PLAN[1].name
    plan.replace([Point(7, "X"), Point(3, "Y")])  # without it: not started, renumbered
    assert plan.current_index is None and [p.index for p in plan.points] == [0, 1]
    assert not plan.adhoc
    plan.replace([])
    assert plan.adhoc and plan.mark(2.0, MarkSource.KEYBOARD).point_index == 0
    assert plan.added == [Point(0, "Point 1")]
