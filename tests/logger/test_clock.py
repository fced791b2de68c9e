"""The device clock, pure: u32 counters across their wraps, and offset and drift from
PING/PONG round trips."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from logger.link.clock import (
    MIN_FIT_SPAN_S,
    PINGS_IN_FLIGHT,
    PONGS_BEFORE_ORIGIN,
    U32,
    ClockFit,
    DeviceClock,
    Unwrapper,
    u32_delta,
)

u32 = st.integers(0, U32 - 1)
steps = st.lists(st.integers(0, U32 // 2 - 1), max_size=50)  # less than half a turn each


# ---------------------------------------------------------------------- u32 counters


def test_a_delta_goes_the_short_way_round():
    assert u32_delta(5, 3) == 2
    assert u32_delta(3, 5) == -2
    assert u32_delta(2, U32 - 3) == 5  # across the wrap, forwards
    assert u32_delta(U32 - 3, 2) == -5  # … and backwards
    assert u32_delta(U32 // 2, 0) == -(U32 // 2)  # half a turn: the range is [−2³¹, 2³¹)


@given(old=u32, delta=st.integers(-(U32 // 2), U32 // 2 - 1))
def test_a_delta_undoes_a_step_of_less_than_half_a_turn(old, delta):
    assert u32_delta((old + delta) % U32, old) == delta


@given(start=u32, steps=steps)
def test_an_unwrapped_clock_never_goes_back_across_wraps(start, steps):
    clock = Unwrapper(start)
    raw, values = start, [clock.value]
    for step in steps:
        raw = (raw + step) % U32
        values.append(clock.advance(raw))
    assert values == sorted(values)  # non-decreasing, however often it wrapped
    assert values[-1] == start + sum(steps)
    assert all(v % U32 == r for v, r in zip(values, _raws(start, steps), strict=True))


def _raws(start: int, steps: list[int]) -> list[int]:
    out = [start]
    for step in steps:
        out.append((out[-1] + step) % U32)
    return out


def test_unwrap_places_a_reading_near_the_anchor_without_moving_it():
    clock = Unwrapper(U32 - 10, 7 * U32 - 10)  # the 8th turn, 10 ticks before it ends
    assert clock.unwrap(5) == 7 * U32 + 5
    assert clock.unwrap(U32 - 20) == 7 * U32 - 20  # a little back: before the wrap
    assert (clock.raw, clock.value) == (U32 - 10, 7 * U32 - 10)
    clock.anchor(5)
    assert (clock.raw, clock.value) == (5, 7 * U32 + 5)
    clock.anchor(100, 42)  # re-anchored by hand (a timeline's first frame)
    assert clock.unwrap(90) == 32


# ---------------------------------------------------------------------- the fitted line


@given(
    ppm=st.floats(-20_000, 20_000),
    offset_s=st.floats(-1e4, 1e4),
    host0_s=st.floats(0, 1e7),  # host monotonic seconds: large after a long uptime
    n=st.integers(3, 120),
    data=st.data(),
)
def test_a_fitted_drift_recovers_a_known_ppm(ppm, offset_s, host0_s, n, data):
    """Pairs from a clock running ``ppm`` fast, each off by up to 50 µs (the halfway
    guess of a round trip): the slope is off by at most what least squares allows."""
    noise_s = 50e-6
    host = host0_s + np.arange(n, dtype=float)  # a PING a second
    jitter = np.array(data.draw(st.lists(st.floats(-noise_s, noise_s), min_size=n, max_size=n)))
    fit = ClockFit()
    for h, e in zip(host, jitter, strict=True):
        fit.add(float(h), offset_s + (1 + ppm * 1e-6) * (h - host0_s) + e)
    x = host - host.mean()
    bound_ppm = noise_s * np.abs(x).sum() / (x * x).sum() * 1e6  # worst case for the slope
    assert fit.drift_ppm() == pytest.approx(ppm, abs=bound_ppm + 0.05)
    t = float(host[-1]) + 10.0
    truth = offset_s + (1 + ppm * 1e-6) * (t - host0_s)
    device_t = fit.device_time(t)
    assert device_t is not None
    assert device_t == pytest.approx(truth, abs=noise_s + (bound_ppm + 0.05) * 1e-6 * (n + 10))


def test_before_three_pairs_the_newest_gives_the_offset_and_no_drift():
    fit = ClockFit()
    assert fit.device_time(5.0) is None and fit.drift_ppm() == 0.0
    fit.add(100.0, 2.0)
    fit.add(101.0, 3.5)
    assert fit.device_time(103.0) == 5.5  # the newest pair, at the host's rate
    assert fit.drift_ppm() == 0.0
    fit.clear()
    assert len(fit) == 0 and fit.device_time(103.0) is None


def test_the_line_rests_on_the_newest_pairs():
    fit = ClockFit(keep=4)
    for h in range(10):
        fit.add(float(h), 0.0 if h < 6 else 2.0 * h)  # a clock that changed its mind
    assert len(fit) == 4
    assert fit.drift_ppm() == pytest.approx(1e6)  # slope 2: only the last four count


@given(
    n=st.integers(6, 120),
    slow_share=st.floats(0.0, 0.49),
    seed=st.integers(0, 2**32 - 1),
)
def test_round_trips_delayed_on_a_busy_host_do_not_move_the_line(n, slow_share, seed):
    """A PING whose thread was held up before it went (a busy host) has a long round trip,
    and its halfway guess is off by up to half of it. Fewer than half the pairs so delayed,
    by up to 20 ms: the line stays within the prompt pairs' error (50 µs round trips, so
    25 µs each), wherever the slow ones fall."""
    host0_s, ppm = 1000.0, 30.0
    rng = np.random.default_rng(seed)
    host_s = host0_s + np.arange(n, dtype=float)
    error_s = rng.uniform(-25e-6, 25e-6, n)
    round_trip_s = np.full(n, 50e-6)
    slow = rng.choice(n, size=min(int(slow_share * n), (n - 1) // 2), replace=False)
    held_s = rng.uniform(1e-3, 20e-3, len(slow))  # held up after the clock was read:
    round_trip_s[slow] += held_s  # sent later than it says
    error_s[slow] = -held_s / 2
    fit = ClockFit()
    for h, e, r in zip(host_s, error_s, round_trip_s, strict=True):
        fit.add(float(h + e), (1 + ppm * 1e-6) * (h - host0_s), float(r))
    t = host0_s + n + 1.0
    device_t = fit.device_time(t)
    assert device_t is not None
    # 25 µs per pair, and the slope's share of it over at most n + 1 seconds
    assert device_t == pytest.approx((1 + ppm * 1e-6) * (t - host0_s), abs=25e-6 * 4)


def test_with_three_pairs_one_held_up_ping_does_not_tilt_the_line():
    """Three round trips, the middle one 10 ms long (its halfway guess 5 ms off): no line
    through it; the newest prompt pair gives the offset until there are enough prompt ones."""
    fit = ClockFit()
    fit.add(100.0, 0.0, 1e-4)
    fit.add(101.0 - 5e-3, 1.0, 10e-3)  # sent 10 ms later than the clock says
    fit.add(102.0, 2.0, 1e-4)
    assert fit.device_time(104.0) == pytest.approx(4.0, abs=1e-9)
    assert fit.drift_ppm() == 0.0
    fit.add(103.0, 3.0, 1e-4)  # four: three prompt ones make a line again
    assert fit.device_time(104.0) == pytest.approx(4.0, abs=1e-9)


@given(
    n=st.integers(3, 12),
    slow=st.integers(0, 11),
    held_s=st.floats(1e-3, 20e-3),
    spacing_s=st.floats(0.01, 0.15),
    ppm=st.floats(-200.0, 200.0),
)
def test_a_burst_of_round_trips_gives_an_offset_from_a_prompt_one_and_no_slope(
    n, slow, held_s, spacing_s, ppm
):
    """The PINGs at the start of a stream, ``spacing_s`` apart (less than MIN_FIT_SPAN_S in
    all), one of them held up on a busy host: the device time comes from a prompt round
    trip (within its 25 µs), at the host's rate, never from a slope through their noise."""
    host0_s = 500.0
    rng = np.random.default_rng(n)
    fit = ClockFit()
    host_s = host0_s + spacing_s * np.arange(n)
    assert host_s[-1] - host_s[0] < MIN_FIT_SPAN_S
    for i, h in enumerate(host_s):
        error_s, round_trip_s = float(rng.uniform(-25e-6, 25e-6)), 50e-6
        if i == slow % n:
            error_s, round_trip_s = -held_s / 2, 50e-6 + held_s
        fit.add(float(h + error_s), (1 + ppm * 1e-6) * (h - host0_s), round_trip_s)
    assert not fit.drift_measured and fit.drift_ppm() == 0.0
    t = float(host_s[-1]) + 0.2  # a sample 0.2 s after the last PING
    device_t = fit.device_time(t)
    assert device_t is not None
    drift_s = abs(ppm) * 1e-6 * (t - host0_s)  # the rate is the host's until measured
    assert device_t == pytest.approx((1 + ppm * 1e-6) * (t - host0_s), abs=25e-6 + drift_s)


