"""The report's page layout: A4 geometry, a flowing document of blocks (headings,
paragraphs, key/value lists, ruled tables, images, captioned figures in pairs) with page
breaks and a "page n of N" footer, drawn with a ``QPainter`` on a ``QPdfWriter``.

It knows nothing of sessions: :mod:`gui.report.content` says what goes on the pages.

:func:`write_pdf` lays a document out twice: once into memory to count the pages (the
footer says "page n of N"; images only take their room there, undrawn), then into a
temporary file beside the target, renamed into place at the end, so a failed report never
leaves a partial PDF.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

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

from logger.errors import DeviceError
from logger.files import atomic_write

DPI = 300
KEEP_TOGETHER_ROWS = 15
"""A table of at most this many rows is never split over two pages."""
MARGIN_MM = 15.0
FONT_FAMILY = "DejaVu Sans"
LEGEND_PT = 8.0
TEXT_COLOUR = "#111111"


def mm(value: float) -> float:
    """``value`` millimetres in device pixels (:data:`DPI`)."""
    return value / 25.4 * DPI


def font(pt: float, bold: bool = False) -> QFont:
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


class Swatch(Protocol):
    """One legend line: a plot's :class:`~gui.review.plots.LegendEntry` is one."""

    @property
    def label(self) -> str: ...
    @property
    def colour(self) -> str: ...
    @property
    def width(self) -> float: ...
    @property
    def dashed(self) -> bool: ...
    @property
    def band(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Figure:
    """A plot image with a caption above it and its legend printed as text between them."""

    caption: str
    image: QImage
    legend: tuple[Swatch, ...] = ()


class Doc:
    """A flowing A4 document: headings, paragraphs, tables and images, paginated."""

    def __init__(self, writer: QPdfWriter, title: str, total_pages: int | None) -> None:
        self.writer = writer
        self.painter = QPainter(writer)
        layout = writer.pageLayout()
        rect = layout.paintRectPixels(DPI)
        self.width = float(rect.width())
        self.height = float(rect.height())
        self.footer_h = mm(8)
        self.bottom = self.height - self.footer_h
        self.y = 0.0
        self.page = 1
        self.title = title
        self.total = total_pages
        self.painter.setPen(QColor(TEXT_COLOUR))

    # ------------------------------------------------------------ pages
    def _footer(self) -> None:
        p = self.painter
        p.save()
        p.setFont(font(7.5))
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
        """A new page unless ``height`` pixels still fit on this one (or it is empty)."""
        if self.y + height > self.bottom and self.y > 0:
            self.new_page()

    def finish(self) -> int:
        """Close the document; returns its page count."""
        self._footer()
        self.painter.end()
        return self.page

    # ---------------------------------------------------------- content
    def space(self, height_mm: float) -> None:
        self.y += mm(height_mm)

    def heading(self, text: str, pt: float = 13.0) -> None:
        f = font(pt, bold=True)
        h = QFontMetricsF(f, self.writer).height() * 1.5
        self.ensure(h + mm(25))  # never a heading alone at the foot of a page
        self.painter.setFont(f)
        self.painter.drawText(QRectF(0, self.y, self.width, h), Qt.AlignmentFlag.AlignBottom, text)
        self.y += h + mm(1.5)

    def paragraph(self, text: str, pt: float = 9.0, colour: str = TEXT_COLOUR) -> None:
        f = font(pt)
        fm = QFontMetricsF(f, self.writer)
        flags = int(Qt.TextFlag.TextWordWrap)
        rect = fm.boundingRect(QRectF(0, 0, self.width, 1e6), flags, text)
        self.ensure(rect.height())
        self.painter.setFont(f)
        self.painter.setPen(QColor(colour))
        self.painter.drawText(QRectF(0, self.y, self.width, rect.height() + 2), flags, text)
        self.painter.setPen(QColor(TEXT_COLOUR))
        self.y += rect.height() + mm(1.5)

    def key_values(self, rows: Sequence[tuple[str, str]], pt: float = 9.0) -> None:
        regular, bold = font(pt), font(pt, bold=True)
        fm = QFontMetricsF(regular, self.writer)
        line = fm.height() * 1.25
        key_w = max(QFontMetricsF(bold, self.writer).horizontalAdvance(k) for k, _ in rows) + mm(4)
        for key, value in rows:
            rect = fm.boundingRect(
                QRectF(0, 0, self.width - key_w, 1e6), int(Qt.TextFlag.TextWordWrap), value
            )
            h = max(line, rect.height() + line - fm.height())
            self.ensure(h)
            self.painter.setFont(bold)
            self.painter.drawText(QRectF(0, self.y, key_w, h), Qt.AlignmentFlag.AlignTop, key)
            self.painter.setFont(regular)
            self.painter.drawText(
                QRectF(key_w, self.y, self.width - key_w, h),
                int(Qt.TextFlag.TextWordWrap) | int(Qt.AlignmentFlag.AlignTop),
                value,
            )
            self.y += h
        self.y += mm(2)

    def table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        pt: float = 8.0,
        first_left: int = 1,
        stretch: int = 0,
    ) -> None:
        """A ruled table; widths from the content, the header repeated on every page.

        Columns before ``first_left`` are left-aligned, the rest right-aligned; the slack
        of a narrow table goes to column ``stretch``."""
        regular, bold = font(pt), font(pt, bold=True)
        fm, fmb = QFontMetricsF(regular, self.writer), QFontMetricsF(bold, self.writer)
        pad = mm(1.2)
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
        pen.setWidthF(mm(0.15))
        for k, r in enumerate(rows):
            if self.y + row_h > self.bottom:
                self.new_page()
                header()
            if k % 2:
                self.painter.fillRect(QRectF(0, self.y, sum(widths), row_h), QColor("#f5f7fa"))
            self.painter.setFont(regular)
            x = 0.0
            for i, cell in enumerate(r):
                align = (
                    Qt.AlignmentFlag.AlignLeft if i < first_left else Qt.AlignmentFlag.AlignRight
                )
                self.painter.drawText(
                    QRectF(x + pad, self.y, widths[i] - 2 * pad, row_h),
                    int(align) | int(Qt.AlignmentFlag.AlignVCenter),
                    _fitted(fm, cell, widths[i] - 2 * pad),
                )
                x += widths[i]
            self.y += row_h
            self.painter.setPen(pen)
            self.painter.drawLine(0, int(self.y), int(sum(widths)), int(self.y))
            self.painter.setPen(QColor(TEXT_COLOUR))
        self.y += mm(3)

    def image(
        self,
        image: QImage,
        height_mm: float,
        x_frac: float = 0.0,
        w_frac: float = 1.0,
        advance: bool = True,
    ) -> None:
        h = mm(height_mm)
        if advance or x_frac == 0.0:
            self.ensure(h)
        self._draw_image(QRectF(self.width * x_frac, self.y, self.width * w_frac, h), image)
        if advance:
            self.y += h + mm(2)

    def _draw_image(self, target: QRectF, image: QImage) -> None:
        """``image`` in ``target``; on the pass that only counts the pages (``total`` None)
        it just takes its room: compressing its pixels into a PDF thrown away cost two
        thirds of that pass."""
        if self.total is not None:
            self.painter.drawImage(target, image)

    def legend(self, entries: Sequence[Swatch], x: float, y: float, w: float) -> float:
        """Swatches and labels at :data:`LEGEND_PT` (real text in the PDF), wrapped onto as
        many rows as needed within ``w``; returns the height used."""
        p = self.painter
        f = font(LEGEND_PT)
        fm = QFontMetricsF(f, self.writer)
        h = fm.height()
        p.save()
        p.setFont(f)
        cx, cy = x, y
        sw = mm(6)
        for e in entries:
            need = sw + mm(1) + fm.horizontalAdvance(e.label)
            if cx > x and cx + need > x + w:
                cx, cy = x, cy + h * 1.15
            mid = cy + h / 2
            if e.band:
                p.fillRect(QRectF(cx, mid - mm(1.2), sw, mm(2.4)), QColor(e.colour))
            else:
                pen = QPen(QColor(e.colour))
                pen.setWidthF(mm(0.12) * e.width)
                if e.dashed:
                    pen.setStyle(Qt.PenStyle.DashLine)
                p.setPen(pen)
                p.drawLine(QPointF(cx, mid), QPointF(cx + sw, mid))
            p.setPen(QColor("#222222"))
            p.drawText(QRectF(cx + sw + mm(1), cy, w, h), Qt.AlignmentFlag.AlignLeft, e.label)
            cx += need + mm(3)
        p.restore()
        return cy + h - y

    def figure_pairs(
        self, figures: Sequence[Figure], *, image_mm: float = 48.0, keep_mm: float = 66.0
    ) -> None:
        """Figures two to a row, each with its caption and its legend above the image
        (never over the curves); a row starts on a new page unless ``keep_mm`` fit."""
        block_h = 0.0
        for k, fig in enumerate(figures):
            col = k % 2
            if col == 0:
                self.ensure(mm(keep_mm))
            x = self.width * 0.5 * col
            self.painter.setFont(font(8.5, bold=True))
            self.painter.drawText(
                QRectF(x, self.y, self.width * 0.49, mm(5)), Qt.AlignmentFlag.AlignLeft, fig.caption
            )
            legend_h = self.legend(fig.legend, x, self.y + mm(5), self.width * 0.47)
            top = self.y + mm(5) + legend_h + mm(1)
            self._draw_image(QRectF(x, top, self.width * 0.49, mm(image_mm)), fig.image)
            block_h = max(block_h, top + mm(image_mm) - self.y)
            if col == 1 or k == len(figures) - 1:
                self.y += block_h + mm(3)
                block_h = 0.0


