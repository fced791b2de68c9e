"""The live window's clinical protocols: pain ratings, the client signal, the PPT panel, the
guided profile and the drill view. Real widgets (offscreen) on the real simulator.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import Qt

from gui.main_window import MainWindow
from gui.sound import Sounder
from gui.widgets.drill_view import DrillView, drill_frame
from logger.config import Config
from logger.drills import Drill, DrillTask, TrialScore
from logger.guided import target_n
from logger.ppt import PptSettings, rate_band
from logger.records import Point, ProtocolKind
from tests.gui.conftest import rest, scenario

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]

WAIT_MS = 20_000
KEYPAD = Qt.KeyboardModifier.KeypadModifier


def make_window(qtbot, tmp_path: Path, db_path: Path, config: Config) -> MainWindow:
    win = MainWindow(config, config_path=tmp_path / "config.toml", db_path=db_path,
                     sounder=Sounder())  # fmt: skip
    qtbot.addWidget(win)
    win.resize(1280, 760)
    win.show()
    return win


def connect(qtbot, window: MainWindow, path: Path, speed: float = 1.0) -> None:
    url = f"sim://proto-{uuid.uuid4().hex[:6]}?scenario={path}&speed={speed:g}"
    window.connect_device(url)
    qtbot.waitUntil(lambda: window.live.device is not None and window.trace is not None,
                    timeout=WAIT_MS)  # fmt: skip


@pytest.fixture
def window(qtbot, tmp_path, db_path):
    config = Config(points=[Point(0, "A"), Point(1, "B"), Point(2, "C")])
    win = make_window(qtbot, tmp_path, db_path, config)
    yield win
    win.close()


def test_keypad_digits_rate_pain_and_the_top_row_digits_still_jump(qtbot, window, tmp_path):
    connect(qtbot, window, scenario(tmp_path, rest(30.0)))
    live = window.live
    qtbot.keyClick(window, Qt.Key.Key_6, KEYPAD)
    qtbot.waitUntil(lambda: window.readout.rating_label.text() == "6", timeout=WAIT_MS)
    assert [(r.value, r.source) for r in live.ratings] == [(6.0, "keyboard")]
    assert window.current_point is None  # the keypad's 6 is no jump
    qtbot.keyClick(window, Qt.Key.Key_Plus, KEYPAD)
    qtbot.keyClick(window, Qt.Key.Key_Minus, KEYPAD)
    qtbot.keyClick(window, Qt.Key.Key_Minus, KEYPAD)
    qtbot.waitUntil(lambda: len(live.ratings) == 4, timeout=WAIT_MS)
    assert [r.value for r in live.ratings] == [6.0, 7.0, 6.0, 5.0]
    qtbot.waitUntil(lambda: window.readout.rating_label.text() == "5", timeout=WAIT_MS)
    x, y = window.plot.rating_data()  # a step trace: each rating in force until the next
    assert list(y) == [6.0, 6.0, 7.0, 7.0, 6.0, 6.0, 5.0, 5.0]
    assert list(x[::2]) == [r.t_s for r in live.ratings]
    assert window.plot.rating_axis.isVisible()
    plot = window.plot  # the ratings scroll with the force trace
    assert plot.rating_view.viewRange()[0] == plot.view_box.viewRange()[0]

    qtbot.keyClick(window, Qt.Key.Key_2)  # the top row: point 2, no rating
    qtbot.waitUntil(lambda: window.current_point == 1, timeout=WAIT_MS)
    assert len(live.ratings) == 4


def test_keypad_steps_stay_within_0_to_10(qtbot, window, tmp_path):
    connect(qtbot, window, scenario(tmp_path, rest(30.0)))
    qtbot.keyClick(window, Qt.Key.Key_Minus, KEYPAD)  # none yet: 0
    qtbot.keyClick(window, Qt.Key.Key_9, KEYPAD)
    for _ in range(3):
        qtbot.keyClick(window, Qt.Key.Key_Plus, KEYPAD)
    qtbot.waitUntil(lambda: window.readout.rating_label.text() == "10", timeout=WAIT_MS)
    assert [r.value for r in window.live.ratings] == [0.0, 9.0, 10.0]  # no step past 10


@pytest.mark.parametrize("key", [Qt.Key.Key_S, Qt.Key.Key_Return])
def test_the_signal_key_gives_a_client_signal(qtbot, window, tmp_path, key):
    connect(qtbot, window, scenario(tmp_path, rest(30.0)))
    qtbot.keyClick(window, key)
    qtbot.waitUntil(lambda: len(window.live.signals) == 1, timeout=WAIT_MS)
    assert window.live.signals[0].source == "keyboard"
    qtbot.waitUntil(lambda: "signal" in window.plot.mark_labels, timeout=WAIT_MS)


def test_the_rate_gauge_shows_the_configured_band_in_kpa_per_s(qtbot, tmp_path, db_path):
    config = Config.from_dict(
        {"contact_area_cm2": 2.0, "ppt": {"rate_kpa_per_s": 40.0, "tolerance_pct": 25.0}}
    )
    window = make_window(qtbot, tmp_path, db_path, config)
    connect(qtbot, window, scenario(tmp_path, rest(30.0)))
    assert not window.ppt_panel.isVisible()
    qtbot.keyClick(window, Qt.Key.Key_F5)
    qtbot.waitUntil(window.ppt_panel.isVisible, timeout=WAIT_MS)
    assert [p.kind for p in window.live.protocols] == [ProtocolKind.ROUND]
    low_n, high_n = rate_band(PptSettings.from_config(config))
    kpa_per_n = 10.0 / 2.0
    assert window.ppt_panel.gauge.band == pytest.approx((low_n * kpa_per_n, high_n * kpa_per_n))
    assert window.ppt_panel.gauge.band == pytest.approx((30.0, 50.0))  # 40 kPa/s ± 25 %
    assert window.ppt_panel.gauge.unit == "kPa/s"
    assert "round pre" in window.ppt_panel.title.text()
    qtbot.keyClick(window, Qt.Key.Key_F7)  # PPT off: the holds table again
    qtbot.waitUntil(lambda: not window.ppt_panel.isVisible(), timeout=WAIT_MS)


def test_the_guided_profile_is_drawn_ahead_of_now_as_the_target(qtbot, tmp_path, db_path):
    config = Config.from_dict(
        {"profile": {"kind": "trapezoid", "force_n": 30.0, "ramp_s": 3.0, "plateau_s": 4.0,
                     "release_s": 2.0, "rest_s": 3.0, "repeats": 2, "tolerance_n": 3.0}}
    )  # fmt: skip
    window = make_window(qtbot, tmp_path, db_path, config)
    connect(qtbot, window, scenario(tmp_path, rest(60.0)))
    qtbot.keyClick(window, Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: window.plot.profile_data()[0].shape[0] > 0, timeout=WAIT_MS)
    (event,) = window.live.protocols
    profile = config.profile
    qtbot.waitUntil(lambda: window.live.t_s > event.t_s + 1.0, timeout=WAIT_MS)
    window.frame()
    x, y = window.plot.profile_data()
    (x0, x1), _ = window.plot.view_box.viewRange()
    shown = (x >= x0) & (x <= x1)
    # drawn through its corners only (exact: linear between them), however long it runs
    assert x.shape[0] <= 5 * profile.repeats and shown.sum() >= 3
    np.testing.assert_allclose(y, target_n(profile, x - event.t_s))
    newest = float(window.trace.window(1.0)[0][-1])
    assert x1 > newest + 5.0  # the coming seconds are in view
    assert x[shown].max() > newest + 5.0
    assert window.guided_panel.isVisible()
    assert window.guided_panel.deviation_label.text() != "—"
    # F10 stops it: stored as a PROFILE event with empty data, and the target leaves the plot
    qtbot.keyClick(window, Qt.Key.Key_F10)
    qtbot.waitUntil(lambda: len(window.live.protocols) == 2, timeout=WAIT_MS)
    stop = window.live.protocols[1]
    assert stop.kind is ProtocolKind.PROFILE and stop.data == {} and stop.t_s > event.t_s
    qtbot.waitUntil(lambda: window.plot.profile_data()[0].shape[0] == 0, timeout=WAIT_MS)
    assert not window.guided_panel.isVisible()


# ---------------------------------------------------------------------- the drill view
def blind_drill() -> Drill:
    task = DrillTask(target_n=30.0, hold_s=5.0, tolerance_n=3.0, ramp_n_per_s=10.0, rest_s=4.0)
    blind = DrillTask(target_n=30.0, hold_s=5.0, tolerance_n=3.0, ramp_n_per_s=10.0,
                      feedback=False, rest_s=4.0)  # fmt: skip
    return Drill(name="test", description="", tasks=(task, blind, blind))


def score(index: int, end_s: float) -> TrialScore:
    return TrialScore(
        drill="test", index=index, feedback=index == 0, target_n=30.0, tolerance_n=3.0,
        hold_index=index, start_s=end_s - 8.0, end_s=end_s, plateau_n=31.0, error_n=1.0,
        abs_error_n=1.0, rel_error_pct=3.3, cv_pct=2.0, ramp_rate_n_per_s=10.0,
        ramp_error_pct=0.0, in_band_pct=90.0, overshoot_n=0.5, overshoot_pct=1.7, score=80.0,
    )  # fmt: skip


def visible_texts(view: DrillView, *, but: tuple = ()) -> str:
    from PySide6.QtWidgets import QLabel

    shown = [w for w in view.findChildren(QLabel) if w.isVisibleTo(view) and w not in but]
    return " ".join(w.text() for w in shown)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    force_n=st.floats(5.0, 80.0),
    since_s=st.floats(0.0, 20.0),
    in_contact=st.booleans(),
    ramp=st.one_of(st.none(), st.floats(-20.0, 20.0)),
)
@example(force_n=30.0, since_s=0.0, in_contact=False, ramp=None)
def test_a_blind_trial_never_shows_the_force(qtbot, force_n, since_s, in_contact, ramp):
    view = DrillView()
    qtbot.addWidget(view)
    view.show()
    view.start(blind_drill(), 0.0)
    view.add_score(score(0, 10.0))  # trial 1 (with feedback) is over; trial 2 is blind
    now = 10.0 + since_s
    state = view.show_now(now, force_n, now - 1.0 if in_contact else None, ramp)
    assert state is not None and state.trial == 1 and not state.feedback
    assert not view.bar.isVisible() and view.bar.force_n is None and view.bar.band_n is None
    assert not view.force_visible
    # the force's number is nowhere (the target line states the task, not the force: a
    # force equal to the target reads like it there), and nothing shown depends on it
    assert view.units.value(force_n) not in visible_texts(view, but=(view.target_label,))
    assert view.target_label.text().startswith("target 30.0 N ± 3.0 N")
    shown = visible_texts(view)
    assert "Trial 2 of 3" in shown
    view.show_now(now, force_n + 11.0, now - 1.0 if in_contact else None, ramp)
    assert visible_texts(view) == shown
    if in_contact:  # during the trial, no score
        assert view.score_label.text() == ""


def test_a_feedback_trial_shows_force_and_band_and_the_score_after(qtbot):
    view = DrillView()
    qtbot.addWidget(view)
    view.show()
    view.start(blind_drill(), 0.0)
    view.show_now(3.0, 27.5, 1.0, 9.0)  # ramping up in trial 1
    assert view.force_visible and view.bar.force_n == 27.5 and view.bar.band_n == (27.0, 33.0)
    assert view.force_label.text() == "27.5 N"
    assert view.countdown_label.text() == ""  # the plateau is not reached yet
    view.show_now(4.0, 30.5, 1.0, 0.5)  # the plateau: the hold countdown runs
    view.show_now(6.0, 30.5, 1.0, 0.1)
    assert view.countdown_label.text() == "3" and view.status_label.text() == "hold now"
    view.add_score(score(0, 10.0))
    state = view.show_now(11.0, 0.0, None, None)  # resting before blind trial 2
    assert state.phase == "rest" and not view.force_visible
    assert view.countdown_label.text() == "3"
    assert "off by +1.0 N" in view.score_label.text()


@given(
    done=st.integers(0, 3),
    since_s=st.floats(0.0, 30.0),
    in_contact=st.booleans(),
)
def test_drill_frame_counts_trials_and_phases(done, since_s, in_contact):
    tasks = blind_drill().tasks
    scores = [score(i, 10.0 * (i + 1)) for i in range(done)]
    now = 10.0 * done + since_s
    frame = drill_frame(tasks, scores, now, in_contact=in_contact, plateau_s=None)
    assert frame.trial == done and frame.total == 3
    if done == 3:
        assert frame.phase == "done" and not frame.feedback
    elif in_contact:
        assert frame.phase == "hold" and frame.score is None
        assert frame.feedback == tasks[done].feedback
    elif done and since_s < tasks[done - 1].rest_s:
        assert frame.phase == "rest"
        assert frame.seconds_left == pytest.approx(tasks[done - 1].rest_s - since_s)
    else:
        assert frame.phase == "ready"
    assert not frame.feedback or tasks[min(done, 2)].feedback


def attempt(feedback: bool) -> str:
    return (
        '[[steps]]\naction = "attempt"\ntarget_n = 30.0\nramp_n_per_s = 15.0\nseconds = 2.5\n'
        f"feedback = {'true' if feedback else 'false'}\n" + rest(1.5)
    )


@pytest.mark.slow
def test_the_live_drill_scores_are_the_stored_ones(qtbot, tmp_path, db_path):
    """A trainee on the simulator through a drill in the live window: each trial is scored
    as it ends, and the scores the drill view showed are those the library gives later."""
    from gui.dialogs.session_dialog import SessionDetails
    from logger.clinical import load_clinical
    from logger.store import SessionStore

    drill_file = tmp_path / "short.toml"
    drill_file.write_text(
        'name = "short"\n'
        + "".join(
            f"[[tasks]]\ntarget_n = 30.0\nramp_n_per_s = 15.0\nhold_s = 2.5\n"
            f"tolerance_n = 3.0\nrest_s = 1.5\nfeedback = {fb}\n"
            for fb in ("true", "true", "false")
        )
    )
    # at 8x, the opening rest doubled: the drill still starts within 0.25 s of host time
    steps = rest(2.0) + attempt(True) + attempt(True) + attempt(False) + rest(2.0)
    window = make_window(qtbot, tmp_path, db_path, Config())
    connect(qtbot, window, scenario(tmp_path, "[trainee]\nseed = 3\n" + steps), speed=8.0)
    qtbot.waitUntil(window.record_button.isEnabled, timeout=WAIT_MS)
    sid = window.start_recording(SessionDetails("C-0007", "Trainee T", "", []))
    assert sid is not None, window.statusBar().currentMessage()
    window.start_drill(str(drill_file))
    qtbot.waitUntil(lambda: window.drill_view.isVisible(), timeout=WAIT_MS)
    assert window.isFullScreen()  # the trainee's view takes the whole screen
    qtbot.waitUntil(lambda: len(window.drill_view.scores) == 3, timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_Escape)  # back to the live window, as it was
    qtbot.waitUntil(lambda: not window.drill_view.isVisible(), timeout=WAIT_MS)
    assert not window.isFullScreen()
    shown = list(window.drill_view.scores)
    qtbot.waitUntil(window.live.finished.is_set, timeout=WAIT_MS)  # everything received
    if window.live.recording_id is not None:  # else the device's script ended it
        window.live.stop_recording()
    with SessionStore(db_path) as store:
        stored = load_clinical(store, sid).drill_scores
    assert [s.feedback for s in stored] == [True, True, False]
    assert len(shown) == len(stored) == 3
    for live_score, kept in zip(shown, stored, strict=True):
        # the same forces (float64 from the raw counts) through the same scoring: equal,
        # not close (the display's float32 copy gave 1.9 % in band live, 2.0 % stored)
        assert live_score.hold_index == kept.hold_index
        for field in ("plateau_n", "abs_error_n", "ramp_rate_n_per_s", "in_band_pct", "score"):
            assert getattr(live_score, field) == getattr(kept, field), field


@pytest.mark.slow
def test_the_live_ppt_thresholds_are_the_stored_ones(qtbot, tmp_path, db_path):
    """A PPT round on the simulator: the panel's trials and the point's threshold are the
    ones the library gives for the recorded session."""
    from gui.dialogs.session_dialog import SessionDetails
    from logger.clinical import load_clinical
    from logger.store import SessionStore

    trial = '[[steps]]\naction = "ppt"\nrate_n_per_s = 5.0\nthreshold_n = 15.0\n'
    # at 8x, the opening rest doubled: the round still starts within 0.25 s of host time
    steps = rest(2.0) + '[[steps]]\naction = "mark"\n' + (trial + rest(1.0)) * 3 + rest(1.0)
    config = Config(points=[Point(0, "Infraspinatus R")])
    window = make_window(qtbot, tmp_path, db_path, config)
    path = scenario(tmp_path, "[patient]\nthreshold_noise_pct = 5.0\n" + steps)
    connect(qtbot, window, path, speed=8.0)
    qtbot.waitUntil(window.record_button.isEnabled, timeout=WAIT_MS)
    sid = window.start_recording(SessionDetails("C-0008", "T", "", list(config.points)))
    assert sid is not None, window.statusBar().currentMessage()
    window.ppt_round("pre")
    # the whole script played (a signal's EVENT frame can come before the samples around
    # it, which the trial needs): then what the panel shows is what is stored
    qtbot.waitUntil(window.live.finished.is_set, timeout=WAIT_MS)
    assert len(window.live.signals) == 3
    window.protocols.show_ppt_trials(window.live, window.trace)
    live_trials, live_point = window.ppt_panel.trials, window.ppt_panel.point
    if window.live.recording_id is not None:
        window.live.stop_recording()
    with SessionStore(db_path) as store:
        res = load_clinical(store, sid)
    assert len(live_trials) == len(res.ppt_trials) == 3
    for shown, kept in zip(live_trials, res.ppt_trials, strict=True):
        assert shown.ppt_n == pytest.approx(kept.ppt_n, rel=1e-12)
        assert shown.rate_n_per_s == pytest.approx(kept.rate_n_per_s, rel=1e-9)
        assert shown.excluded == kept.excluded
    assert live_point is not None
    (point,) = res.ppt_points
    assert point.used == live_point.used == 3  # at 50 kPa/s on 1 cm², the default target
    assert live_point.ppt_n == pytest.approx(point.ppt_n, rel=1e-12)
