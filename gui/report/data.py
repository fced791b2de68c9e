"""Everything the report shows, read and computed before anything is drawn: the session
record, its per-point statistics and complete left/right pairs, the trace the timeline
draws, and with a reference session the comparison scores, the aligned curves of each
overlay and the trainee's progress; a session's clinical protocols (pain ratings, PPT,
drill and its trainee's learning curve, guided loading: :mod:`.clinical`).

Pure: numpy and ``logger`` only, no Qt (importing this module loads neither PySide6 nor
pyqtgraph), so the parts can be checked without a display. :func:`prepare_parts` is the
only place the report reads the store.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import numpy as np

from logger.clinical import ClientChange, client_change
from logger.compare import (
    HoldCurve,
    PointComparison,
    ProgressEntry,
    SessionComparison,
    compare_sessions,
    name_key,
    progress,
    session_data_from_store,
)
from logger.deidentify import DeidentifiedStore, LibraryReader
from logger.drills import ProgressPoint
from logger.point_stats import LeftRight, PointStats, left_right, point_stats
from logger.store import SessionRecord

from .clinical import NO_CLINICAL, ClinicalParts, session_clinical, trainee_progress

log = logging.getLogger(__name__)


ReportReader = LibraryReader  # what a report reads: the overview for the timeline too


@dataclass(frozen=True, slots=True)
class TraceSpec:
    """How the timeline loads a whole session: every sample while the session holds at
    most ``detail_max_samples``, else the store's min/max envelope in at most
    ``max_points`` buckets."""

    max_points: int
    detail_max_samples: int


@dataclass(frozen=True, slots=True, eq=False)
class TimelineTrace:
    """Channel 0 of the whole session as the timeline draws it, in newtons.

    ``detail``: every sample (``lo_n`` is the force and ``hi_n`` the same array), loaded
    over ``[t0_s, t1_s]``; else the min/max envelope over ``[t0_s, t1_s]`` in at most
    ``max_points`` buckets. An empty session (no duration) has empty arrays. The arrays
    are read-only.
    """

    t_s: np.ndarray
    lo_n: np.ndarray
    hi_n: np.ndarray
    detail: bool
    t0_s: float
    t1_s: float
    max_points: int
    duration_s: float

    @property
    def empty(self) -> bool:
        return self.duration_s <= 0.0


@dataclass(frozen=True, slots=True, eq=False)
class OverlayParts:
    """One compared point: the trainee's trials aligned at onset over the reference
    template (the mean of the reference's holds at that point)."""

    point: str
    curves: tuple[HoldCurve, ...]
    reference_curve_n: np.ndarray
    dt_s: float
    target_n: tuple[float, float] | None


@dataclass(frozen=True, slots=True, eq=False)
class ComparisonParts:
    """The session against a reference session. ``progress`` scores every session of the
    trainee's therapist (the reference left out) against the same reference, oldest first;
    it is empty unless there are at least two."""

    reference: SessionRecord
    scores: SessionComparison
    overlays: tuple[OverlayParts, ...]
    progress: tuple[ProgressEntry, ...]
    ppt: ClientChange | None = None  # both sessions of one client with PPT points


@dataclass(frozen=True, slots=True, eq=False)
class ReportParts:
    """What one report shows. ``day`` is set for a de-identified hand-over only: the
    session's day number in the shifted calendar (day 0 = 1 January 1985). ``learning``:
    the therapist's drill sessions, oldest first, when the session has a drill and the
    library holds another drill session of the same therapist (else empty)."""

    record: SessionRecord
    day: int | None
    stats: tuple[PointStats, ...]
    pairs: tuple[LeftRight, ...]  # left/right pairs measured on both sides
    timeline: TimelineTrace
    comparison: ComparisonParts | None
    clinical: ClinicalParts = NO_CLINICAL
    learning: tuple[ProgressPoint, ...] = ()

    @property
    def deidentified(self) -> bool:
        return self.day is not None


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    a.setflags(write=False)
    return a


def timeline_trace(store: ReportReader, record: SessionRecord, spec: TraceSpec) -> TimelineTrace:
    """The whole session as :class:`~gui.review.timeline.TimelinePlot` loads it when it
    shows the whole session (``reload_visible``): the same duration, rate, window and
    choice between samples and envelope."""
    duration = float(record.stats.duration_s or 0.0)
    rate = float(record.meta.device.rate_hz or record.stats.rate_hz or 0.0)
    if duration <= 0.0:  # nothing to load: the plot shows no trace
        nothing = _frozen(np.zeros(0))
        return TimelineTrace(nothing, nothing, nothing, False, 0.0, 0.0, spec.max_points, 0.0)
    if rate > 0 and duration * rate <= spec.detail_max_samples:
        margin = 0.05 * duration
        t0, t1 = 0.0 - margin, duration + margin
        t, f = store.load_forces(record.id, t0, t1)
        f0 = _frozen(f[:, 0] if f.ndim > 1 else f)
        return TimelineTrace(_frozen(t), f0, f0, True, t0, t1, spec.max_points, duration)
    t, lo, hi = store.load_overview(record.id, 0.0, duration, max_points=spec.max_points)
    return TimelineTrace(
        _frozen(t), _frozen(lo), _frozen(hi), False, 0.0, duration, spec.max_points, duration
    )


def complete_pairs(stats: tuple[PointStats, ...]) -> tuple[LeftRight, ...]:
    """Left/right pairs with both sides measured: a lone side says nothing about symmetry."""
    return tuple(
        p for p in left_right(stats) if p.left_mean_n is not None and p.right_mean_n is not None
    )


def _overlay(pc: PointComparison, trainee_curves: list[HoldCurve]) -> OverlayParts:
    key = name_key(pc.point)
    return OverlayParts(
        point=pc.point,
        curves=tuple(c for c in trainee_curves if name_key(c.point) == key),
        reference_curve_n=pc.reference_curve_n,
        dt_s=pc.dt_s,
        target_n=pc.target_n,
    )


def _comparison(
    store: ReportReader, sid: str, record: SessionRecord, reference_sid: str
) -> ComparisonParts:
    reference = store.load_session(reference_sid)
    trainee_data = session_data_from_store(store, sid)
    reference_data = session_data_from_store(store, reference_sid)
    scores = compare_sessions(trainee_data, reference_data)
    entries: list[ProgressEntry] = []
    therapist = record.meta.therapist
    if therapist:  # a de-identified view has no therapist: no progress
        ids = [s.id for s in store.list_sessions(therapist=therapist) if s.id != reference_sid]
        if len(ids) > 1:
            entries = progress([session_data_from_store(store, i) for i in ids], reference_data)
    return ComparisonParts(
        reference=reference,
        scores=scores,
        overlays=tuple(_overlay(pc, trainee_data.curves) for pc in scores.points),
        progress=tuple(entries),
    )


def _with_ppt_change(
    store: ReportReader, comparison: ComparisonParts, record: SessionRecord, clinical: ClinicalParts
) -> ComparisonParts:
    """The comparison with the client's PPT change between the two sessions, when both
    are the same client's and have PPT points."""
    reference = comparison.reference
    if clinical.results is None or reference.meta.client != record.meta.client:
        return comparison
    theirs = session_clinical(store, reference).results
    if theirs is None:
        return comparison
    found = client_change((reference, theirs), (record, clinical.results))
    return dataclasses.replace(comparison, ppt=found) if found is not None else comparison


def prepare_parts(
    store: ReportReader, sid: str, reference_sid: str | None, trace: TraceSpec
) -> ReportParts:
    """Read session ``sid`` (and ``reference_sid``) and compute what the report shows.

    Unknown ids raise ``BadInput`` (from the store). A :class:`DeidentifiedStore` gives the
    hand-over's parts: its record has no names and ``day`` is set.
    """
    record = store.load_session(sid)
    stats = tuple(point_stats(record.holds, record.points))
    day = store.day(record.meta.started_at) if isinstance(store, DeidentifiedStore) else None
    comparison = None if reference_sid is None else _comparison(store, sid, record, reference_sid)
    clinical = session_clinical(store, record)
    if comparison is not None:
        comparison = _with_ppt_change(store, comparison, record, clinical)
    learning = trainee_progress(store, record.meta.therapist) if clinical.drill else []
    return ReportParts(
        record=record,
        day=day,
        stats=stats,
        pairs=complete_pairs(stats),
        timeline=timeline_trace(store, record, trace),
        comparison=comparison,
        clinical=clinical,
        learning=tuple(learning) if len(learning) > 1 else (),
    )
