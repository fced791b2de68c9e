"""The app's background sync to the school library: real widgets, the real simulator, a
real throw-away PostgreSQL (tests/pg_server.py; skipped without its binaries unless
PL_REQUIRE_POSTGRES=1, as in tests/logger/pg/)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialog

from gui.dialogs.session_dialog import SessionDetails
from gui.dialogs.settings_dialog import SettingsDialog
from gui.main_window import MainWindow
from gui.review.library import SYNC_COLUMN
from gui.sound import Sounder
from logger.config import Config, load_config
from logger.records import SessionStatus
from logger.store import SessionStore
from tests.gui.conftest import hold, rest, scenario
from tests.gui.test_live_window import change_settings
from tests.logger.pg.conftest import _server, make_school

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]

WAIT_MS = 30_000
SYNCED = re.compile(r"School library: (sent 1 session|up to date) · \d\d:\d\d$")


@pytest.fixture
def server(tmp_path_factory):
    """A PostgreSQL server of the test's own (the tests stop it)."""
    yield from _server(tmp_path_factory)


@pytest.fixture
def make_window(qtbot, tmp_path, db_path):
    made: list[MainWindow] = []

    def make(url: str | None, every_s: float = 60.0) -> MainWindow:
        win = MainWindow(
            Config(school_url=url), config_path=tmp_path / "config.toml", db_path=db_path,
            sounder=Sounder(), sync_every_s=every_s,
        )  # fmt: skip
        qtbot.addWidget(win)
        win.resize(1280, 800)
        win.show()
        made.append(win)
        return win

    yield make
    for win in made:
        win.close()


def start_recording(
    qtbot, window: MainWindow, tmp_path: Path, steps: str, speed: float = 1.0
) -> str:
    path = scenario(tmp_path, steps)
    window.connect_device(f"sim://school-{uuid.uuid4().hex[:6]}?scenario={path}&speed={speed:g}")
    qtbot.waitUntil(window.record_button.isEnabled, timeout=WAIT_MS)  # device identified
    sid = window.start_recording(SessionDetails("C-001", "alice", None))
    assert sid is not None, window.statusBar().currentMessage()
    return sid


def stop_recording(qtbot, window: MainWindow) -> None:
    qtbot.waitUntil(window.live.finished.is_set, timeout=WAIT_MS)  # the scenario played
    window.toggle_recording()
    assert window.live.recording_id is None


def sync_text(window: MainWindow) -> str:
    return window.sync_label.text()


def server_ids(url: str) -> list[str]:
    from logger.store.postgres import PostgresLibrary

    with PostgresLibrary(url) as lib:
        return [s.id for s in lib.list_sessions()]


def sync_cell(window: MainWindow, sid: str) -> str:
    library = window.review_window.library
    assert library.table.columnCount() == SYNC_COLUMN + 1
    assert library.table.horizontalHeaderItem(SYNC_COLUMN).text() == "sync"
    for r in range(library.table.rowCount()):
        item = library.table.item(r, SYNC_COLUMN)
        if item.data(0x0100) == sid:  # Qt.ItemDataRole.UserRole
            return item.text()
    raise AssertionError(f"{sid} not in the library window")


@pytest.mark.slow
def test_a_recording_is_synced_in_the_background_and_the_library_shows_it(
    qtbot, server, make_window, tmp_path, db_path
):
    school = make_school(server)
    window = make_window(school.url)
    qtbot.waitUntil(lambda: "nothing recorded yet" in sync_text(window), timeout=WAIT_MS)
    assert window.sync_label.isVisible()

    sid = start_recording(qtbot, window, tmp_path, rest(0.3) + hold(20.0, 1.0) + rest(0.3), 2)
    stop_recording(qtbot, window)  # the window asks for a pass: no waiting for the period
    qtbot.waitUntil(lambda: SYNCED.match(sync_text(window)) is not None, timeout=WAIT_MS)
    assert server_ids(school.url) == [sid]

    window.review_button.click()
    review = window.review_window
    qtbot.addWidget(review)
    assert sync_cell(window, sid) == "synced"
    assert school.url.split("@")[0] in review.library.table.item(0, SYNC_COLUMN).toolTip()

    with SessionStore(db_path) as store:  # a trainer's remark after the sync
        store.set_notes(sid, "left side tender")
    review.library.refresh()
    assert sync_cell(window, sid) == "changed"
    review.resize(1280, 800)  # the laptop: every column in view, the widest state too
    qtbot.wait(1)
    table = review.library.table
    for col in range(table.columnCount()):
        right = table.columnViewportPosition(col) + table.columnWidth(col)
        assert table.columnViewportPosition(col) >= 0 and right <= table.viewport().width()
    assert table.horizontalScrollBar().maximum() == 0
    passes = window.sync_worker.passes
    window.sync_soon()
    qtbot.waitUntil(lambda: sync_cell(window, sid) == "synced", timeout=WAIT_MS)
    assert window.sync_worker.passes > passes

    worker = window.sync_worker
    window.close()  # the worker ends with the window
    assert window.sync_worker is None and not worker.running


