"""The session timeline: the whole session at once from the store's min/max summary, and
full resolution once the view is narrow enough.

Zooming and scrolling reload only what is visible, after a short debounce: the min/max
envelope (``load_overview``, a few thousand rows whatever the session length) while the
view holds more than :data:`DETAIL_MAX_SAMPLES` samples, else the samples themselves
(``load_forces``). Holds are shaded, marks are labelled lines, alerts are red triangles at
their value, gaps are grey bands, zero events are dotted lines labelled with the force
they removed; samples are never drawn across a gap.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import QWidget

from logger.compare import GAP_FACTOR
from logger.deidentify import LibraryReader
from logger.records import AlertKind
from logger.store import SessionRecord

from .. import theme
from ..axes import TimeAxis, plain_axes, print_axes, print_font, side_view
from ..format import hms, plural, point_label
from ..report.clinical import ClinicalParts, rating_steps

log = logging.getLogger(__name__)

DETAIL_MAX_SAMPLES = 40_000
"""Full resolution when the visible range holds at most this many samples."""
DEBOUNCE_MS = 40
BAND_HALF_HEIGHT_N = 1e5  # hold/gap bands reach far beyond any force
LABEL_ROWS = 3
"""Mark labels are staggered over this many rows before they are elided."""
LABEL_MAX_PX = 180.0
PAIN_MAX = 10.0
TARGET_MAX_POINTS = 4000
"""The guided target is drawn with at most this many points (it is piecewise linear)."""


def _escape(text: str) -> str:
    """InfLineLabel formats its text with ``str.format``: braces in a name stay braces."""
    return text.replace("{", "{{").replace("}", "}}")


def session_limits(config: dict) -> tuple[float | None, float | None]:
    """Session-wide (warn_n, max_n) from a stored config (``[limits]`` in docs/CONFIG.md)."""
    limits = config.get("limits") if isinstance(config, dict) else None
    if not isinstance(limits, dict):
        return None, None
    out = []
    for key in ("warn_n", "max_n"):
        v = limits.get(key)
        out.append(float(v) if isinstance(v, int | float) and math.isfinite(v) else None)
    return out[0], out[1]


class TimelinePlot(pg.PlotWidget):
    """Force against session time for one stored session.

    ``rangeLoaded(mode)`` is emitted after each (re)load of the visible range, with
    ``mode`` "overview" (min/max envelope) or "detail" (every sample).
    """

    rangeLoaded = Signal(str)  # "overview" | "detail" after each (re)load

    def __init__(self, parent: QWidget | None = None, *, light: bool = False) -> None:
        super().__init__(
            parent,
            background="w" if light else theme.BACKGROUND,
            axisItems={"bottom": TimeAxis("bottom")},
            enableMenu=False,
        )
        self.light = light
        self.store: LibraryReader | None = None
        self.record: SessionRecord | None = None
        self.mode = "empty"
        self.shown_samples = 0
        fg = "#333333" if light else theme.TEXT_DIM
        item = self.getPlotItem()
        plain_axes(item)
        item.setLabel("bottom", "session time")
        item.setLabel("left", "force", units="N")
        item.showGrid(x=True, y=True, alpha=0.2)
        for axis in ("left", "bottom", "right"):
            item.getAxis(axis).setPen(fg)
            item.getAxis(axis).setTextPen(fg)
        item.getAxis("right").enableAutoSIPrefix(False)
        if light:
            print_axes(item)
            item.getAxis("right").setStyle(tickFont=print_font())
        item.setMouseEnabled(x=True, y=False)
        self.trace_colour = "#1565c0" if light else theme.ACCENT
        self._env_lo = pg.PlotDataItem(pen=pg.mkPen(self.trace_colour, width=1))
        self._env_hi = pg.PlotDataItem(pen=pg.mkPen(self.trace_colour, width=1))
        self._env_fill = pg.FillBetweenItem(self._env_lo, self._env_hi, brush=self.trace_colour)
        self._detail = pg.PlotDataItem(pen=pg.mkPen(self.trace_colour, width=1.5))
        self._detail.setClipToView(True)
        self._decorations: list[pg.GraphicsObject] = []
        self.bands: list[pg.BarGraphItem] = []
        self.mark_lines: list[pg.InfiniteLine] = []
        self.zero_lines: list[pg.InfiniteLine] = []
        self.limit_levels_n: dict[str, float] = {}
        self.target_bands: pg.BarGraphItem | None = None
        self.pain_trace: pg.PlotDataItem | None = None
        self.signal_spots: pg.ScatterPlotItem | None = None
        self.profile_target: pg.PlotDataItem | None = None
        self._pain_view: pg.ViewBox | None = None
        self._pain_axis: pg.AxisItem | None = None
        self._alerts = pg.ScatterPlotItem(
            symbol="t", size=11, brush=pg.mkBrush(theme.MAX), pen=pg.mkPen("k" if light else "w")
        )
        for it in (self._env_fill, self._env_lo, self._env_hi, self._detail):
            item.addItem(it)
        item.addItem(self._alerts)
        self._alerts.setZValue(20)
        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self.reload_visible)
        item.sigXRangeChanged.connect(lambda *_: self._timer.start())

    def hideEvent(self, event) -> None:  # noqa: N802 (Qt name)
        # a pending reload must not run after the window (and maybe its store) is gone
        self._timer.stop()
        super().hideEvent(event)

    # ------------------------------------------------------------- session
    @property
    def duration_s(self) -> float:
        if self.record is None:
            return 0.0
        return float(self.record.stats.duration_s or 0.0)

    @property
    def rate_hz(self) -> float:
        if self.record is None:
            return 0.0
        return float(self.record.meta.device.rate_hz or self.record.stats.rate_hz or 0.0)

    def set_session(self, store: LibraryReader, record: SessionRecord) -> None:
        """Show ``record`` (a ``SessionRecord``) from ``store``: whole session, decorated."""
        self.store, self.record = store, record
        item = self.getPlotItem()
        for deco in self._decorations:
            item.removeItem(deco)
        self._decorations.clear()
        self.bands.clear()
        self.mark_lines = []
        self.zero_lines = []
        self.limit_levels_n = {}
        self.target_bands = None
        self._clear_clinical()
        self._decorate(record)
        end = max(self.duration_s, 1.0)
        # limits first: the previous session's limits would clip the new range
        item.setLimits(xMin=-0.05 * end, xMax=1.05 * end, minXRange=0.05)
        item.setXRange(0.0, end, padding=0.01)
        self._timer.stop()  # the range is loaded here, not again once debounced
        self.reload_visible()
        self._fit_y()

    def _fit_y(self) -> None:
        lo, hi = 0.0, 10.0
        for data in (self._env_hi, self._detail):
            _, y = data.getData()
            if y is not None and len(y) and np.isfinite(y).any():
                hi = max(hi, float(np.nanmax(y)))
        for a in self.record.alerts if self.record is not None else []:
            hi = max(hi, float(a.value))
        for level in self.limit_levels_n.values():
            hi = max(hi, level)
        # room above the highest level for the staggered mark labels
        top = hi * (1.3 if self.mark_lines else 1.12)
        self.getPlotItem().setYRange(lo - 0.05 * hi, top, padding=0)

    def _decorate(self, rec: SessionRecord) -> None:
        item = self.getPlotItem()
        names = {p.index: p.name for p in rec.points}
        hold_brush = (21, 101, 192, 40) if self.light else theme.HOLD_FILL
        # one item per kind, not one per hold: an 8-hour session has hundreds of holds
        self._add_bands([(h.start_s, h.end_s) for h in rec.holds], hold_brush, None, -10)
        self._add_bands(
            [(g.start_s, g.end_s) for g in rec.gaps], (128, 128, 128, 90), "#888888", -5
        )
        for g in rec.gaps:
            label = pg.TextItem(f"gap ({g.cause})", color="#888", anchor=(0.5, 1.0))
            label.setToolTip(f"gap: {plural(g.lost_samples, 'sample')} lost ({g.cause})")
            self._add_anchored(label, (g.start_s + g.end_s) / 2)
        dim = "#555" if self.light else theme.TEXT_DIM
        mark_pen = pg.mkPen(dim, style=pg.QtCore.Qt.DashLine)
        self.mark_lines = []
        for m in sorted(rec.marks, key=lambda m: m.t_s):
            name = point_label(m.point_index, names, "mark")
            # hangs below the top, right of the line
            colour = "#222" if self.light else theme.TEXT
            line = self._event_line(m.t_s, mark_pen, name, f"{name} at {hms(m.t_s)}", 0.99,
                                    colour, (0, 0))  # fmt: skip
            line.full_label = name
            self.mark_lines.append(line)
        zero_pen = pg.mkPen(dim, style=Qt.PenStyle.DotLine)
        for z, removed_n in rec.zeros_removed_n():
            tip = f"zero ({z.source}) at {hms(z.t_s)}: removed {removed_n:+.2f} N from here on"
            text = f"zero {removed_n:+.2f} N"  # stands on the bottom, right of the line
            self.zero_lines.append(self._event_line(z.t_s, zero_pen, text, tip, 0.04, dim, (0, 1)))
        self._decorate_limits(rec)
        spots = []
        for a in rec.alerts:
            colour = theme.WARN if a.kind == AlertKind.WARN else theme.MAX
            value = float(a.value) if a.kind != AlertKind.HOLD_DURATION else 0.0
            spots.append(
                {
                    "pos": (a.t_s, value),
                    "brush": pg.mkBrush(colour),
                    "data": f"{a.kind} alert at {a.t_s:.1f} s: {a.value:.1f}",
                }
            )
        self._alerts.setData(spots)
        item.update()

    def _decorate_limits(self, rec: SessionRecord) -> None:
        """Target windows over each hold of a point that has one; warn/max levels as
        dashed lines (session-wide from the config, a point's own over its holds)."""
        points = {p.index: p for p in rec.points}
        spans = []
        for h in rec.holds:
            p = points.get(h.point_index) if h.point_index is not None else None
            if p is not None and p.target_n is not None:
                spans.append((h.start_s, h.end_s, *p.target_n))
        if spans:
            a = np.array(spans, dtype=float)
            band = pg.BarGraphItem(
                x0=a[:, 0],
                x1=a[:, 1],
                y0=a[:, 2],
                y1=a[:, 3],
                brush=pg.mkBrush(theme.TARGET_FILL),
                pen=pg.mkPen(None),
            )
            band.setZValue(-8)
            self.getPlotItem().addItem(band, ignoreBounds=True)
            self._decorations.append(band)
            self.target_bands = band
        warn_n, max_n = session_limits(rec.meta.config)
        self.limit_levels_n = {}
        warn_c, max_c = ("#e65100", "#c62828") if self.light else (theme.WARN, theme.MAX)
        for kind, level, colour in (("warn", warn_n, warn_c), ("max", max_n, max_c)):
            pen = pg.mkPen(colour, width=1.2, style=pg.QtCore.Qt.DashLine)
            if level is not None:
                line = pg.InfiniteLine(level, angle=0, pen=pen, movable=False)
                line.setZValue(5)
                self._add(line)
                self.limit_levels_n[kind] = level
            # a point's own level, over that point's holds only
            xs: list[float] = []
            ys: list[float] = []
            for h in rec.holds:
                p = points.get(h.point_index) if h.point_index is not None else None
                own = getattr(p, f"{kind}_n", None) if p is not None else None
                if own is not None and own != level:
                    xs += [h.start_s, h.end_s, np.nan]
                    ys += [own, own, np.nan]
                    self.limit_levels_n[kind] = max(self.limit_levels_n.get(kind, 0.0), own)
            if xs:
                seg = pg.PlotDataItem(xs, ys, pen=pen, connect="finite")
                seg.setZValue(5)
                self._add(seg)
        # named on the right axis, outside the plot: never under a mark label or the trace
        right = self.getPlotItem().getAxis("right")
        ticks = [(v, f"{k} {v:g}") for k, v in sorted(self.limit_levels_n.items())]
        right.setTicks([ticks, []])
        self.getPlotItem().showAxis("right", bool(ticks))

    def layout_mark_labels(self) -> None:
        """Stagger mark labels over up to :data:`LABEL_ROWS` rows so none overlaps, and
        elide a label that has no room (the full name is in its tooltip)."""
        lines = self.mark_lines
        if not lines:
            return
        vb = self.getPlotItem().getViewBox()
        width_px, height_px = float(vb.width()), float(vb.height())
        x0, x1 = self.visible_range()
        if width_px <= 0 or height_px <= 0 or x1 <= x0:
            return
        text_item = lines[0].label.textItem
        fm = QFontMetricsF(text_item.font())
        margin = text_item.document().documentMargin()
        row_h = fm.height() + 2 * margin + 1  # the label item's own height
        gap = 6.0
        placed: list[tuple[int, float, float, pg.InfiniteLine]] = []  # row, x, full width, line
        right = [-math.inf] * LABEL_ROWS
        for line in lines:
            x = (line.value() - x0) / (x1 - x0) * width_px
            w = min(fm.horizontalAdvance(line.full_label), LABEL_MAX_PX) + 2 * margin
            row = next((r for r in range(LABEL_ROWS) if x >= right[r] + gap), None)
            if row is None:
                row = int(np.argmin(right))
            right[row] = x + w
            placed.append((row, x, w, line))
        for k, (row, x, _, line) in enumerate(placed):
            nxt = next((p[1] for p in placed[k + 1 :] if p[0] == row), math.inf)
            room = min(nxt - x - gap, LABEL_MAX_PX + 2 * margin) - 2 * margin
            text = fm.elidedText(line.full_label, Qt.TextElideMode.ElideRight, max(room, 0.0))
            if room < fm.horizontalAdvance("M…"):
                text = ""
            line.label.setFormat(_escape(text))
            line.label.row = row
            line.label.setPosition(max(0.0, 1.0 - (1 + row * row_h) / height_px))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        # not during PlotWidget.__init__, nor after close() has dropped the plot item
        if getattr(self, "record", None) is not None and self.getPlotItem() is not None:
            self.layout_mark_labels()

    def _add_bands(
        self,
        spans: list[tuple[float, float]],
        brush: object,
        pen: str | None,
        z: float,
    ) -> None:
        """Vertical bands spanning the whole height, all in one BarGraphItem."""
        if not spans:
            return
        x0 = np.array([a for a, _ in spans], dtype=float)
        x1 = np.array([b for _, b in spans], dtype=float)
        bands = pg.BarGraphItem(
            x0=x0,
            x1=x1,
            y0=np.full(x0.size, -BAND_HALF_HEIGHT_N),
            y1=np.full(x0.size, BAND_HALF_HEIGHT_N),
            brush=pg.mkBrush(brush),
            pen=pg.mkPen(pen) if pen else pg.mkPen(None),
        )
        bands.setZValue(z)
        self.getPlotItem().addItem(bands, ignoreBounds=True)
        self._decorations.append(bands)
        self.bands.append(bands)

    def _event_line(
        self,
        t_s: float,
        pen: object,
        text: str,
        tip: str,
        position: float,
        colour: str,
        anchor: tuple[float, float],
    ) -> pg.InfiniteLine:
        """A labelled vertical line at ``t_s`` (a mark or a zero event)."""
        line = pg.InfiniteLine(
            t_s,
            angle=90,
            pen=pen,
            movable=False,
            label=_escape(text),
            labelOpts={
                "position": position,
                "color": colour,
                "anchors": [anchor, anchor],
                "rotateAxis": None,
            },
        )
        if self.light:
            line.label.setFont(print_font())
        line.setToolTip(tip)
        line.label.setToolTip(tip)
        self._add(line)
        return line

    def _add(self, obj: pg.GraphicsObject) -> None:
        self.getPlotItem().addItem(obj)
        self._decorations.append(obj)

    def _add_anchored(self, label: pg.TextItem, x: float) -> None:
        label.setPos(x, 0)
        self._add(label)

    # ------------------------------------------------------------ clinical
    def set_clinical(self, parts: ClinicalParts) -> None:
        """Draw what the client said and the guided target over the session set last:
        pain ratings as a step trace on a 0–10 axis of their own (right), signals as stars
        at the force they came at, a guided profile's target as a dashed line. A session
        without any gets nothing (not even the axis)."""
        self._clear_clinical()
        colour = "#8e24aa" if self.light else "#e040fb"
        if parts.ratings:
            view, axis = self._pain()
            t, v = rating_steps(parts.ratings, self.duration_s)
            self.pain_trace = pg.PlotDataItem(t, v, pen=pg.mkPen(colour, width=2))
            view.addItem(self.pain_trace)
            axis.show()
            view.show()
        if parts.signals:
            self.signal_spots = pg.ScatterPlotItem(
                [s.t_s for s in parts.signals],
                list(parts.signal_n),
                symbol="star",
                size=15,
                brush=pg.mkBrush(colour),
                pen=pg.mkPen("k" if self.light else "w"),
            )
            self.signal_spots.setZValue(21)
            self.signal_spots.setToolTip("client signals")
            self._add(self.signal_spots)
        if parts.guided is not None:
            g = parts.guided
            step = max(1, -(-g.target_t_s.size // TARGET_MAX_POINTS))
            self.profile_target = pg.PlotDataItem(
                g.target_t_s[::step],
                g.target_n[::step],
                pen=pg.mkPen("#2e7d32" if self.light else theme.OK, width=2,
                             style=Qt.PenStyle.DashLine),
                connect="finite",
            )  # fmt: skip
            self.profile_target.setZValue(4)
            self._add(self.profile_target)

    def _pain(self) -> tuple[pg.ViewBox, pg.AxisItem]:
        """The ratings' own view box and axis, right of the limits' axis (made once)."""
        if self._pain_view is not None and self._pain_axis is not None:
            return self._pain_view, self._pain_axis
        item = self.getPlotItem()
        view = side_view()
        view.setMouseEnabled(False, False)
        axis = pg.AxisItem("right")
        fg = "#333333" if self.light else theme.TEXT_DIM
        axis.setPen(fg)
        axis.setTextPen(fg)
        axis.setLabel("pain (0–10)")
        if self.light:
            axis.setStyle(tickFont=print_font())
            axis.label.setFont(print_font())
        item.layout.addItem(axis, 2, 3)
        item.scene().addItem(view)
        axis.linkToView(view)
        view.setXLink(item.getViewBox())
        view.setYRange(0.0, PAIN_MAX * 1.3, padding=0)  # room for the mark labels, as above
        view.setZValue(item.getViewBox().zValue() + 1)
        item.getViewBox().sigResized.connect(self._place_pain)
        self._pain_view, self._pain_axis = view, axis
        self._place_pain()
        return view, axis

    def _place_pain(self, *_: object) -> None:
        if self._pain_view is not None:
            main = self.getPlotItem().getViewBox()
            self._pain_view.setGeometry(main.sceneBoundingRect())
            self._pain_view.linkedViewChanged(main, self._pain_view.XAxis)

    def _clear_clinical(self) -> None:
        for obj in (self.signal_spots, self.profile_target):
            if obj is not None and obj in self._decorations:
                self.getPlotItem().removeItem(obj)
                self._decorations.remove(obj)
        if self.pain_trace is not None and self._pain_view is not None:
            self._pain_view.removeItem(self.pain_trace)
        if self._pain_view is not None and self._pain_axis is not None:
            self._pain_view.hide()
            self._pain_axis.hide()
        self.pain_trace = self.signal_spots = self.profile_target = None

    # ---------------------------------------------------------- navigation
    def zoom_to(self, t0_s: float, t1_s: float, pad: float = 0.08) -> None:
        """Show ``[t0_s, t1_s]`` with a margin and load it (at full resolution if small)."""
        span = max(t1_s - t0_s, 0.1)
        self.getPlotItem().setXRange(t0_s - pad * span, t1_s + pad * span, padding=0)
        self._timer.stop()
        self.reload_visible()

    def show_all(self) -> None:
        self.zoom_to(0.0, max(self.duration_s, 1.0), pad=0.01)

    def visible_range(self) -> tuple[float, float]:
        (x0, x1), _ = self.getPlotItem().viewRange()
        return float(x0), float(x1)

    def reload_visible(self) -> None:
        """Load what the current view needs: envelope or full-resolution samples."""
        if self.record is None or self.store is None or self.getPlotItem() is None:
            return  # nothing shown, or a debounced reload after the widget was closed
        sid = self.record.id
        x0, x1 = self.visible_range()
        x0, x1 = max(x0, 0.0), min(x1, self.duration_s)
        if x1 <= x0:
            return
        samples = (x1 - x0) * self.rate_hz
        if self.rate_hz > 0 and samples <= DETAIL_MAX_SAMPLES:
            margin = 0.05 * (x1 - x0)
            t, f = self.store.load_forces(sid, x0 - margin, x1 + margin)
            f0 = f[:, 0] if f.ndim > 1 else f
            t, f0 = break_gaps(t, f0)
            self._detail.setData(t, f0, connect="finite")
            self._detail.show()
            self._env_fill.hide()
            self._env_lo.hide()
            self._env_hi.hide()
            self.mode = "detail"
            self.shown_samples = int(np.isfinite(f0).sum())
        else:
            width = max(self.width(), 400)
            t, lo, hi = self.store.load_overview(sid, x0, x1, max_points=2 * width)
            t, lo, hi = break_gaps(t, lo, hi)
            self._env_lo.setData(t, lo, connect="finite")
            self._env_hi.setData(t, hi, connect="finite")
            self._env_fill.setCurves(self._env_lo, self._env_hi)
            for it in (self._env_fill, self._env_lo, self._env_hi):
                it.show()
            self._detail.hide()
            self.mode = "overview"
            self.shown_samples = int(len(t))
        self.layout_mark_labels()
        self.rangeLoaded.emit(self.mode)


def _breaks(t_s: np.ndarray, limit_s: float) -> np.ndarray:
    """Indices where a NaN goes so that no line spans a step longer than ``limit_s``."""
    if t_s.size < 3 or not math.isfinite(limit_s):
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(np.diff(t_s) > limit_s) + 1


def break_gaps(t_s: np.ndarray, *ys: np.ndarray) -> tuple[np.ndarray, ...]:
    """Insert NaN after every sample followed by a gap (more than ``GAP_FACTOR`` median
    intervals), so a line is never drawn across it. Works for envelopes too (evenly spaced
    buckets: a missing bucket is a gap)."""
    if t_s.size < 3:
        return (t_s, *ys)
    limit = GAP_FACTOR * float(np.median(np.diff(t_s)))
    at = _breaks(t_s, limit)
    if at.size == 0:
        return (t_s, *ys)
    return tuple(np.insert(np.asarray(a, dtype=float), at, np.nan) for a in (t_s, *ys))
