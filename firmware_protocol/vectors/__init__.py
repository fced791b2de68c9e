"""Shared test vectors: message fields ⇄ exact frame bytes (``vectors.json``).

The same file checks the Python codec (tests/firmware_protocol/test_vectors.py) and the
portable C core (test_c_core.py compiles ``vector_driver.c`` with the host's ``cc``).
A second implementation of the protocol should pass every vector too.

Regenerate after an intentional protocol change (and bump the version in PROTOCOL.md)::

    .venv/bin/python -m firmware_protocol.vectors > firmware_protocol/vectors/vectors.json

Field values in JSON: integers for every integer and enum field (enums by value), a list
for ``fw_version``, a string for ``uid``, a float for float32 fields (each one exactly
representable in binary32), and ``raw`` as a list of rows for SAMPLES.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from .. import messages as m
from ..cobs import cobs_decode, cobs_encode
from ..framing import encode_body, encode_frame

VECTORS_PATH = Path(__file__).with_name("vectors.json")

_CLASSES: dict[str, type] = {t.__name__: t for t in m.Message.__args__}


def fields_of(msg: m.Message) -> dict[str, Any]:
    """JSON-ready fields of a message (dataclass order)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(msg):
        v = getattr(msg, f.name)
        if isinstance(v, np.ndarray):
            v = v.tolist()
        elif isinstance(v, tuple):
            v = list(v)
        elif isinstance(v, int):
            v = int(v)  # IntEnum/IntFlag -> plain int
        out[f.name] = v
    return out


def message_from(name: str, fields: dict[str, Any]) -> m.Message:
    """Inverse of ``fields_of``."""
    cls = _CLASSES[name]
    kw = dict(fields)
    for key, value in kw.items():
        if key == "raw":
            kw[key] = np.asarray(value, dtype=np.int32).reshape(len(value), -1)
        elif key == "fw_version":
            kw[key] = tuple(value)
        elif key in ("flags", "adc_kind", "capabilities", "code", "kind"):
            enum = {"flags": m.SampleFlag, "adc_kind": m.AdcKind, "capabilities": m.Capability,
                    "code": m.NakCode, "kind": m.EventKind}[key]  # fmt: skip
            kw[key] = enum(value)
    return cls(**kw)


def _identity(**kw: Any) -> m.Identity:
    base: dict[str, Any] = dict(
        proto_major=1, proto_minor=0, fw_version=(1, 0, 0), uid="PL-0A1B2C3D",
        adc_kind=m.AdcKind.HX711, adc_bits=24, channels=1, rate_hz=80, rate_min_hz=10,
        rate_max_hz=80, counts_per_n=4000.0, offset_counts=120000, max_frame=128,
        capabilities=m.Capability.BUZZER | m.Capability.LED | m.Capability.MARK_BUTTON
        | m.Capability.EEPROM_CAL,
    )  # fmt: skip
    base.update(kw)
    return m.Identity(**base)


def _samples(first: int, t_us: int, period: int, raw: list[list[int]], flags: int = 0):
    return m.Samples(first, t_us, period, m.SampleFlag(flags), np.asarray(raw, np.int32))


