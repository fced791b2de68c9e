"""Trainer comparison: a trainee's holds against a reference (expert) recording.

The literature's strongest teaching result is comparison against an expert, scored by the
error in newtons (with live force feedback, students' error against an expert fell from
14.3 N to 4.0 N in published feedback-training studies). Holds are aligned at onset
(``start_s``, where force rises through ``onset_n``) and resampled onto one common grid of
time since onset, so curves from different sessions and devices (different sample rates)
line up sample for sample.

Scoring, per point (matched by name between the two sessions):
- the reference *template* is the mean of the reference session's aligned holds;
- every trainee hold is compared with the template over their overlap; ``rms_error_n`` and
  ``mean_diff_n`` (trainee − reference) are pooled over all those samples, so a trainee whose
  trials scatter around the template scores worse than one whose mean alone is close;
- ``in_band_pct`` is the share of the overlap within ±``tolerance_n`` of the template;
- ``in_target_pct`` is the hold metric of docs/EXPORTS.md (share of the plateau inside the point's
  target window), averaged over trials, for trainee and reference.

Resampling never bridges a gap in the recording: grid points farther than a few sample
intervals from a real sample are NaN and left out of every score. Pure: arrays and records
in, dataclasses out; ``session_data_from_store`` is the one helper that reads a store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .point_stats import finite_mean, point_name
from .records import Hold, Point

log = logging.getLogger(__name__)

DEFAULT_DT_S = 0.01
"""Common grid step: 100 Hz is finer than any hold's shape and coarser than every device."""

DEFAULT_TOLERANCE_N = 5.0
"""Band around the reference template: about the smallest real change of manual pressure
on a 1 cm² contact (30–50 kPa ≈ 3–5 N, the reliability literature's smallest real change)."""

GAP_FACTOR = 3.0
"""A sample spacing above this many median intervals is a gap: no grid point inside it."""


@dataclass(frozen=True, slots=True)
class HoldCurve:
    """One hold resampled onto the common grid; ``force_n[i]`` is at ``i * dt_s`` after onset."""

    hold_index: int
    point_index: int | None
    point: str
    dt_s: float
    force_n: np.ndarray  # float64, NaN where the recording has a gap

    @property
    def t_rel_s(self) -> np.ndarray:
        return np.arange(self.force_n.shape[0], dtype=float) * self.dt_s


@dataclass(slots=True)
class SessionData:
    """What the comparison needs from one session: its plan, holds and aligned curves."""

    points: Sequence[Point]
    holds: Sequence[Hold]
    curves: list[HoldCurve]
    session_id: str = ""
    started_at: str = ""


@dataclass(frozen=True, slots=True)
class PointComparison:
    """Trainee against reference at one point (forces in N, shares in %)."""

    point: str
    trainee_point_index: int | None
    reference_point_index: int | None
    trainee_trials: int
    reference_trials: int
    overlap_s: float  # summed over trainee trials
    rms_error_n: float | None
    mean_diff_n: float | None  # trainee − reference
    in_band_pct: float | None
    trainee_mean_n: float | None  # mean of the trials' plateau means
    reference_mean_n: float | None
    trainee_in_target_pct: float | None
    reference_in_target_pct: float | None
    target_n: tuple[float, float] | None
    dt_s: float
    reference_curve_n: np.ndarray = field(repr=False)  # template
    trainee_curve_n: np.ndarray = field(repr=False)  # mean of the trainee's trials

    @property
    def t_rel_s(self) -> np.ndarray:
        n = max(self.reference_curve_n.shape[0], self.trainee_curve_n.shape[0])
        return np.arange(n, dtype=float) * self.dt_s


@dataclass(frozen=True, slots=True)
class SessionComparison:
    """All matched points, plus scores pooled over every compared sample."""

    points: list[PointComparison]
    rms_error_n: float | None
    mean_diff_n: float | None
    in_band_pct: float | None
    trainee_in_target_pct: float | None
    tolerance_n: float
    unmatched_trainee: list[str]  # points only the trainee pressed
    unmatched_reference: list[str]  # points only the reference pressed


@dataclass(frozen=True, slots=True)
class ProgressEntry:
    """One session of a trainee's progress; ``rms_error_n`` is the score (lower is better)."""

    session_id: str
    started_at: str
    rms_error_n: float | None
    mean_diff_n: float | None
    in_band_pct: float | None
    in_target_pct: float | None
    points_compared: int


