"""The point plan: the point being worked (highlighted), the next one, and the whole list.

Clicking a point asks to jump to it (``jump_requested``); the window turns that into a
mark with source "mouse". Space / 1–9 / the device button are handled by the window.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from logger.records import Point

from .. import theme
from .device_bar import ElidedLabel


class PointPlanView(QFrame):
    """Shows ``points`` with the current one highlighted and the next one named."""

    jump_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("panel")
        self.points: list[Point] = []
        self.current: int | None = None

        caption = QLabel("Point  (Space = next, 1–9 = jump)")
        caption.setObjectName("dim")
        self.current_label = ElidedLabel("—")  # a long name ends in "…", never wraps
        self.current_label.setFont(theme.font(theme.BIG_PT + 4, bold=True))
        self.current_label.setStyleSheet(f"color: {theme.ACCENT};")
        self.current_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.next_label = QLabel("")
        self.next_label.setFont(theme.font(theme.BASE_PT + 2))
        self.next_label.setObjectName("dim")
        self.list = QListWidget()
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.list.itemClicked.connect(lambda item: self.jump_requested.emit(self.list.row(item)))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.addWidget(caption)
        layout.addWidget(self.current_label)
        layout.addWidget(self.next_label)
        layout.addWidget(self.list, 1)

    def set_points(self, points: Sequence[Point]) -> None:
        self.points = list(points)
        self.list.clear()
        for i, point in enumerate(self.points):
            key = f"{i + 1}" if i < 9 else " "
            self.list.addItem(QListWidgetItem(f"{key}   {point.name}"))
        self.set_current(self.current if self.current is not None else None)

    def set_current(self, index: int | None) -> None:
        """Highlight point ``index`` (None: before the first mark)."""
        if index is not None and not 0 <= index < len(self.points):
            index = None if not self.points else min(max(index, 0), len(self.points) - 1)
        self.current = index
        for i in range(self.list.count()):
            item = self.list.item(i)
            font = item.font()
            font.setBold(i == index)
            item.setFont(font)
            if i == index:
                item.setBackground(QBrush(QColor(theme.ACCENT)))
                item.setForeground(QBrush(QColor(theme.BACKGROUND)))
            else:
                item.setBackground(QBrush())
                item.setForeground(QBrush(QColor(theme.TEXT if i > (index or -1) else "#7d8b97")))
        if not self.points:
            self.current_label.setText("No point plan")
            self.next_label.setText("Space marks a point")
        elif index is None:
            self.current_label.setText("Not started")
            self.next_label.setText(f"next: {self.points[0].name}")
        else:
            self.current_label.setText(f"{index + 1}. {self.points[index].name}")
            nxt = self.points[index + 1].name if index + 1 < len(self.points) else "end of plan"
            self.next_label.setText(f"next: {nxt}")
            self.list.scrollToItem(self.list.item(index))

    @property
    def current_name(self) -> str:
        return self.current_label.text()

    @property
    def next_name(self) -> str:
        return self.next_label.text().removeprefix("next: ")
