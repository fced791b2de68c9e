"""CRC-16/CCITT-FALSE: the table reference and the framer's binascii CRC agree."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from firmware_protocol.crc import crc16
from firmware_protocol.framing import frame_crc


def test_check_value_of_the_catalogue() -> None:
    assert crc16(b"123456789") == 0x29B1
    assert frame_crc(b"123456789") == 0x29B1


def test_empty_input_is_the_init_value() -> None:
    assert crc16(b"") == 0xFFFF
    assert frame_crc(b"") == 0xFFFF


def test_incremental_equals_one_shot() -> None:
    assert crc16(b"56789", crc16(b"1234")) == 0x29B1


@given(st.binary(max_size=600))
def test_table_crc_equals_framer_crc(data: bytes) -> None:
    assert crc16(data) == frame_crc(data)


@given(st.binary(min_size=1, max_size=300), st.data())
def test_any_single_bit_flip_changes_the_crc(data: bytes, draw: st.DataObject) -> None:
    bit = draw.draw(st.integers(0, 8 * len(data) - 1))
    flipped = bytearray(data)
    flipped[bit // 8] ^= 1 << (bit % 8)
    assert crc16(bytes(flipped)) != crc16(data)
