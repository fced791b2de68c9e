"""Limit monitor: warn / max / hold-duration alerts, decided per block in the reader thread.

- Levels: the current point's ``warn_n``/``max_n`` overrides, else the config's
  (:meth:`logger.points.PointPlan.levels`), read at every block, so a mark changes them
  from the next block on.
- Excursions: one alert per excursion (docs/EXPORTS.md), however long the therapist hovers at
  the level with tremor, noise or a slow drift. An excursion starts at the first sample
  strictly above the level. It ends only once force has stayed below
  ``level - hysteresis`` for the re-arm time: at the first sample at least
  :data:`REARM_S` (1.0 s) of device time after the first sample of an unbroken run of
  samples below that band.

  * ``hysteresis = max(HYSTERESIS_MIN_N, HYSTERESIS_FRACTION × level)`` =
    ``max(1 N, 5 % of level)`` (:func:`hysteresis_n`; 2 N at the default 40 N warn level,
    3 N at 60 N). It exceeds the peak-to-peak of physiological tremor (≈0.3–1 N) plus
    sensor noise at the level, so a hand hovering just above the level does not dip out.
  * :data:`REARM_S` = 1.0 s: longer than several tremor periods (8–12 Hz) and than the
    dips of a drifting plateau, so a plateau drifting down through the band ends its
    excursion once, and a new alert needs a genuine new push after a real release.
  * Time is device time (``t_s``): a gap in the data between two samples below the band
    counts towards the re-arm time; a sample inside the band or above the level restarts
    it. Nothing else (no gap, no block boundary) ends an excursion.

  Warn and max are separate excursions: crossing 60 N raises a warn alert (at 40 N) and
  then a max alert. The decision is vectorised per block and carries its state
  (:class:`ExcursionState`) across blocks, so alerts do not depend on how the samples were
  split into blocks.
- ``hold_duration``: once per contact (hold), at the first sample more than ``max_hold_s``
  after the contact's start, whatever the force does during the contact.
- The device's own buzzer gets the same warn/max levels in raw counts
  (:func:`device_limits`), clamped to the ADC's range.
- An alert carries ``t_s`` and force (``value``) of the first sample over the level (the
  hold's duration for ``hold_duration``), the current point index and the index of the hold
  the sample belongs to (from the contact spans the pipeline passes; None outside contacts).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from calibration.models import Calibration
from firmware_protocol.messages import INT24_MAX, INT24_MIN, SetLimits

from .config import Limits
from .points import PointPlan
from .records import Alert, AlertKind

HYSTERESIS_MIN_N = 1.0
HYSTERESIS_FRACTION = 0.05
REARM_S = 1.0  # device time force must stay below level - hysteresis to end an excursion
_DURATION_KEYS_KEPT = 16  # contacts remembered as having had their hold_duration alert


def hysteresis_n(level_n: float) -> float:
    """How far below a level force must fall (for :data:`REARM_S`) to end an excursion."""
    return max(HYSTERESIS_MIN_N, HYSTERESIS_FRACTION * level_n)


def device_limits(cal: Calibration, warn_n: float, max_n: float) -> tuple[SetLimits, bool]:
    """The SET_LIMITS that mirrors ``warn_n``/``max_n`` into the device's own alarm, and
    whether a level had to be clamped.

    The device takes raw counts of its 24-bit ADC (PROTOCOL.md §9 refuses anything else).
    A level beyond the sensor's full scale at this calibration can never be read, so it is
    clamped to full scale: the device alarms when the sensor saturates. A level that maps
    to no number at all (a broken calibration) turns the device's alarm off instead.
    """
    counts = np.round(cal.n_to_counts(np.array([warn_n, max_n], dtype=np.float64)))
    if not np.all(np.isfinite(counts)):
        return SetLimits(0, 0, enabled=0), True
    clamped = np.clip(counts, INT24_MIN, INT24_MAX)
    return SetLimits(int(clamped[0]), int(clamped[1])), bool(np.any(clamped != counts))


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


@dataclass(frozen=True, slots=True)
class ExcursionState:
    """Where one level's excursion stands after a block.

    ``active``: an excursion is open (its alert has been raised). ``below_since_s``: while
    active and the last sample was below the hysteresis band, the time of the first sample
    of that unbroken run below the band (the re-arm clock); None otherwise.
    """

    active: bool = False
    below_since_s: float | None = None


def excursion_starts(
    t_s: np.ndarray,
    force_n: np.ndarray,
    level_n: float,
    hyst_n: float,
    state: ExcursionState,
    rearm_s: float = REARM_S,
) -> tuple[list[int], ExcursionState]:
    """Indices where new excursions above ``level_n`` start, and the state after the block.

    Vectorised: numpy finds the samples over the level and the runs below
    ``level_n - hyst_n`` with the sample at which each run has lasted ``rearm_s``; the only
    Python loop is one step per excursion (not per sample).
    """
    n = len(force_n)
    if n == 0:
        return [], state
    low_n = level_n - hyst_n
    # fast path: quiet block below the level
    if not state.active and force_n.max() <= level_n:
        return [], ExcursionState()
    under = force_n < low_n
    # fast path: a block that stays inside the excursion, never below the band
    if state.active and not under.any():
        return [], ExcursionState(active=True)
    over = np.nonzero(force_n > level_n)[0]
    # runs [run_a, run_b) of samples below the band; the re-arm sample of each run
    edges = np.diff(under.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    run_a = np.nonzero(edges == 1)[0]
    run_b = np.nonzero(edges == -1)[0]
    run_t0 = t_s[run_a].astype(np.float64)
    if state.below_since_s is not None and len(run_a) and run_a[0] == 0:
        run_t0[0] = state.below_since_s  # the run began in an earlier block
    rearm_k = np.maximum(np.searchsorted(t_s, run_t0 + rearm_s, side="left"), run_a)
    armed = rearm_k < run_b
    rearm_at, rearm_run = rearm_k[armed], np.nonzero(armed)[0]
    starts: list[int] = []
    active = state.active
    pos = 0
    while True:
        if active:
            # runs that re-arm at or after pos all lie after the excursion's start
            j = int(rearm_at.searchsorted(pos))
            if j == len(rearm_at):
                break
            pos = int(run_b[rearm_run[j]])
            active = False
        else:
            j = int(over.searchsorted(pos))
            if j == len(over):
                break
            pos = int(over[j])
            starts.append(pos)
            pos += 1
            active = True
    below_since_s = None
    if active and under[-1]:
        below_since_s = float(run_t0[-1])
    return starts, ExcursionState(active, below_since_s)


class LimitMonitor:
    def __init__(self, limits: Limits, plan: PointPlan | None = None) -> None:
        """``plan``: whose current point's overrides apply (default: none). The monitor
        keeps ``limits`` in the plan, the one place both read them, so a change there
        (``plan.limits = …``) applies from the next block."""
        self.plan = plan if plan is not None else PointPlan([], limits)
        self.plan.limits = limits
        self._state = {AlertKind.WARN: ExcursionState(), AlertKind.MAX: ExcursionState()}
        # keys of the latest contacts that had their hold_duration alert (a contact appears
        # in the spans of every block it overlaps, so the alert must not repeat)
        self._duration_alerted: deque[int] = deque(maxlen=_DURATION_KEYS_KEPT)

    @property
    def limits(self) -> Limits:
        return self.plan.limits

    def in_excursion(self, kind: AlertKind) -> bool:
        """Whether that level's excursion is open (its alert raised, not yet re-armed)."""
        return self._state[kind].active

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
            starts, self._state[kind] = excursion_starts(
                t, f, level_n, hysteresis_n(level_n), self._state[kind]
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
            if span.key in self._duration_alerted:
                continue
            due_s = span.start_s + self.limits.max_hold_s
            k = span.first + int(np.searchsorted(t[span.first : span.stop], due_s, side="right"))
            if k < span.stop:
                self._duration_alerted.append(span.key)
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
