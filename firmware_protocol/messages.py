"""Message types of the wire protocol and their payload layouts (PROTOCOL.md §4).

A frame body (before COBS) is ``type:u8 seq:u8 payload crc16:u16le``. All integers are
little-endian. This module turns payload bytes into dataclasses and back; it does no
framing and no I/O. Sample payloads are unpacked with numpy (one call per frame, never a
Python loop per sample).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag

import numpy as np

PROTOCOL_MAJOR = 1
PROTOCOL_MINOR = 0
UID_LEN = 16
INT24_MAX = (1 << 23) - 1
INT24_MIN = -(1 << 23)


class MsgType(IntEnum):
    # host -> device commands
    HELLO = 0x01
    START = 0x02
    STOP = 0x03
    SET_RATE = 0x04
    GET_STATUS = 0x05
    PING = 0x06
    SET_LIMITS = 0x07
    STORE_CAL = 0x08
    # device -> host
    IDENTITY = 0x81
    SAMPLES = 0x82
    ACK = 0x83
    NAK = 0x84
    STATUS = 0x85
    PONG = 0x86
    EVENT = 0x87
    HEARTBEAT = 0x88


class AdcKind(IntEnum):
    UNKNOWN = 0
    HX711 = 1
    NAU7802 = 2
    AVR_ANALOG = 3
    SIMULATED = 4


class Capability(IntFlag):
    NONE = 0
    BUZZER = 0x01
    LED = 0x02
    MARK_BUTTON = 0x04
    EEPROM_CAL = 0x08
    CLIENT_BUTTON = 0x10  # a second button (or pedal) the client presses: "now, it hurts"
    EVAS = 0x20  # an electronic pain scale (a potentiometer) sends RATING events


class SampleFlag(IntFlag):
    NONE = 0
    SATURATED = 0x01  # at least one sample of the frame is clipped at the ADC's range
    ADC_TIMEOUT = 0x02  # the ADC missed a conversion; the value repeats the previous one


class EventKind(IntEnum):
    MARK_BUTTON = 1
    LIMIT_CROSSED = 2  # arg: +1 warn up, +2 max up, -1 warn down, -2 max down
    ADC_FAULT = 3
    SCRIPT_END = 4  # a simulated/replaying device finished its script and stopped streaming
    CLIENT_BUTTON = 5  # the client's button: the pressure-pain threshold is reached (arg 0)
    RATING = 6  # the client's pain rating moved: arg = rating 0-10 in hundredths (0-1000)


class NakCode(IntEnum):
    UNKNOWN_COMMAND = 1
    BAD_LENGTH = 2
    BAD_VALUE = 3
    BUSY = 4
    UNSUPPORTED = 5


class ProtocolError(ValueError):
    """A payload whose length or contents do not fit its message type."""


# ---------------------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class Hello:
    proto_major: int = PROTOCOL_MAJOR
    proto_minor: int = PROTOCOL_MINOR


@dataclass(frozen=True, slots=True)
class Start:
    pass


@dataclass(frozen=True, slots=True)
class Stop:
    pass


@dataclass(frozen=True, slots=True)
class SetRate:
    rate_hz: int


@dataclass(frozen=True, slots=True)
class GetStatus:
    pass


@dataclass(frozen=True, slots=True)
class Ping:
    token: int


@dataclass(frozen=True, slots=True)
class SetLimits:
    """Raw-count limits for the device's own buzzer/LED (channel 0). enabled=0 turns off."""

    warn_counts: int
    max_counts: int
    enabled: int = 1


@dataclass(frozen=True, slots=True)
class StoreCal:
    counts_per_n: float
    offset_counts: int


# ------------------------------------------------------------------------ device → host


@dataclass(frozen=True, slots=True)
class Identity:
    proto_major: int
    proto_minor: int
    fw_version: tuple[int, int, int]
    uid: str
    adc_kind: AdcKind
    adc_bits: int
    channels: int
    rate_hz: int
    rate_min_hz: int
    rate_max_hz: int
    counts_per_n: float
    offset_counts: int
    max_frame: int
    capabilities: Capability = Capability.NONE

    @property
    def firmware(self) -> str:
        return ".".join(str(v) for v in self.fw_version)

    @property
    def protocol(self) -> str:
        return f"{self.proto_major}.{self.proto_minor}"


