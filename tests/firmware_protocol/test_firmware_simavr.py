"""The real firmware on a simulated board, recorded by the real `pressure-logger`.

`make -C firmware_protocol/firmware` builds the ELF exactly as `make firmware` does, and
`make … simboard` builds our simavr harness (``firmware/simboard/simboard.c``): an
ATmega328P running that ELF with a simulated HX711 (DOUT/SCK bit-banging, 24-bit two's
complement, gain pulses, RATE pin, a scripted load), a mark button that bounces, the
buzzer and LED pins observed, and UART0 on a pty. The host side is the real command line
on that pty. Each opening of the port resets the board and plays the next connection of
the script; the harness logs what the board saw (conversions and their times, presses,
pin changes), and the test compares the session library against that log.

One board, five connections, from a freshly flashed EEPROM to a calibrated session:
1. `record` on the fresh board: raw counts, no forces (uncalibrated);
2. `calibrate --auto` against a scripted rig of stacked masses, stored with STORE_CAL;
3. `record` again (the board reports the calibration it now keeps): forces, holds, the
   mark, warn and max alerts, the buzzer pattern;
4. a plain pyserial host: SET_RATE 10 drives the RATE pin low, conversions 100 ms apart;
5. `record` through a 0.5 s stall of the HX711: stand-in samples, no gap, no time step.

A second board takes a plain pyserial host through the client's inputs: two bouncing
presses of the client button (D6) and a turn of the eVAS potentiometer (A1) while the
samples stream.

Skips where simavr or the AVR toolchain is missing, except where ``PL_REQUIRE_SIMAVR=1``
(as `.ci/run` sets it): there a missing prerequisite fails the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import serial

from calibration.models import STANDARD_GRAVITY, UNCALIBRATED
from firmware_protocol.framing import FrameDecoder, encode_frame
from firmware_protocol.messages import (
    Ack,
    Capability,
    Event,
    EventKind,
    GetStatus,
    Hello,
    Identity,
    MsgType,
    Ping,
    Samples,
    SetRate,
    Start,
    Status,
)
from logger.store import CalibrationStore, SessionStore
from tests.firmware_protocol.avr_build import CORE, shared_make

SIMAVR = Path("/usr/include/simavr/sim_avr.h")
REQUIRED = os.environ.get("PL_REQUIRE_SIMAVR") == "1"
MISSING = [
    what
    for what, ok in [
        ("avr-gcc (apt install gcc-avr avr-libc)", shutil.which("avr-gcc")),
        ("make", shutil.which("make")),
        ("a C compiler (cc)", shutil.which("cc")),
        (f"the Arduino AVR core ({CORE})", CORE.exists()),
        (f"simavr ({SIMAVR}: apt install simavr libsimavr-dev libelf-dev)", SIMAVR.exists()),
    ]
    if not ok
]

# The sensor as the harness plays it: raw = ZERO + GAIN × force (+ noise); a zero below 0
# so that raw crosses zero and both signs of the 24-bit two's complement go over the wire.
GAIN = 2000.0  # counts per newton
ZERO = -60000  # counts at zero force
NOISE = 30  # ± counts, uniform
PERIOD_US = 12500  # HX711 at 80 samples/s (RATE high)
PLL = str(Path(sys.executable).parent / "pressure-logger")

pytestmark = pytest.mark.slow  # the firmware build, then five connections (about 10 s)


def force_script(knots: list[tuple[float, float]], presses: list[tuple[float, float]]) -> str:
    lines = ["connection", f"noise {NOISE}"]
    lines += [f"load {t:.6f} {ZERO + GAIN * f_n:.3f}" for t, f_n in knots]
    lines += [f"press {t:.6f} {hold:.6f}" for t, hold in presses]
    return "\n".join(lines) + "\n"


def hold_knots(t0: float, force_n: float, ramp_s: float, plateau_s: float, release_s: float):
    return [(t0, 0.0), (t0 + ramp_s, force_n), (t0 + ramp_s + plateau_s, force_n),
            (t0 + ramp_s + plateau_s + release_s, 0.0)]  # fmt: skip


# Board time is what the test pays for (simavr runs the busy firmware loop at ~0.15 CPU-s
# per board second): each step lasts little more than it needs, but nothing happens before
# 1 s after the reset (the host streams after its handshake, ~0.15 s of board time, more on
# a loaded machine) and the rig stays unloaded for 3 s (the 1 s of noise estimate and the
# 1 s window of the 0 kg reading come first).
# 1. fresh board, recorded for 3 s: one light hold and a press of the button
FRESH_S = 3.0
FRESH = force_script([(0.0, 0.0), *hold_knots(1.5, 20.0, 0.3, 0.6, 0.3)], [(2.0, 0.2)])
# 2. the calibration rig: unloaded, then 0.5, 1 and 2 kg stacked, 2 s each (settled 0.3 s
# after the step, accepted after the 1 s window of `calibrate` stayed steady)
RIG_MASSES_KG = (0.5, 1.0, 2.0)
RIG_STEP_S = 2.0
RIG = force_script(
    [(0.0, 0.0), (3.0, 0.0)]
    + [
        knot
        for i, m in enumerate(RIG_MASSES_KG)
        for knot in (
            (3.0 + RIG_STEP_S * i + 0.3, m * STANDARD_GRAVITY),
            (3.0 + RIG_STEP_S * (i + 1), m * STANDARD_GRAVITY),
        )
    ],
    [],
)
# 3. a session: mark, a 30 N hold (no alert), 45 N (over warn 40), 65 N (over max 60);
# each contact lasts a little over the 2 s (holds.min_duration_s) that makes it a hold
SESSION_PRESS_S = 1.5
SESSION_HOLDS = [  # (t0 s, force N, ramp s, plateau s, release s)
    (2.0, 30.0, 0.5, 1.6, 0.3),
    (4.6, 45.0, 0.5, 2.0, 0.3),
    (8.1, 65.0, 0.5, 1.4, 0.3),
]
SESSION_S = 10.5
SESSION = force_script(
    [(0.0, 0.0)] + [k for h in SESSION_HOLDS for k in hold_knots(*h)], [(SESSION_PRESS_S, 0.2)]
)
# 4. a constant light load for the rate check
RATE = force_script([(0.0, 5.0)], [])
# 5. the HX711 stops converting for 0.5 s (a loose wire), then comes back
STALL_S = (1.0, 0.5)
STALL_RECORD_S = 2.0
STALL = force_script([(0.0, 10.0)], []) + f"stall {STALL_S[0]} {STALL_S[1]}\n"


@dataclass
class Connection:
    """What the harness saw during one opening of the port (times: µs since its reset)."""

    conv_t_us: list[int] = field(default_factory=list)
    conv_value: list[int] = field(default_factory=list)
    conv_pulses: list[int] = field(default_factory=list)
    presses_us: list[int] = field(default_factory=list)
    client_presses_us: list[int] = field(default_factory=list)
    pins: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    sck_long: int = 0

    def read(self) -> tuple[np.ndarray, np.ndarray]:
        """(ready time µs, value) of the conversions the firmware read (25 pulses each).
        The host may close the port while the firmware clocks the last one out: the board
        pauses there (and is reset by the next opening), so that one alone may be short."""
        pulses = np.array(self.conv_pulses)
        keep = pulses > 0
        if len(pulses) and 0 < pulses[-1] < 25:
            keep[-1] = False  # cut short by the end of the connection, not a wrong gain
        assert (pulses[keep] == 25).all(), f"gain pulses per read: {set(pulses[keep])}"
        return np.array(self.conv_t_us)[keep], np.array(self.conv_value)[keep]


def parse_log(path: Path) -> dict[int, Connection]:
    out: dict[int, Connection] = {}
    for line in path.read_text().splitlines():
        word, *rest = line.split()
        if word == "open":
            out[int(rest[0])] = Connection()
        elif word == "conv":
            c = out[int(rest[0])]
            c.conv_t_us.append(int(rest[2]))
            c.conv_value.append(int(rest[3]))
            c.conv_pulses.append(int(rest[4]))
        elif word == "press":
            out[int(rest[0])].presses_us.append(int(rest[1]))
        elif word == "client":
            out[int(rest[0])].client_presses_us.append(int(rest[1]))
        elif word == "pin":
            out[int(rest[0])].pins.setdefault(rest[1], []).append((int(rest[2]), int(rest[3])))
        elif word == "sck_long":
            out[int(rest[0])].sck_long += 1
    return out


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> tuple[Path, Path]:
    """The firmware ELF and the harness, built once for the test run; a directory of this
    module's own for the scripts and logs."""
    if MISSING:
        why = "firmware-in-the-loop needs " + "; ".join(MISSING)
        if REQUIRED:
            pytest.fail(f"PL_REQUIRE_SIMAVR=1 but {why}")
        pytest.skip(why)
    for target in ("all", "simboard"):
        res = shared_make(tmp_path_factory, target)
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res.out, tmp_path_factory.mktemp("fw")


