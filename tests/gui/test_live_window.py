"""The live window end to end: real widgets (offscreen) on the real simulator (``sim://``).

Each test writes a small scenario file, connects the window to ``sim://NAME?scenario=…``
and drives it through Qt's event loop (frames run on the window's own timer).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from gui.dialogs.session_dialog import SessionDialog
from gui.dialogs.settings_dialog import SettingsDialog
from gui.main_window import MainWindow
from gui.sound import Sound, Sounder
from logger.config import Config, Limits
from logger.live import LiveSession, wait_until
from logger.records import AlertKind, Point, SessionStatus
from logger.store import SessionStore
from tests.gui.conftest import MARK, answer_next_dialog, hold, rest, scenario

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]

WAIT_MS = 20_000


@pytest.fixture
def window(qtbot, tmp_path, db_path):
    points = [
        Point(0, "A", target_hold_s=1.0),
        Point(1, "B", target_n=(15.0, 25.0)),
        Point(2, "C"),
    ]
    config = Config(points=points)
    win = MainWindow(
        config, config_path=tmp_path / "config.toml", db_path=db_path, sounder=Sounder()
    )
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    yield win
    win.close()


def connect(window: MainWindow, path: Path, speed: float, name: str) -> None:
    window.connect_device(f"sim://{name}-{uuid.uuid4().hex[:6]}?scenario={path}&speed={speed:g}")


def wait_finished(qtbot, window: MainWindow) -> None:
    """Until the simulator played its script to the end and the window drew it."""
    qtbot.waitUntil(window.live.finished.is_set, timeout=WAIT_MS)
    window.frame()


def test_plot_holds_the_streamed_samples(qtbot, window, tmp_path):
    connect(window, scenario(tmp_path, rest(0.5) + hold(20.0, 2.0) + rest(0.5)), 0, "plot")
    wait_finished(qtbot, window)
    live = window.live
    t_ring, f_ring = live.ring.window(window.plot.window_s)
    x, y = window.plot.curve_data()
    assert x.shape[0] == live.counters.samples == t_ring.shape[0] > 3000
    np.testing.assert_allclose(x, t_ring)
    np.testing.assert_allclose(y, f_ring[:, 0], rtol=1e-6)
    assert y.max() == pytest.approx(20.0, abs=1.0)
    assert window.device_bar.state_text == "scenario ended"  # the simulator played it all
    assert "SIM-GUI-0001" in window.device_bar.status_label.text()


def test_over_limit_raises_the_banner_within_one_frame(qtbot, window, tmp_path):
    window.timer.stop()  # frames by hand: the alert must show on the very next one
    connect(window, scenario(tmp_path, rest(0.5) + hold(70.0, 1.5) + rest(0.5)), 0, "alert")
    qtbot.waitUntil(
        lambda: any(a.kind == AlertKind.MAX for a in window.live.alerts), timeout=WAIT_MS
    )
    assert not window.banner.active
    window.frame()
    assert window.banner.active and window.banner.kind == AlertKind.MAX
    assert "OVER MAXIMUM" in window.banner.text
    assert window.plot.alert_tinted
    assert Sound.ALARM in window.sounder.played
    assert any("OVER MAXIMUM" in line for line in window.alert_log.texts())


@pytest.mark.parametrize(("rest_after_s", "still_open"), [(0.4, True), (1.6, False)])
def test_banner_and_alarm_last_as_long_as_the_loggers_excursion(
    qtbot, window, tmp_path, rest_after_s, still_open
):
    """Back at rest, far below the level: the excursion stays open until force has stayed
    below the level less the hysteresis for REARM_S (1 s of device time), and so do the
    banner and the repeating alarm."""
    window.banner.min_shown_s = 0.0
    window.alarm_repeat_s = 0.05
    steps = rest(0.5) + hold(70.0, 1.0) + rest(rest_after_s)
    connect(window, scenario(tmp_path, steps), 0, "excursion")  # device time is what counts
    wait_finished(qtbot, window)
    live = window.live
    assert any("OVER MAXIMUM" in line for line in window.alert_log.texts())
    assert float(live.ring.window(1.0)[1][-1, 0]) < 5.0  # the force is back at rest
    assert live.in_excursion(AlertKind.MAX) is still_open
    window.frame()
    assert window.banner.active is still_open
    n = window.sounder.played.count(Sound.ALARM)
    if still_open:
        assert window.banner.kind == AlertKind.MAX
        qtbot.waitUntil(lambda: window.sounder.played.count(Sound.ALARM) >= n + 2, timeout=5000)
    else:
        qtbot.wait(200)  # frames go on: no alarm without an open excursion
        assert window.sounder.played.count(Sound.ALARM) == n and not window.banner.active


def test_in_excursion_of_a_hold_too_long_lasts_while_the_contact_goes_on(tmp_path, db_path):
    config = Config(limits=Limits(max_hold_s=0.8))
    cases = (
        (rest(0.5) + hold(30.0, 1.5, release_s=0.0), True),  # the script ends mid-contact
        (rest(0.5) + hold(30.0, 1.5) + rest(0.5), False),  # released
    )
    for steps, still_on in cases:
        path = scenario(tmp_path, steps)
        live = LiveSession(
            f"sim://long-{uuid.uuid4().hex[:6]}?scenario={path}&speed=0", config, db_path=db_path
        )
        live.start()
        try:
            assert wait_until(live.finished.is_set, WAIT_MS / 1000)
            assert [a.kind for a in live.alerts] == [AlertKind.HOLD_DURATION]
            assert live.in_excursion(AlertKind.HOLD_DURATION) is still_on
            assert not live.in_excursion(AlertKind.WARN) and not live.in_excursion(AlertKind.MAX)
        finally:
            live.stop()


def test_space_keys_and_device_button_move_through_the_plan(qtbot, window, tmp_path):
    connect(window, scenario(tmp_path, rest(0.3) + MARK + rest(6.0)), 2, "keys")
    qtbot.waitUntil(lambda: window.current_point == 0, timeout=WAIT_MS)  # device button
    assert window.plan_view.current_name == "1. A"
    assert any(line.endswith("A (device)") for line in window.alert_log.texts()), (
        window.alert_log.texts()
    )
    qtbot.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.current_point == 1, timeout=WAIT_MS)
    assert window.plan_view.next_name == "C"
    assert window.plot.target_band.isVisible()  # point B has a target window
    qtbot.keyClick(window, Qt.Key.Key_3)
    qtbot.waitUntil(lambda: window.current_point == 2, timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_1)
    qtbot.waitUntil(lambda: window.current_point == 0, timeout=WAIT_MS)
    assert [m.source for m in window.live.marks] == ["device", "keyboard", "keyboard", "keyboard"]
    assert window.plot.mark_labels == ["A", "B", "C", "A"]


def test_holds_table_fills_live(qtbot, window, tmp_path):
    steps = rest(0.5) + MARK + hold(20.0, 3.0) + rest(1.0) + MARK + hold(30.0, 3.0) + rest(1.0)
    connect(window, scenario(tmp_path, steps), 4, "holds")  # frames see the holds live
    qtbot.waitUntil(lambda: window.holds_table.rowCount() == 2, timeout=WAIT_MS)
    table = window.holds_table
    assert [table.item(r, 1).text() for r in range(2)] == ["A", "B"]
    assert [h.mean_n for h in table.holds] == pytest.approx([20.0, 30.0], abs=1.0)
    assert len(window.plot.hold_regions) == 2
    assert Sound.CHIME in window.sounder.played  # point A's 1 s target hold was reached


def test_unplug_shows_reconnecting_and_recovers(qtbot, window, tmp_path):
    path = scenario(
        tmp_path,
        rest(1.0) + hold(20.0, 2.0) + rest(3.0),
        "unplug_at_s = 1.5\nunplug_for_s = 1.0",
    )
    connect(window, path, 0, "unplug")
    qtbot.waitUntil(lambda: window.device_bar.state_text == "reconnecting…", timeout=WAIT_MS)
    window.frame()
    banner = window.plot.link_banner
    assert banner.isVisible() and "reconnecting" in banner.text()  # over the plot
    wait_finished(qtbot, window)
    assert not banner.isVisible()
    log = window.alert_log.texts()
    states = [line.split("link ")[1] for line in log if "  link " in line]
    assert states[states.index("reconnecting") + 1] == "streaming"
    assert window.live.counters.reconnects == 1
    assert any("(disconnect)" in line for line in log)  # the gap is logged
    # the gap is a grey band and the trace is broken across it (a NaN), not bridged
    [(g0, g1)] = window.plot.gap_regions
    assert g1 - g0 == pytest.approx(1.0, abs=0.05)
    x, y = window.plot.drawn_data()
    breaks = np.flatnonzero(np.isnan(y))
    column_s = window.plot.window_s / window.plot.view_box.width()  # drawn per pixel column
    assert breaks.size == 1
    assert x[breaks[0] - 1] <= g0 + column_s and x[breaks[0] + 1] >= g1 - column_s
    finite = y[np.isfinite(y)]
    assert finite.max() == pytest.approx(20.0, abs=1.0)  # no spike at the reconnect


@pytest.mark.slow
def test_recording_produces_a_complete_session(qtbot, window, tmp_path, db_path):
    # the first mark comes after 1.5 s of host time: a busy machine opens the Record dialog
    # first (a mark before Record belongs to the plan before the recording's)
    steps = rest(6.0) + MARK + hold(20.0, 2.0) + rest(0.5) + MARK + hold(25.0, 2.0) + rest(0.5)
    connect(window, scenario(tmp_path, steps), 4, "rec")
    qtbot.waitUntil(window.record_button.isEnabled, timeout=WAIT_MS)  # device identified

    def fill_dialog() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, SessionDialog)
        dialog.client_edit.setText("C-017")
        dialog.therapist_edit.setText("Trainee 3")
        dialog.plan_edit.setPlainText("Upper trapezius L\nLevator scapulae L")
        dialog.accept()

    QTimer.singleShot(50, fill_dialog)
    window.record_button.click()  # opens the session dialog (modal)
    sid = window.live.recording_id
    assert sid is not None, window.statusBar().currentMessage()
    assert window.record_button.text().startswith("■  Stop   REC 00:0")
    qtbot.waitUntil(lambda: window.record_button.text().endswith("00:01"), timeout=WAIT_MS)
    wait_finished(qtbot, window)
    window.record_button.click()  # stop
    assert window.live.recording_id is None
    assert any(f"session {sid} saved" in line for line in window.alert_log.texts())

    session = SessionStore(db_path).load_session(sid)
    assert session.status == SessionStatus.COMPLETE
    assert session.meta.client == "C-017" and session.meta.therapist == "Trainee 3"
    assert window.client_codes() == ["C-017"]  # the next record dialog lists it
    assert [p.name for p in session.points] == ["Upper trapezius L", "Levator scapulae L"]
    assert [h.point for h in session.holds] == ["Upper trapezius L", "Levator scapulae L"]
    assert len(session.marks) == 2
    assert session.stats.samples > 5000 and session.stats.lost_samples == 0

    window.review_button.click()  # the trainer's view opens on the session just saved
    review = window.review_window
    assert review is not None and review.isVisible()
    qtbot.addWidget(review)
    assert review.current_id == sid
    assert len(review.holds.holds) == 2


def test_pause_freezes_the_plot_while_samples_keep_coming(qtbot, window, tmp_path):
    connect(window, scenario(tmp_path, rest(0.5) + hold(20.0, 3.0) + rest(4.0)), 2, "pause")
    qtbot.waitUntil(lambda: window.plot.points_drawn > 500, timeout=WAIT_MS)
    window.pause_button.click()
    frozen_end = window.plot.curve_data()[0][-1]
    qtbot.waitUntil(lambda: window.live.t_s > frozen_end + 0.5, timeout=WAIT_MS)
    assert window.plot.curve_data()[0][-1] == frozen_end  # the view stays put
    assert window.trace.last_t_s > frozen_end  # ... while the window's copy goes on
    window.pause_button.click()
    qtbot.waitUntil(lambda: window.plot.curve_data()[0][-1] > frozen_end + 0.5, timeout=WAIT_MS)


def test_settings_units_zero_and_mute_act_on_the_live_window(qtbot, window, tmp_path):
    # a hold long enough that the zero (two dialogs) lands while the load is still on
    connect(window, scenario(tmp_path, rest(0.5) + hold(9.80665, 20.0) + rest(3.0)), 2, "units")
    qtbot.waitUntil(window.zero_button.isEnabled, timeout=WAIT_MS)
    window.apply_config(Config(units="kgf", contact_area_cm2=1.0, points=window.config.points))
    assert window.readout.unit_label.text() == "kgf"
    assert window.live.config.units == "kgf"
    qtbot.waitUntil(lambda: window.readout.force_label.text() == "1.00", timeout=WAIT_MS)
    kpa = float(window.readout.pressure_label.text().removesuffix(" kPa"))
    assert kpa == pytest.approx(98.0, abs=2.0)  # 1 kgf on 1 cm²
    # 1 kgf is above the 5 N hold onset: Zero asks first, in kgf, and Enter means No
    qtbot.waitUntil(lambda: abs(window.live.zero_load_n() - 9.80665) < 0.3, timeout=WAIT_MS)
    seen = answer_next_dialog(QMessageBox.StandardButton.No, by_key=Qt.Key.Key_Return)
    window.zero_button.click()
    load_kgf = float(re.search(r"reads (\S+) kgf", seen[0]).group(1))
    assert load_kgf == pytest.approx(1.0, abs=0.1) and "onset (0.51 kgf)" in seen[0]  # 5 N
    assert not any("zeroed:" in line for line in window.alert_log.texts())
    answer_next_dialog(QMessageBox.StandardButton.Yes)
    window.zero_button.click()
    [line] = [line for line in window.alert_log.texts() if "zeroed:" in line]
    removed_kgf = float(re.search(r"zeroed: removed (\S+) kgf$", line).group(1))
    assert removed_kgf == pytest.approx(1.0, abs=0.05)  # in the display unit
    assert "counts" not in line
    qtbot.waitUntil(lambda: window.readout.force_label.text() in ("0.00", "-0.00"), timeout=WAIT_MS)
    window.mute_button.click()
    assert window.sounder.muted and window.mute_button.text() == "Muted"


def test_live_raw_source_reads_counts_from_the_session(qtbot, window, tmp_path):
    from gui.dialogs.calibration_wizard import LiveRawSource

    load = '[[steps]]\naction = "load"\nmass_kg = 1.0\nseconds = 3.0\n'
    connect(window, scenario(tmp_path, rest(0.5) + load), 2, "raw")
    qtbot.waitUntil(lambda: window.live.t_s > 1.5, timeout=WAIT_MS)
    source = LiveRawSource(window.live)
    assert source.uid == "SIM-GUI-0001" and source.rate_hz == 1000.0
    qtbot.waitUntil(lambda: window.live.t_s > 2.5, timeout=WAIT_MS)
    t_s, raw = source.read_new()
    assert t_s.shape[0] > 500 and np.all(np.diff(t_s) > 0)
    force = window.live.calibration.counts_to_n(raw)
    assert np.median(force) == pytest.approx(9.80665, abs=0.5)
    t2, _ = source.read_new()
    assert t2.shape[0] == 0 or t2[0] > t_s[-1]  # only new samples


def test_a_port_that_cannot_open_is_reported_and_connect_is_offered_again(qtbot, window, tmp_path):
    missing = tmp_path / "missing.toml"
    window.connect_device(f"sim://fail-{uuid.uuid4().hex[:6]}?scenario={missing}")
    qtbot.waitUntil(lambda: window.device_bar.state_text == "failed", timeout=WAIT_MS)
    assert str(missing) in window.device_bar.status_label.text()
    assert window.device_bar.connect_button.text() == "Connect"
    assert not window.record_button.isEnabled()
    assert any("link failed" in line for line in window.alert_log.texts())


def test_first_start_on_the_demo_shows_the_demo_plan(tmp_path):
    from logger.paths import startup_config

    missing = tmp_path / "config.toml"
    demo = startup_config(None, missing)
    assert [p.name for p in demo.points][:2] == ["Upper trapezius L", "Levator scapulae L"]
    assert demo.points[0].target_n == (25.0, 35.0)
    assert startup_config("/dev/ttyACM0", missing).points == []  # a real device: no demo plan
    missing.write_text('units = "kgf"\n')
    assert startup_config(None, missing).units == "kgf"  # the user's own file wins


def test_units_apply_at_once_to_figures_and_the_drift_warning(qtbot, window, tmp_path):
    """Settings → kgf: the readout's peak and mean on show, and the drift warning, speak
    kgf at once (the zero drifts 0.5 N/s here: the unloaded reading passes the 1 N limit)."""
    path = scenario(tmp_path, rest(0.6) + hold(19.6133, 2.0) + rest(6.0))
    text = path.read_text().replace(
        "noise_n = 0.05\n", "noise_n = 0.05\nzero_drift_n_per_s = 0.5\n"
    )
    path.write_text(text)
    connect(window, path, 2, "drift")
    qtbot.waitUntil(lambda: window.holds_table.rowCount() == 1, timeout=WAIT_MS)
    assert window.readout.peak_value.text().endswith(" N")
    window.apply_config(Config(units="kgf", points=window.config.points))
    peak = window.readout.peak_value.text()
    assert peak.endswith(" kgf") and float(peak.split()[0]) == pytest.approx(2.1, abs=0.15)
    qtbot.waitUntil(
        lambda: any("drifted" in line for line in window.alert_log.texts()), timeout=WAIT_MS
    )
    [line] = [line for line in window.alert_log.texts() if "drifted" in line]
    assert re.search(r"drifted \+0\.\d\d kgf \(limit ±0\.10 kgf\) — zero the sensor", line), line


def test_keyboard_for_busy_hands(qtbot, window, tmp_path, db_path):
    """Ctrl+R, Enter: recording; Ctrl+0: zero; M: mute; Ctrl+R: stop; F1 lists them all."""
    connect(window, scenario(tmp_path, rest(8.0)), 2, "keys")
    qtbot.waitUntil(window.record_button.isEnabled, timeout=WAIT_MS)
    window.therapist = "T. Rainee"  # remembered from an earlier session: Enter is enough

    def press_enter_in_the_session_dialog() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, SessionDialog):
            QTimer.singleShot(10, press_enter_in_the_session_dialog)
            return
        dialog.client_edit.clear()  # instead of the proposed next code; focus starts there
        qtbot.keyClicks(dialog.client_edit, "C-042")
        qtbot.keyClick(dialog.client_edit, Qt.Key.Key_Return)

    QTimer.singleShot(0, press_enter_in_the_session_dialog)
    qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    sid = window.live.recording_id
    assert sid is not None
    qtbot.waitUntil(lambda: window.live.t_s > 1.5, timeout=WAIT_MS)
    # a window manager gives the window back its focus when the dialog closes; the
    # offscreen platform has none, so do what it would
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)  # at rest: at once
    assert any("zeroed: removed" in line for line in window.alert_log.texts())
    qtbot.keyClick(window, Qt.Key.Key_M)
    assert window.sounder.muted and window.mute_button.isChecked()
    qtbot.keyClick(window, Qt.Key.Key_M)
    assert not window.sounder.muted
    qtbot.waitUntil(lambda: window.live.t_s > 2.5, timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert window.live.recording_id is None
    rec = SessionStore(db_path).load_session(sid)
    assert rec.meta.client == "C-042" and [z.source for z in rec.zeros][-1] == "user"

    seen = answer_next_dialog(QMessageBox.StandardButton.Close)
    qtbot.keyClick(window, Qt.Key.Key_F1)
    for keys in ("Space / PgDown", "1 – 9", "Ctrl+R", "Ctrl+0", "M", "F1"):
        assert f"<b>{keys}</b>" in seen[0], keys
    assert "Enter starts" in seen[0]


def change_settings(window: MainWindow, fill) -> SettingsDialog:
    """Open Settings… as a user would, let ``fill`` edit the dialog, and save."""
    seen: list[SettingsDialog] = []

    def edit() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, SettingsDialog):
            QTimer.singleShot(10, edit)
            return
        seen.append(dialog)
        fill(dialog)
        dialog.buttons.button(dialog.buttons.StandardButton.Save).click()

    QTimer.singleShot(0, edit)
    window.settings_button.click()
    [dialog] = seen
    assert dialog.result() == SettingsDialog.DialogCode.Accepted, dialog.error_label.text()
    return dialog


def shown_plan(window: MainWindow) -> list[str]:
    return [p.name for p in window.plan_view.points]


@pytest.mark.slow
def test_settings_mid_hold_keep_the_hold_and_the_window_shows_what_is_in_force(
    qtbot, window, tmp_path
):
    """Settings changed through the dialog while a hold is under way: the live session
    takes them (its hold stays whole) and the window shows what the session has in force."""
    steps = rest(0.5) + MARK + hold(20.0, 5.0) + rest(1.5) + hold(20.0, 2.0) + rest(0.5)
    connect(window, scenario(tmp_path, steps), 2, "settings")
    live = window.live
    qtbot.waitUntil(lambda: live.t_s > 2.5 and live.current_hold is not None, timeout=WAIT_MS)
    assert window.current_point == 0 and window.plan_view.current_name == "1. A"

    # 1. thresholds and the warn level, mid-hold; the plan's names stay: A stays current
    def thresholds(dialog: SettingsDialog) -> None:
        assert dialog.onset_edit.text() == "5"  # the dialog opens on what is in force
        dialog.onset_edit.setText("10")
        dialog.release_edit.setText("9")
        dialog.warn_edit.setText("18")

    change_settings(window, thresholds)
    assert window.config is live.config and live.config.holds.onset_n == 10.0
    assert live.holds_in_force.onset_n == 5.0  # the hold under way keeps its own
    assert window.plot.warn_line.value() == pytest.approx(18.0)  # limits: at once
    assert window.plan_view.current_name == "1. A"
    qtbot.waitUntil(
        lambda: any("the hold under way keeps onset 5" in x for x in window.alert_log.texts()),
        timeout=WAIT_MS,
    )
    qtbot.waitUntil(lambda: window.holds_table.rowCount() == 1, timeout=WAIT_MS)
    qtbot.waitUntil(
        lambda: any("settings in force: hold onset 10" in x for x in window.alert_log.texts()),
        timeout=WAIT_MS,
    )
    [first] = window.holds_table.holds
    assert first.point == "A" and first.duration_s > 5.0  # one hold, whole

    # 2. a new plan, between holds: the window shows the session's; A is in it, still current
    def new_plan(dialog: SettingsDialog) -> None:
        assert dialog.onset_edit.text() == "10"
        dialog.points_table.item(2, 0).setText("Levator scapulae L")

    change_settings(window, new_plan)
    assert shown_plan(window) == [p.name for p in live.plan.points]
    assert shown_plan(window) == ["A", "B", "Levator scapulae L"]
    assert window.current_point == live.plan.current_index == 0
    assert window.plan_view.next_name == "B"
    assert window.plot.warn_line.value() == pytest.approx(18.0)  # A's: the session's level

    qtbot.waitUntil(live.finished.is_set, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.holds_table.rowCount() == 2, timeout=WAIT_MS)
    assert [h.start_s for h in window.holds_table.holds] == [h.start_s for h in live.holds]
    assert window.holds_table.holds[1].point == "A"

    # 3. disconnected: the window keeps what the session had in force
    window.disconnect_device()
    assert window.config.holds.onset_n == 10.0
    assert shown_plan(window) == ["A", "B", "Levator scapulae L"]
