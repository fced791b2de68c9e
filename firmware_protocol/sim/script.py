"""What a scenario plays over scenario time: the plan the device model follows.

``plan_script(scenario)`` walks the steps once and returns a ``Script``: the hand and load
forces as breakpoints (noise-free; tremor and noise are the model's), the device events
(mark button, client button, eVAS ratings) at their exact times, and, for tests and
for whoever checks a recording against its script, the planned PPT trials, drill attempts
and ratings. Pure and deterministic: the patient's and the trainee's random draws come
from their own seeded generators, one draw per ``ppt`` / ``attempt`` step in order.

Scenario time is the session's ``t_s`` when the session starts with the script.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Protocol

import numpy as np

from ..messages import EventKind
from .spec import G_M_PER_S2, LOAD_RAMP_S, Action, PatientSpec, Step, TraineeSpec


class Plannable(Protocol):
    """What a plan is made from (a parsed :class:`~.scenario.Scenario`)."""

    @property
    def steps(self) -> tuple[Step, ...]: ...

    @property
    def patient(self) -> PatientSpec: ...

    @property
    def trainee(self) -> TraineeSpec: ...


RATING_STEP_H = 10  # an eVAS rating is sent when it moved by 0.1 (10 hundredths)


@dataclass(frozen=True, slots=True)
class ScriptEvent:
    """A device event at an exact scenario time (EVENT kind and argument as sent)."""

    t_s: float
    kind: EventKind
    arg: int = 0


@dataclass(frozen=True, slots=True)
class PptTrial:
    """One planned pressure-pain-threshold trial."""

    index: int  # 0, 1, … over the scenario's ppt steps
    marks_before: int  # mark presses before it: the point it is on (1 = the first point)
    start_s: float  # the ramp leaves 0 N
    signal_s: float | None  # the client's button; None: the ramp stopped at max_n
    threshold_n: float  # the trial's actual threshold (treatment and noise applied)
    rate_n_per_s: float  # the therapist's real rate (rate_error_pct applied)
    treated: bool
    peak_n: float  # where the ramp turned: the threshold, or max_n
    end_s: float  # back at 0 N


@dataclass(frozen=True, slots=True)
class Attempt:
    """One planned drill trial of the trainee."""

    index: int
    feedback: bool
    start_s: float
    plateau_start_s: float
    plateau_end_s: float
    plateau_n: float
    ramp_n_per_s: float  # the trainee's real ramp rate
    plateau_error_pct: float  # (plateau_n − target_n) / target_n × 100
    end_s: float


@dataclass(frozen=True, slots=True)
class PlannedRating:
    """A RATING event: the eVAS value (0–10, in hundredths as sent) at ``t_s``."""

    t_s: float
    value: float


@dataclass(frozen=True, slots=True)
class Script:
    hand_t_s: np.ndarray
    hand_n: np.ndarray
    load_t_s: np.ndarray
    load_n: np.ndarray
    events: tuple[ScriptEvent, ...]  # in time order
    ppt_trials: tuple[PptTrial, ...]
    attempts: tuple[Attempt, ...]
    duration_s: float

    @property
    def ratings(self) -> tuple[PlannedRating, ...]:
        return tuple(
            PlannedRating(e.t_s, e.arg / 100) for e in self.events if e.kind is EventKind.RATING
        )

    def event_times_s(self, kind: EventKind) -> list[float]:
        return [e.t_s for e in self.events if e.kind is kind]

    def mark_times_s(self) -> list[float]:
        return self.event_times_s(EventKind.MARK_BUTTON)

    def forces(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(hand_n, load_n) at scenario times ``t_s``; zero before 0, hand zero at the end."""
        hand = np.interp(t_s, self.hand_t_s, self.hand_n, left=0.0, right=0.0)
        load = np.interp(t_s, self.load_t_s, self.load_n, left=0.0, right=self.load_n[-1])
        return hand, load