def start_board(build: tuple[Path, Path], name: str, script_text: str):
    """The built firmware running in the harness: yields (pty path, log path, process)."""
    out, work = build
    script = work / f"{name}.txt"
    script.write_text(script_text)
    log = work / f"{name}.log"
    err = work / f"{name}.err"
    with err.open("w") as err_file:
        proc = subprocess.Popen(
            [str(out / "simboard"), str(out / "firmware.elf"), str(script), str(log)],
            stdout=subprocess.PIPE, stderr=err_file, text=True,
        )  # fmt: skip
    assert proc.stdout is not None
    with proc.stdout:
        pty = proc.stdout.readline().strip()
        assert pty.startswith("/dev/"), err.read_text()
        yield pty, log, proc
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def board(build):
    yield from start_board(build, "session", FRESH + RIG + SESSION + RATE + STALL)


# The client's inputs: the client button pressed twice (each press bounces for 4 ms), the
# eVAS wiper turned from 0 to 5 V (rating 0 to 10) over 3 s, then left there.
CLIENT_PRESSES = [(1.0, 0.2), (2.5, 0.3)]
EVAS_KNOTS = [(0.0, 0.0), (1.0, 0.0), (4.0, 5.0)]
CLIENT_S = 5.0  # device time streamed (from about 0.3 s, when the host has started it)
CLIENT = (
    force_script([(0.0, 10.0)], [])
    + "".join(f"client {t} {hold}\n" for t, hold in CLIENT_PRESSES)
    + "".join(f"evas {t} {volts}\n" for t, volts in EVAS_KNOTS)
)


