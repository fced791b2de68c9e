"""The session library: every stored session, filtered and sorted the way trainers look
for them (by trainee/therapist, client pseudonym, point, date and the protocols it ran:
a trainee's drills, a client's PPT rounds). On a station with a
school library configured, a ``sync`` column tells each session's state there
(:meth:`SessionLibrary.set_sync`)."""

from __future__ import annotations

import logging
import math
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import QDate, QEvent, QObject, Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QFormLayout,
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

from logger.errors import StorageError
from logger.store import SessionSummary
from logger.store.open import describe

from ..axes import clock
from ..format import local_time, plural

log = logging.getLogger(__name__)

COLUMNS = ("date", "therapist", "client", "status", "time", "holds", "alerts", "protocol")
COLUMN_TIPS = (
    "start (UTC)",
    "therapist / trainee",
    "client pseudonym",
    "complete, interrupted or recording",
    "duration",
    "holds detected",
    "alerts raised",
    "the protocols it ran: PPT rounds, drills, a guided profile",
)
NUMBERS = range(4, 7)  # right-aligned
PROTOCOL_COLUMN = 7
# the protocol filter's choices → list_sessions(protocol=…)
PROTOCOLS = {"any": None, "PPT": "ppt", "drill": "drill", "guided": "guided"}
# with a school library (set_sync) one more column, after the others
SYNC_COLUMN = len(COLUMNS)
SYNC_HEADER = "sync"
SYNC_HEADER_TIP = "the school library: synced, changed since its sync (sent again), — not yet"
# a SyncState's value → the column's text (recording: sent once it ends)
SYNC_TEXT = {"synced": "synced", "changed since sync": "changed"}
SYNC_UNKNOWN = "?"  # the sync state could not be read
ELIDABLE = (1, 2, PROTOCOL_COLUMN)
"""Columns narrowed (text elided, full text in the tooltip) when the table is too narrow."""
MIN_ELIDED_PX = 44
CELL_PAD_PX = 10  # a cell's margins on both sides
HEADER_PAD_PX = CELL_PAD_PX + 9  # a header's text is bold, with the style's padding too
MIN_WIDTH_PX = 540  # every column visible (therapist, client, protocol elided); sync: wider
STATUS_TEXT = {"complete": "complete", "interrupted": "interr.", "recording": "rec."}
REFERENCE_TIP = " · the reference session"
ANY = "any"
NO_DATE = QDate(2000, 1, 1)


class _Item(QTableWidgetItem):
    """A cell that sorts by its ``sort_key`` (numbers as numbers, dates as ISO text)."""

    def __init__(self, text: str, sort_key: object) -> None:
        super().__init__(text)
        self.sort_key = sort_key
        self.setFlags(self.flags() & ~Qt.ItemFlag.ItemIsEditable)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        if isinstance(other, _Item):
            try:
                return self.sort_key < other.sort_key  # type: ignore[operator]
            except TypeError:
                return str(self.sort_key) < str(other.sort_key)
        return super().__lt__(other)


