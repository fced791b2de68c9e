"""A fixed-size ring of recent samples: one writer (the reader thread), many readers.

The GUI copies a window out at frame rate; the writer never waits for it beyond a
memcpy-sized critical section. Memory is fixed at construction, however long a session
runs.
"""

from __future__ import annotations

import threading

import numpy as np


class RingBuffer:
    def __init__(self, capacity: int, channels: int = 1) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = int(capacity)
        self.channels = int(channels)
        self._t_s = np.zeros(self.capacity, dtype=np.float64)
        self._force_n = np.zeros((self.capacity, self.channels), dtype=np.float32)
        self._raw = np.zeros((self.capacity, self.channels), dtype=np.int32)
        self._written = 0  # total rows ever written
        self._lock = threading.Lock()

    @property
    def written(self) -> int:
        return self._written

    def clear(self) -> None:
        with self._lock:
            self._written = 0

    def extend(self, t_s: np.ndarray, force_n: np.ndarray, raw: np.ndarray | None = None) -> None:
        """Append rows (``force_n`` and ``raw`` shape (n,) or (n, channels); raw counts
        are kept beside the forces for whoever needs them, e.g. the calibration wizard)."""
        n = int(t_s.shape[0])
        if n == 0:
            return
        force = np.asarray(force_n, dtype=np.float32).reshape(n, -1)[:, : self.channels]
        counts = (
            np.zeros((n, self.channels), dtype=np.int32)
            if raw is None
            else np.asarray(raw, dtype=np.int32).reshape(n, -1)[:, : self.channels]
        )
        if n > self.capacity:
            t_s, force, counts = (
                t_s[-self.capacity :],
                force[-self.capacity :],
                counts[-self.capacity :],
            )
            skipped, n = n - self.capacity, self.capacity
        else:
            skipped = 0
        with self._lock:
            start = (self._written + skipped) % self.capacity
            first = min(n, self.capacity - start)
            for dst, src in ((self._t_s, t_s), (self._force_n, force), (self._raw, counts)):
                dst[start : start + first] = src[:first]
                if first < n:
                    dst[: n - first] = src[first:]
            self._written += n + skipped

    def latest(self, n: int | None = None, *, raw: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the newest ``n`` rows (all held rows when None), oldest first:
        ``(t_s, force_n)``, or ``(t_s, raw_counts)`` with ``raw=True``."""
        values = self._raw if raw else self._force_n
        with self._lock:
            held = min(self._written, self.capacity)
            n = held if n is None else max(0, min(int(n), held))
            end = self._written % self.capacity
            idx = (np.arange(end - n, end) % self.capacity) if n else np.zeros(0, dtype=np.int64)
            if n and end - n >= 0:
                sl = slice(end - n, end)
                return self._t_s[sl].copy(), values[sl].copy()
            return self._t_s[idx], values[idx]

    def since(self, count: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Copies of the rows written after the first ``count`` (those still held), oldest
        first, and how many rows had been written then: ``(t_s, force_n, written)``.

        A reader that passes back the ``written`` it got copies each row exactly once,
        with no overlap to search and nothing lost to a write in between (the count and
        the rows are read under one lock). Rows overwritten before they were copied are
        gone; ``written`` tells how many."""
        with self._lock:
            written = self._written
            n = max(0, min(written - int(count), written, self.capacity))
            end = written % self.capacity
            if end >= n:  # one contiguous slice
                sl = slice(end - n, end)
                return self._t_s[sl].copy(), self._force_n[sl].copy(), written
            head = slice(self.capacity - (n - end), self.capacity)
            t_s = np.concatenate((self._t_s[head], self._t_s[:end]))
            force_n = np.concatenate((self._force_n[head], self._force_n[:end]))
            return t_s, force_n, written

    def window(self, seconds: float, *, raw: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Rows whose t_s lies within ``seconds`` of the newest row (see :meth:`latest`)."""
        t_s, force_n = self.latest(raw=raw)
        if t_s.size == 0:
            return t_s, force_n
        i = int(np.searchsorted(t_s, t_s[-1] - seconds, side="left"))
        return t_s[i:], force_n[i:]
