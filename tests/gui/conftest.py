"""Helpers shared by the live-window tests: simulator scenario files (``sim://…?scenario=``).

Plain functions, imported as ``from tests.gui.conftest import hold, rest, scenario, MARK``.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

MARK = '[[steps]]\naction = "mark"\n'


def rest(seconds: float) -> str:
    return f'[[steps]]\naction = "rest"\nseconds = {seconds}\n'


def hold(force_n: float, seconds: float, ramp_s: float = 0.5, release_s: float = 0.3) -> str:
    return (
        f'[[steps]]\naction = "hold"\nforce_n = {force_n}\nramp_s = {ramp_s}\n'
        f"seconds = {seconds}\nrelease_s = {release_s}\n"
    )


def scenario(tmp_path: Path, steps: str, faults: str = "", uid: str = "SIM-GUI-0001") -> Path:
    """A scenario file in ``tmp_path``: a 1 kHz device with a little noise and tremor."""
    path = tmp_path / f"scenario-{uuid.uuid4().hex[:6]}.toml"
    head = f'[device]\nuid = "{uid}"\nrate_hz = 1000\nnoise_n = 0.05\n'
    head += "[therapist]\ntremor_n = 0.1\n"
    if faults:
        head += f"[faults]\n{faults}\n"
    path.write_text(head + steps)
    return path


def answer_next_dialog(
    button: QMessageBox.StandardButton, *, by_key: Qt.Key | None = None
) -> list[str]:
    """Answer the next modal message box as a user would: click ``button``, or press
    ``by_key`` (Enter takes the default button) and check that it gave ``button``. Returns
    a list that receives the box's text once it was shown."""
    seen: list[str] = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(10, answer)
            return
        seen.append(box.text())
        if by_key is not None:
            QTest.keyClick(box, by_key)
            assert box.standardButton(box.clickedButton()) == button
        else:
            box.button(button).click()

    QTimer.singleShot(0, answer)
    return seen