@pytest.fixture
def client_board(build):
    yield from start_board(build, "client", CLIENT)


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([PLL, *args], capture_output=True, text=True, timeout=timeout)


def matched(stored_raw: np.ndarray, values: np.ndarray) -> int:
    """Where the stored samples start among the conversions the board made: they must be
    every conversion from there on, each once and in order."""
    n = len(stored_raw)
    for j in range(len(values) - n + 1):
        if values[j] == stored_raw[0] and np.array_equal(values[j : j + n], stored_raw):
            return j
    raise AssertionError("the stored samples are not a run of consecutive conversions")


def test_fresh_board_to_calibrated_session_on_the_real_firmware(board, tmp_path):
    pty, log, proc = board
    t_start = time.monotonic()
    db, db2 = tmp_path / "lib.sqlite3", tmp_path / "other.sqlite3"

    # ---- 1. a fresh board: recorded as raw counts, forces plainly uncalibrated
    r1 = run("record", "--port", pty, "--duration", str(FRESH_S), "--db", str(db))
    assert r1.returncode == 0, r1.stderr
    assert "device not calibrated: recording raw counts only, no forces" in r1.stderr
    sid1 = r1.stdout.split()[-1]

    # ---- 2. calibrate --auto against the rig; the result goes into the device (STORE_CAL)
    r2 = run("calibrate", "--port", pty, "--masses-kg", "0,0.5,1,2", "--auto", "--db", str(db))
    assert r2.returncode == 0, r2.stderr
    assert "has no calibration stored (a fresh board)" in r2.stderr
    assert "sent to the device's memory (STORE_CAL)" in r2.stdout

    # ---- 3. the next connection reports it: recorded with a library that knows nothing
    r3 = run("record", "--port", pty, "--duration", str(SESSION_S), "--db", str(db2))
    assert r3.returncode == 0, r3.stderr
    sid3 = r3.stdout.split()[-1]

    # ---- 4. a plain host sets 10 samples/s: the RATE pin goes low
    rate_frames = rate_check(pty)

    # ---- 5. the ADC stalls for 0.5 s mid-recording
    r5 = run("record", "--port", pty, "--duration", str(STALL_RECORD_S), "--db", str(db2))
    assert r5.returncode == 0, r5.stderr
    sid5 = r5.stdout.split()[-1]
    host_s = time.monotonic() - t_start
    proc.terminate()
    proc.wait(timeout=10)
    board_log = parse_log(log)
    print(f"\nfirmware in the loop: 5 connections in {host_s:.1f} s host time", file=sys.stderr)

    assert sorted(board_log) == [1, 2, 3, 4, 5]  # each opening reset the board
    assert all(c.sck_long == 0 for c in board_log.values())  # the HX711 never powered down

    with SessionStore(db) as store:
        rec1 = store.load_session(sid1)
        t1, raw1 = store.load_samples(sid1)
        _, f1 = store.load_forces(sid1)
        cal1 = store.calibration(sid1)
    assert rec1.meta.device.rate_hz == 80 and rec1.meta.device.uid.startswith("PL-")
    assert cal1.source == UNCALIBRATED and np.isnan(f1).all()
    check_samples(board_log[1], t1, raw1[:, 0])
    # no calibration, no levels in counts: the host left the on-device alarm off
    assert all(v == 0 for _, v in board_log[1].pins["buzzer"])

    fitted = CalibrationStore(db).latest(rec1.meta.device.uid)
    assert fitted is not None
    assert fitted.counts_per_n == pytest.approx(GAIN, rel=2e-3)
    assert fitted.offset_counts == pytest.approx(ZERO, abs=20)

    with SessionStore(db2) as store:
        rec3 = store.load_session(sid3)
        t3, raw3 = store.load_samples(sid3)
        _, f3 = store.load_forces(sid3)
    # what the board reported at the handshake is what the calibration stored into it
    cal3 = rec3.meta.calibration
    assert cal3.source.startswith("factory")
    assert cal3.counts_per_n == pytest.approx(fitted.counts_per_n, rel=1e-6)
    session = board_log[3]
    j = check_samples(session, t3, raw3[:, 0])
    ready_us, values = session.read()
    t0_us = ready_us[j]

    # forces match the script after calibration (noise ±30 counts = ±0.015 N)
    true_n = (values[j : j + len(t3)] - ZERO) / GAIN
    assert np.max(np.abs(f3[:, 0] - true_n)) < 0.05

    # holds found to the sample: from the first conversion at or above onset_n (5 N) to
    # the last one before force falls below release_n (4 N)
    onset_n = rec3.meta.config["holds"]["onset_n"]
    release_n = rec3.meta.config["holds"]["release_n"]
    assert [round(h.mean_n) for h in rec3.holds] == [30, 45, 65]
    for hold, (t_hold, *_) in zip(rec3.holds, SESSION_HOLDS, strict=True):
        after = t3 >= (t_hold * 1e6 - t0_us) * 1e-6
        k = int(np.nonzero((true_n >= onset_n) & after)[0][0])
        e = int(np.nonzero((true_n < release_n) & (np.arange(len(t3)) > k))[0][0])
        # no sample within the noise of either level, so "the sample" is unambiguous
        assert abs(true_n[k] - onset_n) > 0.05 and abs(true_n[e] - release_n) > 0.05
        assert (hold.start_s, hold.end_s) == (t3[k], t3[e - 1])

    # one mark, at the first falling edge of the bouncing press
    assert len(session.presses_us) == 1 and len(rec3.marks) == 1
    press_s = (session.presses_us[0] - t0_us) * 1e-6
    mark = rec3.marks[0]
    assert mark.source == "device"
    # stamped by the pin-change interrupt: within microseconds (the loop's stamp was 220 µs
    # late; the bounces last 4 ms)
    assert abs(mark.t_s - press_s) < 50e-6, (mark.t_s, press_s)

    # warn and max alerts, one per excursion
    kinds = [a.kind for a in rec3.alerts]
    assert kinds.count("warn") == 2 and kinds.count("max") == 1, kinds
    check_buzzer(session)

    # 4: SET_RATE 10 → RATE low, conversions 100 ms apart, and the frames say so: one
    # sample each, 100 ms apart in device time (period_us saturates at 65535, §5)
    assert all(f.count == 1 and f.period_us == 65535 for f in rate_frames)
    assert np.all(np.abs(np.diff([f.t_us for f in rate_frames]) - 100000) <= 100)
    rate = board_log[4]
    assert rate.pins["rate"][-1][1] == 0
    steps = np.diff(rate.read()[0][-6:])
    assert np.all(np.abs(steps - 100000) <= 2), steps

    # 5: the firmware stands in for every missed conversion with the last value, flagged,
    # at the nominal times: the host sees neither a gap nor a jump of the device clock
    with SessionStore(db2) as store:
        rec5 = store.load_session(sid5)
        t5, raw5 = store.load_samples(sid5)
    assert rec5.gaps == [] and rec5.stats.lost_samples == 0
    assert np.all(np.abs(np.diff(t5) - PERIOD_US * 1e-6) < 0.0005), np.diff(t5).max()
    # the longest run of one value: the last conversion before the stall and a stand-in
    # for each of the 40 it did not make; without them, every conversion once, in order
    r5 = raw5[:, 0]
    starts = np.flatnonzero(np.r_[True, r5[1:] != r5[:-1]])
    lengths = np.diff(np.r_[starts, len(r5)])
    k = int(lengths.argmax())
    assert lengths[k] == round(STALL_S[1] * 1e6 / PERIOD_US) + 1
    matched(np.delete(r5, np.arange(starts[k] + 1, starts[k] + lengths[k])), board_log[5].read()[1])


