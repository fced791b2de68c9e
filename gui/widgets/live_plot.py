"""The live force plot: a rolling window drawn from numpy arrays at frame rate.

The main window hands it the ring buffer's window once per frame (``set_data``); the plot
never receives a Qt signal per sample. What pyqtgraph gets is the window reduced to one
minimum and one maximum per pixel column (``column_envelope``), so a 10-minute window at
1 kHz (600,000 samples) costs the painter no more than a 10-second one, and a one-sample
spike is never hidden. Columns sit at fixed multiples of the column width in device time,
so the trace does not shimmer as it scrolls. Paused, the plot gets every sample (with
pyqtgraph's peak downsampling) so zooming in shows them.

Overlays: warn and max limit lines, the current point's target window (a band), holds
shaded as they happen, marks as labelled vertical lines, and a red tint while an alert is
active. Pausing freezes the view (recording goes on elsewhere) and lets the user pan and
zoom back through what the ring buffer still holds.
"""

from __future__ import annotations

import logging
from collections import deque

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .. import theme
from ..axes import TimeAxis, no_si_prefix
from ..display import DisplayUnits

log = logging.getLogger(__name__)

WINDOW_CHOICES_S: tuple[float, ...] = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
DEFAULT_WINDOW_S = 30.0
MAX_OVERLAYS = 400
STEP_COLUMNS = 8  # the live view scrolls this many pixel columns at a time
MARK_ROWS = (0.99, 0.925, 0.86)  # heights (fraction of the plot) of the mark label rows
MARK_GAP_PX = 8
HEADROOM = 1.25  # y range top over the highest limit: room for the mark labels above it
_LABEL_STYLE = {
    "font-size": f"{theme.BASE_PT}pt",
    "color": theme.TEXT_DIM,
}  # hold regions / mark lines kept on the plot (older ones are dropped)


