"""A small, deterministic library of sessions for the review window's tests, screenshot
and first-run demo: one expert reference and a trainee improving over three sessions.

The sessions are written through the ordinary :class:`logger.store.SessionStore` API with
raw counts, and their holds come from the one hold definition
(:func:`logger.hold_detector.detect_holds` + :func:`~logger.hold_detector.hold_metrics`),
so they look exactly like recorded ones. The trainee numbers follow the literature
(feedback-training studies): students press ~14–16 N below the expert at first and get within ~4 N.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from calibration.models import CalibrationInfo
from logger.config import HoldConfig, Limits
from logger.hold_detector import detect_holds, hold_metrics
from logger.records import (
    Alert,
    AlertKind,
    DeviceInfo,
    Gap,
    GapCause,
    Hold,
    Mark,
    MarkSource,
    Point,
    ProtocolEvent,
    ProtocolKind,
    Rating,
    SessionMeta,
    SessionStats,
    SessionStatus,
    Signal,
)
from logger.store.library import WriteBatch

log = logging.getLogger(__name__)

PLAN = (
    "Upper trapezius L",
    "Upper trapezius R",
    "Levator scapulae L",
    "Levator scapulae R",
    "Infraspinatus",
)
TARGET_N = (25.0, 35.0)
COUNTS_PER_N = 4000.0
OFFSET_COUNTS = 120000.0


@dataclass(frozen=True, slots=True)
class DemoLibrary:
    reference: str  # the expert's session id
    trainee: list[str]  # the trainee's sessions, oldest first


def _trapezoid(
    t_s: np.ndarray, onset_s: float, plateau_n: float, ramp_s: float, hold_s: float
) -> np.ndarray:
    knots_t = [
        onset_s,
        onset_s + ramp_s,
        onset_s + ramp_s + hold_s,
        onset_s + ramp_s + hold_s + 0.8,
    ]
    return np.interp(t_s, knots_t, [0.0, plateau_n, plateau_n, 0.0], left=0.0, right=0.0)


def _meta(
    started_at: str,
    rate_hz: float,
    client: str,
    therapist: str,
    notes: str | None,
    points: list[Point],
    limits: Limits,
    calibration: CalibrationInfo | None = None,
    extra: dict | None = None,
) -> SessionMeta:
    return SessionMeta(
        started_at=started_at,
        device=DeviceInfo("SIM-0001", "sim-1.0", "1.0", rate_hz, 1, adc="sim"),
        calibration=calibration
        or CalibrationInfo(COUNTS_PER_N, OFFSET_COUNTS, "factory", "2026-11-01T09:00:00Z"),
        config={
            "units": "N",
            "holds": {"onset_n": 5.0, "release_n": 4.0, "min_duration_s": 2.0},
            "limits": {
                "warn_n": limits.warn_n,
                "max_n": limits.max_n,
                "max_hold_s": limits.max_hold_s,
            },
            **(extra or {}),
        },
        client=client,
        therapist=therapist,
        notes=notes,
        points=points,
    )


def write_session(
    store: object,
    *,
    therapist: str,
    client: str,
    started_at: str,
    plateaus_n: Sequence[Sequence[float]],
    rate_hz: float = 500.0,
    hold_s: float = 20.0,
    rest_s: float = 8.0,
    ramp_s: float = 4.0,
    seed: int = 1,
    gap_at_s: float | None = None,
    notes: str | None = None,
    status: SessionStatus = SessionStatus.COMPLETE,
    plan: Sequence[str] = PLAN,
    calibration: CalibrationInfo | None = None,
) -> str:
    """Write one synthetic session: ``plateaus_n[point][trial]`` newtons, point after point."""
    rng = np.random.default_rng(seed)
    points = [
        Point(i, name, target_n=TARGET_N, target_hold_s=hold_s) for i, name in enumerate(plan)
    ]
    points = points[: len(plateaus_n)]
    limits = Limits()
    meta = _meta(started_at, rate_hz, client, therapist, notes, points, limits, calibration)
    onsets: list[tuple[int, float, float]] = []
    t_cursor = 3.0
    marks: list[Mark] = []
    for pi, trials in enumerate(plateaus_n):
        marks.append(Mark(t_cursor - 1.0, pi, MarkSource.DEVICE))
        for plateau in trials:
            onsets.append((pi, t_cursor, float(plateau)))
            t_cursor += ramp_s + hold_s + rest_s
    duration_s = t_cursor
    t = np.arange(0.0, duration_s, 1.0 / rate_hz)
    f = np.zeros_like(t)
    for k, (_, onset, plateau) in enumerate(onsets):
        this_ramp = ramp_s * (0.8 + 0.4 * rng.random())
        shape = _trapezoid(t, onset, plateau, this_ramp, hold_s)
        drift = np.clip(t - onset - this_ramp, 0.0, hold_s) * -0.03 * (k % 2)
        f += np.where(shape > 0, shape + drift, 0.0)
    tremor = 0.3 * np.sin(2 * np.pi * 9.5 * t + rng.random() * 6.28) * (f > 1.0)
    f = f + tremor + rng.normal(0.0, 0.08, t.size)

    keep = np.ones(t.size, dtype=bool)
    gaps: list[Gap] = []
    if gap_at_s is not None:
        keep = (t < gap_at_s) | (t >= gap_at_s + 1.0)
        lost = int(np.count_nonzero(~keep))
        gaps.append(Gap(gap_at_s, gap_at_s + 1.0, lost, GapCause.DISCONNECT))
    return _store_session(store, meta, t, f, keep, marks, gaps, limits, status, target_n=TARGET_N)


def _store_session(
    store: object,
    meta: SessionMeta,
    t: np.ndarray,
    f: np.ndarray,
    keep: np.ndarray,
    marks: list[Mark],
    gaps: list[Gap],
    limits: Limits,
    status: SessionStatus,
    *,
    target_n: tuple[float, float] | None,
    batch: WriteBatch | None = None,
) -> str:
    """Store forces ``f`` at ``t`` (where ``keep``) as raw counts, with the holds and alerts
    the one hold definition finds, the marks and gaps, and ``batch``'s other events."""
    rate_hz = meta.device.rate_hz
    started_at = meta.started_at
    names = [p.name for p in meta.points]
    raw = np.rint(OFFSET_COUNTS + f * COUNTS_PER_N).astype(np.int32).reshape(-1, 1)

    holds: list[Hold] = []
    alerts: list[Alert] = []
    tk, fk = t[keep], f[keep]
    for i, (s, e) in enumerate(detect_holds(tk, fk, HoldConfig())):
        before = [m for m in marks if m.t_s <= tk[s]]  # the last mark before the hold
        pi = max(before, key=lambda m: m.t_s).point_index if before else None
        m = hold_metrics(tk, fk, s, e, warn_n=limits.warn_n, max_n=limits.max_n, target_n=target_n)
        holds.append(
            Hold(index=i, point_index=pi, point=names[pi] if pi is not None else None, **m)
        )
        over = np.flatnonzero(fk[s:e] > limits.warn_n)
        if over.size:
            alerts.append(Alert(float(tk[s + over[0]]), AlertKind.WARN, limits.warn_n, pi, i))

    sid = store.create_session(meta)  # type: ignore[attr-defined]
    idx = np.flatnonzero(keep)
    # contiguous runs as the writer would store them
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    for run in np.split(np.arange(idx.size), breaks):
        store.append_samples(sid, int(idx[run[0]]), t[idx[run]], raw[idx[run]])  # type: ignore[attr-defined]
    store.add_marks(sid, marks)  # type: ignore[attr-defined]
    store.add_holds(sid, holds)  # type: ignore[attr-defined]
    store.add_alerts(sid, alerts)  # type: ignore[attr-defined]
    store.add_gaps(sid, gaps)  # type: ignore[attr-defined]
    if batch is not None:
        store.write_batch(sid, batch)  # type: ignore[attr-defined]
    stats = SessionStats(
        samples=int(keep.sum()),
        duration_s=float(t[-1]),
        rate_hz=rate_hz,
        lost_samples=sum(g.lost_samples for g in gaps),
        reconnects=len(gaps),
    )
    ended = datetime.fromisoformat(started_at) + timedelta(seconds=float(t[-1]))
    store.finish_session(sid, status, stats, ended.isoformat())  # type: ignore[attr-defined]
    log.info("demo session %s: %d holds, %d alerts", sid, len(holds), len(alerts))
    return sid


