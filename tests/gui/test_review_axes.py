"""Axes (clock time, no SI prefixes), the library at 1280×800 and the timeline's labels,
limits and target bands: real widgets offscreen on a real SQLite library."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from gui.axes import TimeAxis, clock, time_step
from gui.review import ReviewWindow
from gui.review.demo import build_demo_library, write_session
from gui.review.library import COLUMNS
from gui.review.plots import OverlayPlot, ProgressPlot, session_date_labels
from gui.review.timeline import TimelinePlot
from logger.compare import ProgressEntry
from logger.store import SessionStore

SI_MARKERS = ("(k", "(m", "(µ", "x0.", "x1e", "ks)", "mN)")


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    db = tmp_path_factory.mktemp("axes") / "sessions.sqlite3"
    store = SessionStore(db)
    lib = build_demo_library(store, points=4, trials=2, hold_s=6.0, rate_hz=200.0)
    # a session over 1000 s (where pyqtgraph switched to kiloseconds) with marks close together
    long_id = write_session(
        store,
        therapist="Long Name Of A Trainee Who Has A Very Long Name",
        client="C-LONG-PSEUDONYM-0099",
        started_at="2026-11-25T10:00:00+00:00",
        plateaus_n=[[30.0, 31.0, 29.0]] * 5,
        rate_hz=20.0,
        hold_s=90.0,
        rest_s=5.0,
    )
    store.close()
    return db, lib, long_id


@pytest.fixture
def store(library):
    s = SessionStore(library[0])
    yield s
    s.close()


@pytest.fixture
def themed(qapp):
    """The application's real fonts, palette and style sheet, restored afterwards."""
    from gui import theme

    saved = (qapp.font(), qapp.palette(), qapp.styleSheet(), qapp.style().name())
    theme.apply(qapp)
    yield qapp
    font, palette, sheet, style = saved
    qapp.setStyleSheet(sheet)
    qapp.setStyle(style)
    qapp.setPalette(palette)
    qapp.setFont(font)


def assert_no_si_prefix(plot) -> None:
    item = plot.getPlotItem()
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        assert axis.autoSIPrefixScale == 1.0, (name, axis.autoSIPrefixScale)
        label = axis.labelString()
        assert not any(m in label for m in SI_MARKERS), label


# ------------------------------------------------------------------ clock ticks
@pytest.mark.parametrize(
    ("t_s", "spacing_s", "hours", "text"),
    [
        (0.0, 1.0, False, "0:00"),
        (59.0, 1.0, False, "0:59"),
        (605.0, 5.0, False, "10:05"),
        (1000.0, 100.0, False, "16:40"),
        (3599.0, 1.0, False, "59:59"),
        (3600.0, 60.0, False, "1:00:00"),
        (3725.0, 60.0, False, "1:02:05"),
        (600.0, 60.0, True, "0:10:00"),
        (1.5, 0.5, False, "0:01.5"),
        (61.25, 0.05, False, "1:01.25"),
        (-5.0, 5.0, False, "-0:05"),
        (8 * 3600.0, 3600.0, False, "8:00:00"),
    ],
)
def test_clock_strings(t_s, spacing_s, hours, text):
    assert clock(t_s, spacing_s, hours) == text


def test_time_axis_tick_strings_and_steps(qapp):
    axis = TimeAxis("bottom")
    assert axis.tickStrings([0.0, 1000.0, 2000.0, 3000.0], 1.0, 1000.0) == [
        "0:00",
        "16:40",
        "33:20",
        "50:00",
    ]
    # a range reaching an hour switches every tick to h:mm:ss
    assert axis.tickStrings([1800.0, 3600.0], 1.0, 1800.0) == ["0:30:00", "1:00:00"]
    # time-like steps: 3000 s over 800 px ticks every 5 min, 8 h over 1200 px every hour
    assert time_step(3000.0, 800.0) == 300.0
    assert time_step(8 * 3600.0, 600.0) == 3600.0
    assert time_step(150.0, 800.0) == 15.0
    assert [v for v, _ in axis.tickSpacing(0.0, 3000.0, 800.0)] == [300.0, 60.0]
    values = axis.tickValues(0.0, 3000.0, 800.0)[0][1]
    assert values[:3] == [0.0, 300.0, 600.0]


