"""Plots of aligned holds (overlay, trainee vs reference) and of a trainee's progress.

Both work in the dark window theme and in ``light`` mode for the printed report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from logger.compare import HoldCurve, ProgressEntry, mean_curve

from .. import theme
from ..axes import plain_axes, print_axes
from ..format import local_time, plural

TRIAL_COLOURS = ("#4fc3f7", "#ba68c8", "#ffb74d", "#81c784", "#f06292", "#4db6ac", "#e57373")


def _style(item: pg.PlotItem, light: bool, x_label: str, x_units: str | None) -> None:
    fg = "#333333" if light else theme.TEXT_DIM
    plain_axes(item)  # "500 mN" or "session (x0.001)" help nobody
    item.setLabel("bottom", x_label, units=x_units)
    item.setLabel("left", "force", units="N")
    item.showGrid(x=True, y=True, alpha=0.2)
    for axis in ("left", "bottom"):
        item.getAxis(axis).setPen(fg)
        item.getAxis(axis).setTextPen(fg)
    if light:
        print_axes(item)


TRIAL_COLOURS_LIGHT = ("#0277bd", "#7b1fa2", "#ef6c00", "#2e7d32", "#c2185b", "#00796b", "#5d4037")


@dataclass(frozen=True, slots=True)
class LegendEntry:
    """One line of a plot's legend, for drawing it outside the plot (the PDF report)."""

    label: str
    colour: str
    width: float
    dashed: bool = False
    band: bool = False


def _legend_above(
    item: pg.PlotItem, columns: int, text_pt: float = 9.0, colour: str | None = None
) -> pg.LegendItem:
    """A one-row legend in the band above the plot area (a blank title reserves it), so it
    never covers the curves."""
    item.setTitle(" ")
    legend = pg.LegendItem(
        colCount=columns, labelTextSize=f"{text_pt:g}pt", labelTextColor=colour or theme.TEXT_DIM
    )
    legend.setParentItem(item)
    legend.anchor(itemPos=(1, 0), parentPos=(1, 0), offset=(-8, 0))
    item.legend = legend
    return legend


class OverlayPlot(pg.PlotWidget):
    """Holds aligned at onset: each trial thin, their mean thick, optionally the reference
    template wide and pale underneath (drawn first, so the trainee stays visible) and the
    point's target window as a band.

    ``legend_entries`` lists what is drawn; in ``light`` mode (the report) no legend is
    drawn on the plot: the report prints it as text beside the image.
    """

    def __init__(self, parent: QWidget | None = None, *, light: bool = False) -> None:
        super().__init__(parent, background="w" if light else theme.BACKGROUND, enableMenu=False)
        self.light = light
        _style(self.getPlotItem(), light, "time since onset", "s")
        self.legend: pg.LegendItem | None = None if light else _legend_above(self.getPlotItem(), 4)
        self.curves_shown = 0
        self.legend_entries: list[LegendEntry] = []

    def _plot(self, x, y, entry: LegendEntry | None, pen, z: float) -> None:
        curve = self.getPlotItem().plot(
            x, y, pen=pen, name=entry.label if entry and self.legend else None, connect="finite"
        )
        curve.setZValue(z)
        if entry is not None:
            self.legend_entries.append(entry)

    def show_curves(
        self,
        curves: Sequence[HoldCurve],
        *,
        reference_n: np.ndarray | None = None,
        dt_s: float | None = None,
        target_n: tuple[float, float] | None = None,
        trainee_label: str = "trial",
    ) -> None:
        item = self.getPlotItem()
        item.clear()
        if self.legend is not None:
            self.legend.clear()
        self.legend_entries = []
        self.curves_shown = 0
        dt = dt_s or (curves[0].dt_s if curves else 0.01)
        if target_n is not None:
            band = pg.LinearRegionItem(
                target_n,
                orientation="horizontal",
                movable=False,
                brush=(102, 187, 106, 45),
                pen=pg.mkPen(None),
            )
            band.setZValue(-10)
            item.addItem(band)
            self.legend_entries.append(
                LegendEntry(f"target {target_n[0]:g}–{target_n[1]:g} N", "#a5d6a7", 6, band=True)
            )
        if reference_n is not None and reference_n.size:
            # first, wide and pale: underneath the trainee, visible where they differ
            colour = "#ef9a9a" if self.light else "#ffb74d"
            entry = LegendEntry("reference", colour, 7)
            pen = pg.mkPen(colour if self.light else (255, 183, 77, 110), width=7)
            self._plot(np.arange(reference_n.size) * dt, reference_n, entry, pen, 1)
        palette = TRIAL_COLOURS_LIGHT if self.light else TRIAL_COLOURS
        many = len(curves) > 6
        for k, c in enumerate(curves):
            colour = palette[k % len(palette)]
            entry = None if many else LegendEntry(f"{trainee_label} {k + 1}", colour, 1.5)
            self._plot(c.t_rel_s, c.force_n, entry, pg.mkPen(colour, width=1.5), 2 + k * 1e-3)
            self.curves_shown += 1
        if many and curves:
            self.legend_entries.append(
                LegendEntry(plural(len(curves), trainee_label), palette[0], 1.5)
            )
        if len(curves) > 1:
            mean, _ = mean_curve([c.force_n for c in curves])
            colour = "#0d47a1" if self.light else "#ffffff"
            self._plot(
                np.arange(mean.size) * dt,
                mean,
                LegendEntry("mean", colour, 3),
                pg.mkPen(colour, width=3),
                3,
            )
            # the mean before the trials: a legend cut short keeps the important lines
            first_trial = next(
                (i for i, e in enumerate(self.legend_entries) if e.colour in palette),
                len(self.legend_entries) - 1,
            )
            self.legend_entries.insert(first_trial, self.legend_entries.pop())
        item.enableAutoRange()


