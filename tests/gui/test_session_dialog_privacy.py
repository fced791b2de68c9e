"""The record dialog keeps clients pseudonymous by default."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QDialog

from gui.dialogs.session_dialog import SessionDialog
from logger.records import Point

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]


@pytest.fixture
def dialog(qtbot):
    d = SessionDialog([Point(0, "A")], therapist="T. Rainee", clients=["C-0041", "C-0007"])
    qtbot.addWidget(d)
    return d


def accepted(d: SessionDialog) -> bool:
    return d.result() == QDialog.DialogCode.Accepted and d.details is not None


def test_proposes_the_next_free_code_and_lists_recent_ones(dialog):
    assert dialog.client_edit.text() == "C-0042"
    items = [dialog.client_box.itemText(i) for i in range(dialog.client_box.count())]
    assert items == ["C-0042", "C-0041", "C-0007"]
    dialog.accept()
    assert accepted(dialog) and dialog.details.client == "C-0042"


def test_a_recent_code_can_be_picked(dialog):
    dialog.client_box.setCurrentIndex(2)
    dialog.accept()
    assert accepted(dialog) and dialog.details.client == "C-0007"


@pytest.mark.parametrize("text", ["Jane Smith", "jane@example.org", "12.03.1980"])
def test_an_identifying_value_needs_an_explicit_confirmation(dialog, text):
    dialog.client_edit.setText(text)
    dialog.accept()
    assert not accepted(dialog)
    assert repr(text) in dialog.error_label.text() and "C-0042" in dialog.error_label.text()
    assert dialog.not_a_name.isVisibleTo(dialog)
    dialog.not_a_name.setChecked(True)
    dialog.accept()
    assert accepted(dialog) and dialog.details.client == text


def test_a_changed_value_needs_its_own_confirmation(dialog):
    dialog.client_edit.setText("Jane Smith")
    dialog.accept()
    dialog.not_a_name.setChecked(True)
    dialog.client_edit.setText("John Doe")
    assert not dialog.not_a_name.isChecked()
    dialog.accept()
    assert not accepted(dialog) and "'John Doe'" in dialog.error_label.text()


def test_empty_client_or_therapist_only_as_explicit_anonymous(dialog):
    dialog.client_edit.setText("")
    dialog.accept()
    assert not accepted(dialog) and "anonymous" in dialog.error_label.text()
    dialog.client_anonymous.setChecked(True)
    assert not dialog.client_box.isEnabled()
    dialog.therapist_edit.setText(" ")
    dialog.accept()
    assert not accepted(dialog) and "Therapist" in dialog.error_label.text()
    dialog.therapist_anonymous.setChecked(True)
    dialog.accept()
    assert accepted(dialog)
    assert dialog.details.client is None and dialog.details.therapist is None


def test_anonymous_wins_over_a_typed_value(dialog):
    dialog.client_edit.setText("Jane Smith")  # typed, then the box ticked instead
    dialog.client_anonymous.setChecked(True)
    dialog.accept()
    assert accepted(dialog) and dialog.details.client is None
