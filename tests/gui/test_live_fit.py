"""The live-window audit (issue 5): it fits 1280×800, time reads as mm:ss, the alarm cannot
be dropped, nothing stale looks live, Record keeps the point, Calibrate waits for Stop.

Real widgets offscreen on the real simulator (``sim://``), as in test_live_window.py.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QPlainTextEdit

from gui import theme
from gui.axes import TimeAxis, clock
from gui.dialogs.session_dialog import SessionDetails
from gui.main_window import MainWindow
from gui.sound import Sound, Sounder
from gui.widgets.alerts import AlertLog
from gui.widgets.live_plot import LivePlot
from gui.widgets.readout import ForceReadout
from logger.config import Config
from logger.records import Alert, AlertKind, Point
from tests.gui.conftest import MARK, hold, rest, scenario

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]

WAIT_MS = 20_000
POINTS = [
    Point(0, "Upper trapezius L", target_hold_s=7.0),
    Point(1, "Levator scapulae L"),
    Point(2, "Infraspinatus L"),
]


@pytest.fixture
def window(qtbot, tmp_path, db_path):
    win = MainWindow(
        Config(points=list(POINTS)),
        config_path=tmp_path / "config.toml",
        db_path=db_path,
        sounder=Sounder(),
    )
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    yield win
    win.close()


def connect(window: MainWindow, path: Path, speed: float) -> None:
    window.connect_device(f"sim://fit-{uuid.uuid4().hex[:6]}?scenario={path}&speed={speed:g}")


def record(window: MainWindow, points: list[Point] = POINTS) -> str:
    sid = window.start_recording(SessionDetails("C-1", "T", None, list(points)))
    assert sid is not None, window.statusBar().currentMessage()
    return sid


def on_window(window: MainWindow, widget) -> QRect:
    """``widget``'s rectangle in ``window`` coordinates."""
    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


def fits(window: MainWindow) -> bool:
    hint = window.minimumSizeHint()
    return hint.width() <= 1280 and hint.height() <= 800


# ---------------------------------------------------------------------- 1. fits 1280×800
def test_the_window_fits_1280x800_and_never_resizes_itself(qtbot, window, tmp_path):
    assert fits(window), window.minimumSizeHint()
    assert (window.width(), window.height()) == (1280, 800)
    # at 2x, the opening rest doubled less the ramp's half: Record still has 0.9 s of host
    # time before the force passes warn
    connect(window, scenario(tmp_path, rest(1.4) + hold(50.0, 2.0) + rest(0.6)), 2)
    qtbot.waitUntil(window.record_button.isEnabled, timeout=WAIT_MS)
    record(window)
    qtbot.waitUntil(lambda: "REC 00:00" in window.record_button.text(), timeout=WAIT_MS)
    plot_before = on_window(window, window.plot)
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=WAIT_MS)  # over warn 40 N
    assert window.banner.kind == AlertKind.WARN
    assert fits(window), window.minimumSizeHint()
    assert (window.width(), window.height()) == (1280, 800)
    # the banner has a strip of its own: the plot (limit lines and labels) is neither
    # covered nor moved by it
    assert on_window(window, window.plot) == plot_before
    assert not on_window(window, window.banner).intersects(plot_before)
    qtbot.waitUntil(lambda: window.holds_table.rowCount() == 1, timeout=WAIT_MS)
    assert window.holds_table.columnWidth(1) >= 150  # "point" column
    qtbot.waitUntil(lambda: "CRC 0" in window.device_bar.status_label.toolTip(), timeout=WAIT_MS)
    tip = window.device_bar.status_label.toolTip()
    assert "drift" in tip and "SIM-GUI-0001" in tip  # the full status, even when cut short
    assert (window.width(), window.height()) == (1280, 800)


# ---------------------------------------------------------------------- 2. mm:ss time axis
def test_time_axis_reads_minutes_and_seconds_never_kiloseconds(qtbot):
    plot = LivePlot()
    qtbot.addWidget(plot)
    axis = plot.plot_item.getAxis("bottom")
    assert isinstance(axis, TimeAxis) and not axis.autoSIPrefix
    assert axis.tickStrings([0.0, 59.0, 60.0, 1000.0, 3000.0], 1.0, 60.0) == [
        "0:00",
        "0:59",
        "1:00",
        "16:40",
        "50:00",
    ]
    assert axis.tickStrings([3600.0, 3725.0], 1.0, 5.0) == ["1:00:00", "1:02:05"]
    assert axis.tickStrings([1.5, 2.0], 1.0, 0.5) == ["0:01.5", "0:02.0"]
    assert clock(-5.0) == "-0:05"
    # a 10-minute window about 800 px wide: ticks at a whole minute or two, not 100 s
    (major, _), *_ = axis.tickSpacing(2400.0, 3000.0, 800.0)
    assert major in (60.0, 120.0)


