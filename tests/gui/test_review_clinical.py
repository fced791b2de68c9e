"""The review window's clinical views with real widgets (offscreen) on a real library: the
PPT and Drill tabs, pain ratings and signals on the timeline, the learning curve, and the
PPT change between two sessions of the same client in the comparison."""

from __future__ import annotations

import pytest

from gui.report.clinical import ppt_change_cells, ppt_trial_cells, session_clinical
from gui.review import ReviewWindow
from gui.review.demo import PptTrialPlan, write_drill_session, write_ppt_session
from logger.drills import load_drill
from logger.store import SessionStore

BASELINE = [PptTrialPlan(p, th) for p, th in ((0, 30.0), (0, 31.0), (0, 29.0), (1, 44.0))]
LATER = [PptTrialPlan(p, th) for p, th in ((0, 36.0), (0, 37.0), (0, 35.0), (1, 50.0))]


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    db = tmp_path_factory.mktemp("review-clinical") / "sessions.sqlite3"
    store = SessionStore(db)
    first = write_ppt_session(
        store, BASELINE, ratings=[(2.0, 3.0), (9.0, 7.0)], started_at="2026-11-10T10:00:00+00:00"
    )
    second = write_ppt_session(store, LATER, started_at="2026-11-17T10:00:00+00:00")
    other = write_ppt_session(store, LATER, client="C-0999", started_at="2026-11-18T10:00:00+00:00")
    basic = load_drill("basic").to_dict()
    drills = [
        write_drill_session(store, basic, [30.0 + e] * 6, started_at=f"2026-11-{d}T14:00:00+00:00")
        for d, e in ((12, 6.0), (13, 2.0))
    ]
    store.close()
    return db, first, second, other, drills


@pytest.fixture
def window(qtbot, library):
    store = SessionStore(library[0])
    w = ReviewWindow(store)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    yield w
    w.close()
    store.close()


def tab_visible(w: ReviewWindow, page) -> bool:
    return w.tabs.isTabVisible(w.tabs.indexOf(page))


def cells(table) -> list[list[str]]:
    return [
        [table.item(r, c).text() for c in range(table.columnCount())]
        for r in range(table.rowCount())
    ]


def test_ppt_session_shows_its_tab_ratings_and_signals(window, library):
    w = window
    _, first, _, _, drills = library
    w.open_session(first)
    assert tab_visible(w, w.ppt) and not tab_visible(w, w.drill)
    parts = session_clinical(w.store, w.record)
    assert cells(w.ppt.trials) == ppt_trial_cells(parts.ppt.trials)
    assert w.ppt.points.rowCount() == len(parts.ppt.points) == 2
    assert w.ppt.points_title.text() == "Per point and round"  # one round: no change
    assert [w.ppt.points.item(r, 6).text() for r in range(2)] == ["", ""]
    # ratings as a step trace on their own 0–10 axis; a star per signal at its force
    x, y = w.timeline.pain_trace.getData()
    assert list(y) == [3.0, 3.0, 7.0, 7.0] and x[0] == 2.0
    assert w.timeline._pain_axis.isVisible()
    spots = w.timeline.signal_spots.data
    assert len(spots) == 4
    assert [round(s, 0) for s in spots["y"]] == [30.0, 31.0, 29.0, 44.0]
    assert "Pain ratings (0–10): 2 ratings, highest 7" in w.clinical_line.text()
    # a drill session next: the PPT tab goes, the Drill tab comes, no pain axis
    w.tabs.setCurrentWidget(w.ppt)
    w.open_session(drills[-1])
    assert not tab_visible(w, w.ppt) and tab_visible(w, w.drill)
    assert w.tabs.currentWidget() is w.holds
    assert w.timeline.pain_trace is None and not w.timeline._pain_axis.isVisible()
    assert w.timeline.signal_spots is None


def test_drill_tab_scores_and_learning_curve_of_the_therapist(window, library):
    w = window
    *_, drills = library
    w.open_session(drills[-1])
    assert w.drill.table.rowCount() == 6
    assert [w.drill.table.item(r, 1).text() for r in range(6)] == ["feedback"] * 4 + ["blind"] * 2
    assert "basic: score" in w.drill.summary.text()
    assert w.drill.progress == []  # read only when the tab is looked at
    w.tabs.setCurrentWidget(w.drill)
    assert [p.session_id for p in w.drill.progress] == drills
    title = w.drill.progress_title.text()
    assert title.startswith("Learning curve of B. Student: 2 drill sessions; score ")
    assert len(w.drill.plot.tick_labels) == 2
    first, second = (p.summary.abs_error_feedback_n for p in w.drill.progress)
    assert first > second


def test_comparison_shows_the_ppt_change_of_the_same_client(window, library):
    w = window
    _, first, second, other, _ = library
    w.open_session(second)
    w.set_reference(first)
    assert w.compare.ppt_box.isVisibleTo(w)
    from logger.clinical import change_between, load_clinical

    expected = change_between(load_clinical(w.store, first), load_clinical(w.store, second))
    assert cells(w.compare.ppt_table) == ppt_change_cells(expected)
    assert f"{first} (pre) → {second} (post)" in w.compare.ppt_title.text()
    assert all(c.change_kpa > 0 for c in expected)
    # the earlier session is "pre" whichever is the reference
    w.set_reference(None)
    w.open_session(first)
    w.set_reference(second)
    assert f"{first} (pre) → {second} (post)" in w.compare.ppt_title.text()
    # another client: no PPT change
    w.open_session(other)
    assert not w.compare.ppt_box.isVisibleTo(w)
