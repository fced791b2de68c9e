"""Frames on the wire: ``COBS(type seq payload crc16le) 0x00``.

``encode_frame`` builds one frame. ``FrameDecoder`` is the incremental reader: feed it
bytes in any chunking and it returns every intact message, counting (never raising on)
everything else: CRC failures, malformed COBS, payloads that do not fit their type, and
garbage between frames. A zero byte always ends a frame, so after any damage the decoder
is back in step at the next delimiter.

The int24 values of all SAMPLES frames completed by one ``feed`` call are unpacked with a
single numpy call (per-frame numpy overhead dominated the old decoder); each
``Samples.raw`` is a disjoint, writable view of that batch.
"""

from __future__ import annotations

from binascii import crc_hqx
from dataclasses import dataclass, field

from .cobs import cobs_encode, cobs_unstuff
from .messages import (
    SAMPLES_HEADER,
    Message,
    MsgType,
    ProtocolError,
    SampleFlag,
    Samples,
    decode_payload,
    encode_payload,
    samples_header,
    unpack_int24,
)

DELIMITER = b"\x00"
MAX_FRAME_BYTES = 1024  # longest encoded frame a decoder accepts before resyncing


def frame_crc(body: bytes) -> int:
    """CRC-16/CCITT-FALSE of ``body`` (binascii.crc_hqx with init 0xFFFF is exactly that)."""
    return crc_hqx(body, 0xFFFF)


def encode_body(msg_type: int, seq: int, payload: bytes) -> bytes:
    body = bytes((msg_type & 0xFF, seq & 0xFF)) + payload
    return body + frame_crc(body).to_bytes(2, "little")


def encode_frame(msg: Message, seq: int) -> bytes:
    """One complete frame for ``msg`` with frame sequence number ``seq`` (mod 256)."""
    mt, payload = encode_payload(msg)
    return cobs_encode(encode_body(mt, seq, payload)) + DELIMITER


@dataclass(frozen=True, slots=True)
class Frame:
    """An intact frame. ``damaged_before`` counts the damaged frames the decoder dropped
    between the previous intact frame and this one, and ``damaged_values_before`` the int24
    values those frames seemed to carry, judged by their length (only frames long enough
    to be SAMPLES count): where the loss they caused is not bounded by sample indexes on
    both sides (the head of a stream), that is the best count there is."""

    seq: int
    msg: Message
    damaged_before: int = field(default=0, compare=False)
    damaged_values_before: int = field(default=0, compare=False)


@dataclass(slots=True)
class DecoderStats:
    frames: int = 0  # intact frames returned
    crc_errors: int = 0  # frames whose CRC did not match
    cobs_errors: int = 0  # frames that were not valid COBS, or too short to hold a CRC
    payload_errors: int = 0  # intact CRC but a payload that does not fit its type
    oversize: int = 0  # frames longer than MAX_FRAME_BYTES, discarded
    empty_frames: int = 0  # consecutive delimiters (harmless, used as a sync preamble)
    garbage_bytes: int = 0  # bytes discarded in damaged frames
    bytes_in: int = 0

    @property
    def damaged_frames(self) -> int:
        return self.crc_errors + self.cobs_errors + self.payload_errors + self.oversize


def checked_body(raw: bytes, stats: DecoderStats | None = None) -> bytearray | None:
    """The body (``type seq payload crc``) of one frame taken from between two delimiters,
    or None if it is not valid COBS, too short to hold a CRC, or fails its CRC; ``stats``
    (if given) counts the failure and its bytes."""
    body = bytearray()
    if cobs_unstuff(raw, body) != -1 or len(body) < 4:
        if stats is not None:
            stats.cobs_errors += 1
            stats.garbage_bytes += len(raw)
        return None
    if crc_hqx(memoryview(body)[:-2], 0xFFFF) != body[-2] | (body[-1] << 8):
        if stats is not None:
            stats.crc_errors += 1
            stats.garbage_bytes += len(raw)
        return None
    return body


