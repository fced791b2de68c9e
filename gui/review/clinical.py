"""The review window's PPT and drill tabs: tables of :mod:`gui.report.clinical`'s rows (the
report prints the same rows) and the trainee's learning curve."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from logger.drills import ProgressPoint

from ..report.clinical import (
    DRILL_COLUMNS,
    PPT_POINT_CHANGE_COLUMNS,
    PPT_TRIAL_COLUMNS,
    DrillParts,
    PptParts,
    drill_cells,
    drill_summary_text,
    learning_series,
    learning_text,
    ppt_point_change_cells,
    ppt_settings_text,
    ppt_trial_cells,
)
from .plots import LearningCurvePlot
from .tables import _table, fill


def _titled(title: QLabel, widget: QWidget) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(title)
    layout.addWidget(widget, 1)
    return box


class PptView(QWidget):
    """PPT trials (rate, rate error, used or why not), means per point and round, and the
    change from the pre to the post round."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.parts: PptParts | None = None
        self.settings = QLabel()
        self.settings.setWordWrap(True)
        self.trials = _table(PPT_TRIAL_COLUMNS)
        self.points = _table(PPT_POINT_CHANGE_COLUMNS)
        self.points_title = QLabel()
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.trials)
        split.addWidget(_titled(self.points_title, self.points))
        split.setSizes([240, 200])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.settings)
        layout.addWidget(split, 1)

    def set_parts(self, parts: PptParts) -> None:
        self.parts = parts
        self.settings.setText(ppt_settings_text(parts.settings))
        fill(self.trials, ppt_trial_cells(parts.trials), numeric_from=3)
        fill(self.points, ppt_point_change_cells(parts.points, parts.change), numeric_from=2)
        self.points_title.setText(
            "Per point and round; change: post against pre"
            if parts.change
            else "Per point and round"
        )


class DrillView(QWidget):
    """The drill's trials and summary above the trainee's learning curve over all their
    drill sessions in the library."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.parts: DrillParts | None = None
        self.progress: list[ProgressPoint] = []
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.table = _table(DRILL_COLUMNS)
        self.progress_title = QLabel()
        self.progress_title.setWordWrap(True)
        self.plot = LearningCurvePlot()
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(_titled(self.progress_title, self.plot))
        split.setSizes([220, 260])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)

    def set_parts(self, parts: DrillParts) -> None:
        self.parts = parts
        self.summary.setText(drill_summary_text(parts))
        fill(self.table, drill_cells(parts.scores), numeric_from=2)

    def set_progress(self, who: str, points: Sequence[ProgressPoint]) -> None:
        self.progress = list(points)
        self.progress_title.setText(learning_text(who, points))
        self.plot.show_curve([p.started_at for p in points], *learning_series(points))
