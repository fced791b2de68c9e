"""The review window: library on the left; the session's timeline above tabs for holds,
per-point statistics, the overlay of a point's holds, the comparison with a reference
session and the trainee's progress.

Usage from the live window (or anywhere with a QApplication)::

    from gui.review import ReviewWindow
    w = ReviewWindow(store)          # a logger.store.SessionStore
    w.show()
    w.open_session(sid)              # optional: start on a session
    w.set_reference(reference_sid)   # optional: open the comparison

Given a :class:`logger.deidentify.DeidentifiedStore` the whole window is de-identified (no
names, shifted dates, random ids: for showing sessions to a trainer or a class). In either
mode, "De-identify hand-overs" makes the report and EDF+ actions write hand-over copies.
"""

from __future__ import annotations

import html
import logging
import sqlite3
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStatusBar,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from logger.clinical import client_change
from logger.compare import (
    ProgressEntry,
    SessionComparison,
    SessionData,
    compare_sessions,
    progress,
    session_data_from_store,
)
from logger.deidentify import DeidentifiedStore
from logger.errors import BadInput, DeviceError, StorageError

from ..file_dialogs import ask_save_path
from ..format import calibration_source, hms, local_time, plural, unsaved_text
from ..report.clinical import (
    NO_CLINICAL,
    ClinicalParts,
    guided_text,
    ratings_text,
    session_clinical,
    trainee_progress,
)
from .clinical import DrillView, PptView
from .comparison import ComparisonView, OverlayView, ProgressView
from .library import SessionLibrary
from .tables import PointStatsView, ReviewHoldsTable
from .timeline import TimelinePlot

log = logging.getLogger(__name__)

EXPORT_FORMATS = {  # kind: (name, file dialog filter)
    "csv": ("CSV", "CSV, one row per sample (*.csv)"),
    "json": ("JSON", "JSON session document (*.json)"),
    "edf": ("EDF+", "EDF+ (*.edf)"),
}


def session_header(record: object, day: int | None = None) -> str:
    """One paragraph of metadata: who, whom, with what, calibrated when (``day``: the
    de-identified day number, shown instead of the date)."""
    r = record
    m = r.meta  # type: ignore[attr-defined]
    cal = m.calibration
    lost = r.stats.lost_samples  # type: ignore[attr-defined]
    zeros = len(r.zeros)  # type: ignore[attr-defined]
    zeroed = f" · zeroed {plural(zeros, 'time')} during the session" if zeros else ""
    lost_text = f" · {plural(lost, 'sample')} lost" if lost else ""
    holds = f"{plural(len(r.holds), 'hold')} · {plural(len(r.alerts), 'alert')}"  # type: ignore[attr-defined]
    when = local_time(m.started_at) if day is None else f"day {day}"
    return (
        f"<b>{r.id}</b> · {when} · {r.status} · "  # type: ignore[attr-defined]
        f"{hms(r.stats.duration_s)} · {holds}{lost_text}"  # type: ignore[attr-defined]
        f"{unsaved_text(r.stats.unsaved_samples)}<br>"  # type: ignore[attr-defined]
        f"client <b>{m.client or '—'}</b> · therapist <b>{m.therapist or '—'}</b> · "
        f"device {m.device.uid} (fw {m.device.firmware}, {m.device.rate_hz:g} Hz) · "
        f"calibration {cal.counts_per_n:g} counts/N, offset {cal.offset_counts:g} "
        f"({calibration_source(cal.source, cal.created_at)}){zeroed}{notes_line(m.notes)}"
    )


def notes_line(notes: str | None, max_chars: int = 160) -> str:
    """The notes' beginning for the header (all of them are in the Notes tab)."""
    if not notes:
        return ""
    text = " ".join(notes.split())
    short = text if len(text) <= max_chars else text[: max_chars - 1] + "…"
    return f"<br>notes: <i>{html.escape(short)}</i>"


