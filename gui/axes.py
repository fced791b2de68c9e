"""Plot axes shared by the live window, the review window and the report.

pyqtgraph's default axes rescale their numbers with an SI prefix once values grow (a
session time of 1500 s reads "1.5" with "(ks)" in the label; 0.5 N reads "500 mN"). Time
axes here show clock time instead (``0:45``, ``12:30``, ``1:02:03``) at time-like steps
(1, 2, 5, 10, 15, 30 s, 1, 2, 5, 10, 15, 30 min, 1, 2, 3, 6, 12 h), and every other axis
keeps plain numbers in its stated unit.

Usage::

    from gui.axes import TimeAxis, plain_axes
    plot = pg.PlotWidget(axisItems={"bottom": TimeAxis("bottom")})
    plain_axes(plot.getPlotItem())      # no SI prefix on any axis
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtGui import QFont

TIME_STEPS_S = (
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
    15.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    900.0,
    1800.0,
    3600.0,
    7200.0,
    10800.0,
    21600.0,
    43200.0,
    86400.0,
)
MIN_TICK_PX = 70.0
"""At least this many pixels between major ticks (a label like ``1:02:03`` fits)."""


def clock(t_s: float, spacing_s: float = 1.0, hours: bool = False) -> str:
    """``t_s`` as ``m:ss`` (``h:mm:ss`` with ``hours``), with as many decimals as a tick
    ``spacing_s`` below one second needs (``0:01.5``). Negative times get a minus sign."""
    if not math.isfinite(t_s):
        return ""
    decimals = 0 if spacing_s >= 1 else min(3, math.ceil(-math.log10(spacing_s) - 1e-9))
    sign = "-" if t_s < 0 and round(abs(t_s), decimals) != 0 else ""
    t = round(abs(t_s), decimals)
    whole = int(t)
    frac = t - whole
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    sec = f"{s:02d}"
    if decimals:
        sec += f"{frac:.{decimals}f}"[1:]
    if hours or h:
        return f"{sign}{h}:{m:02d}:{sec}"
    return f"{sign}{m}:{sec}"


def time_step(span_s: float, size_px: float, min_px: float = MIN_TICK_PX) -> float:
    """The smallest time-like step that keeps major ticks ``min_px`` apart."""
    if span_s <= 0 or size_px <= 0:
        return 1.0
    wanted = span_s * min_px / size_px
    for step in TIME_STEPS_S:
        if step >= wanted:
            return step
    days = math.ceil(wanted / 86400.0)
    return 86400.0 * days


MINOR_S = {
    15.0: 5.0,
    30.0: 10.0,
    60.0: 15.0,
    120.0: 30.0,
    300.0: 60.0,
    600.0: 120.0,
    900.0: 300.0,
    1800.0: 300.0,
    3600.0: 900.0,
    7200.0: 1800.0,
    10800.0: 3600.0,
    21600.0: 3600.0,
    43200.0: 10800.0,
    86400.0: 21600.0,
}


def _minor(step: float) -> float:
    if step in MINOR_S:
        return MINOR_S[step]
    mantissa = step / 10 ** math.floor(math.log10(step) + 1e-9)
    return step / (4 if round(mantissa) == 2 else 5)


class TimeAxis(pg.AxisItem):
    """An axis of seconds labelled as clock time: ``m:ss``, ``h:mm:ss`` when the visible
    range reaches an hour, decimals only when ticks are closer than a second."""

    def __init__(self, orientation: str = "bottom", **kwargs: object) -> None:
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)
        self._hours = False

    def tickSpacing(  # noqa: N802 (pyqtgraph name)
        self, minVal: float, maxVal: float, size: float
    ) -> list[tuple[float, float]]:
        step = time_step(maxVal - minVal, size)
        return [(step, 0.0), (_minor(step), 0.0)]

    def tickValues(  # noqa: N802 (pyqtgraph name)
        self, minVal: float, maxVal: float, size: float
    ) -> list[tuple[float, list[float]]]:
        self._hours = max(abs(minVal), abs(maxVal)) >= 3600.0
        return super().tickValues(minVal, maxVal, size)

    def tickStrings(  # noqa: N802 (pyqtgraph name)
        self, values: Sequence[float], scale: float, spacing: float
    ) -> list[str]:
        hours = self._hours or any(abs(v) >= 3600.0 for v in values)
        return [clock(v * scale, spacing * scale, hours) for v in values]


PRINT_FONT_PX = 18
"""Axis text size of plots rendered for the report: about 8 pt once the image is scaled to
its place on the A4 page (1100 px across 180 mm; 560 px across 89 mm)."""


def print_font(px: int = PRINT_FONT_PX) -> QFont:
    font = QFont("DejaVu Sans")
    font.setPixelSize(px)
    return font


def print_axes(item: pg.PlotItem, px: int = PRINT_FONT_PX) -> None:
    """Tick and label text large enough to read on paper."""
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setStyle(tickFont=print_font(px), tickTextOffset=6)
        axis.label.setFont(print_font(px))


def no_si_prefix(axis: pg.AxisItem) -> None:
    """Tick labels exactly in the axis's units, whatever its range and scale.

    ``enableAutoSIPrefix(False)`` alone keeps the prefix scale it computes on the way out
    from the current range (pyqtgraph 0.13): a kPa axis whose values pass 1000 at that
    moment stays divided by 1000 for good. No range is left where a prefix applies."""
    axis.setSIPrefixEnableRanges(((0.0, 0.0),))
    axis.enableAutoSIPrefix(False)


def plain_axes(item: pg.PlotItem) -> None:
    """Switch the SI prefix off on every axis of ``item`` (units stay as given)."""
    for name in ("left", "bottom", "right", "top"):
        axis = item.getAxis(name)
        no_si_prefix(axis)


# A view box of our own (a second y axis's, added to a plot's scene beside the plot's view
# box) is never handed to Python's garbage collector: pyqtgraph's ViewBox, destroyed that
# way at a random moment while Qt runs (its C++ side already gone with its scene), crashes
# the process (a segfault in a GUI test's event loop). They are few and small.
_KEPT_VIEWS: list[pg.ViewBox] = []


def side_view() -> pg.ViewBox:
    """A view box for a second y axis (no mouse, no menu of its own: a right click
    reaches the plot's view box under it), kept alive for the life of the program."""
    view = pg.ViewBox(enableMouse=False, enableMenu=False)
    _KEPT_VIEWS.append(view)
    return view
