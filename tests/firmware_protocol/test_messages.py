"""Payload layouts: round trip, exact sizes, forward compatibility, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_protocol import messages as m

from .strategies import messages


@given(messages)
def test_every_message_round_trips(msg: m.Message) -> None:
    mt, payload = m.encode_payload(msg)
    assert m.decode_payload(mt, payload) == msg


@pytest.mark.parametrize(
    ("msg", "size"),
    [
        (m.Hello(), 2), (m.Start(), 0), (m.SetRate(1000), 2), (m.Ping(1), 4),
        (m.SetLimits(1, 2, 1), 9), (m.StoreCal(4000.0, 120000), 8), (m.Ack(1, 2), 2),
        (m.Nak(1, 2, m.NakCode.BAD_VALUE), 3), (m.Status(1, 1, 1000, 0, 0, 0), 15),
        (m.Pong(1, 2), 8), (m.Event(m.EventKind.MARK_BUTTON, 5, 0), 9), (m.Heartbeat(1, 0), 5),
    ],
)  # fmt: skip
def test_fixed_payload_sizes(msg: m.Message, size: int) -> None:
    """The sizes PROTOCOL.md §4 documents."""
    assert len(m.encode_payload(msg)[1]) == size


def test_identity_is_41_bytes_and_samples_header_13() -> None:
    ident = m.Identity(1, 0, (1, 2, 3), "AB", m.AdcKind.HX711, 24, 1, 80, 10, 80, 4000.0,
                       120000, 256, m.Capability.BUZZER)  # fmt: skip
    assert len(m.encode_payload(ident)[1]) == 41
    s = m.Samples(0, 0, 1000, m.SampleFlag.NONE, np.zeros((20, 1), np.int32))
    assert len(m.encode_payload(s)[1]) == 13 + 60


@given(st.lists(st.integers(m.INT24_MIN, m.INT24_MAX), max_size=300))
def test_int24_round_trip(values: list[int]) -> None:
    arr = np.asarray(values, dtype=np.int32)
    buf = m.pack_int24(arr)
    assert len(buf) == 3 * len(values)
    out = m.unpack_int24(buf, len(values))
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, arr)


def test_int24_clips_out_of_range_and_is_little_endian() -> None:
    assert m.pack_int24(np.array([1, -1, 10**8, -(10**8)])) == (
        b"\x01\x00\x00\xff\xff\xff\xff\xff\x7f\x00\x00\x80"
    )


def test_newer_minor_may_append_fields_to_fixed_layouts() -> None:
    mt, payload = m.encode_payload(m.Heartbeat(7, 1))
    assert m.decode_payload(mt, payload + b"\x99\x99") == m.Heartbeat(7, 1)


@pytest.mark.parametrize(
    ("mt", "payload", "match"),
    [
        (0x7F, b"", "unknown message type 0x7F"),
        (m.MsgType.PING, b"\x01\x02", "payload of 2 bytes"),
        (m.MsgType.SAMPLES, b"\x00" * 5, "shorter than its header"),
        (m.MsgType.SAMPLES, bytes(8) + b"\xe8\x03\x01\x02\x00" + bytes(5), "length"),
        (m.MsgType.SAMPLES, bytes(8) + b"\xe8\x03\x00\x00\x00", "length"),
        (m.MsgType.NAK, b"\x01\x02\x63", "NAK"),
        (m.MsgType.EVENT, b"\x09" + bytes(8), "EVENT"),
    ],
)
def test_bad_payloads_raise_protocol_error(mt: int, payload: bytes, match: str) -> None:
    with pytest.raises(m.ProtocolError, match=match):
        m.decode_payload(mt, payload)


@pytest.mark.parametrize(
    "msg",
    [
        m.SetRate(70000),
        m.Ping(-1),
        m.Samples(0, 0, 1000, m.SampleFlag.NONE, np.zeros((256, 1), np.int32)),
        m.Samples(0, 0, 1000, m.SampleFlag.NONE, np.zeros((2, 9), np.int32)),
        m.Samples(0, 0, 1000, m.SampleFlag.NONE, np.zeros(4, np.int32)),
        m.Identity(1, 0, (1, 0, 0), "Ü", m.AdcKind.HX711, 24, 1, 80, 10, 80, 1.0, 0, 256),
    ],
)
def test_unencodable_messages_raise_protocol_error(msg: m.Message) -> None:
    with pytest.raises(m.ProtocolError):
        m.encode_payload(msg)


def test_period_saturates_for_slow_rates() -> None:
    """10 samples/s has a 100 000 µs period: the u16 field saturates (PROTOCOL.md §5)."""
    s = m.Samples(0, 0, 100_000, m.SampleFlag.NONE, np.zeros((1, 1), np.int32))
    mt, payload = m.encode_payload(s)
    assert m.decode_payload(mt, payload).period_us == 0xFFFF


def test_identity_helpers_and_unknown_adc_kind() -> None:
    ident = m.Identity(1, 2, (3, 4, 5), "X", m.AdcKind.HX711, 24, 1, 80, 10, 80, 1.0, 0, 256)
    assert (ident.firmware, ident.protocol) == ("3.4.5", "1.2")
    mt, payload = m.encode_payload(ident)
    payload = bytearray(payload)
    payload[21] = 200  # adc_kind from a newer minor
    assert m.decode_payload(mt, bytes(payload)).adc_kind is m.AdcKind.UNKNOWN