def name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def resample_hold(
    t_s: np.ndarray, force_n: np.ndarray, start_s: float, end_s: float, dt_s: float
) -> np.ndarray:
    """Force on the grid ``start_s + k·dt_s`` for ``0 ≤ k·dt_s ≤ end_s − start_s``.

    Linear interpolation between neighbouring samples; NaN where the neighbours are more
    than ``GAP_FACTOR`` median intervals apart (a gap) or outside the recording.
    """
    t_s = np.asarray(t_s, dtype=float)
    force_n = np.asarray(force_n, dtype=float)
    if force_n.ndim > 1:
        force_n = force_n[:, 0]
    n = int(np.floor((end_s - start_s) / dt_s + 1e-9)) + 1
    grid = start_s + np.arange(max(n, 0), dtype=float) * dt_s
    out = np.full(grid.shape, np.nan)
    if t_s.size < 2 or grid.size == 0:
        return out
    lo = max(int(np.searchsorted(t_s, start_s, side="right")) - 1, 0)
    hi = min(int(np.searchsorted(t_s, end_s, side="left")) + 1, t_s.size)
    t, f = t_s[lo:hi], force_n[lo:hi]
    if t.size < 2:
        return out
    spacing = np.diff(t)
    limit = GAP_FACTOR * float(np.median(spacing))
    right = np.clip(np.searchsorted(t, grid, side="left"), 1, t.size - 1)
    inside = (grid >= t[0]) & (grid <= t[-1]) & (spacing[right - 1] <= limit)
    # an exact hit on a sample is always valid, even next to a gap
    exact = t[right] == grid
    inside |= exact & (grid >= t[0])
    out[inside] = np.interp(grid[inside], t, f)
    return out


def load_hold_curves(
    load_forces: Callable[[float, float], tuple[np.ndarray, np.ndarray]],
    holds: Sequence[Hold],
    points: Sequence[Point] = (),
    *,
    dt_s: float = DEFAULT_DT_S,
) -> list[HoldCurve]:
    """Every hold of a recording, aligned at onset on the common grid, reading only each
    hold's samples through ``load_forces(t0_s, t1_s) -> (t_s, force_n)`` (so an 8-hour
    session stays cheap)."""
    curves = []
    for h in holds:
        t, f = load_forces(h.start_s - 2 * dt_s, h.end_s + 2 * dt_s)
        curve = resample_hold(t, f, h.start_s, h.end_s, dt_s)
        name = point_name(h.point_index, points, h.point)
        curves.append(HoldCurve(h.index, h.point_index, name, dt_s, curve))
    return curves


