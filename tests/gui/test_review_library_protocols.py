"""The review's session library: a protocol column and a protocol filter (real widgets,
offscreen, on a real SQLite library)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from gui.review.library import COLUMNS, PROTOCOL_COLUMN, PROTOCOLS, SessionLibrary
from logger.records import ProtocolEvent, ProtocolKind
from logger.store import SessionStore
from logger.store.library import WriteBatch
from tests.logger.test_store import make_meta

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]

RUNS = {
    "ppt": [ProtocolEvent(0.0, ProtocolKind.ROUND, {"label": "pre"}),
            ProtocolEvent(60.0, ProtocolKind.ROUND, {"label": "post"})],
    "drill": [ProtocolEvent(0.0, ProtocolKind.DRILL, {"name": "ladder", "tasks": []}),
              ProtocolEvent(30.0, ProtocolKind.DRILL, {})],
    "both": [ProtocolEvent(0.0, ProtocolKind.ROUND, {"label": "pre"}),
             ProtocolEvent(5.0, ProtocolKind.DRILL, {"name": "basic", "tasks": []})],
    "guided": [ProtocolEvent(0.0, ProtocolKind.PROFILE, {"kind": "trapezoid"})],
    "none": [],
}  # fmt: skip


@pytest.fixture
def library(qtbot, db_path):
    ids = {}
    with SessionStore(db_path) as store:
        for day, (name, events) in enumerate(RUNS.items(), start=1):
            ids[name] = store.create_session(
                make_meta(started_at=f"2026-11-{day:02d}T09:00:00+00:00")
            )
            store.write_batch(ids[name], WriteBatch(protocols=events))
    with SessionStore(db_path) as store:
        qtbot.addWidget(widget := SessionLibrary(store))
        widget.show()
        yield widget, ids


def row_of(widget: SessionLibrary, sid: str) -> int:
    table = widget.table
    return next(
        r for r in range(table.rowCount()) if table.item(r, 0).data(Qt.ItemDataRole.UserRole) == sid
    )


def cell(widget: SessionLibrary, sid: str) -> str:
    return widget.table.item(row_of(widget, sid), PROTOCOL_COLUMN).text()


def test_the_protocol_column_shows_each_sessions_label(library):
    widget, ids = library
    assert widget.table.horizontalHeaderItem(PROTOCOL_COLUMN).text() == COLUMNS[-1] == "protocol"
    assert {name: cell(widget, sid) for name, sid in ids.items()} == {
        "ppt": "PPT pre/post", "drill": "drill ladder", "both": "PPT pre, drill basic",
        "guided": "guided", "none": "—",
    }  # fmt: skip


def test_the_filter_combo_keeps_the_sessions_that_ran_it(qtbot, library):
    widget, ids = library
    assert list(PROTOCOLS) == [widget.protocol.itemText(i) for i in range(widget.protocol.count())]
    expected = {
        "PPT": {ids["ppt"], ids["both"]},
        "drill": {ids["drill"], ids["both"]},
        "guided": {ids["guided"]},
        "any": set(ids.values()),
    }
    for choice, kept in expected.items():
        widget.protocol.setCurrentText(choice)
        assert set(widget.visible_ids()) == kept, choice
        assert widget.count.text().startswith(f"{len(kept)} of ")
    # with the text filters too: the row filter works on what the protocol filter kept
    widget.protocol.setCurrentText("drill")
    qtbot.keyClicks(widget.client, "nobody")
    assert widget.visible_ids() == []


def test_every_column_fits_the_librarys_narrowest_width(library):
    widget, ids = library
    widget.resize(widget.minimumWidth(), 600)
    widget.fit_columns()
    table = widget.table
    viewport = table.viewport().width()
    for col in range(table.columnCount()):
        right = table.columnViewportPosition(col) + table.columnWidth(col)
        assert right <= viewport, (col, right, viewport)
    assert table.horizontalScrollBar().maximum() == 0
    item = table.item(row_of(widget, ids["both"]), PROTOCOL_COLUMN)
    assert item.toolTip() == item.text() == "PPT pre, drill basic"  # elided: the tip has it