def rating_events(points: list[tuple[float, float]], last_h: int) -> tuple[list[ScriptEvent], int]:
    """RATING events of an eVAS moving piecewise-linearly through ``points`` (t_s, value in
    hundredths), one each time it has moved 10 hundredths from the last value sent
    (``last_h``), as the firmware sends them, and a last one when it is back at 0; and the
    last value sent."""
    out: list[ScriptEvent] = []
    if points and abs(points[0][1] - last_h) >= RATING_STEP_H:  # it starts elsewhere
        last_h = round(points[0][1])
        out.append(ScriptEvent(points[0][0], EventKind.RATING, last_h))
    for (ta, va), (tb, vb) in pairwise(points):
        if va == vb:
            continue
        sign = 1 if vb > va else -1
        while sign * (vb - (last_h + sign * RATING_STEP_H)) >= -1e-9:
            last_h += sign * RATING_STEP_H
            out.append(ScriptEvent(ta + (last_h - va) / (vb - va) * (tb - ta),
                                   EventKind.RATING, last_h))  # fmt: skip
    if points and points[-1][1] == 0 and last_h != 0:  # back at rest: say so
        last_h = 0
        out.append(ScriptEvent(points[-1][0], EventKind.RATING, 0))
    return out, last_h


class _Trainee:
    """Plateau and ramp errors that shrink by ``learning`` per feedback attempt; a blind
    attempt loses (1 − retention) of what was learnt, and learns nothing."""

    def __init__(self, scenario: Plannable) -> None:
        self.spec = scenario.trainee
        self.rng = np.random.default_rng(self.spec.seed)
        self.e0 = (self.spec.error_pct / 100, self.spec.ramp_error_pct / 100)
        self.learnt = self.e0

    def errors(self, feedback: bool) -> tuple[float, float]:
        """(plateau, ramp) relative errors of the next attempt."""
        noise = float(self.rng.normal(0.0, self.spec.noise_pct / 100))
        if feedback:
            plateau, ramp = self.learnt
            self.learnt = (plateau * self.spec.learning, ramp * self.spec.learning)
        else:
            keep = 1.0 - self.spec.retention
            plateau, ramp = (
                e + keep * (e0 - e) for e, e0 in zip(self.learnt, self.e0, strict=True)
            )
        return plateau + noise, ramp


