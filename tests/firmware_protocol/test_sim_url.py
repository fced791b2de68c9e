"""``sim://`` through ``serial.serial_for_url``: the same code path a real port takes."""

from __future__ import annotations

import threading
import time
import urllib.parse

import numpy as np
import pytest
import serial
from hypothesis import given, settings
from hypothesis import strategies as st

import firmware_protocol  # noqa: F401  (registers sim://)
from firmware_protocol.framing import FrameDecoder, encode_frame
from firmware_protocol.messages import (
    Event,
    EventKind,
    Hello,
    Identity,
    Samples,
    Start,
)
from firmware_protocol.sim.protocol_sim import device_time_us, registered_device
from firmware_protocol.sim.scenario import QUERY_KEYS, Action, ScenarioError, load_scenario


class Client:
    """A host on a pyserial port: handshake, then frames with everything kept."""

    def __init__(self, url: str, timeout: float = 0.05) -> None:
        self.ser = serial.serial_for_url(url, timeout=timeout)
        self.dec = FrameDecoder()
        self.seq = 0
        self.samples: list[Samples] = []
        self.events: list[Event] = []
        self.identity: Identity | None = None
        self.raw_bytes = bytearray()

    def send(self, msg) -> None:
        self.seq += 1
        self.ser.write(encode_frame(msg, self.seq))

    def pump(self) -> None:
        data = self.ser.read(max(1, self.ser.in_waiting))
        self.raw_bytes += data
        for f in self.dec.feed(data):
            if isinstance(f.msg, Samples):
                self.samples.append(f.msg)
            elif isinstance(f.msg, Event):
                self.events.append(f.msg)
            elif isinstance(f.msg, Identity):
                self.identity = f.msg

    def handshake(self) -> Identity:
        self.identity = None
        self.send(Hello())
        while self.identity is None:
            self.pump()
        self.send(Start())
        return self.identity

    @property
    def script_ended(self) -> bool:
        return any(e.kind is EventKind.SCRIPT_END for e in self.events)

    def stream(self, n_samples: int) -> None:
        """Until n_samples arrived or the device says its script is over."""
        while sum(s.count for s in self.samples) < n_samples and not self.script_ended:
            self.pump()

    def received(self) -> tuple[np.ndarray, np.ndarray]:
        idx = np.concatenate([np.arange(s.count) + s.first_index for s in self.samples])
        raw = np.concatenate([s.raw for s in self.samples])
        return idx, raw

    def close(self) -> None:
        self.ser.close()


def test_bare_sim_url_is_the_demo_at_real_time():
    c = Client("sim://")
    try:
        ident = c.handshake()
        assert ident.uid == "SIM-DEMO-0001"
        dev = c.ser.sim_device
        assert dev.scenario.name == "demo"
        assert dev.scenario.duration_s == pytest.approx(load_scenario("demo").duration_s)
    finally:
        c.close()


def test_same_seed_gives_the_same_bytes():
    def run(url: str) -> bytes:
        c = Client(url)
        try:
            c.handshake()
            c.stream(20_000)
            return bytes(c.raw_bytes[:60_000])
        finally:
            c.close()

    a = run("sim://a?speed=0&seed=4&corrupt=0.0005")
    b = run("sim://a?speed=0&seed=4&corrupt=0.0005")
    other = run("sim://a?speed=0&seed=5&corrupt=0.0005")
    assert len(a) == 60_000 and a == b
    assert a != other


def test_decoded_forces_match_the_script_and_marks_come_on_time():
    s = load_scenario("demo")
    c = Client("sim://forces?speed=0&seed=1")
    try:
        c.handshake()
        c.stream(int(s.duration_s * 1000) + 100)
    finally:
        c.close()
    idx, raw = c.received()
    assert np.array_equal(idx, np.arange(idx[0], idx[0] + idx.size))  # nothing lost
    # the device streams the whole script (samples at 0 <= t < duration), then says so
    assert c.script_ended and idx.size == round(s.duration_s * 1000)
    t0_us = c.samples[0].t_us
    t_s = (idx - idx[0]) / 1000.0
    force = (raw[:, 0] - s.device.offset_counts) / s.device.counts_per_n
    t = 0.0
    for step in s.steps:
        if step.action is Action.HOLD:
            sel = (t_s > t + step.ramp_s + 0.5) & (t_s < t + step.ramp_s + step.seconds - 0.5)
            scripted = step.force_n + step.drift_n_per_s * (t_s[sel] - t - step.ramp_s)
            assert force[sel].mean() == pytest.approx(scripted.mean(), rel=0.01)
        t += step.duration_s
    marks = [(e.t_us - t0_us) / 1e6 for e in c.events if e.kind is EventKind.MARK_BUTTON]
    assert marks == pytest.approx(s.mark_times_s(), abs=1e-3)