def column_envelope(
    t_s: np.ndarray, y: np.ndarray, column_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(t_s, y)`` reduced to two points per column of ``column_s`` seconds (columns at
    multiples of ``column_s``): the column's minimum and maximum, in the order the trace
    passes them (so consecutive columns join up), at a quarter and three quarters of the
    column. Columns without samples are left out; ``t_s`` is ascending. The points stay
    put while a column fills unless its extremes change, so an unchanged picture can be
    recognised and not repainted."""
    n = t_s.shape[0]
    if n == 0 or column_s <= 0:
        return t_s, y
    first, last = np.floor(t_s[0] / column_s), np.floor(t_s[-1] / column_s)
    edges = np.arange(first + 1.0, last + 1.0) * column_s
    starts = np.unique(np.concatenate(([0], np.searchsorted(t_s, edges, side="left"))))
    starts = starts[starts < n]
    ends = np.append(starts[1:], n) - 1  # last sample of each column
    lo, hi = np.minimum.reduceat(y, starts), np.maximum.reduceat(y, starts)
    rising = y[ends] >= y[starts]
    x = np.empty(2 * starts.shape[0], dtype=np.float64)
    env = np.empty(2 * starts.shape[0], dtype=y.dtype)
    column = np.floor(t_s[starts] / column_s)
    x[0::2], x[1::2] = (column + 0.25) * column_s, (column + 0.75) * column_s
    env[0::2] = np.where(rising, lo, hi)
    env[1::2] = np.where(rising, hi, lo)
    return x, env


def _dataset(curve) -> tuple[np.ndarray, np.ndarray]:
    """What a PlotDataItem or PlotCurveItem was last given (empty arrays for nothing)."""
    if isinstance(curve, pg.PlotDataItem):
        x, y = curve.getOriginalDataset()
    else:
        x, y = curve.getData()
    return (np.empty(0) if x is None else x), (np.empty(0) if y is None else y)


class LivePlot(QWidget):
    """Rolling force plot. Forces come in as newtons; ``units`` decides what the axis shows."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(antialias=False, foreground=theme.TEXT_DIM)
        self.time_axis = TimeAxis("bottom")
        self.plot_widget = pg.PlotWidget(
            background=theme.PANEL, axisItems={"bottom": self.time_axis}
        )
        # the plot paints every pixel of itself: the panels behind it are not repainted
        # along with it on every frame
        for w in (self, self.plot_widget, self.plot_widget.viewport()):
            w.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.plot_item: pg.PlotItem = self.plot_widget.getPlotItem()
        self.plot_item.setClipToView(True)
        self.plot_item.hideButtons()
        self.plot_item.setMenuEnabled(False)
        self.plot_item.setLabel("bottom", "time (min:s)", **_LABEL_STYLE)
        axis_font = theme.font(theme.BASE_PT)
        for name in ("left", "bottom", "right"):
            self.plot_item.getAxis(name).setTickFont(axis_font)
        self.view_box: pg.ViewBox = self.plot_item.getViewBox()
        self.view_box.setMouseEnabled(x=False, y=False)
        self.curve: pg.PlotDataItem = self.plot_item.plot(
            pen=pg.mkPen(theme.ACCENT, width=1), skipFiniteCheck=True
        )
        self.curve.setZValue(10)
        # the newest few columns, drawn by an item of their own: while the view stands
        # still only this narrow strip is repainted (QGraphicsView repaints what changed)
        self.recent_curve = pg.PlotCurveItem(  # the plain item: set every frame
            pen=pg.mkPen(theme.ACCENT, width=1), skipFiniteCheck=True
        )
        self.recent_curve.setZValue(10)
        self.view_box.addItem(self.recent_curve)

        dash = Qt.PenStyle.DashLine
        label_opts = {  # at the right end, clear of the mark labels along the top left
            "position": 1.0,
            "color": theme.TEXT,
            "fill": (15, 20, 25, 180),
            "anchors": [(1, 1), (1, 1)],
        }
        self.warn_line = pg.InfiniteLine(
            angle=0, pen=pg.mkPen(theme.WARN, width=2, style=dash), label="", labelOpts=label_opts
        )
        self.max_line = pg.InfiniteLine(
            angle=0, pen=pg.mkPen(theme.MAX, width=2, style=dash), label="", labelOpts=label_opts
        )
        self.target_band = pg.LinearRegionItem(
            orientation="horizontal",
            movable=False,
            brush=pg.mkBrush(*theme.TARGET_FILL),
            pen=pg.mkPen(theme.OK, width=1),
        )
        self.live_hold = pg.LinearRegionItem(
            movable=False, brush=pg.mkBrush(*theme.HOLD_FILL), pen=pg.mkPen(None)
        )
        for item in (self.warn_line, self.max_line, self.target_band, self.live_hold):
            item.setVisible(False)
            self.plot_item.addItem(item, ignoreBounds=True)

        # horizontal reference lines (solid, opaque): pyqtgraph's alpha-blended grid and a
        # wide pen each cost more than the whole 600,000-point trace (benchmarks/gui_frame.py)
        self._grid: list[pg.InfiniteLine] = []
        self._holds: deque[tuple[float, pg.LinearRegionItem]] = deque()
        self._marks: deque[tuple[float, pg.InfiniteLine]] = deque()
        self._gaps: deque[tuple[float, pg.LinearRegionItem]] = deque()  # (end_s, band)
        self.link_banner = QLabel(self)  # "no data: reconnecting…" over the plot
        self.link_banner.setObjectName("link_banner")
        self.link_banner.setStyleSheet(
            f"background: {theme.PANEL_RAISED}; color: {theme.WARN}; padding: 6px 14px;"
            f"border: 1px solid {theme.WARN}; border-radius: 4px;"
        )
        self.link_banner.setFont(theme.font(theme.BIG_PT, bold=True))
        self.link_banner.hide()
        self.units = DisplayUnits()
        self.window_s = DEFAULT_WINDOW_S
        self.paused = False
        self._warn_n: float | None = None
        self._max_n: float | None = None
        self._target_n: tuple[float, float] | None = None
        self._y_top = 0.0
        self._tinted = False
        self.points_drawn = 0  # samples in the window last handed in
        self._t = np.empty(0)
        self._y = np.empty(0)
        self._x_range = (0.0, 0.0)  # the view's time range last set
        self._strip_start_s = 0.0  # where the newest, repainted strip begins

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)
        self.set_units(self.units)

    # ------------------------------------------------------------------ configuration
    def set_units(self, units: DisplayUnits) -> None:
        """Axis in ``units.unit``; a right axis in kPa when a contact area is set."""
        self.units = units
        self.plot_item.setLabel("left", "force", units=units.unit, **_LABEL_STYLE)
        no_si_prefix(self.plot_item.getAxis("left"))
        kpa = units.kpa_per_newton
        if kpa is None:
            self.plot_item.hideAxis("right")
        else:
            self.plot_item.showAxis("right")
            right = self.plot_item.getAxis("right")
            right.setScale(kpa / units.per_newton)
            right.setLabel("pressure", units="kPa", **_LABEL_STYLE)
            no_si_prefix(right)
        self._place_overlays()

    def set_window_s(self, window_s: float) -> None:
        """The rolling window's width, 10 s to 10 min (mark labels restacked for it)."""
        self.window_s = float(min(max(window_s, WINDOW_CHOICES_S[0]), WINDOW_CHOICES_S[-1]))
        self._stack_mark_labels()

    def set_limits(self, warn_n: float | None, max_n: float | None) -> None:
        self._warn_n, self._max_n = warn_n, max_n
        self._place_overlays()

    def set_target(self, target_n: tuple[float, float] | None) -> None:
        """The current point's target window, or None to hide the band."""
        self._target_n = target_n
        self._place_overlays()

    def _place_overlays(self) -> None:
        k = self.units.per_newton
        for line, level, name in (
            (self.warn_line, self._warn_n, "warn"),
            (self.max_line, self._max_n, "max"),
        ):
            line.setVisible(level is not None)
            if level is not None:
                line.setPos(level * k)
                line.label.setFormat(f"{name} {self.units.force(level)}")
        self.target_band.setVisible(self._target_n is not None)
        if self._target_n is not None:
            lo, hi = self._target_n
            self.target_band.setRegion((lo * k, hi * k))

    def set_paused(self, paused: bool) -> None:
        """Freeze the view (mouse pans and zooms back in time); recording is not affected."""
        if paused == self.paused:
            return
        self.paused = paused
        self.view_box.setMouseEnabled(x=paused, y=paused)
        # paused: every sample, so zooming in shows them; live: one envelope per column
        self.curve.setDownsampling(auto=paused, method="peak")
        if paused:
            self.curve.setData(x=self._t, y=self._y, skipFiniteCheck=True)
            self.recent_curve.setData(x=np.empty(0), y=np.empty(0))
        if not paused:
            self.view_box.enableAutoRange(enable=False)
            self._x_range = (0.0, 0.0)  # the user may have panned: the next frame re-sets it
        self._apply_tint()

    def set_alert_tint(self, on: bool) -> None:
        """Tint the plot red while an alert is active."""
        if on != self._tinted:
            self._tinted = on
            self._apply_tint()

    @property
    def alert_tinted(self) -> bool:
        return self._tinted

    def _apply_tint(self) -> None:
        if self._tinted:
            self.view_box.setBackgroundColor(QColor(*theme.ALERT_TINT))
        elif self.paused:
            self.view_box.setBackgroundColor(QColor(*theme.PAUSED_TINT))
        else:
            self.view_box.setBackgroundColor(None)

    # ------------------------------------------------------------------ per frame
    def set_data(self, t_s: np.ndarray, force_n: np.ndarray) -> None:
        """Draw the newest samples (``t_s`` ascending, newest last; forces in N).

        Called once per frame with a copy of the ring buffer's window. While paused the
        data is left as it was so the user can look back at it.
        """
        if self.paused:
            return
        force = np.asarray(force_n)
        if force.ndim == 2:
            force = force[:, 0]
        t = np.asarray(t_s)
        self.points_drawn = int(t.shape[0])
        k = self.units.per_newton
        y = force if k == 1.0 else force * np.asarray(k, dtype=force.dtype)
        self._t, self._y = t, y
        if t.shape[0] == 0:
            self.curve.setData(x=np.empty(0), y=np.empty(0))
            self.recent_curve.setData(x=np.empty(0), y=np.empty(0))
            return
        column_s = self.window_s / (self.view_box.width() or 1000.0)
        step_s = STEP_COLUMNS * column_s
        t_end = float(t[-1])
        # the view moves STEP_COLUMNS whole pixel columns at a time, when the newest sample
        # reaches its right edge; between steps only the strip of the newest columns changes
        t1 = max(self.window_s, float(np.ceil(t_end / step_s)) * step_s)
        t0 = t1 - self.window_s
        if (t0, t1) != self._x_range:
            self._x_range = (t0, t1)
            self.view_box.setXRange(t0, t1, padding=0.0)
        # whole columns only: the picture changes once per column (33 ms in a 30 s window,
        # 0.7 s in a 10 min one), not on every frame; the newest column shows when complete
        first = int(np.searchsorted(t, t0, side="left"))
        done = int(np.searchsorted(t, np.floor(t_end / column_s) * column_s, side="left"))
        x_env, y_env = column_envelope(t[first:done], y[first:done], column_s)
        t_strip = float(np.floor(t_end / step_s)) * step_s  # the step the newest sample is in
        x_env, y_env = self._broken_at_gaps(x_env, y_env, column_s)
        split = int(np.searchsorted(np.nan_to_num(x_env, nan=-np.inf), t_strip))
        self._set_curve(self.curve, x_env[:split], y_env[:split])
        recent = max(0, split - 1)  # joined to the last point of the history
        self._set_curve(self.recent_curve, x_env[recent:], y_env[recent:])
        self._strip_start_s = t_strip
        self._fit_y(y, t, t0)
        self._prune(t_end)
        for t_mark, line in self._marks:  # a mark scrolled off the left keeps no stray label
            if line.label.isVisible() != (t_mark >= t0):
                line.label.setVisible(t_mark >= t0)

    def _broken_at_gaps(
        self, x: np.ndarray, y: np.ndarray, column_s: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """A gap breaks the line (a NaN before the column of its first sample after): never
        drawn across, as if the device had sent a straight line."""
        if x.shape[0] < 2 or not self._gaps:
            return x, y
        ends = [np.floor(end / column_s) * column_s for end, _ in self._gaps if x[0] < end]
        at = np.searchsorted(x, ends)
        at = at[(at > 0) & (at < x.shape[0])]
        if not at.shape[0]:
            return x, y
        return np.insert(x, at, np.nan), np.insert(y.astype(np.float64), at, np.nan)

    @staticmethod
    def _set_curve(curve, x: np.ndarray, y: np.ndarray) -> None:
        """New data for ``curve`` only if it differs: an unchanged item is not repainted."""
        old_x, old_y = _dataset(curve)
        if np.array_equal(old_x, x, equal_nan=True) and np.array_equal(old_y, y, equal_nan=True):
            return
        broken = bool(np.isnan(x).any())
        curve.setData(x=x, y=y, connect="finite" if broken else "all", skipFiniteCheck=not broken)

    @property
    def span_s(self) -> float:
        """How much history ``set_data`` wants: the window and the step it may lag by."""
        return self.window_s * (1.0 + 2.0 * STEP_COLUMNS / 600.0)

    def _fit_y(self, y: np.ndarray, t: np.ndarray, t0: float) -> None:
        """A calm y range: grows at once to fit the data, shrinks only when far too big."""
        k = self.units.per_newton
        first = int(np.searchsorted(t, t0))
        visible = y[first:] if first < y.shape[0] else y[-1:]
        top = float(np.max(visible)) if visible.shape[0] else 0.0
        floor = max([10.0 * k] + [v * k * HEADROOM for v in (self._max_n, self._warn_n) if v])
        if self._target_n:
            floor = max(floor, self._target_n[1] * k * HEADROOM)
        want = max(floor, top * 1.1)
        if want > self._y_top or want < self._y_top * 0.6:
            self._y_top = want
            bottom = min(-0.04 * want, float(np.min(visible)) if visible.shape[0] else 0.0)
            self.view_box.setYRange(bottom, want, padding=0.0)
            self._place_grid(want)

    def _place_grid(self, top: float) -> None:
        """About eight horizontal lines at round values from 0 to ``top``."""
        raw = top / 8.0
        magnitude = 10.0 ** np.floor(np.log10(raw)) if raw > 0 else 1.0
        step = next(m * magnitude for m in (1.0, 2.0, 5.0, 10.0) if m * magnitude >= raw)
        levels = np.arange(step, top, step)
        while len(self._grid) < levels.shape[0]:
            line = pg.InfiniteLine(angle=0, pen=pg.mkPen(theme.GRID, width=1))
            line.setZValue(1)  # above the hold shading, below the trace
            self.plot_item.addItem(line, ignoreBounds=True)
            self._grid.append(line)
        for i, line in enumerate(self._grid):
            line.setVisible(i < levels.shape[0])
            if i < levels.shape[0]:
                line.setPos(float(levels[i]))

    def set_live_hold(self, start_s: float | None, now_s: float | None = None) -> None:
        """Shade the hold in progress from ``start_s`` to now (None: no hold)."""
        if start_s is None:
            self.live_hold.setVisible(False)
            return
        # up to the newest strip (moved a step at a time), so the shading does not make
        # the whole hold repaint every frame
        end = self._strip_start_s if now_s is None else now_s
        region = (start_s, max(end, start_s))
        if not self.live_hold.isVisible() or tuple(self.live_hold.getRegion()) != region:
            self.live_hold.setRegion(region)
            self.live_hold.setVisible(True)

    def add_hold(self, start_s: float, end_s: float) -> None:
        """Shade a completed hold."""
        region = pg.LinearRegionItem(
            values=(start_s, end_s),
            movable=False,
            brush=pg.mkBrush(*theme.HOLD_FILL),
            pen=pg.mkPen(None),
        )
        self.plot_item.addItem(region, ignoreBounds=True)
        self._holds.append((end_s, region))

    def add_gap(self, start_s: float, end_s: float) -> None:
        """Samples lost from ``start_s`` (the last one before) to ``end_s`` (the first
        after): a grey band, and the trace is broken there."""
        band = pg.LinearRegionItem(
            values=(start_s, end_s), movable=False, brush=pg.mkBrush(*theme.GAP_FILL),
            pen=pg.mkPen(None),
        )  # fmt: skip
        band.setZValue(2)
        self.plot_item.addItem(band, ignoreBounds=True)
        self._gaps.append((end_s, band))

    def set_link_banner(self, text: str | None) -> None:
        """A banner over the plot while the link is down (None: hide it)."""
        if text is None:
            if self.link_banner.isVisible():
                self.link_banner.hide()
            return
        if text != self.link_banner.text() or not self.link_banner.isVisible():
            self.link_banner.setText(text)
            self.link_banner.adjustSize()
            self.link_banner.move((self.width() - self.link_banner.width()) // 2, 12)
            self.link_banner.show()
            self.link_banner.raise_()

    @property
    def gap_regions(self) -> list[tuple[float, float]]:
        return [tuple(r.getRegion()) for _, r in self._gaps]  # type: ignore[misc]

    def add_mark(self, t_s: float, label: str) -> None:
        """A labelled vertical line where a point was marked."""
        line = pg.InfiniteLine(
            pos=t_s,
            angle=90,
            pen=pg.mkPen(theme.TEXT, width=1, style=Qt.PenStyle.DashLine),
            label=label,
            labelOpts={  # along the top, above the limit lines' labels; it flips to the
                # left of its line in the right half of the view so it is never cut off
                "position": MARK_ROWS[0],
                "color": theme.TEXT,
                "fill": (15, 20, 25, 200),
                "anchors": [(0, 0), (1, 0)],
            },
        )
        self.plot_item.addItem(line, ignoreBounds=True)
        self._marks.append((t_s, line))
        self._stack_mark_labels()

    def _stack_mark_labels(self) -> None:
        """Put each mark label in the highest row where it clears the labels before it, so
        labels of marks close together never overlap (the oldest row is reused when all
        three are taken). A label slides from the right of its line to the left across
        the view, so two labels clear each other when their lines are further apart
        than the wider label."""
        px_per_s = (self.view_box.width() or 1000.0) / self.window_s
        rows = range(len(MARK_ROWS))
        last_t = [-np.inf] * len(MARK_ROWS)  # the newest label in each row: time, width
        last_w = [0.0] * len(MARK_ROWS)
        for t_s, line in self._marks:
            width = line.label.boundingRect().width()
            free = [
                r
                for r in rows
                if (t_s - last_t[r]) * px_per_s >= max(width, last_w[r]) + MARK_GAP_PX
            ]
            row = free[0] if free else min(rows, key=lambda r: last_t[r])
            last_t[row], last_w[row] = t_s, width
            if line.label.orthoPos != MARK_ROWS[row]:
                line.label.setPosition(MARK_ROWS[row])

    @property
    def hold_regions(self) -> list[tuple[float, float]]:
        return [tuple(r.getRegion()) for _, r in self._holds]  # type: ignore[misc]

    @property
    def mark_labels(self) -> list[str]:
        return [line.label.format for _, line in self._marks]

    def curve_data(self) -> tuple[np.ndarray, np.ndarray]:
        """The samples of the window last handed in (display units)."""
        return self._t, self._y

    def drawn_data(self) -> tuple[np.ndarray, np.ndarray]:
        """What the curves hold: the column envelope, or every sample while paused."""
        (hx, hy), (rx, ry) = _dataset(self.curve), _dataset(self.recent_curve)
        join = 1 if hx.shape[0] and rx.shape[0] else 0  # the strip repeats the join point
        return np.concatenate((hx, rx[join:])), np.concatenate((hy, ry[join:]))

    def _prune(self, t_end_s: float) -> None:
        """Drop overlays that left the longest window, so an 8-hour session stays bounded."""
        horizon = t_end_s - WINDOW_CHOICES_S[-1] * 1.5
        for store in (self._holds, self._marks, self._gaps):
            while store and (store[0][0] < horizon or len(store) > MAX_OVERLAYS):
                _, item = store.popleft()
                self.plot_item.removeItem(item)

    def clear(self) -> None:
        """Forget the trace and every overlay (a new connection)."""
        for store in (self._holds, self._marks, self._gaps):
            while store:
                self.plot_item.removeItem(store.popleft()[1])
        self.set_link_banner(None)
        self.curve.setData(x=np.empty(0), y=np.empty(0))
        self._t, self._y = np.empty(0), np.empty(0)
        self.recent_curve.setData(x=np.empty(0), y=np.empty(0))
        self._x_range = (0.0, 0.0)
        self.live_hold.setVisible(False)
        self._y_top = 0.0
