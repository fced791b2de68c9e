"""COBS: round trip, no zeros in the output, agreement with the `cobs` package."""

from __future__ import annotations

import pytest
from cobs import cobs as reference  # test-only reference implementation
from hypothesis import given
from hypothesis import strategies as st

from firmware_protocol.cobs import CobsError, cobs_decode, cobs_encode

# bodies rich in zeros and in long zero-free runs (the 254-byte block boundary)
bodies = st.one_of(
    st.binary(max_size=1100),
    st.lists(st.sampled_from([0, 1, 0xFF]), max_size=600).map(bytes),
    st.integers(0, 800).map(lambda n: bytes((i % 255) + 1 for i in range(n))),
)


@given(bodies)
def test_matches_reference_and_round_trips(data: bytes) -> None:
    enc = cobs_encode(data)
    assert enc == reference.encode(data)
    assert 0 not in enc
    assert cobs_decode(enc) == data
    assert len(enc) <= len(data) + 1 + len(data) // 254


@pytest.mark.parametrize(
    ("data", "encoded"),
    [
        (b"", b"\x01"),
        (b"\x00", b"\x01\x01"),
        (b"\x00\x00", b"\x01\x01\x01"),
        (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
        (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
        (bytes(range(1, 255)), b"\xff" + bytes(range(1, 255))),
        (bytes(range(1, 256)), b"\xff" + bytes(range(1, 255)) + b"\x02\xff"),
    ],
)
def test_wikipedia_examples(data: bytes, encoded: bytes) -> None:
    assert cobs_encode(data) == encoded
    assert cobs_decode(encoded) == data


@given(st.binary(max_size=600))
def test_decode_rejects_or_agrees_with_reference(data: bytes) -> None:
    """On arbitrary input our decoder either raises CobsError or agrees with the reference."""
    try:
        ours = cobs_decode(data)
    except CobsError:
        with pytest.raises(reference.DecodeError):
            reference.decode(data)
        return
    assert ours == reference.decode(data)


def test_errors_name_the_offset() -> None:
    with pytest.raises(CobsError, match="offset 2"):
        cobs_decode(b"\x03\x11\x00")
    with pytest.raises(CobsError, match="offset 0 runs past"):
        cobs_decode(b"\x05\x11")
