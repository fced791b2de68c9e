"""The live session on the Lab Streaming Layer (LSL): ``record --lsl`` and ``gui --lsl``.

Two streams per device, for LabRecorder (or any LSL inlet) to put in one XDF file beside
EMG, EEG or motion capture:

- **force**: type ``Force``, one float32 channel per device channel, in newtons, nominal
  rate the device's; its description says the unit, the device (uid, firmware, ADC), the
  calibration in force when the stream opened (source, model) and the manufacturer,
  ``pressure-logger``;
- **markers**: type ``Markers``, one string per event, a JSON object whose ``event`` is
  ``mark``, ``hold_start``, ``hold_end``, ``alert``, ``zero`` or ``gap``.

**Times.** A sample's LSL time is the device's own timestamp mapped onto the LSL clock, not
the moment it reached the host: the session fits the device clock against the host's
``time.monotonic()`` (PING/PONG, ``logger/link/clock.py``) and this module inverts that
line. liblsl's ``local_clock()`` is CLOCK_MONOTONIC on Linux, the same clock; the two are
compared once when the outlet opens, so a platform where they differ is still right.
The times are as good as that fit: within 0.1 ms of the simulator's true sampling
times in a steady session (tests/logger/test_lsl.py checks 1 ms); one round trip slowed
on the host (right after a reconnect, under load) moves the line by up to a millisecond
or so until later ones outweigh it. Samples wait (a fraction of a second) until the fit
has its first few round trips, and again after the device restarts; a device that never
answers PING, and a text-mode device (the host times its lines), are timed by their
arrival instead. Marks typed on the host land where they were typed. A gap in the data
(an unplugged cable) is a gap in the stream, with a ``gap`` marker saying how many
samples were lost.

pylsl is imported only here, and this module only when LSL is asked for. Its wheel
carries liblsl; liblsl reads ``lsl_api.cfg`` (or the file ``LSLAPICFG`` names) for its
network settings, e.g. ``ResolveScope = machine`` to stay on this computer.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from calibration.models import ZeroEvent

from .errors import DeviceError
from .live import LiveTap, TapEvent
from .pipeline import HoldStarted
from .records import (
    Alert,
    DeviceInfo,
    Gap,
    Hold,
    Mark,
    ProtocolEvent,
    Rating,
    SampleBlock,
    Signal,
)

if TYPE_CHECKING:
    from .live import LiveSession

log = logging.getLogger(__name__)

try:  # pylsl loads liblsl as it is imported: a platform without it says so in one line
    import pylsl
except (ImportError, OSError, RuntimeError) as exc:
    raise DeviceError(f"LSL is not available here (pylsl/liblsl: {exc})") from None

MANUFACTURER = "pressure-logger"
FORCE_TYPE = "Force"
MARKER_TYPE = "Markers"
UNIT = "newtons"
WAIT_FOR_CLOCK_S = 2.0  # device time held back waiting for the clock fit, then arrival time
# round trips the fit needs before it times samples: the newest of those no slower than
# their median gives its offset (a stream starts with a burst of PINGs: a fifth of a second)
CLOCK_PAIRS = 4


STEP_S = 1e-6
"""How far after the previous sample a sample is held when the clock fit steps back."""


def lsl_clock_offset_s(tries: int = 9) -> float:
    """``pylsl.local_clock() − time.monotonic()``, read across the tightest of ``tries``
    brackets (≈0 on Linux, where both are CLOCK_MONOTONIC)."""
    best: tuple[float, float] | None = None
    for _ in range(tries):
        before = time.monotonic()
        lsl_s = pylsl.local_clock()
        after = time.monotonic()
        if best is None or after - before < best[0]:
            best = (after - before, lsl_s - (before + after) / 2)
    assert best is not None
    return best[1]


def default_source_id(uid: str) -> str:
    """The force stream's LSL source id: LabRecorder finds the stream again by it after
    the app restarts or the device comes back."""
    return f"pressure-logger:{uid}"


@dataclass(slots=True)
class _Line:
    """Host seconds of session time ``t_s``: ``host0 + (t_s − t0) · per_s``."""

    t0: float
    host0: float
    per_s: float

    def host_s(self, t_s: np.ndarray | float) -> np.ndarray:
        return self.host0 + (np.asarray(t_s, dtype=np.float64) - self.t0) * self.per_s


def device_to_host_line(live: LiveSession) -> _Line | None:
    """The session's device-clock fit, inverted: session time → host ``time.monotonic()``.

    The fit is a straight line device_s = a + b · host_s (``logger/link/clock.py``), so two
    of its values give it whole. None before ``CLOCK_PAIRS`` round trips."""
    if live.clock_pairs < CLOCK_PAIRS:
        return None
    host0 = time.monotonic()
    d0 = live.host_to_device_s(host0)
    d1 = live.host_to_device_s(host0 + 1.0)
    if d0 is None or d1 is None or not d1 > d0:
        return None
    return _Line(d0, host0, 1.0 / (d1 - d0))


class LslOutlet(LiveTap):
    """Publishes a live session on LSL (see the module docstring). Give it to
    :class:`~logger.live.LiveSession` (``taps=[LslOutlet()]``); the streams open when the
    device identifies itself and close with the session.

    ``source_id`` overrides the force stream's source id (default: from the device uid;
    the marker stream's is the same with ``:markers``)."""

    def __init__(self, source_id: str | None = None, *, name: str | None = None) -> None:
        self._source_id = source_id
        self._name = name
        self._lock = threading.Lock()  # the reader thread and a mark typed on the host
        self.force: pylsl.StreamOutlet | None = None
        self.markers: pylsl.StreamOutlet | None = None
        self._shape: tuple[str, int, float] | None = None  # uid, channels, rate of `force`
        self._lsl_offset_s = 0.0  # local_clock − time.monotonic
        self._pending: deque[SampleBlock | TapEvent] = deque()  # waiting for the clock
        self._arrival: _Line | None = None  # timing by arrival, when there is no clock
        self.samples_pushed = 0
        self.markers_pushed = 0
        self._last_stamp_s = -np.inf  # LSL time of the newest sample pushed
        self._last_t_s: float | None = None  # its session time

    # ----------------------------------------------------------------- LiveTap

    def device_ready(self, live: LiveSession, device: DeviceInfo) -> None:
        with self._lock:
            shape = (device.uid, device.channels, float(device.rate_hz))
            if self.force is not None and shape == self._shape:
                return  # the same device back: the same streams go on
            try:
                self._flush(live, force=True)
                self._open(live, device)
                self._shape = shape
            except Exception:  # no streams, but the session goes on (a tap never raises)
                log.exception("LSL: could not open the streams")
                self.force = self.markers = None

    def samples(self, live: LiveSession, block: SampleBlock) -> None:
        self._take(live, block)

    def event(self, live: LiveSession, item: TapEvent) -> None:
        self._take(live, item)

    def close(self) -> None:
        with self._lock:
            self._pending.clear()
            self.force = self.markers = None  # liblsl closes an outlet when it is freed
            self._shape = None

    # ----------------------------------------------------------------- for owners

    def wait_for_consumers(self, timeout_s: float) -> bool:
        """Whether both streams have an inlet within ``timeout_s`` (False before the
        device identified itself)."""
        force, markers = self.force, self.markers
        if force is None or markers is None:
            return False
        deadline = time.monotonic() + timeout_s
        return force.wait_for_consumers(timeout_s) and markers.wait_for_consumers(
            max(0.0, deadline - time.monotonic())
        )

    @property
    def source_id(self) -> str | None:
        """The force stream's source id (None before the device identified itself)."""
        return None if self.force is None else self.force.get_info().source_id()

    # ----------------------------------------------------------------- internals

    def _open(self, live: LiveSession, device: DeviceInfo) -> None:
        source_id = self._source_id or default_source_id(device.uid)
        name = self._name or f"pressure-logger {device.uid}"
        rate = float(device.rate_hz) if device.rate_hz > 0 else pylsl.IRREGULAR_RATE
        info = pylsl.StreamInfo(
            name, FORCE_TYPE, device.channels, rate, pylsl.cf_float32, source_id
        )
        _describe(info, live, device)
        marker_info = pylsl.StreamInfo(
            f"{name} markers", MARKER_TYPE, 1, pylsl.IRREGULAR_RATE, pylsl.cf_string,
            f"{source_id}:markers",
        )  # fmt: skip
        desc = marker_info.desc()
        desc.append_child_value("manufacturer", MANUFACTURER)
        desc.append_child_value("format", "json")
        desc.append_child("device").append_child_value("uid", device.uid)
        self.force = pylsl.StreamOutlet(info)
        self.markers = pylsl.StreamOutlet(marker_info)
        self._lsl_offset_s = lsl_clock_offset_s()
        self._arrival = None
        log.info("LSL: streaming %s (%d channel(s), %g Hz) as source id %s", name,
                 device.channels, device.rate_hz, source_id)  # fmt: skip

    def _line(self, live: LiveSession, force: bool) -> _Line | None:
        """Session time → host time: the device clock's fit; arrival time for host-timed
        samples, or when the fit has not come for ``WAIT_FOR_CLOCK_S`` (or ``force``)."""
        line = device_to_host_line(live)
        if line is not None:
            self._arrival = None
            return line
        if self._arrival is not None:
            return self._arrival
        blocks = [b for b in self._pending if isinstance(b, SampleBlock)]
        if not blocks:
            return None
        newest = float(blocks[-1].t_s[-1])
        host_timed = blocks[-1].host_timed
        if not (host_timed or force or newest - float(blocks[0].t_s[0]) >= WAIT_FOR_CLOCK_S):
            return None
        if not host_timed:
            log.warning("LSL: no device clock fit yet; timing samples by their arrival")
        # the newest sample has just arrived (the reader hands blocks on as it decodes)
        self._arrival = _Line(newest, time.monotonic(), 1.0)
        return self._arrival

    def _take(self, live: LiveSession, item: SampleBlock | TapEvent) -> None:
        with self._lock:
            if self.force is None:  # no streams (yet, or they failed to open)
                return
            self._pending.append(item)
            try:
                self._flush(live)
            except Exception:  # the session must go on whatever LSL does (a tap never raises)
                log.exception("LSL: could not publish")
                self._pending.clear()

    def _flush(self, live: LiveSession, force: bool = False) -> None:
        if not self._pending or self.force is None or self.markers is None:
            return
        line = self._line(live, force)
        if line is None:
            if force:
                self._pending.clear()  # nothing to time them by (no samples at all)
            return
        while self._pending:
            item = self._pending.popleft()
            if isinstance(item, SampleBlock):
                self._push_block(item, line)
            else:
                self._push_marker(item, line, live)

    def _push_block(self, block: SampleBlock, line: _Line) -> None:
        assert self.force is not None and block.force_n is not None
        stamps = line.host_s(block.t_s) + self._lsl_offset_s
        # LSL times must increase: a refit of the device clock (after a reconnect, a slow
        # round trip) may map a block a fraction of a millisecond before the last one sent;
        # those samples are held just after it until the fit's line catches up
        floor_s = self._last_stamp_s + STEP_S * (1 + np.arange(len(stamps)))
        stamps = np.maximum(stamps, floor_s)
        self._last_stamp_s = float(stamps[-1])
        self._last_t_s = float(block.t_s[-1])
        self.force.push_chunk(np.asarray(block.force_n, dtype=np.float32), stamps.tolist())
        self.samples_pushed += len(block.t_s)

    def _push_marker(self, item: TapEvent, line: _Line, live: LiveSession) -> None:
        assert self.markers is not None
        t_s, fields = marker_fields(item, live)
        stamp = float(line.host_s(t_s)) + self._lsl_offset_s
        if isinstance(item, Gap) and self._last_t_s is not None and t_s >= self._last_t_s:
            # a gap marks a hole in the force stream: placed from the last sample sent, by
            # the stream's own times, so a refit of the clock at the reconnect (which moves
            # the line by a millisecond or so under load) cannot move it off the hole
            stamp = self._last_stamp_s + (t_s - self._last_t_s) * line.per_s
        self.markers.push_sample([json.dumps(fields, separators=(",", ":"))], stamp)
        self.markers_pushed += 1


