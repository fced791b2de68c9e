"""Samples, forces, the overview and the protocol events read the same way from either
back end.

A back end that keeps samples in chunks and the min/max summary pyramid (SQLite's
:class:`~.library.SessionStore`, PostgreSQL's :class:`~.postgres.PostgresLibrary`) says how
to fetch them; this mixin turns them into what the views read, once for both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, TypeVar

import numpy as np

from calibration.tare import ForceTimeline

from ..records import MarkSource, ProtocolEvent, ProtocolKind, Rating, SampleBlock, Signal
from . import overview
from .rows import joined, json_obj

T = TypeVar("T")


class SampleReading:
    """``load_samples``, ``load_forces``, ``load_overview`` over the five fetches below."""

    def iter_chunks(
        self, sid: str, t0_s: float | None = None, t1_s: float | None = None
    ) -> Iterator[SampleBlock]:
        raise NotImplementedError

    def force_timeline(self, sid: str) -> ForceTimeline:
        raise NotImplementedError

    def _channels(self, sid: str) -> int:
        """The session's channel count (for an empty answer of the right shape)."""
        raise NotImplementedError

    def _extent(self, sid: str) -> tuple[int, float | None, float]:
        """``(samples, last_t_s, nominal rate_hz)`` of the session."""
        raise NotImplementedError

    def _summary(
        self, sid: str, level: int, bucket_lo: int, bucket_hi: int
    ) -> Sequence[Sequence[float]]:
        """Summary rows ``(bucket, min_raw, max_raw)`` of ``level``, in bucket order."""
        raise NotImplementedError

    def load_samples(
        self, sid: str, t0_s: float | None = None, t1_s: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(t_s, raw)`` in [t0_s, t1_s]: float64 (n,), int32 (n, channels)."""
        blocks = list(self.iter_chunks(sid, t0_s, t1_s))
        return joined(blocks, blocks[0].raw.shape[1] if blocks else self._channels(sid))

    def load_forces(
        self, sid: str, t0_s: float | None = None, t1_s: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(t_s, force_n)`` in [t0_s, t1_s]; force_n is (n, channels) newtons."""
        forces = self.force_timeline(sid)
        t, raw = self.load_samples(sid, t0_s, t1_s)
        return t, forces.counts_to_n(t, raw)

    def load_overview(
        self,
        sid: str,
        t0_s: float | None = None,
        t1_s: float | None = None,
        max_points: int = 2000,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Min/max envelope of channel 0 in newtons: ``(t_s, min_n, max_n)``.

        From the summary pyramid (:func:`.overview.envelope`: at most ``max_points``
        buckets, ``t_s`` at each one's centre); when the range holds no more than
        ``max_points`` samples, the samples themselves (``min_n == max_n``).
        """
        max_points = max(1, int(max_points))
        samples, last_t, rate_hz = self._extent(sid)
        empty = np.zeros(0), np.zeros(0), np.zeros(0)
        if samples == 0 or last_t is None:
            return empty
        lo = 0.0 if t0_s is None else float(t0_s)
        hi = float(last_t) if t1_s is None else float(t1_s)
        if hi < lo:
            return empty
        if rate_hz > 0 and (min(hi, float(last_t)) - lo) * rate_hz + 1 <= max_points:
            t, force = self.load_forces(sid, lo, hi)
            f0 = force[:, 0] if force.size else np.zeros(0)
            return t, f0, f0.copy()
        forces = self.force_timeline(sid)
        level = overview.level_for(lo, hi, max_points)
        rows = self._summary(sid, level, *overview.bucket_range(lo, hi, level))
        return overview.envelope(rows, level, max_points, forces)


class ProtocolReading:
    """``load_signals``, ``load_ratings``, ``load_protocols`` over one fetch each back end
    supplies: a session's rows of one of those tables, in the order they are read (time,
    then the order they were written)."""

    def _event_rows(self, sid: str, table: str, columns: str) -> Sequence[Sequence[Any]]:
        raise NotImplementedError

    def _decoding(self, what: str) -> AbstractContextManager[None]:
        """Damaged content read inside becomes one StorageError naming ``what``."""
        raise NotImplementedError

    def _decoded(self, sid: str, table: str, columns: str, make: Callable[..., T]) -> list[T]:
        rows = self._event_rows(sid, table, columns)
        with self._decoding(f"session {sid}: table {table}"):
            return [make(*row) for row in rows]

    def load_signals(self, sid: str) -> list[Signal]:
        """The client's signals ("now": a pressure-pain threshold), in time order."""
        return self._decoded(
            sid, "signals", "t_s, source", lambda t, src: Signal(float(t), MarkSource(src))
        )

    def load_ratings(self, sid: str) -> list[Rating]:
        """The client's pain ratings (0-10), in time order."""
        return self._decoded(
            sid, "ratings", "t_s, value, source",
            lambda t, v, src: Rating(float(t), float(v), MarkSource(src)),
        )  # fmt: skip

    def load_protocols(self, sid: str) -> list[ProtocolEvent]:
        """The protocol events (PPT rounds, drills, guided profiles), in time order."""
        return self._decoded(
            sid, "protocols", "t_s, kind, data",
            lambda t, k, d: ProtocolEvent(float(t), ProtocolKind(k), json_obj(d, "data")),
        )  # fmt: skip

    def _protocol_events(self, sid: str) -> tuple[list[Signal], list[Rating], list[ProtocolEvent]]:
        return self.load_signals(sid), self.load_ratings(sid), self.load_protocols(sid)