class ReviewWindow(QMainWindow):
    """Review, overlay and trainee-vs-reference comparison of stored sessions."""

    def __init__(self, store: object, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.deidentified = isinstance(store, DeidentifiedStore)
        self.setWindowTitle(
            "pressure-logger — review"
            + (" (de-identified: no names, dates shifted)" if self.deidentified else "")
        )
        self.store = store
        self.record = None
        self.current_id: str | None = None
        self.reference_id: str | None = None
        self.comparison: SessionComparison | None = None
        self._progress_entries: list[ProgressEntry] = []
        self._progress_stale = False
        self._data: dict[str, SessionData] = {}
        self._clinical: dict[str, ClinicalParts] = {}
        self.clinical = NO_CLINICAL
        self._drill_progress_stale = False

        self.library = SessionLibrary(store)
        self.header = QLabel("Select a session in the library.")
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setWordWrap(True)
        self.clinical_line = QLabel()  # pain ratings and the guided profile's scores
        self.clinical_line.setWordWrap(True)
        self.clinical_line.hide()
        self.timeline = TimelinePlot()
        self.holds = ReviewHoldsTable()
        self.stats = PointStatsView()
        self.ppt = PptView()
        self.drill = DrillView()
        self.overlay = OverlayView()
        self.compare = ComparisonView()
        self.progress = ProgressView()
        self.notes_edit = QPlainTextEdit()
        self.notes_edit.setPlaceholderText("Notes on this session (saved in the library)")
        self.notes_edit.textChanged.connect(self._notes_changed)
        self.notes_save = QPushButton("Save notes")
        self.notes_save.clicked.connect(self.save_notes)
        self.notes_revert = QPushButton("Revert")
        self.notes_revert.clicked.connect(self._show_notes)
        notes_page = QWidget()
        nv = QVBoxLayout(notes_page)
        nv.addWidget(self.notes_edit, 1)
        nrow = QHBoxLayout()
        nrow.addStretch(1)
        nrow.addWidget(self.notes_revert)
        nrow.addWidget(self.notes_save)
        nv.addLayout(nrow)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.holds, "Holds")
        self.tabs.addTab(self.stats, "Per-point statistics")
        self.tabs.addTab(self.ppt, "PPT")
        self.tabs.addTab(self.drill, "Drill")
        for page in (self.ppt, self.drill):  # shown for sessions that have them
            self.tabs.setTabVisible(self.tabs.indexOf(page), False)
        self.tabs.addTab(self.overlay, "Overlay")
        self.tabs.addTab(self.compare, "Compare with reference")
        self.tabs.addTab(self.progress, "Progress")
        self.tabs.addTab(notes_page, "Notes")

        right = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.header)
        tl.addWidget(self.clinical_line)
        tl.addWidget(self.timeline, 1)
        right.addWidget(top)
        right.addWidget(self.tabs)
        right.setStretchFactor(0, 2)
        right.setStretchFactor(1, 3)
        split = QSplitter()
        split.addWidget(self.library)
        split.addWidget(right)
        split.setStretchFactor(0, 1)  # a third of any extra width: names unelided
        split.setStretchFactor(1, 2)
        split.setSizes([440, 1060])
        right.setSizes([330, 640])
        self.setCentralWidget(split)
        self.setStatusBar(QStatusBar())

        bar = QToolBar("Review")
        bar.setObjectName("review-toolbar")
        self.addToolBar(bar)
        self.act_all = QAction("Whole session", self, shortcut=QKeySequence("Home"))
        self.act_report = QAction("Report (PDF)…", self, shortcut=QKeySequence("Ctrl+P"))
        self.act_csv = QAction("Export CSV…", self)
        self.act_json = QAction("Export JSON…", self)
        self.act_edf = QAction("Export EDF+…", self)
        self.act_clear_ref = QAction("Clear reference", self)
        self.act_deidentify = QAction("De-identify hand-overs", self, checkable=True)
        self.act_deidentify.setToolTip(
            "Reports and exports without client, therapist or notes, with shifted dates"
        )
        if self.deidentified:  # everything this window shows and writes is de-identified
            self.act_deidentify.setChecked(True)
            self.act_deidentify.setEnabled(False)
        for act in (
            self.act_all, self.act_report, self.act_csv, self.act_json, self.act_edf,
            self.act_deidentify, self.act_clear_ref,
        ):  # fmt: skip
            bar.addAction(act)
        self.act_all.triggered.connect(self.timeline.show_all)
        self.act_report.triggered.connect(self._report_dialog)
        self.act_csv.triggered.connect(lambda: self._export_dialog("csv"))
        self.act_json.triggered.connect(lambda: self._export_dialog("json"))
        self.act_edf.triggered.connect(lambda: self._export_dialog("edf"))
        self.act_clear_ref.triggered.connect(lambda: self.set_reference(None))

        self.library.sessionSelected.connect(self.open_session)
        self.library.referenceRequested.connect(self.set_reference)
        self.holds.holdActivated.connect(self.zoom_to_hold)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.resize(1500, 950)
        self._update_actions()

    # ------------------------------------------------------------ sessions
    def session_data(self, sid: str) -> SessionData:
        """Holds and onset-aligned curves of a session (cached; only hold windows are read)."""
        if sid not in self._data:
            self._data[sid] = session_data_from_store(self.store, sid)
        return self._data[sid]

    def open_session(self, sid: str) -> None:
        """Show session ``sid``; an unknown id or damaged content is reported in the status
        bar."""
        if sid == self.current_id and self.record is not None:
            return
        try:
            record = self.store.load_session(sid)  # type: ignore[attr-defined]
        except (BadInput, StorageError) as exc:  # unknown id, or damaged content
            self.statusBar().showMessage(str(exc), 10000)
            return
        self.record, self.current_id = record, sid
        day = self.store.day(record.meta.started_at) if self.deidentified else None  # type: ignore[attr-defined]
        self.header.setText(session_header(record, day))
        self.timeline.set_session(self.store, record)
        self._show_clinical(sid, record)
        self.holds.set_holds(record.holds)
        self._show_notes()
        self.stats.set_data(record.holds, record.points)
        self.overlay.set_data(self.session_data(sid))
        if self.library.selected_id() != sid:
            self.library.blockSignals(True)
            self.library.select(sid)
            self.library.blockSignals(False)
        self._update_comparison()
        self._update_actions()
        self.statusBar().showMessage(f"{sid}: {plural(len(record.holds), 'hold')}", 5000)

    def clinical_parts(self, sid: str, record: object | None = None) -> ClinicalParts:
        """Ratings, signals, PPT, drill and guided parts of a session (cached)."""
        if sid not in self._clinical:
            rec = record if record is not None else self.store.load_session(sid)  # type: ignore[attr-defined]
            self._clinical[sid] = session_clinical(self.store, rec)  # type: ignore[arg-type]
        return self._clinical[sid]

    def _show_clinical(self, sid: str, record: object) -> None:
        try:
            parts = self.clinical_parts(sid, record)
        except (BadInput, StorageError) as exc:  # a damaged protocol event or config
            self.statusBar().showMessage(str(exc), 10000)
            parts = NO_CLINICAL
        self.clinical = parts
        self.timeline.set_clinical(parts)
        lines = [ratings_text(parts.ratings)] if parts.ratings else []
        if parts.signals:
            lines.append(f"Client signals: {len(parts.signals)} (stars on the force)")
        if parts.guided is not None:
            lines.append(guided_text(parts.guided))
        self.clinical_line.setText(" · ".join(lines))
        self.clinical_line.setVisible(bool(lines))
        for page, shown in ((self.ppt, parts.ppt), (self.drill, parts.drill)):
            index = self.tabs.indexOf(page)
            if shown is None and self.tabs.currentIndex() == index:
                self.tabs.setCurrentWidget(self.holds)
            self.tabs.setTabVisible(index, shown is not None)
        if parts.ppt is not None:
            self.ppt.set_parts(parts.ppt)
        if parts.drill is not None:
            self.drill.set_parts(parts.drill)
            self._drill_progress_stale = True
            if self.tabs.currentWidget() is self.drill:
                self._update_drill_progress()

    def _update_drill_progress(self) -> None:
        """The learning curve of the session's therapist over their drill sessions: read
        when the Drill tab is looked at."""
        self._drill_progress_stale = False
        who = self.record.meta.therapist if self.record is not None else None
        try:
            points = trainee_progress(self.store, who)  # type: ignore[arg-type]
        except (BadInput, StorageError) as exc:
            self.statusBar().showMessage(str(exc), 10000)
            points = []
        self.drill.set_progress(who or "this session's therapist (not named)", points)

    def set_reference(self, sid: str | None) -> None:
        """Compare the session on review (and the trainee's others) with ``sid``."""
        if sid is not None:
            try:
                self.session_data(sid)
            except (BadInput, StorageError) as exc:
                self.statusBar().showMessage(str(exc), 10000)
                return
        self.reference_id = sid
        self.library.set_reference(sid)
        self._update_comparison()
        self._update_actions()
        if sid is not None:
            self.tabs.setCurrentWidget(self.compare)

    def _update_comparison(self) -> None:
        if self.reference_id is None or self.current_id is None:
            self.comparison = None
            self._progress_entries = []
            self._progress_stale = False
            self.compare.clear()
            return
        trainee = self.session_data(self.current_id)
        reference = self.session_data(self.reference_id)
        self.comparison = compare_sessions(trainee, reference)
        self.compare.set_comparison(trainee, reference, self.comparison)
        self._update_ppt_between()
        # progress reads every session of the trainee: only when it is looked at
        self._progress_stale = True
        if self.tabs.currentWidget() is self.progress:
            self._update_progress()

    def _update_ppt_between(self) -> None:
        """Two sessions of the same client with PPT points: the change per point, the
        earlier session as pre."""
        if self.reference_id is None or self.current_id is None:
            return
        try:
            a = self.store.load_session(self.reference_id)  # type: ignore[attr-defined]
            b = self.record
            pa = self.clinical_parts(self.reference_id, a)
            pb = self.clinical
        except (BadInput, StorageError) as exc:
            self.statusBar().showMessage(str(exc), 10000)
            return
        found = None
        if b is not None and pa.results is not None and pb.results is not None:
            found = client_change((a, pa.results), (b, pb.results))
        if found is None:
            self.compare.clear_ppt()
            return
        self.compare.set_ppt(found.client, found.pre_id, found.post_id, found.change)

    @property
    def progress_entries(self) -> list[ProgressEntry]:
        """The trainee's sessions (same therapist as the session on review), oldest first,
        scored against the reference; computed on first use."""
        if self._progress_stale:
            self._update_progress()
        return self._progress_entries

    def _tab_changed(self, _index: int) -> None:
        if self.tabs.currentWidget() is self.drill and self._drill_progress_stale:
            self._update_drill_progress()
        if self.tabs.currentWidget() is self.progress and self._progress_stale:
            self._update_progress()

    def _update_progress(self) -> None:
        self._progress_stale = False
        if self.reference_id is None or self.current_id is None:
            self._progress_entries = []
            return
        reference = self.session_data(self.reference_id)
        who = self.record.meta.therapist if self.record is not None else None
        ids = [
            s.id
            for s in self.store.list_sessions(therapist=who)  # type: ignore[attr-defined]
            if s.id != self.reference_id
        ]
        self._progress_entries = progress([self.session_data(i) for i in ids], reference)
        self.progress.set_progress(
            who or "sessions without a therapist", self.reference_id, self._progress_entries
        )

    def zoom_to_hold(self, hold_index: int) -> None:
        if self.record is None:
            return
        for h in self.record.holds:
            if h.index == hold_index:
                self.timeline.zoom_to(h.start_s, h.end_s)
                return

    def _update_actions(self) -> None:
        has = self.current_id is not None
        for act in (self.act_report, self.act_csv, self.act_json, self.act_edf):
            act.setEnabled(has)
        self.notes_edit.setEnabled(has and not self.deidentified)  # no notes in a hand-over
        self.act_all.setEnabled(has)
        self.act_clear_ref.setEnabled(self.reference_id is not None)

    # -------------------------------------------------------- report/export
    def save_report(self, path: str | Path) -> Path:
        """The same A4 PDF as ``pressure-logger report`` (with the current reference)."""
        from ..report import write_report

        if self.current_id is None:
            raise BadInput("no session on review")
        write_report(
            self.store,  # type: ignore[arg-type]
            self.current_id,
            path,
            reference_sid=self.reference_id,
            deidentify=self.act_deidentify.isChecked(),
        )
        return Path(path)

    def suggested_name(self) -> str:
        """A file name for the session on review: its id, except for a de-identified copy
        of an identified session (the library id carries the start date and time)."""
        if self.act_deidentify.isChecked() and not self.deidentified:
            return "deidentified-session"
        return str(self.current_id)

    def _report_dialog(self) -> None:
        if self.current_id is None:
            return
        path = ask_save_path(self, "Save report", f"{self.suggested_name()}.pdf", "PDF (*.pdf)")
        if path:
            self._run(lambda: self.save_report(path), f"report written to {path}")

    def export(self, kind: str, path: str | Path) -> Path:
        """The session on review as ``pressure-logger export --format csv|json|edf`` writes
        it (logged in the audit trail; de-identified when "De-identify" is on)."""
        from logger.export.tabular import export_session

        if self.current_id is None:
            raise BadInput("no session on review")
        return export_session(
            self.store,  # type: ignore[arg-type]
            self.current_id,
            path,
            kind,
            deidentify=self.act_deidentify.isChecked(),
        )

    def _export_dialog(self, kind: str) -> None:
        if self.current_id is None:
            return
        name, pattern = EXPORT_FORMATS[kind]
        path = ask_save_path(self, f"Export {name}", f"{self.suggested_name()}.{kind}", pattern)
        if path:
            self._run(lambda: self.export(kind, path), f"{name} written to {path}")

    # -------------------------------------------------------------- notes
    def _show_notes(self) -> None:
        """The stored notes of the session on review (edits not saved are dropped)."""
        notes = self.record.meta.notes if self.record is not None else None  # type: ignore[attr-defined]
        self.notes_edit.blockSignals(True)
        self.notes_edit.setPlainText(notes or "")
        self.notes_edit.blockSignals(False)
        self._notes_changed()

    def _notes_changed(self) -> None:
        stored = self.record.meta.notes if self.record is not None else None  # type: ignore[attr-defined]
        dirty = self.record is not None and self.notes_edit.toPlainText() != (stored or "")
        self.notes_save.setEnabled(dirty)
        self.notes_revert.setEnabled(dirty)
        self.tabs.setTabText(self.tabs.indexOf(self.notes_edit.parentWidget()),
                             "Notes •" if (stored or dirty) else "Notes")  # fmt: skip

    def save_notes(self) -> None:
        """Store the edited notes with the session (the library keeps them)."""
        if self.current_id is None:
            return
        text = self.notes_edit.toPlainText().strip()
        try:
            self.store.set_notes(self.current_id, text)  # type: ignore[attr-defined]
            self.record = self.store.load_session(self.current_id)  # type: ignore[attr-defined]
        except (BadInput, OSError, sqlite3.Error) as exc:
            QMessageBox.warning(self, "pressure-logger", f"cannot save the notes: {exc}")
            return
        self.header.setText(session_header(self.record))
        self._show_notes()
        self.statusBar().showMessage("notes saved", 5000)

    def _run(self, action, done: str) -> None:
        try:
            action()
        except (BadInput, DeviceError) as exc:
            QMessageBox.warning(self, "pressure-logger", str(exc))
            return
        self.statusBar().showMessage(done, 10000)