def test_the_fit_follows_each_new_pair():
    """The line is kept between calls, and a new pair (from the reader thread) refits it."""
    fit = ClockFit()
    for h in range(5):
        fit.add(float(h), float(h), 1e-4)
    assert fit.device_time(10.0) == pytest.approx(10.0)
    for h in range(5, 20):
        fit.add(float(h), 2.0 * h - 5.0, 1e-4)  # the clock changed its rate
    assert fit.drift_ppm() > 0.5e6
    fit.clear()
    assert fit.device_time(10.0) is None


# ---------------------------------------------------------------------- round trips


def test_a_round_trip_is_timed_halfway_between_ping_and_pong():
    clock = DeviceClock()
    token = clock.ping(host_s=10.0)
    assert clock.pong(token, device_us=3_000_000, host_s=10.2)
    assert clock.waiting and clock.pairs == 0
    clock.place(lambda us: us / 1e6 - 1.0)  # the session began at device second 1
    assert not clock.waiting and clock.pairs == 1
    assert clock.device_time(10.1) == pytest.approx(2.0)
    assert clock.device_time(11.1) == pytest.approx(3.0)


def test_answers_to_no_remembered_ping_are_ignored():
    clock = DeviceClock()
    tokens = [clock.ping(float(i)) for i in range(PINGS_IN_FLIGHT + 1)]
    assert len(set(tokens)) == len(tokens)
    assert not clock.pong(tokens[0], 0, 20.0)  # the oldest was forgotten
    assert not clock.pong(12345, 0, 20.0)  # never sent
    assert clock.pong(tokens[-1], 0, 20.0)
    assert not clock.pong(tokens[-1], 0, 20.0)  # answered twice


def test_answers_before_the_timeline_has_an_origin_wait_the_newest_few():
    clock = DeviceClock()
    for i in range(PONGS_BEFORE_ORIGIN + 4):
        assert clock.pong(clock.ping(float(i)), device_us=i * 1_000_000, host_s=float(i))
    clock.place(lambda us: us / 1e6)
    assert clock.pairs == PONGS_BEFORE_ORIGIN
    assert clock.drift_ppm() == pytest.approx(0.0, abs=1e-6)


def test_a_stamp_the_timeline_cannot_place_is_dropped_and_clear_forgets_the_line():
    clock = DeviceClock()
    for i in range(4):
        clock.pong(clock.ping(float(i)), device_us=i, host_s=float(i))
    clock.place(lambda us: None if us == 2 else float(us))
    assert clock.pairs == 3
    clock.clear()
    assert clock.pairs == 0 and clock.device_time(5.0) is None