def _describe(info: pylsl.StreamInfo, live: LiveSession, device: DeviceInfo) -> None:
    """The force stream's description (XDF meta-data conventions: channels, acquisition)."""
    desc = info.desc()
    desc.append_child_value("manufacturer", MANUFACTURER)
    channels = desc.append_child("channels")
    for k in range(device.channels):
        ch = channels.append_child("channel")
        ch.append_child_value("label", f"force{k}")
        ch.append_child_value("unit", UNIT)
        ch.append_child_value("type", FORCE_TYPE)
    acq = desc.append_child("acquisition")
    acq.append_child_value("manufacturer", MANUFACTURER)
    acq.append_child_value("serial_number", device.uid)
    dev = desc.append_child("device")
    for key, value in (
        ("uid", device.uid),
        ("firmware", device.firmware),
        ("protocol", device.protocol),
        ("adc", device.adc),
        ("timing", "host arrival" if device.text_mode else "device clock"),
    ):
        dev.append_child_value(key, value)
    cal = live.calibration
    calib = desc.append_child("calibration")
    if cal is not None:
        calib.append_child_value("source", cal.source)
        calib.append_child_value("model", str(cal.model))
        calib.append_child_value("calibrated", "true" if cal.is_calibrated else "false")
        if cal.created_at:
            calib.append_child_value("created_at", cal.created_at)


