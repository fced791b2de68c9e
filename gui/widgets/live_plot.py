"""The live force plot: a rolling window drawn from numpy arrays at frame rate.

The main window hands it the trace's window once per frame (``set_data``); the plot
never receives a Qt signal per sample. What is drawn is the window reduced to one minimum
and one maximum per pixel column (``gui/envelope.py``), so a 10-minute window at 1 kHz
(600,000 samples) costs the painter no more than a 10-second one, and a one-sample spike
is never hidden. Columns sit at fixed multiples of the column width in device time, so
the trace does not shimmer as it scrolls; a completed column never changes, so each frame
reduces only the columns completed since the last one, and draws nothing new while none
was. Paused, the plot gets every sample (with pyqtgraph's peak downsampling) so zooming
in shows them.

CPU on a laptop battery (``benchmarks/live_cpu.py``): the view scrolls a few pixel
columns at a time and the newest columns are an item of their own, so between steps Qt
repaints a strip a few pixels wide; the trace, grid and shaded bands are items Qt paints
itself (``gui/path_items.py``), so that repaint runs no Python.

Overlays: warn and max limit lines, the current point's target window (a band), holds
shaded as they happen, marks as labelled vertical lines, and a red tint while an alert is
active. Clinical protocols add a guided target profile with its tolerance band (drawn
once, whole, from the profile's start: it scrolls with the view, which then reaches a few
seconds ahead of now, ``set_lead_s``) and the client's pain ratings, a step trace on a
0–10 axis of their own at the far right (shown from the first rating on). Pausing freezes
the view (recording goes on elsewhere) and lets the user pan and zoom back through what
the ring buffer still holds.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainterPath
from PySide6.QtWidgets import QGraphicsPathItem, QLabel, QVBoxLayout, QWidget

from .. import theme
from ..axes import TimeAxis, no_si_prefix, plain_axes, side_view
from ..display import DisplayUnits
from ..envelope import ColumnEnvelope
from ..envelope import column_envelope as column_envelope  # where the tests look for it
from ..path_items import BandItem, HLinesItem, TraceItem, hairline

log = logging.getLogger(__name__)

WINDOW_CHOICES_S: tuple[float, ...] = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
DEFAULT_WINDOW_S = 30.0
MAX_OVERLAYS = 400
STEP_COLUMNS = 8  # the live view scrolls this many pixel columns at a time
MARK_ROWS = (0.99, 0.925, 0.86)  # heights (fraction of the plot) of the mark label rows
MARK_GAP_PX = 8
RATING_TOP = 12.5  # the rating axis runs to this: 10 sits below the mark labels
HEADROOM = 1.25  # y range top over the highest limit: room for the mark labels above it
_LABEL_STYLE = {
    "font-size": f"{theme.BASE_PT}pt",
    "color": theme.TEXT_DIM,
}  # hold regions / mark lines kept on the plot (older ones are dropped)


class LivePlot(QWidget):
    """Rolling force plot. Forces come in as newtons; ``units`` decides what the axis shows."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(antialias=False, foreground=theme.TEXT_DIM)
        self.time_axis = TimeAxis("bottom")
        self.plot_widget = pg.PlotWidget(  # no context menu (nor the view box's, unbuilt)
            background=theme.PANEL, axisItems={"bottom": self.time_axis}, enableMenu=False
        )
        # the plot paints every pixel of itself: the panels behind it are not repainted
        # along with it on every frame
        for w in (self, self.plot_widget, self.plot_widget.viewport()):
            w.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.plot_item: pg.PlotItem = self.plot_widget.getPlotItem()
        self.plot_item.setClipToView(True)
        self.plot_item.hideButtons()
        self.plot_item.setLabel("bottom", "time (min:s)", **_LABEL_STYLE)
        axis_font = theme.font(theme.BASE_PT)
        for name in ("left", "bottom", "right"):
            self.plot_item.getAxis(name).setTickFont(axis_font)
        # no SI prefix on any axis, hidden ones too: with it on, an axis re-renders its
        # label's HTML on every range change (each scroll step)
        plain_axes(self.plot_item)
        self.view_box: pg.ViewBox = self.plot_item.getViewBox()
        self.view_box.setMouseEnabled(x=False, y=False)
        self.view_box.sigResized.connect(self._on_resized)
        # live: the envelope, drawn by Qt itself (gui/path_items.py) in two items: the
        # history, and the newest few columns, so that while the view stands still only
        # that narrow strip is repainted (QGraphicsView repaints what changed)
        self.history_curve = TraceItem(hairline(theme.ACCENT))
        self.recent_curve = TraceItem(hairline(theme.ACCENT))
        # paused: every sample, with pyqtgraph's peak downsampling, so zooming in shows them
        self.paused_curve: pg.PlotDataItem = self.plot_item.plot(
            pen=pg.mkPen(theme.ACCENT, width=1), skipFiniteCheck=True
        )
        self.paused_curve.setDownsampling(auto=True, method="peak")
        self.paused_curve.setVisible(False)
        for curve in (self.history_curve, self.recent_curve, self.paused_curve):
            curve.setZValue(10)
        for trace in (self.history_curve, self.recent_curve):
            self.view_box.addItem(trace, ignoreBounds=True)

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
        # shaded bands (gui/path_items.py): each spans, across, the view and as much again
        # either side, extended when the view moves past it (``_extend_spans``)
        self._x_span = self._y_span = (0.0, 0.0)
        self._bands: list[BandItem] = []  # the vertical ones: holds, gaps, the live hold
        self.target_band = BandItem(
            pg.mkBrush(*theme.TARGET_FILL), vertical=False, pen=hairline(theme.OK)
        )
        # a limit line is in the plot only while shown (``_place_overlays``): in it, a
        # hidden one and its label would still be re-placed on every scroll step
        for item in (self.warn_line, self.max_line, self.target_band):
            item.setVisible(False)
        self.plot_item.addItem(self.target_band, ignoreBounds=True)
        self.live_hold = self._new_band(theme.HOLD_FILL)  # over those (added in this order)
        self.live_hold.setVisible(False)

        # horizontal reference lines (solid, opaque): pyqtgraph's alpha-blended grid and a
        # wide pen each cost more than the whole 600,000-point trace (benchmarks/gui_frame.py)
        self._grid = HLinesItem(hairline(theme.GRID))
        self._grid.setZValue(1)  # above the hold shading, below the trace
        self.view_box.addItem(self._grid, ignoreBounds=True)
        self.view_box.sigRangeChanged.connect(self._extend_spans)
        self._holds: deque[tuple[float, BandItem]] = deque()
        self._marks: deque[tuple[float, pg.InfiniteLine]] = deque()
        # the mark label rows' newest labels (times, widths) as last stacked; None: restack
        self._mark_rows: tuple[list[float], list[float]] | None = None
        self._gaps: deque[tuple[float, BandItem]] = deque()  # (end_s, band)
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
        self._y_bottom = 0.0
        self._tinted = False
        self.points_drawn = 0  # samples in the window last handed in
        self._t = np.empty(0)
        self._f = np.empty(0, dtype=np.float32)  # forces in N, as handed in
        self._envelope = ColumnEnvelope()  # per pixel column, in N
        self._env_n: tuple[float, float] | None = None  # its extremes in view, in N
        self._drawn_key: tuple | None = None  # what the curves were drawn from
        self._view_px = 1000.0  # the view's width in pixels (one column each)
        self._x_range = (0.0, 0.0)  # the view's time range last set
        self._strip_start_s = 0.0  # where the newest, repainted strip begins

        self.lead_s = 0.0  # the view reaches this far ahead of the newest sample
        # a guided profile: the target (a line) and its tolerance band (a filled outline)
        self.profile_curve = TraceItem(pg.mkPen(theme.PROFILE, width=2))
        self.profile_band = QGraphicsPathItem()
        self.profile_band.setBrush(pg.mkBrush(*theme.PROFILE_FILL))
        self.profile_band.setPen(hairline(theme.PROFILE))
        self.profile_curve.setZValue(5)
        self.profile_band.setZValue(1)
        for item in (self.profile_curve, self.profile_band):
            item.setVisible(False)
            self.view_box.addItem(item, ignoreBounds=True)
        self._profile: tuple[np.ndarray, np.ndarray, float] | None = None  # t, N, tol
        # pain ratings: a view box of their own (0-10), x linked to the force view once
        # there are ratings (``set_ratings``: until then it need not follow every scroll)
        self.rating_view = side_view()
        self.plot_item.scene().addItem(self.rating_view)
        self.rating_axis = pg.AxisItem("right")
        self.rating_axis.setTickFont(axis_font)
        self.rating_axis.setLabel("pain", **{**_LABEL_STYLE, "color": theme.RATING})
        self.rating_axis.setTicks([[(v, f"{v:g}") for v in (0, 2, 4, 6, 8, 10)]])
        no_si_prefix(self.rating_axis)
        self.rating_axis.linkToView(self.rating_view)
        self.rating_axis.setWidth(44)
        self.rating_view.setYRange(-0.5, RATING_TOP, padding=0.0)  # the axis follows
        self.plot_item.layout.addItem(self.rating_axis, 2, 3)
        self.rating_axis.hide()
        self.rating_curve = TraceItem(pg.mkPen(theme.RATING, width=2))
        self.rating_view.addItem(self.rating_curve, ignoreBounds=True)
        self.view_box.sigResized.connect(self._place_rating_view)
        self._ratings: tuple[tuple[float, float], ...] = ()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)
        self.set_units(self.units)

    # ------------------------------------------------------------------ configuration
    def _on_resized(self) -> None:
        """One envelope column per pixel: the width is read here, not on every frame."""
        self._view_px = self.view_box.width() or 1000.0
        self._stack_mark_labels()

    def set_units(self, units: DisplayUnits) -> None:
        """Axis in ``units.unit``; a right axis in kPa when a contact area is set."""
        self.units = units
        self._per_newton = units.per_newton  # read once: each read parses the unit
        self.plot_item.setLabel("left", "force", units=units.unit, **_LABEL_STYLE)
        kpa = units.kpa_per_newton
        if kpa is None:
            self.plot_item.hideAxis("right")
        else:
            self.plot_item.showAxis("right")
            right = self.plot_item.getAxis("right")
            right.setScale(kpa / units.per_newton)
            right.setLabel("pressure", units="kPa", **_LABEL_STYLE)
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
            shown = level is not None
            line.setVisible(shown)
            if shown != (line.scene() is not None):
                if shown:
                    self.plot_item.addItem(line, ignoreBounds=True)
                else:
                    self.plot_item.removeItem(line)
            if shown:
                line.setPos(level * k)
                line.label.setFormat(f"{name} {self.units.force(level)}")
        self.target_band.setVisible(self._target_n is not None)
        if self._target_n is not None:
            lo, hi = self._target_n
            self.target_band.setRegion((lo * k, hi * k))
        self._draw_profile()

    # ------------------------------------------------------------------ protocols
    def set_lead_s(self, lead_s: float) -> None:
        """Let the view reach ``lead_s`` ahead of the newest sample (a guided profile's
        coming seconds; 0: the newest sample at the right edge)."""
        if lead_s != self.lead_s:
            self.lead_s = max(0.0, min(float(lead_s), self.window_s / 2.0))
            self._x_range = (0.0, 0.0)  # the next frame places the view anew

    def set_profile(
        self, t_s: np.ndarray | None, target_n: np.ndarray | None = None, tolerance_n: float = 0.0
    ) -> None:
        """A guided profile's target (``target_n`` at times ``t_s``, NaN where it does not
        run) and its tolerance band; None hides it. Drawn once: it scrolls with the view."""
        if t_s is None or target_n is None:
            self._profile = None
        else:
            t = np.asarray(t_s, dtype=np.float64)
            self._profile = (t, np.asarray(target_n, dtype=np.float64), float(tolerance_n))
        self._y_top = 0.0  # the y range fits the profile at the next frame
        self._draw_profile()

    def _draw_profile(self) -> None:
        shown = self._profile is not None
        self.profile_curve.setVisible(shown)
        self.profile_band.setVisible(shown)
        if self._profile is None:
            return
        t, target, tolerance_n = self._profile
        k = self._per_newton
        self.profile_curve.set_xy(t, target * k)
        band = QPainterPath()
        runs = np.flatnonzero(np.diff(np.r_[0, np.isfinite(target).view(np.int8), 0]))
        for i0, i1 in zip(runs[::2], runs[1::2], strict=True):  # each stretch that runs
            x = np.r_[t[i0:i1], t[i0:i1][::-1]]
            y = np.r_[target[i0:i1] + tolerance_n, (target[i0:i1] - tolerance_n)[::-1]] * k
            band.addPath(pg.arrayToQPath(x, y, connect="all"))
            band.closeSubpath()
        self.profile_band.setPath(band)

    def profile_data(self) -> tuple[np.ndarray, np.ndarray]:
        """The drawn target profile (times, display units); empty arrays without one."""
        if self._profile is None:
            return np.empty(0), np.empty(0)
        return self.profile_curve.xy()

    def set_ratings(self, ratings: Sequence[tuple[float, float]]) -> None:
        """The pain ratings ``(t_s, value 0-10)`` in time order, drawn as a step trace (each
        in force until the next); the last one runs on past the view's right edge."""
        ratings = tuple(ratings)
        if ratings == self._ratings:
            return
        self._ratings = ratings
        self.rating_axis.setVisible(bool(ratings))
        self.rating_view.setXLink(self.view_box if ratings else None)
        if not ratings:
            self.rating_curve.set_xy(np.empty(0), np.empty(0))
            return
        t = np.array([r[0] for r in ratings], dtype=np.float64)
        v = np.array([r[1] for r in ratings], dtype=np.float64)
        x = np.repeat(np.r_[t, t[-1] + 2.0 * WINDOW_CHOICES_S[-1]], 2)[1:-1]
        self.rating_curve.set_xy(x, np.repeat(v, 2))
        self._place_rating_view()

    def rating_data(self) -> tuple[np.ndarray, np.ndarray]:
        """The drawn rating step trace (times, 0-10)."""
        return self.rating_curve.xy()

    def _place_rating_view(self) -> None:
        self.rating_view.setGeometry(self.view_box.sceneBoundingRect())
        self.rating_view.linkedViewChanged(self.view_box, self.rating_view.XAxis)

    def set_paused(self, paused: bool) -> None:
        """Freeze the view (mouse pans and zooms back in time); recording is not affected."""
        if paused == self.paused:
            return
        self.paused = paused
        self.view_box.setMouseEnabled(x=paused, y=paused)
        # paused: every sample, so zooming in shows them; live: one envelope per column
        empty = np.empty(0)
        t, y = (self._t, self._display(self._f)) if paused else (empty, empty)
        self.paused_curve.setData(x=t, y=y, skipFiniteCheck=True)
        self.paused_curve.setVisible(paused)
        for curve in (self.history_curve, self.recent_curve):
            curve.setVisible(not paused)
        if not paused:
            self.view_box.enableAutoRange(enable=False)
            self._x_range = (0.0, 0.0)  # the user may have panned: the next frame re-sets it
            self._drawn_key = None  # … and the curves hold every sample: drawn anew
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

        Called once per frame with the trace's window (views into it are fine). While
        paused the data is left as it was so the user can look back at it. The work per
        frame does not grow with the window: the columns completed since the last frame
        are folded into the envelope, and only its two points per column are converted
        to the display unit.
        """
        if self.paused:
            return
        force = np.asarray(force_n)
        if force.ndim == 2:
            force = force[:, 0]
        t = np.asarray(t_s)
        self.points_drawn = int(t.shape[0])
        self._t, self._f = t, force
        if t.shape[0] == 0:
            self._envelope.clear()
            self._env_n, self._drawn_key = None, None
            self._set_curve(self.history_curve, np.empty(0), np.empty(0))
            self._set_curve(self.recent_curve, np.empty(0), np.empty(0))
            return
        column_s = self.window_s / self._view_px
        step_s = STEP_COLUMNS * column_s
        t_end = float(t[-1])
        # the view moves STEP_COLUMNS whole pixel columns at a time, when the newest sample
        # reaches its right edge; between steps only the strip of the newest columns changes
        t1 = max(self.window_s, math.ceil((t_end + self.lead_s) / step_s) * step_s)
        t0 = t1 - self.window_s
        self._prune(t_end)  # before the view moves: what is dropped is not re-placed
        if (t0, t1) != self._x_range:
            self._x_range = (t0, t1)
            self.view_box.setXRange(t0, t1, padding=0.0)
            # the new transform now, not in the paint: items that follow it (limit lines,
            # shading, axes) would otherwise ask for a second full repaint right after
            self.view_box.updateMatrix()
        # whole columns only: the picture changes once per column (33 ms in a 30 s window,
        # 0.7 s in a 10 min one), not on every frame; the newest column shows when complete
        envelope = self._envelope
        envelope.update(t, force, column_s, t0)
        gaps = (len(self._gaps), self._gaps[-1][0]) if self._gaps else (0, 0.0)
        key = (t0, envelope.done_s, envelope.resets, column_s, self._per_newton, gaps)
        if key != self._drawn_key:  # a column was completed (or the view changed)
            self._drawn_key = key
            self._draw_envelope(t, force, t0, math.floor(t_end / step_s) * step_s)
            for t_mark, line in self._marks:  # a mark scrolled off the left: no stray label
                if line.label.isVisible() != (t_mark >= t0):
                    line.label.setVisible(t_mark >= t0)
        # the newest column is not in the envelope yet, but in view: its samples count
        self._fit_y(force[int(np.searchsorted(t, envelope.done_s, side="left")) :])

    def _draw_envelope(self, t: np.ndarray, force: np.ndarray, t0: float, t_strip: float) -> None:
        """The envelope in view, in two curves: the history up to ``t_strip`` (changed
        once per step) and the strip of the newest columns (changed once per column)."""
        x_env, f_env = self._envelope.visible(t, force, t0)
        self._env_n = (
            (float(np.min(f_env)), float(np.max(f_env))) if f_env.shape[0] else None
        )  # fmt: skip
        split = int(np.searchsorted(x_env, t_strip))  # the points ascend (no NaN yet)
        x_env, y_env, breaks = self._broken_at_gaps(
            x_env, self._display(f_env), self._envelope.column_s
        )
        split += int(np.count_nonzero(breaks <= split))  # a break at the strip ends history
        self._set_curve(self.history_curve, x_env[:split], y_env[:split])
        recent = max(0, split - 1)  # joined to the last point of the history
        self._set_curve(self.recent_curve, x_env[recent:], y_env[recent:])
        self._strip_start_s = t_strip

    def _display(self, force_n: np.ndarray) -> np.ndarray:
        """Forces in the display unit (the same dtype, so every view shows one number)."""
        k = self._per_newton
        return force_n if k == 1.0 else force_n * np.asarray(k, dtype=force_n.dtype)

    def _broken_at_gaps(
        self, x: np.ndarray, y: np.ndarray, column_s: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A gap breaks the line (a NaN before the column of its first sample after): never
        drawn across, as if the device had sent a straight line. Also returns where the
        NaNs went (indices into ``x`` as it was)."""
        none = np.empty(0, dtype=np.intp)
        if x.shape[0] < 2 or not self._gaps:
            return x, y, none
        ends = [np.floor(end / column_s) * column_s for end, _ in self._gaps if x[0] < end]
        at = np.searchsorted(x, ends)
        at = at[(at > 0) & (at < x.shape[0])]
        if not at.shape[0]:
            return x, y, none
        return np.insert(x, at, np.nan), np.insert(y.astype(np.float64), at, np.nan), at

    @staticmethod
    def _set_curve(curve: TraceItem, x: np.ndarray, y: np.ndarray) -> None:
        """New data for ``curve`` only if it differs: an unchanged item is not repainted."""
        old_x, old_y = curve.xy()
        if np.array_equal(old_x, x, equal_nan=True) and np.array_equal(old_y, y, equal_nan=True):
            return
        curve.set_xy(x, y)

    @property
    def span_s(self) -> float:
        """How much history ``set_data`` wants: the window and the step it may lag by."""
        return self.window_s * (1.0 + 2.0 * STEP_COLUMNS / 600.0)

    def _fit_y(self, newest_n: np.ndarray) -> None:
        """A calm y range: grows at once to fit the data, shrinks only when far too big.

        In view are the envelope (each completed column's extremes, kept from when it
        was drawn) and the newest column's samples, not in it yet."""
        lo_hi = list(self._env_n or ())
        if newest_n.shape[0]:
            lo_hi += [float(np.min(newest_n)), float(np.max(newest_n))]
        lo_hi = [v for v in lo_hi if v == v]  # a NaN is no number to fit
        if not lo_hi:
            lo_hi = [float(self._f[-1]) if self._f.shape[0] else 0.0]
        # in the display unit, as each sample would be: min and max survive the scaling
        shown = self._display(np.array([min(lo_hi), max(lo_hi)], dtype=self._f.dtype))
        k = self._per_newton
        top = float(shown[1])
        floor = max([10.0 * k] + [v * k * HEADROOM for v in (self._max_n, self._warn_n) if v])
        if self._target_n:
            floor = max(floor, self._target_n[1] * k * HEADROOM)
        if self._profile is not None:
            _, target, tolerance_n = self._profile
            floor = max(floor, (float(np.nanmax(target)) + tolerance_n) * k * HEADROOM)
        want = max(floor, top * 1.1)
        low = float(shown[0])
        if want > self._y_top or want < self._y_top * 0.6 or low < self._y_bottom:
            self._y_top = want
            self._y_bottom = min(-0.04 * want, low)  # below zero: grows at once too
            self.view_box.setYRange(self._y_bottom, want, padding=0.0)
            self._place_grid(want)

    def _place_grid(self, top: float) -> None:
        """About eight horizontal lines at round values from 0 to ``top``."""
        raw = top / 8.0
        magnitude = 10.0 ** np.floor(np.log10(raw)) if raw > 0 else 1.0
        step = next(m * magnitude for m in (1.0, 2.0, 5.0, 10.0) if m * magnitude >= raw)
        levels = tuple(float(v) for v in np.arange(step, top, step))
        self._grid.set_lines(levels, *self._x_span)

    def _extend_spans(self) -> None:
        """Lines and bands reach a view's width (height) beyond either side of the view,
        so they are set again once per window scrolled (or when the y range changes, or
        a paused view is panned or zoomed), not on every frame."""
        (x0, x1), (y0, y1) = self.view_box.viewRange()
        s0, s1 = self._x_span
        if x0 < s0 or x1 > s1:
            width = max(x1 - x0, 1.0)
            self._x_span = (x0 - width, x1 + width)
            self._grid.set_lines(self._grid.levels, *self._x_span)
            self.target_band.set_span(*self._x_span)
        s0, s1 = self._y_span
        if y0 < s0 or y1 > s1:
            height = max(y1 - y0, 1.0)
            self._y_span = (y0 - height, y1 + height)
            for band in self._bands:
                band.set_span(*self._y_span)

    def _new_band(self, fill: tuple[int, ...], z: float = 0.0) -> BandItem:
        """A vertical band (a hold, a gap) across the view's height."""
        band = BandItem(pg.mkBrush(*fill))
        band.set_span(*self._y_span)
        band.setZValue(z)
        self.plot_item.addItem(band, ignoreBounds=True)
        self._bands.append(band)
        return band

    def _remove_overlay(self, item: BandItem | pg.InfiniteLine) -> None:
        self.plot_item.removeItem(item)
        if isinstance(item, BandItem):
            self._bands.remove(item)

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
        band = self._new_band(theme.HOLD_FILL)
        band.setRegion((start_s, end_s))
        self._holds.append((end_s, band))

    def add_gap(self, start_s: float, end_s: float) -> None:
        """Samples lost from ``start_s`` (the last one before) to ``end_s`` (the first
        after): a grey band, and the trace is broken there."""
        band = self._new_band(theme.GAP_FILL, z=2.0)  # over the grid
        band.setRegion((start_s, end_s))
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
        return [r.getRegion() for _, r in self._gaps]

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
        self._stack_mark_labels(newest_only=self._mark_rows is not None)

    def _stack_mark_labels(self, newest_only: bool = False) -> None:
        """Put each mark label in the highest row where it clears the labels before it, so
        labels of marks close together never overlap (the oldest row is reused when all
        three are taken). A label slides from the right of its line to the left across
        the view, so two labels clear each other when their lines are further apart
        than the wider label. A label's row depends only on the labels before it: a new
        mark (``newest_only``) is placed after the rows' newest labels, the others stay."""
        px_per_s = self._view_px / self.window_s
        rows = range(len(MARK_ROWS))
        marks: Sequence[tuple[float, pg.InfiniteLine]] = self._marks
        if newest_only and self._mark_rows is not None:
            last_t, last_w = self._mark_rows
            marks = [self._marks[-1]]
        else:
            last_t = [-np.inf] * len(MARK_ROWS)  # the newest label in each row: time, width
            last_w = [0.0] * len(MARK_ROWS)
        self._mark_rows = (last_t, last_w)
        for t_s, line in marks:
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
        return [r.getRegion() for _, r in self._holds]

    @property
    def mark_labels(self) -> list[str]:
        return [line.label.format for _, line in self._marks]

    def curve_data(self) -> tuple[np.ndarray, np.ndarray]:
        """The samples of the window last handed in (display units)."""
        return self._t, self._display(self._f)

    def drawn_data(self) -> tuple[np.ndarray, np.ndarray]:
        """What the curves hold: the column envelope, or every sample while paused."""
        if self.paused:
            x, y = self.paused_curve.getOriginalDataset()
            return (np.empty(0) if x is None else x), (np.empty(0) if y is None else y)
        (hx, hy), (rx, ry) = self.history_curve.xy(), self.recent_curve.xy()
        join = 1 if hx.shape[0] and rx.shape[0] else 0  # the strip repeats the join point
        return np.concatenate((hx, rx[join:])), np.concatenate((hy, ry[join:]))

    def _prune(self, t_end_s: float) -> None:
        """Drop overlays that left the longest window, so an 8-hour session stays bounded."""
        horizon = t_end_s - WINDOW_CHOICES_S[-1] * 1.5
        for store in (self._holds, self._marks, self._gaps):
            while store and (store[0][0] < horizon or len(store) > MAX_OVERLAYS):
                self._remove_overlay(store.popleft()[1])
                if store is self._marks:  # the next mark's row: from the marks left
                    self._mark_rows = None

    def clear(self) -> None:
        """Forget the trace and every overlay (a new connection)."""
        for store in (self._holds, self._marks, self._gaps):
            while store:
                self._remove_overlay(store.popleft()[1])
        self._mark_rows = None
        self.set_link_banner(None)
        self.history_curve.set_xy(np.empty(0), np.empty(0))
        self.paused_curve.setData(x=np.empty(0), y=np.empty(0))
        self._t, self._f = np.empty(0), np.empty(0, dtype=np.float32)
        self._envelope.clear()
        self._env_n, self._drawn_key = None, None
        self.recent_curve.set_xy(np.empty(0), np.empty(0))
        self._x_range = (0.0, 0.0)
        self.live_hold.setVisible(False)
        self._y_top = self._y_bottom = 0.0
        self.set_profile(None)
        self.set_lead_s(0.0)
        self.set_ratings(())
