"""The PPT panel: the loading rate against its target band, and the trials of the point.

Shown while a pressure-pain-threshold round runs. The therapist presses at the target
rate until the client signals; the gauge shows the live rate (the least-squares slope of
the last fraction of a second) against the band the ``[ppt]`` settings allow, in kPa/s
when a contact area is set (else in the force unit per second). Beside it: the current
point's trials in this round (threshold in force and kPa, mean rate, why one is left out)
and the point's mean, and "STOP — max reached" when a ramp passes the point's max limit.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from logger.ppt import PptPoint, PptTrial

from .. import theme
from ..display import DisplayUnits
from ..format import num

TRIAL_COLUMNS = ("#", "PPT", "pressure", "rate", "")
REASONS = {  # why a trial is left out of the point's mean
    "rate": "rate off target",
    "first": "familiarisation",
    "max": "stopped at max",
    "extra": "beyond the trials asked",
}


class RateGauge(QWidget):
    """A horizontal gauge: the target band shaded, the live rate as a bar from zero,
    green inside the band and amber outside. Values in the unit it is given."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.band: tuple[float, float] = (0.0, 1.0)  # display units
        self.target = 0.5
        self.rate: float | None = None
        self.unit = "N/s"
        self.setMinimumSize(220, 24)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    @property
    def top(self) -> float:
        """The gauge's full scale: twice the target, and the band with room to spare."""
        return max(2.0 * self.target, 1.25 * self.band[1], 1e-9)

    def set_band(self, low: float, high: float, target: float, unit: str) -> None:
        self.band, self.target, self.unit = (low, high), target, unit
        self.update()

    def set_rate(self, rate: float | None) -> None:
        if rate != self.rate:
            self.rate = rate
            self.update()

    @property
    def in_band(self) -> bool:
        return self.rate is not None and self.band[0] <= self.rate <= self.band[1]

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        p = QPainter(self)
        w, h = self.width(), self.height()
        ticks_h = p.fontMetrics().height()
        bar = QRectF(1, 1, w - 2, h - ticks_h - 4)
        p.fillRect(bar, QColor(theme.PANEL_RAISED))

        def x_of(value: float) -> float:
            return bar.left() + bar.width() * min(max(value / self.top, 0.0), 1.0)

        lo, hi = self.band
        band = QRectF(x_of(lo), bar.top(), x_of(hi) - x_of(lo), bar.height())
        p.fillRect(band, QColor(*theme.TARGET_FILL))
        p.setPen(QPen(QColor(theme.OK), 2))
        p.drawRect(band)
        if self.rate is not None:
            color = theme.OK if self.in_band else theme.WARN
            inner = bar.adjusted(0, bar.height() * 0.3, 0, -bar.height() * 0.3)
            inner.setRight(x_of(self.rate))
            p.fillRect(inner, QColor(color))
        p.setPen(QPen(QColor(theme.TEXT), 2))
        p.drawLine(
            int(x_of(self.target)), int(bar.top()), int(x_of(self.target)), int(bar.bottom())
        )
        p.setPen(QColor(theme.TEXT_DIM))
        for value in (0.0, lo, hi, self.top):
            text = f"{value:.0f}" if self.top >= 20 else f"{value:.1f}"
            tw = p.fontMetrics().horizontalAdvance(text)
            x = min(max(x_of(value) - tw / 2, 0), w - tw)
            p.drawText(int(x), h - 2, text)
        p.end()


