"""The live window when the session library fails under a recording (real widgets,
the real simulator, a real file deleted from under the running writer)."""

from __future__ import annotations

import uuid

import pytest
from PySide6.QtWidgets import QMessageBox

from gui.dialogs.session_dialog import SessionDetails
from gui.main_window import RECORD_TEXT, MainWindow
from gui.sound import Sounder
from logger.config import Config
from logger.records import SessionStatus
from logger.store import SessionStore
from tests.gui.conftest import hold, rest, scenario

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]

WAIT_MS = 20_000


def test_a_failing_library_stops_the_recording_behind_a_modal_dialog(qtbot, tmp_path, db_path):
    win = MainWindow(
        Config(), config_path=tmp_path / "config.toml", db_path=db_path, sounder=Sounder()
    )
    qtbot.addWidget(win)
    win.show()
    path = scenario(tmp_path, rest(0.5) + hold(20.0, 30.0) + rest(0.5))
    win.connect_device(f"sim://store-{uuid.uuid4().hex[:6]}?scenario={path}&speed=1")
    qtbot.waitUntil(win.record_button.isEnabled, timeout=WAIT_MS)
    sid = win.start_recording(SessionDetails(client="C-1", therapist="T", notes=None))
    assert sid is not None and win.live.recording_id == sid
    qtbot.waitUntil(lambda: win.live.recording_elapsed_s > 0.5, timeout=WAIT_MS)

    db_path.unlink()  # the library disappears under the running recording

    qtbot.waitUntil(lambda: win.storage_dialog is not None, timeout=WAIT_MS)
    dialog = win.storage_dialog
    assert isinstance(dialog, QMessageBox) and dialog.isVisible() and dialog.isModal()
    assert "deleted" in dialog.informativeText() and sid in dialog.informativeText()
    assert win.live.recording_id is None  # stopped, the device still connected
    assert win.record_button.text() == RECORD_TEXT and "recording" not in win.windowTitle()
    assert any("recording stopped" in line for line in win.alert_log.texts())
    assert win.live.storage_error is not None
    dialog.accept()
    # the device streams on; the next recording goes into a library made afresh
    again = win.start_recording(SessionDetails(client="C-1", therapist="T", notes=None))
    assert again is not None and again != sid and db_path.exists()
    qtbot.waitUntil(lambda: win.live.recording_elapsed_s > 0.2, timeout=WAIT_MS)
    win.toggle_recording()  # stop
    with SessionStore(db_path) as store:
        assert [s.id for s in store.list_sessions()] == [again]
        assert store.load_session(again).status is SessionStatus.COMPLETE
    win.close()