@dataclass(frozen=True, slots=True)
class Samples:
    """``count`` samples × ``channels``; sample i was taken at t_us + i * period_us.

    ``raw`` has shape (count, channels), dtype int32. ``t_us`` is the device's µs clock
    at the first sample (u32, wraps every 71.6 min); ``period_us`` the nominal period.
    """

    first_index: int
    t_us: int
    period_us: int
    flags: SampleFlag
    raw: np.ndarray = field(compare=False)

    @property
    def count(self) -> int:
        return int(self.raw.shape[0])

    @property
    def channels(self) -> int:
        return int(self.raw.shape[1])

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Samples)
            and (self.first_index, self.t_us, self.period_us, self.flags)
            == (other.first_index, other.t_us, other.period_us, other.flags)
            and np.array_equal(self.raw, other.raw)
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Ack:
    cmd_seq: int
    cmd_type: int


@dataclass(frozen=True, slots=True)
class Nak:
    cmd_seq: int
    cmd_type: int
    code: NakCode


@dataclass(frozen=True, slots=True)
class Status:
    uptime_ms: int
    streaming: int
    rate_hz: int
    rx_crc_errors: int
    adc_timeouts: int
    overruns: int  # samples the device had to discard because its send buffer was full


@dataclass(frozen=True, slots=True)
class Pong:
    token: int
    t_us: int


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    t_us: int
    arg: int = 0


@dataclass(frozen=True, slots=True)
class Heartbeat:
    t_us: int
    streaming: int


Message = (
    Hello | Start | Stop | SetRate | GetStatus | Ping | SetLimits | StoreCal
    | Identity | Samples | Ack | Nak | Status | Pong | Event | Heartbeat
)  # fmt: skip

# ------------------------------------------------------------------------------ layouts

_IDENTITY = struct.Struct("<BBBBB16sBBBHHHfiHB")
# first_index t_us period_us channels count flags; public: the framer batches samples itself
SAMPLES_HEADER = struct.Struct("<IIHBBB")
_FIXED: dict[type, tuple[MsgType, struct.Struct]] = {
    Hello: (MsgType.HELLO, struct.Struct("<BB")),
    Start: (MsgType.START, struct.Struct("<")),
    Stop: (MsgType.STOP, struct.Struct("<")),
    SetRate: (MsgType.SET_RATE, struct.Struct("<H")),
    GetStatus: (MsgType.GET_STATUS, struct.Struct("<")),
    Ping: (MsgType.PING, struct.Struct("<I")),
    SetLimits: (MsgType.SET_LIMITS, struct.Struct("<iiB")),
    StoreCal: (MsgType.STORE_CAL, struct.Struct("<fi")),
    Ack: (MsgType.ACK, struct.Struct("<BB")),
    Nak: (MsgType.NAK, struct.Struct("<BBB")),
    Status: (MsgType.STATUS, struct.Struct("<IBHHHI")),
    Pong: (MsgType.PONG, struct.Struct("<II")),
    Event: (MsgType.EVENT, struct.Struct("<BIi")),
    Heartbeat: (MsgType.HEARTBEAT, struct.Struct("<IB")),
}
_BY_TYPE = {mt: (cls, st) for cls, (mt, st) in _FIXED.items()}
_ENUM_FIELDS: dict[type, dict[int, type]] = {Nak: {2: NakCode}, Event: {0: EventKind}}

MAX_CHANNELS = 8
MAX_SAMPLE_VALUES = 255  # count × channels per frame is bounded by the u8 count and frame size


def pack_int24(raw: np.ndarray) -> bytes:
    """int32 array → little-endian 24-bit two's complement bytes, clipped to the range.

    The low three bytes of the little-endian int32 are the int24. Called for every frame
    the simulator sends, mostly with a few dozen values: two plain ufuncs, not np.clip
    (whose Python-level checks made this 2.5× slower)."""
    v = np.asarray(raw, dtype=np.int64).reshape(-1)
    v = np.minimum(np.maximum(v, INT24_MIN), INT24_MAX).astype("<i4")
    return v.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()


def unpack_int24(buf: bytes | memoryview, n: int) -> np.ndarray:
    """n little-endian int24 values → int32 array (vectorised sign extension)."""
    b = np.frombuffer(buf, dtype=np.uint8, count=3 * n).reshape(n, 3).astype(np.int32)
    v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
    return (v ^ 0x800000) - 0x800000


def _unpack_prefix(st: struct.Struct, payload: bytes | memoryview) -> tuple:
    """Fixed layouts may grow at the end in a later minor version: read the known prefix."""
    if len(payload) < st.size:
        raise ProtocolError(f"payload of {len(payload)} bytes, this message needs {st.size}")
    return st.unpack_from(payload)


