"""Trainee against reference: per-point scores, the aligned curves, and progress."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from logger.compare import ProgressEntry, SessionComparison, SessionData, name_key
from logger.point_stats import UNMARKED
from logger.ppt import PptChange

from ..format import local_time, num, plural, target
from ..report.clinical import PPT_CHANGE_COLUMNS, ppt_change_cells
from .plots import OverlayPlot, ProgressPlot
from .tables import _table, fill

log = logging.getLogger(__name__)

COMPARE_COLUMNS = (
    "point",
    "trials",
    "RMS error",
    "mean diff",
    "in ±band",
    "trainee",
    "reference",
    "in target",
    "ref. in target",
    "target",
)
PROGRESS_COLUMNS = ("date", "session", "RMS error", "mean diff", "in ±band", "in target", "points")


def comparison_cells(c: SessionComparison) -> list[list[str]]:
    """Rows of the per-point score table (shared with the PDF report)."""
    return [
        [
            p.point,
            f"{p.trainee_trials}/{p.reference_trials}",
            num(p.rms_error_n, "N"),
            num(p.mean_diff_n, "N", signed=True),
            num(p.in_band_pct, "%", 0),
            num(p.trainee_mean_n, "N"),
            num(p.reference_mean_n, "N"),
            num(p.trainee_in_target_pct, "%", 0),
            num(p.reference_in_target_pct, "%", 0),
            target(p.target_n),
        ]
        for p in c.points
    ]


def comparison_summary(c: SessionComparison) -> str:
    if not c.points:
        text = "No point has holds in both sessions, so nothing is compared (points match by name)"
        if c.unmatched_trainee:
            text += f"; trainee: {', '.join(c.unmatched_trainee)}"
        if c.unmatched_reference:
            text += f"; reference: {', '.join(c.unmatched_reference)}"
        return text
    text = (
        f"RMS error {num(c.rms_error_n, 'N')}, mean difference "
        f"{num(c.mean_diff_n, 'N', signed=True)}, within ±{c.tolerance_n:g} N of the "
        f"reference {num(c.in_band_pct, '%', 0)}, trainee in target "
        f"{num(c.trainee_in_target_pct, '%', 0)}"
    )
    if c.unmatched_trainee:
        text += f"; only in trainee: {', '.join(c.unmatched_trainee)}"
    if c.unmatched_reference:
        text += f"; only in reference: {', '.join(c.unmatched_reference)}"
    return text


def progress_cells(entries: Sequence[ProgressEntry]) -> list[list[str]]:
    return [
        [
            local_time(e.started_at),
            e.session_id,
            num(e.rms_error_n, "N"),
            num(e.mean_diff_n, "N", signed=True),
            num(e.in_band_pct, "%", 0),
            num(e.in_target_pct, "%", 0),
            str(e.points_compared),
        ]
        for e in entries
    ]


class ComparisonView(QWidget):
    """Per-point score table above the selected point's aligned curves."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.comparison: SessionComparison | None = None
        self.trainee: SessionData | None = None
        self.reference: SessionData | None = None
        self.title = QLabel(
            "Choose a reference session: select it in the library and press “Use as reference”."
        )
        self.title.setWordWrap(True)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.table = _table(COMPARE_COLUMNS)
        self.ppt_title = QLabel()
        self.ppt_title.setWordWrap(True)
        self.ppt_table = _table(PPT_CHANGE_COLUMNS)
        self.ppt_box = QWidget()
        pl = QVBoxLayout(self.ppt_box)
        pl.setContentsMargins(0, 0, 0, 0)
        pl.addWidget(self.ppt_title)
        pl.addWidget(self.ppt_table, 1)
        self.ppt_box.hide()
        self.point = QComboBox()
        self.plot = OverlayPlot()
        bottom = QWidget()
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Point"))
        row.addWidget(self.point, 1)
        bl.addLayout(row)
        bl.addWidget(self.plot, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.ppt_box)
        split.addWidget(self.table)
        split.addWidget(bottom)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([150, 240, 400])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)
        self.point.currentIndexChanged.connect(self._show_point)
        self.table.cellClicked.connect(lambda r, _c: self.point.setCurrentIndex(r))

    def set_comparison(
        self, trainee: SessionData, reference: SessionData, comparison: SessionComparison
    ) -> None:
        self.trainee, self.reference, self.comparison = trainee, reference, comparison
        self.title.setText(
            f"Trainee {trainee.session_id} ({local_time(trainee.started_at)}) against "
            f"reference {reference.session_id} ({local_time(reference.started_at)})"
        )
        self.summary.setText(comparison_summary(comparison))
        fill(self.table, comparison_cells(comparison))
        self.point.blockSignals(True)
        self.point.clear()
        self.point.addItems([p.point for p in comparison.points])
        self.point.blockSignals(False)
        self._show_point(0)

    def set_ppt(self, client: str, pre_id: str, post_id: str, change: Sequence[PptChange]) -> None:
        """The PPT change of a client between two sessions (``change_between``)."""
        self.ppt_title.setText(
            f"PPT of {client}: {pre_id} (pre) → {post_id} (post), "
            f"{plural(len(change), 'point')} in both"
        )
        fill(self.ppt_table, ppt_change_cells(change))
        # every point visible (up to five) above the hold comparison
        rows = min(max(len(change), 1), 5)
        header = self.ppt_table.horizontalHeader().sizeHint().height()
        row_h = self.ppt_table.verticalHeader().defaultSectionSize()
        self.ppt_table.setMinimumHeight(header + rows * row_h + 2 * self.ppt_table.frameWidth())
        self.ppt_box.show()

    def clear_ppt(self) -> None:
        self.ppt_table.setRowCount(0)
        self.ppt_box.hide()

    def clear(self) -> None:
        self.clear_ppt()
        self.comparison = None
        self.summary.clear()
        self.table.setRowCount(0)
        self.point.clear()
        self._clear_plot()

    def _clear_plot(self) -> None:
        self.plot.show_curves([])
        self.plot.setTitle("")

    def _show_point(self, row: int) -> None:
        if (
            self.comparison is None
            or self.trainee is None
            or not (0 <= row < len(self.comparison.points))
        ):
            self._clear_plot()  # nothing to show: not the previous comparison's chart
            return
        pc = self.comparison.points[row]
        key = name_key(pc.point)
        curves = [c for c in self.trainee.curves if name_key(c.point) == key]
        self.plot.show_curves(
            curves, reference_n=pc.reference_curve_n, dt_s=pc.dt_s, target_n=pc.target_n
        )
        self.plot.setTitle(
            f"{pc.point}: RMS error {num(pc.rms_error_n, 'N')}, "
            f"mean difference {num(pc.mean_diff_n, 'N', signed=True)}",
            justify="left",  # the legend sits at the right of the same row
        )
        self.table.selectRow(row)


