"""Plots of aligned holds (overlay, trainee vs reference) and of a trainee's progress.

Both work in the dark window theme and in ``light`` mode for the printed report.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from logger.compare import HoldCurve, ProgressEntry, mean_curve

from .. import theme
from ..format import local_time

TRIAL_COLOURS = ("#4fc3f7", "#ba68c8", "#ffb74d", "#81c784", "#f06292", "#4db6ac", "#e57373")


def _style(plot: pg.PlotWidget, light: bool, x_label: str, x_units: str | None) -> None:
    fg = "#333333" if light else theme.TEXT_DIM
    item = plot.getPlotItem()
    item.setLabel("bottom", x_label, units=x_units)
    item.setLabel("left", "force", units="N")
    item.showGrid(x=True, y=True, alpha=0.2)
    item.setMenuEnabled(False)
    for axis in ("left", "bottom"):
        item.getAxis(axis).setPen(fg)
        item.getAxis(axis).setTextPen(fg)


class OverlayPlot(pg.PlotWidget):
    """Holds aligned at onset: each trial thin, their mean thick, optionally the reference
    template dashed and the point's target window as a band."""

    def __init__(self, parent: QWidget | None = None, *, light: bool = False) -> None:
        super().__init__(parent, background="w" if light else theme.BACKGROUND)
        self.light = light
        _style(self, light, "time since onset", "s")
        self.legend = self.getPlotItem().addLegend(offset=(-10, 10))
        self.curves_shown = 0

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
        self.legend.clear()
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
        for k, c in enumerate(curves):
            colour = TRIAL_COLOURS[k % len(TRIAL_COLOURS)]
            pen = pg.mkPen(colour, width=1.2)
            name = f"{trainee_label} {k + 1}" if len(curves) <= 6 else None
            item.plot(c.t_rel_s, c.force_n, pen=pen, name=name, connect="finite")
            self.curves_shown += 1
        if len(curves) > 1:
            mean, _ = mean_curve([c.force_n for c in curves])
            item.plot(
                np.arange(mean.size) * dt,
                mean,
                pen=pg.mkPen("#0d47a1" if self.light else "w", width=3),
                name="mean",
                connect="finite",
            )
        if reference_n is not None and reference_n.size:
            item.plot(
                np.arange(reference_n.size) * dt,
                reference_n,
                pen=pg.mkPen("#d32f2f" if self.light else theme.WARN, width=3, style=Qt.DashLine),
                name="reference",
                connect="finite",
            )
        item.enableAutoRange()


class ProgressPlot(pg.PlotWidget):
    """RMS error against the reference per session (lower is better), oldest first."""

    def __init__(self, parent: QWidget | None = None, *, light: bool = False) -> None:
        super().__init__(parent, background="w" if light else theme.BACKGROUND)
        self.light = light
        _style(self, light, "session", None)
        self.getPlotItem().setLabel("left", "error vs reference", units="N")

    def show_progress(self, entries: Sequence[ProgressEntry]) -> None:
        item = self.getPlotItem()
        item.clear()
        x = np.arange(len(entries), dtype=float)
        rms = np.array([np.nan if e.rms_error_n is None else e.rms_error_n for e in entries])
        diff = np.array([np.nan if e.mean_diff_n is None else e.mean_diff_n for e in entries])
        colour = "#1565c0" if self.light else theme.ACCENT
        item.addLegend(offset=(-10, 10))
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
        ticks = [(float(i), local_time(e.started_at)[:10]) for i, e in enumerate(entries)]
        item.getAxis("bottom").setTicks([ticks])
        item.setXRange(-0.3, max(len(entries) - 0.7, 0.3), padding=0)
        item.enableAutoRange(axis="y")
