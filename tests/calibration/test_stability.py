"""Stability detection on synthetic signals (plain arrays, seeded noise)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calibration.models import CalibrationError
from calibration.stability import StabilityDetector, estimate_noise_counts

RATE_HZ = 1000.0
NOISE = 400.0  # counts (0.1 N at 4000 counts/N)


def staircase(levels: list[float], seconds: float = 3.0, ramp_s: float = 0.3, seed: int = 0):
    """Stacked loads: each level reached by a linear ramp, then held."""
    rng = np.random.default_rng(seed)
    n_level = int(seconds * RATE_HZ)
    n_ramp = int(ramp_s * RATE_HZ)
    parts = [np.full(n_level, levels[0])]
    for prev, nxt in zip(levels[:-1], levels[1:], strict=True):
        parts.append(np.linspace(prev, nxt, n_ramp))
        parts.append(np.full(n_level - n_ramp, nxt))
    x = np.concatenate(parts) + rng.normal(0, NOISE, sum(p.size for p in parts))
    t = np.arange(x.size) / RATE_HZ
    return t, np.round(x).astype(np.int32)


def feed_in_blocks(det: StabilityDetector, t, x, block: int):
    out = []
    for i in range(0, x.size, block):
        out.append(det.feed(t[i : i + block], x[i : i + block]))
    return out


def test_bound_follows_noise_and_window() -> None:
    det = StabilityDetector(NOISE, window_s=1.0, rate_hz=RATE_HZ)
    assert det.m == 100 and det.sub_blocks == 10
    assert det.bound_counts == pytest.approx(6 * NOISE / 10 + 1)
    slow = StabilityDetector(NOISE, window_s=1.0, rate_hz=10.0)  # HX711 at 10 Hz
    assert slow.m == 1 and slow.sub_blocks == 10
    assert slow.bound_counts == pytest.approx(6 * NOISE + 1)


@pytest.mark.parametrize("block", [1000, 37, 20000])
def test_one_plateau_per_level_whatever_the_block_size(block: int) -> None:
    levels = [120000.0, 139613.3, 159226.6, 198453.2]  # 0, 0.5, 1, 2 kg at 4000 counts/N
    t, x = staircase(levels)
    det = StabilityDetector(NOISE, window_s=1.0, rate_hz=RATE_HZ)
    feed_in_blocks(det, t, x, block)
    plateaus = det.pop_plateaus()
    assert len(plateaus) == len(levels)
    values = np.array([p.value_counts for p in plateaus])
    # window mean of 1000 samples: standard error 400/√1000 ≈ 13 counts
    np.testing.assert_allclose(values, levels, atol=60)
    assert all(p.new_plateau for p in plateaus)
    assert all(p.spread_counts <= p.bound_counts for p in plateaus)
    # the first window that fits, 1 s of samples; later ones only once the ramp (0.3 s)
    # has (almost) left the window, and within a few sub-blocks after that
    assert plateaus[0].t_s == pytest.approx(0.999)
    for i, p in enumerate(plateaus[1:], start=1):
        settled_s = 3.0 * i + 0.3
        assert settled_s + 1.0 - 0.02 <= p.t_s <= settled_s + 1.0 + 0.25
    assert det.pop_plateaus() == []


def test_std_and_stderr_reflect_noise() -> None:
    t, x = staircase([5000.0], seconds=2.0)
    det = StabilityDetector(NOISE, rate_hz=RATE_HZ)
    reading = det.feed(t, x)
    assert reading is not None
    assert reading.std_counts == pytest.approx(NOISE, rel=0.1)
    assert reading.stderr_counts == pytest.approx(NOISE / np.sqrt(1000), rel=0.1)
    assert reading.n_samples == 1000


def test_slow_creep_is_not_stable() -> None:
    # creeping 1 N/s (4000 counts/s): spread over 1 s far above the 241-count bound
    t = np.arange(5000) / RATE_HZ
    x = 120000 + 4000 * t + np.random.default_rng(2).normal(0, NOISE, t.size)
    det = StabilityDetector(NOISE, rate_hz=RATE_HZ)
    assert det.feed(t, x) is None
    assert det.pop_plateaus() == []
    assert det.progress < 0.5


def test_progress_rises_while_settling() -> None:
    t, x = staircase([0.0, 80000.0], seconds=3.0)
    det = StabilityDetector(NOISE, rate_hz=RATE_HZ)
    seen = []
    for i in range(0, x.size, 100):
        det.feed(t[i : i + 100], x[i : i + 100])
        seen.append((t[i], det.progress))
    during_ramp = [p for ts, p in seen if 3.0 <= ts < 3.3]
    after = [p for ts, p in seen if 3.3 <= ts < 4.6]
    assert max(during_ramp) <= 0.2
    assert after == sorted(after)  # monotonic while the new load settles
    assert seen[-1][1] == 1.0
    assert all(0.0 <= p <= 1.0 for _, p in seen)


def test_restart_forgets_the_history() -> None:
    t, x = staircase([1000.0], seconds=3.0)
    det = StabilityDetector(NOISE, rate_hz=RATE_HZ)
    feed_in_blocks(det, t[:2000], x[:2000], 1000)
    assert det.current is not None and det.progress == 1.0
    det.restart()
    assert det.current is None and det.progress == 0.0
    det.feed(t[2000:2500], x[2000:2500])  # half a window: not enough on its own
    assert det.current is None
    det.feed(t[2500:], x[2500:])
    assert det.current is not None


def test_multichannel_uses_selected_channel() -> None:
    t, x = staircase([1000.0], seconds=2.0)
    wobble = (20000 * np.sin(2 * np.pi * 2 * t)).astype(np.int32)
    raw = np.column_stack([wobble, x])
    assert StabilityDetector(NOISE, rate_hz=RATE_HZ, channel=0).feed(t, raw) is None
    assert StabilityDetector(NOISE, rate_hz=RATE_HZ, channel=1).feed(t, raw) is not None


def test_empty_block_and_mismatched_lengths() -> None:
    det = StabilityDetector(NOISE, rate_hz=RATE_HZ)
    assert det.feed(np.empty(0), np.empty(0)) is None
    with pytest.raises(ValueError, match="t_s has 3 samples, raw has 2"):
        det.feed(np.zeros(3), np.zeros(2))


def test_bad_parameters_refused() -> None:
    with pytest.raises(CalibrationError, match="noise_counts"):
        StabilityDetector(-1.0)
    with pytest.raises(CalibrationError, match="rate_hz"):
        StabilityDetector(1.0, rate_hz=0.0)


def test_estimate_noise_ignores_steps_and_ramps() -> None:
    t, x = staircase([0.0, 50000.0, 100000.0], seconds=2.0, seed=5)
    assert estimate_noise_counts(x) == pytest.approx(NOISE, rel=0.08)
    with pytest.raises(CalibrationError, match="at least 3 samples"):
        estimate_noise_counts(np.zeros(2))


@given(cuts=st.lists(st.integers(1, 11999), max_size=25, unique=True))
@settings(max_examples=60)
def test_plateaus_do_not_depend_on_how_blocks_are_cut(cuts: list[int]) -> None:
    t, x = staircase([120000.0, 140000.0, 160000.0, 200000.0], seed=7)
    whole = StabilityDetector(NOISE, rate_hz=RATE_HZ)
    whole.feed(t, x)
    expected = whole.pop_plateaus()
    split = StabilityDetector(NOISE, rate_hz=RATE_HZ)
    edges = [0, *sorted(cuts), x.size]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        split.feed(t[a:b], x[a:b])
    got = split.pop_plateaus()
    assert len(got) == len(expected) == 4
    for g, e in zip(got, expected, strict=True):
        assert g.t_s == e.t_s
        assert g.value_counts == pytest.approx(e.value_counts, rel=1e-12)
        assert g.std_counts == pytest.approx(e.std_counts, rel=1e-9)
    assert split.progress == whole.progress
