"""Limit monitor: warn / max / hold-duration alerts, decided per block in the reader thread.

- Levels: the current point's ``warn_n``/``max_n`` overrides, else the config's
  (:meth:`logger.points.PointPlan.levels`), read at every block, so a mark changes them
  from the next block on.
- An excursion starts at the first sample strictly above the level and ends at the first
  sample below ``level - hysteresis`` with ``hysteresis = max(0.5 N, 2 % of level)``
  (:func:`hysteresis_n`). Exactly one alert per excursion, however much the force chatters
  around the level. Warn and max are separate excursions: crossing 60 N raises a warn alert
  (at 40 N) and then a max alert. Excursions are not ended by gaps in the data: only a
  sample below the hysteresis band ends them.
- ``hold_duration``: once per contact, at the first sample more than ``max_hold_s`` after
  the contact's start.
- An alert carries ``t_s`` and force (``value``) of the first sample over the level (the
  hold's duration for ``hold_duration``), the current point index and the index of the hold
  the sample belongs to (from the contact spans the pipeline passes; None outside contacts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .config import Limits
from .points import PointPlan
from .records import Alert, AlertKind

HYSTERESIS_MIN_N = 0.5
HYSTERESIS_FRACTION = 0.02


def hysteresis_n(level_n: float) -> float:
    """How far below a level force must fall to end an excursion."""
    return max(HYSTERESIS_MIN_N, HYSTERESIS_FRACTION * level_n)


@dataclass(frozen=True, slots=True)
class ContactSpan:
    """A contact (possible hold) as seen in one block.

    ``first``/``stop``: its block-local samples ``[first, stop)`` (``first`` is 0 when it
    began in an earlier block, ``stop`` the block length while it is open). ``key`` is a
    unique id of the contact (its global start sample); ``hold_index`` the index the hold
    has or will get (None for a press).
    """

    first: int
    stop: int
    start_s: float
    key: int
    hold_index: int | None


def excursion_starts(
    force_n: np.ndarray, level_n: float, hyst_n: float, in_excursion: bool
) -> tuple[list[int], bool]:
    """Indices where new excursions above ``level_n`` start, and the state after the block.

    One search step per excursion (not per sample).
    """
    if len(force_n) == 0:
        return [], in_excursion
    # fast paths: quiet block below the level; a block that stays inside the excursion
    if not in_excursion and force_n.max() <= level_n:
        return [], False
    if in_excursion and force_n.min() >= level_n - hyst_n:
        return [], True
    over = np.nonzero(force_n > level_n)[0]
    under = np.nonzero(force_n < level_n - hyst_n)[0]
    starts: list[int] = []
    pos = 0
    while True:
        if in_excursion:
            j = int(under.searchsorted(pos))
            if j == len(under):
                break
            pos = int(under[j]) + 1
            in_excursion = False
        else:
            j = int(over.searchsorted(pos))
            if j == len(over):
                break
            pos = int(over[j])
            starts.append(pos)
            pos += 1
            in_excursion = True
    return starts, in_excursion


class LimitMonitor:
    def __init__(self, limits: Limits, plan: PointPlan | None = None) -> None:
        self.limits = limits
        self.plan = plan if plan is not None else PointPlan([], limits)
        self._in_excursion = {AlertKind.WARN: False, AlertKind.MAX: False}
        self._duration_alerted_key: int | None = None

    def in_excursion(self, kind: AlertKind) -> bool:
        """Whether force is currently above (or within the hysteresis of) that level."""
        return self._in_excursion[kind]

    def process(
        self, t_s: np.ndarray, force_n: np.ndarray, spans: Sequence[ContactSpan] = ()
    ) -> list[Alert]:
        """Alerts raised by one block (ordered by time)."""
        t = np.asarray(t_s, dtype=np.float64)
        f = np.asarray(force_n, dtype=np.float64)
        if len(t) == 0:
            return []
        point_index = self.plan.current_index
        lv = self.plan.levels()
        alerts: list[Alert] = []
        for kind, level_n in ((AlertKind.WARN, lv.warn_n), (AlertKind.MAX, lv.max_n)):
            starts, self._in_excursion[kind] = excursion_starts(
                f, level_n, hysteresis_n(level_n), self._in_excursion[kind]
            )
            for k in starts:
                alerts.append(
                    Alert(
                        t_s=float(t[k]),
                        kind=kind,
                        value=float(f[k]),
                        point_index=point_index,
                        hold_index=_hold_at(spans, k),
                    )
                )
        for span in spans:
            if span.key == self._duration_alerted_key:
                continue
            due_s = span.start_s + self.limits.max_hold_s
            k = span.first + int(np.searchsorted(t[span.first : span.stop], due_s, side="right"))
            if k < span.stop:
                self._duration_alerted_key = span.key
                alerts.append(
                    Alert(
                        t_s=float(t[k]),
                        kind=AlertKind.HOLD_DURATION,
                        value=float(t[k] - span.start_s),
                        point_index=point_index,
                        hold_index=span.hold_index,
                    )
                )
        alerts.sort(key=lambda a: a.t_s)
        return alerts


def _hold_at(spans: Sequence[ContactSpan], k: int) -> int | None:
    for span in spans:
        if span.first <= k < span.stop:
            return span.hold_index
    return None