def mean_curve(curves: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean of NaN-padded curves of different lengths → (mean_n, count); NaN where count 0."""
    n = max((c.shape[0] for c in curves), default=0)
    stack = np.full((len(curves), n), np.nan)
    for row, c in zip(stack, curves, strict=True):
        row[: c.shape[0]] = c
    valid = np.isfinite(stack)
    count = valid.sum(axis=0)
    total = np.where(valid, stack, 0.0).sum(axis=0)
    mean = np.full(n, np.nan)
    np.divide(total, count, out=mean, where=count > 0)
    return mean, count


def _diffs(trainee: Sequence[np.ndarray], template: np.ndarray) -> np.ndarray:
    """Trainee − template over each trial's overlap with the template, concatenated."""
    parts = []
    for c in trainee:
        m = min(c.shape[0], template.shape[0])
        d = c[:m] - template[:m]
        parts.append(d[np.isfinite(d)])
    return np.concatenate(parts) if parts else np.empty(0)


def _scores(d: np.ndarray, tolerance_n: float) -> tuple[float | None, float | None, float | None]:
    """(rms_error_n, mean_diff_n, in_band_pct) of trainee − template differences."""
    if not d.size:
        return None, None, None
    in_band = float(100.0 * np.mean(np.abs(d) <= tolerance_n))
    return float(np.sqrt(np.mean(d * d))), float(d.mean()), in_band


def _compare_point(
    name: str,
    trainee_curves: Sequence[HoldCurve],
    reference_curves: Sequence[HoldCurve],
    trainee_holds: Sequence[Hold],
    reference_holds: Sequence[Hold],
    *,
    target_n: tuple[float, float] | None,
    tolerance_n: float,
    dt_s: float,
) -> tuple[PointComparison, np.ndarray]:
    """Score one point's trainee curves against the mean of its reference curves; also
    returns the trainee − template differences scored (pooled by :func:`compare_sessions`)."""
    template, _ = mean_curve([c.force_n for c in reference_curves])
    trainee_mean, _ = mean_curve([c.force_n for c in trainee_curves])
    d = _diffs([c.force_n for c in trainee_curves], template)
    rms, mean_diff, in_band = _scores(d, tolerance_n)
    pc = PointComparison(
        point=name,
        trainee_point_index=trainee_curves[0].point_index if trainee_curves else None,
        reference_point_index=reference_curves[0].point_index if reference_curves else None,
        trainee_trials=len(trainee_curves),
        reference_trials=len(reference_curves),
        overlap_s=float(d.size * dt_s),
        rms_error_n=rms,
        mean_diff_n=mean_diff,
        in_band_pct=in_band,
        trainee_mean_n=finite_mean(h.mean_n for h in trainee_holds),
        reference_mean_n=finite_mean(h.mean_n for h in reference_holds),
        trainee_in_target_pct=finite_mean(h.in_target_pct for h in trainee_holds),
        reference_in_target_pct=finite_mean(h.in_target_pct for h in reference_holds),
        target_n=target_n,
        dt_s=dt_s,
        reference_curve_n=template,
        trainee_curve_n=trainee_mean,
    )
    return pc, d


def compare_sessions(
    trainee: SessionData,
    reference: SessionData,
    *,
    tolerance_n: float = DEFAULT_TOLERANCE_N,
) -> SessionComparison:
    """Match points by name (case and spacing ignored) and score each; see module doc."""
    all_curves = [*trainee.curves, *reference.curves]
    dt_s = all_curves[0].dt_s if all_curves else DEFAULT_DT_S
    for c in all_curves:
        if not np.isclose(c.dt_s, dt_s):
            raise ValueError(f"curves on different grids: dt_s {c.dt_s} and {dt_s}")

    def group(data: SessionData) -> dict[str, tuple[str, list[HoldCurve], list[Hold]]]:
        out: dict[str, tuple[str, list[HoldCurve], list[Hold]]] = {}
        holds = {h.index: h for h in data.holds}
        for c in data.curves:
            entry = out.setdefault(name_key(c.point), (c.point, [], []))
            entry[1].append(c)
            if c.hold_index in holds:
                entry[2].append(holds[c.hold_index])
        return out

    t_groups, r_groups = group(trainee), group(reference)
    targets = {name_key(p.name): p.target_n for p in reference.points if p.target_n}
    targets.update({name_key(p.name): p.target_n for p in trainee.points if p.target_n})
    results: list[PointComparison] = []
    all_diffs: list[np.ndarray] = []
    for key, (name, t_curves, t_holds) in t_groups.items():
        if key not in r_groups:
            continue
        _, r_curves, r_holds = r_groups[key]
        pc, d = _compare_point(
            name,
            t_curves,
            r_curves,
            t_holds,
            r_holds,
            target_n=targets.get(key),
            tolerance_n=tolerance_n,
            dt_s=dt_s,
        )
        results.append(pc)
        all_diffs.append(d)
    rms, mean_diff, in_band = _scores(
        np.concatenate(all_diffs) if all_diffs else np.empty(0), tolerance_n
    )
    return SessionComparison(
        points=results,
        rms_error_n=rms,
        mean_diff_n=mean_diff,
        in_band_pct=in_band,
        trainee_in_target_pct=finite_mean(h.in_target_pct for h in trainee.holds),
        tolerance_n=tolerance_n,
        unmatched_trainee=[v[0] for k, v in t_groups.items() if k not in r_groups],
        unmatched_reference=[v[0] for k, v in r_groups.items() if k not in t_groups],
    )


def progress(
    sessions: Sequence[SessionData],
    reference: SessionData,
    *,
    tolerance_n: float = DEFAULT_TOLERANCE_N,
) -> list[ProgressEntry]:
    """A trainee's sessions, oldest first, each scored against the same reference."""
    entries = []
    for s in sorted(sessions, key=lambda s: s.started_at):
        c = compare_sessions(s, reference, tolerance_n=tolerance_n)
        entries.append(
            ProgressEntry(
                session_id=s.session_id,
                started_at=s.started_at,
                rms_error_n=c.rms_error_n,
                mean_diff_n=c.mean_diff_n,
                in_band_pct=c.in_band_pct,
                in_target_pct=c.trainee_in_target_pct,
                points_compared=len(c.points),
            )
        )
    return entries


def session_data_from_store(store: object, sid: str, *, dt_s: float = DEFAULT_DT_S) -> SessionData:
    """Load one stored session's holds and aligned curves (only the hold windows are read)."""
    rec = store.load_session(sid)  # type: ignore[attr-defined]
    points = list(rec.meta.points)
    curves = load_hold_curves(
        lambda t0, t1: store.load_forces(sid, t0, t1),  # type: ignore[attr-defined]
        rec.holds,
        points,
        dt_s=dt_s,
    )
    return SessionData(points, list(rec.holds), curves, rec.id, rec.meta.started_at)
