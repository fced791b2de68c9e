"""Start-of-recording dialog: client pseudonym, therapist/trainee, notes, the point plan.

Pseudonyms by default: the client field proposes the next free client code (``C-0042``)
and lists the recent ones; a value that looks like a person (a name, an e-mail address, a
date of birth: :func:`logger.privacy.identifying_reasons`) is kept only after the
"not a real name" box is ticked; an empty client or therapist is accepted only with its
"anonymous" box ticked.

The plan comes from the configuration (per-point limits and targets kept) or is typed,
one point per line. Empty entries between points are refused in place with a message;
the dialog never raises.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from logger.privacy import ANONYMOUS, identifying_reasons, next_client_code
from logger.records import Point

RECENT_CLIENTS = 12  # recent client codes offered in the list


@dataclass(slots=True)
class SessionDetails:
    client: str | None
    therapist: str | None
    notes: str | None
    points: list[Point] = field(default_factory=list)


def parse_plan(text: str, known: list[Point]) -> list[Point]:
    """One point per line → points; a name found in ``known`` keeps its overrides.

    Leading and trailing blank lines are ignored; a blank line between points is refused
    (ValueError naming the line), because it is almost always a point that was forgotten.
    """
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    by_name = {p.name: p for p in known}
    points = []
    for number, name in enumerate(lines, start=1):
        if not name:
            raise ValueError(f"point plan line {number} is empty: type a point name or remove it")
        base = by_name.get(name)
        point = dataclasses.replace(base) if base else Point(index=0, name=name)
        point.index = len(points)
        points.append(point)
    return points


def _with_anonymous(field_widget: QWidget, box: QCheckBox) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(field_widget, 1)
    layout.addWidget(box)
    box.toggled.connect(lambda on: field_widget.setEnabled(not on))
    return row


class SessionDialog(QDialog):
    """Asks for the session's details; ``details`` is set when accepted.

    ``clients``: the library's client codes, most recent first (offered in the list and
    used to propose the next free code).
    """

    def __init__(
        self,
        config_points: list[Point],
        parent: QWidget | None = None,
        *,
        therapist: str = "",
        clients: Sequence[str] = (),
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Start recording")
        self.setMinimumWidth(560)
        self.config_points = list(config_points)
        self.details: SessionDetails | None = None
        self.proposed_code = next_client_code(clients)
        self.client_box = QComboBox()
        self.client_box.setEditable(True)
        self.client_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.client_box.addItem(f"{self.proposed_code}")
        self.client_box.addItems(list(clients)[:RECENT_CLIENTS])
        self.client_box.setToolTip("the next free code first, then the recent ones")
        self.client_edit = self.client_box.lineEdit()
        self.client_edit.setText(self.proposed_code)
        self.client_anonymous = QCheckBox(ANONYMOUS)
        self.client_anonymous.setToolTip("record without any client code")
        self.client_hint = QLabel(
            "A code, not a name: the library holds health data. The next free code is "
            "proposed; recent ones are in the list."
        )
        self.client_hint.setWordWrap(True)
        self.client_hint.setObjectName("hint")
        self.not_a_name = QCheckBox("Keep it: a pseudonym, not a name")
        self.not_a_name.setVisible(False)
        self.client_edit.textChanged.connect(lambda _t: self._client_changed())
        self.therapist_edit = QLineEdit(therapist)
        self.therapist_edit.setPlaceholderText("therapist or trainee")
        self.therapist_anonymous = QCheckBox(ANONYMOUS)
        self.therapist_anonymous.setToolTip("record without a therapist")
        self.notes_edit = QPlainTextEdit()
        self.notes_edit.setFixedHeight(70)
        self.plan_edit = QPlainTextEdit()
        self.plan_edit.setPlaceholderText("one point per line (leave empty to mark without a plan)")
        self.plan_edit.setPlainText("\n".join(p.name for p in self.config_points))
        reset = QPushButton("Plan from configuration")
        reset.setAutoDefault(False)  # Enter starts the recording, wherever it is typed
        reset.clicked.connect(
            lambda: self.plan_edit.setPlainText("\n".join(p.name for p in self.config_points))
        )
        self.error_label = QLabel("")
        self.error_label.setObjectName("error")
        self.error_label.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Client code", _with_anonymous(self.client_box, self.client_anonymous))
        form.addRow("", self.client_hint)
        form.addRow("", self.not_a_name)
        form.addRow(
            "Therapist / trainee", _with_anonymous(self.therapist_edit, self.therapist_anonymous)
        )
        form.addRow("Notes", self.notes_edit)
        form.addRow("Point plan", self.plan_edit)
        form.addRow("", reset)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        start = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        start.setText("Start recording")
        start.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.client_edit.setFocus()  # type, Enter: recording (Ctrl+R, Enter with busy hands)

    def _client_changed(self) -> None:
        """A new value needs its own confirmation."""
        self.not_a_name.setChecked(False)
        self.not_a_name.setVisible(False)

    def _check_people(self) -> str | None:
        """Why the client/therapist fields cannot be used as they are (None: they can)."""
        client = self.client_edit.text().strip()
        if not self.client_anonymous.isChecked():
            if not client:
                return f"Client code: type one (e.g. {self.proposed_code}) or tick '{ANONYMOUS}'."
            reasons = identifying_reasons(client)
            if reasons and not self.not_a_name.isChecked():
                self.not_a_name.setVisible(True)
                return (
                    f"Client code {client!r} {' and '.join(reasons)}. Use a code such as "
                    f"{self.proposed_code}, or tick the box to keep it."
                )
        if not self.therapist_anonymous.isChecked() and not self.therapist_edit.text().strip():
            return f"Therapist / trainee: type a name or tick '{ANONYMOUS}'."
        return None

    def accept(self) -> None:  # noqa: D102 - validation in place, never an exception
        try:
            points = parse_plan(self.plan_edit.toPlainText(), self.config_points)
        except ValueError as exc:
            self.error_label.setText(str(exc))
            return
        problem = self._check_people()
        if problem is not None:
            self.error_label.setText(problem)
            return
        self.error_label.setText("")
        anonymous_client = self.client_anonymous.isChecked()
        anonymous_therapist = self.therapist_anonymous.isChecked()
        self.details = SessionDetails(
            client=None if anonymous_client else self.client_edit.text().strip(),
            therapist=None if anonymous_therapist else self.therapist_edit.text().strip(),
            notes=self.notes_edit.toPlainText().strip() or None,
            points=points,
        )
        super().accept()
