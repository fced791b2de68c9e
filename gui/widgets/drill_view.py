"""The drill view: what a trainee sees during a training drill, filling the window.

A drill is a list of trials (``logger.drills.Drill``); the k-th hold since the drill
started is trial k (``logger.drills.drill_trials``). For the trial at hand the view shows
"Trial k of N", the target band and the force as a tall bar within it, a countdown of the
hold time once the plateau is reached (the force has stopped rising), then the rest
countdown. After each trial its score (absolute error, time in band) shows for a few
seconds.

A blind trial (``feedback = false``, a retention test) hides the bar, the band and the
number: the force is never handed to a visible widget while such a trial is at hand,
before or during the hold, nor in the rest that follows it; only "hold now" and the
countdown are shown, and the score once the trial is over.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from logger.drills import Drill, DrillTask, TrialScore

from .. import theme
from ..display import DisplayUnits
from ..format import num

SCORE_SHOWN_S = 4.0  # a trial's score stays up at least this long after it ended
PLATEAU_RATE_N_PER_S = 2.0  # the plateau begins when the force rises slower than this …
PLATEAU_RATE_SHARE = 0.2  # … or than this share of the task's ramp rate, if faster
COUNTDOWN_PT = 96


@dataclass(frozen=True, slots=True)
class DrillFrame:
    """What the view shows at one moment (``drill_frame``)."""

    trial: int  # 0-based: the trial under way or next; == total when the drill is over
    total: int
    phase: str  # "ready" | "hold" | "rest" | "done"
    seconds_left: float | None  # the hold (from the plateau) or the rest still to go
    feedback: bool  # the force and the band may be shown
    score: TrialScore | None  # the last trial's score, while it is shown


def drill_frame(
    tasks: Sequence[DrillTask],
    scores: Sequence[TrialScore],
    now_s: float,
    *,
    in_contact: bool,
    plateau_s: float | None,
) -> DrillFrame:
    """The view's state: ``scores`` of the trials done so far (in order), whether a
    contact is open now, and since when its plateau runs (None: not reached)."""
    total, done = len(tasks), len(scores)
    last = scores[-1] if scores else None
    score = None
    if last is not None and not in_contact:
        shown_s = max(SCORE_SHOWN_S, tasks[done - 1].rest_s)
        score = last if now_s - last.end_s < shown_s else None
    if done >= total:
        return DrillFrame(done, total, "done", None, False, last)
    task = tasks[done]
    if in_contact:
        left = None if plateau_s is None else task.hold_s - (now_s - plateau_s)
        return DrillFrame(done, total, "hold", left, task.feedback, None)
    if last is not None and now_s - last.end_s < tasks[done - 1].rest_s:
        left = tasks[done - 1].rest_s - (now_s - last.end_s)
        # the release of a blind trial stays hidden too
        feedback = task.feedback and tasks[done - 1].feedback
        return DrillFrame(done, total, "rest", left, feedback, score)
    return DrillFrame(done, total, "ready", None, task.feedback, score)


class ForceBar(QWidget):
    """A tall bar: the target band shaded, the force as a filled column from zero."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.top_n = 50.0
        self.band_n: tuple[float, float] | None = None
        self.force_n: float | None = None
        self.setMinimumSize(160, 200)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        self.setFixedWidth(220)

    def set_scale(self, top_n: float) -> None:
        self.top_n = max(top_n, 1.0)
        self.update()

    def set_band(self, band_n: tuple[float, float] | None) -> None:
        self.band_n = band_n
        self.update()

    def set_force(self, force_n: float | None) -> None:
        if force_n != self.force_n:
            self.force_n = force_n
            self.update()

    @property
    def in_band(self) -> bool:
        f, b = self.force_n, self.band_n
        return f is not None and b is not None and b[0] <= f <= b[1]

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        p = QPainter(self)
        bar = QRectF(0, 0, self.width(), self.height())
        p.fillRect(bar, QColor(theme.PANEL_RAISED))

        def y_of(force_n: float) -> float:
            return bar.bottom() - bar.height() * min(max(force_n / self.top_n, 0.0), 1.0)

        if self.band_n is not None:
            lo, hi = self.band_n
            band = QRectF(0, y_of(hi), bar.width(), y_of(lo) - y_of(hi))
            p.fillRect(band, QColor(*theme.TARGET_FILL))
            p.setPen(QPen(QColor(theme.OK), 3))
            p.drawRect(band)
        if self.force_n is not None:
            column = QRectF(bar.width() * 0.2, y_of(self.force_n), bar.width() * 0.6, 0)
            column.setBottom(bar.bottom())
            over = self.band_n is not None and self.force_n > self.band_n[1]
            color = theme.OK if self.in_band else theme.WARN if over else theme.ACCENT
            p.fillRect(column, QColor(color))
        p.end()


