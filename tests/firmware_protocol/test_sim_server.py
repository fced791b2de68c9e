"""The same device on a real pty and on TCP, through `pressure-logger simulate`."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import serial

import firmware_protocol  # noqa: F401  (registers sim://)
from firmware_protocol.framing import FrameDecoder, encode_frame
from firmware_protocol.messages import Hello, Identity, Samples, Start
from firmware_protocol.sim.protocol_sim import SimUrl
from firmware_protocol.sim.server import PtyServer, TcpServer
from logger.commands.simulate import is_loopback, parse_tcp, sim_url
from logger.errors import BadInput

CLI = [sys.executable, "-m", "logger.cli"]


def simulate(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*CLI, "simulate", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
    proc.send_signal(sig)
    try:
        return proc.wait(10)
    finally:
        proc.stdout.close()
        proc.stderr.close()


def handshake(ser: serial.SerialBase, dec: FrameDecoder) -> tuple[Identity, list]:
    ser.write(encode_frame(Hello(), 1))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for f in dec.feed(ser.read(max(1, ser.in_waiting))):
            if isinstance(f.msg, Identity):
                ser.write(encode_frame(Start(), 2))
                return f.msg, []
    raise AssertionError("no IDENTITY within 10 s")


def test_pty_plain_pyserial_client_handshakes_and_streams_at_the_scenario_rate():
    proc = simulate("--pty")
    try:
        path = proc.stdout.readline().strip()  # the FIRST line is the pty path
        assert path.startswith("/dev/")
        with serial.Serial(path, baudrate=115200, timeout=0.05) as ser:
            dec = FrameDecoder()
            ident, _ = handshake(ser, dec)
            assert ident.uid == "SIM-DEMO-0001" and ident.rate_hz == 1000
            frames: list[tuple[float, Samples]] = []
            t_end = time.monotonic() + 1.5
            while time.monotonic() < t_end:
                now = time.monotonic()
                frames += [(now, f.msg) for f in dec.feed(ser.read(max(1, ser.in_waiting)))
                           if isinstance(f.msg, Samples)]  # fmt: skip
        assert dec.stats.damaged_frames == 0
        idx = np.concatenate([np.arange(m.count) + m.first_index for _, m in frames])
        assert np.array_equal(idx, np.arange(idx[0], idx[0] + idx.size))
        (h0, first), (h1, last) = frames[0], frames[-1]
        n = last.first_index + last.count - first.first_index
        dev_s = (last.t_us - first.t_us) / 1e6 + last.count / 1000
        host_s = h1 - h0
        print(f"pty: {n} samples in {host_s:.3f} s host time = {n / host_s:.0f} samples/s")
        assert n == round(dev_s * 1000)  # device timestamps agree with the rate exactly
        # real time at speed 1 (loose: 2 CPU cores are shared; the exact check is the one above)
        assert 0.5 * 1000 < (n - first.count) / host_s < 2.0 * 1000
    finally:
        assert stop(proc) == 0


def test_tcp_via_socket_url_at_speed_0():
    proc = simulate("--tcp", "127.0.0.1:0", "--speed", "0", "--scenario", "calibration",
                    "--seed", "3")  # fmt: skip
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("socket://127.0.0.1:")
        ser = serial.serial_for_url(url, timeout=0.05)
        try:
            dec = FrameDecoder()
            ident, _ = handshake(ser, dec)
            assert ident.uid == "SIM-CAL-0001"
            got = 0
            deadline = time.monotonic() + 20
            while got < 8000 and time.monotonic() < deadline:
                got += sum(f.msg.count for f in dec.feed(ser.read(4096))
                           if isinstance(f.msg, Samples))  # fmt: skip
            assert got >= 8000 and dec.stats.damaged_frames == 0
        finally:
            ser.close()
    finally:
        assert stop(proc, signal.SIGINT) == 0


def test_malformed_scenario_is_refused_with_file_step_and_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[steps]]\naction = "rest"\nseconds = 1\n\n[[steps]]\naction = "hold"\n'
                   "force_n = 20\nseconds = -5\n")  # fmt: skip
    proc = simulate("--pty", "--scenario", str(bad))
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert out == ""  # nothing served
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert str(bad) in lines[0] and "step 2" in lines[0] and "'seconds'" in lines[0]


@pytest.mark.parametrize(
    ("args", "named"),
    [(["--tcp", "localhost:99999"], "--tcp"), (["--pty", "--set", "corrupt=3"], "'corrupt'"),
     (["--pty", "--set", "nonsense"], "--set"), (["--pty", "--speed", "-1"], "--speed")],
)  # fmt: skip
def test_bad_flags_exit_2(args, named):
    proc = simulate(*args)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and named in err and out == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:5000", ("127.0.0.1", 5000)), (":0", ("127.0.0.1", 0)),
     ("7000", ("127.0.0.1", 7000)), ("[::1]:80", ("::1", 80))],
)  # fmt: skip
def test_parse_tcp(text, expected):
    assert parse_tcp(text) == expected


def test_sim_url_carries_settings():
    url = sim_url("demo", 4, 0.0, ["corrupt=0.001", "unplug_at_s = 20"])
    parsed = SimUrl.parse(url)
    assert parsed.speed == 0.0 and parsed.scenario == "demo"
    assert parsed.overrides == {"seed": 4, "corrupt": 0.001, "unplug_at_s": 20.0}


def test_parse_tcp_refuses_garbage():
    with pytest.raises(BadInput, match="HOST:PORT"):
        parse_tcp("127.0.0.1:http")


def test_in_process_pty_survives_an_unplug():
    url = "sim://pty-unplug?speed=0&unplug_at_s=1&unplug_for_s=2"
    with PtyServer(url) as server:
        with serial.Serial(server.path, timeout=0.05) as ser:
            dec = FrameDecoder()
            handshake(ser, dec)
            frames: list[Samples] = []
            deadline = time.monotonic() + 20
            while (not frames or frames[-1].first_index < 4000) and time.monotonic() < deadline:
                frames += [f.msg for f in dec.feed(ser.read(max(1, ser.in_waiting)))
                           if isinstance(f.msg, Samples)]  # fmt: skip
        injected = server.device.port.sim_device.injected
    ends = np.array([f.first_index + f.count for f in frames[:-1]])
    jumps = np.array([f.first_index for f in frames[1:]]) - ends
    assert np.count_nonzero(jumps) == 1  # one outage, nothing else lost
    assert jumps.sum() == injected.samples_disconnected == 2000  # exactly the outage
    assert injected.unplugs == 1 and dec.stats.damaged_frames == 0


def test_tcp_server_binds_only_where_told():
    with TcpServer("sim://tcp-bind?speed=0", "127.0.0.1", 0) as server:
        host, port = server.address
        assert host == "127.0.0.1" and port > 0
        ser = serial.serial_for_url(f"socket://127.0.0.1:{port}", timeout=0.05)
        try:
            ident, _ = handshake(ser, FrameDecoder())
            assert ident.uid == "SIM-DEMO-0001"
        finally:
            ser.close()


@pytest.mark.parametrize("where", ["0.0.0.0:0", "[::]:0", "192.0.2.1:0", "example.org:0"])
def test_tcp_beyond_loopback_needs_allow_remote(where):
    proc = simulate("--tcp", where)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and out == ""  # nothing served, nothing bound
    assert len(err.strip().splitlines()) == 1 and "--allow-remote" in err and where in err


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.4.5.6", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("10.1.2.3", False), ("my-laptop", False)],
)  # fmt: skip
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback
