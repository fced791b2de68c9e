"""Start-of-recording dialog: client pseudonym, therapist/trainee, notes, the point plan.

The plan comes from the configuration (per-point limits and targets kept) or is typed,
one point per line. Empty entries between points are refused in place with a message;
the dialog never raises.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from logger.records import Point


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


class SessionDialog(QDialog):
    """Asks for the session's details; ``details`` is set when accepted."""

    def __init__(
        self,
        config_points: list[Point],
        parent: QWidget | None = None,
        *,
        therapist: str = "",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Start recording")
        self.setMinimumWidth(520)
        self.config_points = list(config_points)
        self.details: SessionDetails | None = None
        self.client_edit = QLineEdit()
        self.client_edit.setPlaceholderText("pseudonym, e.g. C-017 (no real names)")
        self.therapist_edit = QLineEdit(therapist)
        self.therapist_edit.setPlaceholderText("therapist or trainee")
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
        form.addRow("Client", self.client_edit)
        form.addRow("Therapist / trainee", self.therapist_edit)
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

    def accept(self) -> None:  # noqa: D102 - validation in place, never an exception
        try:
            points = parse_plan(self.plan_edit.toPlainText(), self.config_points)
        except ValueError as exc:
            self.error_label.setText(str(exc))
            return
        self.error_label.setText("")
        self.details = SessionDetails(
            client=self.client_edit.text().strip() or None,
            therapist=self.therapist_edit.text().strip() or None,
            notes=self.notes_edit.toPlainText().strip() or None,
            points=points,
        )
        super().accept()