class OverlayView(QWidget):
    """Every hold of one point of the session on review, aligned at onset."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data: SessionData | None = None
        self.point = QComboBox()
        self.plot = OverlayPlot()
        row = QHBoxLayout()
        row.addWidget(QLabel("Point"))
        row.addWidget(self.point, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.plot, 1)
        self.point.currentTextChanged.connect(self._show)

    def set_data(self, data: SessionData) -> None:
        self.data = data
        names: list[str] = []
        for c in data.curves:
            if c.point not in names:
                names.append(c.point)
        names.sort(key=lambda n: (n != UNMARKED, self._index(n)))
        self.point.blockSignals(True)
        self.point.clear()
        self.point.addItems(names)
        self.point.blockSignals(False)
        self._show(self.point.currentText())

    def _index(self, name: str) -> int:
        if self.data is None:
            return 0
        return next((p.index for p in self.data.points if p.name == name), 10**6)

    def _show(self, name: str) -> None:
        if self.data is None:
            return
        curves = [c for c in self.data.curves if c.point == name]
        tgt = next((p.target_n for p in self.data.points if p.name == name), None)
        self.plot.show_curves(curves, target_n=tgt)


class ProgressView(QWidget):
    """A trainee's sessions scored against one reference, oldest first."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entries: list[ProgressEntry] = []
        self.title = QLabel("Progress needs a reference session.")
        self.title.setWordWrap(True)
        self.table = _table(PROGRESS_COLUMNS)
        self.plot = ProgressPlot()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.plot)
        split.setSizes([200, 440])
        layout.addWidget(split, 1)

    def set_progress(self, who: str, reference_id: str, entries: Sequence[ProgressEntry]) -> None:
        self.entries = list(entries)
        first = entries[0].rms_error_n if entries else None
        last = entries[-1].rms_error_n if entries else None
        change = (
            f"; RMS error {num(first, 'N')} → {num(last, 'N')}"
            if first is not None and last is not None and len(entries) > 1
            else ""
        )
        self.title.setText(
            f"{who}: {plural(len(entries), 'session')} against reference {reference_id}{change}"
        )
        fill(self.table, progress_cells(self.entries), numeric_from=2)
        self.plot.show_progress(self.entries)
