"""`make -C firmware_protocol/firmware` builds the sketch for the ATmega328P, and it fits.

Skips (saying why) only where avr-gcc or the Arduino AVR core is not installed; CI installs
gcc-avr, avr-libc and arduino-core-avr so that there it always runs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from firmware_protocol.messages import PROTOCOL_MAJOR, PROTOCOL_MINOR
from tests.firmware_protocol.avr_build import CORE, FIRMWARE, shared_make

MISSING = [
    what
    for what, ok in [
        ("avr-gcc (apt install gcc-avr avr-libc)", shutil.which("avr-gcc")),
        ("make", shutil.which("make")),
        (f"the Arduino AVR core at {CORE.parent} (apt install arduino-core-avr)", CORE.exists()),
    ]
    if not ok
]


@pytest.mark.skipif(bool(MISSING), reason="cannot build the firmware: no " + "; no ".join(MISSING))
def test_firmware_builds_and_fits_the_atmega328p(tmp_path_factory: pytest.TempPathFactory) -> None:
    res = shared_make(tmp_path_factory, "all")  # the build the simavr tests run too
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    flash = re.search(r"^flash: (\d+) / (\d+) bytes", res.stdout, re.M)
    ram = re.search(r"^ram: (\d+) / (\d+) bytes", res.stdout, re.M)
    assert flash and ram, res.stdout
    assert int(flash[2]) == 32256 and int(flash[1]) <= 32256  # 32 KB minus the bootloader
    assert int(ram[2]) == 2048 and int(ram[1]) <= 2048 - 256  # leave room for the stack
    hex_file = res.out / "firmware.hex"
    assert hex_file.read_text().startswith(":")
    # the firmware and the host agree on the protocol version
    header = (FIRMWARE / "protocol_core.h").read_text()
    assert re.search(r"#define PC_PROTOCOL_MAJOR (\d+)", header)[1] == str(PROTOCOL_MAJOR)
    assert re.search(r"#define PC_PROTOCOL_MINOR (\d+)", header)[1] == str(PROTOCOL_MINOR)
    # nothing was written into the source tree (a build/ left by a manual `make` is allowed)
    assert res.tree_unchanged


def test_makefile_explains_a_missing_arduino_core(tmp_path: Path) -> None:
    if not shutil.which("make") or not shutil.which("avr-gcc"):
        pytest.skip("make or avr-gcc absent: the toolchain check is what is under test")
    res = subprocess.run(
        ["make", "-C", str(FIRMWARE), f"BUILD={tmp_path}", f"ARDUINO_DIR={tmp_path}/nowhere"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode != 0
    assert "Arduino core not found" in res.stdout + res.stderr


# ----------------------------------------------------------------------------------------
# The sketch's logic, run on this PC: firmware.ino compiled with the host C++ compiler on
# top of hosttest/ (a board stand-in: pins, clock, serial port, EEPROM, and an HX711 that
# shifts its bits out on the SCK edges the sketch makes). The protocol code is the real
# one; the host side is the real FrameDecoder.

import numpy as np  # noqa: E402

from firmware_protocol import messages as m  # noqa: E402
from firmware_protocol.cobs import cobs_encode  # noqa: E402
from firmware_protocol.framing import FrameDecoder, encode_body, encode_frame  # noqa: E402

CXX = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
needs_host_compiler = pytest.mark.skipif(
    CXX is None or CC is None, reason="no host C/C++ compiler to run the sketch on this PC"
)
T0_US = 1_500_000  # the board has booted and sent a heartbeat


def _build_board(out: Path, *defines: str) -> Path:
    core = out / "protocol_core.o"
    subprocess.run(
        [CC, "-std=c99", "-Wall", "-Wextra", "-Werror", "-c", str(FIRMWARE / "protocol_core.c"),
         "-o", str(core)], check=True, capture_output=True, text=True,
    )  # fmt: skip
    exe = out / "board"
    res = subprocess.run(
        [CXX, "-std=gnu++11", "-Wall", "-Wextra", "-Werror", *defines,
         f"-I{FIRMWARE / 'hosttest'}", f"-I{FIRMWARE}", "-x", "c++", str(FIRMWARE / "firmware.ino"),
         str(FIRMWARE / "hosttest" / "board.cpp"), "-x", "none", str(core), "-o", str(exe)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    return exe


@pytest.fixture(scope="module")
def board_exe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_board(tmp_path_factory.mktemp("fw_host"))


class Board:
    """One running board; ``run`` advances its clock and returns the decoded frames."""

    def __init__(self, exe: Path, eeprom_hex: str = "") -> None:
        args = [str(exe)] + ([eeprom_hex] if eeprom_hex else [])
        self.proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self.now_us = 0
        self.decoder = FrameDecoder()
        self.host_seq = 0
        self.ratings: list[m.Event] = []  # RATING events, kept apart from the other frames

    def _cmd(self, line: str) -> str | None:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        if line.split()[0] in ("RUN", "PIN", "EE"):
            return self.proc.stdout.readline().strip()
        return None

    def run(self, dt_us: int) -> list:
        """Advance the clock; the frames sent meanwhile, less the RATING events (an eVAS
        reads 0 here unless set: they go to ``ratings``)."""
        self.now_us += dt_us
        reply = self._cmd(f"RUN {self.now_us}")
        assert reply is not None and reply.startswith("TX")
        out = []
        for f in self.decoder.feed(bytes.fromhex(reply[3:])):
            is_rating = isinstance(f.msg, m.Event) and f.msg.kind is m.EventKind.RATING
            (self.ratings if is_rating else out).append(f.msg)
        return out

    def send(self, msg: m.Message) -> int:
        self.host_seq = (self.host_seq + 1) & 0xFF
        self.raw(encode_frame(msg, self.host_seq))
        return self.host_seq

    def raw(self, data: bytes) -> None:
        self._cmd(f"RX {data.hex()}")

    def ask(self, msg: m.Message, dt_us: int = 5_000) -> list:
        self.send(msg)
        return self.run(dt_us)

    def value(self, counts: int) -> None:
        self._cmd(f"VAL {counts}")

    def adc(self, on: bool) -> None:
        self._cmd(f"ADC {'on' if on else 'off'}")

    def button(self, pressed: bool, command: str = "BTN") -> None:
        self._cmd(f"{command} {int(pressed)}")

    def evas(self, counts: int) -> None:
        self._cmd(f"EVAS {counts}")

    def pin(self, n: int) -> int:
        reply = self._cmd(f"PIN {n}")
        assert reply
        return int(reply.split()[2])

    def eeprom(self) -> str:
        reply = self._cmd("EE")
        assert reply
        return reply.split()[1]

    def close(self) -> None:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


@pytest.fixture
def board(board_exe: Path):
    b = Board(board_exe)
    yield b
    b.close()


def _streaming(board: Board) -> m.Identity:
    boot = board.run(T0_US)
    assert [type(x) for x in boot] == [m.Heartbeat]  # 1/s while idle, from power-on
    (ident,) = board.ask(m.Hello())
    assert isinstance(ident, m.Identity)
    seq = board.send(m.Start())
    assert board.run(2_000) == [m.Ack(seq, m.MsgType.START)]
    return ident


def _samples(msgs: list) -> list[m.Samples]:
    return [x for x in msgs if isinstance(x, m.Samples)]


@needs_host_compiler
def test_sketch_handshake_identity_and_stream(board: Board) -> None:
    ident = _streaming(board)
    assert (ident.proto_major, ident.proto_minor) == (m.PROTOCOL_MAJOR, m.PROTOCOL_MINOR)
    assert ident.uid.startswith("PL-") and len(ident.uid) == 11
    assert (ident.adc_kind, ident.adc_bits, ident.channels) == (m.AdcKind.HX711, 24, 1)
    assert (ident.rate_hz, ident.rate_min_hz, ident.rate_max_hz) == (80, 10, 80)
    assert ident.counts_per_n == 0.0  # no factory calibration stored yet
    assert ident.capabilities == (m.Capability.BUZZER | m.Capability.LED
                                  | m.Capability.MARK_BUTTON | m.Capability.EEPROM_CAL
                                  | m.Capability.CLIENT_BUTTON | m.Capability.EVAS)  # fmt: skip
    assert ident.fw_version == (1, 1, 1)
    board.value(-123456)
    frames = _samples(board.run(1_000_000))
    assert 38 <= len(frames) <= 42  # 80 samples/s: two samples (25 ms) per frame
    assert all(1 <= f.count <= 2 and f.period_us == 12_500 for f in frames)
    raw = np.concatenate([f.raw for f in frames])
    assert (raw[2:] == -123456).all()  # int24 through the bit-banged HX711 and the codec
    # the index counts every conversion since power-on, also while idle
    assert frames[0].first_index > 100
    idx = [f.first_index for f in frames]
    assert all(b - a == f.count for a, b, f in zip(idx, idx[1:], frames, strict=False))
    assert 77 <= len(raw) <= 81  # 80 samples/s for 1 s, less the batch still pending
    dt = np.diff([f.t_us for f in frames])
    assert ((dt > 0) & (dt < 40_000)).all()
    assert frames[-1].t_us - frames[0].t_us >= 900_000
    assert board.decoder.stats.damaged_frames == 0
    # every frame fits the max_frame the device announced
    assert all(len(encode_frame(f, 0)) <= ident.max_frame for f in frames)


@needs_host_compiler
def test_sketch_commands_ack_nak_status_ping(board: Board) -> None:
    board.run(T0_US)
    seq = board.send(m.SetRate(1000))
    assert board.run(2_000) == [m.Nak(seq, m.MsgType.SET_RATE, m.NakCode.BAD_VALUE)]
    seq = board.send(m.SetRate(10))
    assert board.run(2_000) == [m.Ack(seq, m.MsgType.SET_RATE)]
    assert board.pin(5) == 0  # HX711 RATE low: 10 samples/s
    seq = board.send(m.Start())
    assert board.run(2_000) == [m.Ack(seq, m.MsgType.START)]
    out = board.ask(m.SetRate(80))
    assert m.Nak(board.host_seq, m.MsgType.SET_RATE, m.NakCode.BUSY) in out
    (pong,) = [x for x in board.ask(m.Ping(0xCAFEF00D)) if not isinstance(x, m.Samples)]
    assert pong.token == 0xCAFEF00D and abs(pong.t_us - board.now_us) < 10_000
    # damaged, unknown, short and device-only commands
    board.raw(b"\x05\x02\x09\x4c\x6b\x00")  # a START whose seq byte was hit: no answer
    assert [x for x in board.run(5_000) if not isinstance(x, m.Samples)] == []
    board.raw(bytes.fromhex("037f2a010100"))  # valid COBS, 4-byte body, wrong CRC
    board.raw(cobs_encode(encode_body(0x7F, 42, b"")) + b"\x00")
    board.raw(cobs_encode(encode_body(m.MsgType.SET_RATE, 43, b"\x0a")) + b"\x00")
    board.raw(cobs_encode(encode_body(m.MsgType.PONG, 44, bytes(8))) + b"\x00")
    out = [x for x in board.run(5_000) if not isinstance(x, m.Samples)]
    assert out == [
        m.Nak(42, 0x7F, m.NakCode.UNKNOWN_COMMAND),
        m.Nak(43, m.MsgType.SET_RATE, m.NakCode.BAD_LENGTH),
        m.Nak(44, m.MsgType.PONG, m.NakCode.UNKNOWN_COMMAND),
    ]
    (status,) = [x for x in board.ask(m.GetStatus()) if isinstance(x, m.Status)]
    assert (status.streaming, status.rate_hz) == (1, 10)
    assert status.rx_crc_errors == 2  # the hit START, and the frame of garbage before it
    assert status.adc_timeouts == 0 and status.overruns == 0
    assert abs(status.uptime_ms - board.now_us // 1000) <= 10
    seq = board.send(m.Stop())
    assert m.Ack(seq, m.MsgType.STOP) in board.run(2_000)
    assert _samples(board.run(300_000)) == []


@needs_host_compiler
def test_sketch_limits_drive_events_buzzer_and_led(board: Board) -> None:
    _streaming(board)
    board.value(100_000)
    board.run(50_000)
    seq = board.send(m.SetLimits(200_000, 300_000, 1))
    assert m.Ack(seq, m.MsgType.SET_LIMITS) in board.run(5_000)

    def events(dt_us: int) -> list[int]:
        return [x.arg for x in board.run(dt_us) if isinstance(x, m.Event)]

    board.value(350_000)
    assert events(50_000) == [1, 2]  # warn, then max, on the same sample
    assert board.pin(8) == 1 and board.pin(13) == 1  # continuous over max
    board.value(296_000)  # within the 2 % hysteresis (6000 counts) of max: still over
    assert events(50_000) == []
    board.value(250_000)
    assert events(50_000) == [-2]
    levels = set()
    for _ in range(12):  # over warn only: beeps 100 ms every 500 ms
        board.run(50_000)
        levels.add(board.pin(8))
    assert levels == {0, 1}
    board.value(100_000)
    assert events(50_000) == [-1]
    assert board.pin(8) == 0 and board.pin(13) == 0
    # limits in the other direction (a load cell wired so that force lowers the counts)
    seq = board.send(m.SetLimits(-200_000, -300_000, 1))
    assert m.Ack(seq, m.MsgType.SET_LIMITS) in board.run(5_000)
    board.value(-250_000)
    assert events(50_000) == [1]
    # limits survive a HELLO (the alarm must not depend on the host), off with enabled=0
    board.ask(m.Hello())
    board.value(-350_000)
    assert events(50_000) == [2]
    seq = board.send(m.SetLimits(0, 0, 0))
    assert m.Ack(seq, m.MsgType.SET_LIMITS) in board.run(5_000)
    assert board.pin(8) == 0
    out = board.ask(m.SetLimits(1 << 24, 0, 1))
    assert m.Nak(board.host_seq, m.MsgType.SET_LIMITS, m.NakCode.BAD_VALUE) in out


@needs_host_compiler
@pytest.mark.parametrize(
    ("command", "kind"), [("BTN", m.EventKind.MARK_BUTTON), ("CBTN", m.EventKind.CLIENT_BUTTON)]
)
def test_sketch_buttons_are_debounced(board: Board, command: str, kind: m.EventKind) -> None:
    _streaming(board)
    t_press_us = board.now_us
    board.button(True, command)
    board.run(5_000)
    board.button(False, command)  # contact bounce
    board.run(2_000)
    board.button(True, command)
    marks = [x for x in board.run(100_000) if isinstance(x, m.Event)]
    assert len(marks) == 1 and marks[0].kind is kind and marks[0].arg == 0
    # the press is the first contact, not a later bounce nor the end of debouncing
    assert abs(marks[0].t_us - t_press_us) <= 100
    assert [x for x in board.run(500_000) if isinstance(x, m.Event)] == []  # held: no repeat
    board.button(False, command)
    board.run(100_000)
    board.button(True, command)
    assert len([x for x in board.run(100_000) if isinstance(x, m.Event)]) == 1


@needs_host_compiler
def test_sketch_evas_rating_events(board: Board) -> None:
    board.evas(512)
    board.run(T0_US)
    assert board.ratings == []  # nothing while idle
    board.ask(m.Hello())
    board.send(m.Start())
    board.run(20_000)
    # once at the start of streaming: 512 of 1023 is 5.00 (rounded)
    assert [(r.arg, r.t_us > T0_US) for r in board.ratings] == [(500, True)]
    board.evas(516)  # 5.04: less than 0.1 away, not sent
    board.run(200_000)
    assert len(board.ratings) == 1
    for counts in [*range(520, 1024, 8), 1023]:  # a fast turn of the knob, to the end
        board.evas(counts)
        board.run(5_000)
    board.run(100_000)
    values = [r.arg for r in board.ratings]
    times = np.array([r.t_us for r in board.ratings])
    assert values[-1] == 1000 and values == sorted(values)
    assert all(b - a >= 10 for a, b in zip(values, values[1:], strict=False))
    assert np.diff(times).min() >= 50_000  # at most 20 a second


@needs_host_compiler
def test_sketch_stores_calibration_in_eeprom(board_exe: Path) -> None:
    b = Board(board_exe)
    b.run(T0_US)
    (ident,) = b.ask(m.Hello())
    seq = b.send(m.StoreCal(4000.0, 120_000))
    assert b.run(5_000) == [m.Ack(seq, m.MsgType.STORE_CAL)]
    for bad in (m.StoreCal(0.0, 0), m.StoreCal(float("nan"), 0), m.StoreCal(1.0, 1 << 24)):
        seq = b.send(bad)
        assert b.run(5_000) == [m.Nak(seq, m.MsgType.STORE_CAL, m.NakCode.BAD_VALUE)]
    eeprom = b.eeprom()
    b.close()
    again = Board(board_exe, eeprom)  # power cycle: EEPROM kept
    again.run(T0_US)
    (ident2,) = again.ask(m.Hello())
    again.close()
    assert ident2.uid == ident.uid
    assert (ident2.counts_per_n, ident2.offset_counts) == (4000.0, 120_000)
    # a corrupted EEPROM image is not trusted: a fresh uid, no calibration
    broken = eeprom[:10] + ("00" if eeprom[10:12] != "00" else "11") + eeprom[12:]
    fresh = Board(board_exe, broken)
    fresh.run(T0_US)
    (ident3,) = fresh.ask(m.Hello())
    fresh.close()
    assert ident3.counts_per_n == 0.0


@needs_host_compiler
def test_sketch_adc_fault_and_saturation(board: Board) -> None:
    _streaming(board)
    board.value(m.INT24_MAX)
    frames = _samples(board.run(200_000))
    assert frames and all(f.flags & m.SampleFlag.SATURATED for f in frames[1:])
    board.value(5000)
    board.run(50_000)
    board.adc(False)
    out = board.run(300_000)
    faults = [x for x in out if isinstance(x, m.Event)]
    assert [f.kind for f in faults] == [m.EventKind.ADC_FAULT]
    frames = _samples(out)
    stand_ins = [f for f in frames if f.flags & m.SampleFlag.ADC_TIMEOUT]
    assert stand_ins and all((f.raw == 5000).all() for f in stand_ins)
    idx = [f.first_index for f in frames]
    assert all(b - a == f.count for a, b, f in zip(idx, idx[1:], frames, strict=False))
    board.adc(True)
    frames = _samples(board.run(200_000))
    assert not frames[-1].flags & m.SampleFlag.ADC_TIMEOUT
    (status,) = [x for x in board.ask(m.GetStatus()) if isinstance(x, m.Status)]
    assert status.adc_timeouts >= 15


@needs_host_compiler
def test_sketch_hello_while_streaming_stops_and_heartbeats_resume(board: Board) -> None:
    _streaming(board)
    board.run(100_000)
    board.send(m.Hello())
    out = board.run(10_000)
    assert any(isinstance(x, m.Identity) for x in out)
    out = board.run(2_100_000)
    assert _samples(out) == []
    beats = [x for x in out if isinstance(x, m.Heartbeat)]
    assert len(beats) == 2 and all(b.streaming == 0 for b in beats)


@needs_host_compiler
def test_sketch_without_evas(tmp_path: Path) -> None:
    """PL_EVAS 0 (a board without a pot): no eVAS capability, no RATING events."""
    b = Board(_build_board(tmp_path, "-DPL_EVAS=0"))
    b.evas(700)
    ident = _streaming(b)
    b.run(500_000)
    b.close()
    assert not ident.capabilities & m.Capability.EVAS
    assert ident.capabilities & m.Capability.CLIENT_BUTTON
    assert b.ratings == []