def check_samples(conn: Connection, t_s: np.ndarray, raw: np.ndarray) -> int:
    """Every conversion stored once, in order; device times = simulated conversion times."""
    ready_us, values = conn.read()
    pulses = np.array(conn.conv_pulses)
    assert len(raw) > 100
    j = matched(raw, values)
    # no conversion went unread while streaming (an unread one would be missing above)
    ready_all = np.array(conn.conv_t_us)
    window = (ready_all >= ready_us[j]) & (ready_all <= ready_us[j + len(raw) - 1])
    assert (pulses[window] == 25).all()
    # conversions every 12.5 ms of board time, and the device's clock says the same
    sim_s = (ready_us[j : j + len(raw)] - ready_us[j]) * 1e-6
    assert np.all(np.abs(np.diff(ready_us[j : j + len(raw)]) - PERIOD_US) <= 2)
    assert np.max(np.abs(t_s - sim_s)) < 0.0005, np.max(np.abs(t_s - sim_s))
    return j


def check_buzzer(conn: Connection) -> None:
    """PROTOCOL.md §9: over warn only, 100 ms beeps every 500 ms; over max, continuous;
    the LED follows the buzzer."""
    buzzer, led = conn.pins["buzzer"], conn.pins["led"]
    assert [v for _, v in led] == [v for _, v in buzzer]
    assert max(abs(a - b) for (a, _), (b, _) in zip(led, buzzer, strict=True)) <= 20
    on = np.array([t for t, v in buzzer if v == 1])
    off = np.array([t for t, v in buzzer if v == 0 and t > on[0]])
    # over warn only (the 45 N plateau, 5.1–7.1 s of the script): beeps
    warn_from_s, warn_to_s = plateau_s(SESSION_HOLDS[1])
    warn_on = on[(on > (warn_from_s + 0.2) * 1e6) & (on < (warn_to_s - 0.2) * 1e6)]
    assert len(warn_on) >= 3
    assert np.all(np.abs(np.diff(warn_on) - 500_000) <= 2_000), np.diff(warn_on)
    for t in warn_on:
        t_off = off[off > t][0]
        assert abs((t_off - t) - 100_000) <= 2_000, t_off - t
    # over max (the 65 N plateau, 8.6–10.0 s): on throughout
    max_from_us, max_to_us = (t * 1e6 for t in plateau_s(SESSION_HOLDS[2]))
    level_at = {t: v for t, v in buzzer}
    last_before = max(t for t in level_at if t <= max_from_us + 1e5)
    assert level_at[last_before] == 1
    assert not any(max_from_us + 1e5 < t < max_to_us - 1e5 for t, _ in buzzer)
    # and silent at the end
    assert buzzer[-1][1] == 0 and buzzer[-1][0] < max_to_us + 1e6