def test_no_axis_shows_an_si_prefix(qapp, store, library):
    _, lib, long_id = library
    timeline = TimelinePlot()
    timeline.resize(900, 300)
    timeline.set_session(store, store.load_session(long_id))
    assert timeline.duration_s > 1000.0
    timeline.show_all()
    assert_no_si_prefix(timeline)
    assert timeline.getPlotItem().getAxis("bottom").labelString().find("session time") >= 0
    ticks = timeline.getPlotItem().getAxis("bottom").tickValues(0.0, timeline.duration_s, 900)
    strings = timeline.getPlotItem().getAxis("bottom").tickStrings(ticks[0][1], 1.0, ticks[0][0])
    assert all(":" in s for s in strings) and "20:00" in strings

    overlay = OverlayPlot()
    overlay.show_curves([], reference_n=None, target_n=(0.2, 0.6))
    overlay.getPlotItem().setRange(xRange=(0.0, 0.004), yRange=(0.1, 0.9), padding=0)
    assert_no_si_prefix(overlay)

    progress = ProgressPlot()
    entries = [
        ProgressEntry("a", "2026-11-09T14:30:00+00:00", 0.52, -0.01, 100.0, 80.0, 4),
        ProgressEntry("b", "2026-11-16T14:30:00+00:00", 0.31, 0.02, 100.0, 90.0, 4),
    ]
    progress.show_progress(entries)
    assert_no_si_prefix(progress)
    item = progress.getPlotItem()
    assert item.getAxis("left").labelString().count("error vs reference (N)") == 1
    assert "session date" in item.getAxis("bottom").labelString()
    assert progress.tick_labels == ["2026-11-09", "2026-11-16"]
    for w in (timeline, overlay, progress):
        w.deleteLater()


def test_session_date_labels_add_the_time_when_a_date_repeats():
    assert session_date_labels(
        ["2026-11-09T09:00:00Z", "2026-11-09T15:30:00Z", "2026-11-10T09:00:00Z"]
    ) == ["11-09 09:00", "11-09 15:30", "2026-11-10"]


# ----------------------------------------------------------- layout at 1280×800
@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)])
def test_every_library_column_is_visible(qtbot, themed, store, library, size):
    _, lib, long_id = library
    w = ReviewWindow(store)
    qtbot.addWidget(w)
    w.resize(*size)
    w.show()
    w.open_session(lib.trainee[1])
    w.set_reference(lib.reference)
    qtbot.wait(1)
    table = w.library.table
    viewport = table.viewport().width()
    assert table.columnCount() == len(COLUMNS)
    for col in range(len(COLUMNS)):
        right = table.columnViewportPosition(col) + table.columnWidth(col)
        assert table.columnViewportPosition(col) >= 0 and right <= viewport, (col, right)
        assert table.columnWidth(col) >= 40, col
    assert table.horizontalScrollBar().maximum() == 0
    # a long name is elided in the cell, not lost: the tooltip has it whole
    row = next(
        r
        for r in range(table.rowCount())
        if table.item(r, 0).data(Qt.ItemDataRole.UserRole) == long_id
    )
    assert table.item(row, 1).toolTip() == "Long Name Of A Trainee Who Has A Very Long Name"
    assert table.item(row, 4).text() == clock(round(w.library.summary(long_id).duration_s))
    assert table.item(row, 4).text().count(":") == 1  # m:ss, no tenths
    w.close()


def test_mark_labels_never_overlap_and_elide_with_tooltips(qtbot, store, library):
    _, lib, long_id = library
    timeline = TimelinePlot()
    qtbot.addWidget(timeline)
    timeline.resize(420, 260)  # narrow: five marks cannot all sit in one row
    timeline.show()
    timeline.set_session(store, store.load_session(lib.trainee[1]))
    qtbot.wait(1)
    timeline.layout_mark_labels()
    shown = [line for line in timeline.mark_lines if line.label.format]
    assert len(timeline.mark_lines) == 4
    rects = [line.label.sceneBoundingRect() for line in shown]
    for i in range(len(rects)):
        for j in range(i + 1, len(rects)):
            assert not rects[i].intersects(rects[j]), (shown[i].full_label, shown[j].full_label)
    assert len({line.label.row for line in timeline.mark_lines}) > 1  # staggered
    for line in timeline.mark_lines:
        text = line.label.format
        assert text == line.full_label or text.endswith("…") or text == ""
        assert line.full_label in line.toolTip()
    # wide enough: every label whole on one row
    timeline.resize(1600, 260)
    qtbot.wait(1)
    timeline.layout_mark_labels()
    assert [line.label.format for line in timeline.mark_lines] == [
        line.full_label for line in timeline.mark_lines
    ]


def test_timeline_shows_warn_max_lines_and_target_bands(qtbot, store, library):
    _, lib, _ = library
    timeline = TimelinePlot()
    qtbot.addWidget(timeline)
    rec = store.load_session(lib.trainee[2])
    timeline.set_session(store, rec)
    assert timeline.limit_levels_n == {"warn": 40.0, "max": 60.0}
    bands = timeline.target_bands
    assert bands is not None
    assert list(bands.opts["x0"]) == [h.start_s for h in rec.holds]
    assert set(bands.opts["y0"]) == {25.0} and set(bands.opts["y1"]) == {35.0}
    # the y range shows the max line
    (_, _), (_, y1) = timeline.getPlotItem().viewRange()
    assert y1 > 60.0
