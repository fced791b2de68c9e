"""Training drills: the drill file, which hold is which trial, and each trial's score.

Pure but for reading a drill file (docs/DRILLS.md). A drill run starts with a
``ProtocolEvent(DRILL)`` whose data is the drill's JSON form (:meth:`Drill.to_dict`); from
then on the k-th hold the hold detector finds is trial k of the drill's expanded task list,
until the tasks run out or the next DRILL event. A trial's plateau mean, CV, ramp rate and
peak are the hold's own (logger/hold_detector.py); only the target, the band and the
ratios between them are added here.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from calibration.units import KPA_PER_N_PER_CM2

from .config import (
    AREA_RANGE_CM2,
    MAX_FORCE_N,
    _check_keys,
    _count,
    _fail,
    _flag,
    _number,
    parse_toml,
    read_toml,
)
from .errors import BadInput
from .hold_detector import plateau_range
from .records import Hold, ProtocolEvent, ProtocolKind

BUILTIN_DIR = Path(__file__).with_name("builtin_drills")
MAX_TASKS = 200  # expanded trials of one drill
DEFAULT_TOLERANCE_PCT = 10.0
DEFAULT_REST_S = 5.0

_TOP_KEYS = ("name", "description", "contact_area_cm2", "tasks")
_TASK_KEYS = ("target_n", "target_kpa", "hold_s", "tolerance_n", "tolerance_pct",
              "ramp_n_per_s", "feedback", "repeat", "rest_s")  # fmt: skip


class DrillError(BadInput):
    """A malformed drill (file or stored JSON form): one line naming the file, the key
    (``tasks[2].hold_s``, tasks counted from 0) and the value; exit code 2."""


@dataclass(frozen=True, slots=True)
class DrillTask:
    """One trial: reach ``target_n`` (at ``ramp_n_per_s`` when given), hold it ``hold_s``
    within ± ``tolerance_n``, with the live feedback shown or hidden, then rest."""

    target_n: float
    hold_s: float
    tolerance_n: float
    ramp_n_per_s: float | None = None
    feedback: bool = True
    rest_s: float = DEFAULT_REST_S


@dataclass(frozen=True, slots=True)
class Drill:
    name: str
    description: str
    tasks: tuple[DrillTask, ...]  # expanded: one per trial

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in a DRILL event: every task in newtons, one per trial."""
        tasks = []
        for task in self.tasks:
            d = asdict(task)
            if task.ramp_n_per_s is None:
                del d["ramp_n_per_s"]
            tasks.append(d)
        return {"name": self.name, "description": self.description, "tasks": tasks}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str = "<drill>") -> Drill:
        """Validate a drill in its JSON form (or as its file holds it)."""
        with _drill_errors():
            return _parse(d, source)


@contextmanager
def _drill_errors() -> Iterator[None]:
    """The configuration's checks raise BadInput: a drill's are DrillErrors."""
    try:
        yield
    except DrillError:
        raise
    except BadInput as exc:
        raise DrillError(str(exc)) from None


def parse_drill(text: str, source: str) -> Drill:
    """A drill file's text; ``source`` names it in error messages."""
    with _drill_errors():
        return _parse(parse_toml(text, source), source)


def builtin_drills() -> list[str]:
    """The names of the drills that come with the program (``logger/builtin_drills``)."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def load_drill(name_or_path: str | os.PathLike[str]) -> Drill:
    """A built-in drill by name (``basic``), else a drill file by path."""
    text = os.fspath(name_or_path)
    if isinstance(name_or_path, str) and text in builtin_drills():
        path = BUILTIN_DIR / f"{text}.toml"
    elif not isinstance(name_or_path, str) or text.endswith(".toml") or os.sep in text:
        path = Path(text)
    else:
        raise DrillError(
            f"{text}: no such drill (built-in: {', '.join(builtin_drills())}; "
            "or the path of a .toml file)"
        )
    with _drill_errors():
        return _parse(read_toml(os.fspath(path), "drill"), os.fspath(path))


def check_scorable(drill: Drill, onset_n: float, source: str) -> None:
    """Refuse a drill with a task no hold could ever score: its band must reach above the
    hold onset (``holds.onset_n``), else the trainee's contact is a press, not a trial."""
    for k, task in enumerate(drill.tasks):
        if task.target_n + task.tolerance_n <= onset_n:
            raise DrillError(
                f"{source}: trial {k + 1}: target {task.target_n:g} ± {task.tolerance_n:g} N "
                f"lies below the hold onset ({onset_n:g} N): no hold could score it"
            )


