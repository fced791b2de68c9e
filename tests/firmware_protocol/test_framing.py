"""Framing property tests: any chunking, truncation, corruption or garbage never raises,
yields exactly the intact frames, and counts every damaged one."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_protocol import messages as m
from firmware_protocol.cobs import cobs_encode
from firmware_protocol.framing import (
    MAX_FRAME_BYTES,
    Frame,
    FrameDecoder,
    encode_body,
    encode_frame,
)

from .strategies import messages

streams = st.lists(st.tuples(messages, st.integers(0, 255)), min_size=1, max_size=12)


def _encode(items: list[tuple[m.Message, int]]) -> tuple[bytes, list[Frame], list[int]]:
    """The stream, the frames it holds, and the offset of each frame's delimiter."""
    data = bytearray()
    ends = []
    for msg, seq in items:
        data += encode_frame(msg, seq)
        ends.append(len(data) - 1)
    return bytes(data), [Frame(seq, msg) for msg, seq in items], ends


def _feed_in_chunks(dec: FrameDecoder, data: bytes, cuts: list[int]) -> list[Frame]:
    out: list[Frame] = []
    bounds = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    for a, b in zip(bounds, bounds[1:], strict=False):
        out += dec.feed(data[a:b])
    return out


@given(streams, st.lists(st.integers(0, 10_000), max_size=8))
def test_any_chunking_yields_every_frame(items, cuts) -> None:
    data, frames, _ = _encode(items)
    dec = FrameDecoder()
    assert _feed_in_chunks(dec, data, cuts) == frames
    assert dec.stats.frames == len(frames)
    assert dec.stats.damaged_frames == 0
    assert dec.stats.garbage_bytes == 0
    assert dec.stats.bytes_in == len(data)


def test_byte_at_a_time() -> None:
    data, frames, _ = _encode(
        [
            (m.Ping(7), 1),
            (m.Samples(5, 6, 1000, m.SampleFlag.NONE, np.arange(40).reshape(20, 2)), 2),
        ]
    )
    dec = FrameDecoder()
    out = [f for i in range(len(data)) for f in dec.feed(data[i : i + 1])]
    assert out == frames


@given(streams, st.integers(0, 10_000))
def test_truncated_stream_yields_the_complete_frames(items, cut) -> None:
    data, frames, ends = _encode(items)
    cut %= len(data) + 1
    dec = FrameDecoder()
    out = dec.feed(data[:cut])
    assert out == [f for f, end in zip(frames, ends, strict=True) if end < cut]
    assert dec.stats.damaged_frames == 0  # an unfinished frame is not damage (yet)
    # the rest arrives later: nothing lost
    assert out + dec.feed(data[cut:]) == frames


@settings(derandomize=True)  # a CRC-16 collision is possible in principle: keep it reproducible
@given(streams, st.integers(0, 10_000), st.integers(1, 255), st.lists(st.integers(0, 10_000)))
def test_one_corrupted_byte_loses_only_its_frames(items, pos, xor, cuts) -> None:
    data, frames, ends = _encode(items)
    pos %= len(data)
    bad = bytearray(data)
    bad[pos] ^= xor
    bad += b"\x00"  # a trailing delimiter (idle preamble) flushes a merged last frame
    hit = next(k for k, end in enumerate(ends) if pos <= end)
    lost = {hit}
    if pos == ends[hit] and hit + 1 < len(frames):
        lost.add(hit + 1)  # the delimiter itself: this frame and the next merge
    dec = FrameDecoder()
    out = _feed_in_chunks(dec, bytes(bad), cuts)
    assert out == [f for k, f in enumerate(frames) if k not in lost]
    assert 1 <= dec.stats.damaged_frames <= 2
    assert dec.stats.garbage_bytes >= 1
    assert dec.stats.frames == len(frames) - len(lost)
    # every non-zero byte is in an intact frame or counted as garbage
    starts = [0, *(e + 1 for e in ends[:-1])]
    intact = sum(end - start for k, (start, end) in enumerate(zip(starts, ends, strict=True))
                 if k not in lost)  # fmt: skip
    assert dec.stats.garbage_bytes == len(bad) - bad.count(0) - intact


