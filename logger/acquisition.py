"""Acquisition: one reader thread per device, from a port URL to blocks of timed samples.

The reader opens any PORT through ``serial.serial_for_url`` (an OS device, ``socket://``,
``sim://`` …), runs the handshake with retries (boards reset when the port opens), checks
the protocol version, starts streaming and then only reads, decodes and hands blocks on.
It never waits on storage or the GUI: callbacks run in this thread and must be quick
(the pipeline's alert decisions are made here on purpose, so their latency does not
depend on anything else).

Accounting: every sample the device produced has an index; a jump between consecutive
frames is an exact count of lost samples, recorded as a gap whose cause is ``crc`` when
damaged frames were seen in between, ``sequence`` otherwise, and ``disconnect`` across a
reconnect. Device time (µs, u32) is unwrapped into seconds since the session's first
sample. A periodic PING estimates the device-vs-host clock offset and drift so that marks
typed on the host land on the device timeline.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import serial
from serial.tools import list_ports

import firmware_protocol  # noqa: F401  (registers sim://)
from firmware_protocol.framing import FrameDecoder, encode_frame
from firmware_protocol.messages import (
    PROTOCOL_MAJOR,
    PROTOCOL_MINOR,
    Ack,
    Event,
    EventKind,
    GetStatus,
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

from .errors import BadInput, DeviceError, ProtocolMismatch
from .records import DeviceInfo, Gap, GapCause, SampleBlock

log = logging.getLogger(__name__)

BAUD = 115200
READ_TIMEOUT_S = 0.01
HELLO_INTERVAL_S = 0.25
HANDSHAKE_TIMEOUT_S = 4.0
PING_INTERVAL_S = 1.0
RECONNECT_INTERVAL_S = 0.25
COMMAND_TIMEOUT_S = 0.5  # PROTOCOL.md §7: retry a command unanswered this long …
COMMAND_TRIES = 4  # … up to 3 times (4 sends in all)
U32 = 1 << 32


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


class _Unwrapper:
    """Unwraps a u32 µs counter; tolerant of small backwards steps (PONG vs samples)."""

    def __init__(self) -> None:
        self._last: int | None = None
        self._value = 0

    def __call__(self, t_us: int) -> int:
        if self._last is None:
            self._last, self._value = t_us, t_us
            return self._value
        delta = (t_us - self._last) % U32
        if delta >= U32 // 2:  # a step backwards
            delta -= U32
        self._value += delta
        self._last = t_us
        return self._value

    def reset(self) -> None:
        self._last = None


class _ClockFit:
    """Least-squares line device_t_s = a + b · host_t_s over recent ping pairs."""

    def __init__(self, keep: int = 120) -> None:
        self._pairs: deque[tuple[float, float]] = deque(maxlen=keep)

    def add(self, host_s: float, device_s: float) -> None:
        self._pairs.append((host_s, device_s))

    def clear(self) -> None:
        self._pairs.clear()

    def device_time(self, host_s: float) -> float | None:
        if not self._pairs:
            return None
        if len(self._pairs) < 3:
            h, d = self._pairs[-1]
            return d + (host_s - h)
        a, b = self._fit()
        return a + b * host_s

    def drift_ppm(self) -> float:
        if len(self._pairs) < 3:
            return 0.0
        _, b = self._fit()
        return (b - 1.0) * 1e6

    def _fit(self) -> tuple[float, float]:
        pairs = np.asarray(self._pairs)
        h0 = pairs[0, 0]
        b, a = np.polyfit(pairs[:, 0] - h0, pairs[:, 1], 1)
        return a - b * h0, b


@dataclass(frozen=True, slots=True)
class UsbIdentity:
    """What the OS tells about a USB serial device, to find it again if it is renamed."""

    serial_number: str | None
    vid: int | None
    pid: int | None


def usb_identity(port: str, ports: list | None = None) -> UsbIdentity | None:
    """The USB identity of OS port ``port`` (None for URLs and non-USB ports)."""
    if "://" in port:
        return None
    infos = list_ports.comports() if ports is None else ports
    for info in infos:
        if info.device == port and info.vid is not None:
            return UsbIdentity(info.serial_number, info.vid, info.pid)
    return None


def renamed_candidates(original: str, usb: UsbIdentity, ports: list | None = None) -> list[str]:
    """Ports that may be the same device under a new name: the same USB serial number, or,
    for adapters without one, the same VID:PID. The handshake then checks the device uid."""
    infos = list_ports.comports() if ports is None else ports
    out = []
    for info in infos:
        if info.device == original or info.vid is None:
            continue
        if usb.serial_number:
            if info.serial_number == usb.serial_number:
                out.append(info.device)
        elif (info.vid, info.pid) == (usb.vid, usb.pid):
            out.append(info.device)
    return out


def _open_port(url: str) -> serial.SerialBase:
    """Open ``url`` exclusively where the OS allows it.

    A port that is not there or cannot be opened is a DeviceError (exit 1); a URL that
    cannot mean anything (unknown scheme, bad ``sim://`` parameter, malformed scenario)
    is BadInput (exit 2)."""
    try:  # every pyserial URL handler takes `exclusive`; only OS ports act on it
        return serial.serial_for_url(url, baudrate=BAUD, timeout=READ_TIMEOUT_S, exclusive=True)
    except (serial.SerialException, OSError) as exc:
        raise DeviceError(f"cannot open port '{url}': {exc}") from None
    except ValueError as exc:  # unknown scheme, bad sim:// key, malformed scenario …
        raise BadInput(f"port '{url}': {exc}") from None


class Acquisition:
    """Reads one device in its own thread.

    Callbacks (all called from the reader thread, keep them short):
    ``on_block(SampleBlock)``, ``on_event(DeviceEvent)``, ``on_gap(Gap)``,
    ``on_state(LinkState, str)``, ``on_device(DeviceInfo, Identity | None)``.
    """

    def __init__(
        self,
        port: str,
        *,
        on_block: Callable[[SampleBlock], None],
        on_event: Callable[[DeviceEvent], None] | None = None,
        on_gap: Callable[[Gap], None] | None = None,
        on_state: Callable[[LinkState, str], None] | None = None,
        on_device: Callable[[DeviceInfo, Identity | None], None] | None = None,
        rate_hz: int | None = None,
        handshake_timeout_s: float = HANDSHAKE_TIMEOUT_S,
        reconnect: bool = True,
    ) -> None:
        self.port = port
        self._on_block = on_block
        self._on_event = on_event or (lambda e: None)
        self._on_gap = on_gap or (lambda g: None)
        self._on_state = on_state or (lambda s, d: None)
        self._on_device = on_device or (lambda d, i: None)
        self._rate_request = rate_hz
        self._handshake_timeout_s = handshake_timeout_s
        self._reconnect = reconnect

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
        self._tx_seq = 0
        self._unwrap = _Unwrapper()
        self._clock = _ClockFit()
        self._t0_us: int | None = None  # unwrapped device µs of the session's first sample
        self._t_offset_s = 0.0  # added after a device reboot so that t_s stays monotonic
        self._next_index: int | None = None
        self._last_t_s = 0.0
        self._period_s = 0.0
        self._damaged_seen = 0
        self._ping_token = 0
        self._pings: dict[int, float] = {}
        self._text: TextLineDecoder | None = None
        self._usb: UsbIdentity | None = None
        self._early: list = []  # SAMPLES frames read before IDENTITY on a reconnect
        self._last_sample_host_s = 0.0  # time.monotonic() of the latest delivered samples
        self._unanswered: dict[int, _Pending] = {}  # commands awaiting ACK/NAK, by seq
        self._gap_cause: GapCause | None = None  # what the next index jump is due to

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
    def clock_samples(self) -> int:
        """How many PING/PONG pairs the clock estimate rests on."""
        return len(self._clock._pairs)

    def clock_offset_s(self) -> float | None:
        """Device µs clock − host monotonic clock, in seconds, now (None before a PONG)."""
        now = time.monotonic()
        dev_s = self._clock.device_time(now)
        return None if dev_s is None else round(dev_s - now, 6)

    def host_to_device_s(self, host_monotonic_s: float | None = None) -> float:
        """Session time (device clock) corresponding to a host ``time.monotonic()``."""
        host = time.monotonic() if host_monotonic_s is None else host_monotonic_s
        dev_s = self._clock.device_time(host)
        if dev_s is None or self._t0_us is None:
            return self._last_t_s
        return dev_s - self._t0_us / 1e6 + self._t_offset_s

    # ------------------------------------------------------------------ the thread

    def _set_state(self, state: LinkState, detail: str = "") -> None:
        self.state = state
        log.info("%s: %s %s", self.port, state, detail)
        self._on_state(state, detail)

    def _run(self) -> None:
        try:
            self._set_state(LinkState.CONNECTING)
            self._ser = _open_port(self.port)
            self._usb = usb_identity(self.port)
            self._handshake()
            self._ready.set()
            while not self._stop.is_set():
                try:
                    self._stream()
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
            frames = self._decoder.feed(data)
            for frame in frames:
                if isinstance(frame.msg, Identity):
                    identity = frame.msg
                elif (
                    identity is None and isinstance(frame.msg, Samples) and self._t0_us is not None
                ):
                    # reconnecting to a device still streaming: these samples are real
                    self._early.append(frame)
            if identity is None and not self._decoder.stats.frames:
                seen += data
                if len(seen) > 64 and looks_like_text(bytes(seen[-512:])):
                    self._enter_text_mode(bytes(seen))
                    return
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
        self._adopt_identity(identity)
        if self._rate_request and self._rate_request != identity.rate_hz:
            self._write(SetRate(int(self._rate_request)))
        self._write(Start())
        self._send_ping()
        self._set_state(LinkState.STREAMING)

    def _adopt_identity(self, identity: Identity) -> None:
        rate = int(self._rate_request or identity.rate_hz)
        if self.identity is not None and identity.uid != self.identity.uid:
            raise DeviceError(
                f"a different device ('{identity.uid}') answered on '{self.port}' "
                f"where '{self.identity.uid}' was"
            )
        self.identity = identity
        self._period_s = 1.0 / rate
        self.device = DeviceInfo(
            uid=identity.uid,
            firmware=identity.firmware,
            protocol=identity.protocol,
            rate_hz=float(rate),
            channels=identity.channels,
            adc=f"{identity.adc_kind.name.lower()} {identity.adc_bits}-bit",
        )
        self._on_device(self.device, identity)

    def _enter_text_mode(self, already: bytes) -> None:
        """A device that prints numbers: host-timed samples, flagged as such."""
        self._text = TextLineDecoder()
        rows = self._text.feed(already)
        channels = max((len(r) for r in rows), default=1)
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
        self._on_device(self.device, None)
        self._set_state(LinkState.STREAMING, "text mode (host timestamps)")
        self._text_last_host_s = time.monotonic()
        self._text_t0: float | None = None
        self._text_index = 0

    def _stream(self) -> None:
        ser = self._ser
        assert ser is not None
        next_ping = time.monotonic() + PING_INTERVAL_S
        while not self._stop.is_set():
            while not self._commands.empty():
                self._write(self._commands.get_nowait())
            if self._text is None:
                if self._unanswered:
                    self._retry_unanswered()
                if time.monotonic() >= next_ping:
                    self._send_ping()
                    next_ping = time.monotonic() + PING_INTERVAL_S
            data = ser.read(max(1, min(ser.in_waiting, 1 << 16)))
            if not data:
                continue
            arrived_s = time.monotonic()
            self.last_read_s = arrived_s  # when these bytes reached us (latency measurements)
            if self._text is not None:
                self._handle_text(data, arrived_s)
                continue
            self._handle_frames(self._decoder.feed(data), arrived_s)

    def _send_ping(self) -> None:
        self._ping_token = (self._ping_token + 1) & 0xFFFFFFFF
        self._pings[self._ping_token] = time.monotonic()
        if len(self._pings) > 16:
            self._pings.pop(next(iter(self._pings)))
        self._write(Ping(self._ping_token))

    def _handle_frames(self, frames: list, arrived_s: float) -> None:
        c = self.counters
        st = self._decoder.stats
        c.crc_errors = st.crc_errors
        c.damaged_frames = st.damaged_frames
        pending: list[Samples] = []
        for frame in frames:
            msg = frame.msg
            if isinstance(msg, Samples):
                pending.append(msg)
                continue
            if pending:
                self._emit_samples(pending)
                pending = []
            if isinstance(msg, Event):
                self._on_event(DeviceEvent(msg, self._device_t_s(msg.t_us)))
                if msg.kind is EventKind.SCRIPT_END:
                    self._set_state(LinkState.ENDED, "the simulated scenario ended")
            elif isinstance(msg, Pong):
                sent = self._pings.pop(msg.token, None)
                if sent is not None:
                    dev_us = self._unwrap(msg.t_us)
                    self._clock.add((sent + arrived_s) / 2, dev_us / 1e6)
                    c.drift_ppm = self._clock.drift_ppm()
            elif isinstance(msg, Nak):
                self._answered(msg.cmd_seq)
                log.warning("device refused command 0x%02X: %s", msg.cmd_type, msg.code.name)
            elif isinstance(msg, Identity):  # the board reset behind our back
                log.warning("device re-identified mid-stream; restarting the stream")
                self._adopt_identity(msg)  # listeners re-send their settings (limits)
                if self._rate_request and self._rate_request != msg.rate_hz:
                    self._write(SetRate(int(self._rate_request)))
                self._write(Start())
            elif isinstance(msg, Ack):
                self._answered(msg.cmd_seq)
            elif isinstance(msg, Status):
                for seq in [k for k, p in self._unanswered.items() if isinstance(p.msg, GetStatus)]:
                    self._answered(seq)
        if pending:
            self._emit_samples(pending)

    def _device_t_s(self, t_us: int) -> float:
        dev_us = self._unwrap(t_us)
        if self._t0_us is None:
            return 0.0
        return (dev_us - self._t0_us) / 1e6 + self._t_offset_s

    def _emit_samples(self, frames: list[Samples]) -> None:
        """Turn consecutive SAMPLES frames into blocks, splitting (and counting) at jumps."""
        run: list[Samples] = []
        run_times: list[np.ndarray] = []
        for msg in frames:
            n = msg.count
            if self._t0_us is None:
                self._t0_us = self._unwrap(msg.t_us)
                self._next_index = msg.first_index
            expected = self._next_index
            assert expected is not None
            jump = (msg.first_index - expected) % U32
            if jump >= U32 // 2:  # the index went backwards: the board restarted
                if run:
                    self._deliver(run, run_times)
                    run, run_times = [], []
                outage_s = max(0.0, time.monotonic() - self._last_sample_host_s)
                self._restart_timeline(msg, outage_s)
                jump = 0
            dev_us = self._unwrap(msg.t_us)
            t_first_s = (dev_us - self._t0_us) / 1e6 + self._t_offset_s
            t_s = t_first_s + np.arange(n) * (msg.period_us / 1e6)
            if jump:
                if run:
                    self._deliver(run, run_times)
                    run, run_times = [], []
                damaged = self.counters.damaged_frames - self._damaged_seen
                cause = self._gap_cause or (GapCause.CRC if damaged > 0 else GapCause.SEQUENCE)
                self._record_gap(self._last_t_s, float(t_s[0]), jump, cause)
            self._gap_cause = None
            self._damaged_seen = self.counters.damaged_frames
            self._next_index = (msg.first_index + n) % U32
            run.append(msg)
            run_times.append(t_s)
        if run:
            self._deliver(run, run_times)

    def _restart_timeline(self, first: Samples, outage_s: float) -> None:
        """The board restarted (its sample index and µs clock began again at 0): only the
        host clock can say how long it was away. Continue the session's timeline after
        that outage and count the samples it would have taken as lost."""
        lost = round(outage_s / self._period_s) if self._period_s else 0
        last_t_s = self._last_t_s
        self._unwrap.reset()
        self._t0_us = self._unwrap(first.t_us)
        self._t_offset_s = last_t_s + outage_s
        self._clock.clear()
        self._record_gap(last_t_s, self._t_offset_s, lost, GapCause.DISCONNECT)
        self._next_index = first.first_index
        log.warning("device restarted: %.2f s without samples (%d lost)", outage_s, lost)

    def _record_gap(self, start_s: float, end_s: float, lost: int, cause: GapCause) -> None:
        self.counters.lost_samples += lost
        gap = Gap(start_s=start_s, end_s=end_s, lost_samples=int(lost), cause=cause)
        log.info("gap: %s", gap)
        self._on_gap(gap)

    def _deliver(self, run: list[Samples], run_times: list[np.ndarray]) -> None:
        raw = run[0].raw if len(run) == 1 else np.concatenate([m.raw for m in run])
        t_s = run_times[0] if len(run_times) == 1 else np.concatenate(run_times)
        self.counters.samples += int(t_s.shape[0])
        self._last_t_s = float(t_s[-1]) + self._period_s
        self._last_sample_host_s = time.monotonic()
        self._on_block(SampleBlock(first_index=run[0].first_index, t_s=t_s, raw=raw))

    def _handle_text(self, data: bytes, arrived_s: float) -> None:
        assert self._text is not None
        rows = self._text.feed(data)
        self.counters.text_bad_lines = self._text.stats.bad_lines
        if not rows:
            return
        channels = self.device.channels if self.device else 1
        raw = np.zeros((len(rows), channels), dtype=np.int32)
        for i, row in enumerate(rows):  # lines may carry fewer or more numbers: pad / cut
            k = min(len(row), channels)
            raw[i, :k] = np.round(row[:k])
        if self._text_t0 is None:
            self._text_t0 = self._text_last_host_s
        # lines that arrive together share the interval since the previous read
        t_s = np.linspace(self._text_last_host_s, arrived_s, len(rows) + 1)[1:] - self._text_t0
        self._text_last_host_s = arrived_s
        self.counters.samples += len(rows)
        block = SampleBlock(self._text_index, t_s, raw, host_timed=True)
        self._text_index += len(rows)
        self._last_t_s = float(t_s[-1])
        self._on_block(block)

    def _recover(self, exc: BaseException) -> None:
        """The port vanished: keep the session, retry until the device is back."""
        self.counters.reconnects += 1
        self._set_state(LinkState.RECONNECTING, str(exc))
        self._close(send_stop=False)
        while not self._stop.is_set():
            time.sleep(RECONNECT_INTERVAL_S)
            candidates = [self.port]
            if self._usb is not None:  # the OS may have given the device a new name
                candidates += renamed_candidates(self.port, self._usb)
            for port in candidates:
                try:
                    self._ser = _open_port(port)
                    self._decoder.reset()
                    self._handshake_after_reconnect()
                    if port != self.port:
                        log.warning("device %s is back as %s", self.port, port)
                        self.port = port
                    return
                except ProtocolMismatch:
                    raise
                except (serial.SerialException, OSError) as again:
                    log.debug("reconnect attempt on %s failed: %s", port, again)
                    self._close(send_stop=False)

    def _handshake_after_reconnect(self) -> None:
        """Handshake again; the first samples then say what the outage cost: the jump of
        the device's own sample index (a ``disconnect`` gap), or, if the index went
        backwards (the board rebooted), the host clock."""
        self._handshake()
        if self._text is not None:
            return
        self._gap_cause = GapCause.DISCONNECT
        early, self._early = self._early, []
        self._handle_frames(early, time.monotonic())
