"""The Python codec against the shared vectors (the C core is checked in test_c_core.py)."""

from __future__ import annotations

import pytest

from firmware_protocol import messages as m
from firmware_protocol.cobs import cobs_decode
from firmware_protocol.framing import Frame, FrameDecoder, encode_frame, frame_crc
from firmware_protocol.vectors import VECTORS_PATH, dumps, load_vectors, message_from

DOC = load_vectors()
VECTORS = DOC["vectors"]


def test_file_is_current() -> None:
    """vectors.json is exactly what the generator writes (regenerate after a change)."""
    assert VECTORS_PATH.read_text() == dumps()


def test_coverage_of_the_vectors() -> None:
    assert {v["type_id"] for v in VECTORS} == {int(t) for t in m.MsgType}
    bodies = [bytes.fromhex(v["body_hex"]) for v in VECTORS]
    assert any(0 in b for b in bodies)
    assert any(len(b) > 254 for b in bodies)
    assert any(len(b) > 2 * 254 for b in bodies)
    assert DOC["crc"]["check"] == frame_crc(DOC["crc"]["check_input"].encode()) == 0x29B1


@pytest.mark.parametrize("vec", VECTORS, ids=[v["name"] for v in VECTORS])
def test_encode_and_decode_agree_with_vector(vec: dict) -> None:
    msg = message_from(vec["type"], vec["fields"])
    frame = bytes.fromhex(vec["frame_hex"])
    assert encode_frame(msg, vec["seq"]) == frame
    assert cobs_decode(frame[:-1]) == bytes.fromhex(vec["body_hex"])
    assert m.encode_payload(msg) == (vec["type_id"], bytes.fromhex(vec["payload_hex"]))
    assert FrameDecoder().feed(frame) == [Frame(vec["seq"], msg)]


def test_all_vectors_as_one_stream() -> None:
    stream = b"".join(bytes.fromhex(v["frame_hex"]) for v in VECTORS)
    dec = FrameDecoder()
    out = dec.feed(stream)
    assert [f.seq for f in out] == [v["seq"] for v in VECTORS]
    assert [f.msg for f in out] == [message_from(v["type"], v["fields"]) for v in VECTORS]


@pytest.mark.parametrize("bad", DOC["bad_frames"], ids=[b["name"] for b in DOC["bad_frames"]])
def test_bad_frames_are_rejected_and_counted(bad: dict) -> None:
    good = bytes.fromhex(VECTORS[0]["frame_hex"])
    dec = FrameDecoder()
    out = dec.feed(bytes.fromhex(bad["hex"]) + good)
    assert out == [Frame(VECTORS[0]["seq"], m.Hello(1, 0))]
    st = dec.stats
    counted = {"crc": st.crc_errors, "cobs": st.cobs_errors,
               "cobs_or_crc": st.crc_errors + st.cobs_errors}[bad["error"]]  # fmt: skip
    assert counted == 1
    assert dec.stats.damaged_frames == 1


def _doc_examples() -> list[list[tuple[str, bytes]]]:
    """The hex blocks of PROTOCOL.md §16: lists of (kind, bytes) per fenced block."""
    text = (VECTORS_PATH.parent.parent / "PROTOCOL.md").read_text()
    blocks = []
    for block in text.split("```")[1::2]:
        rows = [line.split(None, 1) for line in block.strip().splitlines()]
        if rows and all(r[0] in ("payload", "body", "frame") for r in rows):
            blocks.append([(kind, bytes.fromhex(hx)) for kind, hx in rows])
    return blocks


def test_protocol_md_examples_are_exact() -> None:
    blocks = _doc_examples()
    assert len(blocks) >= 9
    kinds = set()
    for block in blocks:
        frames = [b for kind, b in block if kind == "frame"]
        assert frames
        for raw in frames:
            dec = FrameDecoder()
            (frame,) = dec.feed(raw)
            assert raw.count(0) == 1 and raw.endswith(b"\x00")
            assert encode_frame(frame.msg, frame.seq) == raw  # re-encodes identically
            kinds.add(type(frame.msg).__name__)
            body = cobs_decode(raw[:-1])
            for kind, b in block:
                if kind == "body" and len(frames) == 1:
                    assert b == body
                if kind == "payload" and len(frames) == 1:
                    assert b == body[2:-2]
    assert {"Hello", "Identity", "Samples", "Ack", "Nak", "Ping", "Pong", "SetLimits",
            "Event", "Heartbeat", "StoreCal", "Start"} <= kinds  # fmt: skip
