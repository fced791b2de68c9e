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


def test_unsaved_samples_are_shown_in_the_review_header_and_the_report(qapp, db_path, tmp_path):
    from pypdf import PdfReader

    from gui.report import write_report
    from gui.review.window import session_header
    from logger.records import SessionStats

    store = SessionStore(db_path)
    sid = store.create_session(make_meta())
    store.append_samples(sid, 0, np.arange(50) / 1000.0, np.arange(50).reshape(-1, 1))
    stats = SessionStats(50, 0.05, 1000.0, unsaved_samples=1234)
    store.finish_session(sid, SessionStatus.INTERRUPTED, stats)
    assert "1234 received but not saved" in session_header(store.load_session(sid))
    out = tmp_path / "r.pdf"
    write_report(store, sid, out)
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(out).pages)
    assert "1234 received but not saved (storage failure)" in text
    store.close()
