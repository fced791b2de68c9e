"""LiveSession: one device, live, with optional recording — what the GUI and `record` drive.

Data path (docs/ARCHITECTURE.md), all of it in the reader thread right after decoding:
raw counts → calibration → pipeline (holds, limits, marks) → ring buffer for the GUI,
event queue for the GUI, and the store's writer queue when recording. Nothing here
waits on the GUI or on SQLite: the queues never block, the ring buffer's lock covers a
memcpy, and ``_lock`` (held for one block's pipeline work) only keeps the GUI's marks,
jumps and Record/Stop from interleaving with a block.

Timeline: the pipeline and the ring buffer run on the acquisition's timeline (seconds
since the first sample after connecting). A recording starts its own timeline at its
first sample; everything written to the store is shifted onto it, so a session's ``t_s``
is "seconds since the session's first sample".

Settings: the session owns the configuration (``config``) and the point plan (``plan``);
the window only shows them. :meth:`LiveSession.set_config` and
:meth:`LiveSession.set_points` change them in place under ``_lock``, so between two
blocks: the limits apply from the next block, the hold thresholds from the next contact (a
hold under way stays whole, with its own point and levels). Each change, and the moment
deferred thresholds take over, is announced as a :class:`SettingsChanged` event.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from calibration.models import Calibration, ModelKind, ZeroEvent, ZeroSource
from calibration.tare import DriftWarning, ForceTimeline, Tare
from firmware_protocol.messages import Capability, EventKind, Identity, SetLimits, StoreCal

from .config import Config, HoldConfig
from .errors import BadInput
from .hold_detector import HoldState
from .limits import device_limits
from .link.acquisition import Acquisition, AcquisitionListener, Counters, DeviceEvent, LinkState
from .pipeline import HoldStarted, Pipeline, PipelineOutput
from .points import PointPlan
from .records import (
    Alert,
    AlertKind,
    DeviceInfo,
    Gap,
    Hold,
    Mark,
    MarkSource,
    Point,
    ProtocolEvent,
    ProtocolKind,
    Rating,
    SampleBlock,
    SessionMeta,
    SessionStats,
    SessionStatus,
    Signal,
)
from .ringbuffer import RingBuffer
from .store import utc_iso

if TYPE_CHECKING:  # the store is imported when first used: `record` starts without it
    from .store import SessionStore, SessionWriter

log = logging.getLogger(__name__)

SWITCH_INTERVAL_S = 0.0005
RING_SECONDS = 600.0  # the longest live window the GUI offers (10 min)
AUTO_ZERO_S = 0.5  # unloaded time at the start used to zero the sensor
RECENT_RAW_S = 0.25  # the newest raw counts a manual zero averages
DRIFT_WINDOW_S = 1.0  # contact-free time needed before the zero is checked for drift
DRIFT_STEADY_N = 0.5  # … and the spread (std) of the force over it must stay below this
CATCH_UP_S = 0.5  # at Stop, awaiting the samples to a client's event: longest gap between them
CATCH_UP_MAX_S = 2.0  # … and the longest wait in all (an event far ahead: a clock that jumped)
PREROLL_S = 10.0  # Record keeps at least this much of what came before (a hold under way)
_PREROLL_KEEP_S = PREROLL_S + 5.0  # kept a little longer: Record reads it in two steps


UNCALIBRATED_TEXT = (
    "device not calibrated: recording raw counts only, no forces (calibrate it first)"
)


def device_store(identity: Identity | None, cal: Calibration) -> tuple[StoreCal | None, str]:
    """The STORE_CAL that writes ``cal`` into the device's own memory, so that it reads in
    newtons on any host and the next IDENTITY reports it, or None and the reason why not
    (no EEPROM_CAL capability; a quadratic model the device cannot keep). The text says
    what happened, for the user."""
    if identity is None or not identity.capabilities & Capability.EEPROM_CAL:
        return None, "device has no calibration memory (EEPROM_CAL): stored on this host only"
    if not cal.is_calibrated:
        return None, "no calibration to store"
    if cal.model is not ModelKind.LINEAR:
        return None, ("device memory keeps only a linear calibration: the quadratic one is "
                      "stored on this host only (the device keeps its own)")  # fmt: skip
    offset = int(round(cal.offset_counts))
    return StoreCal(float(cal.counts_per_n), offset), (
        f"sent to the device's memory (STORE_CAL): {cal.counts_per_n:.6g} counts/N, "
        f"zero {offset} counts"
    )


@dataclass(slots=True)
class StateChange:
    state: LinkState
    detail: str = ""


@dataclass(slots=True)
class DeviceNotice:
    """A device event worth showing (limit crossed on the device, ADC fault)."""

    t_s: float
    text: str


@dataclass(slots=True)
class SettingsChanged:
    """The configuration or plan in force changed: read them again from the session
    (``config``, ``plan``, ``holds_in_force``). ``holds_pending``: new hold thresholds wait
    for the contact under way to end (another event follows when they take over)."""

    t_s: float
    holds_pending: bool = False


@dataclass(slots=True)
class RecordingStarted:
    """A recording began: ``holds`` are its holds so far (those of the pre-roll, on the live
    timeline); every ``Hold`` event after this one is the recording's."""

    session_id: str
    holds: list[Hold]


@dataclass(slots=True)
class StorageFailed:
    """The session library stopped taking the recording (disk full, read-only, deleted):
    the recording must be stopped (:meth:`LiveSession.stop_recording` says what was kept)."""

    text: str


# what the client and the protocols add to a session: signals, pain ratings, protocol events
ClientEvent = Signal | Rating | ProtocolEvent

LiveEvent = (
    Mark | Hold | Alert | Gap | StateChange | HoldStarted | DeviceNotice | DriftWarning
    | SettingsChanged | RecordingStarted | StorageFailed | Signal | Rating | ProtocolEvent
)  # fmt: skip


