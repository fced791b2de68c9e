"""Find what a window's layout squeezed: controls that overlap, texts that do not fit.

Used by the screen-fit test under a real X server (``tests/gui/test_screen_fit_x11.py``)
and by ``scripts/laptop_screenshots.py``: font metrics differ between X and the offscreen
platform, so this is checked where the real fonts are used.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QWidget,
)

CONTROLS = (QAbstractButton, QLabel, QComboBox, QLineEdit)
SLACK_PX = 2  # rounding between size hints and geometry


def _rect(window: QWidget, widget: QWidget) -> QRect:
    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


def _name(widget: QWidget) -> str:
    text = widget.text() if hasattr(widget, "text") else ""  # type: ignore[attr-defined]
    text = text() if callable(text) else text
    return f"{type(widget).__name__} {str(text)[:30]!r}"


def _clipped(widget: QWidget) -> bool:
    """The widget's own text is wider than the room it was given."""
    if widget.sizePolicy().horizontalPolicy() == QSizePolicy.Policy.Ignored:
        return False  # elides or wraps by design
    if isinstance(widget, QLabel) and (widget.wordWrap() or not widget.text()):
        return False
    if isinstance(widget, QLineEdit):
        return False  # a field scrolls its text
    return widget.minimumSizeHint().width() > widget.width() + SLACK_PX


def layout_problems(window: QWidget) -> list[str]:
    """One line per clipped control and per pair of overlapping visible controls."""
    controls = [
        w
        for w in window.findChildren(QWidget)
        if isinstance(w, CONTROLS) and w.isVisibleTo(window) and w.width() > 0
        and not isinstance(w.parentWidget(), (QComboBox, QAbstractButton))
    ]  # fmt: skip
    problems = [f"clipped: {_name(w)} {w.width()} px < {w.minimumSizeHint().width()} px"
                for w in controls if _clipped(w)]  # fmt: skip
    rects = [(w, _rect(window, w)) for w in controls]
    for i, (a, ra) in enumerate(rects):
        for b, rb in rects[i + 1 :]:
            if a.isAncestorOf(b) or b.isAncestorOf(a):
                continue
            overlap = ra.intersected(rb)
            if overlap.width() > SLACK_PX and overlap.height() > SLACK_PX:
                problems.append(f"overlap: {_name(a)} and {_name(b)}")
    return problems
