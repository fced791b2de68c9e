"""A trace reduced to one minimum and one maximum per pixel column, kept up to date.

The live plot draws a window of up to 600,000 samples (10 min at 1 kHz) as two points
per pixel column (``column_envelope``), so the painter's cost does not grow with the
window and a one-sample spike is never hidden. Reducing the whole window again every
frame would cost a pass over every sample 40 times a second; but a column the newest
sample has left never changes again, so ``ColumnEnvelope`` folds in only the columns
completed since the last frame (a few dozen samples) and keeps the rest.

Forces stay in the unit they come in (newtons). The display unit is applied to the two
points per column afterwards: scaling by a positive factor keeps every minimum and
maximum, and float rounding is monotonic, so the drawn numbers are exactly those of
converting every sample first, at a thousandth of the cost.
"""

from __future__ import annotations

import math

import numpy as np

MIN_COLUMNS = 1024  # room kept for columns before the buffer grows


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
    first, last = math.floor(t_s[0] / column_s), math.floor(t_s[-1] / column_s)
    if first == last:  # one column (what a frame adds, mostly): no searching
        lo, hi = y.min(keepdims=True), y.max(keepdims=True)
        column = np.full(1, float(first))
        rising = y[-1:] >= y[:1]
    else:
        # samples are split at the column edges k * column_s, and each column is named
        # by its edges too (not by flooring its first sample's time, which rounding can
        # put one column off): the points then ascend strictly
        edges = np.arange(first + 1.0, last + 1.0) * column_s
        starts = np.empty(edges.shape[0] + 1, dtype=np.intp)  # of columns first … last
        starts[0] = 0
        starts[1:] = np.searchsorted(t_s, edges, side="left")
        held = np.empty(starts.shape[0], dtype=bool)  # an empty column repeats the next start
        np.not_equal(starts[:-1], starts[1:], out=held[:-1])
        held[-1] = starts[-1] < n
        column = np.arange(first, last + 1.0)[held]
        starts = starts[held]
        lo, hi = np.minimum.reduceat(y, starts), np.maximum.reduceat(y, starts)
        ends = np.empty_like(starts)  # last sample of each column
        ends[:-1], ends[-1] = starts[1:] - 1, n - 1
        rising = y[ends] >= y[starts]
    x = np.empty(2 * column.shape[0], dtype=np.float64)
    env = np.empty(2 * column.shape[0], dtype=y.dtype)
    x[0::2], x[1::2] = (column + 0.25) * column_s, (column + 0.75) * column_s
    env[0::2] = np.where(rising, lo, hi)
    env[1::2] = np.where(rising, hi, lo)
    return x, env


def column_start_s(t_s: float, column_s: float) -> float:
    """Where the column holding ``t_s`` begins (the same edges ``column_envelope`` uses)."""
    return math.floor(t_s / column_s) * column_s