TapEvent = Mark | HoldStarted | Hold | Alert | ZeroEvent | Gap | Signal | Rating | ProtocolEvent

RATING_MAX = 10.0  # pain ratings run from 0 (none) to 10


class LiveTap:
    """Follows a session as it happens (the LSL outlet, ``logger/lsl.py``): the device, every
    block as the ring buffer gets it (forces filled in), and the marks, contacts, holds,
    alerts, zeros, gaps, client signals, pain ratings and protocol events the session finds,
    all on the acquisition timeline. Called in the reader thread, except what is typed on
    the host (marks, signals, ratings, protocols: the caller's thread): be quick, never
    raise. :meth:`LiveSession.stop` closes it."""

    def device_ready(self, live: LiveSession, device: DeviceInfo) -> None:
        """The device identified itself (again, after a reconnect); calibration chosen."""

    def samples(self, live: LiveSession, block: SampleBlock) -> None:
        """Consecutive samples, ``block.force_n`` filled in."""

    def event(self, live: LiveSession, item: TapEvent) -> None:
        """A mark, a contact's start, a hold (at its end), an alert, a zero, a gap, a client
        signal, a pain rating or a protocol event."""

    def close(self) -> None:
        """The session stopped."""


@dataclass(slots=True)
class _Recording:
    session_id: str
    writer: SessionWriter
    t0_s: float | None = None  # acquisition-timeline t_s of the first recorded sample
    samples: int = 0
    lost_samples: int = 0  # in the gaps stored with the session (one count, one truth)
    crc0: int = 0
    reconnects0: int = 0
    last_t_s: float = 0.0
    points_stored: int = 0  # ad-hoc points already written


_LIMIT_WORDS = {
    1: "device alarm: over warning level",
    2: "device alarm: over maximum",
    -1: "device alarm: back below warning level",
    -2: "device alarm: back below maximum",
}


def limit_notice(arg: int) -> str:
    """The device's LIMIT_CROSSED event (arg ±1 warn, ±2 max) in the therapist's words."""
    return _LIMIT_WORDS.get(arg, f"device alarm: limit event {arg:+d}")


