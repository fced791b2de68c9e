"""Settings: display units, contact area, hold thresholds, limits and per-point overrides.

Every field is plain text so that anything typed can be checked and refused in place with
a message naming the field and the value (never an exception). The final check is the
configuration's own validation (``Config.from_dict``), so the dialog accepts exactly what a
config file may hold; the result is saved with ``logger.config.save_config``.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from logger.config import UNITS, Config, save_config
from logger.errors import BadInput

from .. import theme

log = logging.getLogger(__name__)

POINT_COLUMNS = ("name", "warn N", "max N", "target low N", "target high N", "target hold s")
_POINT_KEYS = ("name", "warn_n", "max_n", "target_lo", "target_hi", "target_hold_s")


class SettingsError(ValueError):
    """A field the user typed cannot be used (message names the field and value)."""

    def __init__(self, message: str, field: QLineEdit | None = None) -> None:
        super().__init__(message)
        self.field = field


def _num(
    text: str, what: str, *, optional: bool = False, field: QLineEdit | None = None
) -> float | None:
    text = text.strip().replace(",", ".")
    if not text:
        if optional:
            return None
        raise SettingsError(f"{what}: a number is required", field)
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{what}: {text!r} is not a number", field) from None
    if not math.isfinite(value):
        raise SettingsError(f"{what}: {text!r} is not a finite number", field)
    return value


def _edit_num(edit: QLineEdit, what: str, *, optional: bool = False) -> float | None:
    return _num(edit.text(), what, optional=optional, field=edit)


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


class SettingsDialog(QDialog):
    """Edits a :class:`Config`; on OK ``config`` holds the validated result (saved if a path)."""

    def __init__(
        self, config: Config, config_path: Path | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(940)
        self.config = config
        self.config_path = config_path

        self.units_combo = QComboBox()
        self.units_combo.addItems(list(UNITS))
        self.units_combo.setCurrentText(config.units)
        self.area_edit = QLineEdit(_fmt(config.contact_area_cm2))
        self.area_edit.setPlaceholderText("empty: force only (1 cm² is the common probe)")
        self.onset_edit = QLineEdit(_fmt(config.holds.onset_n))
        self.release_edit = QLineEdit(_fmt(config.holds.release_n))
        self.min_hold_edit = QLineEdit(_fmt(config.holds.min_duration_s))
        self.warn_edit = QLineEdit(_fmt(config.limits.warn_n))
        self.max_edit = QLineEdit(_fmt(config.limits.max_n))
        self.max_hold_edit = QLineEdit(_fmt(config.limits.max_hold_s))

        display = QGroupBox("Display")
        f = QFormLayout(display)
        f.addRow("Units", self.units_combo)
        f.addRow("Contact area (cm²)", self.area_edit)
        holds = QGroupBox("Holds")
        f = QFormLayout(holds)
        f.addRow("Onset (N)", self.onset_edit)
        f.addRow("Release (N)", self.release_edit)
        f.addRow("Shortest hold (s)", self.min_hold_edit)
        limits = QGroupBox("Limits")
        f = QFormLayout(limits)
        f.addRow("Warn (N)", self.warn_edit)
        f.addRow("Max (N)", self.max_edit)
        f.addRow("Longest hold (s)", self.max_hold_edit)
        top = QHBoxLayout()
        for box in (display, holds, limits):
            top.addWidget(box)

        self.points_table = QTableWidget(0, len(POINT_COLUMNS))
        self.points_table.setHorizontalHeaderLabels(list(POINT_COLUMNS))
        self.points_table.verticalHeader().setVisible(True)
        header = self.points_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.points_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        for p in config.points:
            lo, hi = p.target_n if p.target_n else (None, None)
            self._add_row([p.name, p.warn_n, p.max_n, lo, hi, p.target_hold_s])
        add = QPushButton("Add point")
        add.clicked.connect(lambda: self._add_row(["", None, None, None, None, None]))
        remove = QPushButton("Remove selected")
        remove.clicked.connect(self._remove_selected)
        points_box = QGroupBox("Point plan and per-point overrides (empty cell: session value)")
        pv = QVBoxLayout(points_box)
        pv.addWidget(self.points_table)
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch(1)
        pv.addLayout(row)

        self.error_label = QLabel("")
        self.error_label.setObjectName("error")
        self.error_label.setWordWrap(True)
        self.path_label = QLabel(
            f"Save writes {config_path}" if config_path else "not saved (no configuration file)"
        )
        self.path_label.setObjectName("dim")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(points_box, 1)
        layout.addWidget(self.error_label)
        layout.addWidget(self.path_label)
        layout.addWidget(self.buttons)

    def _mark_field(self, field: QLineEdit | None) -> None:
        """Outline the field at fault (and only it) and put the cursor there."""
        for edit in self.findChildren(QLineEdit):
            edit.setStyleSheet("")
        if field is not None:
            field.setStyleSheet(f"border: 2px solid {theme.MAX};")
            field.setFocus()
            field.selectAll()

    def _add_row(self, values: list) -> None:
        r = self.points_table.rowCount()
        self.points_table.insertRow(r)
        for c, v in enumerate(values):
            text = v if isinstance(v, str) else _fmt(v)
            self.points_table.setItem(r, c, QTableWidgetItem(text))

    def _remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.points_table.selectedIndexes()}, reverse=True)
        for r in rows:
            self.points_table.removeRow(r)

    def _cell(self, row: int, col: int) -> str:
        item = self.points_table.item(row, col)
        return item.text() if item is not None else ""

    def build_config(self) -> Config:
        """The configuration the fields describe, or SettingsError / BadInput naming the field."""
        d: dict = {"units": self.units_combo.currentText()}
        area = _edit_num(self.area_edit, "contact area", optional=True)
        if area is not None:
            d["contact_area_cm2"] = area
        d["holds"] = {
            "onset_n": _edit_num(self.onset_edit, "hold onset"),
            "release_n": _edit_num(self.release_edit, "hold release"),
            "min_duration_s": _edit_num(self.min_hold_edit, "shortest hold"),
        }
        warn = _edit_num(self.warn_edit, "warn limit")
        mx = _edit_num(self.max_edit, "max limit")
        if warn is not None and mx is not None and mx <= warn:
            raise SettingsError(
                f"max limit {mx:g} N must be above the warn limit {warn:g} N", self.max_edit
            )
        d["limits"] = {
            "warn_n": warn,
            "max_n": mx,
            "max_hold_s": _edit_num(self.max_hold_edit, "longest hold"),
        }
        points = []
        for r in range(self.points_table.rowCount()):
            name = self._cell(r, 0).strip()
            where = f"point {r + 1}"
            values = {
                key: _num(self._cell(r, c), f"{where} {POINT_COLUMNS[c]}", optional=True)
                for c, key in enumerate(_POINT_KEYS)
                if c > 0
            }
            if not name:
                if any(v is not None for v in values.values()):
                    raise SettingsError(f"{where}: the name is empty")
                raise SettingsError(f"{where}: empty entry (type a name or remove the row)")
            p: dict = {"name": name}
            for key in ("warn_n", "max_n", "target_hold_s"):
                if values[key] is not None:
                    p[key] = values[key]
            lo, hi = values["target_lo"], values["target_hi"]
            if (lo is None) != (hi is None):
                raise SettingsError(f"{where}: the target window needs both low and high")
            if lo is not None:
                p["target_n"] = [lo, hi]
            points.append(p)
        d["points"] = points
        return Config.from_dict(d, source="settings")

    def accept(self) -> None:  # noqa: D102 - validation in place, never an exception
        try:
            config = self.build_config()
        except (SettingsError, BadInput) as exc:
            self.error_label.setText(str(exc))
            self._mark_field(getattr(exc, "field", None))
            return
        self._mark_field(None)
        if self.config_path is not None:
            try:
                save_config(config, self.config_path)
            except OSError as exc:
                self.error_label.setText(f"{self.config_path}: cannot save: {exc.strerror or exc}")
                return
        self.config = config
        self.error_label.setText("")
        super().accept()
