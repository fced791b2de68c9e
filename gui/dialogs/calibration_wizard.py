"""Calibration wizard: known masses, one at a time, accepted once the reading settles.

Guided steps: (1) list the masses (kg, stacked, starting with 0 = nothing on the sensor);
(2) for each mass, place it and wait while the settling indicator fills (the calibration
package's ``StabilityDetector`` decides when the load is steady) and accept; (3) the fit
(``fit_calibration``) with its residuals per mass, R² and non-linearity; save stores it
under the device's uid (``CalibrationStore``) and applies it to the live session.

The wizard reads raw counts from a :class:`RawSource`; ``LiveRawSource`` adapts a
``LiveSession`` (its ring buffer keeps the raw counts beside the forces). Mass lists and
fits get the same checks as ``pressure-logger calibrate`` (stacked weights from 0; a fit
too poor to be a calibration is shown but cannot be saved).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from calibration.models import (
    Calibration,
    CalibrationError,
    FitResult,
    fit_problem,
)
from calibration.procedure import CalibrationProcedure, parse_masses
from logger.errors import BadInput

from .. import theme

log = logging.getLogger(__name__)

DEFAULT_MASSES = "0, 0.5, 1, 2"
WINDOW_S = 1.0  # the settling window
NO_SAMPLES_S = 5.0  # a reading step gives up when the device sends nothing this long …
SETTLE_TIMEOUT_S = 90.0  # … or when the load has not settled after this long


class RawSource(Protocol):
    """Where the wizard reads counts from."""

    rate_hz: float
    uid: str

    def read_new(self) -> tuple[np.ndarray, np.ndarray]:
        """Samples since the last call: ``(t_s, raw_counts)``, 1-D each."""
        ...


class LiveRawSource:
    """A ``LiveSession`` as a raw-count source (the raw counts its ring buffer keeps)."""

    def __init__(self, live) -> None:
        self.live = live
        device = live.device
        self.rate_hz = float(device.rate_hz) if device else 100.0
        self.uid = device.uid if device else "unknown"
        self._last_t_s = float(live.t_s) if live.ring is not None else -np.inf

    def read_new(self) -> tuple[np.ndarray, np.ndarray]:
        ring = self.live.ring
        if ring is None:
            return np.empty(0), np.empty(0)
        t_s, raw = ring.window(2.0, raw=True)
        keep = t_s > self._last_t_s
        t_s, counts = t_s[keep], raw[keep][:, 0].astype(np.float64)
        if t_s.size:
            self._last_t_s = float(t_s[-1])
        return t_s, counts


class CalibrationWizard(QDialog):
    """Three pages: masses → readings → fit. ``saved`` is the stored calibration id."""

    def __init__(
        self,
        source: RawSource,
        *,
        db_path: Path | None,
        on_apply: Callable[[Calibration], None] | None = None,
        rig: Callable[[float], None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """``rig``, where there is one (the simulator's), places each mass when a step asks
        for it, so the whole calibration can be done by clicking."""
        super().__init__(parent)
        self.setWindowTitle(f"Calibrate {source.uid}")
        self.setMinimumSize(640, 460)
        self.source = source
        self.db_path = db_path
        self.on_apply = on_apply
        self.rig = rig
        self._step_started = 0.0  # time.monotonic() when the current reading step began
        self._last_samples = 0.0  # … and when samples last arrived
        self.masses_kg: list[float] = []
        self.procedure: CalibrationProcedure | None = None  # the calibrate command's rules
        self.fit: FitResult | None = None
        self.saved: int | None = None

        self.pages = QStackedWidget()
        self.pages.addWidget(self._masses_page())
        self.pages.addWidget(self._reading_page())
        self.pages.addWidget(self._result_page())
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages)
        self.timer = QTimer(self)
        self.timer.setInterval(100)
        self.timer.timeout.connect(self.poll)

    # ------------------------------------------------------------------ pages
    def _masses_page(self) -> QWidget:
        page = QWidget()
        v = QVBoxLayout(page)
        title = QLabel("1 · Which masses?")
        title.setFont(theme.font(theme.BIG_PT, bold=True))
        info = QLabel(
            "List the known masses in kilograms, in the order you will stack them. "
            "Start with 0 (nothing on the sensor). Keep the sensor as it is used: same "
            "mounting, same temperature."
        )
        info.setWordWrap(True)
        self.masses_edit = QLineEdit(DEFAULT_MASSES)
        self.masses_error = QLabel("")
        self.masses_error.setObjectName("error")
        start = QPushButton("Start")
        start.clicked.connect(self.start_readings)
        v.addWidget(title)
        v.addWidget(info)
        v.addWidget(self.masses_edit)
        v.addWidget(self.masses_error)
        v.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self._cancel_button())
        row.addWidget(start)
        v.addLayout(row)
        return page

    def _cancel_button(self) -> QPushButton:
        button = QPushButton("Cancel")
        button.setToolTip("Leave the calibration; nothing is saved")
        button.clicked.connect(self.reject)
        return button

    def _reading_page(self) -> QWidget:
        page = QWidget()
        v = QVBoxLayout(page)
        self.step_label = QLabel("")
        self.step_label.setFont(theme.font(theme.BIG_PT, bold=True))
        self.step_label.setWordWrap(True)
        self.counts_label = QLabel("—")
        self.counts_label.setFont(theme.font(theme.TIMER_PT, bold=True, mono=True))
        self.settle_bar = QProgressBar()
        self.settle_bar.setRange(0, 100)
        self.settle_label = QLabel("waiting for samples…")
        self.accept_button = QPushButton("Accept reading")
        self.accept_button.setEnabled(False)
        self.accept_button.clicked.connect(self.accept_reading)
        redo = QPushButton("Redo previous")
        redo.clicked.connect(self.redo_previous)
        self.retry_button = QPushButton("Try again")
        self.retry_button.setToolTip("Wait for this reading again")
        self.retry_button.clicked.connect(self._show_step)
        self.retry_button.setVisible(False)
        self.accepted_label = QLabel("")
        self.accepted_label.setObjectName("dim")
        self.accepted_label.setFont(theme.font(theme.BASE_PT, mono=True))
        v.addWidget(QLabel("2 · Readings"))
        v.addWidget(self.step_label)
        v.addWidget(self.counts_label)
        v.addWidget(QLabel("settling"))
        v.addWidget(self.settle_bar)
        v.addWidget(self.settle_label)
        v.addWidget(self.accepted_label, 1)
        row = QHBoxLayout()
        row.addWidget(redo)
        row.addStretch(1)
        row.addWidget(self._cancel_button())
        row.addWidget(self.retry_button)
        row.addWidget(self.accept_button)
        v.addLayout(row)
        return page

    def _result_page(self) -> QWidget:
        page = QWidget()
        v = QVBoxLayout(page)
        title = QLabel("3 · Fit and residuals")
        title.setFont(theme.font(theme.BIG_PT, bold=True))
        self.result_table = QTableWidget(0, 4)
        self.result_table.setHorizontalHeaderLabels(["mass kg", "force N", "counts", "residual N"])
        self.result_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.summary = QPlainTextEdit()
        self.summary.setReadOnly(True)
        self.summary.setFont(theme.font(theme.BASE_PT - 1, mono=True))
        self.result_error = QLabel("")
        self.result_error.setObjectName("error")
        self.result_error.setWordWrap(True)
        self.save_button = QPushButton("Save and use")
        self.save_button.clicked.connect(self.save)
        again = QPushButton("Start over")
        again.clicked.connect(lambda: self.pages.setCurrentIndex(0))
        close = self._cancel_button()
        v.addWidget(title)
        v.addWidget(self.result_table, 1)
        v.addWidget(self.summary, 1)
        v.addWidget(self.result_error)
        row = QHBoxLayout()
        row.addWidget(again)
        row.addStretch(1)
        row.addWidget(close)
        row.addWidget(self.save_button)
        v.addLayout(row)
        return page

    # ------------------------------------------------------------------ flow
    def start_readings(self) -> None:
        try:
            self.masses_kg = parse_masses(self.masses_edit.text(), flag="masses")
        except (CalibrationError, ValueError) as exc:
            self.masses_error.setText(str(exc))
            return
        self.masses_error.setText("")
        self.procedure = CalibrationProcedure(
            self.masses_kg, self.source.rate_hz, auto=False, window_s=WINDOW_S
        )
        self.source.read_new()  # discard what came before
        self.pages.setCurrentIndex(1)
        self._show_step()

    def _show_step(self) -> None:
        proc = self.procedure
        assert proc is not None
        i, mass = proc.current_index, proc.current_mass_kg
        what = "Remove everything from the sensor" if mass == 0 else f"Place {mass:g} kg"
        total = f" (total on the sensor: {mass:g} kg)" if i and mass else ""
        self.step_label.setText(f"Mass {i + 1} of {len(self.masses_kg)}: {what}{total}")
        self.accept_button.setEnabled(False)
        self.retry_button.setVisible(False)
        self.settle_bar.setValue(0)
        self._set_settle_text("waiting for samples…", theme.TEXT_DIM)
        if self.rig is not None:
            self.rig(mass)
            self._set_settle_text(f"the simulated rig placed {mass:g} kg; settling…", theme.WARN)
        self._step_started = self._last_samples = time.monotonic()
        self.timer.start()
        done = [
            f"{p.mass_kg:8.3f} kg  →  {p.reading.value_counts:12.1f} counts" for p in proc.accepted
        ]
        self.accepted_label.setText("\n".join(done))

    def _set_settle_text(self, text: str, color: str) -> None:
        self.settle_label.setText(text)
        self.settle_label.setStyleSheet(f"color: {color};")

    def _give_up(self, text: str) -> None:
        """Stop waiting for this reading and say why; Try again or Cancel."""
        self.timer.stop()
        self.accept_button.setEnabled(False)
        self.retry_button.setVisible(True)
        self._set_settle_text(text, theme.MAX)

    def poll(self) -> None:
        """Feed new samples to the procedure; update the settling indicator; give up on a
        silent device or a load that will not settle."""
        proc = self.procedure
        t_s, raw = self.source.read_new()
        now = time.monotonic()
        if raw.size:
            self._last_samples = now
        elif now - self._last_samples >= NO_SAMPLES_S:
            self._give_up(
                f"No samples from the device for {NO_SAMPLES_S:.0f} s: check that it is "
                "connected, then Try again (or Cancel)."
            )
            return
        if (
            proc is not None and proc.stable is None
            and now - self._step_started >= SETTLE_TIMEOUT_S
        ):  # fmt: skip
            self._give_up(
                f"The reading has not settled in {SETTLE_TIMEOUT_S:.0f} s: keep the mass "
                "and the sensor still, then Try again (or Cancel)."
            )
            return
        if proc is None or raw.size == 0:
            return
        proc.feed(t_s, raw)
        self.counts_label.setText(f"{float(np.mean(raw[-max(1, raw.size // 4) :])):,.0f} counts")
        if proc.detector is None:
            self.settle_label.setText("measuring the noise…")
            return
        stable = proc.stable
        self.settle_bar.setValue(int(proc.progress * 100))
        if stable is not None and proc.acceptable:
            text = f"stable: {stable.value_counts:,.1f} ± {stable.stderr_counts:.1f} counts"
            self._set_settle_text(text, theme.OK)
        elif stable is not None:  # still the previous load's reading
            self._set_settle_text("unchanged since the previous mass: waiting for the load",
                                  theme.WARN)  # fmt: skip
        else:
            self._set_settle_text("settling… keep the load still", theme.WARN)
        self.accept_button.setEnabled(proc.acceptable)

    def accept_reading(self) -> None:
        proc = self.procedure
        if proc is None:
            return
        try:
            proc.accept_current()  # refuses a reading unchanged since the previous mass
        except CalibrationError as exc:
            self._set_settle_text(str(exc), theme.WARN)
            return
        if proc.done:
            self.timer.stop()
            self.show_fit()
        else:
            self._show_step()

    def redo_previous(self) -> None:
        proc = self.procedure
        if proc is not None and proc.accepted:
            proc.undo()
        if proc is not None:
            self._show_step()

    def show_fit(self) -> None:
        self.pages.setCurrentIndex(2)
        self.result_table.setRowCount(0)
        assert self.procedure is not None
        try:
            self.fit = self.procedure.fit()
        except CalibrationError as exc:
            self.fit = None
            self.result_error.setText(str(exc))
            self.save_button.setEnabled(False)
            return
        fit = self.fit
        for m, f, c, r in zip(fit.masses_kg, fit.force_n, fit.counts, fit.residuals_n, strict=True):
            row = self.result_table.rowCount()
            self.result_table.insertRow(row)
            for col, text in enumerate((f"{m:g}", f"{f:.3f}", f"{c:,.1f}", f"{r:+.4f}")):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.result_table.setItem(row, col, item)
        self.summary.setPlainText("\n".join(fit.report_lines()[:4]))
        problem = fit_problem(fit)
        self.result_error.setText(f"not saved: {problem}" if problem else "")
        self.save_button.setEnabled(problem is None)

    def save(self) -> None:
        if self.fit is None or fit_problem(self.fit) is not None:
            return
        cal = self.fit.calibration
        if self.db_path is not None:
            from logger.store import CalibrationStore

            try:
                store = CalibrationStore(self.db_path)
                self.saved = store.save(self.source.uid, self.fit)
                created_at = store.get(self.saved).created_at
            except (OSError, BadInput, sqlite3.Error) as exc:
                self.result_error.setText(f"{self.db_path}: cannot save: {exc}")
                return
            cal = cal.with_source(f"stored:{self.saved}", created_at)
        if self.on_apply is not None:
            self.on_apply(cal)
        self.accept()

    def done(self, result: int) -> None:
        self.timer.stop()
        super().done(result)