class LiveSession:
    """A device, its pipeline and (optionally) a recording. See docs/ARCHITECTURE.md."""

    def __init__(
        self,
        port: str,
        config: Config,
        *,
        db_path: str | Path | None = None,
        points: list[Point] | None = None,
        calibration: Calibration | None = None,
        on_alert: Callable[[Alert], None] | None = None,
        record_limit_s: float | None = None,
        taps: Sequence[LiveTap] = (),
    ) -> None:
        self.port = port
        self.taps = tuple(taps)  # followers of the live data (the LSL outlet)
        self._config = config
        self.db_path = Path(db_path) if db_path is not None else None
        self.on_alert = on_alert
        self.record_limit_s = record_limit_s  # stop exactly after this much recorded time
        self.finished = threading.Event()  # set when the recording limit or the data ends
        self._fixed_calibration = calibration
        # raw → N on the acquisition timeline: the calibration and every zero since
        self.forces: ForceTimeline | None = ForceTimeline(calibration) if calibration else None
        self._zero_request: tuple[float, ZeroSource] | None = None  # for the next block
        self._plan = PointPlan(points if points is not None else config.points, config.limits)
        self.pipeline = Pipeline(config, self._plan)
        self.ring: RingBuffer | None = None
        self.current_force_n = float("nan")
        self.state_detail = ""  # what the reader said with its latest state
        self._events: queue.SimpleQueue[LiveEvent] = queue.SimpleQueue()
        self._lock = threading.RLock()  # guards pipeline/plan between reader and GUI calls
        self._recording: _Recording | None = None
        self._armed: dict[str, Any] | None = None  # recording to start at the handshake
        self._store: SessionStore | None = None
        self.storage_error: Exception | None = None  # set when the recording's storage fails
        self._holds_waiting = False  # new hold thresholds wait for a contact to end
        self._acq = Acquisition(port, _ReaderListener(self))
        self._zero_pending: list[SampleBlock] | None = []  # zero at start when unloaded
        self._drift: Tare | None = None
        self._clamp_told: tuple[float, float] | None = None  # clamped levels last logged
        self._unloaded: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        # the newest blocks (forces filled in) and gaps: a recording's pre-roll
        self._recent: deque[SampleBlock | Gap] = deque()
        self.holds: list[Hold] = []
        self.alerts: list[Alert] = []
        self.marks: list[Mark] = []
        # the recording's (or, between recordings, the last RING_SECONDS of) client events
        self._signals: list[Signal] = []
        self._ratings: list[Rating] = []
        self._protocols: list[ProtocolEvent] = []
        # where the last recording's t_s = 0 is on the live timeline (None: none yet)
        self.last_recording_t0_s: float | None = None

    # ------------------------------------------------------------------- lifecycle

    def start(self) -> None:
        # Three threads share the interpreter: the reader, the store's writer and the GUI.
        # With CPython's default 5 ms GIL switch interval a busy reader (a fast replay)
        # makes the writer wait 5 ms per SQLite step and its queue grows; 0.5 ms keeps
        # every thread within a fraction of a frame (measured: benchmarks/pipeline.py).
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        self._acq.start()

    def wait_ready(self, timeout_s: float = 10.0) -> bool:
        return self._acq.wait_ready(timeout_s)

    def stop(self) -> str | None:
        """Stop the reader (finalising any recording) and return the recorded session id."""
        self._acq.stop()
        try:
            return self.stop_recording() if self._recording else None
        finally:  # the last connection closing tidies -wal/-shm (a deleted library's too)
            self._close_store()
            for tap in self.taps:
                tap.close()

    @property
    def state(self) -> LinkState:
        return self._acq.state

    @property
    def error(self) -> Exception | None:
        return self._acq.error

    @property
    def device(self) -> DeviceInfo | None:
        return self._acq.device

    @property
    def counters(self) -> Counters:
        return self._acq.counters

    @property
    def running(self) -> bool:
        return self._acq.running

    @property
    def calibration(self) -> Calibration | None:
        """The calibration in force now (with the latest zero), None before the device."""
        return self.forces.current if self.forces is not None else None

    @property
    def recording_id(self) -> str | None:
        return self._recording.session_id if self._recording else None

    @property
    def recording_elapsed_s(self) -> float:
        rec = self._recording
        if rec is None or rec.t0_s is None:
            return 0.0
        return rec.last_t_s - rec.t0_s

    @property
    def config(self) -> Config:
        """The settings in force (change them with :meth:`set_config`). ``config.points`` is
        the configured plan new plans start from; :attr:`plan` is the one in force."""
        return self._config

    @property
    def plan(self) -> PointPlan:
        """The point plan in force, the session's own: read it in the GUI thread, change it
        through :meth:`set_points`, :meth:`set_config`, :meth:`mark` and :meth:`jump`."""
        return self._plan

    @property
    def holds_in_force(self) -> HoldConfig:
        """The hold thresholds the detector judges by now: ``config.holds`` unless new ones
        wait for the contact under way to end."""
        return self.pipeline.holds_in_force

    @property
    def current_hold(self) -> HoldState | None:
        return self.pipeline.current_hold

    @property
    def current_hold_point(self) -> Point | None:
        """The point of the hold in progress (where it began), None without one."""
        return self.pipeline.current_hold_point

    def in_excursion(self, kind: AlertKind) -> bool:
        """Whether the excursion that raised a ``kind`` alert is still open, as the limit
        monitor decides it (warn/max: until force stays below the level less the
        hysteresis for ``REARM_S``; hold_duration: while the contact goes on past
        ``max_hold_s``, the monitor raising that alert once per contact)."""
        kind = AlertKind(kind)
        if kind == AlertKind.HOLD_DURATION:
            hold = self.pipeline.current_hold
            return hold is not None and hold.elapsed_s > self.pipeline.monitor.limits.max_hold_s
        return self.pipeline.monitor.in_excursion(kind)

    @property
    def t_s(self) -> float:
        """The newest sample's time on the acquisition timeline."""
        return self._acq.last_t_s

    def recent_forces_n(self, seconds: float) -> tuple[np.ndarray, np.ndarray]:
        """The newest ``seconds`` of channel 0 as ``(t_s, force_n)``, float64 newtons
        converted from the raw counts as the library converts stored ones: what a live
        result (a drill trial's score, a PPT threshold) is computed from, so that it is
        the number the review later shows (the display's float32 copy is not)."""
        ring, forces = self.ring, self.forces
        if ring is None or forces is None:
            return np.empty(0), np.empty(0)
        t_s, raw = ring.window(seconds, raw=True)
        return t_s, forces.counts_to_n(t_s, raw)[:, 0]

    @property
    def clock_pairs(self) -> int:
        """How many PING/PONG round trips the device clock's fit rests on."""
        return self._acq.clock_samples

    def host_to_device_s(self, host_s: float) -> float | None:
        """The acquisition-timeline time at host ``time.monotonic()`` ``host_s``, by the device
        clock fitted against the host's (PING/PONG); None before that fit has a round trip
        (and always for a text-mode device, which the host times)."""
        return self._acq.host_to_device_s(host_s) if self._acq.clock_samples else None

    def _tap(self, item: TapEvent) -> None:
        for tap in self.taps:
            tap.event(self, item)

    def poll_events(self) -> list[LiveEvent]:
        out: list[LiveEvent] = []
        while True:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                return out

    # ------------------------------------------------------------ user's actions

    def mark(self, source: MarkSource = MarkSource.KEYBOARD) -> Mark:
        """Next point, at the device time corresponding to now on the host clock."""
        t_s = self._acq.host_to_device_s()
        with self._lock:
            mark = self.pipeline.mark(t_s, source)
        self._after_mark(mark)
        return mark

    def jump(self, index: int, source: MarkSource = MarkSource.KEYBOARD) -> Mark:
        t_s = self._acq.host_to_device_s()
        with self._lock:
            mark = self.pipeline.jump(index, t_s, source)
        self._after_mark(mark)
        return mark

    def signal(self, source: MarkSource = MarkSource.KEYBOARD) -> Signal:
        """The client's "now" (a key, a pedal), at the device time corresponding to now on
        the host clock."""
        return self._note(Signal(self._acq.host_to_device_s(), MarkSource(source)))

    def rate(self, value: float, source: MarkSource = MarkSource.KEYBOARD) -> Rating:
        """The client's pain rating from now on (0 ≤ ``value`` ≤ 10, else ValueError)."""
        value = float(value)
        if not 0.0 <= value <= RATING_MAX:
            raise ValueError(f"pain rating {value!r}: must be 0 to {RATING_MAX:g}")
        return self._note(Rating(self._acq.host_to_device_s(), value, MarkSource(source)))

    def start_protocol(self, kind: ProtocolKind, data: dict) -> ProtocolEvent:
        """A protocol starts now (a PPT round, a drill run, a guided profile); ``data`` (a
        JSON object) says which. ValueError when ``data`` cannot be stored as JSON."""
        return self._note(_protocol_event(self._acq.host_to_device_s(), kind, data))

    @property
    def signals(self) -> tuple[Signal, ...]:
        """The recording's client signals (between recordings: the recent live ones), on
        the acquisition timeline like :attr:`marks`."""
        return tuple(self._signals)

    @property
    def ratings(self) -> tuple[Rating, ...]:
        """The recording's pain ratings (between recordings: the recent live ones)."""
        return tuple(self._ratings)

    @property
    def protocols(self) -> tuple[ProtocolEvent, ...]:
        """The recording's protocol events (between recordings: the recent live ones)."""
        return tuple(self._protocols)

    @property
    def current_rating(self) -> float | None:
        """The pain rating in force (the latest one given), None before any."""
        ratings = self._ratings
        return ratings[-1].value if ratings else None

    def _note(self, item: ClientEvent) -> Any:
        """Keep a client event, show it, and store it with the recording (returns it)."""
        with self._lock:
            match item:
                case Signal():
                    self._signals.append(item)
                case Rating():
                    self._ratings.append(item)
                case ProtocolEvent():
                    self._protocols.append(item)
            rec = self._recording
            if rec is not None:
                t0 = rec.t0_s if rec.t0_s is not None else item.t_s
                _store_client_events(rec.writer, [_shifted(item, t0)])
            else:
                self._forget_client_events_before(item.t_s - RING_SECONDS)
        self._events.put(item)
        self._tap(item)
        return item

    def _forget_client_events_before(self, t_s: float) -> None:
        """Between recordings only the live window's client events are kept (and the
        rating in force, whenever it was given)."""
        self._signals = [g for g in self._signals if g.t_s >= t_s]
        self._ratings = [r for r in self._ratings[:-1] if r.t_s >= t_s] + self._ratings[-1:]
        self._protocols = [p for p in self._protocols if p.t_s >= t_s]

    def _carry_client_events(self, rec: _Recording) -> None:
        """At Record: the client events of the session's pre-roll are the session's, and
        the rating in force at its start holds from its t 0."""
        t0 = rec.t0_s

        def kept(items: list[Any]) -> list[Any]:
            return [] if t0 is None else [i for i in items if i.t_s >= t0]

        in_force = [r for r in self._ratings if t0 is None or r.t_s < t0][-1:]
        self._signals, self._protocols = kept(self._signals), kept(self._protocols)
        self._ratings = in_force + kept(self._ratings)
        events: list[ClientEvent] = [*self._signals, *self._ratings, *self._protocols]
        _store_client_events(rec.writer, [_shifted(e, e.t_s if t0 is None else t0) for e in events])

    def _zero_reading(self) -> tuple[float, float]:
        """``(zero_counts, load_n)``: the mean raw reading (channel 0) of the last
        RECENT_RAW_S, which a zero takes as 0 N, and its force with the zero in force."""
        forces, ring, device = self.forces, self.ring, self.device
        if forces is None or ring is None or device is None or ring.written == 0:
            raise RuntimeError("no samples yet: connect a device first")
        if not forces.current.is_calibrated:
            raise RuntimeError(UNCALIBRATED_TEXT)
        n = max(1, round((device.rate_hz or 100.0) * RECENT_RAW_S))
        _, raw = ring.latest(n, raw=True)
        zero_counts = float(np.mean(raw[:, 0]))
        return zero_counts, float(forces.current.counts_to_n(zero_counts))

    def zero_load_n(self) -> float:
        """The force (N) a zero now would remove (the window asks before removing a load
        above the hold onset)."""
        return self._zero_reading()[1]

    def tare(self) -> float:
        """Zero now: the mean raw reading of the last 0.25 s becomes 0 N.

        Returns the force (N) that was removed. Raw data are never touched: the zero is
        an event in time, applied from the next block's first sample on (in the reader
        thread, so the live forces and the recording's zero event start at the same
        sample) and stored with the recording. The reading and the request are one step
        against the reader: the zero takes effect right after the samples it averaged (else
        a reader thread held up, then handed a long block, put it seconds later)."""
        with self._lock:
            zero_counts, removed_n = self._zero_reading()
            self._zero_pending = None
            self._zero_request = (zero_counts, ZeroSource.USER)
        log.info("zero requested: removes %+.3f N", removed_n)
        return removed_n

    def set_calibration(self, cal: Calibration) -> None:
        """A new calibration (the wizard); refused while recording, where it would change
        the scale within one session."""
        if self._recording is not None:
            raise RuntimeError("stop the recording to change the calibration")
        self.forces = ForceTimeline(cal)
        self._drift = Tare(cal)
        self._push_device_limits()

    def store_on_device(self, cal: Calibration) -> str:
        """Write ``cal`` into the device's memory when it can keep it (:func:`device_store`);
        returns what happened, in words."""
        command, text = device_store(self._acq.identity, cal)
        if command is not None:
            self._acq.send(command)
        return text

    def set_points(self, points: list[Point]) -> None:
        """A new plan in force, in place (:meth:`PointPlan.replace`: the point being worked
        stays current if the new plan has it by name). A hold under way keeps its point.
        Refused while recording: the session stored its plan when it started."""
        with self._lock:
            if self._recording is not None:
                raise RuntimeError("stop the recording to change the point plan")
            self._plan.replace(points)
        self._settings_changed()

    def set_config(self, config: Config) -> None:
        """New settings, in place between two blocks: display units and contact area at
        once, limits from the next block, hold thresholds from the next contact (a hold
        under way stays one hold, judged by what it began with). A changed
        ``config.points`` becomes the plan in force, except while recording: the
        recording keeps its plan and the new one waits for the next recording."""
        with self._lock:
            old, self._config = self._config, config
            self.pipeline.set_config(config)
            if config.points != old.points and self._recording is None:
                self._plan.replace(config.points)
        self._settings_changed()

    def _settings_changed(self) -> None:
        self._push_device_limits()
        with self._lock:
            pending = self._holds_waiting = self.pipeline.detector.pending_config is not None
        self._events.put(SettingsChanged(self.t_s, holds_pending=pending))

    def _holds_took_over(self) -> bool:
        """Whether deferred hold thresholds just took over (the contact under way ended);
        called with ``_lock`` held, once per pipeline step."""
        if self._holds_waiting and self.pipeline.detector.pending_config is None:
            self._holds_waiting = False
            return True
        return False

    # ----------------------------------------------------------------- recording

    def _open_store(self) -> SessionStore:
        from .db import open_local  # the pipeline's re-detection rides along

        if self._store is None:
            if self.db_path is None:
                from .paths import default_db_path

                self.db_path = default_db_path()
            self._store = open_local(self.db_path)
        return self._store

    def _close_store(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def start_recording(
        self,
        *,
        client: str | None = None,
        therapist: str | None = None,
        notes: str | None = None,
        points: list[Point] | None = None,
        protocols: Sequence[tuple[ProtocolKind, dict]] = (),
    ) -> str:
        """Record from now (with up to PREROLL_S of what came before); ``protocols`` start
        with the recording, at its t 0 (``record --ppt-round``). Returns the session id."""
        from .store import SessionWriter

        starts = [_protocol_event(0.0, kind, data) for kind, data in protocols]  # checked

        if self._recording is not None:
            raise RuntimeError("already recording")
        if self.device is None or self.calibration is None:
            raise RuntimeError("no device connected")
        plan = self._plan
        # the point the therapist may already be on stays current if the plan has it
        same_plan = points is None or [p.name for p in points] == [p.name for p in plan.points]
        new_points = list(plan.points) if same_plan or points is None else list(points)
        # the session starts PREROLL_S back (at a block's first sample) from the newest sample
        # at the press, not once the library is open (that can take a while), with the
        # calibration in force there; zeros since then become the session's zero events
        with self._lock:
            recent = [b for b in self._recent if isinstance(b, SampleBlock)]
        newest = float(recent[-1].t_s[-1]) if recent else 0.0
        t0 = next((float(b.t_s[0]) for b in recent if b.t_s[-1] >= newest - PREROLL_S), None)
        store = self._open_store()
        assert self.forces is not None
        forces = self.forces
        meta = SessionMeta(
            started_at=utc_iso(),
            device=dataclasses.replace(self.device),
            calibration=(forces.calibration_at(t0) if t0 is not None else forces.current).to_info(),
            config=dataclasses.replace(self._config, points=new_points).to_dict(),
            client=client,
            therapist=therapist,
            notes=notes,
            points=[dataclasses.replace(p) for p in new_points],
        )
        sid = store.create_session(meta)
        self.storage_error = None
        writer = SessionWriter(store, sid, on_failure=self._on_storage_failure)
        c = self._acq.counters
        with self._lock:
            if same_plan:
                plan.added = []  # stored with the session's points
            else:
                plan.replace(new_points)
            current = plan.current_index
            # the recording's own pipeline: holds numbered from 0, the pre-roll replayed
            self.pipeline = Pipeline(self._config, plan)
            last_mark = self.marks[-1] if self.marks else None
            self.holds, self.alerts, self.marks = [], [], []
            self._recording = _Recording(
                sid, writer, crc0=c.crc_errors, reconnects0=c.reconnects
            )  # fmt: skip
            if current is not None:
                # the point marked before Record is where the session starts: say so
                source = last_mark.source if last_mark is not None else MarkSource.KEYBOARD
                carried = Mark(0.0, current, source)
                self.marks.append(carried)
                writer.put_marks([carried])
            if t0 is not None:
                self._replay_preroll(self._recording, t0, forces)
            self._carry_client_events(self._recording)
            self._events.put(RecordingStarted(sid, list(self.holds)))
            at_start = t0 if t0 is not None else self.t_s
            for event in starts:
                self._note(dataclasses.replace(event, t_s=at_start))
        return sid

    def _replay_preroll(self, rec: _Recording, t0_s: float, forces: ForceTimeline) -> None:
        """Store the recent blocks from ``t0_s`` on and run them through the recording's
        pipeline, so a hold under way at Record keeps its real onset. Its holds and alerts
        are the session's; they are not announced again (the window showed them live)."""
        rec.t0_s = t0_s
        zeros = [z for z in forces.zeros if z.t_s > t0_s]
        if zeros:
            rec.writer.put_zeros([dataclasses.replace(z, t_s=z.t_s - t0_s) for z in zeros])
        for item in self._recent:
            if isinstance(item, Gap):
                if item.start_s >= t0_s:
                    self.pipeline.gap(item.start_s, item.end_s)
                    rec.lost_samples += item.lost_samples
                    rec.writer.put_gaps(
                        [dataclasses.replace(item, start_s=item.start_s - t0_s,
                                             end_s=item.end_s - t0_s)]
                    )  # fmt: skip
                continue
            if item.t_s[0] < t0_s:
                continue
            out = self.pipeline.process(item)
            rec.writer.put_samples(item.first_index, item.t_s - t0_s, item.raw)
            rec.samples += len(item)
            rec.last_t_s = float(item.t_s[-1])
            self._write_outputs(rec, out)
            self.holds += out.holds
            self.alerts += out.alerts

    def arm_recording(self, **details: Any) -> None:
        """Start recording as soon as the device has identified itself, before its first
        sample (so that session time 0 is the device's first streamed sample). Takes the
        arguments of :meth:`start_recording`; its id appears as :attr:`recording_id`."""
        self._armed = details

    def _on_storage_failure(self, exc: Exception) -> None:
        """From the writer thread: storing failed. The owner (GUI, ``record``) sees the
        event or :attr:`storage_error` and stops the recording."""
        self.storage_error = exc
        self._events.put(StorageFailed(str(exc)))

    def _catch_up_to_client_events(self) -> None:
        """A client's signal or rating comes in an EVENT frame that can arrive a frame ahead
        of the samples around it; at Stop, wait for those samples while they keep coming, so
        that a PPT trial the last signal ends is in the session with its force."""
        if self._recording is None:
            return
        times = [g.t_s for g in self._signals[-1:]] + [r.t_s for r in self._ratings[-1:]]
        newest = max(times, default=None)
        if newest is None:
            return
        # give up after CATCH_UP_S without a new sample, or CATCH_UP_MAX_S in all: a busy host
        # that delivers them slowly still gets them in, and neither a device gone silent nor
        # an event stamped far ahead of its samples holds Stop (and the window) up
        now = time.monotonic()
        seen_t_s, deadline, give_up = self.t_s, now + CATCH_UP_S, now + CATCH_UP_MAX_S
        while seen_t_s < newest and time.monotonic() < min(deadline, give_up):
            time.sleep(0.01)
            if self.t_s > seen_t_s:
                seen_t_s, deadline = self.t_s, time.monotonic() + CATCH_UP_S

    def stop_recording(self, status: SessionStatus = SessionStatus.COMPLETE) -> str | None:
        """Finalise the recording and return its id. After a storage failure this raises
        :class:`~logger.errors.StorageError` saying what was kept and what was not."""
        self._catch_up_to_client_events()
        with self._lock:
            rec, self._recording = self._recording, None
            if rec is None:
                return None
            self.last_recording_t0_s = rec.t0_s
            out = self.pipeline.finish()
            self._write_outputs(rec, out)
            self.holds += out.holds
            self.alerts += out.alerts
            took_over = self._holds_took_over()
        shown: list[LiveEvent] = [*out.alerts, *out.holds]  # the hold Stop cut short: live too
        for item in shown:
            self._events.put(item)
        for alert in out.alerts:
            self._tap(alert)
        for hold in out.holds:
            self._tap(hold)
        if took_over:
            self._events.put(SettingsChanged(rec.last_t_s))
        c = self._acq.counters
        duration = (rec.last_t_s - rec.t0_s) if rec.t0_s is not None else 0.0
        rate = self.device.rate_hz if self.device else 0.0
        if not rate and rec.samples > 1 and duration > 0:
            # a text-mode device has no declared rate: state the mean rate it achieved
            rate = round((rec.samples - 1) / duration, 3)
            if self.device is not None:
                self.device.rate_hz = rate
        stats = SessionStats(
            samples=rec.samples,
            duration_s=round(duration + (1.0 / rate if rate and rec.samples else 0.0), 6),
            rate_hz=rate,
            lost_samples=rec.lost_samples,
            crc_errors=c.crc_errors - rec.crc0,
            reconnects=c.reconnects - rec.reconnects0,
        )
        try:
            rec.writer.close(status, stats, utc_iso())
        except OSError:  # the library failed: the next recording opens it afresh
            self._close_store()
            raise
        if self.device is not None and (self._acq.clock_drift_measured or self.device.text_mode):
            self._open_store().set_device(
                rec.session_id,
                dataclasses.replace(
                    self.device,
                    clock_drift_ppm=round(c.drift_ppm, 3),
                    clock_offset_s=self._acq.clock_offset_s(),
                ),
            )
        # An alert raised during a contact carries the hold index that contact was to get;
        # if the contact turned out a press, the pipeline unlinked it since. Store the
        # final word (a crash before this point leaves the provisional links).
        if any(a.hold_index is None for a in self.alerts):
            t0 = rec.t0_s or 0.0
            self._open_store().replace_alerts(
                rec.session_id, [dataclasses.replace(a, t_s=a.t_s - t0) for a in self.alerts]
            )
        return rec.session_id

    # --------------------------------------------------- reader-thread callbacks

    def _on_device(self, device: DeviceInfo, identity: Identity | None) -> None:
        rate = device.rate_hz or 100.0
        if self.ring is None or self.ring.channels != device.channels:
            self.ring = RingBuffer(int(rate * RING_SECONDS) + 1, device.channels)
        if self.forces is None:
            cal = self._choose_calibration(device, identity)
            self.forces = ForceTimeline(cal)
            self._drift = Tare(cal)
        if not self.forces.current.is_calibrated:
            self._zero_pending = None
            self._events.put(DeviceNotice(0.0, UNCALIBRATED_TEXT))
        self._push_device_limits()
        for tap in self.taps:
            tap.device_ready(self, device)
        if self._armed is not None and self._recording is None:
            details, self._armed = self._armed, None
            self.start_recording(**details)

    def _choose_calibration(self, device: DeviceInfo, identity: Identity | None) -> Calibration:
        if self._fixed_calibration is not None:
            return self._fixed_calibration
        if self.db_path is not None:
            try:
                from logger.store import CalibrationStore

                stored = CalibrationStore(self.db_path).latest(device.uid)
            except (BadInput, OSError) as exc:  # a broken library, read-only media, a full disk
                log.warning("%s: stored calibrations not readable: %s", self.db_path, exc)
                stored = None
            except Exception:  # nor anything unforeseen in it: acquisition goes on
                log.exception("could not read stored calibrations")
                stored = None
            if stored is not None:
                return stored
        if identity is not None:
            return Calibration.factory(identity.counts_per_n, identity.offset_counts)
        return Calibration.factory(1.0, 0)  # text-mode devices print newtons until calibrated

    def _push_device_limits(self) -> None:
        """Mirror the current point's warn/max limits into the device's own buzzer."""
        ident, cal = self._acq.identity, self.calibration
        if ident is None or cal is None or not (ident.capabilities & Capability.BUZZER):
            return
        if not cal.is_calibrated:  # no levels in counts without a calibration: alarm off
            self._acq.send(SetLimits(0, 0, 0))
            return
        levels = self._plan.levels()
        msg, clamped = device_limits(cal, levels.warn_n, levels.max_n)
        if clamped and (levels.warn_n, levels.max_n) != self._clamp_told:
            self._clamp_told = (levels.warn_n, levels.max_n)
            log.warning(
                "device alarm: warn %g N / max %g N %s",
                levels.warn_n, levels.max_n,
                "lie beyond the sensor's range at this calibration; it alarms at full scale"
                if msg.enabled else "have no raw counts with this calibration; alarm off",
            )  # fmt: skip
        self._acq.send(msg)

    def _on_state(self, state: LinkState, detail: str) -> None:
        self.state_detail = detail
        rec = self._recording
        if rec is not None and state is LinkState.STREAMING and self._acq.counters.reconnects:
            rec.writer.put_reconnect(utc_iso(), rec.last_t_s - (rec.t0_s or 0.0))
        self._events.put(StateChange(state, detail))

    def _on_gap(self, gap: Gap) -> None:
        if self.finished.is_set():
            return
        with self._lock:
            self.pipeline.gap(gap.start_s, gap.end_s)
            self._recent.append(gap)
            rec = self._recording
            if rec is not None and rec.t0_s is not None:
                shifted = dataclasses.replace(
                    gap, start_s=gap.start_s - rec.t0_s, end_s=gap.end_s - rec.t0_s
                )
                rec.writer.put_gaps([shifted])
                rec.lost_samples += gap.lost_samples
        self._events.put(gap)
        self._tap(gap)

    def _on_device_event(self, ev: DeviceEvent) -> None:
        kind = ev.message.kind
        if kind is EventKind.MARK_BUTTON:
            with self._lock:
                mark = self.pipeline.mark(ev.t_s, MarkSource.DEVICE)
            self._after_mark(mark)
        elif kind is EventKind.CLIENT_BUTTON:
            self._note(Signal(ev.t_s, MarkSource.DEVICE))
        elif kind is EventKind.RATING:  # the reader dropped arguments beyond 0-1000
            self._note(Rating(ev.t_s, ev.message.arg / 100.0, MarkSource.DEVICE))
        elif kind is EventKind.SCRIPT_END:
            # a simulated device played its whole scenario and stopped streaming
            self.finished.set()
            self._events.put(DeviceNotice(ev.t_s, "simulated scenario ended"))
        elif kind is EventKind.LIMIT_CROSSED:
            self._events.put(DeviceNotice(ev.t_s, limit_notice(ev.message.arg)))
        else:
            self._events.put(DeviceNotice(ev.t_s, f"device event {kind.name}"))

    def _after_mark(self, mark: Mark) -> None:
        self.marks.append(mark)
        self._events.put(mark)
        self._tap(mark)
        rec = self._recording
        if rec is not None:
            t0 = rec.t0_s if rec.t0_s is not None else mark.t_s
            added = self._plan.added
            if len(added) > rec.points_stored:  # an ad-hoc plan grew with this mark
                rec.writer.put_points(added[rec.points_stored :])
                rec.points_stored = len(added)
            rec.writer.put_marks([dataclasses.replace(mark, t_s=max(0.0, mark.t_s - t0))])
        self._push_device_limits()

    def _zero_at_start(self, block: SampleBlock) -> None:
        """Collect the first AUTO_ZERO_S of samples; zero on them if unloaded and steady."""
        pending = self._zero_pending
        assert pending is not None and self.calibration is not None
        pending.append(block)
        span_s = float(block.t_s[-1] - pending[0].t_s[0])
        if span_s < AUTO_ZERO_S:
            return
        self._zero_pending = None
        t_s = np.concatenate([b.t_s for b in pending])
        raw = np.concatenate([b.raw[:, 0] for b in pending])
        first = t_s < t_s[0] + AUTO_ZERO_S  # exactly the first AUTO_ZERO_S, whatever the blocks
        t_s, raw = t_s[first], raw[first]
        tare = Tare(self.calibration)
        if tare.zero_at_start(t_s, raw):
            self._zero_request = (tare.effective.offset_counts, ZeroSource.AUTO)
            self._events.put(DeviceNotice(float(t_s[-1]), "zeroed at start (sensor unloaded)"))

    def _apply_zero(self, t_s: float, rec: _Recording | None) -> None:
        """The requested zero takes effect at ``t_s`` (a block's first sample)."""
        assert self._zero_request is not None and self.forces is not None
        (zero_counts, source), self._zero_request = self._zero_request, None
        event = self.forces.zero_at(t_s, zero_counts, source)
        self._tap(event)
        self._drift = Tare(self.forces.current)
        self._unloaded.clear()
        if rec is not None and rec.t0_s is not None:
            rec.writer.put_zeros([dataclasses.replace(event, t_s=max(0.0, t_s - rec.t0_s))])
        self._push_device_limits()

    def _check_drift(self, block: SampleBlock, force_n: np.ndarray) -> None:
        """Between holds, a steady low reading that is not 0 N means the zero wandered.

        Only a stretch of at least DRIFT_WINDOW_S with no contact counts: every sample
        below release_n and the spread small (a light press or a ramp is not drift)."""
        f = force_n[:, 0]
        unloaded = (
            self.pipeline.current_hold is None
            and float(np.max(np.abs(f))) < self.config.holds.release_n
        )
        if not unloaded or self._drift is None:
            self._unloaded.clear()
            return
        self._unloaded.append((block.t_s, block.raw[:, 0], f))
        span_s = float(block.t_s[-1] - self._unloaded[0][0][0])
        if span_s < DRIFT_WINDOW_S:
            return
        t_s, raw, force = (np.concatenate(parts) for parts in zip(*self._unloaded, strict=True))
        self._unloaded.clear()
        if float(np.std(force)) > DRIFT_STEADY_N:
            return
        warning: DriftWarning | None = self._drift.check_drift(t_s, raw)
        if warning is not None:  # the window words it in the display unit
            self._events.put(warning)

    def _on_block(self, block: SampleBlock) -> None:
        if self._zero_pending is not None and not block.host_timed:
            self._zero_at_start(block)
        with self._lock:  # the recording cannot start or stop halfway through a block
            forces = self.forces
            assert forces is not None
            rec = self._recording
            if rec is not None and rec.t0_s is None:
                rec.t0_s = float(block.t_s[0])
            if self._zero_request is not None:
                self._apply_zero(float(block.t_s[0]), rec)
            force_n = forces.counts_to_n(block.t_s, block.raw)
            block = dataclasses.replace(block, force_n=force_n)
            self._keep_recent(block)
            if rec is not None:
                kept = self._within_record_limit(rec, block)
                if kept is None:
                    return
                block, force_n = kept, force_n[: len(kept)]
            out = self.pipeline.process(block)
            took_over = self._holds_took_over()
            # alerts first: their latency is what the reader side promises
            for alert in out.alerts:
                self.alerts.append(alert)
                self._events.put(alert)
                self._tap(alert)
                if self.on_alert is not None:
                    self.on_alert(alert)
            if rec is not None:
                rec.writer.put_samples(block.first_index, block.t_s - rec.t0_s, block.raw)
                rec.samples += len(block)
                rec.last_t_s = float(block.t_s[-1])
                self._write_outputs(rec, out)
            # still under the lock: a Record cannot slip in between, so these belong to
            # the pipeline (and recording) that found them, before any RecordingStarted
            for hs in out.holds_started:
                self._events.put(hs)
                self._tap(hs)
            for hold in out.holds:
                self.holds.append(hold)
                self._events.put(hold)
                self._tap(hold)
            if took_over:
                self._events.put(SettingsChanged(float(block.t_s[-1])))
            if self.ring is not None:  # under the lock: a zero reads the ring up to here
                self.ring.extend(block.t_s, force_n, block.raw)
        self._check_drift(block, force_n)
        for tap in self.taps:
            tap.samples(self, block)
        self.current_force_n = float(force_n[-1, 0])

    def _keep_recent(self, block: SampleBlock) -> None:
        """Remember ``block`` for a pre-roll; forget what is older than it needs."""
        recent = self._recent
        recent.append(block)
        oldest_s = float(block.t_s[-1]) - _PREROLL_KEEP_S
        while (
            recent
            and (recent[0].end_s if isinstance(recent[0], Gap) else recent[0].t_s[-1]) < oldest_s
        ):
            recent.popleft()

    def _within_record_limit(self, rec: _Recording, block: SampleBlock) -> SampleBlock | None:
        """Cut the block at ``record_limit_s`` (None when nothing of it is left) and ask the
        reader to stop there."""
        if self.record_limit_s is None:
            return block
        keep = int(np.searchsorted(block.t_s - rec.t0_s, self.record_limit_s, side="left"))
        if keep == len(block):
            return block
        self.finished.set()
        self._acq.stop()
        if keep == 0:
            return None
        assert block.force_n is not None
        return SampleBlock(
            block.first_index, block.t_s[:keep], block.raw[:keep], block.force_n[:keep],
            block.host_timed,
        )  # fmt: skip

    def _write_outputs(self, rec: _Recording, out: PipelineOutput) -> None:
        t0 = rec.t0_s or 0.0
        if out.holds:
            rec.writer.put_holds(
                [
                    dataclasses.replace(h, start_s=h.start_s - t0, end_s=h.end_s - t0)
                    for h in out.holds
                ]
            )
        if out.alerts:
            rec.writer.put_alerts([dataclasses.replace(a, t_s=a.t_s - t0) for a in out.alerts])


def _protocol_event(t_s: float, kind: ProtocolKind, data: dict) -> ProtocolEvent:
    """A protocol event whose data is a JSON object as stored (a copy: tuples are lists)."""
    try:
        stored = json.loads(json.dumps(data, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"protocol {kind} data: not storable as JSON ({exc})") from None
    if not isinstance(stored, dict):
        raise ValueError(f"protocol {kind} data: must be a JSON object, not {data!r}")
    return ProtocolEvent(t_s, ProtocolKind(kind), stored)


def _shifted(item: ClientEvent, t0_s: float) -> ClientEvent:
    """``item`` on the recording's timeline (``t0_s`` is its start on the live one)."""
    return dataclasses.replace(item, t_s=max(0.0, item.t_s - t0_s))


def _store_client_events(writer: SessionWriter, items: Sequence[ClientEvent]) -> None:
    signals = [i for i in items if isinstance(i, Signal)]
    ratings = [i for i in items if isinstance(i, Rating)]
    protocols = [i for i in items if isinstance(i, ProtocolEvent)]
    if signals:
        writer.put_signals(signals)
    if ratings:
        writer.put_ratings(ratings)
    if protocols:
        writer.put_protocols(protocols)


class _ReaderListener(AcquisitionListener):
    """The reader's news, handed to the live session (in the reader thread)."""

    def __init__(self, live: LiveSession) -> None:
        self._live = live

    def device_ready(self, device: DeviceInfo, identity: Identity | None) -> None:
        self._live._on_device(device, identity)

    def samples_received(self, block: SampleBlock) -> None:
        self._live._on_block(block)

    def gap_found(self, gap: Gap) -> None:
        self._live._on_gap(gap)

    def device_event(self, event: DeviceEvent) -> None:
        self._live._on_device_event(event)

    def link_changed(self, state: LinkState, detail: str) -> None:
        self._live._on_state(state, detail)


def wait_until(predicate: Callable[[], bool], timeout_s: float, poll_s: float = 0.01) -> bool:
    """Poll ``predicate`` until true or timeout (for tests and scripts driving a session)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll_s)
    return predicate()