def marker_fields(item: TapEvent, live: LiveSession) -> tuple[float, dict[str, Any]]:
    """An event's session time and its marker's fields (``event`` first)."""
    points = live.plan.points

    def point_name(index: int | None) -> str | None:
        return points[index].name if index is not None and 0 <= index < len(points) else None

    match item:
        case Mark():
            return item.t_s, {"event": "mark", "point_index": item.point_index,
                              "point": point_name(item.point_index),
                              "source": str(item.source)}  # fmt: skip
        case HoldStarted():
            return item.start_s, {"event": "hold_start", "hold": item.hold_index,
                                  "point_index": item.point_index,
                                  "point": point_name(item.point_index)}  # fmt: skip
        case Hold():
            return item.end_s, {"event": "hold_end", "hold": item.index,
                                "point_index": item.point_index, "point": item.point,
                                "duration_s": round(item.duration_s, 4),
                                "mean_n": round(item.mean_n, 3), "peak_n": round(item.peak_n, 3),
                                "cut_short": item.cut_short}  # fmt: skip
        case Alert():
            return item.t_s, {"event": "alert", "kind": str(item.kind),
                              "value": round(item.value, 3), "point_index": item.point_index,
                              "hold": item.hold_index}  # fmt: skip
        case ZeroEvent():
            return item.t_s, {"event": "zero", "source": str(item.source),
                              "zero_counts": round(item.zero_counts, 3)}  # fmt: skip
        case Gap():
            return item.start_s, {"event": "gap", "cause": str(item.cause),
                                  "lost_samples": item.lost_samples,
                                  "duration_s": round(item.end_s - item.start_s, 6)}  # fmt: skip
        case Signal():
            return item.t_s, {"event": "signal", "source": str(item.source)}
        case Rating():
            return item.t_s, {"event": "rating", "value": round(item.value, 3),
                              "source": str(item.source)}  # fmt: skip
        case ProtocolEvent():
            return item.t_s, {"event": "protocol", "kind": str(item.kind), "data": item.data}
    raise TypeError(f"not a live event: {item!r}")