# ---------------------------------------------------------------------- 3. alarm
@pytest.fixture
def slow_player(tmp_path) -> str:
    """A stand-in audio player that 'plays' for 5 s (no audio device here)."""
    path = tmp_path / "player.sh"
    path.write_text("#!/bin/sh\nexec sleep 5\n")
    path.chmod(0o755)
    return str(path)


def test_the_alarm_cuts_the_chime_short_and_a_chime_never_cuts_the_alarm(qtbot, slow_player):
    sounder = Sounder(player=slow_player)
    try:
        sounder.play(Sound.CHIME)
        assert sounder.sounding == [Sound.CHIME]
        sounder.play(Sound.ALARM)  # during the chime: not dropped
        qtbot.waitUntil(lambda: sounder.sounding == [Sound.ALARM], timeout=5000)
        sounder.play(Sound.ALARM)  # MAX right after WARN: the new alarm sounds
        qtbot.waitUntil(lambda: sounder.sounding == [Sound.ALARM], timeout=5000)
        sounder.play(Sound.CHIME)  # during the alarm: skipped
        assert sounder.played == [Sound.CHIME, Sound.ALARM, Sound.ALARM]
        assert sounder.skipped == [Sound.CHIME]
    finally:
        sounder.close()


def test_the_alarm_repeats_while_the_excursion_lasts_until_it_ends_or_is_muted(qtbot, window):
    window.timer.stop()
    window.alarm_repeat_s = 0.05
    window.banner.min_shown_s = 0.0
    window._on_alert(Alert(1.0, AlertKind.MAX, 61.0, None, None))
    assert window.sounder.played == [Sound.ALARM]

    def alarms() -> int:
        return window.sounder.played.count(Sound.ALARM)

    def frame(in_excursion: bool) -> None:  # what frame() does with LiveSession.in_excursion
        window.banner.update_state(in_excursion)
        window.repeat_alarm()

    qtbot.waitUntil(lambda: (frame(True), alarms() >= 3)[1], timeout=5000)
    assert window.banner.active
    frame(False)  # the logger's excursion ended: the banner drops and the alarm stops
    assert not window.banner.active
    n = alarms()
    qtbot.wait(150)
    frame(False)
    assert alarms() == n
    window._on_alert(Alert(2.0, AlertKind.WARN, 41.0, None, None))
    assert alarms() == n + 1 and window.banner.active
    window.mute_button.click()  # muted: no repeat, though the excursion goes on
    n = alarms()
    qtbot.wait(150)
    frame(True)
    assert alarms() == n and window.banner.active


def test_a_hold_held_too_long_keeps_alarming_until_it_ends(qtbot, window):
    window.timer.stop()
    window.alarm_repeat_s = 0.05
    window.banner.min_shown_s = 0.0
    window._on_alert(Alert(91.0, AlertKind.HOLD_DURATION, 90.0, None, 0))
    assert "Hold longer than 90 s" in window.banner.text

    def alarms() -> int:
        return window.sounder.played.count(Sound.ALARM)

    def frame(hold_goes_on: bool) -> None:
        window.banner.update_state(hold_goes_on)
        window.repeat_alarm()

    qtbot.waitUntil(lambda: (frame(True), alarms() >= 3)[1], timeout=5000)
    assert window.banner.active
    frame(False)  # released: the banner drops and the alarm stops
    n = alarms()
    qtbot.wait(150)
    frame(False)
    assert alarms() == n and not window.banner.active


# ---------------------------------------------------------------------- 4. stale readout
def test_readout_reset_and_no_force_are_grey_dashes(qtbot):
    ro = ForceReadout()
    qtbot.addWidget(ro)
    ro.set_force(30.0)
    ro.set_hold(1.0, 12.0, 31.0, 29.0)
    ro.set_force(None)
    assert ro.force_label.text() == "—" and ro.force_color == theme.TEXT_DIM
    ro.reset()
    assert ro.timer_label.text() == "00:00" and ro.peak_value.text() == "—"
    assert ro.progress.value() == 0


def test_readout_is_not_live_while_reconnecting_and_starts_afresh(qtbot, window, tmp_path):
    window.timer.stop()  # frames by hand
    path = scenario(
        tmp_path, rest(0.3) + hold(30.0, 2.5) + rest(0.5), "unplug_at_s = 1.2\nunplug_for_s = 1.0"
    )
    connect(window, path, 1)

    def frame_until(predicate) -> None:
        qtbot.waitUntil(lambda: (window.frame(), predicate())[1], timeout=WAIT_MS)

    frame_until(lambda: window.readout.force_label.text() not in ("—", "0.0", "-0.0"))
    assert window.readout.force_color == theme.TEXT
    frame_until(lambda: str(window.live.state) == "reconnecting")
    window.frame()
    assert window.readout.force_label.text() == "—"
    assert window.readout.force_color == theme.TEXT_DIM
    frame_until(lambda: str(window.live.state) == "streaming")
    frame_until(lambda: window.readout.force_label.text() != "—")
    # a new connection shows nothing of the last one's force or hold
    window.readout.set_hold(0.5, 9.0, 31.0, 29.0)
    connect(window, scenario(tmp_path, rest(1.0)), 1)
    assert window.readout.force_label.text() == "—"
    assert window.readout.timer_label.text() == "00:00"
    assert window.readout.peak_value.text() == "—"