class PptPanel(QFrame):
    """The live PPT view: rate gauge, the point's trials in this round, its mean."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("panel")
        self.units = DisplayUnits()
        self.kpa_per_n_per_cm2 = 10.0
        self._band_n: tuple[float, float, float] = (4.0, 6.0, 5.0)  # low, high, target N/s
        self.title = QLabel("PPT")
        self.title.setFont(theme.font(theme.BIG_PT - 2, bold=True))
        self.stop_label = QLabel("STOP — max reached")
        self.stop_label.setFont(theme.font(theme.BIG_PT + 2, bold=True))
        self.stop_label.setStyleSheet(
            f"color: white; background: {theme.MAX}; padding: 2px 10px; border-radius: 4px;"
        )
        self.stop_label.hide()
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addStretch(1)
        head.addWidget(self.stop_label)

        self.gauge = RateGauge()
        self.rate_label = QLabel("—")
        self.rate_label.setFont(theme.font(theme.TIMER_PT, bold=True, mono=True))
        self.band_label = QLabel("")
        self.band_label.setObjectName("dim")
        rate_row = QHBoxLayout()
        rate_row.addWidget(QLabel("loading rate"))
        rate_row.addStretch(1)
        rate_row.addWidget(self.rate_label)
        left = QVBoxLayout()
        left.addLayout(rate_row)
        left.addWidget(self.gauge, 1)
        left.addWidget(self.band_label)

        self.trials: tuple[PptTrial, ...] = ()
        self.point: PptPoint | None = None
        self.table = QTableWidget(0, len(TRIAL_COLUMNS))
        self.table.setHorizontalHeaderLabels(TRIAL_COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.table.horizontalHeader()
        for col in range(len(TRIAL_COLUMNS) - 1):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.mean_label = QLabel("no trials yet")
        self.mean_label.setFont(theme.font(theme.BASE_PT + 1, bold=True))
        right = QVBoxLayout()
        right.addWidget(self.table, 1)
        right.addWidget(self.mean_label)

        body = QHBoxLayout()
        body.addLayout(left, 2)
        body.addSpacing(10)
        body.addLayout(right, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 8)
        layout.setSpacing(4)
        layout.addLayout(head)
        layout.addLayout(body, 1)
        self.set_rate_band(*self._band_n)

    # ------------------------------------------------------------------ settings
    @property
    def rate_unit(self) -> str:
        """kPa/s with a contact area, else the force unit per second."""
        return "kPa/s" if self.units.kpa_per_newton is not None else f"{self.units.unit}/s"

    def _rate_value(self, n_per_s: float) -> float:
        """A rate in N/s as the gauge shows it."""
        k = self.units.kpa_per_newton
        return n_per_s * (k if k is not None else self.units.per_newton)

    def rate_text(self, n_per_s: float) -> str:
        return num(self._rate_value(n_per_s), self.rate_unit, 1)

    def set_units(self, units: DisplayUnits) -> None:
        self.units = units
        self.set_rate_band(*self._band_n)

    def set_rate_band(self, low_n_per_s: float, high_n_per_s: float, target_n_per_s: float) -> None:
        """The target loading rate and the band around it (N/s; ``logger.ppt.rate_band``)."""
        self._band_n = (low_n_per_s, high_n_per_s, target_n_per_s)
        lo, hi, target = (self._rate_value(v) for v in self._band_n)
        self.gauge.set_band(lo, hi, target, self.rate_unit)
        self.band_label.setText(
            f"target {self.rate_text(target_n_per_s)}  (band {num(lo, '', 1)}–"
            f"{num(hi, self.rate_unit, 1)})"
        )

    # ------------------------------------------------------------------ live
    def set_round(self, label: str, point: str | None) -> None:
        where = f"  ·  point {point}" if point else "  ·  no point marked yet"
        self.title.setText(f"PPT round {label}{where}")

    def set_rate(self, n_per_s: float | None) -> None:
        """The live loading rate (None: not loading, or no data)."""
        self.gauge.set_rate(None if n_per_s is None else self._rate_value(n_per_s))
        self.rate_label.setText("—" if n_per_s is None else self.rate_text(n_per_s))
        color = (
            theme.TEXT_DIM if n_per_s is None else theme.OK if self.gauge.in_band else theme.WARN
        )
        self.rate_label.setStyleSheet(f"color: {color};")

    def set_stop(self, on: bool) -> None:
        """ "STOP — max reached" while a ramp is over the point's max limit."""
        if on != self.stop_label.isVisible():
            self.stop_label.setVisible(on)

    def set_trials(self, trials: Sequence[PptTrial], point: PptPoint | None) -> None:
        """The current point's trials in this round, and its threshold (mean of the used)."""
        self.trials, self.point = tuple(trials), point  # what is shown (tests, screenshots)
        self.table.setRowCount(len(trials))
        u = self.units
        for row, trial in enumerate(trials):
            rate = trial.rate_n_per_s
            error = trial.rate_error_pct
            off = "" if error is None else f" ({round(error) or 0:+d} %)"
            note = REASONS.get(trial.reason, trial.reason) if trial.excluded else ""
            if not note and not trial.rate_ok and error is not None:
                note = "rate off target (kept)"
            cells = [
                str(row + 1),
                "max" if trial.ppt_n is None else u.force(trial.ppt_n),
                "" if trial.ppt_kpa is None else num(trial.ppt_kpa, "kPa", 0),
                "—" if rate is None else self.rate_text(rate) + off,
                note,
            ]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if trial.excluded:
                    item.setForeground(QColor(theme.TEXT_DIM))
                elif col == 3 and not trial.rate_ok:
                    item.setForeground(QColor(theme.WARN))
                self.table.setItem(row, col, item)
        if trials:
            self.table.scrollToBottom()
        if point is None or point.ppt_n is None:
            self.mean_label.setText("no threshold yet" if trials else "no trials yet")
            return
        kpa = "" if point.ppt_kpa is None else f"  ·  {num(point.ppt_kpa, 'kPa', 0)}"
        self.mean_label.setText(
            f"threshold {u.force(point.ppt_n)}{kpa}  (mean of {point.used} of {point.trials})"
        )

    def texts(self) -> list[list[str]]:
        """The trials table as text (tests, screenshots)."""
        return [
            [
                (item.text() if (item := self.table.item(r, c)) else "")
                for c in range(self.table.columnCount())
            ]  # fmt: skip
            for r in range(self.table.rowCount())
        ]