def _parse(d: Any, source: str) -> Drill:
    _check_keys(source, "", d, _TOP_KEYS)
    name = d.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _fail(source, "name", name, "expected a non-empty string")
    description = d.get("description", "")
    if not isinstance(description, str):
        raise _fail(source, "description", description, "expected a string")
    area = None
    if "contact_area_cm2" in d:
        area = _number(source, "contact_area_cm2", d["contact_area_cm2"],
                       most=AREA_RANGE_CM2[1])  # fmt: skip
    tasks = d.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        raise _fail(source, "tasks", tasks, "expected one or more [[tasks]] tables")
    expanded: list[DrillTask] = []
    repeats: list[int] = []
    for i, t in enumerate(tasks):
        task, repeat = _parse_task(source, f"tasks[{i}].", t, area)
        repeats.append(repeat)
        if len(expanded) + repeat > MAX_TASKS:  # named: the task repeated most so far
            most = max(range(len(repeats)), key=repeats.__getitem__)
            raise _fail(source, f"tasks[{most}].repeat", repeats[most],
                        f"more than {MAX_TASKS} trials in the drill")  # fmt: skip
        expanded.extend([task] * repeat)
    return Drill(name=name.strip(), description=description, tasks=tuple(expanded))


def _parse_task(source: str, prefix: str, t: Any, area_cm2: float | None) -> tuple[DrillTask, int]:
    _check_keys(source, prefix, t, _TASK_KEYS)
    given = [k for k in ("target_n", "target_kpa") if k in t]
    if len(given) != 1:
        raise _fail(source, f"{prefix}target_n", t.get("target_n"),
                    "give exactly one of target_n and target_kpa")  # fmt: skip
    if "target_kpa" in t:
        kpa = _number(source, f"{prefix}target_kpa", t["target_kpa"], most=20000.0)
        if area_cm2 is None:
            raise _fail(source, f"{prefix}target_kpa", t["target_kpa"],
                        "needs contact_area_cm2 at the top of the file")  # fmt: skip
        target_n = kpa * area_cm2 / KPA_PER_N_PER_CM2
        if target_n > MAX_FORCE_N:
            why = f"is {target_n:g} N on {area_cm2:g} cm², above {MAX_FORCE_N:g} N"
            raise _fail(source, f"{prefix}target_kpa", t["target_kpa"], why)
    else:
        target_n = _number(source, f"{prefix}target_n", t["target_n"])
    if "hold_s" not in t:
        raise _fail(source, f"{prefix}hold_s", None, "missing (every task needs a hold time)")
    hold_s = _number(source, f"{prefix}hold_s", t["hold_s"])
    if "tolerance_n" in t and "tolerance_pct" in t:
        raise _fail(source, f"{prefix}tolerance_pct", t["tolerance_pct"],
                    "give tolerance_n or tolerance_pct, not both")  # fmt: skip
    if "tolerance_n" in t:
        tolerance_n = _number(source, f"{prefix}tolerance_n", t["tolerance_n"])
    else:
        pct = t.get("tolerance_pct", DEFAULT_TOLERANCE_PCT)
        tolerance_n = target_n * _number(source, f"{prefix}tolerance_pct", pct, most=100.0) / 100
    if tolerance_n >= target_n:
        raise _fail(source, f"{prefix}tolerance_n", tolerance_n,
                    f"must be < the target ({target_n:g} N)")  # fmt: skip
    ramp = None
    if "ramp_n_per_s" in t:
        ramp = _number(source, f"{prefix}ramp_n_per_s", t["ramp_n_per_s"], most=200.0)
    task = DrillTask(
        target_n=target_n,
        hold_s=hold_s,
        tolerance_n=tolerance_n,
        ramp_n_per_s=ramp,
        feedback=_flag(source, f"{prefix}feedback", t.get("feedback", True)),
        rest_s=_number(
            source, f"{prefix}rest_s", t.get("rest_s", DEFAULT_REST_S), positive=False
        ),  # fmt: skip
    )
    repeat = _count(source, f"{prefix}repeat", t.get("repeat", 1), most=MAX_TASKS)
    return task, repeat


# ---------------------------------------------------------------------------- scoring


@dataclass(frozen=True, slots=True)
class TrialScore:
    """One drill trial's score (docs/DRILLS.md has every formula)."""

    drill: str
    index: int  # trial number in the drill, from 0
    feedback: bool
    target_n: float
    tolerance_n: float
    hold_index: int
    start_s: float
    end_s: float
    plateau_n: float  # the hold's mean_n
    error_n: float  # plateau − target (negative: too light)
    abs_error_n: float
    rel_error_pct: float  # abs_error_n / target × 100
    cv_pct: float
    ramp_rate_n_per_s: float | None
    ramp_error_pct: float | None  # (ramp − the task's) / the task's × 100
    in_band_pct: float  # plateau samples within target ± tolerance
    overshoot_n: float  # max(0, peak − target)
    overshoot_pct: float
    score: float  # 0–100


def drill_trials(
    drill_events: Sequence[ProtocolEvent], holds: Sequence[Hold]
) -> list[tuple[Drill, int, Hold]]:
    """(drill, trial number, hold) for every hold that is a drill trial: the k-th hold
    starting after a DRILL event is trial k, until the drill's tasks run out or the next
    DRILL event (one with empty data only stops the drill before it)."""
    events = sorted((e for e in drill_events if e.kind == ProtocolKind.DRILL),
                    key=lambda e: e.t_s)  # fmt: skip
    ordered = sorted(holds, key=lambda h: h.start_s)
    out: list[tuple[Drill, int, Hold]] = []
    for n, event in enumerate(events):
        if not event.data:  # the drill was stopped
            continue
        drill = Drill.from_dict(event.data, source=f"drill event at {event.t_s:.3f} s")
        until = events[n + 1].t_s if n + 1 < len(events) else math.inf
        run = [h for h in ordered if event.t_s <= h.start_s < until]
        out.extend((drill, k, hold) for k, hold in enumerate(run[: len(drill.tasks)]))
    return out