@given(st.binary(max_size=3000), st.lists(st.integers(0, 10_000), max_size=6))
def test_random_bytes_never_raise_and_are_accounted(data, cuts) -> None:
    dec = FrameDecoder()
    out = _feed_in_chunks(dec, data, cuts)
    st_ = dec.stats
    assert st_.frames == len(out)
    # every byte between delimiters is either in a returned frame, garbage, or still buffered
    assert st_.bytes_in == len(data)
    chunks = data.split(b"\x00")[:-1]
    assert len(out) + st_.damaged_frames + st_.empty_frames <= len(chunks)


@settings(derandomize=True)  # junk that happens to pass the CRC-16 would be a valid frame
@given(streams, st.lists(st.binary(min_size=1, max_size=50), min_size=1, max_size=5))
def test_garbage_between_frames_is_counted_and_skipped(items, junk) -> None:
    data, frames, _ = _encode(items)
    pieces = [j.replace(b"\x00", b"") for j in junk]
    stream = b"".join(p + b"\x00" for p in pieces) + data
    dec = FrameDecoder()
    out = dec.feed(stream)
    assert out == frames
    assert dec.stats.damaged_frames == sum(1 for p in pieces if p)
    assert dec.stats.garbage_bytes == sum(len(p) for p in pieces)
    assert dec.stats.empty_frames == sum(1 for p in pieces if not p)


def test_connecting_mid_frame_loses_exactly_that_frame() -> None:
    data, frames, ends = _encode([(m.Heartbeat(i, 0), i) for i in range(5)])
    dec = FrameDecoder()
    out = dec.feed(data[3:])
    assert out == frames[1:]
    assert dec.stats.cobs_errors + dec.stats.crc_errors == 1


def test_oversize_frame_is_dropped_and_decoder_recovers() -> None:
    ping = encode_frame(m.Ping(1), 9)
    for chunked in (False, True):
        dec = FrameDecoder()
        blob = b"\x55" * (MAX_FRAME_BYTES + 10) + b"\x00" + ping
        out = (
            [f for i in range(0, len(blob), 100) for f in dec.feed(blob[i : i + 100])]
            if chunked
            else dec.feed(blob)
        )
        assert out == [Frame(9, m.Ping(1))]
        assert dec.stats.oversize == 1
        assert dec.stats.garbage_bytes == MAX_FRAME_BYTES + 10


def test_payload_error_with_good_crc_is_counted() -> None:
    frame = cobs_encode(encode_body(m.MsgType.PING, 1, b"\x01")) + b"\x00"
    frame2 = cobs_encode(encode_body(0x7E, 1, b"")) + b"\x00"
    samples = cobs_encode(encode_body(m.MsgType.SAMPLES, 1, bytes(10) + b"\x01\x05\x00")) + b"\x00"
    dec = FrameDecoder()
    assert dec.feed(frame + frame2 + samples + b"\x00\x00") == []
    assert dec.stats.payload_errors == 3
    assert dec.stats.empty_frames == 2
    assert dec.stats.damaged_frames == 3


def test_reset_forgets_partial_frame_keeps_counters() -> None:
    data = encode_frame(m.Ping(3), 1)
    dec = FrameDecoder()
    dec.feed(b"\x00\x00" + data[:-3])
    dec.reset()
    assert dec.feed(data) == [Frame(1, m.Ping(3))]
    assert dec.stats.empty_frames == 2


def test_samples_batched_in_one_feed_are_independent_arrays() -> None:
    a = m.Samples(0, 0, 1000, m.SampleFlag.SATURATED, np.full((20, 1), m.INT24_MAX))
    b = m.Samples(20, 20000, 1000, m.SampleFlag.NONE, np.full((20, 1), -5))
    out = FrameDecoder().feed(
        encode_frame(a, 0) + encode_frame(m.Pong(1, 2), 1) + encode_frame(b, 2)
    )
    assert [f.msg for f in out] == [a, m.Pong(1, 2), b]
    out[0].msg.raw[:] = 0
    assert (out[2].msg.raw == -5).all()
    assert out[0].msg.flags is m.SampleFlag.SATURATED
