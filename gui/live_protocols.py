"""The clinical protocols in the live window: PPT rounds, drills, guided profiles, ratings.

The session's protocol events say what runs: the last ROUND event's label (a PPT round
while it is "pre" or "post"), the last DRILL or PROFILE event (until its trials or its
profile are over, or Stop here). ``LiveProtocols`` turns those events, the client's
signals and pain ratings and the window's copy of the trace into what the PPT panel, the
guided panel, the drill view, the readout and the plot show. Every figure is computed by
``logger.ppt``, ``logger.drills`` and ``logger.guided``; nothing here decides a threshold
or a score of its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PySide6.QtWidgets import QWidget

from logger.drills import Drill, drill_trials, score_trial
from logger.guided import Profile, profile_knots_s, score_profile, target_n
from logger.hold_detector import HoldState
from logger.live import LiveSession
from logger.ppt import PPT_ROUNDS, PptSettings, live_rate_n_per_s, ppt_points, ppt_trials, rate_band
from logger.records import Hold, ProtocolEvent, ProtocolKind, Rating, Signal

from .display import DisplayUnits
from .trace_buffer import TraceBuffer
from .widgets.drill_view import DrillView
from .widgets.guided_panel import GuidedPanel
from .widgets.live_plot import LivePlot
from .widgets.ppt_panel import PptPanel
from .widgets.readout import ForceReadout

PROFILE_LEAD_S = 8.0  # a running profile shows this much of what is coming
PPT_EVERY_S = 0.5  # the PPT trials are worked out again this often (and on each event)
PPT_RAMP_MAX_S = 60.0  # a trial under way when the round began started at most this early
LIVE_RATE_S = 0.3  # the PPT gauge's rate: the slope over this much of the trace
TRACE_MAX_S = 600.0  # what the window keeps of the trace


class LiveProtocols:
    """What runs, and how it shows. ``show_bottom`` puts a panel (or None: the holds
    table) under the plot; ``show_drill`` shows the drill view (False: the live page)."""

    def __init__(
        self,
        plot: LivePlot,
        readout: ForceReadout,
        ppt_panel: PptPanel,
        guided_panel: GuidedPanel,
        drill_view: DrillView,
        show_bottom: Callable[[QWidget | None], None],
        show_drill: Callable[[bool], None],
    ) -> None:
        self.plot, self.readout = plot, readout
        self.ppt_panel, self.guided_panel, self.drill_view = ppt_panel, guided_panel, drill_view
        self._show_bottom, self._show_drill = show_bottom, show_drill
        self.reset()

    def reset(self) -> None:
        """A new connection: nothing runs."""
        self.ppt_round = ""  # "pre" | "post" while a PPT round runs
        self.ppt_start_s = 0.0
        self._ppt_due = 0.0  # trace time at which the trials are worked out again
        self._over_max = False  # a PPT ramp passed the max limit (until the contact ends)
        self.drill: Drill | None = None
        self.drill_event: ProtocolEvent | None = None
        self._drill_holds: list[Hold] = []
        self.profile: Profile | None = None
        self.profile_start_s = 0.0
        self._profile_scored = False
        self.plot.set_profile(None)
        self.plot.set_lead_s(0.0)
        self.plot.set_ratings(())
        self.readout.set_rating(None)
        self.drill_view.drill = None
        self._show_drill(False)
        self._place_bottom()

    def set_units(self, units: DisplayUnits) -> None:
        for w in (self.ppt_panel, self.guided_panel, self.drill_view):
            w.set_units(units)

    @property
    def running(self) -> str:
        """What runs: "drill", "profile", "ppt" or "" (nothing)."""
        if self.drill is not None:
            return "drill"
        if self.profile is not None:
            return "profile"
        return "ppt" if self.ppt_round else ""

    def _place_bottom(self) -> None:
        panel = {"ppt": self.ppt_panel, "profile": self.guided_panel}.get(self.running)
        self._show_bottom(panel)

    def stop(self) -> str:
        """Stop the drill or the profile shown here (the recording keeps what was done)."""
        what = "drill" if self.drill is not None else "profile" if self.profile else ""
        self.drill, self.drill_event, self._drill_holds = None, None, []
        self.drill_view.drill = None
        self.profile = None
        self.plot.set_profile(None)
        self.plot.set_lead_s(0.0)
        self._show_drill(False)
        self._place_bottom()
        return what

    # ------------------------------------------------------------------ events
    def on_event(self, live: LiveSession, event: object) -> str | None:
        """A session event; returns the alert log's line for it (None: none)."""
        if isinstance(event, Rating):
            self.show_ratings(live)
            return None  # an eVAS sends many: the plot and the readout show them
        if isinstance(event, Signal):
            self._ppt_due = 0.0
            return f"client signal ({event.source})"
        if isinstance(event, ProtocolEvent):
            return self._on_protocol(live, event)
        return None

    def show_ratings(self, live: LiveSession) -> None:
        ratings = live.ratings
        self.plot.set_ratings([(r.t_s, r.value) for r in ratings])
        self.readout.set_rating(live.current_rating)

    def _on_protocol(self, live: LiveSession, event: ProtocolEvent) -> str:
        kind = ProtocolKind(event.kind)
        if kind == ProtocolKind.ROUND:
            label = str(event.data.get("label", ""))
            self.ppt_round = label if label in PPT_ROUNDS else ""
            self.ppt_start_s, self._ppt_due = event.t_s, 0.0
            if self.ppt_round:
                self._configure_ppt(live)
            self._place_bottom()
            return f"PPT round {label}" if self.ppt_round else "PPT off"
        if not event.data:  # a drill or profile stopped (by this window or another)
            what = self.stop()
            return f"{what or kind.value} stopped"
        if kind == ProtocolKind.DRILL:
            self.stop()
            self.drill, self.drill_event = Drill.from_dict(event.data), event
            self.drill_view.start(self.drill, event.t_s)
            self._show_drill(True)
            return f"drill {self.drill.name}: {len(self.drill.tasks)} trials"
        self.stop()
        self.profile, self.profile_start_s = Profile.from_dict(event.data), event.t_s
        self._profile_scored = False
        self._draw_profile()
        self.guided_panel.set_profile(self.profile)
        self._place_bottom()
        return f"guided profile {self.profile.kind}"

    def _configure_ppt(self, live: LiveSession) -> None:
        settings = PptSettings.from_config(live.config)
        low, high = rate_band(settings)
        self.ppt_panel.set_rate_band(low, high, settings.rate_n_per_s)

    def config_changed(self, live: LiveSession) -> None:
        if self.ppt_round:
            self._configure_ppt(live)
            self._ppt_due = 0.0

    def _draw_profile(self) -> None:
        profile = self.profile
        assert profile is not None
        since = profile_knots_s(profile)
        self.plot.set_profile(
            self.profile_start_s + since, target_n(profile, since), profile.tolerance_n
        )
        self.plot.set_lead_s(PROFILE_LEAD_S)

    def on_hold(self, live: LiveSession, hold: Hold, trace: TraceBuffer | None) -> None:
        """A completed hold: the drill's next trial, scored, when a drill runs."""
        self._ppt_due = 0.0
        if self.drill is None or self.drill_event is None or trace is None:
            return
        if hold.start_s < self.drill_event.t_s:
            return
        self._drill_holds.append(hold)
        for drill, k, h in drill_trials([self.drill_event], self._drill_holds):
            if h is hold:
                t, f = live.recent_forces_n(min(live.t_s - hold.start_s + 10.0, TRACE_MAX_S))
                score = score_trial(drill.tasks[k], k, hold, t, f, drill=drill.name)
                self.drill_view.add_score(score)

    # ------------------------------------------------------------------ per frame
    def frame(
        self,
        live: LiveSession,
        trace: TraceBuffer,
        hold: HoldState | None,
        ramp_n_per_s: float | None,
        text_due: bool,
    ) -> None:
        """Draw the protocols' live parts (the drill view every frame while shown, the
        panels' numbers when ``text_due``)."""
        if not self.running:
            return
        t, f = trace.window(2.0)
        now = float(t[-1]) if t.shape[0] else live.t_s
        force = float(f[-1]) if f.shape[0] else None
        if self.drill is not None:
            contact = hold.start_s if hold is not None else None
            self.drill_view.show_now(now, force, contact, ramp_n_per_s)
        if not text_due:
            return
        if self.profile is not None:
            self._profile_now(live, trace, now, force)
        if self.ppt_round:
            self._ppt_now(live, trace, t, f, now, force, hold)

    def _profile_now(
        self, live: LiveSession, trace: TraceBuffer, now: float, force: float | None
    ) -> None:
        profile = self.profile
        assert profile is not None
        since = now - self.profile_start_s
        target = float(target_n(profile, np.array([since]))[0])
        target_now = None if math.isnan(target) else target
        deviation = None if force is None or target_now is None else force - target_now
        self.guided_panel.set_now(profile, since, deviation, target_now)
        if since > profile.duration_s and not self._profile_scored:
            self._profile_scored = True
            self.plot.set_lead_s(0.0)
            t, f = live.recent_forces_n(min(now - self.profile_start_s + 1.0, TRACE_MAX_S))
            self.guided_panel.set_score(score_profile(profile, self.profile_start_s, t, f))

    def _ppt_now(
        self,
        live: LiveSession,
        trace: TraceBuffer,
        t: np.ndarray,
        f: np.ndarray,
        now: float,
        force: float | None,
        hold: HoldState | None,
    ) -> None:
        plan = live.plan
        self.ppt_panel.set_round(self.ppt_round, plan.current.name if plan.current else None)
        loading = hold is not None and force is not None
        self.ppt_panel.set_rate(live_rate_n_per_s(t, f, LIVE_RATE_S) if loading else None)
        max_n = plan.levels().max_n
        if force is not None and max_n is not None and force >= max_n:
            self._over_max = True
        elif hold is None:
            self._over_max = False
        self.ppt_panel.set_stop(self._over_max)
        if now >= self._ppt_due:
            self._ppt_due = now + PPT_EVERY_S
            self.show_ppt_trials(live, trace)

    def show_ppt_trials(self, live: LiveSession, trace: TraceBuffer) -> None:
        """The current point's trials in this round, and its threshold so far."""
        config = live.config
        since_s = live.t_s - self.ppt_start_s + PPT_RAMP_MAX_S
        t, f = live.recent_forces_n(min(since_s, TRACE_MAX_S))
        plan = live.plan
        trials = ppt_trials(t, f, live.signals, live.marks, live.protocols, plan.points, config)
        here = [tr for tr in trials
                if tr.round == self.ppt_round and tr.point_index == plan.current_index]  # fmt: skip
        points = ppt_points(here, PptSettings.from_config(config))
        self.ppt_panel.set_trials(here, points[0] if points else None)
