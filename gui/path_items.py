"""Plot items that Qt draws by itself: the live trace, the horizontal grid, shaded bands.

pyqtgraph's items paint and report their bounding box in Python, and Qt asks for both on
every repaint that touches them: for the live plot, whose strip of newest columns is
repainted 30 times a second, that Python (and the enum conversions it makes) cost more
than the drawing. These items hold a ``QPainterPath`` built from numpy arrays once per
change (``pg.arrayToQPath``) and leave painting and bounding boxes to Qt's C++.

Their pens are cosmetic with width 0 (one pixel, Qt's fast line path): the bounding box
is then the path's own, not a stroke of it in data units, and Qt pads every repainted
rectangle by two pixels, so nothing is left behind.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsRectItem


def hairline(color: str) -> QPen:
    """A one-pixel cosmetic pen (width 0)."""
    return pg.mkPen(color, width=0)


class TraceItem(QGraphicsPathItem):
    """A polyline through ``(x, y)``; NaN in either breaks it."""

    def __init__(self, pen: QPen) -> None:
        super().__init__()
        self.setPen(pen)
        self._x = np.empty(0)
        self._y = np.empty(0)

    def set_xy(self, x: np.ndarray, y: np.ndarray) -> None:
        self._x, self._y = x, y
        if x.shape[0] == 0:
            self.setPath(QPainterPath())
            return
        broken = bool(np.isnan(x).any() or np.isnan(y).any())
        self.setPath(
            pg.arrayToQPath(x, y, connect="finite" if broken else "all", finiteCheck=broken)
        )

    def xy(self) -> tuple[np.ndarray, np.ndarray]:
        """The arrays last set (the same objects)."""
        return self._x, self._y


class HLinesItem(QGraphicsPathItem):
    """Horizontal lines at ``levels`` from ``x0`` to ``x1`` (one path for all of them)."""

    def __init__(self, pen: QPen) -> None:
        super().__init__()
        self.setPen(pen)
        self.levels: tuple[float, ...] = ()
        self.x_span: tuple[float, float] = (0.0, 0.0)

    def set_lines(self, levels: tuple[float, ...], x0: float, x1: float) -> None:
        if (levels, (x0, x1)) == (self.levels, self.x_span):
            return
        self.levels, self.x_span = levels, (x0, x1)
        path = QPainterPath()
        for level in levels:
            path.moveTo(x0, level)
            path.lineTo(x1, level)
        self.setPath(path)


class BandItem(QGraphicsRectItem):
    """A band across the view, filled by Qt: ``vertical`` from ``x0`` to ``x1`` (a hold,
    a gap), or horizontal from ``y0`` to ``y1`` (a target window). Across, it reaches over
    ``span`` (the view's extent and more, set by the plot as the view moves): a rectangle
    of its own, not one computed from the view on every paint as pyqtgraph's
    ``LinearRegionItem`` does."""

    def __init__(self, brush: QBrush, *, vertical: bool = True, pen: QPen | None = None) -> None:
        super().__init__()
        self.vertical = vertical
        self.setBrush(brush)
        self.setPen(pen if pen is not None else QPen(Qt.PenStyle.NoPen))
        self._region = (0.0, 0.0)
        self.span = (0.0, 0.0)

    def getRegion(self) -> tuple[float, float]:  # noqa: N802 - pyqtgraph's name
        return self._region

    def setRegion(self, region: tuple[float, float]) -> None:  # noqa: N802 - pyqtgraph's name
        self._region = (float(region[0]), float(region[1]))
        self._place()

    def set_span(self, lo: float, hi: float) -> None:
        if (lo, hi) != self.span:
            self.span = (lo, hi)
            self._place()

    def _place(self) -> None:
        (r0, r1), (s0, s1) = self._region, self.span
        rect = (
            QRectF(r0, s0, r1 - r0, s1 - s0) if self.vertical else QRectF(s0, r0, s1 - s0, r1 - r0)
        )
        if rect != self.rect():
            self.setRect(rect)
