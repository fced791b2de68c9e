"""The keypad with NumLock off: its keys arrive as Insert, End, Down, PgDown … with the
keypad modifier. They still rate pain, and its 3 (PgDown) is no mark."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.gui.conftest import rest, scenario
from tests.gui.test_live_protocols import KEYPAD, WAIT_MS, connect, window  # noqa: F401

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]

NUMLOCK_OFF = [Qt.Key.Key_Insert, Qt.Key.Key_End, Qt.Key.Key_Down, Qt.Key.Key_PageDown,
               Qt.Key.Key_Left, Qt.Key.Key_Clear, Qt.Key.Key_Right, Qt.Key.Key_Home,
               Qt.Key.Key_Up, Qt.Key.Key_PageUp]  # fmt: skip


def test_keypad_digits_rate_pain_with_numlock_off(qtbot, window, tmp_path):  # noqa: F811
    connect(qtbot, window, scenario(tmp_path, rest(30.0)))
    live = window.live
    for value in (3, 7, 0, 9, 5, 1, 2, 4, 6, 8):
        qtbot.keyClick(window, NUMLOCK_OFF[value], KEYPAD)
        qtbot.waitUntil(lambda v=value: window.readout.rating_label.text() == str(v),
                        timeout=WAIT_MS)  # fmt: skip
    assert [r.value for r in live.ratings] == [3, 7, 0, 9, 5, 1, 2, 4, 6, 8]
    assert live.marks == [] and window.current_point is None  # keypad 3 is no PgDown mark
    qtbot.keyClick(window, Qt.Key.Key_PageDown)  # the pedal's PgDown still marks
    qtbot.waitUntil(lambda: len(live.marks) == 1, timeout=WAIT_MS)
