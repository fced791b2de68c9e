"""Per-point statistics over the holds of one session (pure: records in, records out).

A point is usually pressed several times in a session (trials). Algometry practice
averages 2–4 trials per site and often drops the first one, because the first
press is a familiarisation trial. Bilateral points ("Upper trapezius L" / "… R") are
compared side by side, since an asymmetry is what a therapist looks for.

Two coefficients of variation are reported because they answer different questions:
``plateau_cv_pct`` (mean of the per-hold plateau CVs, docs/EXPORTS.md) says how steady each
hold was; ``between_trials_cv_pct`` (CV of the trial means) says how repeatable the trials
were.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .records import Hold, Point

log = logging.getLogger(__name__)

UNMARKED = "(no point)"
"""Name used for holds taken before the first mark (``point_index`` is null)."""


@dataclass(frozen=True, slots=True)
class PointStats:
    """Statistics of one point's holds in one session; forces in N, times in s."""

    point_index: int | None
    point: str
    trials: int  # holds at this point
    used_trials: int  # trials in the averages (trials - 1 when the first is dropped)
    trial_means_n: tuple[float, ...]  # plateau mean of every trial, in order
    mean_n: float | None  # mean of the used trials' plateau means
    sd_n: float | None  # SD of the used trials' means (ddof=1; None for < 2 trials)
    between_trials_cv_pct: float | None
    plateau_cv_pct: float | None  # mean of the used trials' plateau CVs
    peak_n: float | None  # highest peak of the used trials
    ramp_rate_n_per_s: float | None  # mean of the used trials' ramp rates
    duration_s: float | None  # mean hold duration of the used trials
    total_hold_s: float  # all trials
    in_target_pct: float | None  # mean of the used trials' in-target shares
    target_n: tuple[float, float] | None
    dropped_first: bool


@dataclass(frozen=True, slots=True)
class LeftRight:
    """Left/right difference for a bilateral point, ``diff_n = left - right``."""

    name: str  # the point name without the " L"/" R" suffix
    left_mean_n: float | None
    right_mean_n: float | None
    diff_n: float | None
    diff_pct: float | None  # diff_n relative to the mean of both sides


def finite_mean(values: Iterable[float | None]) -> float | None:
    """Mean of the finite values, None and NaN left out; None when nothing is left."""
    arr = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    return float(arr.mean()) if arr.size else None


def point_name(point_index: int | None, points: Sequence[Point], recorded: str | None) -> str:
    """The name shown for a point: :data:`UNMARKED` for holds before the first mark, else
    the plan's name, else the name recorded with the hold, else ``"Point <index + 1>"``."""
    if point_index is None:
        return UNMARKED
    for p in points:
        if p.index == point_index:
            return p.name
    return recorded or f"Point {point_index + 1}"


def _point_key(hold: Hold) -> tuple[int, int]:
    # unmarked holds sort first, as they happen before the first mark
    return (-1, 0) if hold.point_index is None else (0, hold.point_index)


def point_stats(
    holds: Sequence[Hold],
    points: Sequence[Point] = (),
    *,
    drop_first: bool = False,
) -> list[PointStats]:
    """Statistics per point, in plan order (holds before the first mark come first).

    ``drop_first`` leaves the first trial out of the averages when a point has at least two
    trials (with one trial there is nothing else to report, so it is kept).
    Points of the plan that have no holds are listed with ``trials=0``.
    """
    by_point: dict[tuple[int, int], list[Hold]] = {}
    for hold in sorted(holds, key=lambda h: h.start_s):
        by_point.setdefault(_point_key(hold), []).append(hold)
    plan = {p.index: p for p in points}
    keys = set(by_point) | {(0, i) for i in plan}
    result: list[PointStats] = []
    for key in sorted(keys):
        trials = by_point.get(key, [])
        index = None if key[0] < 0 else key[1]
        plan_point = plan.get(index) if index is not None else None
        name = point_name(index, points, trials[0].point if trials else None)
        dropped = drop_first and len(trials) >= 2
        used = trials[1:] if dropped else trials
        means = np.array([h.mean_n for h in used], dtype=float)
        mean_n = float(means.mean()) if means.size else None
        sd_n = float(means.std(ddof=1)) if means.size >= 2 else None
        cv = (
            100.0 * sd_n / abs(mean_n)
            if sd_n is not None and mean_n is not None and mean_n != 0.0
            else None
        )
        result.append(
            PointStats(
                point_index=index,
                point=name,
                trials=len(trials),
                used_trials=len(used),
                trial_means_n=tuple(float(h.mean_n) for h in trials),
                mean_n=mean_n,
                sd_n=sd_n,
                between_trials_cv_pct=cv,
                plateau_cv_pct=finite_mean(h.cv_pct for h in used),
                peak_n=max((h.peak_n for h in used), default=None),
                ramp_rate_n_per_s=finite_mean(h.ramp_rate_n_per_s for h in used),
                duration_s=finite_mean(h.duration_s for h in used),
                total_hold_s=float(sum(h.duration_s for h in trials)),
                in_target_pct=finite_mean(h.in_target_pct for h in used),
                target_n=plan_point.target_n if plan_point is not None else None,
                dropped_first=dropped,
            )
        )
    return result


def split_side(name: str) -> tuple[str, str] | None:
    """``"Upper trapezius L"`` → ``("Upper trapezius", "L")``; None for unilateral names."""
    stripped = name.rstrip()
    if len(stripped) >= 3 and stripped[-2] == " " and stripped[-1] in "LRlr":
        return stripped[:-2].rstrip(), stripped[-1].upper()
    return None


def left_right(stats: Sequence[PointStats]) -> list[LeftRight]:
    """Pair points whose names end in " L" and " R" by the rest of the name.

    Pairs are listed in the order their first side appears; a side without a partner is
    listed with the other side's fields None, so a missing side is visible in a report.
    """
    pairs: dict[str, dict[str, float | None]] = {}
    for s in stats:
        side = split_side(s.point)
        if side is None:
            continue
        base, lr = side
        pairs.setdefault(base, {})[lr] = s.mean_n
    result: list[LeftRight] = []
    for base, sides in pairs.items():
        left, right = sides.get("L"), sides.get("R")
        diff = both = pct = None
        if left is not None and right is not None:
            diff, both = left - right, (left + right) / 2.0
            pct = 100.0 * diff / both if both else None
        result.append(LeftRight(base, left, right, diff, pct))
    return result