class ColumnEnvelope:
    """``column_envelope`` of a trace that only grows at its newest end, folded in one
    completed column at a time.

    ``update`` is handed the trace (newest last) every frame; ``visible`` returns what
    ``column_envelope`` would give for the completed columns from a time on. A trace that
    is not the continuation of the last one (a new connection, another column width, a
    different dtype) starts the envelope again from scratch."""

    def __init__(self) -> None:
        self.column_s = 0.0
        self.resets = 0  # how often it started again: a change a cached picture must see
        self._x = np.empty(0, dtype=np.float64)
        self._y = np.empty(0, dtype=np.float32)
        self._start = self._end = 0  # the points held: _x[_start:_end]
        self._until_s = -math.inf  # every completed column before this time is folded in
        self._last: tuple[float, float] | None = None  # the newest sample folded in
        self._head_key: tuple[float, float, int] | None = None  # a partial first column …
        self._head: tuple[np.ndarray, np.ndarray] = (self._x, self._y)  # … as last cut

    @property
    def done_s(self) -> float:
        """Samples before this time are folded in (the newest sample's column start)."""
        return self._until_s

    def clear(self) -> None:
        self.column_s = 0.0
        self._start = self._end = 0
        self._until_s = -math.inf
        self._last = None
        self._head_key = None
        self.resets += 1

    def update(self, t_s: np.ndarray, y: np.ndarray, column_s: float, from_s: float) -> None:
        """Fold in the columns of ``(t_s, y)`` the newest sample has left, from ``from_s``
        on (older points are dropped: they have scrolled out of view)."""
        n = t_s.shape[0]
        if n == 0 or column_s <= 0:
            self.clear()
            return
        if column_s != self.column_s or y.dtype != self._y.dtype or not self._continues(t_s, y):
            self.clear()
            self.column_s = column_s
            if self._y.dtype != y.dtype:
                self._x, self._y = np.empty(0, dtype=np.float64), np.empty(0, dtype=y.dtype)
        done_s = column_start_s(float(t_s[-1]), column_s)
        lo = int(np.searchsorted(t_s, max(self._until_s, from_s), side="left"))
        hi = int(np.searchsorted(t_s, done_s, side="left"))
        if hi > lo:
            self._push(*column_envelope(t_s[lo:hi], y[lo:hi], column_s))
            self._last = (float(t_s[hi - 1]), float(y[hi - 1]))
        self._until_s = max(self._until_s, done_s)
        held = self._x[self._start : self._end]
        self._start += int(np.searchsorted(held, from_s - column_s, side="left"))

    def visible(
        self, t_s: np.ndarray, y: np.ndarray, from_s: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """The folded columns' points from ``from_s`` on, exactly as ``column_envelope``
        gives them for the samples from ``from_s`` up to the newest sample's column: the
        first column, when ``from_s`` cuts it, is reduced from its samples after the cut."""
        x_all, y_all = self._x[self._start : self._end], self._y[self._start : self._end]
        column_s = self.column_s
        if column_s <= 0 or x_all.shape[0] == 0:
            return x_all[:0], y_all[:0]
        first_s = column_start_s(from_s, column_s)
        if first_s >= from_s:  # the view begins on a column edge: nothing is cut
            i = int(np.searchsorted(x_all, first_s, side="left"))
            return x_all[i:], y_all[i:]
        i = int(np.searchsorted(x_all, first_s + column_s, side="left"))
        end_s = min(first_s + column_s, self._until_s)
        key = (from_s, end_s, self.resets)
        if key != self._head_key:  # the cut column, again only when the cut moves
            a = int(np.searchsorted(t_s, from_s, side="left"))
            b = int(np.searchsorted(t_s, end_s, side="left"))
            empty = (x_all[:0], y_all[:0])
            self._head = column_envelope(t_s[a:b], y[a:b], column_s) if b > a else empty
            self._head_key = key
        hx, hy = self._head
        if hx.shape[0] == 0:
            return x_all[i:], y_all[i:]
        return np.concatenate((hx, x_all[i:])), np.concatenate((hy, y_all[i:]))

    def _continues(self, t_s: np.ndarray, y: np.ndarray) -> bool:
        """Whether ``t_s`` still holds, just before where folding stopped, the newest
        sample folded in (so it is the same trace, grown)."""
        if self._last is None:
            return True
        i = int(np.searchsorted(t_s, self._until_s, side="left")) - 1
        if i < 0:
            return False
        t_last, y_last = self._last
        y_i = float(y[i])
        return float(t_s[i]) == t_last and (y_i == y_last or (y_i != y_i and y_last != y_last))

    def _push(self, x: np.ndarray, y: np.ndarray) -> None:
        n = x.shape[0]
        if self._end + n > self._x.shape[0]:
            held = self._end - self._start
            size = max(2 * (held + n), MIN_COLUMNS)
            if size > self._x.shape[0]:
                new_x, new_y = np.empty(size, dtype=np.float64), np.empty(size, self._y.dtype)
            else:  # slide the held points to the front
                new_x, new_y = self._x, self._y
            new_x[:held] = self._x[self._start : self._end]
            new_y[:held] = self._y[self._start : self._end]
            self._x, self._y = new_x, new_y
            self._start, self._end = 0, held
        self._x[self._end : self._end + n] = x
        self._y[self._end : self._end + n] = y
        self._end += n
