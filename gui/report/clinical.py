"""A session's clinical protocols as the review window and the report show them: the
client's pain ratings and signals, the PPT trials with their per-point means and the
pre → post change, the drill's trial scores and summary, the guided profile's scores, and
a trainee's learning curve over their drill sessions.

Pure: numpy, ``logger`` and :mod:`gui.format` only (no Qt). The results are
:mod:`logger.clinical`'s (the exports carry the same numbers); this module adds what is
drawn (the force at each signal, the guided target curve) and turns them into table rows,
so that the window and the PDF say the same thing.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from logger.clinical import (
    ClinicalResults,
    clinical_results,
    load_clinical,
    needs_forces,
    reading_protocols,
    session_forces,
)
from logger.compare import name_key
from logger.deidentify import LibraryReader
from logger.drills import DrillSummary, ProgressPoint, TrialScore, learning_curve
from logger.guided import Profile, ProfileScore, target_n
from logger.ppt import PptChange, PptPoint, PptSettings, PptTrial
from logger.records import ProtocolEvent, ProtocolKind, Rating, Signal
from logger.store import SessionRecord

from ..format import hms, local_time, num

log = logging.getLogger(__name__)

PRE, POST = "pre", "post"


@dataclass(frozen=True, slots=True, eq=False)
class PptParts:
    """The PPT trials of one session, their means per point and round, and the change
    from the "pre" to the "post" round of the same session (empty without both)."""

    settings: PptSettings
    trials: tuple[PptTrial, ...]
    points: tuple[PptPoint, ...]
    change: tuple[PptChange, ...]

    def round_points(self, label: str) -> tuple[PptPoint, ...]:
        return tuple(p for p in self.points if p.round == label)


@dataclass(frozen=True, slots=True, eq=False)
class DrillParts:
    """Every scored drill trial of one session and their summary."""

    names: tuple[str, ...]
    scores: tuple[TrialScore, ...]
    summary: DrillSummary


@dataclass(frozen=True, slots=True, eq=False)
class GuidedParts:
    """The guided profiles run in the session, their scores, and the target curve over
    the session's time (NaN outside the profiles) for drawing over the force."""

    profiles: tuple[tuple[float, Profile], ...]
    scores: tuple[ProfileScore, ...]
    target_t_s: np.ndarray
    target_n: np.ndarray


@dataclass(frozen=True, slots=True, eq=False)
class ClinicalParts:
    """What a session holds beyond holds and marks. ``signal_n`` is the force at each
    signal (for drawing the markers on the force curve)."""

    ratings: tuple[Rating, ...] = ()
    signals: tuple[Signal, ...] = ()
    signal_n: tuple[float, ...] = ()
    ppt: PptParts | None = None
    drill: DrillParts | None = None
    guided: GuidedParts | None = None
    results: ClinicalResults | None = None  # what they were made from (None: ratings only)

    @property
    def empty(self) -> bool:
        return not (self.ratings or self.signals or self.ppt or self.drill or self.guided)


NO_CLINICAL = ClinicalParts()


def clinical_from_arrays(
    record: SessionRecord, t_s: np.ndarray, force_n: np.ndarray
) -> ClinicalParts:
    """The clinical parts of ``record`` over its whole session's channel-0 forces (the
    results are :func:`logger.clinical.clinical_results`'s)."""
    if not (record.signals or record.ratings or record.protocols):
        return NO_CLINICAL
    t = np.asarray(t_s, dtype=float)
    f = np.asarray(force_n, dtype=float)
    ratings = tuple(sorted(record.ratings, key=lambda r: r.t_s))
    if not needs_forces(record):  # ratings alone
        return ClinicalParts(ratings=ratings)
    res = clinical_results(record, t, f)
    drills = [p for p in record.protocols if p.kind == ProtocolKind.DRILL and p.data]
    summary = res.drill_summary
    return ClinicalParts(
        ratings=ratings,
        signals=tuple(record.signals),
        signal_n=tuple(
            float(np.interp(s.t_s, t, f)) if t.size else math.nan for s in record.signals
        ),  # fmt: skip
        ppt=PptParts(res.ppt, tuple(res.ppt_trials), tuple(res.ppt_points), tuple(res.ppt_change))
        if res.ppt_trials
        else None,
        drill=DrillParts(
            tuple(str(p.data.get("name", "")) for p in drills), tuple(res.drill_scores), summary
        )
        if res.drill_scores and summary is not None
        else None,
        guided=_guided(record.protocols, res.profile_scores, t) if res.profile_scores else None,
        results=res,
    )