def build_vectors() -> list[tuple[str, m.Message, int]]:
    """(name, message, frame seq) for every vector: each type, edge values, zeros, long."""
    ramp = [[120000 + 37 * i] for i in range(20)]
    return [
        ("hello", m.Hello(1, 0), 0),
        ("hello_newer_minor", m.Hello(1, 7), 255),
        ("start", m.Start(), 1),
        ("stop", m.Stop(), 2),
        ("set_rate_1000", m.SetRate(1000), 3),
        ("set_rate_max_u16", m.SetRate(0xFFFF), 4),
        ("get_status", m.GetStatus(), 5),
        ("ping", m.Ping(0xDEADBEEF), 6),
        ("ping_zero_token", m.Ping(0), 7),
        ("set_limits", m.SetLimits(280000, 360000, 1), 8),
        ("set_limits_negative_disabled", m.SetLimits(-(2**31), 2**31 - 1, 0), 9),
        ("store_cal", m.StoreCal(4000.0, 120000), 10),
        ("store_cal_negative", m.StoreCal(-1234.5, -8388608), 11),
        ("identity_hx711", _identity(), 0),
        (
            "identity_edge",
            _identity(
                proto_major=255,
                proto_minor=255,
                fw_version=(255, 255, 255),
                uid="0123456789ABCDEF",
                adc_kind=m.AdcKind.SIMULATED,
                adc_bits=32,
                channels=8,
                rate_hz=65535,
                rate_min_hz=0,
                rate_max_hz=65535,
                counts_per_n=0.0,
                offset_counts=-(2**31),
                max_frame=65535,
                capabilities=m.Capability(0xFF),
            ),
            200,
        ),  # fmt: skip
        ("identity_empty_uid", _identity(uid="", capabilities=m.Capability.NONE), 1),
        ("samples_1khz_20", _samples(20, 20000, 1000, ramp), 12),
        ("samples_zeros_in_body", _samples(0, 0, 0, [[0], [0], [0]]), 0),
        (
            "samples_int24_extremes",
            _samples(
                0xFFFFFFFF,
                0xFFFFFFFF,
                0xFFFF,
                [[m.INT24_MAX, m.INT24_MIN], [-1, 0], [1, 256]],
                flags=3,
            ),
            255,
        ),  # fmt: skip
        (
            "samples_long_body_4khz_8ch",
            _samples(
                123456,
                4_000_000_000,
                250,
                [[(r * 8 + c) * 9973 - 1_000_000 for c in range(8)] for r in range(12)],
            ),
            14,
        ),  # fmt: skip
        (
            "samples_255_values",
            _samples(1, 2, 250, [[(-1) ** i * (i * 32771 % 8388607)] for i in range(255)]),
            15,
        ),  # fmt: skip
        ("ack", m.Ack(3, m.MsgType.SET_RATE), 16),
        ("nak", m.Nak(4, m.MsgType.SET_RATE, m.NakCode.BAD_VALUE), 17),
        ("nak_unknown_command", m.Nak(0, 0x7F, m.NakCode.UNKNOWN_COMMAND), 18),
        ("status", m.Status(3_600_000, 1, 80, 2, 0, 5), 19),
        ("pong", m.Pong(0xDEADBEEF, 123456789), 20),
        ("event_mark", m.Event(m.EventKind.MARK_BUTTON, 5_000_000, 0), 21),
        ("event_limit_max_down", m.Event(m.EventKind.LIMIT_CROSSED, 0xFFFFFFFF, -2), 22),
        ("event_adc_fault", m.Event(m.EventKind.ADC_FAULT, 1, 0), 23),
        ("event_client_button", m.Event(m.EventKind.CLIENT_BUTTON, 12_345_678, 0), 25),
        ("event_rating", m.Event(m.EventKind.RATING, 2_000_004, 1000), 26),
        ("heartbeat", m.Heartbeat(1_000_000, 0), 24),
    ]


def bad_frames() -> list[dict[str, str]]:
    """Frames every decoder must reject (and count), each after a valid frame."""
    good = encode_frame(m.Ping(1), 1)
    body = cobs_decode(good[:-1])
    flipped = bytearray(good)
    flipped[1] ^= 0x80  # the type byte (stays non-zero, so the COBS structure holds)
    return [
        {"name": "crc_bit_flip", "hex": bytes(flipped).hex(), "error": "crc"},
        {"name": "crc_swapped_bytes",
         "hex": (cobs_encode(body[:-2] + body[-2:][::-1]) + b"\x00").hex(), "error": "crc"},
        {"name": "cobs_block_past_end", "hex": "0511223300", "error": "cobs"},
        {"name": "too_short_for_crc", "hex": "03112200", "error": "cobs"},
        {"name": "truncated_then_delimiter", "hex": good[: len(good) // 2].hex() + "00",
         "error": "cobs_or_crc"},
    ]  # fmt: skip


def document() -> dict[str, Any]:
    vectors = []
    for name, msg, seq in build_vectors():
        mt, payload = m.encode_payload(msg)
        body = encode_body(mt, seq, payload)
        vectors.append(
            {
                "name": name,
                "type": type(msg).__name__,
                "type_id": int(mt),
                "seq": seq,
                "fields": fields_of(msg),
                "payload_hex": payload.hex(),
                "body_hex": body.hex(),
                "frame_hex": encode_frame(msg, seq).hex(),
            }
        )
    return {
        "protocol": f"{m.PROTOCOL_MAJOR}.{m.PROTOCOL_MINOR}",
        "crc": {"algorithm": "CRC-16/CCITT-FALSE", "check_input": "123456789", "check": 0x29B1},
        "vectors": vectors,
        "bad_frames": bad_frames(),
    }


def dumps() -> str:
    return json.dumps(document(), indent=1) + "\n"


def load_vectors(path: Path = VECTORS_PATH) -> dict[str, Any]:
    return json.loads(path.read_text())
