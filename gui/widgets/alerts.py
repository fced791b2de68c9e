"""Over-limit alerts: a banner above the plot that cannot be missed, and the alert log.

The reader thread decides alerts (docs/ARCHITECTURE.md); the window shows each one on the next
frame. The banner stays up while the excursion that raised it is open, as the logger's
limit monitor decides it (``LiveSession.in_excursion``: one hysteresis for the alert, the
banner and the repeating alarm), and for at least ``MIN_SHOWN_S`` so a brief spike is still
seen; every alert goes into the log.
"""

from __future__ import annotations

import html
import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QPlainTextEdit, QSizePolicy, QWidget

from logger.records import Alert, AlertKind

from .. import theme
from ..display import DisplayUnits
from ..format import hms
from .device_bar import ElidedLabel

MIN_SHOWN_S = 2.0
MAX_LOG_ENTRIES = 2000


def describe(
    alert: Alert, units: DisplayUnits, point_name: str | None, level: float | None = None
) -> str:
    """One line: what was crossed (the level in force, or seconds), and at which point.

    ``level`` is the limit in force (N) or the longest hold (s); without it the alert's own
    value (the first sample over the level) is shown.
    """
    kind = AlertKind(alert.kind)
    if kind == AlertKind.HOLD_DURATION:
        what = f"Hold longer than {level if level is not None else alert.value:.0f} s"
    elif kind == AlertKind.MAX:
        what = f"OVER MAXIMUM {units.force(level if level is not None else alert.value)}"
    else:
        what = f"Above warning level {units.force(level if level is not None else alert.value)}"
    return f"{what}  ·  {point_name}" if point_name else what


class AlertBanner(QFrame):
    """A strip of its own above the plot, empty until an alert arrives.

    The strip keeps its height while empty (``retainSizeWhenHidden``), so raising the
    banner never moves or resizes anything, and it never covers the plot: the limit lines
    and their labels stay in sight while the therapist reads how far over they are.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind: AlertKind | None = None
        self.min_shown_s = MIN_SHOWN_S
        self._shown_at = 0.0
        self.label = ElidedLabel("")
        self.label.setFont(theme.font(theme.BIG_PT, bold=True))
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 3, 12, 3)
        layout.addWidget(self.label)
        self.setFixedHeight(self.label.sizeHint().height() + 6)
        policy = self.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        policy.setHorizontalPolicy(QSizePolicy.Policy.Ignored)
        self.setSizePolicy(policy)
        self.setVisible(False)

    @property
    def active(self) -> bool:
        return self.kind is not None

    @property
    def text(self) -> str:
        return self.label.text()

    def show_alert(self, alert: Alert, text: str) -> None:
        """Raise the banner; a max alert is never downgraded by a later warn."""
        kind = AlertKind(alert.kind)
        if self.kind == AlertKind.MAX and kind != AlertKind.MAX and self.active:
            return
        self.kind = kind
        self._shown_at = time.monotonic()
        color = theme.MAX if kind in (AlertKind.MAX, AlertKind.HOLD_DURATION) else theme.WARN
        text_color = "white" if color == theme.MAX else theme.BACKGROUND
        self.setStyleSheet(f"background: {color}; border-radius: 6px;")
        self.label.setStyleSheet(f"color: {text_color}; background: transparent;")
        self.label.setText(f"⚠  {text}")
        self.setVisible(True)

    def update_state(self, in_excursion: bool) -> None:
        """Lower the banner once the excursion of its ``kind`` is over (called every frame
        with ``LiveSession.in_excursion(kind)``)."""
        if self.kind is None or time.monotonic() - self._shown_at < self.min_shown_s:
            return
        if not in_excursion:
            self.clear()

    def clear(self) -> None:
        self.kind = None
        self.setVisible(False)


class AlertLog(QPlainTextEdit):
    """Every alert and event of the connection, newest last (bounded for 8-hour sessions)."""

    def __init__(self) -> None:
        super().__init__()
        self.setReadOnly(True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setMaximumBlockCount(MAX_LOG_ENTRIES)
        self.setUndoRedoEnabled(False)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)  # long entries wrap
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.entries = 0

    def add_entry(self, t_s: float, text: str, color: str = theme.TEXT) -> None:
        stamp = hms(max(0.0, t_s))
        self.appendHtml(
            f'<span style="color:{theme.TEXT_DIM}">{stamp}</span>&nbsp;&nbsp;'
            f'<span style="color:{color}">{html.escape(text)}</span>'
        )
        self.entries += 1
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def texts(self) -> list[str]:
        return self.toPlainText().splitlines()
