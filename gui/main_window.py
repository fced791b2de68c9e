"""The live window: device bar, live plot, readout, point plan, holds, alerts, recording.

Everything the window shows is pulled once per frame (``FRAME_INTERVAL_MS``) from the
``LiveSession``: its event queue (marks, holds, alerts, gaps, link state) and a copy of its
ring buffer's window. The reader thread never waits for the window, and an alert the
reader decided is on screen at the next frame. Keys (one table, ``shortcut_table``, also
shown by F1): Space (or PageDown, what most foot pedals send) marks / moves to the next
point; 1–9 jump to a point; Ctrl+R records (the session dialog, Enter starts) and stops;
Ctrl+0 zeroes; M mutes. The device's button arrives as a mark event.

Clinical protocols (the Protocol menu, F5–F11; ``gui/live_protocols.py``): a PPT round
shows the PPT panel under the plot, the client signals with S or Return (a pedal can send
either) or the device's client button; the keypad's digits (and + / −) give the client's
pain rating, shown beside the force and drawn in the plot; a guided profile scrolls
through the plot ahead of now; a drill fills the window with the trainee's view (Esc
leaves it, F11 shows it again).

While connected the session owns the settings and the point plan: the window hands it
changes (Settings…) and shows what it has in force, read again whenever the session says
it changed (``SettingsChanged``, a mark). It keeps no copy of its own.

With a school library configured (``school_url``) a :class:`~gui.sync_worker.SyncWorker`
syncs in the background: the window asks it for a pass when a recording ends, drains its
results with a timer of its own (not the frame timer) into the status bar, and stops it on
close. Recording never calls it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from calibration.tare import DriftWarning
from firmware_protocol.sim.protocol_sim import place_mass
from logger.config import Config
from logger.drills import builtin_drills, check_scorable, load_drill
from logger.errors import BadInput, StorageError
from logger.guided import Profile
from logger.hold_detector import HoldLevels, HoldState
from logger.live import (
    DeviceNotice,
    LiveSession,
    RecordingStarted,
    SettingsChanged,
    StateChange,
    StorageFailed,
)
from logger.points import PointPlan
from logger.records import (
    Alert,
    AlertKind,
    Gap,
    Hold,
    Mark,
    MarkSource,
    Point,
    ProtocolEvent,
    ProtocolKind,
    Rating,
    Signal,
)
from logger.store.open import describe as describe_library

from . import theme
from .dialogs.calibration_wizard import CalibrationWizard, LiveRawSource
from .dialogs.session_dialog import SessionDialog
from .dialogs.settings_dialog import SettingsDialog
from .display import DisplayUnits
from .format import mm_ss, plural
from .live_protocols import LiveProtocols
from .screen import show_fitted
from .sound import ALARM_REPEAT_S, Sound, Sounder
from .trace_buffer import TraceBuffer
from .widgets.alerts import AlertBanner, AlertLog, describe
from .widgets.device_bar import DeviceBar, LinkStatus
from .widgets.drill_view import DrillView
from .widgets.guided_panel import GuidedPanel
from .widgets.holds_table import HoldsTable
from .widgets.live_plot import DEFAULT_WINDOW_S, WINDOW_CHOICES_S, LivePlot
from .widgets.point_plan import PointPlanView
from .widgets.ppt_panel import PptPanel
from .widgets.readout import ForceReadout

if TYPE_CHECKING:  # psycopg is imported only with a school library configured
    from .sync_worker import SyncWorker

log = logging.getLogger(__name__)

FRAME_INTERVAL_MS = 25  # 40 frames per second
SYNC_POLL_MS = 500  # the background sync's results reach the status bar this often
SYNC_BUSY_SHOWN_S = 2.0  # a pass this long (sending) says "syncing…"; a quick one does not
RAMP_WINDOW_S = 0.25  # the readout's ramp rate is the slope over this much of the trace
STATUS_EVERY_S = 0.5
TEXT_EVERY_S = 0.1  # readout numbers and button texts: at most 10 updates a second
RECORD_TEXT = "●  Record"
RATING_MAX = 10
LINK_BANNERS = {  # over the plot while no data comes (a recording resumes by itself)
    "reconnecting": "No data: the device is gone, reconnecting…",
    "failed": "No data: the link failed",
}


def stop_text(elapsed_s: float) -> str:
    """The Record button while recording: it stops, and shows how long it has recorded."""
    return f"■  Stop   REC {mm_ss(elapsed_s)}"


def _window_text(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.0f} min"


def ramp_rate_n_per_s(t_s: np.ndarray, force_n: np.ndarray, span_s: float) -> float | None:
    """Least-squares slope of the last ``span_s`` of the trace (N/s), None if too short."""
    if t_s.shape[0] < 3:
        return None
    i = int(np.searchsorted(t_s, t_s[-1] - span_s))
    t, f = t_s[i:], force_n[i:]
    if t.shape[0] < 3 or t[-1] - t[0] <= 0:
        return None
    tc = t - t.mean()
    return float(np.dot(tc, f - f.mean()) / np.dot(tc, tc))


# the keypad's 0-9 with NumLock off (else its 3 would be the pedal's PgDown: a mark)
KEYPAD_NUMLOCK_OFF = ("Ins", "End", "Down", "PgDown", "Left", "Clear", "Right", "Home", "Up",
                      "PgUp")  # fmt: skip


_KEY_EVENTS = frozenset((QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress))


def _key_code(key: object) -> int:
    """A Qt key (an enum member or an int) as an int."""
    return int(getattr(key, "value", key))  # type: ignore[call-overload]


class MainWindow(QMainWindow):
    """The therapist's live view of one device."""

    def __init__(
        self,
        config: Config,
        *,
        config_path: Path | None = None,
        db_path: Path | None = None,
        port: str | None = None,
        sounder: Sounder | None = None,
        frame_interval_ms: int = FRAME_INTERVAL_MS,
        lsl: bool = False,
        sync_every_s: float | None = None,
    ) -> None:
        super().__init__()
        self.lsl = lsl  # publish each connected device on LSL (logger/lsl.py)
        self.setWindowTitle("pressure-logger")
        self._config = config  # the settings to connect with (connected: the session's)
        self.config_path = config_path
        self.db_path = db_path
        self.sounder = sounder if sounder is not None else Sounder()
        self.live: LiveSession | None = None
        self.trace: TraceBuffer | None = None  # the window's copy of the ring buffer
        self.frames = 0
        self._last_status = 0.0
        self._last_text = 0.0
        self._shown_state = "disconnected"
        self.therapist = ""  # remembered for the next recording of this window
        self.alarm_repeat_s = ALARM_REPEAT_S
        self._last_alarm = 0.0
        self.calibration_wizard: CalibrationWizard | None = None
        self._offered_calibration = False  # an uncalibrated device: the wizard was offered
        self.sync_worker: SyncWorker | None = None  # the background sync (school_url set)
        self.sync_every_s = sync_every_s  # None: the worker's own period
        self.sync_timer = QTimer(self)
        self.sync_timer.setInterval(SYNC_POLL_MS)
        self.sync_timer.timeout.connect(self.show_sync)

        self._build()
        self.apply_config(config)
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(frame_interval_ms)
        self.timer.timeout.connect(self.frame)
        self.timer.start()
        if port:
            self.device_bar.set_url(port)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.device_bar = DeviceBar()
        self.device_bar.connect_requested.connect(self.connect_device)
        self.device_bar.disconnect_requested.connect(self.disconnect_device)
        self.banner = AlertBanner()  # a strip of its own above the plot, never over it
        self.storage_dialog: QMessageBox | None = None  # shown when the library fails

        def button(text: str, slot, *, checkable: bool = False, name: str = "") -> QPushButton:
            b = QPushButton(text)
            b.setCheckable(checkable)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space belongs to "mark"
            if name:
                b.setObjectName(name)
            b.clicked.connect(slot)
            return b

        self.record_button = button(RECORD_TEXT, self.toggle_recording, name="record")
        # wide enough for "Stop  REC 100:00" from the start: recording never resizes
        bold = theme.font(theme.BASE_PT, bold=True)
        self.record_button.setFont(bold)
        width = self.record_button.fontMetrics().horizontalAdvance(stop_text(6000.0))
        self.record_button.setFixedSize(width + 34, self.record_button.sizeHint().height())
        self.mark_button = button("Mark  [Space]", self.mark_next)
        self.mark_button.setToolTip("mark the next point of the plan (Space or PageDown)")
        self.zero_button = button("Zero", self.tare)
        self.calibrate_button = button("Calibrate…", self.open_calibration)
        self.settings_button = button("Settings…", self.open_settings)
        self.review_button = button("Sessions…", self.open_review)
        self.review_button.setToolTip("the session library: review, compare, report")
        self.protocol_button = button("Protocol", lambda: None)
        self.protocol_menu = self.protocol_button_menu()
        self.protocol_button.setMenu(self.protocol_menu)
        self.review_window = None
        self.last_session_id: str | None = None  # the newest session saved from here
        self.mute_button = button("Sound on", self.toggle_mute, checkable=True)
        self.pause_button = button("Pause view", self.toggle_pause, checkable=True)
        self.window_combo = QComboBox()
        self.window_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for seconds in WINDOW_CHOICES_S:
            self.window_combo.addItem(_window_text(seconds), seconds)
        self.window_combo.currentIndexChanged.connect(
            lambda _: self.plot.set_window_s(float(self.window_combo.currentData()))
        )

        bar = QHBoxLayout()
        bar.addWidget(self.record_button)
        bar.addSpacing(8)
        bar.addWidget(self.mark_button)
        bar.addWidget(self.zero_button)
        bar.addWidget(self.calibrate_button)
        bar.addWidget(self.protocol_button)
        bar.addStretch(1)
        bar.addWidget(QLabel("Window"))
        bar.addWidget(self.window_combo)
        bar.addWidget(self.pause_button)
        bar.addWidget(self.mute_button)
        bar.addWidget(self.review_button)
        bar.addWidget(self.settings_button)

        self.plot = LivePlot()
        self.readout = ForceReadout()
        self.readout.target_reached.connect(lambda _s: self.sounder.play(Sound.CHIME))
        self.plan_view = PointPlanView()
        self.plan_view.jump_requested.connect(lambda i: self.jump_to(i, MarkSource.MOUSE))
        self.holds_table = HoldsTable()
        self.alert_log = AlertLog()

        side = QWidget()
        sv = QVBoxLayout(side)
        sv.setContentsMargins(0, 0, 0, 0)
        self.readout.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.plan_view.list.setMinimumHeight(60)
        sv.addWidget(self.readout)
        sv.addWidget(self.plan_view, 1)
        side.setMaximumWidth(460)  # its minimum: what the readout's digits need
        plot_column = QWidget()
        pv = QVBoxLayout(plot_column)
        pv.setContentsMargins(0, 0, 0, 0)
        pv.setSpacing(2)
        pv.addWidget(self.banner)
        pv.addWidget(self.plot, 1)

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(plot_column)
        top.addWidget(side)
        top.setStretchFactor(0, 1)

        holds_box, alerts_box = (
            self._titled("Holds", self.holds_table),
            self._titled("Alerts and events", self.alert_log),
        )
        # under the plot: the holds, or the panel of the protocol that runs
        self.ppt_panel = PptPanel()
        self.guided_panel = GuidedPanel()
        self.bottom_stack = QStackedWidget()
        for page in (holds_box, self.ppt_panel, self.guided_panel):
            self.bottom_stack.addWidget(page)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(self.bottom_stack)
        bottom.addWidget(alerts_box)
        bottom.setStretchFactor(0, 2)
        bottom.setStretchFactor(1, 1)
        bottom.setSizes([900, 380])

        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(top)
        body.addWidget(bottom)
        body.setStretchFactor(0, 3)
        body.setStretchFactor(1, 1)
        body.setSizes([470, 200])

        central = QWidget()
        v = QVBoxLayout(central)
        v.setContentsMargins(10, 8, 10, 8)
        v.setSpacing(8)
        v.addWidget(self.device_bar)
        v.addLayout(bar)
        v.addWidget(body, 1)
        self.drill_view = DrillView()  # the trainee's page: fills the window during a drill
        self.pages = QStackedWidget()
        self.pages.addWidget(central)
        self.pages.addWidget(self.drill_view)
        self._state_before_drill = Qt.WindowState.WindowNoState
        self.setCentralWidget(self.pages)
        self.protocols = LiveProtocols(
            self.plot, self.readout, self.ppt_panel, self.guided_panel, self.drill_view,
            show_bottom=lambda panel: self.bottom_stack.setCurrentWidget(panel or holds_box),
            show_drill=self.show_drill_view,
        )  # fmt: skip
        self.statusBar().setSizeGripEnabled(False)
        self.sync_label = QLabel()  # the school library's last pass: quiet, on the right
        self.sync_label.setObjectName("dim")
        self.sync_label.hide()
        self.statusBar().addPermanentWidget(self.sync_label)

        # keypad keys are taken by an event filter (keypad_key), not QShortcut: on X11 Qt
        # matches a keypad 7 to the plain "7" shortcut (a point jump), never to "Num+7"
        self._keypad: dict[int, Callable[[], object]] = {}
        for keys, _, slot in self.shortcut_table():
            for key in keys:
                if key.startswith("Num+"):
                    combo = QKeySequence(key)[0]  # type: ignore[index]  # (stubs lack [])
                    self._keypad[_key_code(combo.key())] = cast("Callable[[], object]", slot)
                else:
                    QShortcut(QKeySequence(key), self, activated=slot)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self.window_combo.setCurrentIndex(WINDOW_CHOICES_S.index(DEFAULT_WINDOW_S))
        self._set_connected_ui(False)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's
        """A keypad key meant for the pain rating, in this window: taken before Qt's
        shortcuts see it (its ShortcutOverride accepted), acted on when pressed. Every
        event of the application passes here: the others are let through at once."""
        if event.type() not in _KEY_EVENTS:
            return False  # QObject's eventFilter: QMainWindow has none of its own
        if (
            isinstance(event, QKeyEvent)
            and event.modifiers() & Qt.KeyboardModifier.KeypadModifier
            and isinstance(watched, QWidget)
            and watched.window() is self
        ):
            slot = self._keypad.get(_key_code(event.key()))
            if slot is not None:
                event.accept()
                if event.type() == QEvent.Type.KeyPress and not event.isAutoRepeat():
                    slot()
                return True
        return False

    def shortcut_table(self) -> list[tuple[tuple[str, ...], str, object]]:
        """Every key of the live window: (key sequences, what it does, slot). The F1 help
        is written from this table, so it cannot forget one."""
        jumps = tuple(str(n) for n in range(1, 10))
        return [
            (("Space", "PgDown"), "mark / next point (a foot pedal sends PageDown)",
             self.mark_next),
            *[((key,), "", lambda i=int(key) - 1: self.jump_to(i)) for key in jumps],
            (("Ctrl+R",), "record: opens the session dialog (Enter starts); again: stop",
             self.toggle_recording),
            (("Ctrl+0",), "zero the sensor (asks first when it is loaded)", self.tare),
            (("M",), "mute / unmute the sound", self.mute_button.click),
            (("S", "Return"), "the client's signal in a PPT trial (a pedal may send either)",
             self.client_signal),
            *[((f"Num+{d}", f"Num+{off}"), "", lambda d=d: self.rate(d))
              for d, off in enumerate(KEYPAD_NUMLOCK_OFF)],
            (("Num++",), "", lambda: self.step_rating(+1)),
            (("Num+-",), "", lambda: self.step_rating(-1)),
            (("F5",), "PPT round: pre", lambda: self.ppt_round("pre")),
            (("F6",), "PPT round: post", lambda: self.ppt_round("post")),
            (("F7",), "PPT round: off", lambda: self.ppt_round("")),
            (("F8",), "start a drill (the list of drills)", self.choose_drill),
            (("F9",), "start the guided profile (Settings: [profile])", self.start_profile),
            (("F10",), "stop the drill or the profile", self.stop_protocol),
            (("F11",), "the drill view again", lambda: self.show_drill_view(True)),
            (("Esc",), "leave the drill view", lambda: self.show_drill_view(False)),
            (("F1",), "this list", self.show_shortcuts),
        ]  # fmt: skip

    def protocol_button_menu(self) -> QMenu:
        """The Protocol menu (its keys are in the shortcut table, shown here as text)."""
        menu = QMenu(self)
        for label, key, text in (("pre", "F5", "Pre"), ("post", "F6", "Post"), ("", "F7", "Off")):
            menu.addAction(f"PPT round: {text}\t{key}", lambda label=label: self.ppt_round(label))
        menu.addSeparator()
        self.drill_menu = menu.addMenu("Start drill\tF8")
        for name in builtin_drills():
            self.drill_menu.addAction(name, lambda name=name: self.start_drill(name))
        self.drill_menu.addSeparator()
        self.drill_menu.addAction("From a file…", self.start_drill_file)
        menu.addAction("Start guided profile\tF9", self.start_profile)
        menu.addAction("Stop drill / profile\tF10", self.stop_protocol)
        menu.addSeparator()
        menu.addAction("Drill view\tF11", lambda: self.show_drill_view(True))
        return menu

    def shortcut_help(self) -> str:
        """The F1 list (rich text: one row per shortcut)."""
        rows = [
            ("1 – 9", "jump to point 1 … 9 of the plan"),
            ("keypad 0 – 9, + / −", "the client's pain rating (0 – 10; + / − one step)"),
        ]
        rows += [(" / ".join(keys), text) for keys, text, _ in self.shortcut_table() if text]
        rows.sort(key=lambda r: r[0] == "F1")
        cells = "".join(
            f"<tr><td><b>{keys}</b></td><td style='padding-left:16px'>{text}</td></tr>"
            for keys, text in rows
        )
        return f"<table>{cells}</table>"

    def show_shortcuts(self) -> None:
        box = QMessageBox(QMessageBox.Icon.NoIcon, "Keyboard shortcuts", self.shortcut_help(),
                          QMessageBox.StandardButton.Close, self)  # fmt: skip
        box.setObjectName("shortcut_help")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.exec()
        self.activateWindow()

    @staticmethod
    def _titled(title: str, widget: QWidget) -> QFrame:
        frame = QFrame()
        frame.setObjectName("panel")
        v = QVBoxLayout(frame)
        v.setContentsMargins(8, 6, 8, 8)
        label = QLabel(title)
        label.setObjectName("dim")
        v.addWidget(label)
        v.addWidget(widget)
        return frame

    # ------------------------------------------------------------------ config
    @property
    def config(self) -> Config:
        """The settings in force: the live session's while connected (it owns them)."""
        return self.live.config if self.live is not None else self._config

    @property
    def plan(self) -> PointPlan:
        """The point plan in force: the live session's, else the configured one."""
        if self.live is not None:
            return self.live.plan
        return PointPlan(self._config.points, self._config.limits)

    @property
    def units(self) -> DisplayUnits:
        config = self.config
        return DisplayUnits(config.units, config.contact_area_cm2)

    @property
    def current_point(self) -> int | None:
        """The point shown as the one being worked (None: not started)."""
        return self.plan_view.current

    def apply_config(self, config: Config) -> None:
        """New settings (the Settings dialog): the live session takes them and decides when
        each part applies; the window then shows what is in force."""
        if self.live is not None:
            self.live.set_config(config)
        else:
            self._config = config
        self.show_settings()
        self.configure_sync(config.school_url)

    def show_settings(self) -> None:
        """Show the units, limits and plan in force (read again from the session)."""
        units = self.units
        if units != self.holds_table.units:  # the table redraws every row
            for w in (self.plot, self.readout, self.holds_table):
                w.set_units(units)
            self.protocols.set_units(units)
        self._show_plan()

    def _show_plan(self) -> None:
        plan = self.plan
        self.plan_view.set_points(plan.points)
        self.plan_view.set_current(plan.current_index)
        self._show_point_limits()

    def point_levels(self, index: int | None) -> HoldLevels:
        """Warn, max and target window in force at point ``index``, as the pipeline judges
        them (the session's limits for no point)."""
        plan = self.plan
        if index is None or not 0 <= index < len(plan.points):
            return PointPlan((), plan.limits).levels()
        return plan.levels(index)

    def _show_point_limits(self) -> None:
        plan = self.plan
        levels = plan.levels()
        self.plot.set_limits(levels.warn_n, levels.max_n)
        self.readout.set_limits(levels.warn_n, levels.max_n)
        self.plot.set_target(levels.target_n)
        point = plan.current
        self.readout.set_point_target_s(point.target_hold_s if point else None)

    def _hold_target_s(self, point: Point | None) -> float:
        """The hold-timer target of the hold's point: its own ``target_hold_s``, or the
        readout's preset."""
        return (point.target_hold_s if point is not None else None) or self.readout.preset_s

    def _point_name(self, index: int | None) -> str | None:
        points = self.plan.points
        if index is None or not 0 <= index < len(points):
            return None
        return points[index].name

    def _settings_text(self, event: SettingsChanged) -> str:
        """What a settings change did, for the alert log (hold thresholds: those in force)."""
        u, config, limits = self.units, self.config, self.plan.limits
        in_force = self.live.holds_in_force if self.live is not None else config.holds
        thresholds = (f"onset {u.force(in_force.onset_n)}, release {u.force(in_force.release_n)}"
                      f", shortest {in_force.min_duration_s:g} s")  # fmt: skip
        if event.holds_pending:
            new = config.holds
            return (f"settings applied; the hold under way keeps {thresholds}; the next hold: "
                    f"onset {u.force(new.onset_n)}, release {u.force(new.release_n)}, "
                    f"shortest {new.min_duration_s:g} s")  # fmt: skip
        return (f"settings in force: hold {thresholds}; warn {u.force(limits.warn_n)}, "
                f"max {u.force(limits.max_n)}")  # fmt: skip

    # ------------------------------------------------------------------ device
    def connect_device(self, url: str) -> None:
        if self.live is not None:
            self.disconnect_device()
        log.info("connecting to %s", url)
        taps = []
        if self.lsl or self._config.lsl:  # --lsl, or the Settings toggle
            from logger.lsl import LslOutlet  # pylsl only when asked for

            taps.append(LslOutlet())
        self.live = LiveSession(url, self._config, db_path=self.db_path, taps=taps)
        self.trace = None
        self.plot.clear()
        self.holds_table.clear_holds()
        self.banner.clear()
        self.plot.set_alert_tint(False)
        self.readout.reset()
        self.protocols.reset()
        self._offered_calibration = False
        self._show_plan()
        self._set_connected_ui(True)
        self.device_bar.set_status(LinkStatus(state="connecting"))
        self.alert_log.add_entry(0.0, f"connecting to {url}", theme.TEXT_DIM)
        self.live.start()

    def disconnect_device(self) -> None:
        live, self.live = self.live, None
        if live is None:
            return
        self._config = live.config  # what was in force: the next connection starts there
        self._show_plan()
        sid = live.stop()
        if sid:
            self.alert_log.add_entry(live.t_s, f"session {sid} saved", theme.OK)
            self.statusBar().showMessage(f"Session {sid} saved", 10000)
            self.sync_soon()
        self._set_connected_ui(False)
        self.device_bar.set_status(LinkStatus(state="disconnected"))

    def _set_connected_ui(self, connected: bool) -> None:
        self.device_bar.set_connected(connected)
        self.mark_button.setEnabled(connected)
        for b in (self.record_button, self.zero_button, self.calibrate_button):
            b.setEnabled(False)  # until the device has identified itself (see frame)
        if not connected:
            self.record_button.setChecked(False)
            self.record_button.setText(RECORD_TEXT)
            self.readout.reset()

    # ------------------------------------------------------------------ actions
    def mark_next(self) -> None:
        if self.live is None:
            return
        try:
            self.live.mark(MarkSource.KEYBOARD)
        except RuntimeError as exc:
            self.statusBar().showMessage(str(exc), 5000)

    def jump_to(self, index: int, source: MarkSource = MarkSource.KEYBOARD) -> None:
        if self.live is None:
            return
        points = self.plan.points
        if not 0 <= index < len(points):  # e.g. "9" on a 5-point plan: say so
            plan = plural(len(points), "point") if points else "no points"
            self.statusBar().showMessage(f"No point {index + 1}: the plan has {plan}", 5000)
            return
        try:
            self.live.jump(index, source)
        except (RuntimeError, IndexError, ValueError) as exc:
            self.statusBar().showMessage(str(exc), 5000)

    # ------------------------------------------------------------------ protocols
    def _start_protocol(self, kind: ProtocolKind, data: dict) -> None:
        """A protocol starts now; what it shows follows from its event (``_handle``)."""
        if self.live is None:
            self.statusBar().showMessage("Connect a device first", 5000)
            return
        try:
            self.live.start_protocol(kind, data)
        except (RuntimeError, ValueError) as exc:
            self.statusBar().showMessage(f"Cannot start: {exc}", 8000)

    def ppt_round(self, label: str) -> None:
        """A PPT round: "pre", "post", or "" (PPT off)."""
        self._start_protocol(ProtocolKind.ROUND, {"label": label})

    def start_drill(self, name_or_path: str) -> None:
        """A built-in drill by name, or a drill file."""
        try:
            drill = load_drill(name_or_path)
            check_scorable(drill, self.config.holds.onset_n, name_or_path)
        except (ValueError, OSError) as exc:
            self.statusBar().showMessage(str(exc), 10000)
            return
        self._start_protocol(ProtocolKind.DRILL, drill.to_dict())

    def choose_drill(self) -> None:
        self.drill_menu.popup(
            self.protocol_button.mapToGlobal(self.protocol_button.rect().bottomLeft())
        )

    def start_drill_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Start a drill", "", "Drill files (*.toml)")
        self.activateWindow()
        if path:
            self.start_drill(path)

    def start_profile(self) -> None:
        """The guided profile of the settings' [profile] section."""
        profile = Profile.from_config(self.config)
        if profile is None:
            self.statusBar().showMessage(
                "No guided profile: the settings file has no [profile] section", 8000
            )
            return
        self._start_protocol(ProtocolKind.PROFILE, profile.to_dict())

    def stop_protocol(self) -> None:
        """Stop the drill or profile: stored as its kind's event with empty data, so later
        holds are no trials of it (its view closes when the event comes back)."""
        what = self.protocols.running
        if what not in ("drill", "profile"):
            return
        if self.live is None:
            self.protocols.stop()
            return
        self._start_protocol(ProtocolKind.DRILL if what == "drill" else ProtocolKind.PROFILE, {})

    def show_drill_view(self, on: bool) -> None:
        """The drill view fills the screen (a drill must run), or the live page again in
        the window as it was."""
        on = on and self.drill_view.drill is not None
        if on == (self.pages.currentIndex() == 1):
            return
        self.pages.setCurrentIndex(1 if on else 0)
        if on:
            self._state_before_drill = self.windowState()
            self.setWindowState(self._state_before_drill | Qt.WindowState.WindowFullScreen)
        else:
            self.setWindowState(self._state_before_drill & ~Qt.WindowState.WindowFullScreen)

    def client_signal(self) -> None:
        """The client's "now" from the keyboard or a pedal."""
        if self.live is None:
            return
        try:
            self.live.signal(MarkSource.KEYBOARD)
        except RuntimeError as exc:
            self.statusBar().showMessage(str(exc), 5000)

    def rate(self, value: float) -> None:
        """The client's pain rating (0-10), typed on the keypad."""
        if self.live is None:
            return
        try:
            self.live.rate(value, MarkSource.KEYBOARD)
        except (RuntimeError, ValueError) as exc:
            self.statusBar().showMessage(str(exc), 5000)

    def step_rating(self, step: int) -> None:
        """Keypad + / −: the rating one up or down (from 0 before the first), within 0-10."""
        if self.live is None:
            return
        current = self.live.current_rating
        value = min(max(round(current or 0.0) + step, 0), RATING_MAX)
        if current is None or value != current:
            self.rate(value)

    def tare(self) -> None:
        """Zero the sensor; above the hold onset only after the user confirms (default No)."""
        if self.live is None:
            return
        try:
            load_n = self.live.zero_load_n()
            if load_n > self.config.holds.onset_n and not self._confirm_zero(load_n):
                self.statusBar().showMessage("Zero cancelled: the sensor is loaded", 5000)
                return
            removed_n = self.live.tare()
        except RuntimeError as exc:
            self.statusBar().showMessage(f"Cannot zero: {exc}", 5000)
            return
        text = f"zeroed: removed {self.units.force(removed_n)}"
        self.alert_log.add_entry(self.live.t_s, text, theme.TEXT_DIM)
        self.statusBar().showMessage(text[0].upper() + text[1:], 5000)

    def _confirm_zero(self, load_n: float) -> bool:
        """Ask before taking a load as the new zero; Enter / Escape answer No."""
        u = self.units
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Zero under load?",
            f"The sensor reads {u.force(load_n)}, above the hold onset "
            f"({u.force(self.config.holds.onset_n)}).\n\nZero anyway? From now on that load "
            "reads as 0 and a hold under way ends.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            self,
        )
        box.setObjectName("confirm_zero")
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.setEscapeButton(QMessageBox.StandardButton.No)
        box.button(QMessageBox.StandardButton.Yes).setText("Zero anyway")
        yes = box.exec() == QMessageBox.StandardButton.Yes
        self.activateWindow()
        return yes

    def toggle_mute(self) -> None:
        self.sounder.muted = self.mute_button.isChecked()
        self.mute_button.setText("Muted" if self.sounder.muted else "Sound on")

    def toggle_pause(self) -> None:
        paused = self.pause_button.isChecked()
        self.pause_button.setText("Back to live" if paused else "Pause view")
        if paused and self.trace is not None:
            # everything the window still holds (10 min), copied: the trace buffer moves on
            t_s, force = self.trace.window(WINDOW_CHOICES_S[-1])
            self.plot.set_window_s(WINDOW_CHOICES_S[-1])
            self.plot.set_data(t_s.copy(), force.copy())
            self.plot.set_window_s(float(self.window_combo.currentData()))
            t_end = float(t_s[-1]) if t_s.shape[0] else 0.0
            self.plot.view_box.setXRange(t_end - self.plot.window_s, t_end, padding=0.0)
        self.plot.set_paused(paused)

    def toggle_recording(self) -> None:
        self._last_text = 0.0  # the next frame shows the new state
        if self.live is None:
            self.record_button.setChecked(False)
            return
        if self.live.recording_id is not None:
            try:
                sid = self.live.stop_recording()
            except StorageError as exc:
                self.storage_failed(str(exc))
                return
            self.record_button.setChecked(False)
            self.record_button.setText(RECORD_TEXT)
            self.setWindowTitle("pressure-logger")
            if sid:
                self.last_session_id = sid
                self.alert_log.add_entry(self.live.t_s, f"session {sid} saved", theme.OK)
                self.statusBar().showMessage(f"Session {sid} saved", 10000)
                self.sync_soon()
            return
        self.record_button.setChecked(False)
        dialog = SessionDialog(
            self.config.points, self, therapist=self.therapist, clients=self.client_codes()
        )
        accepted = dialog.exec() == QDialog.DialogCode.Accepted
        self.activateWindow()  # the keys are ours again, window manager or not (Ctrl+0, Ctrl+R)
        if not accepted or dialog.details is None:
            return
        self.start_recording(dialog.details)

    def start_recording(self, details) -> str | None:
        """Start a recording with ``details`` (a SessionDetails); returns the session id."""
        if self.live is None:
            return None
        if details.therapist:
            self.therapist = details.therapist
        try:
            sid = self.live.start_recording(
                client=details.client,
                therapist=details.therapist,
                notes=details.notes,
                points=details.points,
            )
        except (RuntimeError, OSError, ValueError) as exc:
            self.statusBar().showMessage(f"Cannot record: {exc}", 10000)
            return None
        self._last_text = 0.0  # the next frame shows the new state
        self._show_plan()  # the same plan keeps the point the therapist is on
        self.record_button.setChecked(True)
        self.record_button.setText(stop_text(0.0))
        self.setWindowTitle(f"pressure-logger — recording {sid}")
        self.alert_log.add_entry(self.live.t_s, f"recording session {sid}", theme.RECORDING)
        return sid

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.config, self.config_path, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.apply_config(dialog.config)

    def library_path(self) -> Path:
        """The session library this window records into."""
        if self.db_path is not None:
            return Path(self.db_path)
        if self.live is not None and self.live.db_path is not None:
            return Path(self.live.db_path)
        from logger.paths import default_db_path

        return default_db_path()

    def client_codes(self) -> list[str]:
        """The library's client codes, most recent first (none if it cannot be read)."""
        from logger.db import open_local

        path = self.library_path()
        if not path.is_file():
            return []
        try:
            with open_local(path) as store:
                return store.clients()
        except (BadInput, OSError) as exc:
            log.warning("cannot read client codes from %s: %s", path, exc)
            return []

    def open_review(self) -> None:
        """The trainer's view of the library, in its own window (recording goes on)."""
        from logger.db import open_local

        from .review import ReviewWindow

        try:
            store = open_local(self.library_path())
        except (BadInput, OSError) as exc:
            self.statusBar().showMessage(f"cannot open the session library: {exc}", 8000)
            return
        self.review_window = ReviewWindow(store)
        if self.sync_worker is not None:  # a column with each session's sync state
            self.review_window.library.set_sync(self.library_path(), self.sync_worker.url)
        show_fitted(self.review_window, 1400, 900)
        if self.last_session_id is not None:
            self.review_window.open_session(self.last_session_id)

    def open_calibration(self) -> None:
        if self.live is None or self.live.device is None:
            self.statusBar().showMessage("Connect a device first", 5000)
            return
        db = self.library_path()
        port = self.live.port
        rig = (lambda mass_kg: place_mass(port, mass_kg)) if port.startswith("sim://") else None
        wizard = CalibrationWizard(
            LiveRawSource(self.live), db_path=db, on_apply=self.apply_calibration, rig=rig,
            parent=self,
        )  # fmt: skip
        self.calibration_wizard = wizard
        wizard.open()  # window-modal; the live view keeps drawing behind it

    def apply_calibration(self, cal) -> None:
        """A calibration from the wizard: used from now on, and kept by the device itself
        when it can (STORE_CAL), so the next connection reports it."""
        live = self.live
        if live is None:
            return
        live.set_calibration(cal)
        self.alert_log.add_entry(live.t_s, f"calibrated; {live.store_on_device(cal)}", theme.OK)

    # ------------------------------------------------------------------ per frame
    def frame(self) -> None:
        """Pull events and the newest samples from the live session and draw them."""
        live = self.live
        if live is None:
            return
        events = live.poll_events()
        for event in events:
            self._handle(event)
        now = time.monotonic()
        # numbers change at most 10 times a second, and at once after an event
        text_due = bool(events) or now - self._last_text >= TEXT_EVERY_S
        if text_due:
            self._last_text = now
        ring = live.ring
        if ring is not None:
            if self.trace is None or self.trace.capacity != ring.capacity:
                self.trace = TraceBuffer(ring.capacity)
            self.trace.sync(ring)
            t_s, force = self.trace.window(self.plot.span_s)
            self.plot.set_data(t_s, force)
            hold = live.current_hold
            holding = hold is not None and hold.is_hold
            self.plot.set_live_hold(hold.start_s if holding else None)
            if text_due:
                self._show_numbers(live, t_s, force, hold)
            if self.protocols.running:
                ramp = ramp_rate_n_per_s(t_s, force, RAMP_WINDOW_S)
                self.protocols.frame(live, self.trace, hold, ramp, text_due)
            if self.banner.kind is not None:
                self.banner.update_state(live.in_excursion(self.banner.kind))
            self.plot.set_alert_tint(self.banner.active)
            self.repeat_alarm()
        if text_due:
            self._show_buttons(live)
        if now - self._last_status >= STATUS_EVERY_S:
            self._last_status = now
            self._show_status(live)
        self.frames += 1

    def _show_numbers(
        self, live: LiveSession, t_s: np.ndarray, force: np.ndarray, hold: HoldState | None
    ) -> None:
        """The readout (force, ramp, the hold in progress) and the link banner."""
        now_force = float(force[-1]) if force.shape[0] else None
        state = str(live.state)
        streaming = state == "streaming"
        self.plot.set_link_banner(LINK_BANNERS.get(state))
        calibrated = live.calibration is None or live.calibration.is_calibrated
        # not streaming (connecting, reconnecting, failed): the last number is not live;
        # a device without calibration has raw counts and no force at all: say so
        self.readout.set_force(
            now_force if streaming and calibrated else None,
            absent="—" if calibrated else "uncalibrated",
        )
        self.readout.set_ramp(ramp_rate_n_per_s(t_s, force, RAMP_WINDOW_S) if streaming else None)
        if hold is not None and hold.is_hold:
            target_s = self._hold_target_s(live.current_hold_point)
            self.readout.set_hold(hold.start_s, hold.elapsed_s, hold.peak_n, hold.mean_n,
                                  target_s=target_s)  # fmt: skip
        else:
            self.readout.set_hold(None)

    def _show_buttons(self, live: LiveSession) -> None:
        """Record's elapsed time, and which actions the device's state allows."""
        recording = live.recording_id is not None
        if recording:
            self.record_button.setText(stop_text(live.recording_elapsed_s))
        ready = live.device is not None and live.calibration is not None
        if ready and not live.calibration.is_calibrated and not self._offered_calibration:
            self._offered_calibration = True  # a fresh board: calibrating comes first
            self.alert_log.add_entry(live.t_s, "device not calibrated: calibrate it", theme.WARN)
            self.open_calibration()
        self.record_button.setEnabled(ready or recording)
        self.zero_button.setEnabled(ready or recording)
        # a new calibration mid-recording would change the scale within one session
        self.calibrate_button.setEnabled(ready and not recording)
        self.calibrate_button.setToolTip("Stop the recording to calibrate" if recording else "")

    def _show_status(self, live: LiveSession, state: str | None = None, detail: str = "") -> None:
        """Link status; ``state`` from a StateChange event wins over the current state, so a
        brief "reconnecting" is shown for at least one status period."""
        c = live.counters
        error = live.error
        self._shown_state = state or str(live.state)
        self.device_bar.set_status(
            LinkStatus(
                state=self._shown_state,
                device=live.device,
                lost_samples=c.lost_samples,
                crc_errors=c.crc_errors,
                reconnects=c.reconnects,
                drift_ppm=c.drift_ppm,
                detail=detail or (str(error) if error else ""),
            )
        )

    def _handle(self, event: object) -> None:
        live = self.live
        assert live is not None
        if isinstance(event, Alert):
            self._on_alert(event)
        elif isinstance(event, Mark):
            self._show_plan()  # an empty plan grows "Point N" per mark
            name = self._point_name(event.point_index) or "mark"
            self.plot.add_mark(event.t_s, name)
            self.alert_log.add_entry(event.t_s, f"{name} ({event.source})", theme.TEXT_DIM)
        elif isinstance(event, Hold):
            self.holds_table.add_hold(event)
            self.plot.add_hold(event.start_s, event.end_s)
            self.protocols.on_hold(live, event, self.trace)
        elif isinstance(event, Signal | Rating | ProtocolEvent):
            if isinstance(event, Signal):
                self.plot.add_mark(event.t_s, "signal")
            try:
                text = self.protocols.on_event(live, event)
            except ValueError as exc:  # a protocol this window cannot show
                text = f"protocol not shown: {exc}"
            if text:
                self.alert_log.add_entry(event.t_s, text, theme.TEXT_DIM)
        elif isinstance(event, Gap):
            self.plot.add_gap(event.start_s, event.end_s)
            self.alert_log.add_entry(
                event.start_s,
                f"gap {event.end_s - event.start_s:.2f} s, "
                f"{plural(event.lost_samples, 'sample')} lost ({event.cause})",
                theme.WARN,
            )
        elif isinstance(event, StateChange):
            self._show_status(live, str(event.state), event.detail)
            self._last_status = time.monotonic()
            if str(event.state) == "failed":  # offer Connect again; the error stays shown
                self._set_connected_ui(False)
                self.alert_log.add_entry(live.t_s, f"link failed: {event.detail}", theme.MAX)
                return
            self.alert_log.add_entry(live.t_s, f"link {event.state}", theme.TEXT_DIM)
        elif isinstance(event, DeviceNotice):
            self.alert_log.add_entry(event.t_s, event.text, theme.TEXT_DIM)
        elif isinstance(event, RecordingStarted):  # the table: the recording's holds
            self.holds_table.clear_holds()
            for hold in event.holds:
                self.holds_table.add_hold(hold)
        elif isinstance(event, SettingsChanged):
            self.show_settings()
            self.protocols.config_changed(live)
            self.alert_log.add_entry(event.t_s, self._settings_text(event), theme.TEXT_DIM)
        elif isinstance(event, StorageFailed):
            self.storage_failed(event.text)
        elif isinstance(event, DriftWarning):
            self.alert_log.add_entry(event.t_s, event.message(self.units.force), theme.WARN)

    def storage_failed(self, text: str) -> None:
        """The library stopped taking the recording (disk full, deleted, read-only): stop
        it and say so in a window-modal dialog that stays until acknowledged."""
        live = self.live
        if live is not None and live.recording_id is not None:
            try:
                live.stop_recording()
            except StorageError as exc:
                text = str(exc)  # the final word: what was kept, what was not
        self.record_button.setChecked(False)
        self.record_button.setText(RECORD_TEXT)
        self.setWindowTitle("pressure-logger")
        t_s = live.t_s if live is not None else 0.0
        self.alert_log.add_entry(t_s, f"recording stopped: {text}", theme.MAX)
        self.storage_dialog = QMessageBox(
            QMessageBox.Icon.Critical,
            "Recording stopped",
            "The session library could not be written, so the recording was stopped.",
            QMessageBox.StandardButton.Ok,
            self,
        )
        self.storage_dialog.setInformativeText(text)
        self.storage_dialog.open()  # window-modal: nothing else until it is acknowledged

    def _on_alert(self, alert: Alert) -> None:
        kind = AlertKind(alert.kind)
        levels = self.point_levels(alert.point_index)
        shown_level = {
            AlertKind.WARN: levels.warn_n,
            AlertKind.MAX: levels.max_n,
            AlertKind.HOLD_DURATION: self.config.limits.max_hold_s,
        }[kind]
        text = describe(alert, self.units, self._point_name(alert.point_index), shown_level)
        self.banner.show_alert(alert, text)
        self.plot.set_alert_tint(True)
        self._sound_alarm()
        color = theme.WARN if kind == AlertKind.WARN else theme.MAX
        self.alert_log.add_entry(alert.t_s, text, color)

    def _sound_alarm(self) -> None:
        self.sounder.play(Sound.ALARM)
        self._last_alarm = time.monotonic()

    def repeat_alarm(self) -> None:
        """Sound the alarm again every ``alarm_repeat_s`` while the banner is up: the
        logger's excursion that raised it is still open (force not yet re-armed below the
        level, or the too-long hold goes on), until it ends or the user mutes."""
        if self.banner.kind is None or self.sounder.muted:
            return
        if time.monotonic() - self._last_alarm >= self.alarm_repeat_s:
            self._sound_alarm()

    # ------------------------------------------------------------------ school sync
    def configure_sync(self, url: str | None) -> None:
        """Background sync to ``url`` (the configuration's ``school_url``; None: none). A
        new URL replaces the worker: the old one ends after the session it is sending."""
        worker = self.sync_worker
        if worker is not None and worker.url == url:
            return
        if worker is not None:
            self.sync_worker = None
            worker.stop(timeout_s=0.0)  # not waited for: it ends after its session
        if not url:
            self.sync_timer.stop()
            self.sync_label.hide()
            return
        from .sync_worker import SyncWorker

        kwargs = {} if self.sync_every_s is None else {"every_s": self.sync_every_s}
        self.sync_worker = SyncWorker(self.library_path(), url, **kwargs)
        self._show_sync_text("School library: connecting…", describe_library(url))
        self.sync_worker.start()
        self.sync_timer.start()

    def sync_soon(self) -> None:
        """A recording ended: a sync pass now (the worker's thread; nothing waits for it)."""
        if self.sync_worker is not None:
            self.sync_worker.request()

    def show_sync(self) -> None:
        """The background sync's news, into the status bar (the sync timer)."""
        worker = self.sync_worker
        if worker is None:
            return
        results = worker.poll()
        if not results:
            since = worker.busy_since
            sending = since is not None and time.monotonic() - since >= SYNC_BUSY_SHOWN_S
            if sending and not self.sync_label.text().endswith("syncing…"):
                self._show_sync_text("School library: syncing…", describe_library(worker.url))
            return
        last = results[-1]
        now = time.time()
        if last.ok:
            when = time.strftime("%H:%M", time.localtime(now))
        else:  # tried again at the next pass
            when = "next try " + time.strftime("%H:%M", time.localtime(now + worker.every_s))
        detail = f" ({last.detail})" if last.detail else ""
        tip = f"{describe_library(worker.url)}: {last.text}{detail}"
        warn = not last.ok and not last.unreachable  # refused, not verified: needs someone
        self._show_sync_text(f"School library: {last.text} · {when}", tip, warn=warn)
        review = self.review_window
        if any(r.sent for r in results) and review is not None and review.isVisible():
            review.library.refresh_sync()

    def _show_sync_text(self, text: str, tip: str, *, warn: bool = False) -> None:
        self.sync_label.setText(text)
        self.sync_label.setToolTip(tip)
        self.sync_label.setStyleSheet(f"color: {theme.WARN};" if warn else "")
        self.sync_label.show()

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.timer.stop()
        self.disconnect_device()
        self.sounder.close()
        self.sync_timer.stop()
        worker, self.sync_worker = self.sync_worker, None
        if worker is not None and not worker.stop():  # a pass ends before its next session
            log.warning("school sync: the session being sent is abandoned (the server keeps "
                        "nothing of it; it goes at the next start)")  # fmt: skip
        super().closeEvent(event)
