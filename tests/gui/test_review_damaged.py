"""The review window when a session's stored content is damaged after it opened."""

from __future__ import annotations

import sqlite3

import numpy as np

from gui.review import ReviewWindow
from logger.records import SessionStatus
from logger.store import SessionStore
from tests.logger.test_store import make_meta


def test_a_damaged_session_is_reported_in_the_status_bar(qtbot, db_path):
    store = SessionStore(db_path)
    sids = []
    for started in ("2026-11-01T09:00:00+00:00", "2026-11-02T09:00:00+00:00"):
        sid = store.create_session(make_meta(started_at=started))
        store.append_samples(sid, 0, np.arange(50) / 1000.0, np.arange(50).reshape(-1, 1))
        store.finish_session(sid, SessionStatus.COMPLETE)
        sids.append(sid)
    w = ReviewWindow(store)
    qtbot.addWidget(w)
    w.show()
    con = sqlite3.connect(db_path)
    with con:
        con.execute("UPDATE sessions SET calibration = 'not json' WHERE id = ?", (sids[1],))
    con.close()
    w.open_session(sids[1])
    message = w.statusBar().currentMessage()
    assert sids[1] in message and "calibration" in message
    assert w.current_id != sids[1]
    w.open_session(sids[0])  # the others still open
    assert w.current_id == sids[0]
    w.close()
    store.close()
