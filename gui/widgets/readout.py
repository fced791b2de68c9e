"""The glanceable readout: current force in big digits, hold timer, peak, mean, ramp rate,
and the client's pain rating (0–10) beside the force once one was given.

Readable at arm's length: the force is the largest thing on screen and turns amber above
the warn limit and red above the max limit. The hold timer counts the hold in progress
against a target (the current point's ``target_hold_s`` or a preset 7 / 30 / 60 / 90 s) and
emits ``target_reached`` once per hold so the window can chime.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .. import theme
from ..display import DisplayUnits
from ..format import mm_ss
from .device_bar import ElidedLabel

HOLD_PRESETS_S: tuple[float, ...] = (7.0, 30.0, 60.0, 90.0)
DEFAULT_PRESET_S = 30.0
PROGRESS_STEPS = 200


class ForceReadout(QFrame):
    """Current force, pressure, hold timer with presets, and the current hold's figures."""

    target_reached = Signal(float)  # the target duration in seconds

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("panel")
        self.units = DisplayUnits()
        self._warn_n: float | None = None
        self._max_n: float | None = None
        self.preset_s = DEFAULT_PRESET_S
        self.point_target_s: float | None = None
        self._chimed_for: float | None = None  # start_s of the hold already chimed for
        self._hold_start_s: float | None = None  # the hold the timer runs for
        self._hold_target_s: float | None = None  # … and its target, kept for that hold
        self._figures_n: tuple[float | None, float | None] = (None, None)  # peak, mean
        self._force_color = ""  # the digits' colour (the stylesheet is set when it changes)
        self._timer_color = ""

        self.force_label = QLabel("—")
        self._worded = False  # the label shows a word ("uncalibrated"), not a number
        self.force_label.setFont(theme.font(theme.READOUT_PT, bold=True, mono=True))
        self.force_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.unit_label = QLabel("N")
        self.unit_label.setFont(theme.font(theme.BIG_PT + 6))
        self.unit_label.setObjectName("dim")
        self.pressure_label = QLabel("")
        self.pressure_label.setFont(theme.font(theme.BASE_PT + 1, mono=True))
        self.pressure_label.setObjectName("dim")
        self.pressure_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom)

        # unit above pressure, to the right of the digits: one row instead of two
        unit_column = QVBoxLayout()
        unit_column.setSpacing(0)
        unit_column.addStretch(1)
        unit_column.addWidget(self.unit_label)
        unit_column.addWidget(self.pressure_label)
        # the client's pain rating, left of the force (hidden until the first rating)
        self.rating_caption = QLabel("pain")
        self.rating_caption.setObjectName("dim")
        self.rating_label = QLabel("")
        self.rating_label.setFont(theme.font(theme.TIMER_PT, bold=True, mono=True))
        self.rating_label.setStyleSheet(f"color: {theme.RATING};")
        self.rating_label.setToolTip("the client's pain rating, 0-10 (keypad digits, + / -)")
        rating_column = QVBoxLayout()
        rating_column.setSpacing(0)
        rating_column.addStretch(1)
        rating_column.addWidget(self.rating_caption)
        rating_column.addWidget(self.rating_label)
        self.set_rating(None)
        top = QHBoxLayout()
        top.setSpacing(6)
        top.addLayout(rating_column)
        top.addStretch(1)
        top.addWidget(self.force_label)
        top.addLayout(unit_column)

        self.timer_label = QLabel("00:00")
        self.timer_label.setFont(theme.font(theme.TIMER_PT, bold=True, mono=True))
        self.target_label = QLabel("/ 00:30")
        self.target_label.setFont(theme.font(theme.BIG_PT, mono=True))
        self.target_label.setObjectName("dim")
        self.progress = QProgressBar()
        self.progress.setRange(0, PROGRESS_STEPS)  # ~1.5 px a step: no invisible repaints
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(10)
        timer_row = QHBoxLayout()
        timer_row.addWidget(QLabel("Hold"))
        timer_row.addStretch(1)
        timer_row.addWidget(self.timer_label)
        timer_row.addWidget(self.target_label, 0, Qt.AlignmentFlag.AlignBottom)

        self.preset_group = QButtonGroup(self)
        self.preset_group.setExclusive(False)  # none is checked while a point target rules
        self.point_target_label = QLabel("")
        self.point_target_label.setObjectName("dim")
        self.point_target_label.setVisible(False)
        preset_row = QHBoxLayout()
        preset_row.setSpacing(4)
        preset_row.addWidget(self.point_target_label)
        for seconds in HOLD_PRESETS_S:
            button = QPushButton(f"{seconds:.0f} s")
            button.setCheckable(True)
            button.setObjectName("compact")
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setChecked(seconds == DEFAULT_PRESET_S)
            button.setProperty("seconds", seconds)
            self.preset_group.addButton(button)
            preset_row.addWidget(button)
        self.preset_group.buttonClicked.connect(
            lambda b: self.set_preset_s(float(b.property("seconds")))
        )

        self.peak_value = ElidedLabel("—")
        self.mean_value = ElidedLabel("—")
        self.ramp_value = ElidedLabel("—")
        stats = QGridLayout()
        for col, (name, value) in enumerate(
            (("peak", self.peak_value), ("mean", self.mean_value), ("ramp", self.ramp_value))
        ):
            caption = QLabel(name)
            caption.setObjectName("dim")
            value.setFont(theme.font(theme.BIG_PT - 4, bold=True, mono=True))
            stats.addWidget(caption, 0, col)
            stats.addWidget(value, 1, col)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 4, 14, 8)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addLayout(timer_row)
        layout.addWidget(self.progress)
        layout.addLayout(preset_row)
        layout.addLayout(stats)
        self._show_target()
        self._fix_sizes()
        self._set_force_color(theme.TEXT_DIM)  # no force yet: a grey dash
        self._set_timer_color(theme.TEXT_DIM)

    # ------------------------------------------------------------------ settings
    def set_units(self, units: DisplayUnits) -> None:
        """Every figure in ``units`` from now on, the ones on show included."""
        self.units = units
        self.unit_label.setText("" if self._worded else units.unit)
        self._show_figures(*self._figures_n)
        self._fix_sizes()

    def _fix_sizes(self) -> None:
        """Every label that changes while a hold goes on gets a fixed size, wide enough for
        its longest text in these units: a new number repaints the label alone and never
        makes the window lay itself out again (the values elide if ever wider)."""
        u = self.units
        for label, widest in (
            (self.force_label, u.value(888.8)),  # up to 999.9 N, down to -99.9 N
            (self.timer_label, "000:00"),
            (self.target_label, "/ 000:00"),
            (self.peak_value, u.force(888.8)),
            (self.mean_value, u.force(888.8)),
            (self.ramp_value, u.rate(-88.8)),
            (self.pressure_label, u.pressure(888.8)),
            (self.rating_label, "8.8"),  # 10 and tenths below it: 3 characters at most
        ):
            metrics = label.fontMetrics()
            label.setFixedSize(metrics.horizontalAdvance(widest) + 4, metrics.height() + 2)

    def set_limits(self, warn_n: float | None, max_n: float | None) -> None:
        self._warn_n, self._max_n = warn_n, max_n

    def set_rating(self, value: float | None) -> None:
        """The client's current pain rating (None: none given yet, nothing shown)."""
        self.rating_caption.setVisible(value is not None)
        self.rating_label.setVisible(value is not None)
        text = "" if value is None else f"{value:.1f}".removesuffix(".0")
        self.rating_label.setText(text)

    def set_preset_s(self, seconds: float) -> None:
        """Choose a hold-timer preset (used when the current point sets no target)."""
        self.preset_s = float(seconds)
        self._show_target()

    def set_point_target_s(self, seconds: float | None) -> None:
        """The current point's ``target_hold_s``; overrides the preset while set."""
        self.point_target_s = seconds
        self._show_target()

    @property
    def target_s(self) -> float:
        return self.point_target_s if self.point_target_s else self.preset_s

    @property
    def checked_preset_s(self) -> float | None:
        """The highlighted preset; None while the current point's own target is in force."""
        for button in self.preset_group.buttons():
            if button.isChecked():
                return float(button.property("seconds"))
        return None

    def _show_target(self) -> None:
        """The timer's target (the running hold's own while there is one), and which
        control sets the next one: a preset, or the point itself."""
        target = self._hold_target_s if self._hold_target_s is not None else self.target_s
        self.target_label.setText(f"/ {mm_ss(target)}")
        point_rules = bool(self.point_target_s)
        for button in self.preset_group.buttons():
            button.setChecked(
                not point_rules and float(button.property("seconds")) == self.preset_s
            )
        self.point_target_label.setVisible(point_rules)
        if point_rules:
            self.point_target_label.setText(f"point target\n{self.point_target_s:g} s")
            self.point_target_label.setToolTip(
                "The current point sets its own hold target; a preset applies to points "
                "without one."
            )

    # ------------------------------------------------------------------ per frame
    def set_force(self, force_n: float | None, absent: str = "—") -> None:
        """The newest force; colours amber above warn and red above max (None: no live
        force, e.g. while reconnecting: a grey dash, never a stale number; ``absent`` says
        why instead, e.g. "uncalibrated")."""
        # a word does not fit at the size of a number: it gets a smaller (still big) font
        worded = force_n is None and absent != "—"
        if worded != self._worded:
            self._worded = worded
            size = theme.BIG_PT + 10 if worded else theme.READOUT_PT
            self.force_label.setFont(theme.font(size, bold=True, mono=True))
            self.unit_label.setText("" if worded else self.units.unit)
        if force_n is None:
            self.force_label.setText(absent)
            self.pressure_label.setText("")
            self._set_force_color(theme.WARN if worded else theme.TEXT_DIM)
            return
        self.force_label.setText(self.units.value(force_n))
        self.pressure_label.setText(self.units.pressure(force_n))
        if self._max_n is not None and force_n >= self._max_n:
            color = theme.MAX
        elif self._warn_n is not None and force_n >= self._warn_n:
            color = theme.WARN
        else:
            color = theme.TEXT
        self._set_force_color(color)

    @property
    def force_color(self) -> str:
        return self._force_color

    def _set_force_color(self, color: str) -> None:
        """Restyle the digits only when the colour changes (a stylesheet costs a re-polish)."""
        if color != self._force_color:
            self._force_color = color
            self.force_label.setStyleSheet(f"color: {color};")

    def _set_timer_color(self, color: str) -> None:
        if color != self._timer_color:
            self._timer_color = color
            self.timer_label.setStyleSheet(f"color: {color};")

    def reset(self) -> None:
        """Forget the previous connection: no force, no hold, no figures."""
        self.set_force(None)
        self.set_ramp(None)
        self.set_hold(None)
        self.set_rating(None)
        self._chimed_for = None
        self._hold_start_s = self._hold_target_s = None
        self._show_target()
        self.timer_label.setText("00:00")
        self.progress.setValue(0)
        self._show_figures(None, None)

    def set_ramp(self, ramp_n_per_s: float | None) -> None:
        """The current rate of change of force (N/s shown in the display unit per second)."""
        if ramp_n_per_s is None:
            self.ramp_value.setText("—")
        else:
            self.ramp_value.setText(self.units.rate(ramp_n_per_s))

    def set_hold(
        self,
        start_s: float | None,
        elapsed_s: float = 0.0,
        peak_n: float | None = None,
        mean_n: float | None = None,
        *,
        target_s: float | None = None,
    ) -> None:
        """The hold in progress (``start_s`` None: no hold). Chimes once at the target.

        ``target_s`` is the target of the point where the hold began (default: the one in
        force when the hold first shows); a later change of point does not move it. On
        release the timer goes back to 00:00 against the current point's target."""
        if start_s is None:
            if self._hold_start_s is not None:
                self._hold_start_s = self._hold_target_s = None
                self.timer_label.setText("00:00")
                self.progress.setValue(0)
                self._show_target()
            self._set_timer_color(theme.TEXT_DIM)
            return
        if start_s != self._hold_start_s or (
            target_s is not None and target_s != self._hold_target_s
        ):
            self._hold_start_s = start_s
            self._hold_target_s = target_s if target_s is not None else self.target_s
            self._show_target()
        self.timer_label.setText(mm_ss(elapsed_s))
        target = self._hold_target_s
        value = int(min(1.0, elapsed_s / target) * PROGRESS_STEPS) if target else 0
        if value != self.progress.value():
            self.progress.setValue(value)
        reached = target is not None and elapsed_s >= target
        self._set_timer_color(theme.OK if reached else theme.TEXT)
        if reached and self._chimed_for != start_s:
            self._chimed_for = start_s
            self.target_reached.emit(target)
        self._show_figures(peak_n, mean_n)

    def _show_figures(self, peak_n: float | None, mean_n: float | None) -> None:
        self._figures_n = (peak_n, mean_n)
        self.peak_value.setText("—" if peak_n is None else self.units.force(peak_n))
        self.mean_value.setText("—" if mean_n is None else self.units.force(mean_n))
