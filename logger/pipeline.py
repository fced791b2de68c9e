"""The pipeline run in the reader thread right after decoding and calibration: hold
detection, limit alerts and the point plan, O(block) numpy work per block, no I/O.

Holds are linked to the point active at their *start*. A mark that arrives after the block
holding a contact's start but is timed at or before that start (a device-button event
decoded after its samples) moves the open contact to the new point.

Hold indices count finished holds (presses get none). Alerts raised during an open contact
carry the index that contact will get if it becomes a hold; if it ends up a press, those
alerts are set to ``hold_index = None`` and reported once more in
``PipelineOutput.unlinked_alerts`` so that whoever stored them can update them.

Gaps: :meth:`Pipeline.gap` ends an open contact when the gap is longer than
``hold_detector.MAX_GAP_S`` and every sample before it has been processed (the time jump in
the next block would end it anyway). The resulting hold is reported with the output of the
next :meth:`~Pipeline.process` or :meth:`~Pipeline.finish` call, so that a caller that only
collects those outputs loses nothing; ``gap()`` itself returns an empty output.

Settings change in place (:meth:`Pipeline.set_config`, :meth:`PointPlan.replace` on
``plan``), never by building a new pipeline: the limit levels (alerts, the device's buzzer)
apply from the next block, the hold thresholds from the next contact. A contact keeps what
it began with: its point (name and index, even when the plan is replaced under it) and the
levels its metrics are judged by. Only a mark timed at or before its start moves it.

The pipeline is not thread-safe: the caller serialises calls (LiveSession holds its own
lock around every call; the store's recompute runs in one thread).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .config import Config, HoldConfig
from .hold_detector import HoldDetector, HoldEvent, HoldEventKind, HoldLevels, HoldState
from .limits import ContactSpan, LimitMonitor
from .points import PointPlan
from .records import Alert, Hold, Mark, MarkSource, Point, SampleBlock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HoldStarted:
    """Force rose through onset: a contact began (it may still turn out to be a press)."""

    hold_index: int  # the index it will get if it becomes a hold
    point_index: int | None
    start_s: float


@dataclass(frozen=True, slots=True)
class _AtStart:
    """What a contact keeps from its start: its point and the levels it is judged by."""

    point: Point | None
    levels: HoldLevels


@dataclass(slots=True)
class PipelineOutput:
    holds_started: list[HoldStarted] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    rejected: int = 0  # contacts shorter than min_duration_s (presses)
    marks: list[Mark] = field(default_factory=list)
    unlinked_alerts: list[Alert] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(
            self.holds_started
            or self.holds
            or self.alerts
            or self.rejected
            or self.marks
            or self.unlinked_alerts
        )

    def extend(self, other: PipelineOutput) -> None:
        self.holds_started += other.holds_started
        self.holds += other.holds
        self.alerts += other.alerts
        self.rejected += other.rejected
        self.marks += other.marks
        self.unlinked_alerts += other.unlinked_alerts


class Pipeline:
    def __init__(self, config: Config, plan: PointPlan | None = None) -> None:
        """``plan`` (default: the config's points) is the pipeline's to move on; it takes
        the config's limits."""
        self.config = config
        self.plan = plan if plan is not None else PointPlan(config.points, config.limits)
        self.detector = HoldDetector(config.holds, levels=self._levels_for)
        self.monitor = LimitMonitor(config.limits, self.plan)
        self._n_holds = 0
        self._at_start: dict[int, _AtStart] = {}  # open contact key → what it began with
        self._open_alerts: list[Alert] = []  # alerts linked to the open contact
        self._pending = PipelineOutput()  # ended by gap(): delivered with the next output

    def set_config(self, config: Config) -> None:
        """New settings in place: limits from the next block, hold thresholds from the next
        contact (one under way ends by the thresholds it began with). ``config.points`` is
        left to whoever owns the plan (:meth:`PointPlan.replace`)."""
        self.config = config
        self.plan.limits = config.limits  # the monitor reads them there
        self.detector.set_config(config.holds)

    # ------------------------------------------------------------------ live state

    @property
    def current_hold(self) -> HoldState | None:
        return self.detector.current

    @property
    def holds_in_force(self) -> HoldConfig:
        """The thresholds the detector judges by now (those of the contact under way)."""
        return self.detector.cfg

    @property
    def current_hold_point(self) -> Point | None:
        """The point the open contact belongs to: the one current where it began."""
        cur = self.detector.open_contact
        if cur is None:
            return None
        at = self._at_start.get(cur[0])
        return at.point if at is not None else self.plan.current

    @property
    def points(self) -> list[Point]:
        """The plan's points (an ad-hoc plan grows with each mark)."""
        return self.plan.points

    # ------------------------------------------------------------------ inputs

    def process(self, block: SampleBlock) -> PipelineOutput:
        """Holds and alerts for one calibrated block (force channel 0)."""
        if block.force_n is None:
            raise ValueError("SampleBlock.force_n is None: calibrate the block first")
        force = np.asarray(block.force_n)
        f = force[:, 0] if force.ndim == 2 else force
        t = np.asarray(block.t_s, dtype=np.float64)
        if len(t) == 0:
            return PipelineOutput()
        g0 = self.detector.samples_seen
        before = self.detector.open_contact
        events = self.detector.process(t, f)
        out, spans = self._handle(events, g0, len(t), before)
        alerts = self.monitor.process(t, f, spans)
        out.alerts = alerts
        if alerts and self.detector.open_contact is not None:
            predicted = self._n_holds
            self._open_alerts += [a for a in alerts if a.hold_index == predicted]
        return self._with_pending(out)

    def mark(self, t_s: float, source: MarkSource) -> Mark:
        """Move to the next point of the plan."""
        m = self.plan.mark(t_s, source)
        self._relink_open_contact(m)
        return m

    def jump(self, index: int, t_s: float, source: MarkSource) -> Mark:
        """Make point ``index`` current; BadInput if it is not in the plan."""
        m = self.plan.jump(index, t_s, source)
        self._relink_open_contact(m)
        return m

    def gap(self, start_s: float, end_s: float) -> PipelineOutput:
        """Data lost between ``start_s`` (last sample before) and ``end_s`` (first sample
        after): a long gap ends the open contact; see the module docstring for when its
        hold is reported. Returns an empty output."""
        last_t = self.detector.last_t_s
        if last_t is None or start_s > last_t:
            return PipelineOutput()  # samples before the gap still to come
        before = self.detector.open_contact
        events = self.detector.gap(start_s, end_s)
        out, _ = self._handle(events, self.detector.samples_seen, 0, before)
        self._pending.extend(out)
        return PipelineOutput()

    def finish(self) -> PipelineOutput:
        """End of the session: an open contact ends at the last sample, and a hold it
        makes is flagged ``cut_short``."""
        before = self.detector.open_contact
        events = self.detector.flush()
        out, _ = self._handle(events, self.detector.samples_seen, 0, before)
        for hold in out.holds:
            hold.cut_short = True
        return self._with_pending(out)

    # ------------------------------------------------------------------ internals

    def _with_pending(self, out: PipelineOutput) -> PipelineOutput:
        if not self._pending:
            return out
        pending, self._pending = self._pending, PipelineOutput()
        pending.extend(out)
        return pending

    def _now(self) -> _AtStart:
        return _AtStart(self.plan.current, self.plan.levels())

    def _levels_for(self, start_i: int) -> HoldLevels:
        at = self._at_start.get(start_i)
        return at.levels if at is not None else self.plan.levels()

    def _relink_open_contact(self, m: Mark) -> None:
        cur = self.detector.open_contact
        if cur is not None and cur[1] >= m.t_s:
            self._at_start[cur[0]] = self._now()

    def _handle(
        self, events: list[HoldEvent], g0: int, n: int, before: tuple[int, float] | None
    ) -> tuple[PipelineOutput, list[ContactSpan]]:
        out = PipelineOutput()
        spans: list[ContactSpan] = []
        open_key, open_start_s = before if before is not None else (None, 0.0)
        for ev in events:
            if ev.kind == HoldEventKind.STARTED:
                open_key, open_start_s = ev.start_i, ev.start_s
                self._at_start[ev.start_i] = self._now()
                self._open_alerts = []
                out.holds_started.append(
                    HoldStarted(self._n_holds, self.plan.current_index, ev.start_s)
                )
                continue
            assert ev.end_i is not None
            first, stop = max(ev.start_i - g0, 0), max(ev.end_i - g0, 0)
            at = self._at_start.pop(ev.start_i, None) or self._now()
            open_key = None
            if ev.kind == HoldEventKind.ENDED:
                assert ev.metrics is not None
                spans.append(ContactSpan(first, stop, ev.start_s, ev.start_i, self._n_holds))
                out.holds.append(self._hold_record(at.point, ev.metrics))
                self._n_holds += 1
            else:
                spans.append(ContactSpan(first, stop, ev.start_s, ev.start_i, None))
                out.rejected += 1
                for alert in self._open_alerts:
                    alert.hold_index = None
                out.unlinked_alerts += self._open_alerts
            self._open_alerts = []
        if open_key is not None and n > 0:
            first = max(open_key - g0, 0)
            spans.append(ContactSpan(first, n, open_start_s, open_key, self._n_holds))
        return out, spans

    def _hold_record(self, point: Point | None, metrics: dict[str, Any]) -> Hold:
        return Hold(
            index=self._n_holds,
            point_index=point.index if point is not None else None,
            point=point.name if point is not None else None,
            **metrics,
        )
