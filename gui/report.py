"""The printable session report: an A4 PDF written with Qt's own ``QPdfWriter``.

Contents: session metadata (client pseudonym, therapist, device, calibration and its date),
the timeline, alerts and gaps, the holds table, per-point statistics with left/right
differences, and, with a reference session, the comparison scores, one overlay per point
and the trainee's progress. Text is real PDF text (searchable, extractable); plots are the
review window's own pyqtgraph widgets in a light theme, rendered at twice their size.

With ``deidentify`` the report is written from a
:class:`~logger.deidentify.DeidentifiedStore`: no client, therapist or notes, dates shifted
(day 0 = 1 January 1985), random session ids; the audit trail records every report.

The document is laid out twice: once into memory to count the pages (the footer says
"page n of N"), then into a temporary file beside the target, renamed into place at the
end, so a failed report never leaves a partial PDF.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QBuffer, QIODevice, QMarginsF, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QPen,
)
from PySide6.QtWidgets import QApplication, QWidget

from logger.compare import (
    SessionComparison,
    compare_sessions,
    name_key,
    progress,
    session_data_from_store,
)
from logger.deidentify import DeidentifiedStore, SessionReader, deidentified
from logger.errors import BadInput, DeviceError
from logger.files import atomic_write
from logger.point_stats import left_right, point_stats
from logger.store import AuditAction

from .format import calibration_source, hms, local_time, num, point_label, unsaved_text
from .review.comparison import (
    COMPARE_COLUMNS,
    PROGRESS_COLUMNS,
    comparison_cells,
    comparison_summary,
    progress_cells,
)
from .review.plots import LegendEntry, OverlayPlot, ProgressPlot
from .review.tables import (
    HOLD_COLUMNS,
    LR_COLUMNS,
    STATS_COLUMNS,
    hold_cells,
    lr_cells,
    stats_cells,
)
from .review.timeline import TimelinePlot

log = logging.getLogger(__name__)

DPI = 300
KEEP_TOGETHER_ROWS = 15
MARGIN_MM = 15.0
FONT_FAMILY = "DejaVu Sans"


@dataclass(frozen=True, slots=True)
class ReportSummary:
    path: Path
    pages: int
    holds: int
    points: int
    compared_points: int


def _mm(mm: float) -> float:
    return mm / 25.4 * DPI


def _font(pt: float, bold: bool = False) -> QFont:
    f = QFont(FONT_FAMILY)
    # no ligatures: a session id copied out of the PDF must read "06ff", never "06ﬀ"
    f.setFeature(QFont.Tag("liga"), 0)
    f.setPointSizeF(pt)
    f.setBold(bold)
    return f


def render_widget(widget: QWidget, size_px: tuple[int, int]) -> QImage:
    """The widget drawn offscreen at ``size_px``.

    ``QWidget.grab`` rather than a scaled painter: a QGraphicsView applies a painter's
    scale twice and would show a quarter of the plot.
    """
    widget.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    widget.resize(*size_px)
    widget.show()
    QApplication.processEvents()
    image = widget.grab().toImage()
    widget.hide()
    return image


class _Doc:
    """A flowing A4 document: headings, paragraphs, tables and images, paginated."""

    def __init__(self, writer: QPdfWriter, title: str, total_pages: int | None) -> None:
        self.writer = writer
        self.painter = QPainter(writer)
        layout = writer.pageLayout()
        rect = layout.paintRectPixels(DPI)
        self.width = float(rect.width())
        self.height = float(rect.height())
        self.footer_h = _mm(8)
        self.bottom = self.height - self.footer_h
        self.y = 0.0
        self.page = 1
        self.title = title
        self.total = total_pages
        self.painter.setPen(QColor("#111111"))

    # ------------------------------------------------------------ pages
    def _footer(self) -> None:
        p = self.painter
        p.save()
        p.setFont(_font(7.5))
        p.setPen(QColor("#666666"))
        y = self.height - self.footer_h * 0.55
        p.drawLine(
            0, int(self.height - self.footer_h), int(self.width), int(self.height - self.footer_h)
        )
        p.drawText(
            QRectF(0, y, self.width, self.footer_h * 0.6), Qt.AlignmentFlag.AlignLeft, self.title
        )
        total = f" of {self.total}" if self.total else ""
        p.drawText(
            QRectF(0, y, self.width, self.footer_h * 0.6),
            Qt.AlignmentFlag.AlignRight,
            f"page {self.page}{total}",
        )
        p.restore()

    def new_page(self) -> None:
        self._footer()
        self.writer.newPage()
        self.page += 1
        self.y = 0.0

    def ensure(self, height: float) -> None:
        if self.y + height > self.bottom and self.y > 0:
            self.new_page()

    def finish(self) -> int:
        self._footer()
        self.painter.end()
        return self.page

    # ---------------------------------------------------------- content
    def space(self, mm: float) -> None:
        self.y += _mm(mm)

    def heading(self, text: str, pt: float = 13.0) -> None:
        font = _font(pt, bold=True)
        h = QFontMetricsF(font, self.writer).height() * 1.5
        self.ensure(h + _mm(25))  # never a heading alone at the foot of a page
        self.painter.setFont(font)
        self.painter.drawText(QRectF(0, self.y, self.width, h), Qt.AlignmentFlag.AlignBottom, text)
        self.y += h + _mm(1.5)

    def paragraph(self, text: str, pt: float = 9.0, colour: str = "#111111") -> None:
        font = _font(pt)
        fm = QFontMetricsF(font, self.writer)
        flags = int(Qt.TextFlag.TextWordWrap)
        rect = fm.boundingRect(QRectF(0, 0, self.width, 1e6), flags, text)
        self.ensure(rect.height())
        self.painter.setFont(font)
        self.painter.setPen(QColor(colour))
        self.painter.drawText(QRectF(0, self.y, self.width, rect.height() + 2), flags, text)
        self.painter.setPen(QColor("#111111"))
        self.y += rect.height() + _mm(1.5)

    def key_values(self, rows: Sequence[tuple[str, str]], pt: float = 9.0) -> None:
        font, bold = _font(pt), _font(pt, bold=True)
        fm = QFontMetricsF(font, self.writer)
        line = fm.height() * 1.25
        key_w = max(QFontMetricsF(bold, self.writer).horizontalAdvance(k) for k, _ in rows) + _mm(4)
        for key, value in rows:
            rect = fm.boundingRect(
                QRectF(0, 0, self.width - key_w, 1e6), int(Qt.TextFlag.TextWordWrap), value
            )
            h = max(line, rect.height() + line - fm.height())
            self.ensure(h)
            self.painter.setFont(bold)
            self.painter.drawText(QRectF(0, self.y, key_w, h), Qt.AlignmentFlag.AlignTop, key)
            self.painter.setFont(font)
            self.painter.drawText(
                QRectF(key_w, self.y, self.width - key_w, h),
                int(Qt.TextFlag.TextWordWrap) | int(Qt.AlignmentFlag.AlignTop),
                value,
            )
            self.y += h
        self.y += _mm(2)

    def table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        pt: float = 8.0,
        first_left: int = 1,
        stretch: int = 0,
    ) -> None:
        """A ruled table; widths from the content, the header repeated on every page."""
        font, bold = _font(pt), _font(pt, bold=True)
        fm, fmb = QFontMetricsF(font, self.writer), QFontMetricsF(bold, self.writer)
        pad = _mm(1.2)
        widths = [fmb.horizontalAdvance(c) + 2 * pad for c in columns]
        for r in rows:
            for i, cell in enumerate(r):
                widths[i] = max(widths[i], fm.horizontalAdvance(cell) + 2 * pad)
        total = sum(widths)
        scale = self.width / total if total > self.width else 1.0
        if total < self.width and widths:  # the slack goes to the name column
            widths[stretch] += self.width - total
        widths = [w * scale for w in widths]
        row_h = fm.height() * 1.45

        def header() -> None:
            self.painter.fillRect(QRectF(0, self.y, sum(widths), row_h), QColor("#e3eaf2"))
            self.painter.setFont(bold)
            x = 0.0
            for i, c in enumerate(columns):
                align = (
                    Qt.AlignmentFlag.AlignLeft if i < first_left else Qt.AlignmentFlag.AlignRight
                )
                self.painter.drawText(
                    QRectF(x + pad, self.y, widths[i] - 2 * pad, row_h),
                    int(align) | int(Qt.AlignmentFlag.AlignVCenter),
                    c,
                )
                x += widths[i]
            self.y += row_h

        # a short table stays on one page; a long one starts with at least three rows
        self.ensure(row_h * (len(rows) + 1 if len(rows) <= KEEP_TOGETHER_ROWS else 4))
        header()
        pen = QPen(QColor("#c8d0d8"))
        pen.setWidthF(_mm(0.15))
        for k, r in enumerate(rows):
            if self.y + row_h > self.bottom:
                self.new_page()
                header()
            if k % 2:
                self.painter.fillRect(QRectF(0, self.y, sum(widths), row_h), QColor("#f5f7fa"))
            self.painter.setFont(font)
            x = 0.0
            for i, cell in enumerate(r):
                align = (
                    Qt.AlignmentFlag.AlignLeft if i < first_left else Qt.AlignmentFlag.AlignRight
                )
                self.painter.drawText(
                    QRectF(x + pad, self.y, widths[i] - 2 * pad, row_h),
                    int(align) | int(Qt.AlignmentFlag.AlignVCenter),
                    fm.elidedText(cell, Qt.TextElideMode.ElideRight, widths[i] - 2 * pad),
                )
                x += widths[i]
            self.y += row_h
            self.painter.setPen(pen)
            self.painter.drawLine(0, int(self.y), int(sum(widths)), int(self.y))
            self.painter.setPen(QColor("#111111"))
        self.y += _mm(3)

    def image(
        self,
        image: QImage,
        height_mm: float,
        x_frac: float = 0.0,
        w_frac: float = 1.0,
        advance: bool = True,
    ) -> None:
        h = _mm(height_mm)
        if advance or x_frac == 0.0:
            self.ensure(h)
        target = QRectF(self.width * x_frac, self.y, self.width * w_frac, h)
        self.painter.drawImage(target, image)
        if advance:
            self.y += h + _mm(2)


LEGEND_PT = 8.0


def _legend_row(doc: _Doc, entries: Sequence[LegendEntry], x: float, y: float, w: float) -> float:
    """Swatches and labels at :data:`LEGEND_PT` (real text in the PDF), wrapped onto as
    many rows as needed; returns the height used."""
    p = doc.painter
    font = _font(LEGEND_PT)
    fm = QFontMetricsF(font, doc.writer)
    h = fm.height()
    p.save()
    p.setFont(font)
    cx, cy = x, y
    sw = _mm(6)
    for e in entries:
        need = sw + _mm(1) + fm.horizontalAdvance(e.label)
        if cx > x and cx + need > x + w:
            cx, cy = x, cy + h * 1.15
        mid = cy + h / 2
        if e.band:
            p.fillRect(QRectF(cx, mid - _mm(1.2), sw, _mm(2.4)), QColor(e.colour))
        else:
            pen = QPen(QColor(e.colour))
            pen.setWidthF(_mm(0.12) * e.width)
            if e.dashed:
                pen.setStyle(Qt.PenStyle.DashLine)
            p.setPen(pen)
            p.drawLine(QPointF(cx, mid), QPointF(cx + sw, mid))
        p.setPen(QColor("#222222"))
        p.drawText(QRectF(cx + sw + _mm(1), cy, w, h), Qt.AlignmentFlag.AlignLeft, e.label)
        cx += need + _mm(3)
    p.restore()
    return cy + h - y


def _pdf_writer(device: str | QIODevice, title: str) -> QPdfWriter:
    writer = QPdfWriter(device)
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageOrientation(QPageLayout.Orientation.Portrait)
    writer.setPageMargins(
        QMarginsF(MARGIN_MM, MARGIN_MM, MARGIN_MM, MARGIN_MM), QPageLayout.Unit.Millimeter
    )
    writer.setResolution(DPI)
    writer.setTitle(title)
    writer.setCreator("pressure-logger")
    return writer


def _build(doc: _Doc, parts: dict) -> None:
    rec = parts["record"]
    m = rec.meta
    cal = m.calibration
    day: int | None = parts.get("day")
    doc.heading("Pressure session report", 16)
    doc.paragraph(f"Session {rec.id}", 10, "#444444")
    if day is not None:
        doc.paragraph(
            "De-identified hand-over: client, therapist and notes removed; session ids "
            "replaced; dates shifted so that this session starts on day 0 (1 January 1985).",
            9,
            "#444444",
        )
    removed = "removed (de-identified)"
    doc.key_values(
        [
            ("Client (pseudonym)", removed if day is not None else m.client or "—"),
            ("Therapist", removed if day is not None else m.therapist or "—"),
            (
                "Started",
                f"day {day} (shifted date {local_time(m.started_at)} UTC)"
                if day is not None
                else f"{local_time(m.started_at)} UTC",
            ),
            ("Ended", f"{local_time(rec.ended_at)} UTC" if rec.ended_at else "—"),
            ("Status", str(rec.status)),
            ("Duration", hms(rec.stats.duration_s)),
            (
                "Device",
                f"{m.device.uid}, firmware {m.device.firmware}, protocol {m.device.protocol}, "
                f"{m.device.rate_hz:g} Hz, {m.device.channels} channel(s)",
            ),
            (
                "Calibration",
                f"{cal.model}, {cal.counts_per_n:g} counts/N, offset {cal.offset_counts:g} "
                f"counts; {calibration_source(cal.source, cal.created_at)}",
            ),
            (
                "Samples",
                f"{rec.stats.samples} recorded, {rec.stats.lost_samples} lost, "
                f"{rec.stats.crc_errors} CRC errors, {rec.stats.reconnects} reconnects"
                + unsaved_text(rec.stats.unsaved_samples),
            ),
            ("Points", "; ".join(p.name for p in rec.points) or "—"),
            ("Notes", removed if day is not None else m.notes or "—"),
        ]
    )
    doc.heading("Timeline")
    doc.image(parts["timeline"], 56)
    doc.paragraph(
        "Holds shaded; green bands: the point's target window over its holds; dashed "
        "horizontal lines: warn (orange) and max (red) levels; dashed vertical lines: marks "
        "(point labels); triangles: alerts; grey bands: gaps (samples lost, not interpolated).",
        7.5,
        "#555555",
    )
    doc.heading("Alerts")
    if rec.alerts:
        names = {p.index: p.name for p in rec.points}
        doc.table(
            ("time", "kind", "point", "hold", "value"),
            [
                [
                    hms(a.t_s),
                    str(a.kind),
                    point_label(a.point_index, names),
                    str(a.hold_index + 1) if a.hold_index is not None else "—",
                    num(a.value, "s" if a.kind == "hold_duration" else "N"),
                ]
                for a in rec.alerts
            ],
            first_left=3,
            stretch=2,
        )
    else:
        doc.paragraph("No alerts.")
    if rec.gaps:
        doc.heading("Gaps")
        doc.table(
            ("start", "end", "lost samples", "cause"),
            [[hms(g.start_s), hms(g.end_s), str(g.lost_samples), str(g.cause)] for g in rec.gaps],
            first_left=4,
            stretch=3,
        )
    doc.heading("Holds")
    if rec.holds:
        doc.table(HOLD_COLUMNS, [hold_cells(h) for h in rec.holds], first_left=2, stretch=1)
    else:
        doc.paragraph("No holds.")
    stats = parts["stats"]
    if len(stats) <= KEEP_TOGETHER_ROWS:  # heading, table and note on one page
        doc.ensure(_mm(4.6) * (len(stats) + 1) + _mm(22))
    doc.heading("Per-point statistics")
    doc.table(STATS_COLUMNS, [stats_cells(s) for s in stats])
    doc.paragraph(
        "Mean of trials: mean of the holds' plateau means. CV trials: between-trial "
        "variation; CV plateau: steadiness within a hold (mean over trials).",
        7.5,
        "#555555",
    )
    # only pairs measured on both sides: a lone side says nothing about symmetry
    pairs = [
        p for p in left_right(stats) if p.left_mean_n is not None and p.right_mean_n is not None
    ]
    if pairs:
        doc.heading("Left / right", 11)
        doc.table(LR_COLUMNS, [lr_cells(p) for p in pairs])
    comparison: SessionComparison | None = parts.get("comparison")
    if comparison is None:
        return
    ref = parts["reference_record"]
    doc.ensure(_mm(110))  # the comparison table and the first overlays together
    doc.heading("Comparison with the reference")
    doc.paragraph(
        f"Reference {ref.id}: {ref.meta.therapist or '—'}, client {ref.meta.client or '—'}, "
        f"{local_time(ref.meta.started_at)}. Holds aligned at onset; the reference template "
        "is the mean of its holds at each point; errors are over every trainee trial."
    )
    doc.paragraph(comparison_summary(comparison), 9.5)
    doc.table(COMPARE_COLUMNS, comparison_cells(comparison))
    doc.heading("Overlays", 11)
    images = parts["overlays"]
    block_h = 0.0
    for k, (name, image, legend) in enumerate(images):
        col = k % 2
        if col == 0:
            doc.ensure(_mm(66))
        x = doc.width * 0.5 * col
        doc.painter.setFont(_font(8.5, bold=True))
        doc.painter.drawText(
            QRectF(x, doc.y, doc.width * 0.49, _mm(5)), Qt.AlignmentFlag.AlignLeft, name
        )
        # the legend as text above the plot, never over the curves
        legend_h = _legend_row(doc, legend, x, doc.y + _mm(5), doc.width * 0.47)
        top = doc.y + _mm(5) + legend_h + _mm(1)
        doc.painter.drawImage(QRectF(x, top, doc.width * 0.49, _mm(48)), image)
        block_h = max(block_h, top + _mm(48) - doc.y)
        if col == 1 or k == len(images) - 1:
            doc.y += block_h + _mm(3)
            block_h = 0.0
    entries = parts.get("progress") or []
    if len(entries) > 1:
        doc.heading("Progress against this reference", 11)
        doc.image(parts["progress_plot"], 55)
        doc.table(
            PROGRESS_COLUMNS,
            progress_cells(entries),
            first_left=2,
            stretch=1,
        )


def _prepare(store: SessionReader, sid: str, reference_sid: str | None) -> dict:
    rec = store.load_session(sid)
    parts: dict = {"record": rec, "stats": point_stats(rec.holds, rec.points)}
    if isinstance(store, DeidentifiedStore):
        parts["day"] = store.day(rec.meta.started_at)
    timeline = TimelinePlot(light=True)
    timeline.resize(1100, 400)
    timeline.set_session(store, rec)
    parts["timeline"] = render_widget(timeline, (1100, 400))
    timeline.deleteLater()
    if reference_sid is None:
        return parts
    ref = store.load_session(reference_sid)
    trainee = session_data_from_store(store, sid)
    reference = session_data_from_store(store, reference_sid)
    comparison = compare_sessions(trainee, reference)
    parts.update(reference_record=ref, comparison=comparison)
    overlays = []
    plot = OverlayPlot(light=True)
    for pc in comparison.points:
        key = name_key(pc.point)
        curves = [c for c in trainee.curves if name_key(c.point) == key]
        plot.show_curves(
            curves, reference_n=pc.reference_curve_n, dt_s=pc.dt_s, target_n=pc.target_n
        )
        overlays.append((pc.point, render_widget(plot, (560, 380)), list(plot.legend_entries)))
    plot.deleteLater()
    parts["overlays"] = overlays
    therapist = rec.meta.therapist
    if therapist:
        ids = [s.id for s in store.list_sessions(therapist=therapist) if s.id != reference_sid]
        if len(ids) > 1:
            entries = progress([session_data_from_store(store, i) for i in ids], reference)
            pp = ProgressPlot(light=True)
            pp.show_progress(entries)
            parts["progress"] = entries
            parts["progress_plot"] = render_widget(pp, (1000, 380))
            pp.deleteLater()
    return parts


def write_report(
    store: SessionReader,
    sid: str,
    path: str | os.PathLike[str],
    *,
    reference_sid: str | None = None,
    progress_callback: Callable[[str], None] | None = None,
    deidentify: bool = False,
) -> ReportSummary:
    """Write the A4 report of session ``sid`` (and its comparison with ``reference_sid``)
    and log it in the audit trail; ``deidentify`` writes the hand-over version.

    Needs a ``QApplication``. Unknown sessions raise ``BadInput`` before anything is written.
    """
    if QApplication.instance() is None:
        raise RuntimeError("write_report needs a QApplication")
    path = Path(path)
    if reference_sid is not None and reference_sid == sid:
        raise BadInput(f"--reference {reference_sid}: the session cannot be its own reference")
    if deidentify:
        store = deidentified(store, sid)
    parts = _prepare(store, sid, reference_sid)
    title = f"pressure-logger report · session {parts['record'].id}"
    if reference_sid:
        title += f" · reference {parts['reference_record'].id}"

    # pass 1: count pages
    buffer = QBuffer()  # its own internal byte array
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    counting = _Doc(_pdf_writer(buffer, title), title, None)
    _build(counting, parts)
    pages = counting.finish()
    buffer.close()

    with atomic_write(path) as tmp:
        writer = _pdf_writer(str(tmp), title)
        doc = _Doc(writer, title, pages)
        if not doc.painter.isActive():
            raise DeviceError(f"{path}: cannot write the PDF")
        _build(doc, parts)
        doc.finish()
        del writer
        if tmp.stat().st_size == 0:
            raise DeviceError(f"{path}: cannot write the PDF")
    store.log_audit(
        AuditAction.REPORT,
        [sid] if reference_sid is None else [sid, reference_sid],
        out=str(path.absolute()),
    )
    log.info("report %s: %d pages", path, pages)
    return ReportSummary(
        path,
        pages,
        len(parts["record"].holds),
        len(parts["stats"]),
        len(parts["comparison"].points) if "comparison" in parts else 0,
    )
