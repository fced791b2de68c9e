"""The portable C core (firmware/protocol_core.c) agrees byte for byte with every vector.

The suite compiles the core plus vectors/vector_driver.c with the host's C compiler into
tmp_path and talks to it over stdin/stdout.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

import firmware_protocol
from firmware_protocol import messages as m
from firmware_protocol.framing import FrameDecoder, encode_frame
from firmware_protocol.vectors import fields_of, load_vectors

PKG = Path(firmware_protocol.__file__).parent
FIRMWARE = PKG / "firmware"
DRIVER = PKG / "vectors" / "vector_driver.c"
DOC = load_vectors()
VECTORS = DOC["vectors"]
FLOAT_FIELDS = {"counts_per_n"}

CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
pytestmark = pytest.mark.skipif(CC is None, reason="no host C compiler (cc/gcc/clang) on PATH")


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    exe = tmp_path_factory.mktemp("c_core") / "vector_driver"
    cmd = [
        CC, "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-pedantic",
        "-DPC_RX_MAX=1024", f"-I{FIRMWARE}", str(DRIVER), str(FIRMWARE / "protocol_core.c"),
        "-o", str(exe),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return exe


def run(driver: Path, lines: list[str]) -> list[str]:
    res = subprocess.run(
        [str(driver)], input="\n".join(lines) + "\n", capture_output=True, text=True,
        check=True, timeout=30,
    )  # fmt: skip
    return res.stdout.splitlines()


def wire_values(vec: dict) -> list[int]:
    """Field values in wire order as u32 numbers, the way the C driver reads/prints them."""
    out: list[int] = []
    for key, value in vec["fields"].items():
        if key == "fw_version":
            out += value
        elif key == "uid":
            out += list(value.encode("ascii").ljust(16, b"\0"))
        elif key in FLOAT_FIELDS:
            out.append(struct.unpack("<I", struct.pack("<f", value))[0])
        else:
            out.append(value & 0xFFFFFFFF)
    return out


def command(vec: dict) -> str:
    if vec["type"] == "Samples":
        f = vec["fields"]
        raw = f["raw"]
        hdr = [vec["seq"], f["first_index"], f["t_us"], f["period_us"], len(raw[0]), len(raw),
               f["flags"]]  # fmt: skip
        return "S " + " ".join(str(v) for v in hdr + [x for row in raw for x in row])
    vals = wire_values(vec)
    return f"E {vec['type_id']} {vec['seq']} {len(vals)} " + " ".join(map(str, vals))


def decoded_line(vec: dict) -> str:
    if vec["type"] == "Samples":
        f = vec["fields"]
        raw = f["raw"]
        vals = [f["first_index"], f["t_us"], f["period_us"], len(raw[0]), len(raw), f["flags"]]
        vals += [x for row in raw for x in row]
    else:
        vals = wire_values(vec)
    return " ".join(["F", str(vec["type_id"]), str(vec["seq"]), *map(str, vals)])


def test_crc_check_value(driver: Path) -> None:
    assert run(driver, ["C 123456789"]) == [f"C {0x29B1}"]


def test_c_encodes_every_vector(driver: Path) -> None:
    out = run(driver, [command(v) for v in VECTORS])
    assert len(out) == len(VECTORS)
    for vec, line in zip(VECTORS, out, strict=True):
        assert line == f"H {vec['frame_hex']}", vec["name"]


def test_c_decodes_every_vector(driver: Path) -> None:
    out = run(driver, [f"D {v['frame_hex']}" for v in VECTORS])
    expected = []
    for vec in VECTORS:
        expected += [decoded_line(vec), "END 1 0 0 0"]
    assert out == expected


def test_c_decodes_the_whole_stream_in_one_go(driver: Path) -> None:
    stream = "".join(v["frame_hex"] for v in VECTORS)
    out = run(driver, [f"D 0000{stream}"])  # leading idle delimiters are harmless
    assert out == [decoded_line(v) for v in VECTORS] + [f"END {len(VECTORS)} 0 0 0"]


def test_c_rejects_and_counts_bad_frames(driver: Path) -> None:
    good = VECTORS[0]
    for bad in DOC["bad_frames"]:
        (line_f, line_end) = run(driver, [f"D {bad['hex']}{good['frame_hex']}"])
        assert line_f == decoded_line(good), bad["name"]
        frames, crc, cobs, oversize = map(int, line_end.split()[1:])
        assert frames == 1 and oversize == 0
        if bad["error"] == "crc":
            assert (crc, cobs) == (1, 0), bad["name"]
        elif bad["error"] == "cobs":
            assert (crc, cobs) == (0, 1), bad["name"]
        else:
            assert crc + cobs == 1, bad["name"]


def test_c_oversize_frame_is_dropped_and_decoder_recovers(driver: Path) -> None:
    good = VECTORS[0]["frame_hex"]
    (line_f, line_end) = run(driver, ["D " + "55" * 1100 + "00" + good])
    assert line_f == decoded_line(VECTORS[0])
    assert line_end == "END 1 0 0 1"


def _random_messages(rng: np.random.Generator, n: int) -> list[m.Message]:
    """Seeded random messages of every type (many more than the hand-picked vectors)."""

    def u(bits: int) -> int:
        return int(rng.integers(0, 1 << bits))

    def i32() -> int:
        return int(rng.integers(-(2**31), 2**31))

    def f32() -> float:
        return float(np.float32(rng.normal(0, 1e4)))

    makers = [
        lambda: m.Hello(u(8), u(8)), lambda: m.Start(), lambda: m.Stop(),
        lambda: m.SetRate(u(16)), lambda: m.GetStatus(), lambda: m.Ping(u(32)),
        lambda: m.SetLimits(i32(), i32(), u(8)), lambda: m.StoreCal(f32(), i32()),
        lambda: m.Identity(u(8), u(8), (u(8), u(8), u(8)), f"PL-{u(32):08X}"[: u(4) + 8],
                           m.AdcKind(int(rng.integers(0, 5))), u(8), u(8), u(16), u(16),
                           u(16), f32(), i32(), u(16), m.Capability(u(4))),
        lambda: m.Ack(u(8), u(8)), lambda: m.Nak(u(8), u(8), m.NakCode(int(rng.integers(1, 6)))),
        lambda: m.Status(u(32), u(8), u(16), u(16), u(16), u(32)),
        lambda: m.Pong(u(32), u(32)),
        lambda: m.Event(m.EventKind(int(rng.integers(1, 4))), u(32), i32()),
        lambda: m.Heartbeat(u(32), u(8)),
    ]  # fmt: skip

    def samples() -> m.Samples:
        ch = int(rng.integers(1, 9))
        count = int(rng.integers(1, 255 // ch + 1))
        raw = rng.integers(m.INT24_MIN, m.INT24_MAX + 1, (count, ch), dtype=np.int32)
        if count and rng.random() < 0.3:
            raw[rng.random(raw.shape) < 0.5] = 0  # bodies full of zeros
        return m.Samples(u(32), u(32), u(16), m.SampleFlag(u(2)), raw)

    out: list[m.Message] = []
    for _ in range(n):
        k = int(rng.integers(0, len(makers) + 3))
        out.append(samples() if k >= len(makers) else makers[k]())
    return out


def test_c_and_python_agree_on_random_messages_and_damaged_streams(driver: Path) -> None:
    """Differential test: 400 random messages encoded by both, then 40 damaged streams."""
    rng = np.random.default_rng(20261127)
    msgs = _random_messages(rng, 400)
    vecs = []
    for i, msg in enumerate(msgs):
        mt, _ = m.encode_payload(msg)
        frame_hex = encode_frame(msg, i & 0xFF).hex()
        vecs.append({"type": type(msg).__name__, "type_id": int(mt), "seq": i & 0xFF,
                     "fields": fields_of(msg), "frame_hex": frame_hex})  # fmt: skip
    out = run(driver, [command(v) for v in vecs])
    assert out == [f"H {v['frame_hex']}" for v in vecs]

    lines, expected = [], []
    for _ in range(40):
        stream = bytearray(b"".join(bytes.fromhex(v["frame_hex"]) for v in vecs[:30]))
        for pos in rng.integers(0, len(stream), int(rng.integers(1, 6))):
            stream[pos] = int(rng.integers(0, 256))  # any byte, including a new 0x00
        cut = int(rng.integers(0, 40))
        stream = bytes(stream[cut:]) + b"\x00"
        dec = FrameDecoder()
        frames = dec.feed(stream)
        lines.append(f"D {stream.hex()}")
        st = dec.stats
        expected.append(([(f.seq, f.msg) for f in frames], st))
    assert sum(st.damaged_frames for _, st in expected) >= 40  # the streams were damaged
    assert sum(len(frames) for frames, _ in expected) >= 40 * 20  # and mostly intact
    out = iter(run(driver, lines))
    for frames, st in expected:
        c_frames = []
        for line in out:
            if line.startswith("END"):
                n, crc, cobs, oversize = map(int, line.split()[1:])
                break
            c_frames.append(line)
        # the C core checks framing only: its intact frames = Python's + payload errors
        assert n == st.frames + st.payload_errors
        assert (crc, cobs, oversize) == (st.crc_errors, st.cobs_errors, st.oversize)
        assert len([x for x in c_frames if "BADLEN" not in x and "UNKNOWN" not in x]) >= len(frames)
        for (seq, msg), line in zip(
            frames, [x for x in c_frames if "BADLEN" not in x and "UNKNOWN" not in x],
            strict=False,
        ):  # fmt: skip
            mt, _ = m.encode_payload(msg)
            fake = {"type": type(msg).__name__, "type_id": int(mt), "seq": seq,
                    "fields": fields_of(msg)}  # fmt: skip
            assert line == decoded_line(fake)
