"""A freshly flashed board in the app: the readout says "uncalibrated" (never a number),
the calibration wizard is offered at once, and its result is used and written into the
device's memory (STORE_CAL). Real widgets offscreen on the simulator (``erased=1``)."""

from __future__ import annotations

import uuid

import pytest

from firmware_protocol.sim.protocol_sim import registered_device
from gui.main_window import MainWindow
from gui.sound import Sounder
from logger.config import Config
from tests.gui.conftest import hold, rest, scenario

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]

WAIT_MS = 20_000


def test_fresh_board_reads_uncalibrated_and_the_wizard_is_offered(qtbot, tmp_path, db_path):
    from calibration.models import Calibration

    win = MainWindow(Config(), config_path=tmp_path / "c.toml", db_path=db_path, sounder=Sounder())
    qtbot.addWidget(win)
    win.show()
    path = scenario(tmp_path, rest(0.5) + hold(20.0, 2.0) + rest(30.0))
    url = f"sim://fresh-{uuid.uuid4().hex[:6]}?scenario={path}&speed=1&erased=1"
    win.connect_device(url)
    qtbot.waitUntil(lambda: win.calibration_wizard is not None, timeout=WAIT_MS)
    assert win.calibration_wizard.isVisible()  # offered at once, without asking
    qtbot.waitUntil(lambda: win.live.ring is not None and win.live.ring.written > 100,
                    timeout=WAIT_MS)  # fmt: skip
    win.frame()
    assert win.readout.force_label.text() == "uncalibrated"
    assert win.readout.unit_label.text() == ""  # a word, not a number of newtons
    assert win.record_button.isEnabled()  # raw counts can still be recorded
    win.calibration_wizard.reject()
    # the wizard's result: used from now on and sent to the device's memory
    win.apply_calibration(Calibration.factory(4000.0, 120000).with_source("stored:1"))
    qtbot.waitUntil(lambda: win.readout.force_label.text() not in ("uncalibrated", "—"),
                    timeout=WAIT_MS)  # fmt: skip
    assert win.readout.unit_label.text() == "N"
    sim = registered_device(url)  # the simulated board behind the port
    assert sim is not None
    qtbot.waitUntil(lambda: sim.cal_counts_per_n == 4000.0, timeout=WAIT_MS)
    win.close()


def test_review_and_report_say_a_session_is_uncalibrated():
    from calibration.models import UNCALIBRATED
    from gui.format import calibration_source

    assert calibration_source(UNCALIBRATED, None).startswith("UNCALIBRATED: raw counts only")