def _fitted(fm: QFontMetricsF, text: str, width: float) -> str:
    """``text``, elided only when it does not fit: the widest cell of a column is exactly
    as wide as the column, give or take the rounding of ``width + 2·pad − 2·pad``, which
    ``elidedText`` alone would cut (half a device pixel of slack)."""
    if fm.horizontalAdvance(text) <= width + 0.5:
        return text
    return fm.elidedText(text, Qt.TextElideMode.ElideRight, width)


def pdf_writer(device: str | QIODevice, title: str) -> QPdfWriter:
    """An A4 portrait writer at :data:`DPI` with :data:`MARGIN_MM` margins."""
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


def _lay_out(doc: Doc, build: Callable[[Doc], None]) -> int:
    """``build`` on ``doc``, then the last footer; the painter is ended even when ``build``
    fails (a painter left active on a writer that goes away crashes Qt)."""
    try:
        build(doc)
    except BaseException:
        doc.painter.end()
        raise
    return doc.finish()


def write_pdf(path: Path, title: str, build: Callable[[Doc], None]) -> int:
    """Write the document that ``build`` lays out to ``path``; returns its page count.

    ``build`` runs twice (page count, then the file) and must draw the same both times.
    """
    buffer = QBuffer()  # its own internal byte array
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    pages = _lay_out(Doc(pdf_writer(buffer, title), title, None), build)
    buffer.close()

    with atomic_write(path) as tmp:
        writer = pdf_writer(str(tmp), title)
        doc = Doc(writer, title, pages)
        if not doc.painter.isActive():
            raise DeviceError(f"{path}: cannot write the PDF")
        _lay_out(doc, build)
        del writer
        if tmp.stat().st_size == 0:
            raise DeviceError(f"{path}: cannot write the PDF")
    return pages