class FrameDecoder:
    """Incremental decoder. ``feed`` never raises on any input."""

    def __init__(self, max_frame: int = MAX_FRAME_BYTES) -> None:
        self._buf = bytearray()
        self._max = max_frame
        self._discarding = False  # inside an oversize frame: drop until the next delimiter
        self.stats = DecoderStats()
        self._damage = 0  # damaged frames since the last intact one …
        self._damage_values = 0  # … and the sample values they seemed to carry

    @property
    def pending_damage(self) -> tuple[int, int]:
        """Damaged frames (and their apparent sample values) since the last intact frame:
        the damage at the tail of a stream, which no later frame reports."""
        return self._damage, self._damage_values

    def _damaged(self, raw_len: int) -> None:
        self._damage += 1
        # an encoded SAMPLES frame is 1 (COBS) + 2 (type, seq) + 13 + 3·values + 2 (CRC)
        if raw_len >= _MIN_SAMPLES_RAW:
            self._damage_values += (raw_len - _MIN_SAMPLES_RAW + 3) // 3

    def reset(self) -> None:
        """Forget a partial frame (after a reconnect); counters are kept."""
        self._buf.clear()
        self._discarding = False

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """Decode every frame completed by ``data``; keep an unfinished tail for later."""
        st = self.stats
        st.bytes_in += len(data)
        out: list[Frame] = []
        pending: list[_PendingSamples] = []
        parts = bytes(data).split(DELIMITER)
        # parts[:-1] each end at a delimiter; parts[-1] is an unfinished frame
        last_i = len(parts) - 1
        for i, part in enumerate(parts):
            if self._discarding:
                st.garbage_bytes += len(part)
                if i != last_i:
                    self._discarding = False
                    self._damaged(0)
                continue
            if i == last_i:
                self._buf += part
                if len(self._buf) > self._max:
                    st.oversize += 1
                    st.garbage_bytes += len(self._buf)
                    self._buf.clear()
                    self._discarding = True
                break
            if self._buf:
                self._buf += part
                raw = bytes(self._buf)
                self._buf.clear()
            else:
                raw = part
            if not raw:
                st.empty_frames += 1
                continue
            if len(raw) > self._max:
                st.oversize += 1
                st.garbage_bytes += len(raw)
                self._damaged(0)
                continue
            body = checked_body(raw, st)
            if body is None:
                self._damaged(len(raw))
                continue
            try:
                if body[0] == _SAMPLES:
                    # Header now; the int24 values of every SAMPLES frame of this call are
                    # unpacked together below (one numpy call per feed, not per frame).
                    hdr = samples_header(body, 2, len(body) - 4)
                    pending.append(
                        (len(out), body[1], hdr, body, self._damage, self._damage_values)
                    )
                    out.append(None)  # type: ignore[arg-type]  # filled in below
                    self._damage = self._damage_values = 0
                    continue
                msg = decode_payload(body[0], memoryview(body)[2:-2])
            except ProtocolError:
                st.payload_errors += 1
                st.garbage_bytes += len(raw)
                self._damaged(len(raw))
                continue
            out.append(Frame(body[1], msg, self._damage, self._damage_values))
            self._damage = self._damage_values = 0
        if pending:
            self._fill_samples(out, pending)
        st.frames += len(out)
        return out

    @staticmethod
    def _fill_samples(out: list[Frame], pending: list[_PendingSamples]) -> None:
        hdr_end = 2 + SAMPLES_HEADER.size
        values = unpack_int24(
            b"".join(p[3][hdr_end:-2] for p in pending),
            sum(p[2][3] * p[2][4] for p in pending),
        )
        pos = 0
        for slot, seq, (first, t_us, period, channels, count, flags), _, dmg, dmg_v in pending:
            n = channels * count
            raw = values[pos : pos + n].reshape(count, channels)
            pos += n
            out[slot] = Frame(seq, Samples(first, t_us, period, _FLAGS[flags], raw), dmg, dmg_v)


_SAMPLES = int(MsgType.SAMPLES)
_MIN_SAMPLES_RAW = 1 + 2 + SAMPLES_HEADER.size + 3 + 2  # encoded SAMPLES with one value
# (slot in the output, seq, header fields, body, damaged frames before, their values)
_PendingSamples = tuple[int, int, tuple[int, ...], bytearray, int, int]
_FLAGS = tuple(SampleFlag(i) for i in range(256))  # enum construction is slow per frame