def plateau_s(hold: tuple[float, float, float, float, float]) -> tuple[float, float]:
    """When a hold of SESSION_HOLDS is at its full force (script seconds)."""
    t0, _, ramp_s, plateau, _ = hold
    return t0 + ramp_s, t0 + ramp_s + plateau


def rate_check(pty: str) -> list[Samples]:
    """HELLO, SET_RATE 10, START; returns the SAMPLES frames (0.8 s of them)."""
    identity, frames, _, _ = stream(pty, 800_000, rate_hz=10)
    assert identity.counts_per_n != 0.0  # calibrated now
    assert len(frames) >= 8, len(frames)
    return frames


def stream(
    pty: str, duration_us: int, rate_hz: int | None = None, ping_every_s: float | None = None
) -> tuple[Identity, list[Samples], list[Event], Status]:
    """A minimal host: HELLO, (SET_RATE,) START; the SAMPLES and EVENTs until the samples
    span ``duration_us`` of device time (a PING each ``ping_every_s`` host seconds while
    they come), then GET_STATUS."""
    with serial.Serial(pty, 115200, timeout=0.01 if ping_every_s else 0.05) as port:
        dec = FrameDecoder()
        seq, identity, frames, events, status, asked = 0, None, [], [], None, False
        next_ping = 0.0

        def send(msg) -> None:
            nonlocal seq
            port.write(encode_frame(msg, seq))
            seq += 1

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and status is None:
            if identity is None:
                send(Hello())
            elif frames and ping_every_s and not asked and time.monotonic() >= next_ping:
                send(Ping(seq))
                next_ping = time.monotonic() + ping_every_s
            for f in dec.feed(port.read(4096)):
                if isinstance(f.msg, Identity) and identity is None:
                    identity = f.msg
                    send(Start() if rate_hz is None else SetRate(rate_hz))
                elif isinstance(f.msg, Ack) and f.msg.cmd_type == MsgType.SET_RATE:
                    send(Start())
                elif isinstance(f.msg, Samples):
                    frames.append(f.msg)
                    if f.msg.t_us - frames[0].t_us >= duration_us and not asked:
                        send(GetStatus())
                        asked = True
                elif isinstance(f.msg, Event):
                    events.append(f.msg)
                elif isinstance(f.msg, Status):
                    status = f.msg
        assert identity is not None and status is not None, (identity, len(frames))
        assert dec.stats.damaged_frames == 0
        return identity, frames, events, status


