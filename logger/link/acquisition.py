"""Acquisition: one reader thread per device, from a port URL to blocks of timed samples.

The reader opens any PORT through ``serial.serial_for_url`` (an OS device, ``socket://``,
``sim://`` …), runs the handshake with retries (boards reset when the port opens), checks
the protocol version, starts streaming and then only reads, decodes and hands blocks on.
It never waits on storage or the GUI: its listener runs in this thread and must be quick
(the pipeline's alert decisions are made here on purpose, so their latency does not
depend on anything else).

The reader is thin: port I/O, commands and their retries, a watchdog, reconnecting. What
the bytes mean is decided by pure stages: the codec (``FrameDecoder``), the sample
timeline (``timeline.py``: exact loss accounting, duplicates, reordering, absurd values,
restarts, device-time steps) and the device clock (``clock.py``: a periodic PING measures
the device-vs-host clock offset and drift, so that marks typed on the host land on the
device timeline). Opening a port, and finding a renamed USB device, is ``ports.py``.

Watchdog: while streaming, no samples for ``stall_timeout_s`` (2 s, or 3 sample periods at
slow rates) means the link is stalled. A device that still talks (PONG, HEARTBEAT …) is
asked to START again (an idle HEARTBEAT alone says it stopped on its own, e.g. a simulated
device whose end-of-script event was lost: it answers START by saying its script is over);
a silent one is reported (state ``reconnecting``) and its port reopened. A text-mode
device that sends no parsable numbers for ``TEXT_SILENCE_S`` ends the reading with one
clear line.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import serial

from firmware_protocol.framing import Frame, FrameDecoder, encode_frame
from firmware_protocol.messages import (
    MAX_CHANNELS,
    PROTOCOL_MAJOR,
    PROTOCOL_MINOR,
    Ack,
    Event,
    EventKind,
    GetStatus,
    Heartbeat,
    Hello,
    Identity,
    Message,
    Nak,
    Ping,
    Pong,
    Samples,
    SetRate,
    Start,
    Status,
    Stop,
)
from firmware_protocol.text_mode import TextLineDecoder, looks_like_text

from ..errors import BadInput, DeviceError, ProtocolMismatch
from ..records import DeviceInfo, Gap, GapCause, SampleBlock
from .clock import DeviceClock
from .ports import UsbIdentity, open_port, renamed_candidates, usb_identity
from .timeline import SampleTimeline, TimelineStats

log = logging.getLogger(__name__)

HELLO_INTERVAL_S = 0.25
HANDSHAKE_TIMEOUT_S = 4.0
PING_INTERVAL_S = 1.0
# A stream starts with a burst of PINGs: the clock's first offset then rests on the most
# prompt of several round trips, not on the first one alone (slow on a busy host: 1.2 ms off)
CLOCK_BURST_PINGS = 6
CLOCK_BURST_INTERVAL_S = 0.05
RECONNECT_INTERVAL_S = 0.25
COMMAND_TIMEOUT_S = 0.5  # PROTOCOL.md §7: retry a command unanswered this long …
COMMAND_TRIES = 4  # … up to 3 times (4 sends in all)
STALL_S = 2.0  # a streaming device silent this long (or 3 sample periods) is stalled
TEXT_SILENCE_S = 5.0  # a text device with no parsable numbers this long has failed
RATING_MAX = 1000  # an EVENT RATING argument: the pain rating 0-10 in hundredths


class LinkState(StrEnum):
    CONNECTING = "connecting"
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"
    FAILED = "failed"
    ENDED = "scenario ended"  # a simulated device played its whole script: no more data


@dataclass(slots=True)
class DeviceEvent:
    """A device event (mark button, limit crossed, ADC fault) on the session timeline."""

    message: Event
    t_s: float


@dataclass(slots=True)
class _Pending:
    msg: Message
    sent_s: float
    tries: int


@dataclass(slots=True)
class Counters:
    samples: int = 0
    lost_samples: int = 0
    crc_errors: int = 0
    damaged_frames: int = 0
    reconnects: int = 0
    drift_ppm: float = 0.0
    text_bad_lines: int = 0
    stalls: int = 0  # times the watchdog found the stream silent
    bad_events: int = 0  # intact EVENT frames with an impossible argument (dropped)


class AcquisitionListener:
    """What a reader tells its owner, pyserial ``threaded.Protocol`` style: one object, one
    method per kind of news. Every method runs in the reader thread and must be quick (the
    pipeline's alert decisions are made here on purpose). Override what you need."""

    def device_ready(self, device: DeviceInfo, identity: Identity | None) -> None:
        """The handshake (or a re-identification) told who the device is."""

    def samples_received(self, block: SampleBlock) -> None:
        """Consecutive samples on the session timeline."""

    def gap_found(self, gap: Gap) -> None:
        """Samples lost (or a device-time discontinuity), counted exactly."""

    def device_event(self, event: DeviceEvent) -> None:
        """A device event (mark button, limit crossed, ADC fault, script end)."""

    def link_changed(self, state: LinkState, detail: str) -> None:
        """The link's state changed (connecting, streaming, stalled/reconnecting …)."""


class Collector(AcquisitionListener):
    """A listener that keeps what it hears, for commands that read a device directly
    (``calibrate``) and for tests: blocks in a queue (taken by another thread), gaps and
    events in lists."""

    def __init__(self) -> None:
        self.blocks: queue.SimpleQueue[SampleBlock] = queue.SimpleQueue()
        self.gaps: list[Gap] = []
        self.events: list[DeviceEvent] = []

    def samples_received(self, block: SampleBlock) -> None:
        self.blocks.put(block)

    def gap_found(self, gap: Gap) -> None:
        self.gaps.append(gap)

    def device_event(self, event: DeviceEvent) -> None:
        self.events.append(event)

    def all_blocks(self) -> list[SampleBlock]:
        """Every block received so far (empties the queue)."""
        out = []
        while not self.blocks.empty():
            out.append(self.blocks.get_nowait())
        return out


def stall_timeout_s(rate_hz: float) -> float:
    """How long a streaming device may send no samples before the link counts as stalled:
    2 s, or 3 sample periods at slow rates."""
    return max(STALL_S, 3.0 / rate_hz) if rate_hz > 0 else STALL_S


class Acquisition:
    """Reads one device in its own thread: port I/O, the handshake, commands, and a
    watchdog. What the frames mean is the business of the pure stages it drives: the
    codec (``FrameDecoder``), the sample timeline (``SampleTimeline``) and the device
    clock (``DeviceClock``)."""

    def __init__(
        self,
        port: str,
        listener: AcquisitionListener,
        *,
        rate_hz: int | None = None,
        handshake_timeout_s: float = HANDSHAKE_TIMEOUT_S,
        reconnect: bool = True,
        stall_s: float | None = None,
        text_silence_s: float | None = None,  # None: TEXT_SILENCE_S
    ) -> None:
        self.port = port
        self.listener = listener
        self._rate_request = rate_hz
        self._handshake_timeout_s = handshake_timeout_s
        self._reconnect = reconnect
        self._stall_s = stall_s
        self._text_silence_s = TEXT_SILENCE_S if text_silence_s is None else text_silence_s

        self.state = LinkState.STOPPED
        self.identity: Identity | None = None
        self.device: DeviceInfo | None = None
        self.counters = Counters()
        self.error: Exception | None = None
        self.last_read_s = 0.0  # time.monotonic() when the latest bytes were read

        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._commands: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self._ser: serial.SerialBase | None = None
        self._decoder = FrameDecoder()
        self._timeline: SampleTimeline | None = None
        self._tx_seq = 0
        self._clock = DeviceClock()
        self._burst_pings, self._next_ping_s = 0, 0.0  # see _ping_burst
        self._text: TextLineDecoder | None = None
        self._usb: UsbIdentity | None = None
        self._early: list[Frame] = []  # frames read before IDENTITY on a reconnect
        self._last_sample_host_s = 0.0  # time.monotonic() of the latest delivered samples
        self._idle_beat_host_s = 0.0  # … and of the latest idle HEARTBEAT while streaming
        self._last_frame_host_s = 0.0  # … and of the latest intact frame of any kind
        self._unanswered: dict[int, _Pending] = {}  # commands awaiting ACK/NAK, by seq

    # ---------------------------------------------------------------- public surface

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"reader:{self.port}", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout_s: float = 10.0) -> bool:
        """Block until the handshake completed (True) or failed/timed out (False)."""
        self._ready.wait(timeout_s)
        return self.device is not None

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop reading; joins the thread unless called from it (then it ends after the
        current read)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def send(self, msg: Message) -> None:
        """Queue a command; the reader thread writes it between reads."""
        self._commands.put(msg)

    @property
    def timeline_stats(self) -> TimelineStats | None:
        return None if self._timeline is None else self._timeline.stats

    @property
    def last_t_s(self) -> float:
        """Session time just after the newest delivered sample."""
        if self._text is not None:
            return self._text_last_t_s
        return 0.0 if self._timeline is None else self._timeline.next_t_s

    @property
    def clock_samples(self) -> int:
        """How many PING/PONG pairs the clock estimate rests on."""
        return self._clock.pairs

    @property
    def clock_drift_measured(self) -> bool:
        """Whether the device clock's drift is measured yet (else taken as 0)."""
        return self._clock.drift_measured

    def clock_offset_s(self) -> float | None:
        """Device µs clock − host monotonic clock, in seconds, now (None before a PONG)."""
        now = time.monotonic()
        t_s = self._clock.device_time(now)
        zero_s = None if self._timeline is None else self._timeline.device_clock_at_zero_s
        if t_s is None or zero_s is None:
            return None
        return round(t_s + zero_s - now, 6)

    def host_to_device_s(self, host_monotonic_s: float | None = None) -> float:
        """Session time (device clock) corresponding to a host ``time.monotonic()``. Now
        (no argument) is never before the newest sample received: the device took that
        sample before we read it. (A clock fit on its first round trips takes the device's
        rate as the host's, and a simulator at speed 4 put a key pressed 4 s into a hold
        before the hold's start.)"""
        host = time.monotonic() if host_monotonic_s is None else host_monotonic_s
        t_s = self._clock.device_time(host)
        if t_s is None:
            return self.last_t_s
        return t_s if host_monotonic_s is not None else max(t_s, self.last_t_s)

    # ------------------------------------------------------------------ the thread

    def _set_state(self, state: LinkState, detail: str = "") -> None:
        self.state = state
        log.info("%s: %s %s", self.port, state, detail)
        self.listener.link_changed(state, detail)

    def _run(self) -> None:
        try:
            self._set_state(LinkState.CONNECTING)
            self._ser = open_port(self.port)
            self._usb = usb_identity(self.port)
            self._handshake()
            self._ready.set()
            while not self._stop.is_set():
                try:
                    self._stream()
                except DeviceError:
                    raise  # a verdict on the device (text silence), not a vanished port
                except (serial.SerialException, OSError) as exc:
                    if self._stop.is_set() or not self._reconnect:
                        raise DeviceError(f"port '{self.port}' failed: {exc}") from None
                    self._recover(exc)
        except Exception as exc:  # the thread must end in a known state, never silently
            self.error = exc
            if not isinstance(exc, DeviceError | BadInput):
                log.exception("reader thread failed")
            self._set_state(LinkState.FAILED, str(exc))
        finally:
            self._ready.set()
            self._finish_timeline()
            self._close(send_stop=self.state is not LinkState.FAILED)
            if self.state is not LinkState.FAILED:
                self._set_state(LinkState.STOPPED)

    def _close(self, send_stop: bool) -> None:
        ser, self._ser = self._ser, None
        if ser is None:
            return
        with contextlib.suppress(Exception):
            if send_stop and self._text is None:
                ser.write(self._frame(Stop()))
                ser.flush()
        with contextlib.suppress(Exception):
            ser.close()

    def _frame(self, msg: Message) -> bytes:
        self._tx_seq = (self._tx_seq + 1) & 0xFF
        return encode_frame(msg, self._tx_seq)

    def _write(self, msg: Message, tries: int = 1) -> None:
        """Send a command; those answered by ACK/NAK/STATUS are retried (PROTOCOL.md §7)."""
        assert self._ser is not None
        frame = self._frame(msg)
        if not isinstance(msg, Hello | Ping):  # these have their own cadence
            self._unanswered[self._tx_seq] = _Pending(msg, time.monotonic(), tries)
        self._ser.write(frame)

    def _answered(self, cmd_seq: int) -> None:
        self._unanswered.pop(cmd_seq, None)

    def _retry_unanswered(self) -> None:
        """Re-send commands without an answer for COMMAND_TIMEOUT_S, up to COMMAND_TRIES."""
        now = time.monotonic()
        for seq, pending in list(self._unanswered.items()):
            if now - pending.sent_s < COMMAND_TIMEOUT_S:
                continue
            del self._unanswered[seq]
            if pending.tries >= COMMAND_TRIES:
                if isinstance(pending.msg, Start):
                    raise serial.SerialException("the device does not answer START")
                log.warning("device never answered %s", type(pending.msg).__name__)
                continue
            self._write(pending.msg, pending.tries + 1)

    def _handshake(self) -> None:
        """HELLO until IDENTITY (or plain text lines); then configure and START."""
        assert self._ser is not None
        ser = self._ser
        self._decoder.reset()
        self._unanswered.clear()  # a new conversation: what was pending is sent again below
        deadline = time.monotonic() + self._handshake_timeout_s
        next_hello = 0.0
        seen = bytearray()
        identity: Identity | None = None
        while identity is None:
            if self._stop.is_set():
                return
            now = time.monotonic()
            if now >= deadline:
                raise DeviceError(
                    f"no answer from '{self.port}' within {self._handshake_timeout_s:.1f} s "
                    "(not a pressure-logger device, or wrong port)"
                )
            if now >= next_hello:
                self._write(Hello(PROTOCOL_MAJOR, PROTOCOL_MINOR))
                next_hello = now + HELLO_INTERVAL_S
            data = ser.read(max(1, ser.in_waiting))
            if not data:
                continue
            for frame in self._decoder.feed(data):
                match frame.msg:
                    case Identity() as answer:
                        identity = answer
                    case Samples() if identity is None and self._timeline is not None:
                        # reconnecting to a device still streaming: these samples are real
                        self._early.append(frame)
            if identity is None and not self._decoder.stats.frames:
                seen += data
                if len(seen) > 64 and looks_like_text(bytes(seen[-512:])):
                    self._enter_text_mode(bytes(seen))
                    return
        self._check_identity(identity)
        self._adopt_identity(identity)
        self._start_stream(identity)

    def _check_identity(self, identity: Identity) -> None:
        """Refuse what this program cannot record, in one line naming the value."""
        if identity.proto_major != PROTOCOL_MAJOR:
            raise ProtocolMismatch(
                f"device on '{self.port}' speaks protocol {identity.protocol}; "
                f"this program speaks {PROTOCOL_MAJOR}.x"
            )
        if identity.proto_minor > PROTOCOL_MINOR:
            log.warning(
                "device protocol %s is newer than ours (%d.%d); continuing",
                identity.protocol, PROTOCOL_MAJOR, PROTOCOL_MINOR,
            )  # fmt: skip
        if identity.rate_hz == 0 and not self._rate_request:
            raise ProtocolMismatch(
                f"device '{identity.uid}' on '{self.port}' reports a sample rate of 0 Hz "
                "in its IDENTITY; it cannot be recorded"
            )
        if not 1 <= identity.channels <= MAX_CHANNELS:
            raise ProtocolMismatch(
                f"device '{identity.uid}' on '{self.port}' reports {identity.channels} "
                f"channels in its IDENTITY (1–{MAX_CHANNELS} can be recorded)"
            )

    def _start_stream(self, identity: Identity) -> None:
        if self._rate_request and self._rate_request != identity.rate_hz:
            self._write(SetRate(int(self._rate_request)))
        self._write(Start())
        assert self._timeline is not None
        self._timeline.stream_started()
        self._send_ping()
        self._last_sample_host_s = time.monotonic()  # the watchdog counts from START
        self._set_state(LinkState.STREAMING)

    def _adopt_identity(self, identity: Identity) -> None:
        rate = int(self._rate_request or identity.rate_hz)
        if self.identity is not None and identity.uid != self.identity.uid:
            raise DeviceError(
                f"a different device ('{identity.uid}') answered on '{self.port}' "
                f"where '{self.identity.uid}' was"
            )
        if self._timeline is None:
            self._timeline = SampleTimeline(rate, identity.channels)
        else:
            self._timeline.set_rate(rate)
        self.identity = identity
        self.device = DeviceInfo(
            uid=identity.uid,
            firmware=identity.firmware,
            protocol=identity.protocol,
            rate_hz=float(rate),
            channels=identity.channels,
            adc=f"{identity.adc_kind.name.lower()} {identity.adc_bits}-bit",
        )
        self.listener.device_ready(self.device, identity)

    # ------------------------------------------------------------------ streaming

    def _stream(self) -> None:
        ser = self._ser
        assert ser is not None
        self._ping_burst()
        while not self._stop.is_set():
            while not self._commands.empty():
                self._write(self._commands.get_nowait())
            now = time.monotonic()
            if self._text is None:
                if self._unanswered:
                    self._retry_unanswered()
                if now >= self._next_ping_s:
                    self._send_ping()
                    self._burst_pings -= 1
                    self._next_ping_s = now + (
                        CLOCK_BURST_INTERVAL_S if self._burst_pings > 0 else PING_INTERVAL_S
                    )
            self._watchdog(now)
            data = ser.read(max(1, min(ser.in_waiting, 1 << 16)))
            if not data:
                continue
            arrived_s = time.monotonic()
            self.last_read_s = arrived_s  # when these bytes reached us (latency measurements)
            if self._text is not None:
                self._handle_text(data, arrived_s)
                continue
            self._handle_frames(self._decoder.feed(data), arrived_s)

    def _watchdog(self, now: float) -> None:
        """A streaming device that sends no samples is stalled: say so and reconnect
        (raising here sends the reader through ``_recover``). A text device that sends no
        numbers for ``text_silence_s`` ends the reading with one clear line."""
        if self.state is not LinkState.STREAMING:
            return
        quiet_s = now - max(self._last_sample_host_s, self._idle_beat_host_s)
        if self._text is not None:
            if quiet_s > self._text_silence_s:
                raise DeviceError(
                    f"no numbers from '{self.port}' for {quiet_s:.0f} s (text mode: "
                    f"{self.counters.text_bad_lines} line(s) that were not numbers)"
                )
            return
        limit_s = self._stall_s or stall_timeout_s(self.device.rate_hz if self.device else 0)
        if quiet_s <= limit_s:
            return
        self.counters.stalls += 1
        if now - self._last_frame_host_s <= limit_s:  # it talks, but sends no samples
            self._device_stopped_streaming()
            return
        raise _Stalled(f"no samples for {quiet_s:.1f} s")

    def _ping_burst(self) -> None:
        """``CLOCK_BURST_PINGS`` PINGs ``CLOCK_BURST_INTERVAL_S`` apart, the first now (a new
        stream, a clock fitted anew), then one every ``PING_INTERVAL_S``."""
        self._burst_pings, self._next_ping_s = CLOCK_BURST_PINGS, time.monotonic()

    def _refit_clock(self) -> None:
        """The device clock no longer maps as it did (a restart, a time step): fit anew."""
        self._clock.clear()
        self._ping_burst()

    def _send_ping(self) -> None:
        self._write(Ping(self._clock.ping(time.monotonic())))

    def _handle_frames(self, frames: list[Frame], arrived_s: float) -> None:
        """Frames in wire order: SAMPLES go to the timeline; everything else is handled
        after the samples before it have been delivered (so marks and alerts find them)."""
        tl = self._timeline
        assert tl is not None
        if frames:
            self._last_frame_host_s = arrived_s
        c = self.counters
        st = self._decoder.stats
        c.crc_errors = st.crc_errors
        c.damaged_frames = st.damaged_frames
        for frame in frames:
            tl.damage(frame.damaged_before, frame.damaged_values_before)
            match frame.msg:
                case Samples() as samples:
                    tl.push(samples, arrived_s)
                case msg:
                    self._deliver(tl.take())
                    self._handle_message(msg, arrived_s)
        self._deliver(tl.take())

    def _handle_message(self, msg: Message, arrived_s: float) -> None:
        tl = self._timeline
        assert tl is not None
        match msg:
            case Event() if msg.kind is EventKind.RATING and not 0 <= msg.arg <= RATING_MAX:
                self.counters.bad_events += 1
                log.warning("device sent a pain rating of %d hundredths: dropped", msg.arg)
            case Event():
                t_s = tl.session_t_s(msg.t_us)
                self.listener.device_event(DeviceEvent(msg, self.last_t_s if t_s is None else t_s))
                if msg.kind is EventKind.SCRIPT_END:
                    self._set_state(LinkState.ENDED, "the simulated scenario ended")
            case Pong():
                if self._clock.pong(msg.token, msg.t_us, arrived_s):
                    self._fit_clock()
            case Heartbeat() if self.state is LinkState.STREAMING and not msg.streaming:
                self._device_stopped_streaming()
            case Nak():
                self._answered(msg.cmd_seq)
                log.warning("device refused command 0x%02X: %s", msg.cmd_type, msg.code.name)
            case Identity():  # the board reset behind our back
                log.warning("device re-identified mid-stream; restarting the stream")
                self._check_identity(msg)
                tl.device_restarted()
                self._refit_clock()
                self._adopt_identity(msg)  # listeners re-send their settings (limits)
                self._start_stream(msg)
            case Ack():
                self._answered(msg.cmd_seq)
            case Status():
                for seq in [k for k, p in self._unanswered.items() if isinstance(p.msg, GetStatus)]:
                    self._answered(seq)

    def _device_stopped_streaming(self) -> None:
        """An idle HEARTBEAT while we expect samples, or a device that answers but sends no
        samples: it stopped on its own (a brown-out without a new IDENTITY, or a simulated
        device at the end of its script whose SCRIPT_END event was damaged). START again:
        a real device streams on, a simulated one answers that its script is over."""
        self._idle_beat_host_s = time.monotonic()  # alive, so not a stall: keep asking
        if not any(isinstance(p.msg, Start) for p in self._unanswered.values()):
            log.warning("device %s stopped streaming on its own; sending START", self.port)
            self._write(Start())

    def _fit_clock(self) -> None:
        """PING/PONG pairs on the session timeline (pairs heard before the first sample
        wait until the timeline has an origin)."""
        tl = self._timeline
        assert tl is not None
        if tl.started:
            self._clock.place(tl.session_t_s)
            self.counters.drift_ppm = self._clock.drift_ppm()

    def _deliver(self, out: list[SampleBlock | Gap]) -> None:
        if not out:
            return
        tl = self._timeline
        assert tl is not None
        c = self.counters
        for item in out:
            match item:
                case SampleBlock():
                    self._last_sample_host_s = time.monotonic()
                    self.listener.samples_received(item)
                case Gap():
                    if item.cause in (GapCause.RESTART, GapCause.TIME):
                        self._refit_clock()
                    self.listener.gap_found(item)
        c.samples = tl.stats.samples
        c.lost_samples = tl.stats.lost_samples
        if self._clock.waiting:
            self._fit_clock()

    def _finish_timeline(self) -> None:
        """Whatever the timeline still holds (frames behind a hole, a suspect frame, damage
        after the last intact frame) is decided and delivered when reading ends."""
        tl = self._timeline
        if tl is None or not tl.started or self._text is not None:
            return
        with contextlib.suppress(Exception):  # listeners may be gone; counts must still add
            tl.finish(*self._decoder.pending_damage)
            self._deliver(tl.take())

    # ------------------------------------------------------------------ text mode

    def _enter_text_mode(self, already: bytes) -> None:
        """A device that prints numbers: host-timed samples, flagged as such."""
        self._text = TextLineDecoder()
        rows = self._text.feed(already)
        lengths = [len(r) for r in rows]
        channels = max(set(lengths), key=lengths.count) if lengths else 1
        channels = min(max(channels, 1), MAX_CHANNELS)
        self._text.channels = channels  # a line with another count of numbers is bad
        self.device = DeviceInfo(
            uid=f"text:{self.port}",
            firmware="text",
            protocol="text",
            rate_hz=0.0,
            channels=channels,
            adc="ascii",
            text_mode=True,
        )
        # lines read while telling text from frames precede the session (like samples
        # before START): the session starts with the first line after this point
        log.info("text-mode device: %d line(s) read during detection precede the session",
                 len(rows))  # fmt: skip
        self._text_last_host_s = time.monotonic()
        self._last_sample_host_s = self._text_last_host_s
        self._text_t0: float | None = None
        self._text_index = 0
        self._text_last_t_s = 0.0
        self.listener.device_ready(self.device, None)  # which may ask for last_t_s
        self._set_state(LinkState.STREAMING, "text mode (host timestamps)")

    def _handle_text(self, data: bytes, arrived_s: float) -> None:
        assert self._text is not None
        rows = self._text.feed(data)
        self.counters.text_bad_lines = self._text.stats.bad_lines
        if not rows:
            return
        raw = np.round(np.vstack(rows)).astype(np.int32)  # the decoder checked count and range
        if self._text_t0 is None:
            self._text_t0 = self._text_last_host_s
        # lines that arrive together share the interval since the previous read
        t_s = np.linspace(self._text_last_host_s, arrived_s, len(rows) + 1)[1:] - self._text_t0
        self._text_last_host_s = arrived_s
        self._last_sample_host_s = arrived_s
        self.counters.samples += len(rows)
        block = SampleBlock(self._text_index, t_s, raw, host_timed=True)
        self._text_index += len(rows)
        self._text_last_t_s = float(t_s[-1])
        self.listener.samples_received(block)

    # ------------------------------------------------------------------ reconnecting

    def _recover(self, exc: BaseException) -> None:
        """The port vanished or the device went quiet: keep the session, retry until the
        device is back."""
        self.counters.reconnects += 1
        self._set_state(LinkState.RECONNECTING, str(exc))
        self._close(send_stop=False)
        if self._timeline is not None:
            self._timeline.reconnected()
            self._deliver(self._timeline.take())
        while not self._stop.is_set():
            time.sleep(RECONNECT_INTERVAL_S)
            candidates = [self.port]
            if self._usb is not None:  # the OS may have given the device a new name
                candidates += renamed_candidates(self.port, self._usb)
            for port in candidates:
                try:
                    self._ser = open_port(port)
                    self._decoder.reset()
                    self._handshake_after_reconnect()
                    if port != self.port:
                        log.warning("device %s is back as %s", self.port, port)
                        self.port = port
                    return
                except ProtocolMismatch:
                    raise
                except (serial.SerialException, OSError, DeviceError) as again:
                    log.debug("reconnect attempt on %s failed: %s", port, again)
                    self._close(send_stop=False)

    def _handshake_after_reconnect(self) -> None:
        """Handshake again; the first samples then say what the outage cost (the timeline
        turns the index jump into a ``disconnect`` gap, or a reboot into a ``restart``)."""
        self._handshake()
        if self._text is not None:
            return
        early, self._early = self._early, []
        self._handle_frames(early, time.monotonic())


class _Stalled(serial.SerialException):
    """The device stopped sending samples while streaming (the watchdog's verdict)."""
