"""SimDevice speaks the protocol like the firmware: a byte dialogue, no transport."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_protocol.cobs import cobs_encode
from firmware_protocol.framing import MAX_FRAME_BYTES, FrameDecoder, encode_body, encode_frame
from firmware_protocol.messages import (
    Ack,
    AdcKind,
    Capability,
    Event,
    EventKind,
    GetStatus,
    Heartbeat,
    Hello,
    Identity,
    Nak,
    NakCode,
    Ping,
    Pong,
    SampleFlag,
    Samples,
    SetLimits,
    SetRate,
    Start,
    Status,
    Stop,
    StoreCal,
)
from firmware_protocol.sim.interface import SimDevice, max_samples_per_frame
from firmware_protocol.sim.scenario import load_scenario


class Host:
    """A minimal host: writes commands, decodes whatever the device sent."""

    def __init__(self, dev: SimDevice) -> None:
        self.dev = dev
        self.dec = FrameDecoder()
        self.seq = 0
        self.frame_lengths: list[int] = []

    def send(self, msg) -> int:
        self.seq += 1
        self.dev.receive(encode_frame(msg, self.seq))
        return self.seq

    def take(self) -> list:
        data = self.dev.read_output(self.dev.out_waiting)
        self.frame_lengths += [len(p) + 1 for p in data.split(b"\x00")[:-1] if p]
        return [f.msg for f in self.dec.feed(data)]


def samples(msgs) -> list[Samples]:
    return [m for m in msgs if isinstance(m, Samples)]


def test_hello_gets_identity_with_factory_calibration():
    dev = SimDevice(load_scenario("calibration"))
    host = Host(dev)
    host.send(Hello())
    (ident,) = host.take()
    assert isinstance(ident, Identity)
    assert ident.uid == "SIM-CAL-0001" and ident.adc_kind is AdcKind.SIMULATED
    assert (ident.counts_per_n, ident.offset_counts) == (3880.0, 119500)
    assert Capability.BUZZER in ident.capabilities
    assert Capability.MARK_BUTTON in ident.capabilities
    assert (ident.rate_hz, ident.channels, ident.max_frame) == (1000, 1, MAX_FRAME_BYTES)
    assert (ident.rate_min_hz, ident.rate_max_hz, ident.adc_bits) == (10, 4000, 24)


def test_heartbeat_once_a_second_while_idle_and_none_while_streaming():
    dev = SimDevice(load_scenario("demo"))
    host = Host(dev)
    dev.process(3.2)
    beats = host.take()
    assert [(type(b), b.t_us) for b in beats] == [(Heartbeat, 1_000_000), (Heartbeat, 2_000_000),
                                                  (Heartbeat, 3_000_000)]  # fmt: skip
    host.send(Start())
    dev.process(3.0)
    assert not [m for m in host.take() if isinstance(m, Heartbeat)]
    host.send(Stop())
    dev.process(2.05)
    assert [m.t_us for m in host.take() if isinstance(m, Heartbeat)] == [7_200_000, 8_200_000]


def test_streaming_batches_20_ms_from_the_index_since_power_on():
    dev = SimDevice(load_scenario("demo"))
    host = Host(dev)
    dev.process(2.5)
    host.take()
    seq = host.send(Start())
    msgs = host.take()
    assert msgs == [Ack(seq, 0x02)]
    dev.process(1.0)
    frames = samples(host.take())
    assert frames[0].first_index == 2501  # the sampling clock ran since power-on
    assert frames[0].t_us == 2_501_000 and frames[0].period_us == 1000
    assert all(f.count == 20 for f in frames)
    idx = np.array([f.first_index for f in frames])
    assert np.all(np.diff(idx) == 20)
    assert np.all(np.diff([f.t_us for f in frames]) == 20_000)


def test_stop_flushes_the_partial_batch_so_nothing_is_lost():
    dev = SimDevice(load_scenario("demo"))
    host = Host(dev)
    host.send(Start())
    dev.process(0.0305)
    host.send(Stop())
    frames = samples(host.take())
    assert [(f.first_index, f.count) for f in frames] == [(0, 20), (20, 11)]  # 0 … 30 ms
    host.send(Start())
    dev.process(0.02)
    (f,) = samples(host.take())
    assert f.first_index == 31 and f.count == 20  # the index jump is idle time, not loss


def test_frames_never_exceed_max_frame_even_at_4000_hz_8_channels():
    dev = SimDevice(load_scenario("stress"))
    host = Host(dev)
    host.send(Start())
    total = 0
    for _ in range(20):
        dev.process(0.5)
        frames = samples(host.take())
        total += sum(f.count for f in frames)
        assert all(f.channels == 8 and f.count * f.channels <= 255 for f in frames)
    host.send(Stop())
    total += sum(f.count for f in samples(host.take()))
    assert max(host.frame_lengths) <= MAX_FRAME_BYTES
    assert max_samples_per_frame(8) < 80  # 20 ms would not fit: frames are split
    assert total == 4000 * 10 + 1  # samples at 0 … 10 s inclusive


def test_saturation_flag_set_on_clipped_frames():
    dev = SimDevice(load_scenario("stress"))
    host = Host(dev)
    host.send(Start())
    flagged = []
    while not dev.scenario_done:
        dev.process(0.5)
        flagged += [f for f in samples(host.take()) if SampleFlag.SATURATED in f.flags]
    assert flagged
    assert all((f.raw == (1 << 23) - 1).any() for f in flagged)


def test_ping_status_and_store_cal():
    dev = SimDevice(load_scenario("demo"))
    host = Host(dev)
    dev.process(1.2345)
    host.take()
    host.send(Ping(0xDEADBEEF))
    host.send(GetStatus())
    pong, status = host.take()
    assert pong == Pong(0xDEADBEEF, 1_234_500)
    assert isinstance(status, Status)
    assert (status.uptime_ms, status.streaming, status.rate_hz) == (1234, 0, 1000)
    seq = host.send(StoreCal(4100.5, 118000))
    assert host.take() == [Ack(seq, 0x08)]
    host.send(Hello())
    (ident,) = host.take()
    assert (ident.counts_per_n, ident.offset_counts) == (4100.5, 118000)
    seq = host.send(StoreCal(0.0, 0))
    assert host.take() == [Nak(seq, 0x08, NakCode.BAD_VALUE)]


def test_set_rate_busy_while_streaming_bad_value_and_ok():
    dev = SimDevice(load_scenario("demo"))
    host = Host(dev)
    host.send(Start())
    seq = host.send(SetRate(500))
    assert Nak(seq, 0x04, NakCode.BUSY) in host.take()
    host.send(Stop())
    seq = host.send(SetRate(5))
    assert Nak(seq, 0x04, NakCode.BAD_VALUE) in host.take()
    seq = host.send(SetRate(500))
    assert host.take() == [Ack(seq, 0x04)]
    host.send(Hello())
    assert host.take()[0].rate_hz == 500
    host.send(Start())
    dev.process(1.0)
    frames = samples(host.take())
    assert all(f.period_us == 2000 and f.count == 10 for f in frames)


def test_unknown_command_bad_length_and_corrupt_frames():
    dev = SimDevice(load_scenario("demo"))
    host = Host(dev)
    dev.receive(encode_frame(Pong(1, 2), 7))  # a device→host type is no command
    dev.receive(cobs_encode(encode_body(0x04, 8, b"\x01")) + b"\x00")  # SET_RATE too short
    dev.receive(cobs_encode(encode_body(0x55, 9, b"")) + b"\x00")  # no such type
    good = bytearray(encode_frame(Ping(5), 10))
    good[3] ^= 0x40
    dev.receive(bytes(good))  # CRC error: silently counted, like the firmware
    assert host.take() == [
        Nak(7, 0x86, NakCode.UNKNOWN_COMMAND),
        Nak(8, 0x04, NakCode.BAD_LENGTH),
        Nak(9, 0x55, NakCode.UNKNOWN_COMMAND),
    ]
    assert dev.rx_crc_errors == 1
    host.send(GetStatus())
    assert host.take()[0].rx_crc_errors == 1


def test_mark_button_events_at_scripted_scenario_times():
    s = load_scenario("demo")
    dev = SimDevice(s)
    host = Host(dev)
    dev.process(0.7)
    host.send(Start())
    dev.process(s.duration_s + 1)
    msgs = host.take()
    t0 = samples(msgs)[0].t_us
    marks = [m for m in msgs if isinstance(m, Event) and m.kind is EventKind.MARK_BUTTON]
    got = [(m.t_us - t0) / 1e6 for m in marks]
    assert got == pytest.approx(s.mark_times_s(), abs=1e-3)
    assert dev.scenario_done


def test_limit_events_like_the_buzzer():
    s = load_scenario("demo")
    dev = SimDevice(s)
    host = Host(dev)
    off, cpn = s.device.offset_counts, s.device.counts_per_n
    seq = host.send(SetLimits(int(off + 40 * cpn), int(off + 60 * cpn)))
    assert host.take() == [Ack(seq, 0x07)]
    host.send(Start())
    dev.process(s.duration_s)
    msgs = host.take()
    t0 = samples(msgs)[0].t_us
    crossings = [
        (m.arg, (m.t_us - t0) / 1e6)
        for m in msgs
        if isinstance(m, Event) and m.kind is EventKind.LIMIT_CROSSED
    ]
    # one excursion above warn (point 3's 44 N hold), back down on its release; never max
    assert [a for a, _ in crossings] == [1, -1]
    (_, t_up), (_, t_down) = crossings
    assert 70.3 + 2.5 < t_up < 70.3 + 3.0  # 40 N is reached on the 3 s ramp to 44 N
    assert 70.3 + 11.0 < t_down < 70.3 + 12.0  # during the release
    host.send(SetLimits(0, 0, enabled=0))
    host.take()
    assert dev.limits is None


def test_device_clock_wraps_at_u32_from_clock_start_us():
    s = load_scenario("demo").with_overrides(clock_start_us=(1 << 32) - 500_000)
    dev = SimDevice(s)
    host = Host(dev)
    host.send(Start())
    dev.process(1.0)
    frames = samples(host.take())
    t = np.array([f.t_us for f in frames], dtype=np.int64)
    wrapped = np.flatnonzero(np.diff(t) < 0)
    assert wrapped.size == 1  # exactly one wrap, after 0.5 s
    unwrapped = t + np.where(np.arange(t.size) > wrapped[0], 1 << 32, 0)
    assert np.all(np.diff(unwrapped) == 20_000)
    assert frames[0].t_us == (1 << 32) - 500_000


def test_channels_feel_decreasing_shares_of_the_force():
    s = load_scenario("demo").with_overrides(channels=3, noise_n=0.0, tremor_n=0.0)
    dev = SimDevice(s)
    host = Host(dev)
    host.send(Start())
    dev.process(20.0)  # inside point 1's 30 N hold
    raw = samples(host.take())[-1].raw
    force = (raw[-1] - s.device.offset_counts) / s.device.counts_per_n
    assert force / force[0] == pytest.approx([1.0, 0.9, 0.8], rel=1e-4)


def test_limits_follow_the_direction_of_force_and_have_hysteresis():
    # an inverted sensor: force lowers the counts, so max < warn (PROTOCOL.md §9)
    s = load_scenario("demo").with_overrides(counts_per_n=-4000.0, noise_n=0.0, tremor_n=0.0)
    dev = SimDevice(s)
    host = Host(dev)
    off = s.device.offset_counts
    host.send(SetLimits(off - 40 * 4000, off - 60 * 4000))
    host.send(Start())
    dev.process(90.0)
    args = [
        m.arg for m in host.take() if isinstance(m, Event) and m.kind is EventKind.LIMIT_CROSSED
    ]
    assert args == [1, -1]  # point 3's 44 N hold, as with a normal sensor


def test_limit_left_only_below_its_hysteresis():
    s = load_scenario("demo").with_overrides(noise_n=0.0, tremor_n=0.0)
    dev = SimDevice(s)
    host = Host(dev)
    off = s.device.offset_counts
    # point 3 drifts from 44 N to 42 N: a limit at 42.5 N is passed, and left again only
    # 2 % × 42.5 N = 0.85 N lower (41.65 N), i.e. on the release, not at 42.5 N
    host.send(SetLimits(off + 170_000, off + 400_000))
    host.send(Start())
    dev.process(90.0)
    msgs = host.take()
    t0 = samples(msgs)[0].t_us
    ev = [(m.arg, (m.t_us - t0) / 1e6) for m in msgs
          if isinstance(m, Event) and m.kind is EventKind.LIMIT_CROSSED]  # fmt: skip
    assert [a for a, _ in ev] == [1, -1]
    assert ev[1][1] > 70.3 + 3.0 + 8.0  # after the plateau, on the release


_FAULTY_DEMO = load_scenario("demo").with_overrides(corrupt=0.002, drop=0.001, seed=11)


def _twelve_s_of_faulty_demo(steps_s: Sequence[float]) -> tuple[bytes, int]:
    """The bytes and lost samples of 12 s of the demo with faults and limits at 10 and
    20 N: time goes to 2.9 s in one step, on in ``steps_s`` (≤ 9 s), then on to 12 s."""
    off, cpn = _FAULTY_DEMO.device.offset_counts, _FAULTY_DEMO.device.counts_per_n
    dev = SimDevice(_FAULTY_DEMO)
    dev.receive(encode_frame(SetLimits(int(off + 10 * cpn), int(off + 20 * cpn)), 1))
    dev.receive(encode_frame(Start(), 2))
    dev.advance_to_us(2_900_000)
    for dt in steps_s:
        dev.process(dt)
    dev.advance_to_us(12_000_000)  # the same end whatever the steps were
    return dev.read_output(dev.out_waiting), dev.injected.samples_lost


@functools.cache
def _twelve_s_of_faulty_demo_in_one_step() -> tuple[bytes, int]:
    return _twelve_s_of_faulty_demo([])  # the same for every example: run once


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(min_value=1e-6, max_value=0.3), min_size=1, max_size=30))
def test_bytes_do_not_depend_on_how_time_is_stepped(steps_s):
    """Faults, marks, limit events and batching: one big step or many small ones (12 s of
    the demo: its first mark, the palpation across the 10 N limit and back, the first hold
    across both limits)."""
    assert _twelve_s_of_faulty_demo(steps_s) == _twelve_s_of_faulty_demo_in_one_step()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), ping_at_ms=st.lists(st.integers(1, 2999), max_size=40))
def test_a_seed_damages_the_same_samples_and_events_however_often_the_host_pings(seed, ping_at_ms):
    """The faults a seed injects are drawn for each frame the device sends, from what it
    carries: a host PINGing more or less often does not move them onto other samples or
    events. Only where a frame's end is damaged, the next frame goes with it, as on a real
    wire: an answer sent in between changes which one, so each PING may change the fate of
    one frame."""

    def damaged(pings_ms: list[int]) -> tuple[set[int], int]:
        scenario = load_scenario("demo").with_overrides(corrupt=0.003, drop=0.001, seed=seed)
        dev = SimDevice(scenario)
        host = Host(dev)
        host.send(Start())
        for t_ms in sorted(pings_ms):
            dev.advance_to_us(t_ms * 1000)
            host.send(Ping(t_ms))
            host.take()
        dev.advance_to_us(3_000_000)
        host.take()
        inj = dev.injected
        lost = {first + k for first, n in inj.lost_ranges for k in range(n)}
        return lost, inj.events_lost

    lost, events_lost = damaged([])
    assert lost  # the seed did damage something in 3 s
    lost_pinged, events_lost_pinged = damaged(ping_at_ms)
    changed_frames = len(lost ^ lost_pinged) / 20  # 20 samples a frame
    assert changed_frames + abs(events_lost_pinged - events_lost) <= len(ping_at_ms)
