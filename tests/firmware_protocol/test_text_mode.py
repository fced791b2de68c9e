"""Text fallback: numeric lines in any chunking; bad lines counted, never raised."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from firmware_protocol import messages as m
from firmware_protocol.framing import encode_frame
from firmware_protocol.text_mode import TextLineDecoder, looks_like_text, parse_line


def _rows(rows: list[np.ndarray]) -> list[list[float]]:
    return [r.tolist() for r in rows]


def test_formats_of_common_sketches() -> None:
    dec = TextLineDecoder()
    data = (
        b"123456\r\n"  # Serial.println(scale.read())
        b"-17\n"
        b"1,2,3\n"
        b"4 5\t6\n"
        b"7; 8\n"
        b"raw:100,force:2.5\n"  # Arduino Serial Plotter
        b"raw: 101 force: 2.75\r\n"
        b"1.5e3 .5 +2.\n"
    )
    assert _rows(dec.feed(data)) == [
        [123456.0], [-17.0], [1, 2, 3], [4, 5, 6], [7, 8], [100, 2.5], [101, 2.75],
        [1500, 0.5, 2.0],
    ]  # fmt: skip
    assert dec.stats.lines == 8
    assert dec.stats.bad_lines == 0
    assert dec.labels == [None, None, None]


def test_labels_of_last_line() -> None:
    dec = TextLineDecoder()
    dec.feed(b"raw:1 force:2\n")
    assert dec.labels == ["raw", "force"]


def test_bad_lines_are_counted_not_raised() -> None:
    dec = TextLineDecoder()
    rows = dec.feed(b"HX711 ready\n12\n\xff\xfe\n1,two\n:5\n\r\n\n13\nnan\n1.2.3\n")
    assert _rows(rows) == [[12.0], [13.0]]
    assert dec.stats.bad_lines == 6
    assert dec.stats.empty_lines == 2


def test_overlong_line_is_bad_and_decoder_recovers() -> None:
    dec = TextLineDecoder(max_line=16)
    rows = dec.feed(b"1" * 40)
    rows += dec.feed(b"1" * 40 + b"\n42\n")
    assert _rows(rows) == [[42.0]]
    assert dec.stats.bad_lines == 1


def test_resync_drops_partial_first_line() -> None:
    dec = TextLineDecoder(resync=True)
    assert dec.feed(b"23\r") == []
    assert _rows(dec.feed(b"\n12323\n")) == [[12323.0]]
    assert dec.stats.skipped_bytes == 4
    dec.reset()
    assert _rows(dec.feed(b"5\n6\n")) == [[6.0]]


numbers = st.lists(st.integers(-(10**7), 10**7), min_size=1, max_size=4)


@given(st.lists(numbers, max_size=30), st.lists(st.integers(0, 5000), max_size=6),
       st.sampled_from([b"\n", b"\r\n"]), st.sampled_from([b",", b" ", b"\t", b", "]))  # fmt: skip
def test_any_chunking(lines, cuts, eol, sep) -> None:
    data = b"".join(sep.join(str(v).encode() for v in line) + eol for line in lines)
    dec = TextLineDecoder()
    bounds = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    rows = [r for a, b in zip(bounds, bounds[1:], strict=False) for r in dec.feed(data[a:b])]
    assert _rows(rows) == [[float(v) for v in line] for line in lines]


@given(st.binary(max_size=2000))
def test_random_bytes_never_raise(data: bytes) -> None:
    dec = TextLineDecoder()
    rows = dec.feed(data)
    assert dec.stats.lines == len(rows)
    assert dec.stats.lines + dec.stats.bad_lines + dec.stats.empty_lines == data.count(b"\n")


def test_parse_line() -> None:
    values, labels = parse_line(b"a:1 2")
    assert values.tolist() == [1.0, 2.0]
    assert labels == ["a", None]
    assert parse_line(b"") is None
    assert parse_line(b"hello") is None


def test_looks_like_text() -> None:
    assert looks_like_text(b"123456\r\n123457\r\n1234")
    assert looks_like_text(b"\x83garbage at reset\n1,2\n")
    assert not looks_like_text(b"12345")  # no complete line yet
    assert not looks_like_text(b"HX711 ready\n")
    assert not looks_like_text(b"")
    binary = encode_frame(m.Heartbeat(1, 0), 0) * 4
    assert not looks_like_text(binary)
    assert not looks_like_text(b"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x10\n1\n")
