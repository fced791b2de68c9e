"""Window sizes that fit the screen they open on (a 1280×800 laptop is the smallest).

A window asks for a comfortable size; ``show_fitted`` shrinks that to the screen's
available geometry (less the window manager's frame) and centres it there, so no window
opens past the screen edge or under a panel. Windows never grow themselves afterwards:
their minimum sizes stay at or below ``MIN_WIDTH_PX`` × ``MIN_HEIGHT_PX``.
"""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

MIN_WIDTH_PX = 1280
MIN_HEIGHT_PX = 720


def available_rect(window: QWidget) -> QRect:
    """The usable part of the screen ``window`` is on (the primary screen before showing)."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry()


def fit_into(window: QWidget, width_px: int, height_px: int) -> None:
    """Resize ``window`` to ``width_px`` × ``height_px``, shrunk to fit the available screen
    including its frame, and centre it there."""
    avail = available_rect(window)
    frame_w = max(0, window.frameGeometry().width() - window.width())
    frame_h = max(0, window.frameGeometry().height() - window.height())
    w = max(window.minimumWidth(), min(width_px, avail.width() - frame_w))
    h = max(window.minimumHeight(), min(height_px, avail.height() - frame_h))
    window.resize(w, h)
    x = avail.x() + max(0, (avail.width() - w - frame_w) // 2)
    y = avail.y() + max(0, (avail.height() - h - frame_h) // 2)
    window.move(x, y)


def show_fitted(window: QWidget, width_px: int, height_px: int) -> None:
    """Show ``window`` at the preferred size where the screen allows; re-fitted once shown,
    when the window manager's frame is known."""
    fit_into(window, width_px, height_px)
    window.show()
    if window.frameGeometry().size() != window.size():
        fit_into(window, width_px, height_px)