def test_client_button_and_evas_on_the_real_firmware(client_board) -> None:
    pty, log, proc = client_board
    # a host that PINGs every 20 ms: answering one must not move a sample's time stamp
    identity, frames, events, status = stream(pty, int(CLIENT_S * 1e6), ping_every_s=0.02)
    proc.terminate()
    proc.wait(timeout=10)
    conn = parse_log(log)[1]
    assert identity.capabilities & Capability.CLIENT_BUTTON
    assert identity.capabilities & Capability.EVAS
    assert identity.fw_version == (1, 1, 1)

    # one CLIENT_BUTTON per press, timed at its first contact (the bounces give nothing)
    clients = [e for e in events if e.kind is EventKind.CLIENT_BUTTON]
    assert len(conn.client_presses_us) == len(CLIENT_PRESSES) == len(clients)
    for event, press_us in zip(clients, conn.client_presses_us, strict=True):
        assert event.arg == 0 and abs(event.t_us - press_us) < 500, (event.t_us, press_us)
    lags_us = [e.t_us - p for e, p in zip(clients, conn.client_presses_us, strict=True)]
    assert np.ptp(lags_us) <= 20, lags_us  # the same lag as each other (the board's clock)
    assert not any(e.kind is EventKind.MARK_BUTTON for e in events)  # not a mark

    # RATING: once at the start of streaming, then it follows the wiper
    ratings = [e for e in events if e.kind is EventKind.RATING]
    t_us = np.array([e.t_us for e in ratings])
    value = np.array([e.arg for e in ratings])
    assert t_us[0] < frames[0].t_us + 20_000 and value[0] == 0  # the wiper at 0 V
    knots_t, knots_v = np.array(EVAS_KNOTS).T
    true = np.interp(t_us * 1e-6, knots_t, knots_v) / 5.0 * 1000  # hundredths
    assert np.all(np.abs(value - true) <= 10), np.abs(value - true).max()  # within 0.1
    assert np.all(np.diff(value) >= 10)  # monotone, each a step of at least 0.1
    assert np.diff(t_us).min() >= 50_000  # at most 20 a second
    ramp = (t_us > EVAS_KNOTS[1][0] * 1e6) & (t_us < EVAS_KNOTS[2][0] * 1e6)
    assert ramp.sum() >= 40  # 3.33 per second: sent about every 50 ms, the fastest allowed
    assert value[-1] >= 990  # and it got to the top

    # the samples did not notice: every conversion read once, on time, none stood in for
    assert all(f.flags == 0 for f in frames)
    index = [f.first_index for f in frames]
    assert all(b - a == f.count for a, b, f in zip(index, index[1:], frames, strict=False))
    raw = np.concatenate([f.raw[:, 0] for f in frames])
    t_s = np.concatenate([f.t_us + PERIOD_US * np.arange(f.count) for f in frames]) * 1e-6
    j = check_samples(conn, t_s - t_s[0], raw)
    # each sample's device time lags its conversion by the same amount (the device's clock
    # starts after the reset), give or take an interrupt's latency (here 0-8 µs): the
    # firmware stamps a sample when DOUT falls, not when its loop reads it. (Stamped by the
    # loop, the spread was 50-90 µs, and 270-360 µs when a PING or GET_STATUS was being
    # answered as the conversion ended.)
    lag_us = t_s * 1e6 - conn.read()[0][j : j + len(raw)]
    worst = int(np.argmax(np.abs(lag_us - np.median(lag_us))))  # the sample, if it fails
    assert np.ptp(lag_us) <= 40, (np.ptp(lag_us), worst, len(lag_us), t_s[worst], events)
    assert (status.adc_timeouts, status.overruns, status.rx_crc_errors) == (0, 0, 0)