@pytest.mark.parametrize("faults", ["corrupt=0.0005", "drop=0.0005", "corrupt=0.0003&drop=0.0003"])
def test_injected_faults_equal_what_the_host_observes(faults):
    url = f"sim://faults?speed=0&seed=7&{faults}"
    c = Client(url)
    try:
        c.handshake()
        c.stream(40_000)
        dev = c.ser.sim_device
        inj = dev.injected
        idx, _ = c.received()
    finally:
        c.close()
    first, last = int(idx[0]), int(idx[-1])
    expected = np.zeros(last + 1, bool)
    for a, n in inj.lost_ranges:
        expected[a : min(a + n, last + 1)] = True
    seen = np.zeros(last + 1, bool)
    seen[idx] = True
    missing = ~seen[first:]
    assert inj.samples_damaged > 100  # the faults really hit
    assert inj.bytes_corrupted + inj.bytes_dropped > 0
    np.testing.assert_array_equal(missing, expected[first:])
    assert c.dec.stats.damaged_frames > 0


def test_unplug_raises_then_reopen_finds_the_same_device_whose_clock_went_on():
    url = "sim://unplug?speed=0&unplug_at_s=2&unplug_for_s=3&seed=3"
    c = Client(url)
    c.handshake()
    dev = c.ser.sim_device
    with pytest.raises(serial.SerialException):
        while True:
            c.pump()
    before = c.samples[-1]
    with pytest.raises(serial.SerialException):
        serial.serial_for_url(url)  # the port is gone, like /dev/ttyACM0 vanishing
    with pytest.raises(serial.SerialException):
        c.ser.write(b"\x00")
    c.close()
    deadline = time.monotonic() + 5
    while True:  # at speed 0 the port is away for min(unplug_for_s, 0.5) host seconds
        try:
            c2 = Client(url)
            break
        except serial.SerialException:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    try:
        assert c2.ser.sim_device is dev
        c2.handshake()
        c2.stream(1)
        after = c2.samples[0]
    finally:
        c2.close()
    jump = after.first_index - (before.first_index + before.count)
    assert jump == dev.injected.samples_disconnected == 3000
    assert after.t_us - before.t_us == (before.count + jump) * 1000  # device clock went on
    assert (after.t_us - c.samples[0].t_us) / 1e6 == pytest.approx(5.0)
    assert dev.injected.unplugs == 1


def test_unplug_at_real_time_speed():
    # at speed 20 the cable is pulled 0.2 s of host time after the port opens: time for a
    # busy machine to get through the handshake and receive samples first
    url = "sim://unplug-fast?speed=20&unplug_at_s=4.0&unplug_for_s=1.0"
    c = Client(url, timeout=0.01)
    c.handshake()
    with pytest.raises(serial.SerialException):
        while True:
            c.pump()
    c.close()
    dev = registered_device(url)
    assert dev is not None and dev.unplugged
    deadline = time.monotonic() + 10
    while True:
        try:
            c2 = Client(url, timeout=0.01)
            break
        except serial.SerialException:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    try:
        c2.handshake()
        c2.stream(1)
    finally:
        c2.close()
    gap = c2.samples[0].first_index - (c.samples[-1].first_index + c.samples[-1].count)
    assert gap >= 1000  # at least the outage itself
    assert dev.injected.samples_disconnected >= 1000


def test_clean_close_resets_the_board_like_an_arduino():
    url = "sim://reset?speed=0"
    c = Client(url)
    c.handshake()
    c.stream(3000)
    first_dev = c.ser.sim_device
    c.close()
    assert registered_device(url) is None
    c2 = Client(url)
    try:
        c2.handshake()
        c2.stream(1)
        assert c2.ser.sim_device is not first_dev
        assert c2.samples[0].first_index == 0
    finally:
        c2.close()


def test_port_is_exclusive_while_open():
    c = Client("sim://busy?speed=0")
    try:
        with pytest.raises(serial.SerialException, match="busy"):
            serial.serial_for_url("sim://busy?speed=0")
    finally:
        c.close()


def test_boot_s_ignores_the_host_for_a_while():
    c = Client("sim://boot?speed=0&boot_s=0.3", timeout=0.02)
    try:
        t0 = time.monotonic()
        c.send(Hello())  # lost: the board is still booting
        assert c.ser.read(100) == b""
        while time.monotonic() - t0 < 0.3:
            c.pump()
        assert c.identity is None
        ident = c.handshake()
        assert ident.uid == "SIM-DEMO-0001"
    finally:
        c.close()


def test_cancel_read_wakes_a_blocking_read():
    ser = serial.serial_for_url("sim://cancel?speed=1", timeout=None)
    try:
        threading.Timer(0.1, ser.cancel_read).start()
        data = ser.read(10_000)  # idle device: only heartbeats, never 10 kB
        assert len(data) < 10_000
    finally:
        ser.close()


def test_query_keys_override_the_scenario():
    c = Client("sim://q?speed=0&uid=BENCH-7&rate_hz=250&scenario=calibration")
    try:
        ident = c.handshake()
        assert (ident.uid, ident.rate_hz, ident.counts_per_n) == ("BENCH-7", 250, 3880.0)
        c.stream(100)
        assert c.samples[0].period_us == 4000
    finally:
        c.close()


