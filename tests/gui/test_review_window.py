"""Review window with real widgets (offscreen) on a real SQLite library."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from gui.review import ReviewWindow
from gui.review.demo import build_demo_library
from gui.review.timeline import DETAIL_MAX_SAMPLES
from logger.store import SessionStore


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    db = tmp_path_factory.mktemp("review") / "sessions.sqlite3"
    store = SessionStore(db)
    lib = build_demo_library(store, points=3, trials=2, hold_s=8.0, rate_hz=500.0)
    store.close()
    return db, lib


@pytest.fixture
def window(qtbot, library):
    db, lib = library
    store = SessionStore(db)
    w = ReviewWindow(store)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    yield w, lib
    w.close()
    store.close()


def test_library_lists_filters_and_sorts(window, qtbot):
    w, lib = window
    # newest first
    assert w.library.visible_ids() == [*reversed(lib.trainee), lib.reference]
    qtbot.keyClicks(w.library.therapist, "trainee")
    assert w.library.visible_ids() == lib.trainee[::-1]
    w.library.therapist.clear()
    qtbot.keyClicks(w.library.client, "c-0003")
    assert w.library.visible_ids() == [lib.trainee[1]]
    w.library.client.clear()
    w.library.table.sortItems(0, Qt.SortOrder.AscendingOrder)
    assert w.library.visible_ids() == [lib.reference, *lib.trainee]
    w.library.table.sortItems(4, Qt.SortOrder.DescendingOrder)  # duration, as a number
    longest = max(w.library.summaries, key=lambda s: s.duration_s)
    assert w.library.visible_ids()[0] == longest.id
    # the session with a gap: flagged in its status, the count in the tooltip
    row = next(r for r in range(4) if w.library.table.item(r, 0).data(256) == lib.trainee[1])
    status = w.library.table.item(row, 3)
    assert status.text() == "complete !" and "samples lost" in status.toolTip()
    assert "4 of 4" in w.library.count.text()


def test_library_point_and_date_filters_use_the_store(window):
    w, lib = window
    w.library.point.setCurrentText("Levator scapulae L")
    assert len(w.library.visible_ids()) == 4
    w.library.point.setCurrentText("Infraspinatus")  # not in the 3-point plan
    assert w.library.visible_ids() == []
    w.library.point.setCurrentText("")
    w.library.since.setDate(w.library.since.date().fromString("2026-11-10", "yyyy-MM-dd"))
    assert sorted(w.library.visible_ids()) == lib.trainee[1:]


def test_selecting_a_session_shows_header_timeline_holds_and_stats(window):
    w, lib = window
    w.library.select(lib.trainee[1])
    assert w.current_id == lib.trainee[1]
    assert "C-0003" in w.header.text() and "A. Trainee" in w.header.text()
    assert "4000 counts/N" in w.header.text()
    rec = w.record
    assert w.holds.table.rowCount() == len(rec.holds) > 0
    assert w.holds.table.item(0, 1).text() == "Upper trapezius L"
    # whole session: more samples than the detail limit → min/max envelope
    assert rec.stats.duration_s * 500.0 > DETAIL_MAX_SAMPLES
    assert w.timeline.mode == "overview"
    assert 0 < w.timeline.shown_samples <= 2 * max(w.timeline.width(), 400)
    names = [w.stats.table.item(r, 0).text() for r in range(w.stats.table.rowCount())]
    assert names == ["Upper trapezius L", "Upper trapezius R", "Levator scapulae L"]
    # upper trapezius L/R paired; levator scapulae L listed without its right side
    assert w.stats.lr_table.rowCount() == 2
    assert w.stats.lr_table.item(0, 0).text() == "Upper trapezius"
    assert w.stats.lr_table.item(0, 3).text().endswith(" N")
    assert w.stats.lr_table.item(1, 2).text() == "—"


def test_clicking_a_hold_zooms_to_full_resolution(window, qtbot):
    w, lib = window
    w.open_session(lib.trainee[0])
    h = w.record.holds[2]
    rect = w.holds.table.visualItemRect(w.holds.table.item(2, 1))
    qtbot.mouseClick(w.holds.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    x0, x1 = w.timeline.visible_range()
    assert x0 < h.start_s < h.end_s < x1
    assert x1 - x0 < 2 * (h.end_s - h.start_s)
    assert w.timeline.mode == "detail"
    # every sample in the visible range is drawn (nothing decimated away)
    expected = (min(x1, w.record.stats.duration_s) - max(x0, 0)) * 500.0
    assert w.timeline.shown_samples >= 0.95 * expected


def test_scrolling_reloads_the_visible_range(window, qtbot):
    w, lib = window
    w.open_session(lib.trainee[0])
    w.timeline.zoom_to(10.0, 20.0)
    with qtbot.waitSignal(w.timeline.rangeLoaded, timeout=2000) as blocker:
        w.timeline.getPlotItem().setXRange(30.0, 40.0, padding=0)
    assert blocker.args == ["detail"]
    t, _ = w.timeline._detail.getData()
    assert t[0] < 30.5 and t[-1] > 39.5


def test_gap_is_not_bridged_in_detail_view(window):
    w, lib = window
    w.open_session(lib.trainee[1])  # 1 s disconnect at t = 40 s
    (gap,) = w.record.gaps
    w.timeline.zoom_to(gap.start_s - 2, gap.end_s + 2)
    t, f = w.timeline._detail.getData()
    inside = (t > gap.start_s + 0.01) & (t < gap.end_s - 0.01)
    assert not inside.any()
    assert __import__("numpy").isnan(f).any()  # a break, not a line across


def test_drop_first_trial_recomputes(window):
    w, lib = window
    w.open_session(lib.reference)
    before = w.stats.table.item(0, 1).text()
    w.stats.drop_first.setChecked(True)
    assert before == "2" and w.stats.table.item(0, 1).text() == "1/2"


def test_overlay_shows_every_hold_of_a_point(window):
    w, lib = window
    w.open_session(lib.reference)
    w.overlay.point.setCurrentText("Upper trapezius R")
    assert w.overlay.plot.curves_shown == 2


def test_comparison_and_progress_with_a_reference(window, qtbot):
    w, lib = window
    w.library.select(lib.reference)
    qtbot.mouseClick(w.library.use_reference, Qt.MouseButton.LeftButton)
    assert w.reference_id == lib.reference
    row = next(
        r
        for r in range(w.library.table.rowCount())
        if w.library.table.item(r, 0).data(Qt.ItemDataRole.UserRole) == lib.reference
    )
    assert w.library.table.item(row, 3).text() == "complete"
    assert w.library.table.item(row, 0).font().bold()
    assert w.library.table.item(row, 0).toolTip().endswith("the reference session")
    w.library.select(lib.trainee[0])
    c = w.comparison
    assert c is not None and len(c.points) == 3
    # the first trainee session presses ~14 N below the expert (the published student-vs-expert gap)
    assert c.mean_diff_n < -8.0 and c.rms_error_n > 8.0
    assert w.compare.table.rowCount() == 3
    assert w.compare.table.item(0, 2).text().endswith(" N")
    assert w.tabs.currentWidget() is w.compare
    scores = [e.rms_error_n for e in w.progress_entries]
    assert [e.session_id for e in w.progress_entries] == lib.trainee
    assert scores[0] > scores[1] > scores[2]
    assert w.progress.table.rowCount() == 3
    w.set_reference(None)
    assert w.comparison is None and w.compare.table.rowCount() == 0


def test_report_from_the_window(window, tmp_path):
    from pypdf import PdfReader

    w, lib = window
    w.open_session(lib.trainee[2])
    w.set_reference(lib.reference)
    out = w.save_report(tmp_path / "r.pdf")
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(out).pages)
    assert "Comparison with the reference" in text and "C-0004" in text


def test_timeline_decorations_holds_marks_alerts_gaps(window):
    import pyqtgraph as pg

    w, lib = window
    w.open_session(lib.trainee[1])  # has a gap
    rec = w.record
    holds, gaps = w.timeline.bands
    assert len(holds.opts["x0"]) == len(rec.holds)
    assert list(gaps.opts["x0"]) == [g.start_s for g in rec.gaps]
    labels = [line.full_label for line in w.timeline.mark_lines]
    names = {p.index: p.name for p in rec.points}
    assert labels == [names[m.point_index] for m in rec.marks]
    assert all(isinstance(line, pg.InfiniteLine) for line in w.timeline.mark_lines)
    w.open_session(lib.trainee[2])  # has one warn alert
    spots = w.timeline._alerts.data
    assert len(spots) == len(w.record.alerts) == 1
    assert spots[0]["x"] == w.record.alerts[0].t_s


def test_progress_tab_computes_on_demand(window):
    w, lib = window
    w.open_session(lib.trainee[1])
    w.set_reference(lib.reference)
    assert w.progress.table.rowCount() == 0  # not computed until looked at
    w.tabs.setCurrentWidget(w.progress)
    assert w.progress.table.rowCount() == 3
    assert "A. Trainee: 3 sessions" in w.progress.title.text()


def test_timeline_shows_zero_events_and_forces_change_only_after_them(qtbot, tmp_path):
    from calibration.models import ZeroEvent, ZeroSource
    from tests.logger.test_store import fill, make_meta

    store = SessionStore(tmp_path / "zeros.sqlite3")
    sid = store.create_session(make_meta())
    _, raw = fill(store, sid, 4.0)
    store.add_zeros(sid, [ZeroEvent(2.0, float(raw[2000, 0]), ZeroSource.USER)])
    store.finish_session(sid)
    w = ReviewWindow(store)
    qtbot.addWidget(w)
    w.show()
    w.open_session(sid)
    removed_n = (raw[2000, 0] - 120000.0) / 4000.0
    [line] = w.timeline.zero_lines
    assert line.value() == 2.0
    assert f"zero {removed_n:+.2f} N" in line.label.format
    assert "zeroed 1 time during the session" in w.header.text()
    w.timeline.zoom_to(1.9, 2.1)
    x, y = w.timeline._detail.getData()
    assert w.timeline.mode == "detail"
    after = x >= 2.0
    assert y[after][0] == pytest.approx(0.0, abs=1e-9)  # the zero's own sample
    assert y[~after][-1] == pytest.approx(removed_n, abs=0.01)  # just before: untouched
    w.close()
    store.close()


def test_sessions_sharing_no_point_say_so_and_leave_no_chart(qtbot, tmp_path):
    from gui.review.demo import write_session

    store = SessionStore(tmp_path / "apart.sqlite3")
    common = dict(client="C-9", rate_hz=200.0, hold_s=4.0, plateaus_n=[[30.0]])
    a = write_session(store, therapist="A", started_at="2026-11-02T09:00:00+00:00",
                      plan=["Point 1"], **common)  # fmt: skip
    b = write_session(store, therapist="B", started_at="2026-11-03T09:00:00+00:00",
                      plan=["Upper trapezius L"], **common)  # fmt: skip
    w = ReviewWindow(store)
    qtbot.addWidget(w)
    w.show()
    w.open_session(a)
    w.set_reference(a)  # against itself: one chart, RMS error 0.0 N
    assert w.compare.plot.listDataItems()
    w.open_session(b)
    w.set_reference(a)
    text = w.compare.summary.text()
    assert text.startswith("No point has holds in both sessions, so nothing is compared")
    assert "trainee: Upper trapezius L" in text and "reference: Point 1" in text
    assert w.compare.table.rowCount() == 0
    assert not w.compare.plot.listDataItems()  # no leftover chart of the last comparison
    assert "RMS" not in (w.compare.plot.getPlotItem().titleLabel.text or "")
    w.close()
    store.close()


def test_two_sessions_in_one_minute_read_differently():
    from gui.review.library import distinct_dates

    today = datetime(2026, 11, 29, tzinfo=UTC)
    starts = [
        "2026-11-23T14:30:05+00:00",
        "2026-11-23T14:30:48+00:00",
        "2026-11-22T09:00:00+00:00",
    ]
    assert distinct_dates(starts, today) == [
        "23 Nov 2026 14:30:05",
        "23 Nov 2026 14:30:48",
        "22 Nov 09:00",
    ]


def test_notes_are_shown_edited_and_kept(window):
    w, lib = window
    store = w.store
    w.open_session(lib.reference)
    assert "reference recording" in w.header.text()
    assert w.notes_edit.toPlainText() == "reference recording"
    assert not w.notes_save.isEnabled()
    w.notes_edit.setPlainText("reference recording\nclient <b>tense</b> at point 2")
    assert w.notes_save.isEnabled()
    w.notes_save.click()
    assert store.load_session(lib.reference).meta.notes.endswith("<b>tense</b> at point 2")
    assert "&lt;b&gt;tense" in w.header.text()  # shown as typed, not as markup
    assert not w.notes_save.isEnabled()
    w.open_session(lib.trainee[0])  # a session without notes
    assert w.notes_edit.toPlainText() == "" and "notes:" not in w.header.text()
    store.set_notes(lib.reference, "reference recording")  # the library is shared


@pytest.mark.parametrize("kind", ["csv", "json", "edf"])
def test_the_review_exports_what_the_export_command_writes(window, tmp_path, kind):
    from logger.export.tabular import export_csv, export_edf, export_json

    w, lib = window
    store = w.store
    w.open_session(lib.trainee[0])
    assert w.act_csv.isEnabled() and w.act_json.isEnabled() and w.act_edf.isEnabled()
    ours = w.export(kind, tmp_path / f"review.{kind}")
    theirs = {"csv": export_csv, "json": export_json, "edf": export_edf}[kind](
        store, lib.trainee[0], tmp_path / f"command.{kind}"
    )
    if kind == "edf":  # the header records the time of writing
        assert ours.stat().st_size == theirs.stat().st_size > 0
    else:
        assert ours.read_bytes() == theirs.read_bytes()


def test_save_dialogs_start_in_documents_then_in_the_last_folder(tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings

    from gui import file_dialogs

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    monkeypatch.setattr(file_dialogs, "_settings", lambda: settings)
    first = file_dialogs.last_folder()
    assert first.is_dir() and first != Path.cwd() or first == Path.home()
    (tmp_path / "exports").mkdir()
    file_dialogs.remember_folder(tmp_path / "exports" / "a.csv")
    assert file_dialogs.last_folder() == tmp_path / "exports"
