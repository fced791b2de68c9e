"""Settings: display units, contact area, hold thresholds, limits, per-point overrides and
the school library's address (``school_url``: the app syncs there in the background).

Every field is plain text so that anything typed can be checked and refused in place with
a message naming the field and the value (never an exception). The final check is the
configuration's own validation (``Config.from_dict``), so the dialog accepts exactly what a
config file may hold; the result is saved with ``logger.config.save_config``.

Forces are shown and typed in the display unit chosen at the top (changing it converts every
force field at once); the configuration stores newtons. A value left as shown is kept to the
last bit, so opening and saving never drifts a limit by a rounding.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
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

from calibration.units import Unit
from logger.config import UNITS, Config, save_config
from logger.errors import BadInput

from .. import theme

log = logging.getLogger(__name__)

_POINT_KEYS = ("name", "warn_n", "max_n", "target_lo", "target_hi", "target_hold_s")
_FORCE_COLUMNS = (1, 2, 3, 4)
_N_ROLE = Qt.ItemDataRole.UserRole  # a cell's value in N, as last shown
_SHOWN_ROLE = Qt.ItemDataRole.UserRole + 1  # … and the text it was shown as


def point_columns(unit: str = "N") -> tuple[str, ...]:
    return ("name", f"warn {unit}", f"max {unit}", f"target low {unit}",
            f"target high {unit}", "target hold s")  # fmt: skip


POINT_COLUMNS = point_columns()


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

        self.unit = Unit.parse(config.units)
        self.units_combo = QComboBox()
        self.units_combo.addItems(list(UNITS))
        self.units_combo.setCurrentText(self.unit.value)
        self.area_edit = QLineEdit(_fmt(config.contact_area_cm2))
        self.area_edit.setPlaceholderText("empty: force only (1 cm² is the common probe)")
        self.onset_edit = QLineEdit()
        self.release_edit = QLineEdit()
        self.min_hold_edit = QLineEdit(_fmt(config.holds.min_duration_s))
        self.warn_edit = QLineEdit()
        self.max_edit = QLineEdit()
        self.max_hold_edit = QLineEdit(_fmt(config.limits.max_hold_s))
        # force fields: (edit, label, its name); shown in the display unit
        self.force_fields = [
            (self.onset_edit, QLabel(), "Onset"),
            (self.release_edit, QLabel(), "Release"),
            (self.warn_edit, QLabel(), "Warn"),
            (self.max_edit, QLabel(), "Max"),
        ]
        for edit, value_n in zip(
            (self.onset_edit, self.release_edit, self.warn_edit, self.max_edit),
            (config.holds.onset_n, config.holds.release_n, config.limits.warn_n,
             config.limits.max_n),
            strict=True,
        ):  # fmt: skip
            self._show_force(edit, value_n)

        display = QGroupBox("Display")
        f = QFormLayout(display)
        f.addRow("Units", self.units_combo)
        f.addRow("Contact area (cm²)", self.area_edit)
        holds = QGroupBox("Holds")
        f = QFormLayout(holds)
        f.addRow(self.force_fields[0][1], self.onset_edit)
        f.addRow(self.force_fields[1][1], self.release_edit)
        f.addRow("Shortest hold (s)", self.min_hold_edit)
        limits = QGroupBox("Limits")
        f = QFormLayout(limits)
        f.addRow(self.force_fields[2][1], self.warn_edit)
        f.addRow(self.force_fields[3][1], self.max_edit)
        f.addRow("Longest hold (s)", self.max_hold_edit)
        top = QHBoxLayout()
        for box in (display, holds, limits):
            top.addWidget(box)

        self.points_table = QTableWidget(0, len(POINT_COLUMNS))
        self.points_table.setHorizontalHeaderLabels(list(POINT_COLUMNS))
        self.points_table.verticalHeader().setVisible(True)
        self.units_combo.currentTextChanged.connect(self._change_unit)
        header = self.points_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.points_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        for p in config.points:
            lo, hi = p.target_n if p.target_n else (None, None)
            self._add_row([p.name, p.warn_n, p.max_n, lo, hi, p.target_hold_s])
        table = self.points_table  # at least 4 points in view, whatever else the dialog holds
        row_h = max(table.verticalHeader().defaultSectionSize(), table.sizeHintForRow(0))
        table.setMinimumHeight(header.sizeHint().height() + 4 * row_h + 2 * table.frameWidth())
        add = QPushButton("Add point")
        add.clicked.connect(lambda: self._add_row(["", None, None, None, None, None]))
        remove = QPushButton("Remove selected")
        remove.clicked.connect(self._remove_selected)
        self.school_edit = QLineEdit(config.school_url or "")
        self.school_edit.setPlaceholderText("postgresql://USER@HOST/DB  (empty: none)")
        school = QGroupBox("School library")
        f = QFormLayout(school)
        f.addRow("Server URL", self.school_edit)
        hint = QLabel("Finished sessions are sent there in the background. No password here: "
                      "it comes from PGPASSFILE (~/.pgpass) or PGPASSWORD.")  # fmt: skip
        hint.setObjectName("dim")
        hint.setWordWrap(True)
        f.addRow(hint)
        self.lsl_check = QCheckBox("Publish the force and the marks on LSL (Lab Streaming Layer)")
        self.lsl_check.setChecked(config.lsl)
        self.lsl_check.setToolTip("For lab recordings beside EMG/EEG (LabRecorder); "
                                  "takes effect at the next connection")  # fmt: skip
        lab = QGroupBox("Lab recording")
        QVBoxLayout(lab).addWidget(self.lsl_check)
        ppt = config.ppt
        self.ppt_rate_edit = QLineEdit(_fmt(ppt.rate_kpa_per_s))
        self.ppt_rate_edit.setToolTip(
            "the loading rate the therapist follows; N/s = kPa/s × contact area (cm²) / 10"
        )
        self.ppt_tolerance_edit = QLineEdit(_fmt(ppt.tolerance_pct))
        self.ppt_trials_edit = QLineEdit(str(ppt.trials))
        self.ppt_drop_first = QCheckBox("first trial is familiarisation (left out)")
        self.ppt_drop_first.setChecked(ppt.drop_first)
        self.ppt_exclude = QCheckBox("leave trials off the rate out of the mean")
        self.ppt_exclude.setChecked(ppt.exclude_stray)
        algometry = QGroupBox("Pressure-pain threshold (PPT)")
        f = QFormLayout(algometry)
        f.addRow("Target rate (kPa/s)", self.ppt_rate_edit)
        f.addRow("Rate tolerance (± %)", self.ppt_tolerance_edit)
        f.addRow("Trials per point", self.ppt_trials_edit)
        f.addRow(self.ppt_drop_first)
        f.addRow(self.ppt_exclude)
        extras = QVBoxLayout()
        extras.addWidget(school)
        extras.addWidget(lab)
        extras.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addLayout(extras, 3)
        bottom.addWidget(algometry, 2)
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
        layout.addLayout(bottom)
        layout.addWidget(self.error_label)
        layout.addWidget(self.path_label)
        layout.addWidget(self.buttons)
        self._label_units()

    # ---------------------------------------------------------------- units
    def _to_unit(self, value_n: float) -> float:
        return value_n / self.unit.n_per_unit

    def _show_force(self, edit: QLineEdit, value_n: float | None) -> None:
        text = "" if value_n is None else f"{self._to_unit(value_n):.6g}"
        edit.setText(text)
        edit.setProperty("value_n", value_n)
        edit.setProperty("shown", text)

    def _force_n(
        self,
        text: str,
        value_n: object,
        shown: object,
        what: str,
        *,
        optional: bool = False,
        field: QLineEdit | None = None,
    ) -> float | None:
        """Newtons for a force field: the exact value while the text is as shown, else
        the number typed, in the display unit."""
        if text == shown and (value_n is not None or not text.strip()):
            return None if value_n is None else float(value_n)  # type: ignore[arg-type]
        typed = _num(text, what, optional=optional, field=field)
        return None if typed is None else typed * self.unit.n_per_unit

    def _edit_force(self, edit: QLineEdit, what: str) -> float | None:
        return self._force_n(edit.text(), edit.property("value_n"), edit.property("shown"),
                             what, field=edit)  # fmt: skip

    def _cell_force(self, row: int, col: int, what: str) -> float | None:
        item = self.points_table.item(row, col)
        if item is None:
            return None
        return self._force_n(item.text(), item.data(_N_ROLE), item.data(_SHOWN_ROLE), what,
                             optional=True)  # fmt: skip

    def _change_unit(self, unit_text: str) -> None:
        """Show every force field in the new unit (a field that does not parse stays)."""
        values: list[tuple[object, float | None]] = []
        for edit, _, name in self.force_fields:
            try:
                values.append((edit, self._edit_force(edit, name)))
            except SettingsError:
                values.append((edit, math.nan))
        for r in range(self.points_table.rowCount()):
            for c in _FORCE_COLUMNS:
                try:
                    values.append(((r, c), self._cell_force(r, c, "")))
                except SettingsError:
                    values.append(((r, c), math.nan))
        self.unit = Unit.parse(unit_text)
        for where, value_n in values:
            if value_n is not None and math.isnan(value_n):
                continue
            if isinstance(where, QLineEdit):
                self._show_force(where, value_n)
            else:
                item = self.points_table.item(*where)
                if item is not None:
                    self._show_cell(item, value_n)
        self._label_units()

    def _label_units(self) -> None:
        unit = self.unit.value
        for _, label, name in self.force_fields:
            label.setText(f"{name} ({unit})")
        self.points_table.setHorizontalHeaderLabels(list(point_columns(unit)))

    def _show_cell(self, item: QTableWidgetItem, value_n: float | None) -> None:
        text = "" if value_n is None else f"{self._to_unit(value_n):.6g}"
        item.setText(text)
        item.setData(_N_ROLE, value_n)
        item.setData(_SHOWN_ROLE, text)

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
            item = QTableWidgetItem(v if isinstance(v, str) else _fmt(v))
            self.points_table.setItem(r, c, item)
            if c in _FORCE_COLUMNS:
                self._show_cell(item, v)

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
            "onset_n": self._edit_force(self.onset_edit, "hold onset"),
            "release_n": self._edit_force(self.release_edit, "hold release"),
            "min_duration_s": _edit_num(self.min_hold_edit, "shortest hold"),
        }
        warn = self._edit_force(self.warn_edit, "warn limit")
        mx = self._edit_force(self.max_edit, "max limit")
        if warn is not None and mx is not None and mx <= warn:
            u = self.unit.value
            raise SettingsError(
                f"max limit {self._to_unit(mx):g} {u} must be above the warn limit "
                f"{self._to_unit(warn):g} {u}",
                self.max_edit,
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
            columns = point_columns(self.unit.value)
            values = {
                key: (
                    self._cell_force(r, c, f"{where} {columns[c]}")
                    if c in _FORCE_COLUMNS
                    else _num(self._cell(r, c), f"{where} {columns[c]}", optional=True)
                )
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
        url = self.school_edit.text().strip()
        if url:
            try:  # checked first, so that the field at fault is the one outlined
                Config.from_dict({"school_url": url}, source="settings")
            except BadInput as exc:
                raise SettingsError(str(exc), self.school_edit) from None
            d["school_url"] = url
        if self.lsl_check.isChecked():
            d["lsl"] = True
        d["ppt"] = self._ppt_table()
        if self.config.profile is not None:  # not edited here: kept as the file has it
            d["profile"] = self.config.profile.to_dict()
        return Config.from_dict(d, source="settings")

    def _ppt_table(self) -> dict:
        """The ``[ppt]`` table: a target rate in N/s from the file is kept while the kPa/s
        field shows what it was given."""
        ppt = dataclasses.asdict(self.config.ppt)
        rate = _edit_num(self.ppt_rate_edit, "PPT target rate")
        if self.ppt_rate_edit.text().strip() != _fmt(self.config.ppt.rate_kpa_per_s):
            ppt["rate_kpa_per_s"], ppt["rate_n_per_s"] = rate, None
        ppt["tolerance_pct"] = _edit_num(self.ppt_tolerance_edit, "PPT rate tolerance")
        trials = _edit_num(self.ppt_trials_edit, "PPT trials per point")
        if trials is None or trials != int(trials):
            raise SettingsError(
                f"PPT trials per point: {self.ppt_trials_edit.text()!r} is not a whole number",
                self.ppt_trials_edit,
            )
        ppt["trials"] = int(trials)
        ppt["drop_first"] = self.ppt_drop_first.isChecked()
        ppt["exclude_stray"] = self.ppt_exclude.isChecked()
        return {k: v for k, v in ppt.items() if v is not None}

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
