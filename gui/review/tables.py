"""Read-only tables of the review window: holds (docs/EXPORTS.md hold metrics) and per-point
statistics with the left/right comparison."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from logger.point_stats import LeftRight, PointStats, left_right, point_stats
from logger.records import Hold, Point

from ..display import HOLD_COLUMNS, hold_cells
from ..format import num

STATS_COLUMNS = (
    "point",
    "trials",
    "mean of trials",
    "SD",
    "CV trials",
    "CV plateau",
    "ramp",
    "duration",
    "in target",
    "target",
)
LR_COLUMNS = ("point", "left", "right", "L − R", "L − R %")


def stats_cells(s: PointStats) -> list[str]:
    trials = f"{s.used_trials}/{s.trials}" if s.dropped_first else str(s.trials)
    return [
        s.point,
        trials,
        num(s.mean_n, "N"),
        num(s.sd_n, "N"),
        num(s.between_trials_cv_pct, "%"),
        num(s.plateau_cv_pct, "%"),
        num(s.ramp_rate_n_per_s, "N/s"),
        num(s.duration_s, "s"),
        num(s.in_target_pct, "%", 0),
        "—" if s.target_n is None else f"{s.target_n[0]:g}–{s.target_n[1]:g} N",
    ]


def lr_cells(p: LeftRight) -> list[str]:
    return [
        p.name,
        num(p.left_mean_n, "N"),
        num(p.right_mean_n, "N"),
        num(p.diff_n, "N", signed=True),
        num(p.diff_pct, "%", signed=True),
    ]


def _table(columns: Sequence[str]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setAlternatingRowColors(True)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    return table


def fill(table: QTableWidget, rows: Sequence[Sequence[str]], numeric_from: int = 1) -> None:
    table.setRowCount(len(rows))
    for r, cells in enumerate(rows):
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if c >= numeric_from:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, c, item)


class ReviewHoldsTable(QWidget):
    """Every hold of the session; clicking one emits ``holdActivated(index)``."""

    holdActivated = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.holds: list[Hold] = []
        self.table = _table(HOLD_COLUMNS)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        self.table.cellClicked.connect(self._clicked)
        self.table.cellActivated.connect(self._clicked)

    def set_holds(self, holds: Sequence[Hold]) -> None:
        self.holds = list(holds)
        fill(self.table, [hold_cells(h) for h in self.holds], numeric_from=2)

    def _clicked(self, row: int, _column: int) -> None:
        if 0 <= row < len(self.holds):
            self.holdActivated.emit(self.holds[row].index)


class PointStatsView(QWidget):
    """Per-point statistics and left/right differences; "drop first trial" recomputes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.holds: list[Hold] = []
        self.points: list[Point] = []
        self.stats: list[PointStats] = []
        self.pairs: list[LeftRight] = []
        self.drop_first = QCheckBox("Drop the first trial of each point (familiarisation)")
        self.table = _table(STATS_COLUMNS)
        self.lr_title = QLabel("Left / right")
        self.lr_table = _table(LR_COLUMNS)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.drop_first)
        layout.addWidget(self.table, 3)
        layout.addWidget(self.lr_title)
        layout.addWidget(self.lr_table, 1)
        self.drop_first.toggled.connect(lambda _: self._recompute())

    def set_data(self, holds: Sequence[Hold], points: Sequence[Point]) -> None:
        self.holds, self.points = list(holds), list(points)
        self._recompute()

    def _recompute(self) -> None:
        self.stats = point_stats(self.holds, self.points, drop_first=self.drop_first.isChecked())
        self.pairs = left_right(self.stats)
        fill(self.table, [stats_cells(s) for s in self.stats])
        fill(self.lr_table, [lr_cells(p) for p in self.pairs])
        self.lr_title.setVisible(bool(self.pairs))
        self.lr_table.setVisible(bool(self.pairs))
