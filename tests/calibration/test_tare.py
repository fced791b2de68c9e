"""Tare: zero at start, manual zero, drift warnings."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from calibration.models import Calibration, CalibrationError, ModelKind, ZeroEvent, ZeroSource
from calibration.tare import ForceTimeline, Tare

CAL = Calibration.factory(4000.0, 120000.0)
RATE_HZ = 1000.0


def unloaded(offset_counts: float, n: int = 500, seed: int = 0, noise: float = 400.0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / RATE_HZ
    return t, (offset_counts + rng.normal(0, noise, n)).astype(np.int32)


def test_zero_at_start_when_unloaded() -> None:
    tare = Tare(CAL)
    t, raw = unloaded(128000)  # zero wandered by +2 N
    assert tare.zero_at_start(t, raw)
    assert tare.shift_counts == pytest.approx(8000, abs=60)
    assert float(np.mean(tare.counts_to_n(raw))) == pytest.approx(0.0, abs=1e-9)
    # gain untouched: 30 N above the new zero reads 30 N
    assert tare.counts_to_n(np.array([128000 + 120000]))[0] == pytest.approx(30.0, abs=0.02)
    eff = tare.effective
    assert eff.offset_counts == pytest.approx(128000, abs=60)
    assert eff.counts_per_n == 4000.0
    assert eff.source == "factory+tare"


def test_no_zero_when_loaded_or_moving() -> None:
    tare = Tare(CAL, auto_zero_limit_n=5.0)
    t, raw = unloaded(120000 + 4000 * 20)  # 20 N on the sensor at start
    assert not tare.zero_at_start(t, raw)
    assert tare.shift_counts == 0.0
    t = np.arange(500) / RATE_HZ
    ramp = (120000 + 4000 * 8 * t).astype(np.int32)  # pressing: 0 → 4 N in 0.5 s
    assert not tare.zero_at_start(t, ramp)
    assert not tare.zero_at_start(t[:5], ramp[:5])  # too few samples to judge
    assert tare.effective is CAL


def test_manual_zero_returns_removed_force() -> None:
    tare = Tare(CAL)
    removed = tare.zero_now(np.full(100, 122000))
    assert removed == pytest.approx(0.5)
    assert tare.counts_to_n(np.array([122000]))[0] == pytest.approx(0.0)
    with pytest.raises(CalibrationError, match="no recent samples"):
        tare.zero_now(np.empty(0))


def test_zero_shifts_counts_for_a_quadratic_model() -> None:
    cal = Calibration(ModelKind.QUADRATIC, (120000.0, 2.5e-4, -2e-10))
    tare = Tare(cal)
    tare.zero_now(np.full(10, 121000))
    f = np.array([0.0, 10.0, 30.0])
    raw = cal.n_to_counts(f) + 1000  # same sensor, zero moved by 1000 counts
    np.testing.assert_allclose(tare.counts_to_n(raw), f, atol=1e-9)
    np.testing.assert_allclose(tare.effective.counts_to_n(raw), f, atol=1e-9)


def test_drift_warns_once_per_excursion(caplog: pytest.LogCaptureFixture) -> None:
    tare = Tare(CAL, drift_limit_n=1.0)
    tare.zero_now(np.full(100, 120000))
    t = np.arange(100) / RATE_HZ
    assert tare.check_drift(t, np.full(100, 120000 + 3000)) is None  # 0.75 N: fine
    with caplog.at_level(logging.INFO, logger="calibration.tare"):
        w = tare.check_drift(t + 10, np.full(100, 120000 + 6000))  # 1.5 N
    assert w is not None
    assert w.drift_n == pytest.approx(1.5)
    assert w.t_s == pytest.approx(10.099)
    assert "drifted +1.50 N" in w.message()
    assert "drifted" in caplog.text
    assert tare.check_drift(t + 20, np.full(100, 120000 + 8000)) is None  # same excursion
    assert tare.check_drift(t + 30, np.full(100, 120000 + 1000)) is None  # back (0.25 N)
    w2 = tare.check_drift(t + 40, np.full(100, 120000 - 6000))
    assert w2 is not None and w2.drift_n == pytest.approx(-1.5)
    tare.zero_now(np.full(100, 120000 - 6000))
    assert tare.check_drift(t + 50, np.full(100, 120000 - 6000)) is None
    assert tare.check_drift(t, np.empty(0)) is None


def test_two_channel_raw_uses_channel_zero() -> None:
    tare = Tare(CAL)
    raw = np.column_stack([np.full(10, 124000), np.full(10, 0)])
    assert tare.zero_now(raw) == pytest.approx(1.0)


# ------------------------------------------------------------ zero events in time


def test_force_timeline_applies_each_zero_from_its_instant_on() -> None:
    t = np.arange(10) / 10.0
    raw = np.full(10, 124000)  # 1 N on the calibration
    timeline = ForceTimeline(CAL)
    timeline.zero_at(0.3, 124000, ZeroSource.AUTO)
    timeline.zero_at(0.7, 128000, ZeroSource.USER)
    f = timeline.counts_to_n(t, raw)
    np.testing.assert_allclose(f, [1, 1, 1, 0, 0, 0, 0, -1, -1, -1])
    assert timeline.removed_n() == pytest.approx([1.0, 1.0])
    assert timeline.current.offset_counts == 128000
    assert timeline.calibration_at(0.5).offset_counts == 124000


def test_zero_events_must_come_in_time_order() -> None:
    timeline = ForceTimeline(CAL)
    timeline.zero_at(2.0, 120100, ZeroSource.USER)
    with pytest.raises(CalibrationError, match="before the previous one"):
        timeline.zero_at(1.0, 120200, ZeroSource.USER)


@given(
    zeros=st.lists(st.tuples(st.floats(0, 10), st.integers(100_000, 140_000)), max_size=5).map(
        lambda z: sorted(z)
    ),
    cut=st.integers(0, 400),
)
def test_force_timeline_block_by_block_equals_whole(zeros, cut) -> None:
    """Live converts block by block, the store whole: bit-identical results."""
    t = np.arange(400) / 40.0
    raw = np.random.default_rng(1).integers(100_000, 200_000, (400, 2))
    timeline = ForceTimeline(CAL, [ZeroEvent(a, float(b), ZeroSource.USER) for a, b in zeros])
    whole = timeline.counts_to_n(t, raw)
    parts = np.concatenate(
        [timeline.counts_to_n(t[:cut], raw[:cut]), timeline.counts_to_n(t[cut:], raw[cut:])]
    )
    assert np.array_equal(whole, parts)
    for k, (z_t, z_c) in enumerate(zeros):
        if k + 1 == len(zeros) or zeros[k + 1][0] > z_t:
            after = (t >= z_t) & (k + 1 == len(zeros) or t < zeros[k + 1][0])
            np.testing.assert_allclose(whole[after], (raw[after] - z_c) / 4000.0)
