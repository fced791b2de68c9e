"""The holds table: one row per completed hold, filled live as the detector reports them."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from logger.records import Hold

from ..display import HOLD_COLUMNS, DisplayUnits, hold_cells

MAX_ROWS = 2000  # the newest holds shown live; the store keeps them all


class HoldsTable(QTableWidget):
    """Completed holds (forces stored in N, shown in the display unit), newest last.

    At most ``MAX_ROWS`` rows, so an all-day session keeps the window's memory bounded.
    """

    def __init__(self) -> None:
        super().__init__(0, len(HOLD_COLUMNS))
        self.units = DisplayUnits()
        self.holds: list[Hold] = []
        self.setHorizontalHeaderLabels(list(HOLD_COLUMNS))
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setAlternatingRowColors(True)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)

    def set_units(self, units: DisplayUnits) -> None:
        self.units = units
        holds, self.holds = self.holds, []
        self.setRowCount(0)
        for hold in holds:
            self.add_hold(hold)

    def add_hold(self, hold: Hold) -> None:
        self.holds.append(hold)
        cells = hold_cells(hold, self.units)
        row = self.rowCount()
        self.insertRow(row)
        for col, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if col != 1:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.setItem(row, col, item)
        while self.rowCount() > MAX_ROWS:
            self.removeRow(0)
            self.holds.pop(0)
        self.scrollToBottom()

    def clear_holds(self) -> None:
        self.holds = []
        self.setRowCount(0)