def _guided(
    protocols: Sequence[ProtocolEvent], scores: Sequence[ProfileScore], t: np.ndarray
) -> GuidedParts:
    """The profiles run and their target over ``t``, each drawn until the next PROFILE
    event (another profile, or a stop: an event with empty data)."""
    events = sorted((p for p in protocols if p.kind == ProtocolKind.PROFILE), key=lambda p: p.t_s)
    ends = [e.t_s for e in events[1:]] + [math.inf]
    runs = [(e.t_s, Profile.from_dict(e.data), end)
            for e, end in zip(events, ends, strict=True) if e.data]  # fmt: skip
    curve = np.full(t.size, np.nan)
    for start_s, profile, end_s in runs:
        target = target_n(profile, t - start_s)
        curve = np.where(np.isfinite(target) & (t < end_s), target, curve)
    profiles = tuple((start_s, profile) for start_s, profile, _ in runs)
    return GuidedParts(profiles, tuple(scores), t, curve)


def session_clinical(store: LibraryReader, record: SessionRecord) -> ClinicalParts:
    """What :class:`ClinicalParts` holds for ``record``, reading its forces from ``store``
    only when it has signals or protocol events (ratings alone need none). A stored drill
    or profile the program cannot read is a ``StorageError`` naming the session."""
    t, f = session_forces(store, record)
    with reading_protocols(record.id):
        return clinical_from_arrays(record, t, f)


# ----------------------------------------------------------------- ratings


def rating_steps(ratings: Sequence[Rating], end_s: float) -> tuple[np.ndarray, np.ndarray]:
    """The ratings as a step trace: each value holds from its time until the next one
    (the last until ``end_s``). Two points per rating, times never decreasing."""
    ordered = sorted(ratings, key=lambda r: r.t_s)
    if not ordered:
        return np.zeros(0), np.zeros(0)
    starts = np.array([r.t_s for r in ordered], dtype=float)
    ends = np.append(starts[1:], max(end_s, starts[-1]))
    values = np.array([r.value for r in ordered], dtype=float)
    return np.column_stack([starts, ends]).ravel(), np.repeat(values, 2)


def ratings_text(ratings: Sequence[Rating]) -> str:
    values = [r.value for r in ratings]
    if not values:
        return ""
    return (
        f"Pain ratings (0–10): {len(values)} rating{'s' if len(values) != 1 else ''}, "
        f"highest {max(values):g}, last {values[-1]:g}"
    )


# --------------------------------------------------------------------- PPT

PPT_TRIAL_COLUMNS = (
    "trial",
    "point",
    "round",
    "PPT",
    "PPT kPa",
    "rate",
    "rate kPa/s",
    "rate error",
    "used",
)
PPT_POINT_COLUMNS = ("point", "round", "mean", "mean kPa", "SD", "used")
PPT_CHANGE_COLUMNS = ("point", "pre", "post", "change", "change %")
PPT_POINT_CHANGE_COLUMNS = (*PPT_POINT_COLUMNS, "change", "change %")

REASONS = {
    "": "",
    "rate": "rate off target",
    "first": "first trial (familiarisation)",
    "max": "stopped at max, no signal",
    "extra": "beyond the trials per point",
}


def reason_text(reason: str) -> str:
    return REASONS.get(reason, reason)


def ppt_trial_cells(trials: Sequence[PptTrial]) -> list[list[str]]:
    return [
        [
            str(t.index + 1),
            t.point,
            t.round,
            "max, no signal" if t.stopped_at_max else num(t.ppt_n, "N"),
            num(t.ppt_kpa, "kPa", 0),
            num(t.rate_n_per_s, "N/s"),
            num(t.rate_kpa_per_s, "kPa/s", 0),
            num(t.rate_error_pct, "%", 0, signed=True),
            f"no: {reason_text(t.reason)}" if t.excluded else "yes",
        ]
        for t in trials
    ]


def ppt_point_cells(points: Sequence[PptPoint]) -> list[list[str]]:
    return [
        [
            p.point,
            p.round,
            num(p.ppt_n, "N"),
            num(p.ppt_kpa, "kPa", 0),
            num(p.sd_n, "N"),
            f"{p.used}/{p.trials}",
        ]
        for p in points
    ]


def ppt_change_cells(change: Sequence[PptChange]) -> list[list[str]]:
    return [
        [
            c.point,
            num(c.pre_kpa, "kPa", 0),
            num(c.post_kpa, "kPa", 0),
            num(c.change_kpa, "kPa", 0, signed=True),
            num(c.change_pct, "%", 0, signed=True),
        ]
        for c in change
    ]


def ppt_point_change_cells(
    points: Sequence[PptPoint], change: Sequence[PptChange]
) -> list[list[str]]:
    """The per-point rows, each post row followed by its change from pre (one table for
    the window, where two side by side do not fit)."""
    by_name = {name_key(c.point): c for c in change}
    rows = []
    for p, cells in zip(points, ppt_point_cells(points), strict=True):
        c = by_name.get(name_key(p.point)) if p.round == POST else None
        rows.append(cells + (ppt_change_cells([c])[0][3:] if c is not None else ["", ""]))
    return rows


