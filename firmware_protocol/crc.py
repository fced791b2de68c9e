"""CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, not reflected, no final xor.

``crc16(b"123456789") == 0x29B1``. Table-driven; frames are short so this is not on the
per-sample hot path (one call per frame of ~20 samples).
"""

from __future__ import annotations


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


_TABLE = _make_table()


def crc16(data: bytes | bytearray | memoryview, crc: int = 0xFFFF) -> int:
    table = _TABLE
    for b in bytes(data):
        crc = ((crc << 8) & 0xFFFF) ^ table[(crc >> 8) ^ b]
    return crc