# ---------------------------------------------------------------------- 5 + 9. Record
@pytest.mark.slow
def test_record_with_the_same_plan_keeps_the_point_and_calibrate_waits(qtbot, window, tmp_path):
    # at 2x: the rest gives Record the same 1.2 s of host time before the hold
    steps = rest(0.3) + MARK + rest(2.4) + hold(20.0, 2.5) + rest(0.5)
    connect(window, scenario(tmp_path, steps), 2)
    qtbot.waitUntil(lambda: window.current_point == 0, timeout=WAIT_MS)  # the device button
    assert window.calibrate_button.isEnabled() and window.holds_table.rowCount() == 0
    record(window)
    assert window.plan_view.current_name == "1. Upper trapezius L"
    assert window.current_point == 0
    assert window.readout.point_target_s == 7.0
    window.frame()
    assert not window.calibrate_button.isEnabled()  # a new scale mid-session: no
    assert window.zero_button.isEnabled()  # zero stays
    qtbot.waitUntil(lambda: window.holds_table.rowCount() == 1, timeout=WAIT_MS)
    assert window.holds_table.item(0, 1).text() == "Upper trapezius L"
    assert window.live.holds[0].point_index == 0
    window.record_button.click()  # stop
    window.frame()
    assert window.calibrate_button.isEnabled()


# ---------------------------------------------------------------------- 6. presets
def test_a_point_target_unchecks_the_presets_and_says_so(qtbot):
    ro = ForceReadout()
    qtbot.addWidget(ro)
    ro.show()
    assert ro.checked_preset_s == 30.0 and not ro.point_target_label.isVisible()
    ro.set_point_target_s(7.0)
    assert ro.checked_preset_s is None
    assert ro.point_target_label.isVisible()
    assert ro.point_target_label.text().replace("\n", " ") == "point target 7 s"
    assert ro.target_label.text() == "/ 00:07"
    ro.preset_group.buttons()[2].click()  # 60 s: remembered for points without a target
    assert ro.checked_preset_s is None and ro.target_s == 7.0
    ro.set_point_target_s(None)
    assert ro.checked_preset_s == 60.0 and ro.target_label.text() == "/ 01:00"
    assert not ro.point_target_label.isVisible()


# ---------------------------------------------------------------------- 10. minor
def test_alert_log_wraps_long_lines(qtbot):
    log = AlertLog()
    qtbot.addWidget(log)
    assert log.lineWrapMode() == QPlainTextEdit.LineWrapMode.WidgetWidth


def test_mark_labels_leave_with_their_line(qtbot):
    import numpy as np

    plot = LivePlot()
    qtbot.addWidget(plot)
    plot.resize(800, 400)
    plot.show()
    plot.add_mark(2.0, "Upper trapezius L")
    plot.set_data(np.array([0.0, 20.0]), np.zeros(2))
    label = plot._marks[0][1].label
    assert label.isVisible()
    plot.set_data(np.array([0.0, 40.0]), np.zeros(2))  # the mark scrolled off the left
    assert not label.isVisible()


def test_mark_labels_close_together_never_overlap(qtbot):
    import numpy as np

    plot = LivePlot()
    qtbot.addWidget(plot)
    plot.resize(800, 400)
    plot.show()
    for i, t in enumerate((2.0, 2.5, 3.0, 9.0)):
        plot.add_mark(t, f"Upper trapezius {i}")
    plot.set_data(np.array([0.0, 20.0]), np.zeros(2))
    qtbot.wait(10)
    rects = [line.label.sceneBoundingRect() for _, line in plot._marks]
    for i, a in enumerate(rects):
        for b in rects[i + 1 :]:
            assert not a.intersects(b), (a, b)
    heights = [line.label.orthoPos for _, line in plot._marks]
    assert heights[:3] == [0.99, 0.925, 0.86] and heights[3] == 0.99  # far apart: top row
    plot.set_window_s(600.0)  # zoomed out, three within a few pixels: still apart
    plot.set_data(np.array([0.0, 20.0]), np.zeros(2))
    qtbot.wait(10)
    rects = [line.label.sceneBoundingRect() for _, line in list(plot._marks)[:3]]
    assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1 :])


def test_a_point_key_outside_the_plan_says_so(qtbot, window, tmp_path):
    connect(window, scenario(tmp_path, rest(3.0)), 1)
    qtbot.keyClick(window, Qt.Key.Key_9)
    assert window.statusBar().currentMessage() == "No point 9: the plan has 3 points"
    assert window.current_point is None
