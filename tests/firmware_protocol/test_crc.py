"""CRC-16/CCITT-FALSE of the framer (binascii.crc_hqx with init 0xFFFF)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from firmware_protocol.framing import frame_crc


def test_check_value_of_the_catalogue() -> None:
    assert frame_crc(b"123456789") == 0x29B1


def test_empty_input_is_the_init_value() -> None:
    assert frame_crc(b"") == 0xFFFF


@given(st.binary(min_size=1, max_size=300), st.data())
def test_any_single_bit_flip_changes_the_crc(data: bytes, draw: st.DataObject) -> None:
    bit = draw.draw(st.integers(0, 8 * len(data) - 1))
    flipped = bytearray(data)
    flipped[bit // 8] ^= 1 << (bit % 8)
    assert frame_crc(bytes(flipped)) != frame_crc(data)