class SessionLibrary(QWidget):
    """Filter fields over a sortable table of :class:`SessionSummary` rows.

    Signals: ``sessionSelected(id)`` when the current row changes,
    ``referenceRequested(id)`` from the "Use as reference" button.
    """

    sessionSelected = Signal(str)
    referenceRequested = Signal(str)

    def __init__(self, store: object, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.summaries: list[SessionSummary] = []
        self.reference_id: str | None = None
        self._points_cache: dict[str, list[str]] = {}
        self.sync_source: tuple[Path, str] | None = None  # (station library, school URL)
        self.sync_states: dict[str, str] = {}  # session id → SyncState value
        self.sync_error = ""  # why the states could not be read

        self.therapist = QLineEdit(placeholderText="therapist / trainee")
        self.client = QLineEdit(placeholderText="client pseudonym")
        self.point = QComboBox(editable=True)
        self.point.lineEdit().setPlaceholderText("point")
        self.status = QComboBox()
        self.status.addItems([ANY, "complete", "interrupted", "recording"])
        self.protocol = QComboBox()
        self.protocol.addItems(list(PROTOCOLS))
        self.protocol.setToolTip("only sessions that ran this protocol")
        self.since = self._date_edit()
        self.until = self._date_edit()
        refresh = QPushButton("Refresh")
        self.use_reference = QPushButton("Use as reference")
        self.use_reference.setToolTip("Compare the session on review with this one")

        form = QFormLayout()
        form.addRow("Therapist", self.therapist)
        form.addRow("Client", self.client)
        form.addRow("Point", self.point)
        form.addRow("Status", self.status)
        form.addRow("Protocol", self.protocol)
        dates = QHBoxLayout()
        dates.addWidget(self.since)
        dates.addWidget(QLabel("–"))
        dates.addWidget(self.until)
        form.addRow("Dates", dates)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        for col, tip in enumerate(COLUMN_TIPS):
            self.table.horizontalHeaderItem(col).setToolTip(tip)
        font = self.table.font()
        font.setPointSizeF(font.pointSizeF() * 0.85)
        self.table.setFont(font)
        size_pt = font.pointSizeF()
        # the application style sheet resolves fonts itself: setFont alone is ignored here
        self.table.horizontalHeader().setStyleSheet(
            f"QHeaderView {{ font-size: {size_pt:.1f}pt; }}"
        )
        self.table.horizontalHeader().setFont(font)
        self.table.horizontalHeader().setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setSortingEnabled(True)
        self.table.sortItems(0, Qt.SortOrder.DescendingOrder)  # newest first
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        header.setMinimumSectionSize(24)
        self.table.viewport().installEventFilter(self)
        self.setMinimumWidth(MIN_WIDTH_PX)
        self.count = QLabel()
        self.count.setObjectName("dim")

        buttons = QHBoxLayout()
        buttons.addWidget(self.count, 1)
        buttons.addWidget(self.use_reference)
        buttons.addWidget(refresh)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

        for edit in (self.therapist, self.client):
            edit.textChanged.connect(self._apply_filters)
        self.point.currentTextChanged.connect(self.refresh)
        self.status.currentTextChanged.connect(self.refresh)
        self.protocol.currentTextChanged.connect(self.refresh)
        self.since.dateChanged.connect(self.refresh)
        self.until.dateChanged.connect(self.refresh)
        refresh.clicked.connect(self.refresh)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.use_reference.clicked.connect(self._reference_clicked)
        self.refresh()

    @staticmethod
    def _date_edit() -> QDateEdit:
        edit = QDateEdit(calendarPopup=True)
        edit.setDisplayFormat("yyyy-MM-dd")
        edit.setMinimumDate(NO_DATE)
        edit.setSpecialValueText("any")
        edit.setDate(NO_DATE)
        return edit

    # ------------------------------------------------------------------ data
    def refresh(self) -> None:
        """Query the store with the point/status/date filters, then filter by text."""
        current = self.selected_id()
        kwargs: dict[str, object] = {}
        point = self.point.currentText().strip()
        if point:
            kwargs["point"] = point
        if self.status.currentText() != ANY:
            kwargs["status"] = self.status.currentText()
        if PROTOCOLS[self.protocol.currentText()] is not None:
            kwargs["protocol"] = PROTOCOLS[self.protocol.currentText()]
        if self.since.date() != NO_DATE:
            kwargs["since"] = self.since.date().toString("yyyy-MM-dd") + "T00:00:00+00:00"
        if self.until.date() != NO_DATE:
            kwargs["until"] = self.until.date().toString("yyyy-MM-dd") + "T23:59:59+00:00"
        self.summaries = self.store.list_sessions(**kwargs)  # type: ignore[attr-defined]
        self._read_sync_states()
        self._fill()
        self._update_point_names()
        if current:
            self.select(current)

    def _update_point_names(self) -> None:
        names: set[str] = set()
        for s in self.summaries:
            if s.id not in self._points_cache:
                rec = self.store.load_session(s.id)  # type: ignore[attr-defined]
                self._points_cache[s.id] = [p.name for p in rec.points]
            names.update(self._points_cache[s.id])
        text = self.point.currentText()
        self.point.blockSignals(True)
        self.point.clear()
        self.point.addItem("")
        self.point.addItems(sorted(names))
        self.point.setCurrentText(text)
        self.point.blockSignals(False)

    def _fill(self) -> None:
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(self.summaries))
        dates = distinct_dates([s.started_at for s in self.summaries])
        for row, s in enumerate(self.summaries):
            status = str(s.status)
            cells = (
                _Item(dates[row], s.started_at),
                _Item(s.therapist or "—", (s.therapist or "").casefold()),
                _Item(s.client or "—", (s.client or "").casefold()),
                _Item(STATUS_TEXT.get(status, status), status),
                _Item(clock(round(s.duration_s)) if s.duration_s else "—", s.duration_s),
                _Item(str(s.holds), s.holds),
                _Item(str(s.alerts), s.alerts),
                _Item(s.protocols or "—", s.protocols),
            ) + ((_Item("", ""),) if self.sync_source is not None else ())
            lost = f" · {plural(s.lost_samples, 'sample')} lost" if s.lost_samples else ""
            if lost:
                cells[3].setText(cells[3].text() + " !")
            tips = (f"{local_time(s.started_at)} UTC · session {s.id}", None, None, status + lost)
            for col, item in enumerate(cells):
                item.setData(Qt.ItemDataRole.UserRole, s.id)
                item.setToolTip((tips[col] if col < len(tips) else None) or item.text())
                if col in NUMBERS:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(row, col, item)
            if self.sync_source is not None:
                self._show_sync_cell(cells[SYNC_COLUMN], s.id)
        self.table.setSortingEnabled(True)
        self._apply_filters()
        self.set_reference(self.reference_id)
        self.fit_columns()

    def fit_columns(self) -> None:
        """Every column within the viewport: widths from the content, then the protocol
        column narrowed to its header, then the therapist, client and protocol columns
        (elided; the tooltip has the full text) if needed."""
        # from the text, not the header's size hint: that reserves room for a sort arrow
        # in every column and doubles the width of the numeric ones
        fm = QFontMetrics(self.table.font())
        bold = QFont(self.table.font())
        bold.setBold(True)
        fmb = QFontMetrics(bold)
        pad = CELL_PAD_PX
        names = COLUMNS + ((SYNC_HEADER,) if self.sync_source is not None else ())
        widths = [fmb.horizontalAdvance(name) + HEADER_PAD_PX for name in names]
        for r in range(self.table.rowCount()):
            if self.table.isRowHidden(r):
                continue
            for c in range(len(names)):
                item = self.table.item(r, c)
                if item is None:  # the sync column, before its cells are filled
                    continue
                metrics = fmb if item.font().bold() else fm
                widths[c] = max(widths[c], metrics.horizontalAdvance(item.text()) + pad)
        avail = self.table.viewport().width()
        excess = sum(widths) - avail
        if excess > 0 and self.table.columnCount() > PROTOCOL_COLUMN:  # first the protocols,
            # down to their header (the tooltip has the label): the names matter more
            header = fmb.horizontalAdvance(COLUMNS[PROTOCOL_COLUMN]) + HEADER_PAD_PX
            cut = min(excess, max(widths[PROTOCOL_COLUMN] - header, 0))
            widths[PROTOCOL_COLUMN] -= cut
            excess -= cut
        if excess > 0:
            room = {c: max(widths[c] - MIN_ELIDED_PX, 0) for c in ELIDABLE}
            total = sum(room.values())
            for c in ELIDABLE:
                cut = min(room[c], excess * room[c] / total) if total else 0
                widths[c] -= int(math.ceil(cut))
        elif excess < 0:
            widths[1] += -excess  # the slack to the therapist column
        for c, w in enumerate(widths):
            self.table.setColumnWidth(c, w)

    # ------------------------------------------------------------- sync state
    def set_sync(self, db: Path, url: str | None) -> None:
        """Show each session's state in the school library at ``url`` (None: no column),
        as the station library ``db`` records it (``logger.store.sync``)."""
        self.sync_source = (Path(db), url) if url else None
        extra = 0
        self.table.setColumnCount(len(COLUMNS) + (self.sync_source is not None))
        if self.sync_source is not None:  # room for the column: its header or "changed"
            header = QTableWidgetItem(SYNC_HEADER)
            header.setToolTip(SYNC_HEADER_TIP)
            self.table.setHorizontalHeaderItem(SYNC_COLUMN, header)
            bold = QFont(self.table.font())
            bold.setBold(True)
            extra = max(
                QFontMetrics(bold).horizontalAdvance(SYNC_HEADER) + HEADER_PAD_PX,
                QFontMetrics(self.table.font()).horizontalAdvance("changed") + CELL_PAD_PX,
            )
        self.setMinimumWidth(MIN_WIDTH_PX + extra)
        self.refresh()

    def refresh_sync(self) -> None:
        """Read the sync states again (a sync pass ended) and show them."""
        self._read_sync_states()
        if self.sync_source is None:
            return
        for r in range(self.table.rowCount()):
            item = self.table.item(r, SYNC_COLUMN)
            if item is not None:
                self._show_sync_cell(item, item.data(Qt.ItemDataRole.UserRole))
        self.fit_columns()

    def _read_sync_states(self) -> None:
        self.sync_states, self.sync_error = {}, ""
        if self.sync_source is None:
            return
        from logger.store.sync import session_sync_states  # psycopg: only when wanted

        db, url = self.sync_source
        try:
            self.sync_states = dict(session_sync_states(db, url))
        except StorageError as exc:
            self.sync_error = str(exc)
            log.warning("sync state not readable: %s", exc)

    def _show_sync_cell(self, item: QTableWidgetItem, sid: str) -> None:
        assert self.sync_source is not None
        state = self.sync_states.get(sid, "not synced")
        text = SYNC_UNKNOWN if self.sync_error else SYNC_TEXT.get(state, "—")
        tip = {"recording": "recording: sent once it ends"}.get(state, state)
        tip = f"{self.sync_error or tip} · {describe(self.sync_source[1])}"
        item.setText(text)
        item.setToolTip(tip + REFERENCE_TIP if sid == self.reference_id else tip)
        if isinstance(item, _Item):
            item.sort_key = text

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt name)
        if obj is self.table.viewport() and event.type() == QEvent.Type.Resize:
            self.fit_columns()
        return super().eventFilter(obj, event)

    def _apply_filters(self) -> None:
        therapist = self.therapist.text().strip().casefold()
        client = self.client.text().strip().casefold()
        shown = 0
        for row in range(self.table.rowCount()):
            th = self.table.item(row, 1).text().casefold()
            cl = self.table.item(row, 2).text().casefold()
            hide = bool(therapist and therapist not in th) or bool(client and client not in cl)
            self.table.setRowHidden(row, hide)
            shown += not hide
        self.count.setText(f"{shown} of {plural(len(self.summaries), 'session')}")

    # ------------------------------------------------------------- selection
    def visible_ids(self) -> list[str]:
        """Session ids in the table's current order, hidden rows left out."""
        return [
            self.table.item(r, 0).data(Qt.ItemDataRole.UserRole)
            for r in range(self.table.rowCount())
            if not self.table.isRowHidden(r)
        ]

    def selected_id(self) -> str | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        return self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole)

    def select(self, sid: str) -> bool:
        for r in range(self.table.rowCount()):
            if self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) == sid:
                self.table.selectRow(r)
                return True
        return False

    def set_reference(self, sid: str | None) -> None:
        """Mark the reference session's row (bold; its tooltips say so)."""
        self.reference_id = sid
        for r in range(self.table.rowCount()):
            is_ref = self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) == sid
            for c in range(self.table.columnCount()):
                item = self.table.item(r, c)
                font = QFont(self.table.font())  # item.font() is the application's size
                font.setBold(is_ref)
                item.setFont(font)
                tip = item.toolTip().removesuffix(REFERENCE_TIP)
                item.setToolTip(tip + REFERENCE_TIP if is_ref else tip)
        self.fit_columns()

    def summary(self, sid: str) -> SessionSummary | None:
        return next((s for s in self.summaries if s.id == sid), None)

    def _selection_changed(self) -> None:
        sid = self.selected_id()
        if sid:
            self.sessionSelected.emit(sid)

    def _reference_clicked(self) -> None:
        sid = self.selected_id()
        if sid:
            self.referenceRequested.emit(sid)


def short_date(started_at: str, today: datetime | None = None) -> str:
    """``27 Nov 14:52`` this year, ``27 Nov 2025`` before (UTC, as ``local_time``)."""
    full = local_time(started_at)
    dt = parse_started(started_at)
    if dt is None:
        return full
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC)
    now = today or datetime.now(UTC)
    if dt.year == now.year:
        return dt.strftime("%d %b %H:%M")
    return dt.strftime("%d %b %Y")


def distinct_dates(started: list[str], today: datetime | None = None) -> list[str]:
    """``short_date`` of each start, with the time to the second (and the year) where two
    would otherwise read the same, so two sessions in one minute are told apart."""
    short = [short_date(s, today) for s in started]
    counts = Counter(short)
    out = []
    for text, iso in zip(short, started, strict=True):
        dt = parse_started(iso)
        if counts[text] > 1 and dt is not None:
            dt = dt.astimezone(UTC) if dt.tzinfo is not None else dt  # naive: UTC already
            text = dt.strftime("%d %b %Y %H:%M:%S")
        out.append(text)
    return out


def parse_started(started_at: str) -> datetime | None:
    try:
        return datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    except ValueError:
        return None