def ppt_settings_text(s: PptSettings) -> str:
    drop = "; the first trial of each point is dropped" if s.drop_first else ""
    stray = "left out of the mean" if s.exclude_stray else "flagged (kept in the mean)"
    return (
        f"Target rate {s.rate_kpa_per_s:g} kPa/s ({s.rate_n_per_s:.2g} N/s on "
        f"{s.contact_area_cm2:g} cm²); trials off the rate by more than "
        f"±{s.tolerance_pct:g} % are {stray}; {s.trials} trials per point{drop}."
    )


# ------------------------------------------------------------------- drills

DRILL_COLUMNS = (
    "#",
    "mode",
    "target",
    "plateau",
    "error (rel.)",
    "CV",
    "ramp (error)",
    "in band",
    "over",  # overshoot: the peak above the target
    "score",
)


def drill_cells(scores: Sequence[TrialScore]) -> list[list[str]]:
    return [
        [
            str(s.index + 1),
            "feedback" if s.feedback else "blind",
            f"{s.target_n:g} ± {s.tolerance_n:g} N",
            num(s.plateau_n, "N"),
            f"{num(s.abs_error_n, 'N')} ({num(s.rel_error_pct, '%', 0)})",
            num(s.cv_pct, "%"),
            f"{num(s.ramp_rate_n_per_s, 'N/s')} ({num(s.ramp_error_pct, '%', 0, signed=True)})",
            num(s.in_band_pct, "%", 0),
            num(s.overshoot_n, "N"),
            num(s.score, "", 0),
        ]
        for s in scores
    ]


def drill_summary_text(d: DrillParts) -> str:
    s = d.summary
    name = ", ".join(n for n in d.names if n) or "drill"
    return (
        f"{name}: score {num(s.score, '', 0)} / 100 over {s.trials} trials "
        f"({s.feedback_trials} with feedback, {s.blind_trials} blind); plateau error "
        f"{num(s.abs_error_feedback_n, 'N')} with feedback, {num(s.abs_error_blind_n, 'N')} "
        f"blind; in band {num(s.in_band_pct, '%', 0)}; CV {num(s.cv_pct, '%')}"
    )


LEARNING_COLUMNS = ("date", "session", "score", "error feedback", "error blind", "in band")


def learning_text(who: str, points: Sequence[ProgressPoint]) -> str:
    """One line: how many drill sessions, and the first and last score and errors."""
    text = f"Learning curve of {who}: {len(points)} drill session{'s' if len(points) != 1 else ''}"
    if len(points) < 2:
        return text
    a, b = points[0].summary, points[-1].summary
    return (
        f"{text}; score {num(a.score, '', 0)} → {num(b.score, '', 0)}; plateau error with "
        f"feedback {num(a.abs_error_feedback_n, 'N')} → {num(b.abs_error_feedback_n, 'N')}, "
        f"blind {num(a.abs_error_blind_n, 'N')} → {num(b.abs_error_blind_n, 'N')}"
    )


def learning_cells(points: Sequence[ProgressPoint]) -> list[list[str]]:
    return [
        [
            local_time(p.started_at),
            p.session_id,
            num(p.summary.score, "", 0),
            num(p.summary.abs_error_feedback_n, "N"),
            num(p.summary.abs_error_blind_n, "N"),
            num(p.summary.in_band_pct, "%", 0),
        ]
        for p in points
    ]


def trainee_progress(store: LibraryReader, therapist: str | None) -> list[ProgressPoint]:
    """Every drill session of ``therapist`` in the library, scored, oldest first. Samples
    are read for drill sessions only."""
    if not therapist:  # a de-identified view has no therapist: no progress
        return []
    sessions = []
    for summary in store.list_sessions(therapist=therapist):
        record = store.load_session(summary.id)
        if not any(p.kind == ProtocolKind.DRILL for p in record.protocols):
            continue
        scores = load_clinical(store, summary.id, record).drill_scores
        sessions.append((summary.id, record.meta.started_at, scores))
    return learning_curve(sessions)


def learning_series(
    points: Sequence[ProgressPoint],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per session: the score, the plateau error with feedback and without (NaN where a
    session had no such trial)."""

    def arr(values: list[float | None]) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in values], dtype=float)

    return (
        arr([p.summary.score for p in points]),
        arr([p.summary.abs_error_feedback_n for p in points]),
        arr([p.summary.abs_error_blind_n for p in points]),
    )


# ------------------------------------------------------------------- guided


def guided_text(g: GuidedParts) -> str:
    parts = []
    for (start_s, profile), s in zip(g.profiles, g.scores, strict=False):
        parts.append(
            f"{profile.kind} from {hms(start_s)}: RMS error {num(s.rms_error_n, 'N')}, "
            f"mean |error| {num(s.mean_abs_error_n, 'N')}, within ±{profile.tolerance_n:g} N "
            f"{num(s.in_band_pct, '%', 0)}"
        )
    return "Guided: " + "; ".join(parts)