def build_demo_library(
    store: object,
    *,
    points: int = len(PLAN),
    trials: int = 2,
    hold_s: float = 20.0,
    rate_hz: float = 500.0,
) -> DemoLibrary:
    """An expert reference (30 N) and a trainee's three sessions (−14 N, −8 N, −3 N)."""
    base = [30.0, 32.0, 28.0, 29.0, 31.0][:points]
    reference = write_session(
        store,
        therapist="Dr. Expert",
        client="C-0001",
        started_at="2026-11-02T09:00:00+00:00",
        plateaus_n=[[b + 0.5 * k for k in range(trials)] for b in base],
        rate_hz=rate_hz,
        hold_s=hold_s,
        seed=11,
        notes="reference recording",
    )
    trainee = []
    for n, (offset, scatter, day) in enumerate(((-14.0, 4.0, 9), (-8.0, 3.0, 16), (-3.0, 1.5, 23))):
        rng = np.random.default_rng(100 + n)
        plateaus = [
            [b + offset + scatter * rng.standard_normal() for _ in range(trials)] for b in base
        ]
        if n == 2:
            plateaus[0][-1] = 44.0  # one overshoot past warn_n: an alert to review
        trainee.append(
            write_session(
                store,
                therapist="A. Trainee",
                client=f"C-00{n + 2:02d}",
                started_at=f"2026-11-{day:02d}T14:30:00+00:00",
                plateaus_n=plateaus,
                rate_hz=rate_hz,
                hold_s=hold_s,
                seed=200 + n,
                gap_at_s=40.0 if n == 1 else None,
            )
        )
    return DemoLibrary(reference, trainee)


