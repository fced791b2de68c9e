"""The window's own copy of the newest samples, topped up incrementally every frame.

Copying the whole 10-minute ring buffer (600,000 rows) out of the reader's ``RingBuffer``
every frame costs more than drawing it. ``TraceBuffer.sync`` copies only the rows written
since the last frame (``RingBuffer.since``: the rows and the count are read under one
lock, so rows the reader writes meanwhile are neither lost nor copied twice) into a
contiguous buffer of twice the capacity (slid back when full, so appends are amortised
O(1)); ``window`` returns views, so the plot gets contiguous arrays without another copy.
"""

from __future__ import annotations

import numpy as np

from logger.ringbuffer import RingBuffer


class TraceBuffer:
    """Newest ``capacity`` samples of channel 0: ``t_s`` (float64) and ``force_n`` (float32)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = int(capacity)
        self._t = np.empty(2 * self.capacity, dtype=np.float64)
        self._f = np.empty(2 * self.capacity, dtype=np.float32)
        self._start = 0
        self._end = 0
        self._ring: RingBuffer | None = None
        self._seen = 0  # ring.written at the last sync

    def __len__(self) -> int:
        return self._end - self._start

    def clear(self) -> None:
        self._start = self._end = 0
        self._ring = None
        self._seen = 0

    @property
    def last_t_s(self) -> float | None:
        return float(self._t[self._end - 1]) if self._end > self._start else None

    def sync(self, ring: RingBuffer | None) -> int:
        """Copy the rows ``ring`` gained since the last call; returns how many were added."""
        if ring is None:
            return 0
        if ring is not self._ring or ring.written < self._seen:
            self.clear()
            self._ring = ring
        if ring.written == self._seen:
            return 0
        t_s, force_n, self._seen = ring.since(self._seen)
        if t_s.shape[0] == 0:
            return 0
        last = self.last_t_s
        if last is not None and t_s[0] <= last:  # the trace stays ascending, as time does
            first_new = int(np.searchsorted(t_s, last, side="right"))
            t_s, force_n = t_s[first_new:], force_n[first_new:]
        self._append(t_s, force_n[:, 0] if force_n.ndim == 2 else force_n)
        return int(t_s.shape[0])

    def append(self, t_s: np.ndarray, force_n: np.ndarray) -> None:
        """Add rows directly (newest last), e.g. history loaded from elsewhere."""
        self._append(np.asarray(t_s, dtype=np.float64), np.asarray(force_n, dtype=np.float32))

    def _append(self, t_s: np.ndarray, force_n: np.ndarray) -> None:
        n = int(t_s.shape[0])
        if n == 0:
            return
        if n >= self.capacity:
            t_s, force_n = t_s[-self.capacity :], force_n[-self.capacity :]
            n = self.capacity
            self._start = self._end = 0
        if self._end + n > self._t.shape[0]:  # slide the newest rows to the front
            keep = min(self._end - self._start, self.capacity - n)
            src = slice(self._end - keep, self._end)
            self._t[:keep] = self._t[src]
            self._f[:keep] = self._f[src]
            self._start, self._end = 0, keep
        self._t[self._end : self._end + n] = t_s
        self._f[self._end : self._end + n] = force_n
        self._end += n
        if self._end - self._start > self.capacity:
            self._start = self._end - self.capacity

    def window(self, seconds: float) -> tuple[np.ndarray, np.ndarray]:
        """Views of the rows within ``seconds`` of the newest one (oldest first)."""
        t = self._t[self._start : self._end]
        f = self._f[self._start : self._end]
        if t.shape[0] == 0:
            return t, f
        i = int(np.searchsorted(t, t[-1] - seconds, side="left"))
        return t[i:], f[i:]
