"""Sessions with nothing in them must open, report and compare without errors."""

from __future__ import annotations

import numpy as np
import pytest
from pypdf import PdfReader

from calibration.models import CalibrationInfo
from gui.report import write_report
from gui.review import ReviewWindow
from logger.records import DeviceInfo, SessionMeta
from logger.store import SessionStore


@pytest.fixture
def store(db_path):
    s = SessionStore(db_path)
    meta = SessionMeta(
        "2026-11-27T10:00:00+00:00",
        DeviceInfo("EDGE-1", "1", "1.0", 1000.0, 1),
        CalibrationInfo(4000.0, 120000.0, "factory"),
        {},
        client="C-EMPTY",
        therapist="Edge",
    )
    empty = s.create_session(meta)
    s.finish_session(empty, "interrupted")
    flat = s.create_session(meta)
    t = np.arange(0.0, 5.0, 0.001)
    s.append_samples(flat, 0, t, np.full((t.size, 1), 120000, np.int32))
    s.finish_session(flat)
    yield s, empty, flat
    s.close()


@pytest.fixture
def window(qtbot, store):
    w = ReviewWindow(store[0])
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()  # before the store closes


def test_window_opens_and_compares_sessions_without_holds(window, store):
    w, (_, empty, flat) = window, store
    w.open_session(empty)
    assert w.timeline.mode == "empty" and w.holds.table.rowCount() == 0
    w.open_session(flat)
    assert w.timeline.mode == "detail" and w.timeline.shown_samples == 5000
    w.set_reference(empty)
    assert w.comparison is not None and w.comparison.points == []
    assert w.comparison.rms_error_n is None
    assert all(e.rms_error_n is None for e in w.progress_entries)
    assert w.compare.summary.text().startswith("No point has holds in both sessions")


def test_report_of_an_empty_session(qapp, store, tmp_path):
    s, empty, _ = store
    out = tmp_path / "empty.pdf"
    summary = write_report(s, empty, out)
    reader = PdfReader(out)
    text = " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    assert summary.pages == len(reader.pages) == 1
    assert "C-EMPTY" in text and "interrupted" in text
    assert "No holds." in text and "No alerts." in text


def test_unknown_session_in_the_window_is_reported_not_raised(window, store):
    w, flat = window, store[2]
    w.open_session(flat)
    w.open_session("20990101-000000-dead")
    assert w.current_id == flat
    assert "20990101-000000-dead" in w.statusBar().currentMessage()
    w.set_reference("20990101-000000-beef")
    assert w.reference_id is None
    assert "20990101-000000-beef" in w.statusBar().currentMessage()


@pytest.mark.parametrize(
    ("iso", "text"),
    [
        ("2026-11-23T15:30:00+01:00", "2026-11-23 14:30"),
        ("2026-11-23T14:30:00Z", "2026-11-23 14:30"),
        ("2026-11-23T14:30:00", "2026-11-23 14:30"),
        (None, "—"),
        ("garbage", "garbage"),
    ],
)
def test_times_are_shown_in_utc(iso, text):
    from gui.format import local_time

    assert local_time(iso) == text


def test_number_formatting():
    from gui.format import hms, num

    assert hms(3725.0) == "1:02:05" and hms(65.25) == "1:05.2" and hms(None) == "—"
    assert num(3.0, "N", signed=True) == "+3.0 N" and num(float("nan"), "N") == "—"
