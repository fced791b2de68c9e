"""The portable C core (firmware/protocol_core.c) agrees byte for byte with every vector.

The suite compiles the core plus vectors/vector_driver.c with the host's C compiler into
tmp_path and talks to it over stdin/stdout.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

import firmware_protocol
from firmware_protocol.vectors import load_vectors

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
