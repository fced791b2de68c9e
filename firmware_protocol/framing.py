"""Frames on the wire: ``COBS(type seq payload crc16le) 0x00``.

``encode_frame`` builds one frame. ``FrameDecoder`` is the incremental reader: feed it
bytes in any chunking and it returns every intact message, counting (never raising on)
everything else: CRC failures, malformed COBS, payloads that do not fit their type, and
garbage between frames. A zero byte always ends a frame, so after any damage the decoder
is back in step at the next delimiter.
"""

from __future__ import annotations

from binascii import crc_hqx
from dataclasses import dataclass

from .cobs import CobsError, cobs_decode, cobs_encode
from .messages import Message, ProtocolError, decode_payload, encode_payload

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
    seq: int
    msg: Message


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


class FrameDecoder:
    """Incremental decoder. ``feed`` never raises on any input."""

    def __init__(self, max_frame: int = MAX_FRAME_BYTES) -> None:
        self._buf = bytearray()
        self._max = max_frame
        self._discarding = False  # inside an oversize frame: drop until the next delimiter
        self.stats = DecoderStats()

    def reset(self) -> None:
        """Forget a partial frame (after a reconnect); counters are kept."""
        self._buf.clear()
        self._discarding = False

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        st = self.stats
        st.bytes_in += len(data)
        out: list[Frame] = []
        parts = bytes(data).split(DELIMITER)
        # parts[:-1] each end at a delimiter; parts[-1] is an unfinished frame
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if self._discarding:
                st.garbage_bytes += len(part)
                if not last:
                    self._discarding = False
                continue
            if last:
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
                continue
            frame = self._decode_one(raw)
            if frame is not None:
                out.append(frame)
        return out

    def _decode_one(self, raw: bytes) -> Frame | None:
        st = self.stats
        try:
            body = cobs_decode(raw)
        except CobsError:
            st.cobs_errors += 1
            st.garbage_bytes += len(raw)
            return None
        if len(body) < 4:
            st.cobs_errors += 1
            st.garbage_bytes += len(raw)
            return None
        if frame_crc(body[:-2]) != int.from_bytes(body[-2:], "little"):
            st.crc_errors += 1
            st.garbage_bytes += len(raw)
            return None
        try:
            msg = decode_payload(body[0], memoryview(body)[2:-2])
        except ProtocolError:
            st.payload_errors += 1
            st.garbage_bytes += len(raw)
            return None
        st.frames += 1
        return Frame(seq=body[1], msg=msg)
