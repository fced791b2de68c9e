"""The device clock: its u32 counters continued past their wraps, and its offset and drift
against the host's clock, measured by PING/PONG round trips.

A pure stage like the sample timeline: no thread, no port, no clock reads. Host times
come in as data (``time.monotonic()`` seconds, read by the caller), device times as the
device sends them (u32 µs, wrapping every 71.6 minutes).

The round trip: PING leaves at host time ``sent``, its PONG (device µs ``t_us``) arrives
at ``arrived``; the device read its clock, we assume, halfway between. Those pairs, placed
on the session timeline, are fitted with a straight line device_s = a + b · host_s: the
line maps a host instant (a mark typed on the keyboard) to session time, and b − 1 is the
device clock's drift. A pair can be off by up to half its round trip, so the line rests on
the half of the pairs with the shortest round trips: a PING delayed on a busy host (the
thread preempted between reading the clock and writing) has a long one, and would pull the
line by milliseconds.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

U32 = 1 << 32  # the device's sample index and µs clock are u32 counters
PINGS_IN_FLIGHT = 16  # PINGs remembered while they wait for a PONG (oldest forgotten)
PONGS_BEFORE_ORIGIN = 8  # PONGs kept until the session timeline has an origin
FIT_PAIRS = 120  # the clock line is fitted over this many recent pairs
MIN_FIT_PAIRS = 3  # fewer (prompt) pairs give an offset only, no slope …
MIN_FIT_SPAN_S = 2.0  # … and so do pairs closer together than this (host seconds)


def u32_delta(new: int, old: int) -> int:
    """``new − old`` for two readings of a u32 counter, the short way round (so a wrap
    between them does not count as 2³² ticks): a value in [−2³¹, 2³¹)."""
    delta = (int(new) - int(old)) % U32
    return delta - U32 if delta >= U32 // 2 else delta


class Unwrapper:
    """A u32 counter continued past its wraps, from an anchor: one raw reading and the
    unwrapped value it stands for. ``unwrap`` places a reading near the anchor (within
    2³¹ either way) without moving it; ``anchor`` moves it, e.g. once a frame is accepted."""

    __slots__ = ("raw", "value")

    def __init__(self, raw: int = 0, value: int | None = None) -> None:
        self.raw = int(raw)
        self.value = self.raw if value is None else int(value)

    def unwrap(self, raw: int) -> int:
        return self.value + u32_delta(raw, self.raw)

    def anchor(self, raw: int, value: int | None = None) -> None:
        """Continue from ``raw`` from now on, standing for ``value`` (by default where
        ``unwrap`` places it)."""
        self.value = self.unwrap(raw) if value is None else int(value)
        self.raw = int(raw)

    def advance(self, raw: int) -> int:
        """Unwrap ``raw`` and continue from it: for a counter read in order."""
        self.anchor(raw)
        return self.value


class _Line(NamedTuple):
    """A fitted line device_s = a + b · host_s, and which version of the pairs it rests on."""

    version: int
    a: float
    b: float
    sloped: bool  # b was measured (else taken as 1: too few prompt pairs, or too close)


class ClockFit:
    """Least-squares line device_s = a + b · host_s over the most recent (host s, device s)
    pairs: those whose round trip is no longer than the median one (half of them or more).
    While fewer than ``MIN_FIT_PAIRS`` are left that way, or they span less than
    ``MIN_FIT_SPAN_S``, the newest of them gives the offset and the slope is taken as 1 (no
    drift): one PING held up on a busy host would otherwise tilt a line through three
    pairs by milliseconds, and a slope over the PINGs of a fraction of a second (the burst
    at the start of a stream) is mostly their noise."""

    def __init__(self, keep: int = FIT_PAIRS) -> None:
        self._pairs: deque[tuple[float, float, float]] = deque(maxlen=keep)
        self._version = 0  # counts changes of the pairs (another thread may add one)
        self._line: _Line | None = None  # the line last fitted

    def __len__(self) -> int:
        return len(self._pairs)

    def add(self, host_s: float, device_s: float, round_trip_s: float = 0.0) -> None:
        self._pairs.append((host_s, device_s, round_trip_s))
        self._version += 1

    def clear(self) -> None:
        self._pairs.clear()
        self._version += 1

    def device_time(self, host_s: float) -> float | None:
        """The device time at host time ``host_s`` (None before the first pair)."""
        line = self._fitted()
        return None if line is None else line.a + line.b * host_s

    def drift_ppm(self) -> float:
        """How much faster the device clock runs than the host's, in parts per million
        (0 until measured: see :attr:`drift_measured`)."""
        line = self._fitted()
        return 0.0 if line is None else (line.b - 1.0) * 1e6

    @property
    def drift_measured(self) -> bool:
        """Whether the line has a slope of its own (else the host's rate is assumed)."""
        line = self._fitted()
        return line is not None and line.sloped

    def _fitted(self) -> _Line | None:
        """The line, refitted if a pair came or went since; None without pairs. Another
        thread (the reader) may add or clear pairs meanwhile: the pairs are read in one
        step, and what they give is what is returned."""
        line = self._line
        if line is None or line.version != self._version:
            version = self._version
            snapshot = list(self._pairs)  # one step, whatever another thread does
            if not snapshot:
                return None
            pairs = np.array(snapshot)
            round_trip_s = pairs[:, 2]
            pairs = pairs[round_trip_s <= np.median(round_trip_s)]  # ties kept: half or more
            sloped = bool(len(pairs) >= MIN_FIT_PAIRS and np.ptp(pairs[:, 0]) >= MIN_FIT_SPAN_S)
            if not sloped:
                h, d = pairs[-1, 0], pairs[-1, 1]
                a, b = float(d - h), 1.0
            else:
                h0 = pairs[:, 0].min()  # fitted around a pair: host seconds since boot are large
                slope, at_h0 = np.polyfit(pairs[:, 0] - h0, pairs[:, 1], 1)
                a, b = float(at_h0 - slope * h0), float(slope)
            line = self._line = _Line(version, a, b, sloped)
        return line


class DeviceClock:
    """The device clock against the host's, from PING/PONG round trips.

    ``ping`` gives the token of the next PING; ``pong`` takes its answer. The device's µs
    stamp only means something on the session timeline, which has no origin before the
    first sample: answers wait (the newest ``PONGS_BEFORE_ORIGIN``) until ``place`` gives
    them the timeline's conversion. ``clear`` forgets the fitted line when the device
    clock no longer maps as it did (a restart, a time step)."""

    def __init__(self, keep: int = FIT_PAIRS) -> None:
        self.fit = ClockFit(keep)
        self._token = 0
        self._pings: dict[int, float] = {}  # token -> host s when sent
        self._waiting: list[tuple[float, int, float]] = []  # (host s, device µs, round trip
        # s), not yet placed

    @property
    def pairs(self) -> int:
        """How many round trips the line rests on."""
        return len(self.fit)

    @property
    def waiting(self) -> bool:
        """Whether answers wait to be placed on the session timeline."""
        return bool(self._waiting)

    def ping(self, host_s: float) -> int:
        """The token of a PING sent at ``host_s``."""
        self._token = (self._token + 1) % U32
        self._pings[self._token] = host_s
        if len(self._pings) > PINGS_IN_FLIGHT:
            self._pings.pop(next(iter(self._pings)))
        return self._token

    def pong(self, token: int, device_us: int, host_s: float) -> bool:
        """The PONG for ``token`` arrived at ``host_s``, saying ``device_us``; False for an
        answer to no PING we remember (forgotten, or answered twice)."""
        sent_s = self._pings.pop(token, None)
        if sent_s is None:
            return False
        self._waiting.append(((sent_s + host_s) / 2, device_us, host_s - sent_s))
        del self._waiting[:-PONGS_BEFORE_ORIGIN]
        return True

    def place(self, session_t_s: Callable[[int], float | None]) -> None:
        """Move the waiting answers onto the session timeline, whose origin is known now
        (``session_t_s`` converts a device µs stamp; a stamp it cannot place is dropped)."""
        for host_s, device_us, round_trip_s in self._waiting:
            t_s = session_t_s(device_us)
            if t_s is not None:
                self.fit.add(host_s, t_s, round_trip_s)
        self._waiting.clear()

    def clear(self) -> None:
        """The device clock no longer maps as it did: fit anew (PINGs in flight and
        answers waiting still count)."""
        self.fit.clear()

    def device_time(self, host_s: float) -> float | None:
        """Session time at host time ``host_s`` (None before a placed answer)."""
        return self.fit.device_time(host_s)

    def drift_ppm(self) -> float:
        return self.fit.drift_ppm()

    @property
    def drift_measured(self) -> bool:
        return self.fit.drift_measured