def test_zero_drift_is_a_query_key():
    c = Client("sim://d?speed=0&noise_n=0&zero_drift_n_per_s=-0.5")
    try:
        ident = c.handshake()
        c.stream(2000)
        idx, raw = c.received()
        drift_n = (raw[-1, 0] - raw[0, 0]) / ident.counts_per_n
        elapsed_s = (idx[-1] - idx[0]) / ident.rate_hz
        assert drift_n == pytest.approx(-0.5 * elapsed_s, abs=1e-3)
    finally:
        c.close()


def test_scenario_file_by_path(tmp_path):
    f = tmp_path / "short.toml"
    f.write_text('[device]\nuid = "FILE-1"\n[[steps]]\naction = "rest"\nseconds = 1\n')
    c = Client(f"sim://f?speed=0&scenario={f}")
    try:
        assert c.handshake().uid == "FILE-1"
    finally:
        c.close()


@pytest.mark.parametrize(
    ("query", "key"),
    [("colour=red", "colour"), ("speed=-1", "speed"), ("corrupt=2", "corrupt"),
     ("seed=x", "seed"),
     # absurd numbers that used to pass and then crash the device at open
     ("speed=1e308", "speed"), ("speed=nan", "speed"), ("speed=inf", "speed"),
     ("speed=101", "speed"), ("boot_s=1e300", "boot_s"), ("counts_per_n=1e300", "counts_per_n"),
     ("factory_counts_per_n=-1e39", "factory_counts_per_n"), ("unplug_at_s=1e308", "unplug_at_s"),
     ("unplug_for_s=1e300", "unplug_for_s"), (f"seed={2**64}", "seed"),
     ("noise_n=1e300", "noise_n")],
)  # fmt: skip
def test_bad_query_is_bad_input_naming_the_key(query, key):
    with pytest.raises(ScenarioError, match=f"'{key}'"):
        serial.serial_for_url(f"sim://bad?{query}")


def test_malformed_scenario_file_via_url(tmp_path):
    f = tmp_path / "broken.toml"
    f.write_text('[[steps]]\naction = "hold"\nforce_n = 10\n')
    with pytest.raises(ScenarioError, match="step 1.*'seconds'"):
        serial.serial_for_url(f"sim://x?scenario={f}")


def test_device_time_follows_host_time_times_speed_and_clock_error():
    assert device_time_us(10.0, 1.0, 0.0) == 10_000_000
    assert device_time_us(10.0, 1.0, 100.0) == 10_001_000  # a crystal 100 ppm fast
    assert device_time_us(10.0, 3.0, -50.0) == 29_998_500


def test_close_from_another_thread_ends_a_blocking_read():
    ser = serial.serial_for_url("sim://closing?speed=1", timeout=None)
    threading.Timer(0.1, ser.close).start()
    data = ser.read(10_000)
    assert len(data) < 10_000 and not ser.is_open


_QUERY_VALUES = (
    st.sampled_from(["0", "1", "-1", "1e308", "1e-300", "nan", "inf", "-inf", "", "x",
                     str(2**64), "9" * 5000, "0.5", "100", "4000", "8"])
    | st.floats().map(repr)
    | st.integers(-(2**70), 2**70).map(str)
    | st.text(max_size=8)
)  # fmt: skip


@settings(max_examples=150)
@given(query=st.dictionaries(st.sampled_from(sorted(QUERY_KEYS) + ["speed"]), _QUERY_VALUES,
                             max_size=3))  # fmt: skip
def test_any_query_is_refused_in_one_line_or_the_device_answers(query):
    """Whatever the values: a one-line ScenarioError naming the URL, or a port that talks
    (at speed 0, so the test never waits on a clock; a device with no wire faults says
    IDENTITY)."""
    url = "sim://gen?" + urllib.parse.urlencode({**query, "speed": query.get("speed", "0")})
    try:
        client = Client(url)
    except ScenarioError as exc:
        assert str(exc).startswith("sim://gen?") and "\n" not in str(exc)
        return
    try:
        fast = client.ser._link.speed == 0  # noqa: SLF001
        client.send(Hello())
        for _ in range(20 if fast else 2):
            client.pump()
            if client.identity is not None:
                break
        clean = fast and not {"corrupt", "drop"} & query.keys()
        assert client.identity is not None or not clean
    finally:
        client.close()


def test_loop_plays_the_scenario_again_instead_of_ending(tmp_path):
    path = tmp_path / "short.toml"
    path.write_text('[[steps]]\naction = "mark"\n[[steps]]\naction = "rest"\nseconds = 0.5\n')
    c = Client(f"sim://loop?scenario={path}&speed=0&loop=1")
    try:
        c.handshake()
        c.stream(2500)  # five rounds of the 0.5 s script
    finally:
        c.close()
    assert not c.script_ended
    marks = [e for e in c.events if e.kind is EventKind.MARK_BUTTON]
    assert len(marks) >= 5
    with pytest.raises(ScenarioError, match="loop"):
        serial.serial_for_url("sim://?loop=2")
