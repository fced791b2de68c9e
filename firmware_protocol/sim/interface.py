"""The simulated device's wire interface: bytes in ⇄ bytes out, exactly like the firmware.

``SimDevice`` wraps a ``DeviceModel`` (physics, no bytes) and speaks the protocol
(PROTOCOL.md): it answers HELLO with IDENTITY, handles START/STOP/SET_RATE/GET_STATUS/PING/
SET_LIMITS/STORE_CAL with ACK/NAK/STATUS/PONG, sends a HEARTBEAT every second of device
time while idle, batches samples about every 20 ms into SAMPLES frames no longer than
``MAX_FRAME_BYTES``, and sends EVENT frames for the script's events (mark button, client
button, eVAS ratings: at their exact device time) and for limit crossings (raw counts of
channel 0 against SET_LIMITS, as the firmware's buzzer does).

Time only moves when the caller says so (``advance_to_us`` / ``process``), so a run is
deterministic and can go faster than real time; the transport (``protocol_sim``, the pty
and TCP servers) decides how device time relates to the host clock.

Faults are injected on the device → host byte stream (the ``[faults]`` table), with their
own seeded generator, and every consequence is counted in ``SimDevice.injected`` so tests
can compare what the host saw with what was injected.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ..framing import DELIMITER, MAX_FRAME_BYTES, checked_body, encode_frame
from ..messages import (
    INT24_MAX,
    INT24_MIN,
    MAX_SAMPLE_VALUES,
    PROTOCOL_MAJOR,
    PROTOCOL_MINOR,
    Ack,
    AdcKind,
    Capability,
    Event,
    EventKind,
    GetStatus,
    Heartbeat,
    Hello,
    Identity,
    Message,
    MsgType,
    Nak,
    NakCode,
    Ping,
    Pong,
    ProtocolError,
    SampleFlag,
    Samples,
    SetLimits,
    SetRate,
    Start,
    Status,
    Stop,
    StoreCal,
    decode_payload,
)
from .model import US_PER_S, DeviceModel, DueEvent, SampleChunk
from .scenario import RATE_MAX_HZ, RATE_MIN_HZ, Scenario

log = logging.getLogger(__name__)

FIRMWARE_VERSION = (0, 1, 0)
ADC_BITS = 24
BATCH_S = 0.020  # samples are sent about every 20 ms
HEARTBEAT_US = 1_000_000
OUT_CAPACITY_BYTES = 1 << 20  # the device's send buffer; beyond it samples are overruns
LIMIT_HYSTERESIS_DIV = 50  # a limit is left when raw falls 2 % (of limit − zero) below it
CAPABILITIES = (
    Capability.BUZZER | Capability.LED | Capability.MARK_BUTTON | Capability.EEPROM_CAL
    | Capability.CLIENT_BUTTON | Capability.EVAS
)  # fmt: skip
_SAMPLES_OVERHEAD = 2 + 12 + 2  # type, seq, header, crc


def max_samples_per_frame(channels: int, max_frame: int = MAX_FRAME_BYTES) -> int:
    """Largest sample count for a SAMPLES frame: count × channels <= 255 and the encoded
    frame (COBS + delimiter) fits max_frame (PROTOCOL.md §5, batching)."""
    n = MAX_SAMPLE_VALUES // channels
    while n > 1:
        body = _SAMPLES_OVERHEAD + 3 * n * channels
        if body + 1 + body // 254 + 1 <= max_frame:
            break
        n -= 1
    return n


@dataclass
class Injected:
    """What the fault injection did, and what the host therefore cannot receive."""

    bytes_corrupted: int = 0
    bytes_dropped: int = 0
    frames_damaged: int = 0  # frames of any type the host cannot decode
    sample_frames_damaged: int = 0  # SAMPLES frames among them
    samples_damaged: int = 0  # samples in those frames
    samples_disconnected: int = 0  # streamed while unplugged / unread when the port vanished
    events_lost: int = 0  # EVENT frames damaged or sent into a vanished port
    unplugs: int = 0
    overruns: int = 0  # samples discarded because nobody read the send buffer
    lost_ranges: list[tuple[int, int]] = field(default_factory=list)  # (first_index, count)

    def add_range(self, first: int, count: int) -> None:
        """Record ``count`` lost samples from index ``first`` (adjacent ranges merge)."""
        if self.lost_ranges and sum(self.lost_ranges[-1]) == first:
            a, n = self.lost_ranges[-1]
            self.lost_ranges[-1] = (a, n + count)
        else:
            self.lost_ranges.append((first, count))

    @property
    def samples_lost(self) -> int:
        """Exact number of streamed samples the host cannot receive."""
        return self.samples_damaged + self.samples_disconnected + self.overruns


@dataclass(slots=True)
class _OutFrame:
    end: int  # absolute stream position one past the frame's last byte
    first_index: int
    count: int  # samples (0 for other frames)
    is_event: bool
    lost: bool  # already counted as damaged


class SimDevice:
    """One simulated board. Not thread-safe: the transport serialises calls."""

    def __init__(self, scenario: Scenario, *, loop: bool = False) -> None:
        self.scenario = scenario
        self.model = DeviceModel(scenario, loop=loop)
        dev = scenario.device
        self.uid = dev.uid
        self.channels = dev.channels
        self.clock_start_us = dev.clock_start_us
        # what the EEPROM holds; an erased board reports "none stored" until STORE_CAL
        self.cal_counts_per_n = 0.0 if dev.erased else float(dev.reported_counts_per_n)
        self.cal_offset_counts = 0 if dev.erased else int(dev.reported_offset_counts)
        self.cal_stored = False  # a STORE_CAL arrived (the EEPROM was written)
        self.faults = scenario.faults
        self._fault_seed = scenario.therapist.seed
        self._other_frames = 0  # frames other than samples and events sent (see _fault_rng)
        self.injected = Injected()
        self.streaming = False
        self.limits: SetLimits | None = None
        self._limit_state = [False, False]  # warn, max
        self.rx_crc_errors = 0
        self._rx = bytearray()
        self._seq = 0
        self._prev_delim_hit = False
        self.attached = True  # a host port is there to receive bytes
        self._out = bytearray()
        self._out_pos = 0  # absolute stream position of _out[0]
        self._frames: deque[_OutFrame] = deque()
        self._pend_first = 0
        self._pend_raw = np.zeros((0, self.channels), np.int32)
        self._pend_sat = np.zeros(0, bool)
        self._next_hb_us = HEARTBEAT_US
        self.unplug_window_us: tuple[int, int] | None = None
        self.unplugged = False
        self._unplug_done = False
        self._end_sent = False  # SCRIPT_END event sent (the scenario is over)
        self._evas_h = 0  # the eVAS value last sent (hundredths), re-sent at each re-START

    # ---------------------------------------------------------------- properties

    @property
    def now_us(self) -> int:
        return self.model.now_us

    @property
    def rate_hz(self) -> int:
        return self.model.rate_hz

    @property
    def batch_samples(self) -> int:
        per_batch = max(1, round(self.model.rate_hz * BATCH_S))
        return min(per_batch, max_samples_per_frame(self.channels))

    @property
    def scenario_done(self) -> bool:
        return self.model.scenario_done

    def wire_us(self, t_us: int) -> int:
        """The device's µs clock as sent on the wire: from ``clock_start_us`` at power-on,
        u32, wrapping every 71.6 minutes (set clock_start_us near 2**32 to test that)."""
        return (t_us + self.clock_start_us) & 0xFFFFFFFF

    def identity(self) -> Identity:
        return Identity(
            proto_major=PROTOCOL_MAJOR, proto_minor=PROTOCOL_MINOR, fw_version=FIRMWARE_VERSION,
            uid=self.uid, adc_kind=AdcKind.SIMULATED, adc_bits=ADC_BITS, channels=self.channels,
            rate_hz=self.model.rate_hz, rate_min_hz=RATE_MIN_HZ, rate_max_hz=RATE_MAX_HZ,
            counts_per_n=self.cal_counts_per_n, offset_counts=self.cal_offset_counts,
            max_frame=MAX_FRAME_BYTES, capabilities=CAPABILITIES,
        )  # fmt: skip

    # ---------------------------------------------------------------- output side

    @property
    def out_waiting(self) -> int:
        return len(self._out)

    def read_output(self, size: int) -> bytes:
        """Take up to ``size`` bytes the device has sent."""
        data = bytes(self._out[:size])
        del self._out[:size]
        self._out_pos += len(data)
        while self._frames and self._frames[0].end <= self._out_pos:
            self._frames.popleft()
        return data

    def attach(self) -> None:
        """A host port opened: from now on bytes reach it. Starts with a bare delimiter so
        the host's decoder is in step whatever it held before (PROTOCOL.md: sync)."""
        if self.attached:
            return
        self.attached = True
        self._out += DELIMITER
        self._prev_delim_hit = False

    def detach(self) -> None:
        """The host port is gone: unread bytes are lost with it (and counted)."""
        if not self.attached:
            return
        self.attached = False
        for fr in self._frames:
            if not fr.lost:
                self._count_disconnected(fr.first_index, fr.count, fr.is_event)
        self._frames.clear()
        self._out_pos += len(self._out)
        self._out.clear()

    def _count_disconnected(self, first: int, count: int, is_event: bool) -> None:
        if count:
            self.injected.samples_disconnected += count
            self.injected.add_range(first, count)
        if is_event:
            self.injected.events_lost += 1

    @property
    def _has_evas(self) -> bool:
        """The scenario turns the eVAS (the script sends RATING events)."""
        return any(e.kind is EventKind.RATING for e in self.model.profile.events)

    def _emit(self, msg: Message, first: int = 0, count: int = 0) -> None:
        if isinstance(msg, Event) and msg.kind is EventKind.RATING:
            self._evas_h = msg.arg  # where the knob is, whether the frame arrives or not
        frame = encode_frame(msg, self._seq)
        self._seq = (self._seq + 1) & 0xFF
        is_event = isinstance(msg, Event)
        if not self.attached:
            self._count_disconnected(first, count, is_event)
            return
        lost = self._prev_delim_hit
        frame, hit, delim_hit = self._inject(frame, msg)
        self._prev_delim_hit = delim_hit
        lost = lost or hit or delim_hit
        if lost:
            inj = self.injected
            inj.frames_damaged += 1
            inj.events_lost += is_event
            if count:
                inj.sample_frames_damaged += 1
                inj.samples_damaged += count
                inj.add_range(first, count)
        if len(self._out) + len(frame) > OUT_CAPACITY_BYTES:
            if count and not lost:  # the firmware discards new samples when its buffer is full
                self.injected.overruns += count
                self.injected.add_range(first, count)
            self._prev_delim_hit = False
            return
        self._out += frame
        self._frames.append(_OutFrame(self._out_pos + len(self._out), first, count, is_event, lost))

    def _fault_rng(self, msg: Message) -> np.random.Generator:
        """The random draws for one frame's faults, from a stream of its own keyed by what
        it carries: a SAMPLES frame by its first index, an EVENT by its kind and time. So a
        seed damages the same samples and events however many PINGs the host sent (their
        answers come when the host asks, and are keyed by their count)."""
        match msg:
            case Samples():
                key: tuple[int, ...] = (1, msg.first_index)
            case Event():
                key = (2, int(msg.kind), msg.t_us)
            case _:
                self._other_frames += 1
                key = (3, self._other_frames)
        return np.random.default_rng([self._fault_seed, 0xFA17, *key])

    def _inject(self, frame: bytes, msg: Message) -> tuple[bytes, bool, bool]:
        """Flip / drop bytes; returns (bytes, a byte of the frame was hit, delimiter hit)."""
        p_c, p_d = self.faults.corrupt, self.faults.drop
        if not (p_c or p_d):
            return frame, False, False
        n = len(frame)
        rng = self._fault_rng(msg)
        drop = rng.random(n) < p_d if p_d else np.zeros(n, bool)
        flip = rng.random(n) < p_c if p_c else np.zeros(n, bool)
        flip &= ~drop
        if not (drop.any() or flip.any()):
            return frame, False, False
        arr = np.frombuffer(frame, np.uint8).copy()
        n_flip = int(flip.sum())
        arr[flip] ^= rng.integers(1, 256, size=n_flip, dtype=np.uint8)
        self.injected.bytes_corrupted += n_flip
        self.injected.bytes_dropped += int(drop.sum())
        hit = bool(drop[:-1].any() or flip[:-1].any())
        return arr[~drop].tobytes(), hit, bool(drop[-1] or flip[-1])

    # ---------------------------------------------------------------- input side

    def receive(self, data: bytes) -> None:
        """Bytes from the host; complete frames are handled at the current device time."""
        self._rx += data
        while True:
            end = self._rx.find(0)
            if end < 0:
                if len(self._rx) > MAX_FRAME_BYTES:
                    self._rx.clear()
                    self.rx_crc_errors += 1
                return
            raw = bytes(self._rx[:end])
            del self._rx[: end + 1]
            if raw:
                self._handle_frame(raw)

    def _handle_frame(self, raw: bytes) -> None:
        body = checked_body(raw)
        if body is None:
            self.rx_crc_errors += 1
            return
        mtype, seq = body[0], body[1]
        if mtype not in MsgType._value2member_map_ or mtype >= 0x80:
            self._emit(Nak(seq, mtype, NakCode.UNKNOWN_COMMAND))
            return
        try:
            msg = decode_payload(mtype, memoryview(body)[2:-2])
        except ProtocolError:
            self._emit(Nak(seq, mtype, NakCode.BAD_LENGTH))
            return
        self._command(msg, seq, mtype)

    def _command(self, msg: Message, seq: int, mtype: int) -> None:
        ack = Ack(seq, mtype)
        if isinstance(msg, Hello):
            # a host that says HELLO starts a new conversation: streaming stops
            self._stop_streaming()
            self._emit(self.identity())
        elif isinstance(msg, Start):
            if self._end_sent:  # the script is over: say so again rather than stream on
                self._emit(ack)
                self._emit(Event(EventKind.SCRIPT_END, self.wire_us(self.now_us), 0))
                return
            again = False
            if not self.streaming:
                again = self.model.scenario_start_us is not None  # a re-START (reconnect)
                self.model.start_scenario()
                self._arm_unplug()
                self.streaming = True
                self._pend_first = self.model.next_index
            self._emit(ack)
            if again and self._has_evas:  # as the firmware: the eVAS's value at each START
                self._emit(Event(EventKind.RATING, self.wire_us(self.now_us), self._evas_h))
        elif isinstance(msg, Stop):
            self._stop_streaming()
            self._emit(ack)
        elif isinstance(msg, SetRate):
            if self.streaming:
                self._emit(Nak(seq, mtype, NakCode.BUSY))
            elif not RATE_MIN_HZ <= msg.rate_hz <= RATE_MAX_HZ:
                self._emit(Nak(seq, mtype, NakCode.BAD_VALUE))
            else:
                self.model.set_rate(msg.rate_hz)
                self._emit(ack)
        elif isinstance(msg, GetStatus):
            self._emit(Status(
                uptime_ms=(self.now_us // 1000) & 0xFFFFFFFF, streaming=int(self.streaming),
                rate_hz=self.model.rate_hz, rx_crc_errors=min(self.rx_crc_errors, 0xFFFF),
                adc_timeouts=0, overruns=self.injected.overruns & 0xFFFFFFFF,
            ))  # fmt: skip
        elif isinstance(msg, Ping):
            self._emit(Pong(msg.token, self.wire_us(self.now_us)))
        elif isinstance(msg, SetLimits):
            ok = all(INT24_MIN <= v <= INT24_MAX for v in (msg.warn_counts, msg.max_counts))
            if not ok:
                self._emit(Nak(seq, mtype, NakCode.BAD_VALUE))
                return
            self.limits = msg if msg.enabled else None
            self._limit_state = [False, False]
            self._emit(ack)
        elif isinstance(msg, StoreCal):
            cpn = msg.counts_per_n
            if not np.isfinite(cpn) or cpn == 0 or not INT24_MIN <= msg.offset_counts <= INT24_MAX:
                self._emit(Nak(seq, mtype, NakCode.BAD_VALUE))
                return
            self.cal_counts_per_n, self.cal_offset_counts = float(cpn), int(msg.offset_counts)
            self.cal_stored = True
            self._emit(ack)
        else:
            self._emit(Nak(seq, mtype, NakCode.UNKNOWN_COMMAND))

    def _stop_streaming(self) -> None:
        if self.streaming:
            self._flush_pending()
            self.streaming = False
            self._next_hb_us = self.now_us + HEARTBEAT_US

    def _arm_unplug(self) -> None:
        f = self.faults
        if f.unplug_at_s is None or self.unplug_window_us is not None:
            return
        assert self.model.scenario_start_us is not None
        start = self.model.scenario_start_us + round(f.unplug_at_s * US_PER_S)
        self.unplug_window_us = (start, start + round(f.unplug_for_s * US_PER_S))

    # ---------------------------------------------------------------- time

    def next_send_us(self) -> int:
        """Device time at which the device next sends something on its own: the last
        sample of the next SAMPLES frame, a heartbeat, a scripted event, the script's end,
        the cable pulled or put back. Advancing to any time before it sends nothing, so a
        transport at real time need not advance (nor wake) until then. A limit crossing
        goes out, with its exact time, in the stream before the frame of its sample; when
        not streaming the limits are watched every ``BATCH_S``."""
        model = self.model
        due = []
        if self.streaming:
            first = self._pend_first if self._pend_raw.shape[0] else model.next_index
            due.append(int(model.sample_time_us(first + self.batch_samples - 1)))
            start = model.scenario_start_us
            if not self._end_sent and start is not None and not model.loop:
                due.append(start + round(model.profile.duration_s * US_PER_S))
        else:
            due.append(self._next_hb_us)
            if self.limits is not None:
                due.append(self.now_us + round(BATCH_S * US_PER_S))
        event_us = model.next_event_us()
        if event_us is not None:
            due.append(event_us)
        win = self.unplug_window_us
        if win is not None and not self._unplug_done:
            due.append(win[0] + 1)  # the cable goes once device time passes win[0]
        elif win is not None and self.unplugged:
            due.append(win[1])
        return max(min(due), self.now_us + 1)

    def process(self, dt_s: float) -> None:
        """Advance device time by ``dt_s`` seconds (lewis style)."""
        self.advance_to_us(self.now_us + round(dt_s * US_PER_S))

    def advance_to_us(self, t_us: int) -> None:
        """Run the device up to device time ``t_us`` (µs since power-on)."""
        t_us = int(t_us)
        start = self.model.scenario_start_us
        if self.streaming and not self._end_sent and start is not None and not self.model.loop:
            end_us = start + round(self.model.profile.duration_s * US_PER_S)
            if t_us >= end_us:
                # the script is over: stream every sample up to its end, say so, stop
                self._advance_within_script(end_us - 1)  # samples at t < end
                if self.streaming and not self.unplugged:
                    self._flush_pending()
                    for ev in self.model.take_events(end_us):  # e.g. the eVAS back at 0
                        self._emit(self._event(ev))
                    self._emit(Event(EventKind.SCRIPT_END, self.wire_us(end_us), 0))
                    self._end_sent = True
                    self._stop_streaming()
        self._advance_within_script(t_us)

    def _advance_within_script(self, t_us: int) -> None:
        win = self.unplug_window_us
        if win is not None and not self._unplug_done and t_us > win[0]:
            self._run_to(win[0])
            self._unplug(win)
        if self.unplugged:
            assert win is not None
            self._skip_to(min(t_us, win[1] - 1))
            if t_us < win[1]:
                return
            self.unplugged = False
        self._run_to(t_us)

    def _unplug(self, win: tuple[int, int]) -> None:
        log.info("sim device %s unplugged at device t=%d us for %d us", self.uid, win[0],
                 win[1] - win[0])  # fmt: skip
        self._unplug_done = True
        self.unplugged = True
        self.injected.unplugs += 1
        self.detach()
        self._flush_pending()

    def _skip_to(self, t_us: int) -> None:
        """Advance while unplugged: samples are taken but reach nobody (counted only)."""
        first = self.model.next_index
        chunk = self.model.advance_to_us(t_us, generate=False)
        for ev in chunk.events:  # pressed while unplugged: nobody hears it (counted)
            self._emit(self._event(ev))
        n = self.model.next_index - first
        if self.streaming and n:
            self._count_disconnected(first, n, False)
            self._pend_first = self.model.next_index
        if not self.streaming:
            while self._next_hb_us <= t_us:
                self._next_hb_us += HEARTBEAT_US

    def _run_to(self, t_us: int) -> None:
        if t_us <= self.now_us:
            return
        chunk = self.model.advance_to_us(t_us)
        out: list[tuple[int, int, Message, int, int]] = []  # (t_us, order, msg, first, n)
        out += [(ev.t_us, 0, self._event(ev), 0, 0) for ev in chunk.events]
        if chunk.count:
            out += self._limit_events(chunk)
            if self.streaming:
                out += self._batch(chunk)
        if not self.streaming:
            while self._next_hb_us <= t_us:
                t = self._next_hb_us
                out.append((t, 2, Heartbeat(self.wire_us(t), 0), 0, 0))
                self._next_hb_us += HEARTBEAT_US
        out.sort(key=lambda e: (e[0], e[1]))
        for _, _, msg, first, n in out:
            self._emit(msg, first, n)

    def _event(self, ev: DueEvent) -> Event:
        return Event(ev.kind, self.wire_us(ev.t_us), ev.arg)

    def _limit_events(self, chunk: SampleChunk) -> list[tuple[int, int, Message, int, int]]:
        lim = self.limits
        if lim is None:
            return []
        # force raises the counts if max > warn, lowers them if max < warn; if equal, the
        # sign of the factory calibration decides (PROTOCOL.md §9)
        if lim.max_counts != lim.warn_counts:
            sign = 1 if lim.max_counts > lim.warn_counts else -1
        else:
            sign = 1 if self.cal_counts_per_n > 0 else -1
        x = chunk.raw[:, 0].astype(np.int64) * sign
        out: list[tuple[int, int, Message, int, int]] = []
        for k, (limit, code) in enumerate(((lim.warn_counts, 1), (lim.max_counts, 2))):
            hi = limit * sign
            hyst = max(1, abs(limit - self.cal_offset_counts) // LIMIT_HYSTERESIS_DIV)
            state = _schmitt(x, hi, hi - hyst, self._limit_state[k])
            prev = np.concatenate(([self._limit_state[k]], state[:-1]))
            for pos in np.flatnonzero(state != prev):
                t = int(chunk.t_us[pos])
                arg = code if state[pos] else -code
                out.append((t, 0, Event(EventKind.LIMIT_CROSSED, self.wire_us(t), arg), 0, 0))
            self._limit_state[k] = bool(state[-1])
        return out

    def _batch(self, chunk: SampleChunk) -> list[tuple[int, int, Message, int, int]]:
        """Append the chunk to the pending batch; cut off every full frame."""
        if self._pend_raw.shape[0] == 0:
            self._pend_first = chunk.first_index
            raw, sat = chunk.raw, chunk.saturated
        else:
            raw = np.concatenate((self._pend_raw, chunk.raw))
            sat = np.concatenate((self._pend_sat, chunk.saturated))
        n_batch = self.batch_samples
        full = raw.shape[0] // n_batch * n_batch
        out: list[tuple[int, int, Message, int, int]] = []
        first = self._pend_first
        for a in range(0, full, n_batch):
            msg = self._samples_msg(first + a, raw[a : a + n_batch], sat[a : a + n_batch])
            t_last = int(self.model.sample_time_us(first + a + n_batch - 1))
            out.append((t_last, 1, msg, first + a, n_batch))
        self._pend_raw, self._pend_sat = raw[full:].copy(), sat[full:].copy()
        self._pend_first = first + full
        return out

    def _flush_pending(self) -> None:
        n = self._pend_raw.shape[0]
        if n:
            msg = self._samples_msg(self._pend_first, self._pend_raw, self._pend_sat)
            self._emit(msg, self._pend_first, n)
        self._pend_first = self.model.next_index
        self._pend_raw = np.zeros((0, self.channels), np.int32)
        self._pend_sat = np.zeros(0, bool)

    def _samples_msg(self, first: int, raw: np.ndarray, sat: np.ndarray) -> Samples:
        flags = SampleFlag.SATURATED if sat.any() else SampleFlag.NONE
        t_us = int(self.model.sample_time_us(first))
        return Samples(first & 0xFFFFFFFF, self.wire_us(t_us), self.model.period_us, flags, raw)


def _schmitt(x: np.ndarray, hi: int, lo: int, state0: bool) -> np.ndarray:
    """Vectorised Schmitt trigger: True from x >= hi until x <= lo (as the firmware)."""
    on = x >= hi
    off = x <= lo
    decisive = on | off
    idx = np.where(decisive, np.arange(x.shape[0]), -1)
    last = np.maximum.accumulate(idx)
    return np.where(last >= 0, on[np.maximum(last, 0)], state0)