def score_trial(
    task: DrillTask,
    index: int,
    hold: Hold,
    t_s: np.ndarray,
    force_n: np.ndarray,
    drill: str = "",
) -> TrialScore:
    """Score one hold against its task; ``t_s``/``force_n`` hold the hold's samples (for
    the share of its plateau inside the band)."""
    t = np.asarray(t_s, dtype=np.float64)
    f = np.asarray(force_n, dtype=np.float64)
    if f.ndim > 1:
        f = f[:, 0]
    i0, i1 = np.searchsorted(t, [hold.start_s, hold.end_s], side="left")
    seg = f[int(i0) : int(i1) + 1]
    in_band = 0.0
    if len(seg):
        p0, p1 = plateau_range(seg)
        plateau = seg[p0:p1]
        in_band = float(np.mean(np.abs(plateau - task.target_n) <= task.tolerance_n) * 100)
    error = hold.mean_n - task.target_n
    ramp_error = None
    if task.ramp_n_per_s is not None and hold.ramp_rate_n_per_s is not None:
        ramp_error = (hold.ramp_rate_n_per_s - task.ramp_n_per_s) / task.ramp_n_per_s * 100
    overshoot = max(0.0, hold.peak_n - task.target_n)
    accuracy = 100.0 * max(0.0, 1.0 - abs(error) / (2 * task.tolerance_n))
    return TrialScore(
        drill=drill,
        index=index,
        feedback=task.feedback,
        target_n=task.target_n,
        tolerance_n=task.tolerance_n,
        hold_index=hold.index,
        start_s=hold.start_s,
        end_s=hold.end_s,
        plateau_n=hold.mean_n,
        error_n=error,
        abs_error_n=abs(error),
        rel_error_pct=abs(error) / task.target_n * 100,
        cv_pct=hold.cv_pct,
        ramp_rate_n_per_s=hold.ramp_rate_n_per_s,
        ramp_error_pct=ramp_error,
        in_band_pct=in_band,
        overshoot_n=overshoot,
        overshoot_pct=overshoot / task.target_n * 100,
        score=(accuracy + in_band) / 2,
    )


def score_drills(
    protocols: Sequence[ProtocolEvent],
    holds: Sequence[Hold],
    t_s: np.ndarray,
    force_n: np.ndarray,
) -> list[TrialScore]:
    """Every drill trial of a session, scored, in time order."""
    return [
        score_trial(drill.tasks[k], k, hold, t_s, force_n, drill=drill.name)
        for drill, k, hold in drill_trials(protocols, holds)
    ]


@dataclass(frozen=True, slots=True)
class DrillSummary:
    """Means over a session's drill trials (``None`` where no trial counts)."""

    trials: int
    feedback_trials: int
    blind_trials: int
    abs_error_feedback_n: float | None
    abs_error_blind_n: float | None
    rel_error_feedback_pct: float | None
    rel_error_blind_pct: float | None
    in_band_pct: float | None
    cv_pct: float | None
    score: float | None  # mean of the trials' scores, 0–100


def _mean(values: Iterable[float]) -> float | None:
    arr = np.array([v for v in values if math.isfinite(v)], dtype=float)
    return float(arr.mean()) if arr.size else None


def summarise(scores: Sequence[TrialScore]) -> DrillSummary:
    seen = [s for s in scores if s.feedback]
    blind = [s for s in scores if not s.feedback]
    return DrillSummary(
        trials=len(scores),
        feedback_trials=len(seen),
        blind_trials=len(blind),
        abs_error_feedback_n=_mean(s.abs_error_n for s in seen),
        abs_error_blind_n=_mean(s.abs_error_n for s in blind),
        rel_error_feedback_pct=_mean(s.rel_error_pct for s in seen),
        rel_error_blind_pct=_mean(s.rel_error_pct for s in blind),
        in_band_pct=_mean(s.in_band_pct for s in scores),
        cv_pct=_mean(s.cv_pct for s in scores),
        score=_mean(s.score for s in scores),
    )


@dataclass(frozen=True, slots=True)
class ProgressPoint:
    session_id: str
    started_at: str  # ISO 8601 UTC, as the library stores it
    summary: DrillSummary


def learning_curve(
    sessions: Iterable[tuple[str, str, Sequence[TrialScore]]],
) -> list[ProgressPoint]:
    """A trainee's drill results session by session, in time order: one point per
    (session id, started_at, the session's trial scores); sessions without a drill trial
    are left out."""
    return [
        ProgressPoint(sid, started, summarise(scores))
        for sid, started, scores in sorted(sessions, key=lambda s: s[1])
        if scores
    ]
