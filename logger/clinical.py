"""A session's clinical-protocol results, computed in one place from its stored forces and
events: PPT trials, per-point thresholds and the pre → post change; drill trial scores and
their summary; guided-profile scores.

The review, the report and the exports all take them from here, so a threshold or a score
is the same number wherever it is shown. Nothing is stored: the results follow from the
samples, the calibration and zero events, the holds, the marks, the client's signals and
the protocol events, so a recalibrated session's results follow its new forces.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .config import Config
from .drills import DrillSummary, TrialScore, score_drills, summarise
from .errors import BadInput, StorageError
from .guided import ProfileScore, score_profiles
from .ppt import PPT_ROUNDS, PptChange, PptPoint, PptSettings, PptTrial, ppt_change
from .ppt import ppt_points as points_of
from .ppt import ppt_trials as trials_of
from .store.library import SessionRecord


class ForceSource(Protocol):
    """What the results read from a library (either back end, or a de-identified view)."""

    def load_session(self, sid: str) -> SessionRecord: ...

    def load_forces(
        self, sid: str, t0_s: float | None = None, t1_s: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True, slots=True)
class ClinicalResults:
    ppt: PptSettings
    ppt_trials: list[PptTrial]
    ppt_points: list[PptPoint]
    ppt_change: list[PptChange]  # this session's "post" round against its "pre" round
    drill_scores: list[TrialScore]
    drill_summary: DrillSummary | None
    profile_scores: list[ProfileScore]

    @property
    def empty(self) -> bool:
        return not (self.ppt_trials or self.drill_scores or self.profile_scores)

    def round_points(self, label: str) -> list[PptPoint]:
        return [p for p in self.ppt_points if p.round == label]


def session_config(rec: SessionRecord) -> Config:
    """The configuration the session was recorded with (as the review and `recalibrate`
    read it: stored values are not range-checked again)."""
    return Config.from_dict(rec.meta.config, source=f"session {rec.id} config", ranged=False)


def needs_forces(rec: SessionRecord) -> bool:
    """Whether the session has anything to compute (signals or protocol events): a session
    without them has empty results and its samples need not be read."""
    return bool(rec.signals or rec.protocols)


def clinical_results(rec: SessionRecord, t_s: np.ndarray, force_n: np.ndarray) -> ClinicalResults:
    """The results of ``rec`` over its channel-0 forces ``(t_s, force_n)``, both (n,), of
    the whole session."""
    config = session_config(rec)
    settings = PptSettings.from_config(config)
    trials = trials_of(t_s, force_n, rec.signals, rec.marks, rec.protocols, rec.points, config)
    points = points_of(trials, settings)
    scores = score_drills(rec.protocols, rec.holds, t_s, force_n)
    results = ClinicalResults(
        ppt=settings,
        ppt_trials=trials,
        ppt_points=points,
        ppt_change=[],
        drill_scores=scores,
        drill_summary=summarise(scores) if scores else None,
        profile_scores=score_profiles(rec.protocols, t_s, force_n),
    )
    pre, post = (results.round_points(label) for label in PPT_ROUNDS)
    if pre and post:
        results = dataclasses.replace(results, ppt_change=ppt_change(pre, post))
    return results


def session_forces(store: ForceSource, rec: SessionRecord) -> tuple[np.ndarray, np.ndarray]:
    """The session's channel-0 forces ``(t_s, force_n)``, both (n,), the whole session;
    empty when it has nothing to compute (its samples are then not read)."""
    if not needs_forces(rec):
        return np.empty(0), np.empty(0)
    t_s, forces_n = store.load_forces(rec.id)
    return t_s, forces_n[:, 0]  # channel 0, the one holds are found on


@contextlib.contextmanager
def reading_protocols(sid: str) -> Iterator[None]:
    """A stored drill or profile the program cannot read (it never writes one) is damaged
    content: one StorageError naming the session."""
    try:
        yield
    except BadInput as exc:
        raise StorageError(f"session {sid}: damaged protocol event: {exc}") from None


def load_clinical(
    store: ForceSource, sid: str, rec: SessionRecord | None = None
) -> ClinicalResults:
    """The results of session ``sid`` (``rec``: the session, when already loaded)."""
    if rec is None:
        rec = store.load_session(sid)
    t_s, force_n = session_forces(store, rec)
    with reading_protocols(sid):
        return clinical_results(rec, t_s, force_n)


def change_between(before: ClinicalResults, after: ClinicalResults) -> list[PptChange]:
    """Per-point change across two sessions of a client: ``before``'s "pre" round (its
    "post" round when it has no "pre") against ``after``'s "post" round (its "pre" round
    when it has no "post"), points matched by name."""

    def pick(res: ClinicalResults, first: str, second: str) -> list[PptPoint]:
        return res.round_points(first) or res.round_points(second)

    return ppt_change(pick(before, "pre", "post"), pick(after, "post", "pre"))


@dataclass(frozen=True, slots=True)
class ClientChange:
    """The PPT change of one client between two of their sessions, the earlier as pre."""

    client: str
    pre_id: str
    post_id: str
    change: list[PptChange]


def client_change(
    a: tuple[SessionRecord, ClinicalResults], b: tuple[SessionRecord, ClinicalResults]
) -> ClientChange | None:
    """The change between two sessions of the same (named) client that both have PPT
    points, the earlier session (by start) as pre; None otherwise."""
    client = a[0].meta.client
    if not client or b[0].meta.client != client or not (a[1].ppt_points and b[1].ppt_points):
        return None
    (first, r1), (second, r2) = sorted([a, b], key=lambda x: (x[0].meta.started_at, x[0].id))
    return ClientChange(client, first.id, second.id, change_between(r1, r2))


def _rows(items: Sequence[Any]) -> list[dict[str, Any]]:
    return [dataclasses.asdict(i) for i in items]


def results_document(results: ClinicalResults, *, baseline: list[PptChange] | None = None) -> dict:
    """The JSON form the session export carries (``ppt``, ``drills``, ``guided``); with
    ``baseline``, ``ppt.change_from_baseline`` holds the change from another session."""
    ppt: dict[str, Any] = {
        "settings": dataclasses.asdict(results.ppt),
        "trials": _rows(results.ppt_trials),
        "points": _rows(results.ppt_points),
        "change": _rows(results.ppt_change),
    }
    if baseline is not None:
        ppt["change_from_baseline"] = _rows(baseline)
    summary = results.drill_summary
    return {
        "ppt": ppt,
        "drills": {
            "trials": _rows(results.drill_scores),
            "summary": dataclasses.asdict(summary) if summary is not None else None,
        },
        "guided": _rows(results.profile_scores),
    }
