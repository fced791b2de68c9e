"""Dialogs of the live window: bad input is refused in place, good input is used and saved."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QDialog, QPushButton

from calibration.models import STANDARD_GRAVITY
from gui.dialogs import calibration_wizard as wizard_module
from gui.dialogs.calibration_wizard import CalibrationWizard
from gui.dialogs.session_dialog import SessionDialog, parse_plan
from gui.dialogs.settings_dialog import SettingsDialog
from logger.config import Config, load_config
from logger.records import Point
from logger.store import CalibrationStore

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]


# ------------------------------------------------------------------ session dialog
def test_session_dialog_refuses_empty_plan_entries_in_place(qtbot):
    dialog = SessionDialog([Point(0, "A", warn_n=30.0, max_n=45.0)])
    qtbot.addWidget(dialog)
    dialog.plan_edit.setPlainText("A\n\nB")
    dialog.accept()
    assert dialog.result() != QDialog.DialogCode.Accepted and dialog.details is None
    assert "line 2 is empty" in dialog.error_label.text()


def test_session_dialog_keeps_config_overrides_and_trims(qtbot):
    dialog = SessionDialog([Point(0, "A", warn_n=30.0, max_n=45.0)], therapist="T. Rainee")
    qtbot.addWidget(dialog)
    dialog.client_edit.setText("  C-017 ")
    dialog.plan_edit.setPlainText("\nB\nA\n\n")
    dialog.accept()
    assert dialog.result() == QDialog.DialogCode.Accepted
    d = dialog.details
    assert d is not None and d.client == "C-017" and d.therapist == "T. Rainee" and d.notes is None
    assert [(p.index, p.name, p.warn_n) for p in d.points] == [(0, "B", None), (1, "A", 30.0)]


def test_parse_plan_allows_an_empty_plan():
    assert parse_plan("  \n", []) == []


# ------------------------------------------------------------------ settings dialog
@pytest.fixture
def settings(qtbot, tmp_path):
    config = Config(points=[Point(0, "Upper trapezius L", target_n=(25.0, 35.0))])
    dialog = SettingsDialog(config, tmp_path / "config.toml")
    qtbot.addWidget(dialog)
    return dialog


@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        ("warn_edit", "forty", "warn limit: 'forty' is not a number"),
        ("max_edit", "30", "max limit 30 N must be above the warn limit 40 N"),
        ("area_edit", "-1", "contact_area_cm2"),
        ("onset_edit", "", "hold onset: a number is required"),
        ("release_edit", "9", "holds.release_n"),
        ("ppt_trials_edit", "2.5", "PPT trials per point: '2.5' is not a whole number"),
        ("ppt_rate_edit", "fast", "PPT target rate: 'fast' is not a number"),
        ("ppt_tolerance_edit", "0", "ppt.tolerance_pct"),
    ],
)
def test_settings_refuse_bad_fields_in_place(settings, field, text, message):
    getattr(settings, field).setText(text)
    settings.accept()
    assert settings.result() != QDialog.DialogCode.Accepted
    assert message in settings.error_label.text()
    assert not settings.config_path.exists()  # nothing written
    if field in ("warn_edit", "max_edit", "onset_edit"):
        assert "border" in getattr(settings, field).styleSheet()  # the field is outlined


def test_settings_refuse_empty_point_entries(settings):
    settings._add_row(["", None, None, None, None, None])
    settings.accept()
    assert "point 2: empty entry" in settings.error_label.text()
    assert not settings.config_path.exists()


def test_settings_refuse_point_max_below_warn(settings):
    settings._add_row(["Neck", 50.0, 45.0, None, None, None])
    settings.accept()
    assert "points[1]" in settings.error_label.text()


def test_settings_save_the_config_file(settings):
    settings.units_combo.setCurrentText("kgf")
    settings.area_edit.setText("1,0")  # a decimal comma is accepted
    settings.warn_edit.setText("3.5")  # typed in the display unit, kgf
    settings.max_edit.setText("5")
    settings._add_row(["Levator scapulae L", None, 45.0, None, None, "7"])
    settings.accept()
    assert settings.result() == QDialog.DialogCode.Accepted, settings.error_label.text()
    saved = load_config(settings.config_path)
    assert saved == settings.config
    assert saved.units == "kgf" and saved.contact_area_cm2 == 1.0
    assert saved.limits.warn_n == pytest.approx(3.5 * STANDARD_GRAVITY)  # stored in N
    assert saved.limits.max_n == pytest.approx(5.0 * STANDARD_GRAVITY)
    assert saved.points[0].target_n == (25.0, 35.0)  # untouched: exactly as it was
    assert saved.points[1].max_n == 45.0 and saved.points[1].target_hold_s == 7.0


def test_settings_show_forces_in_the_chosen_unit(settings):
    """Units apply at once to every force field and its label; storage stays in N."""
    assert settings.warn_edit.text() == "40" and "Warn (N)" in labels(settings)
    settings.units_combo.setCurrentText("kgf")
    assert settings.warn_edit.text() == f"{40.0 / STANDARD_GRAVITY:.6g}"
    assert {"Onset (kgf)", "Release (kgf)", "Warn (kgf)", "Max (kgf)"} <= labels(settings)
    header = settings.points_table.horizontalHeaderItem(3).text()
    assert header == "target low kgf"
    assert settings.points_table.item(0, 3).text() == f"{25.0 / STANDARD_GRAVITY:.6g}"
    settings.max_edit.setText("3")  # below warn (4.08 kgf): refused in kgf
    settings.accept()
    assert "max limit 3 kgf must be above the warn limit 4.07886 kgf" in (
        settings.error_label.text()
    )
    settings.max_edit.setText("7")
    settings.units_combo.setCurrentText("N")  # back: the typed 7 kgf follows, in N
    assert settings.max_edit.text() == f"{7 * STANDARD_GRAVITY:.6g}"
    settings.accept()
    assert settings.config.limits.warn_n == 40.0  # never typed: kept to the bit
    assert settings.config.limits.max_n == pytest.approx(7 * STANDARD_GRAVITY)


def labels(dialog) -> set[str]:
    from PySide6.QtWidgets import QLabel

    return {label.text() for label in dialog.findChildren(QLabel)}


# ------------------------------------------------------------------ calibration wizard
class PlateauSource:
    """A sensor under a stack of masses: counts = offset + gain · m · g + noise.

    Each ``read_new`` returns the next 0.2 s of samples at 1 kHz for the mass on it.
    """

    rate_hz = 1000.0
    uid = "SIM-CAL-0001"

    def __init__(self, counts_per_n: float = 4000.0, offset_counts: float = 120000.0) -> None:
        self.counts_per_n, self.offset_counts = counts_per_n, offset_counts
        self.mass_kg = 0.0
        self.t_s = 0.0
        self.rng = np.random.default_rng(3)

    def read_new(self) -> tuple[np.ndarray, np.ndarray]:
        t = self.t_s + np.arange(200) / self.rate_hz
        self.t_s = float(t[-1]) + 1.0 / self.rate_hz
        counts = self.offset_counts + self.counts_per_n * self.mass_kg * STANDARD_GRAVITY
        return t, counts + self.rng.normal(0.0, 40.0, t.shape[0])


def test_wizard_refuses_bad_masses_in_place(qtbot):
    wizard = CalibrationWizard(PlateauSource(), db_path=None)
    qtbot.addWidget(wizard)
    for text in ("0, 1, 1", "0, heavy", "0", "0.5, 1, 2", "0, 1, 0.5"):
        wizard.masses_edit.setText(text)
        wizard.start_readings()
        assert wizard.pages.currentIndex() == 0
        assert wizard.masses_error.text()
    wizard.masses_edit.setText("0, 0.5, 1")
    wizard.start_readings()
    assert wizard.pages.currentIndex() == 1 and wizard.masses_kg == [0.0, 0.5, 1.0]


def test_wizard_fits_saves_and_applies(qtbot, db_path):
    source = PlateauSource()
    applied = []
    wizard = CalibrationWizard(source, db_path=db_path, on_apply=applied.append)
    qtbot.addWidget(wizard)
    wizard.masses_edit.setText("0, 0.5, 2")
    wizard.start_readings()
    assert wizard.pages.currentIndex() == 1
    for mass in (0.0, 0.5, 2.0):
        source.mass_kg = mass
        for _ in range(30):  # 6 s of samples: noise estimate, then a settled window
            wizard.poll()
            if wizard.accept_button.isEnabled():
                break
        assert wizard.accept_button.isEnabled(), f"{mass} kg never settled"
        assert wizard.settle_bar.value() == 100
        wizard.accept_reading()
    assert wizard.pages.currentIndex() == 2
    assert wizard.result_table.rowCount() == 3
    assert wizard.fit is not None
    assert wizard.fit.calibration.counts_per_n == pytest.approx(4000.0, rel=1e-3)
    wizard.save()
    assert wizard.saved is not None
    assert applied and applied[0].source == f"stored:{wizard.saved}"
    stored = CalibrationStore(db_path).latest(PlateauSource.uid)
    assert stored is not None and stored.counts_per_n == pytest.approx(4000.0, rel=1e-3)


def test_wizard_will_not_save_a_fit_that_cannot_be_a_calibration(qtbot, db_path):
    """The weights on the sensor were not the ones listed (1 kg where 0.5 was typed)."""
    source = PlateauSource()
    wizard = CalibrationWizard(source, db_path=db_path)
    qtbot.addWidget(wizard)
    wizard.masses_edit.setText("0, 0.5, 1, 2")
    wizard.start_readings()
    for actual in (0.0, 1.0, 1.5, 2.0):
        source.mass_kg = actual
        for _ in range(30):
            wizard.poll()
            if wizard.accept_button.isEnabled():
                break
        wizard.accept_reading()
    assert wizard.pages.currentIndex() == 2 and wizard.fit is not None
    assert wizard.result_error.text().startswith("not saved")
    assert not wizard.save_button.isEnabled()
    wizard.save()
    assert wizard.saved is None and CalibrationStore(db_path).latest(PlateauSource.uid) is None


def test_wizard_refuses_a_reading_unchanged_since_the_previous_mass_and_can_redo(qtbot):
    """The same rules as `calibrate`: the wizard drives calibration.procedure."""
    source = PlateauSource()
    wizard = CalibrationWizard(source, db_path=None)
    qtbot.addWidget(wizard)
    wizard.masses_edit.setText("0, 0.5, 1")
    wizard.start_readings()

    def settle() -> None:
        for _ in range(30):
            wizard.poll()
            if wizard.accept_button.isEnabled():
                return
        raise AssertionError("never settled")

    settle()
    wizard.accept_reading()  # 0 kg
    for _ in range(30):  # …but nobody placed the 0.5 kg: Accept stays off, and says why
        wizard.poll()
    assert not wizard.accept_button.isEnabled()
    assert "unchanged since the previous mass" in wizard.settle_label.text()
    wizard.accept_reading()  # Enter pressed anyway: refused, naming the mass
    assert "unchanged since 0 kg" in wizard.settle_label.text()
    assert len(wizard.procedure.accepted) == 1
    source.mass_kg = 0.5
    settle()
    wizard.accept_reading()
    assert len(wizard.procedure.accepted) == 2
    wizard.redo_previous()  # take the 0.5 kg reading back
    assert [p.mass_kg for p in wizard.procedure.accepted] == [0.0]
    assert wizard.step_label.text().startswith("Mass 2 of 3")


def test_every_wizard_page_has_cancel(qtbot):
    wizard = CalibrationWizard(PlateauSource(), db_path=None)
    qtbot.addWidget(wizard)
    for page in range(wizard.pages.count()):
        buttons = [b.text() for b in wizard.pages.widget(page).findChildren(QPushButton)]
        assert "Cancel" in buttons, (page, buttons)
    wizard.show()
    wizard.start_readings()
    cancel = next(
        b for b in wizard.pages.currentWidget().findChildren(QPushButton) if b.text() == "Cancel"
    )
    cancel.click()
    assert wizard.result() == QDialog.DialogCode.Rejected and not wizard.timer.isActive()


class SilentSource(PlateauSource):
    def read_new(self) -> tuple[np.ndarray, np.ndarray]:
        return np.empty(0), np.empty(0)


def test_wizard_gives_up_on_a_silent_device_and_can_try_again(qtbot, monkeypatch):
    monkeypatch.setattr(wizard_module, "NO_SAMPLES_S", 0.05)
    wizard = CalibrationWizard(SilentSource(), db_path=None)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.start_readings()
    qtbot.waitUntil(wizard.retry_button.isVisible, timeout=5000)
    assert wizard.settle_label.text().startswith("No samples from the device for")
    assert not wizard.timer.isActive() and not wizard.accept_button.isEnabled()
    wizard.retry_button.click()
    assert wizard.timer.isActive() and not wizard.retry_button.isVisible()


def test_wizard_gives_up_on_a_load_that_never_settles(qtbot, monkeypatch):
    monkeypatch.setattr(wizard_module, "SETTLE_TIMEOUT_S", 0.0)
    wizard = CalibrationWizard(PlateauSource(), db_path=None)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.start_readings()
    wizard.poll()
    assert wizard.retry_button.isVisible()
    assert "has not settled in 0 s" in wizard.settle_label.text()


def test_with_a_rig_the_wizard_is_completed_by_clicking_only(qtbot, db_path):
    source = PlateauSource()
    placed: list[float] = []

    def rig(mass_kg: float) -> None:
        placed.append(mass_kg)
        source.mass_kg = mass_kg

    wizard = CalibrationWizard(source, db_path=db_path, rig=rig)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.masses_edit.setText("0, 0.5, 1, 2")
    start = next(b for b in wizard.findChildren(QPushButton) if b.text() == "Start")
    start.click()
    for _ in range(4):
        qtbot.waitUntil(wizard.accept_button.isEnabled, timeout=20_000)
        wizard.accept_button.click()
    assert placed == [0.0, 0.5, 1.0, 2.0]
    assert wizard.pages.currentIndex() == 2 and wizard.save_button.isEnabled()
    wizard.save_button.click()
    assert wizard.result() == QDialog.DialogCode.Accepted and wizard.saved is not None


@pytest.mark.slow
def test_the_simulated_rig_calibrates_a_live_simulator_by_clicking(qtbot, db_path):
    """The real path: the calibration scenario on sim://, the simulator's rig placing each
    mass when the wizard asks, the fit within 0.5 % of the sensor's true 4000 counts/N."""
    import uuid

    from firmware_protocol.sim.protocol_sim import place_mass
    from gui.dialogs.calibration_wizard import LiveRawSource
    from logger.live import LiveSession

    # at twice real time: the readings settle in device time (the samples), not by the clock
    url = f"sim://rig-{uuid.uuid4().hex[:6]}?scenario=calibration&loop=1&speed=2"
    live = LiveSession(url, Config(), db_path=db_path)
    live.start()
    try:
        qtbot.waitUntil(lambda: live.device is not None and live.ring is not None, timeout=20_000)
        wizard = CalibrationWizard(
            LiveRawSource(live), db_path=db_path, rig=lambda m: place_mass(url, m)
        )
        qtbot.addWidget(wizard)
        wizard.show()
        wizard.masses_edit.setText("0, 0.5, 1, 2")
        wizard.start_readings()
        for _ in range(4):
            qtbot.waitUntil(wizard.accept_button.isEnabled, timeout=30_000)
            wizard.accept_button.click()
        assert wizard.fit is not None
        assert wizard.fit.calibration.counts_per_n == pytest.approx(4000.0, rel=5e-3)
        wizard.save_button.click()
        assert wizard.saved is not None
    finally:
        live.stop()