class DrillView(QWidget):
    """The trainee's full-window view of a drill (the window's Esc leaves it)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.units = DisplayUnits()
        self.drill: Drill | None = None
        self.start_s = 0.0
        self.scores: list[TrialScore] = []
        self.frame_state: DrillFrame | None = None
        self._contact_start_s: float | None = None
        self._plateau_s: float | None = None

        def label(pt: int, *, bold: bool = True, mono: bool = False, dim: bool = False) -> QLabel:
            lab = QLabel("")
            lab.setFont(theme.font(pt, bold=bold, mono=mono))
            if dim:
                lab.setObjectName("dim")
            return lab

        self.title = label(theme.BIG_PT, dim=True)
        self.trial_label = label(theme.TIMER_PT + 8)
        hint = label(theme.BASE_PT, bold=False, dim=True)
        hint.setText("Esc: back to the live window")
        self.bar = ForceBar()
        self.force_label = label(theme.TIMER_PT, mono=True)
        self.force_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.target_label = label(theme.BIG_PT + 6)
        self.status_label = label(theme.TIMER_PT + 8)
        self.status_label.setWordWrap(True)
        self.countdown_label = label(COUNTDOWN_PT, mono=True)
        self.score_label = label(theme.BIG_PT + 4)
        self.score_label.setWordWrap(True)
        self.score_label.setStyleSheet(f"color: {theme.ACCENT};")

        bar_column = QVBoxLayout()
        bar_column.addWidget(self.bar, 1, Qt.AlignmentFlag.AlignHCenter)
        bar_column.addWidget(self.force_label)
        text_column = QVBoxLayout()
        text_column.addWidget(self.trial_label)
        text_column.addWidget(self.target_label)
        text_column.addSpacing(16)
        text_column.addWidget(self.status_label)
        text_column.addWidget(self.countdown_label)
        text_column.addStretch(1)
        text_column.addWidget(self.score_label)
        body = QHBoxLayout()
        body.addLayout(bar_column)
        body.addSpacing(40)
        body.addLayout(text_column, 1)
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addStretch(1)
        head.addWidget(hint)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(40, 20, 40, 30)
        layout.addLayout(head)
        layout.addLayout(body, 1)

    # ------------------------------------------------------------------ the drill
    def start(self, drill: Drill, start_s: float) -> None:
        """A drill starts at ``start_s`` (its first trial is the first hold after it)."""
        self.drill, self.start_s, self.scores = drill, start_s, []
        self._contact_start_s = self._plateau_s = None
        top = max(t.target_n + t.tolerance_n for t in drill.tasks) if drill.tasks else 50.0
        self.bar.set_scale(top * 1.4)
        self.title.setText(f"Drill: {drill.name}")

    def add_score(self, score: TrialScore) -> None:
        """A trial is over (its hold ended): its score."""
        self.scores.append(score)

    def set_units(self, units: DisplayUnits) -> None:
        self.units = units

    @property
    def force_visible(self) -> bool:
        """Whether the force (bar or number) can be seen now."""
        return self.bar.isVisibleTo(self) and self.bar.force_n is not None

    # ------------------------------------------------------------------ per frame
    def show_now(
        self,
        now_s: float,
        force_n: float | None,
        contact_start_s: float | None,
        ramp_n_per_s: float | None,
    ) -> DrillFrame | None:
        """Draw the moment ``now_s``: the force, the open contact (its start; None: no
        contact), the current rate of rise (which tells when the plateau began)."""
        drill = self.drill
        if drill is None:
            return None
        if contact_start_s != self._contact_start_s:
            self._contact_start_s, self._plateau_s = contact_start_s, None
        done = len(self.scores)
        if contact_start_s is not None and self._plateau_s is None and done < len(drill.tasks):
            ramp = drill.tasks[done].ramp_n_per_s
            settled = max(PLATEAU_RATE_N_PER_S, PLATEAU_RATE_SHARE * (ramp or 0.0))
            if ramp_n_per_s is not None and ramp_n_per_s < settled and now_s > contact_start_s:
                self._plateau_s = now_s
        in_contact = contact_start_s is not None
        state = drill_frame(
            drill.tasks, self.scores, now_s, in_contact=in_contact, plateau_s=self._plateau_s
        )
        self.frame_state = state
        self._draw(drill, state, force_n)
        return state

    def _draw(self, drill: Drill, state: DrillFrame, force_n: float | None) -> None:
        u = self.units
        task = drill.tasks[state.trial] if state.trial < state.total else None
        self.trial_label.setText(
            "Drill complete" if task is None else f"Trial {state.trial + 1} of {state.total}"
        )
        if task is None:
            self.target_label.setText("")
        else:
            blind = "" if task.feedback else "   (blind: no feedback)"
            self.target_label.setText(
                f"target {u.force(task.target_n)} ± {u.force(task.tolerance_n)}{blind}"
            )
        # the force reaches a widget only while it may be seen
        shown = state.feedback and task is not None
        self.bar.setVisible(shown)
        self.force_label.setVisible(shown)
        if shown and task is not None:
            self.bar.set_band((task.target_n - task.tolerance_n, task.target_n + task.tolerance_n))
            self.bar.set_force(force_n)
            self.force_label.setText("—" if force_n is None else u.force(force_n))
        else:
            self.bar.set_band(None)
            self.bar.set_force(None)
            self.force_label.setText("")
        left = state.seconds_left
        if state.phase == "hold":
            if left is None:
                status = "ramp up to the target" if shown else "press to the target"
            else:
                status = "hold now" if left > 0 else "release"
        else:
            status = {"ready": "ready: start the next trial when you are",
                      "rest": "rest", "done": "well done"}[state.phase]  # fmt: skip
        self.status_label.setText(status)
        self.countdown_label.setText("" if left is None else str(max(math.ceil(left), 0)))
        self.score_label.setText(self._score_text(state))

    def _score_text(self, state: DrillFrame) -> str:
        u = self.units
        if state.phase == "done" and self.scores:
            n = len(self.scores)
            error = u.force(sum(s.abs_error_n for s in self.scores) / n)
            in_band = num(sum(s.in_band_pct for s in self.scores) / n, "%", 0)
            return f"{n} trials: mean error {error}, in band {in_band} of the time"
        s = state.score
        if s is None:
            return ""
        sign = "+" if s.error_n > 0 else "−" if s.error_n < 0 else ""
        return (f"Trial {s.index + 1}: off by {sign}{u.force(s.abs_error_n)} "
                f"({s.rel_error_pct:.0f} %), in band {num(s.in_band_pct, '%', 0)}")  # fmt: skip