@lru_cache(maxsize=64)
def plan_script(scenario: Plannable) -> Script:
    """The scenario's plan (see the module docstring)."""
    t = 0.0
    hand: list[tuple[float, float]] = [(0.0, 0.0)]
    load: list[tuple[float, float]] = [(0.0, 0.0)]
    events: list[ScriptEvent] = []
    trials: list[PptTrial] = []
    attempts: list[Attempt] = []
    patient = scenario.patient
    patient_rng = np.random.default_rng(patient.seed)
    trainee = _Trainee(scenario)
    treated = patient.treated
    marks = 0
    evas_h = 0  # the eVAS value last sent, in hundredths
    for step in scenario.steps:
        a = step.action
        duration_s = 0.0
        if a in (Action.REST, Action.TREATMENT):
            load.append((t, load[-1][1]))
            load.append((t + min(LOAD_RAMP_S, step.seconds), 0.0))
            treated = treated or a is Action.TREATMENT
            duration_s = step.seconds
        elif a is Action.MARK:
            events.append(ScriptEvent(t, EventKind.MARK_BUTTON))
            marks += 1
        elif a is Action.SIGNAL:
            events.append(ScriptEvent(t, EventKind.CLIENT_BUTTON))
        elif a is Action.RATE:
            evas_h = round(step.value * 100)
            events.append(ScriptEvent(t, EventKind.RATING, evas_h))
        elif a is Action.HOLD:
            points = _hold(t, step)
            hand += points
            if step.rating is not None and step.force_n > 0:
                per_n = step.rating * 100 / step.force_n
                evas = [(pt, min(f * per_n, 1000.0)) for pt, f in points]
                new, evas_h = rating_events(evas, evas_h)
                events += new
            duration_s = step.duration_s
        elif a is Action.PRESS:
            hand += [(t, 0.0), (t + step.seconds / 2, step.force_n), (t + step.seconds, 0.0)]
            duration_s = step.seconds
        elif a is Action.LOAD:
            load += [(t, load[-1][1]), (t + LOAD_RAMP_S, step.mass_kg * G_M_PER_S2)]
            duration_s = step.duration_s
        elif a is Action.PPT:
            trial = _ppt(len(trials), marks, t, step, treated, patient, patient_rng)
            trials.append(trial)
            top_s = t + trial.peak_n / trial.rate_n_per_s
            hand += [(t, 0.0), (top_s, trial.peak_n), (trial.end_s, 0.0)]
            if trial.signal_s is not None:
                events.append(ScriptEvent(trial.signal_s, EventKind.CLIENT_BUTTON))
            duration_s = trial.end_s - t
        elif a is Action.ATTEMPT:
            att = _attempt(len(attempts), t, step, trainee)
            attempts.append(att)
            hand += [(t, 0.0), (att.plateau_start_s, att.plateau_n),
                     (att.plateau_end_s, att.plateau_n), (att.end_s, 0.0)]  # fmt: skip
            duration_s = att.end_s - t
        t += duration_s
    ht, hf, lt, lf = (*np.array(hand).T, *np.array(load).T)
    for arr in (ht, hf, lt, lf):
        arr.flags.writeable = False  # one plan, shared by every caller (cached)
    events.sort(key=lambda e: e.t_s)  # stable: same-time events keep the steps' order
    ratings = [e for e in events if e.kind is EventKind.RATING]
    if ratings and ratings[0].t_s > 0.0:  # an eVAS says where it stands when streaming starts
        events.insert(0, ScriptEvent(0.0, EventKind.RATING, 0))
    return Script(ht, hf, lt, lf, tuple(events), tuple(trials), tuple(attempts), t)


def _hold(t: float, step: Step) -> list[tuple[float, float]]:
    f0 = step.force_n
    f1 = max(0.0, f0 + step.drift_n_per_s * step.seconds)
    t1 = t + step.ramp_s
    t2 = t1 + step.seconds
    return [(t, 0.0), (t1, f0), (t2, f1), (t2 + step.release_s, 0.0)]


def _ppt(
    index: int, marks: int, t: float, step: Step, treated: bool, patient: PatientSpec,
    rng: np.random.Generator,
) -> PptTrial:  # fmt: skip
    eps = float(rng.normal(0.0, patient.threshold_noise_pct / 100))
    change = 1 + patient.treatment_change_pct / 100 if treated else 1.0
    threshold_n = max(0.0, step.threshold_n * change * (1 + eps))
    rate = step.rate_n_per_s * (1 + step.rate_error_pct / 100)
    stopped = step.max_n is not None and threshold_n > step.max_n
    peak_n = step.max_n if stopped and step.max_n is not None else threshold_n
    top_s = t + peak_n / rate
    return PptTrial(
        index=index, marks_before=marks, start_s=t, signal_s=None if stopped else top_s,
        threshold_n=threshold_n, rate_n_per_s=rate, treated=treated, peak_n=peak_n,
        end_s=top_s + step.release_s,
    )  # fmt: skip


def _attempt(index: int, t: float, step: Step, trainee: _Trainee) -> Attempt:
    plateau_err, ramp_err = trainee.errors(step.feedback)
    plateau_n = max(0.0, step.target_n * (1 + plateau_err))
    rate = step.ramp_n_per_s * (1 + ramp_err)
    t1 = t + plateau_n / rate
    t2 = t1 + step.seconds
    error_pct = 0.0 if step.target_n == 0 else (plateau_n / step.target_n - 1) * 100
    return Attempt(
        index=index, feedback=step.feedback, start_s=t, plateau_start_s=t1, plateau_end_s=t2,
        plateau_n=plateau_n, ramp_n_per_s=rate, plateau_error_pct=error_pct,
        end_s=t2 + step.release_s,
    )  # fmt: skip