def session_date_labels(started_at: Sequence[str]) -> list[str]:
    """Tick labels for sessions: the date, with the time where a date repeats."""
    dates = [local_time(s)[:10] for s in started_at]
    return [
        local_time(s)[5:] if dates.count(d) > 1 else d
        for s, d in zip(started_at, dates, strict=True)
    ]


class ProgressPlot(pg.PlotWidget):
    """RMS error against the reference per session (lower is better), oldest first; the
    x axis is labelled with the sessions' dates."""

    def __init__(self, parent: QWidget | None = None, *, light: bool = False) -> None:
        super().__init__(parent, background="w" if light else theme.BACKGROUND, enableMenu=False)
        self.light = light
        _style(self.getPlotItem(), light, "session date", None)
        self.getPlotItem().setLabel("left", "error vs reference", units="N")
        # the report draws this 1000 px wide into 180 mm: 14 pt here prints at about 8 pt
        self.legend = _legend_above(
            self.getPlotItem(), 2, 14.0 if light else 9.0, "#222222" if light else None
        )
        self.tick_labels: list[str] = []

    def show_progress(self, entries: Sequence[ProgressEntry]) -> None:
        item = self.getPlotItem()
        item.clear()
        self.legend.clear()
        x = np.arange(len(entries), dtype=float)
        rms = np.array([np.nan if e.rms_error_n is None else e.rms_error_n for e in entries])
        diff = np.array([np.nan if e.mean_diff_n is None else e.mean_diff_n for e in entries])
        colour = "#1565c0" if self.light else theme.ACCENT
        self.tick_labels = session_date_labels([e.started_at for e in entries])
        item.getAxis("bottom").setTicks([list(zip(x.tolist(), self.tick_labels, strict=True))])
        item.setXRange(-0.3, max(len(entries) - 0.7, 0.3), padding=0)
        ok = np.isfinite(rms)  # sessions with nothing to compare have no score
        if not ok.any():
            return
        item.plot(
            x[ok],
            rms[ok],
            pen=pg.mkPen(colour, width=2),
            symbol="o",
            symbolBrush=colour,
            name="RMS error",
        )
        item.plot(
            x[ok],
            diff[ok],
            pen=pg.mkPen("#ef6c00", width=1.5, style=Qt.DashLine),
            symbol="s",
            symbolBrush="#ef6c00",
            name="mean difference",
        )
        item.addLine(y=0, pen=pg.mkPen("#888"))
        item.enableAutoRange(axis="y")


class LearningCurvePlot(pg.GraphicsLayoutWidget):
    """A trainee's drill sessions, oldest first: the session score (0–100, left) and the
    mean absolute plateau error with feedback and blind (right), x labelled with dates."""

    def __init__(self, parent: QWidget | None = None, *, light: bool = False) -> None:
        super().__init__(parent)
        self.light = light
        self.setBackground("w" if light else theme.BACKGROUND)
        self.score = self.addPlot(row=0, col=0, enableMenu=False)
        self.error = self.addPlot(row=0, col=1, enableMenu=False)
        text_pt = 14.0 if light else 9.0
        for item, label, units in (
            (self.score, "session score", None),
            (self.error, "plateau error", "N"),
        ):
            _style(item, light, "session date", None)
            item.setLabel("left", label, units=units)
        self.legend = _legend_above(self.error, 2, text_pt, "#222222" if light else None)
        self.tick_labels: list[str] = []

    def show_curve(
        self,
        started_at: Sequence[str],
        score: np.ndarray,
        error_feedback_n: np.ndarray,
        error_blind_n: np.ndarray,
    ) -> None:
        self.legend.clear()
        x = np.arange(len(started_at), dtype=float)
        self.tick_labels = session_date_labels(started_at)
        ticks = [list(zip(x.tolist(), self.tick_labels, strict=True))]
        colour = "#1565c0" if self.light else theme.ACCENT
        blind = "#ef6c00"
        for item in (self.score, self.error):
            item.clear()
            item.getAxis("bottom").setTicks(ticks)
            # half a session of room each side: the first and last date labels fit
            item.setXRange(-0.5, max(len(started_at) - 0.5, 0.5), padding=0)
        self.score.setYRange(0, 100, padding=0.05)
        series = (
            (self.score, score, colour, "o", Qt.PenStyle.SolidLine, None),
            (self.error, error_feedback_n, colour, "o", Qt.PenStyle.SolidLine, "feedback"),
            (self.error, error_blind_n, blind, "s", Qt.PenStyle.DashLine, "blind"),
        )
        for item, y, c, symbol, style, name in series:
            ok = np.isfinite(y)
            if ok.any():
                item.plot(
                    x[ok],
                    y[ok],
                    pen=pg.mkPen(c, width=2, style=style),
                    symbol=symbol,
                    symbolBrush=c,
                    name=name,
                )
        self.error.enableAutoRange(axis="y")
