"""Consistent Overhead Byte Stuffing (Cheshire & Baker, 1999).

A frame is ``cobs_encode(body) + b"\\x00"``; the encoded body never contains 0x00, so a
zero byte is always a frame boundary and the reader resynchronises at the next one.
"""

from __future__ import annotations


class CobsError(ValueError):
    """The bytes between two delimiters are not a valid COBS encoding."""


def cobs_encode(data: bytes | bytearray | memoryview) -> bytes:
    out = bytearray()
    parts = bytes(data).split(b"\x00")  # each but the last ends at a zero
    last = len(parts) - 1
    for i, part in enumerate(parts):
        while len(part) >= 254:  # a full block without a zero: the next block starts fresh
            out.append(0xFF)
            out += part[:254]
            part = part[254:]
            if not part and i == last:
                return bytes(out)  # a full block ends the data: no code after it
        out.append(len(part) + 1)
        out += part
    return bytes(out)


def cobs_unstuff(data: bytes | bytearray, out: bytearray) -> int:
    """Append the COBS decoding of ``data`` to ``out``; return -1, or the offset of a block
    that runs past the end (``out`` then holds a partial result).

    ``data`` must hold no zero byte (a frame split at its delimiters): this is the one
    decoding loop, shared by ``cobs_decode`` and the framer's hot path.
    """
    i = 0
    n = len(data)
    while i < n:
        code = data[i]
        end = i + code
        if end > n:
            return i
        out += data[i + 1 : end]
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    return -1


def cobs_decode(data: bytes | bytearray | memoryview) -> bytes:
    """Inverse of ``cobs_encode``. Raises CobsError naming the byte offset at fault."""
    data = bytes(data)
    zero = data.find(0)
    if zero != -1:
        raise CobsError(f"zero byte inside a COBS frame at offset {zero}")
    out = bytearray()
    bad = cobs_unstuff(data, out)
    if bad != -1:
        raise CobsError(f"COBS block at offset {bad} runs past the end of the frame")
    return bytes(out)