def test_the_lsl_toggle_is_kept_by_the_file_and_not_by_a_session(settings):
    """Settings → LSL: written to the configuration file, read back on; a session's recorded
    configuration never carries it (it is the station's, like the school library)."""
    from logger.config import load_config

    assert not settings.lsl_check.isChecked()
    settings.lsl_check.setChecked(True)
    settings.accept()
    assert settings.result() == QDialog.DialogCode.Accepted
    saved = load_config(settings.config_path)
    assert saved.lsl is True and "lsl" not in saved.to_dict()
    assert SettingsDialog(saved, settings.config_path).lsl_check.isChecked()


def test_settings_keep_the_guided_profile_and_edit_the_ppt_table(qtbot, tmp_path):
    """Saving Settings must not drop what the file says about PPT or the guided profile;
    the PPT fields are edited in place, a rate in N/s from the file is kept until the kPa/s
    field is changed."""
    from logger.config import PptConfig, Profile

    path = tmp_path / "config.toml"
    profile = Profile(kind="impulses", force_n=25.0, impulse_s=1.5, interval_s=4.0, repeats=6)
    config = Config(ppt=PptConfig(rate_n_per_s=3.0, trials=4, drop_first=True), profile=profile)
    dialog = SettingsDialog(config, path)
    qtbot.addWidget(dialog)
    assert dialog.ppt_trials_edit.text() == "4" and dialog.ppt_drop_first.isChecked()
    dialog.accept()
    assert dialog.result() == QDialog.DialogCode.Accepted, dialog.error_label.text()
    saved = load_config(path)
    assert saved.profile == profile and saved.ppt == config.ppt
    # edited: the kPa/s field now rules, the rest as typed
    dialog = SettingsDialog(saved, path)
    qtbot.addWidget(dialog)
    dialog.ppt_rate_edit.setText("30")
    dialog.ppt_tolerance_edit.setText("15")
    dialog.ppt_exclude.setChecked(False)
    dialog.accept()
    assert dialog.result() == QDialog.DialogCode.Accepted, dialog.error_label.text()
    saved = load_config(path)
    assert saved.ppt == PptConfig(rate_kpa_per_s=30.0, tolerance_pct=15.0, trials=4,
                                  drop_first=True, exclude_stray=False)  # fmt: skip
    assert saved.profile == profile