@pytest.mark.slow
def test_the_server_gone_mid_recording_changes_nothing_and_the_next_pass_syncs(
    qtbot, server, make_window, tmp_path, db_path
):
    school = make_school(server)
    window = make_window(school.url, every_s=0.5)  # a pass every half second
    qtbot.waitUntil(lambda: "nothing recorded yet" in sync_text(window), timeout=WAIT_MS)

    # at 2x: the outage is seen 1-2 s of device time in, with samples still coming
    sid = start_recording(qtbot, window, tmp_path, rest(0.3) + hold(20.0, 2.0) + rest(3.0), 2)
    server.stop("immediate")  # as if the network went
    qtbot.waitUntil(lambda: "server unreachable" in sync_text(window), timeout=WAIT_MS)
    assert re.search(r"server unreachable · next try \d\d:\d\d$", sync_text(window))
    # gone between passes, or in the middle of one
    assert re.search(r"cannot reach the server|the server went away", window.sync_label.toolTip())
    frames = window.frames
    assert window.live.recording_id == sid  # still recording, still drawing
    qtbot.waitUntil(lambda: window.frames > frames + 10, timeout=WAIT_MS)
    stop_recording(qtbot, window)

    with SessionStore(db_path) as store:
        session = store.load_session(sid)
    assert session.status == SessionStatus.COMPLETE
    assert session.stats.lost_samples == 0 and session.stats.duration_s > 5.0
    passes = window.sync_worker.passes
    qtbot.waitUntil(lambda: window.sync_worker.passes > passes + 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "server unreachable" in sync_text(window), timeout=WAIT_MS)

    server.start()  # back: the next pass sends the session
    qtbot.waitUntil(lambda: SYNCED.match(sync_text(window)) is not None, timeout=WAIT_MS)
    assert server_ids(school.url) == [sid]
    window.open_review()
    qtbot.addWidget(window.review_window)
    assert sync_cell(window, sid) == "synced"


def test_settings_refuse_a_password_in_place_and_save_the_url(qtbot, tmp_path):
    dialog = SettingsDialog(Config(), tmp_path / "config.toml")
    qtbot.addWidget(dialog)
    url = "postgresql://tina@school-server/school"
    dialog.school_edit.setText(url.replace("tina@", "tina:s3cret@"))
    dialog.accept()
    assert dialog.result() != QDialog.DialogCode.Accepted
    message = dialog.error_label.text()
    assert message.startswith("settings: school_url = ") and "holds a password" in message
    assert "s3cret" not in message and ":***@" in message
    assert "border" in dialog.school_edit.styleSheet()  # the field at fault
    assert not (tmp_path / "config.toml").exists()
    dialog.school_edit.setText(f"  {url} ")
    dialog.accept()
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.config.school_url == url
    assert load_config(tmp_path / "config.toml").school_url == url


def test_the_url_from_settings_starts_the_sync_and_an_empty_one_stops_it(
    qtbot, make_window, tmp_path, db_path
):
    SessionStore(db_path).close()  # a library (without one a pass has nothing to do)
    window = make_window(None)
    assert window.sync_worker is None and window.sync_label.isHidden()
    nowhere = f"postgresql://tina@{str(tmp_path / 'no-server').replace('/', '%2F')}/school"
    change_settings(window, lambda dialog: dialog.school_edit.setText(nowhere))
    assert load_config(tmp_path / "config.toml").school_url == nowhere
    assert window.sync_worker is not None and window.sync_worker.url == nowhere
    qtbot.waitUntil(lambda: "server unreachable" in sync_text(window), timeout=WAIT_MS)
    assert "cannot reach the server" in window.sync_label.toolTip()

    worker = window.sync_worker
    change_settings(window, lambda dialog: dialog.school_edit.clear())
    assert load_config(tmp_path / "config.toml").school_url is None
    assert window.sync_worker is None and window.sync_label.isHidden()
    qtbot.waitUntil(lambda: not worker.running, timeout=WAIT_MS)