def samples_header(
    buf: bytes | bytearray | memoryview, offset: int, size: int
) -> tuple[int, int, int, int, int, int]:
    """The SAMPLES header of the ``size``-byte payload at ``buf[offset:]``: (first_index,
    t_us, period_us, channels, count, flags). Raises ProtocolError unless ``size`` is
    exactly the header plus ``channels × count`` int24 values (channels >= 1)."""
    if size < SAMPLES_HEADER.size:
        raise ProtocolError("SAMPLES payload shorter than its header")
    hdr = SAMPLES_HEADER.unpack_from(buf, offset)
    channels, count = hdr[3], hdr[4]
    if channels == 0 or size != SAMPLES_HEADER.size + 3 * channels * count:
        raise ProtocolError(f"SAMPLES payload length {size} != header's")
    return hdr


def encode_payload(msg: Message) -> tuple[MsgType, bytes]:
    """Return the message type and payload bytes of ``msg``.

    Raises ProtocolError (never struct.error) when a field does not fit its wire type.
    ``Samples.period_us`` saturates at 65535 (rates below ~15.3 Hz, where the device sends
    one sample per frame anyway: PROTOCOL.md §5).
    """
    try:
        return _encode_payload(msg)
    except (struct.error, UnicodeEncodeError, OverflowError) as exc:
        raise ProtocolError(f"cannot encode {type(msg).__name__}: {exc}") from None


def _encode_payload(msg: Message) -> tuple[MsgType, bytes]:
    if isinstance(msg, Samples):
        raw = np.asarray(msg.raw)
        if raw.ndim != 2:
            raise ProtocolError("Samples.raw must be 2-D (count, channels)")
        count, channels = raw.shape
        if not (1 <= channels <= MAX_CHANNELS and count <= 255):
            raise ProtocolError(f"Samples.raw shape {raw.shape}: count <= 255, channels 1..8")
        hdr = SAMPLES_HEADER.pack(
            msg.first_index & 0xFFFFFFFF, msg.t_us & 0xFFFFFFFF, min(msg.period_us, 0xFFFF),
            channels, count, int(msg.flags),
        )  # fmt: skip
        return MsgType.SAMPLES, hdr + pack_int24(raw)
    if isinstance(msg, Identity):
        uid = msg.uid.encode("ascii")[:UID_LEN].ljust(UID_LEN, b"\0")
        return MsgType.IDENTITY, _IDENTITY.pack(
            msg.proto_major, msg.proto_minor, *msg.fw_version, uid, int(msg.adc_kind),
            msg.adc_bits, msg.channels, msg.rate_hz, msg.rate_min_hz, msg.rate_max_hz,
            msg.counts_per_n, msg.offset_counts, msg.max_frame, int(msg.capabilities),
        )  # fmt: skip
    mt, st = _FIXED[type(msg)]
    values = [getattr(msg, f) for f in msg.__dataclass_fields__]
    return mt, st.pack(*(int(v) if isinstance(v, IntEnum) else v for v in values))


def decode_payload(msg_type: int, payload: bytes | memoryview) -> Message:
    """Parse a payload of the given type. Raises ProtocolError on any mismatch."""
    try:
        mt = MsgType(msg_type)
    except ValueError:
        raise ProtocolError(f"unknown message type 0x{msg_type:02X}") from None
    try:
        if mt is MsgType.SAMPLES:
            hdr = samples_header(payload, 0, len(payload))
            first, t_us, period, channels, count, flags = hdr
            raw = unpack_int24(memoryview(payload)[SAMPLES_HEADER.size :], count * channels)
            return Samples(first, t_us, period, SampleFlag(flags), raw.reshape(count, channels))
        if mt is MsgType.IDENTITY:
            f = _unpack_prefix(_IDENTITY, payload)
            return Identity(
                proto_major=f[0], proto_minor=f[1], fw_version=(f[2], f[3], f[4]),
                uid=f[5].rstrip(b"\0").decode("ascii", errors="replace"),
                adc_kind=AdcKind(f[6]) if f[6] in AdcKind._value2member_map_ else AdcKind.UNKNOWN,
                adc_bits=f[7], channels=f[8], rate_hz=f[9], rate_min_hz=f[10],
                rate_max_hz=f[11], counts_per_n=f[12], offset_counts=f[13], max_frame=f[14],
                capabilities=Capability(f[15]),
            )  # fmt: skip
        cls, st = _BY_TYPE[mt]
        values = list(_unpack_prefix(st, payload))
        for i, enum in _ENUM_FIELDS.get(cls, {}).items():
            values[i] = enum(values[i])
        return cls(*values)
    except (struct.error, ValueError) as exc:
        if isinstance(exc, ProtocolError):
            raise
        raise ProtocolError(f"bad {mt.name} payload ({len(payload)} bytes): {exc}") from None