@dataclass(frozen=True, slots=True)
class PptTrialPlan:
    """One synthetic PPT trial: a ramp from 0 at ``rate_n_per_s`` to ``threshold_n`` where
    the client signals (no signal when ``threshold_n`` is None: the ramp goes past max_n 60 N)."""

    point: int
    threshold_n: float | None
    rate_n_per_s: float = 5.0
    round: str = "pre"


def write_ppt_session(
    store: object,
    trials: Sequence[PptTrialPlan],
    *,
    client: str = "C-0101",
    therapist: str = "T. Clinician",
    started_at: str = "2026-11-25T10:00:00+00:00",
    plan: Sequence[str] = ("Upper trapezius L", "Upper trapezius R"),
    rate_hz: float = 100.0,
    ratings: Sequence[tuple[float, float]] = (),
) -> str:
    """A PPT session: a mark before each new point, a ROUND event before each new round
    (none while the first round is "pre"), each trial a linear ramp released in 0.5 s,
    3 s rest between trials. ``ratings``: (t_s, value) pairs stored as pain ratings."""
    limits = Limits()
    points = [Point(i, name) for i, name in enumerate(plan)]
    t_cursor, point, rnd = 2.0, None, "pre"
    knots_t, knots_f = [0.0], [0.0]
    marks: list[Mark] = []
    signals: list[Signal] = []
    protocols: list[ProtocolEvent] = []
    for k, trial in enumerate(trials):
        if trial.round != rnd or (k == 0 and trial.round != "pre"):
            rnd = trial.round
            protocols.append(ProtocolEvent(t_cursor - 1.5, ProtocolKind.ROUND, {"label": rnd}))
        if trial.point != point:
            point = trial.point
            marks.append(Mark(t_cursor - 1.0, point, MarkSource.KEYBOARD))
        top = trial.threshold_n if trial.threshold_n is not None else 62.0
        peak_s = t_cursor + top / trial.rate_n_per_s
        knots_t += [t_cursor, peak_s, peak_s + 0.5]
        knots_f += [0.0, top, 0.0]
        if trial.threshold_n is not None:
            signals.append(Signal(peak_s, MarkSource.DEVICE))
        t_cursor = peak_s + 0.5 + 3.0
    t = np.arange(0.0, t_cursor, 1.0 / rate_hz)
    f = np.interp(t, knots_t, knots_f)
    meta = _meta(started_at, rate_hz, client, therapist, None, points, limits)
    batch = WriteBatch(
        signals=signals,
        ratings=[Rating(ts, v, MarkSource.DEVICE) for ts, v in ratings],
        protocols=protocols,
    )
    keep = np.ones(t.size, dtype=bool)
    return _store_session(
        store, meta, t, f, keep, marks, [], limits, SessionStatus.COMPLETE,
        target_n=None, batch=batch,
    )  # fmt: skip


def write_drill_session(
    store: object,
    drill: dict,
    plateaus_n: Sequence[float],
    *,
    therapist: str = "B. Student",
    client: str = "C-0201",
    started_at: str = "2026-11-20T14:00:00+00:00",
    rate_hz: float = 100.0,
    ramp_n_per_s: float = 10.0,
    hold_s: float = 5.0,
    rest_s: float = 4.0,
) -> str:
    """A drill session: a DRILL event (``drill``: the drill's JSON form) at 1 s, then one
    trapezoid hold per plateau (ramp at ``ramp_n_per_s``, ``hold_s`` plateau)."""
    limits = Limits()
    t_cursor = 2.0
    knots_t, knots_f = [0.0], [0.0]
    for plateau in plateaus_n:
        top = t_cursor + plateau / ramp_n_per_s
        knots_t += [t_cursor, top, top + hold_s, top + hold_s + 0.5]
        knots_f += [0.0, plateau, plateau, 0.0]
        t_cursor = top + hold_s + 0.5 + rest_s
    t = np.arange(0.0, t_cursor, 1.0 / rate_hz)
    f = np.interp(t, knots_t, knots_f)
    meta = _meta(started_at, rate_hz, client, therapist, None, [], limits)
    batch = WriteBatch(protocols=[ProtocolEvent(1.0, ProtocolKind.DRILL, drill)])
    keep = np.ones(t.size, dtype=bool)
    return _store_session(
        store, meta, t, f, keep, [], [], limits, SessionStatus.COMPLETE,
        target_n=None, batch=batch,
    )  # fmt: skip
