from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from logger.config import Config, PptConfig
from logger.ppt import (
    PptPoint,
    PptSettings,
    live_rate_n_per_s,
    ppt_change,
    ppt_points,
    ppt_trials,
    rate_band,
)
from logger.records import (
    Mark,
    MarkSource,
    Point,
    ProtocolEvent,
    ProtocolKind,
    Signal,
)

RATE_HZ = 100.0
POINTS = [Point(0, "Upper trapezius L"), Point(1, "Upper trapezius R", max_n=45.0)]


def ramps(specs: list[tuple[float, float, float]], rest_s: float = 2.0):
    """Contacts (rate N/s, peak N, release s) from rest: linear up, linear down.
    Returns t, f and each contact's (t at 0 N, t at peak)."""
    t_parts, f_parts, times = [], [], []
    t0 = 0.0
    dt = 1 / RATE_HZ
    for rate, peak, release in specs:
        rise_s = peak / rate
        seg_t = np.arange(0, rest_s + rise_s + release + rest_s, dt)
        f = np.interp(seg_t, [0, rest_s, rest_s + rise_s, rest_s + rise_s + release],
                      [0, 0, peak, 0])  # fmt: skip
        t_parts.append(t0 + seg_t)
        f_parts.append(f)
        times.append((t0 + rest_s, t0 + rest_s + rise_s))
        t0 += seg_t[-1] + dt
    return np.concatenate(t_parts), np.concatenate(f_parts), times


def signal(t_s: float) -> Signal:
    return Signal(t_s, MarkSource.KEYBOARD)


@given(
    rate=st.floats(1.0, 40.0),
    ppt=st.floats(8.0, 55.0),
)
def test_a_ramp_gives_its_force_at_the_signal_and_its_rate_back(rate, ppt):
    cfg = Config(ppt=PptConfig(rate_n_per_s=rate))
    t, f, ((t_zero, _),) = ramps([(rate, 60.0, 1.0)])
    sig_t = t_zero + ppt / rate
    (trial,) = ppt_trials(t, f, [signal(sig_t)], [], [], POINTS, cfg)
    # the ramp is linear between samples: interpolation is exact to rounding
    assert trial.ppt_n == pytest.approx(ppt, rel=1e-6)
    assert trial.rate_n_per_s == pytest.approx(rate, rel=1e-6)
    assert trial.rate_error_pct == pytest.approx(0.0, abs=1e-4)
    assert trial.start_s == pytest.approx(t_zero + cfg.holds.onset_n / rate, rel=1e-9)
    assert trial.end_s == sig_t
    assert trial.ppt_kpa == pytest.approx(ppt * 10.0)  # 1 cm² when no area is set
    assert trial.round == "pre" and trial.point == "(no point)"
    assert not trial.excluded and trial.reason == ""


@given(target=st.floats(2.0, 20.0), factor=st.floats(0.3, 3.0), tol=st.floats(5.0, 50.0))
def test_rate_error_has_the_sign_and_size_of_the_stray(target, factor, tol):
    cfg = Config(ppt=PptConfig(rate_n_per_s=target, tolerance_pct=tol))
    rate = target * factor
    t, f, ((t_zero, _),) = ramps([(rate, 50.0, 1.0)])
    (trial,) = ppt_trials(t, f, [signal(t_zero + 30.0 / rate)], [], [], POINTS, cfg)
    assert trial.rate_error_pct == pytest.approx((factor - 1) * 100, abs=1e-3)
    stray = abs(factor - 1) * 100 > tol + 1e-3
    if stray or abs(factor - 1) * 100 < tol - 1e-3:
        assert trial.rate_ok is not stray
        assert trial.excluded is stray
        assert trial.reason == ("rate" if stray else "")
    lo, hi = rate_band(PptSettings.from_config(cfg))
    assert lo == pytest.approx(target * (1 - tol / 100)) and hi == pytest.approx(
        target * (1 + tol / 100)
    )


@given(
    rates=st.lists(st.sampled_from([5.0, 5.2, 2.0, 9.0]), min_size=1, max_size=8),
    trials=st.integers(2, 4),
    drop_first=st.booleans(),
    exclude_stray=st.booleans(),
)
def test_exclusions_add_up(rates, trials, drop_first, exclude_stray):
    ppt = PptConfig(rate_n_per_s=5.0, trials=trials, drop_first=drop_first,
                    exclude_stray=exclude_stray)  # fmt: skip
    cfg = Config(ppt=ppt, points=POINTS)
    t, f, times = ramps([(r, 30.0, 0.5) for r in rates])
    sigs = [signal(tz + 20.0 / r) for (tz, _), r in zip(times, rates, strict=True)]
    result = ppt_trials(t, f, sigs, [], [], POINTS, cfg)
    assert len(result) == len(rates)
    assert [tr.index for tr in result] == list(range(len(rates)))
    assert all(a.end_s < b.start_s for a, b in zip(result, result[1:], strict=False))
    (point,) = ppt_points(result, PptSettings.from_config(cfg))
    excluded = [tr for tr in result if tr.excluded]
    assert point.used + len(excluded) == point.trials == len(rates)
    assert point.used <= trials - drop_first
    assert all(tr.excluded == bool(tr.reason) for tr in result)
    assert (result[0].reason == "first") is drop_first
    if exclude_stray:
        assert all(tr.rate_ok for tr in result if not tr.excluded)
    kept = [tr.ppt_n for tr in result if not tr.excluded]
    assert point.ppt_n == (pytest.approx(np.mean(kept)) if kept else None)


def test_points_rounds_and_max_stops():
    """Marks pick the point, ROUND events the round; a ramp to max without a signal in a
    PPT round is a trial stopped at max (its point's own max_n); a signal below onset, a
    second signal in one contact and a signal after the round ended make no trial."""
    cfg = Config(points=POINTS)
    t, f, times = ramps([(5.0, 30.0, 1.0), (5.0, 50.0, 1.0), (5.0, 30.0, 1.0), (5.0, 30.0, 1)])
    marks = [Mark(0.0, 0, MarkSource.DEVICE), Mark(times[1][0] - 1, 1, MarkSource.DEVICE)]
    rounds = [
        ProtocolEvent(0.0, ProtocolKind.ROUND, {"label": "pre"}),
        ProtocolEvent(times[2][0] - 1, ProtocolKind.ROUND, {"label": "post"}),
        ProtocolEvent(times[3][0] - 1, ProtocolKind.ROUND, {"label": ""}),
    ]
    sigs = [
        signal(0.5),  # nothing pressed
        signal(times[0][0] + 4.0),  # 20 N
        signal(times[0][0] + 5.0),  # the same contact again
        signal(times[2][0] + 4.4),  # 22 N, post, point 1
        signal(times[3][0] + 4.0),  # PPT ended
    ]
    result = ppt_trials(t, f, sigs, marks, rounds, POINTS, cfg)
    assert [(tr.point, tr.round, tr.stopped_at_max, tr.reason) for tr in result] == [
        ("Upper trapezius L", "pre", False, ""),
        ("Upper trapezius R", "pre", True, "max"),
        ("Upper trapezius R", "post", False, ""),
    ]
    assert result[0].ppt_n == pytest.approx(20.0)
    assert result[1].ppt_n is None and result[1].end_s == pytest.approx(times[1][0] + 9.0)
    assert result[1].rate_n_per_s == pytest.approx(5.0)
    assert result[2].ppt_n == pytest.approx(22.0)


def test_a_contact_without_a_known_start_is_flagged():
    cfg = Config()
    t = np.arange(0, 5, 0.01)
    f = 10.0 + t  # pressed before the recording began
    (trial,) = ppt_trials(t, f, [signal(2.0)], [], [], [], cfg)
    assert trial.rate_n_per_s is None and not trial.rate_ok
    assert trial.excluded and trial.reason == "rate"
    assert trial.ppt_n == pytest.approx(12.0)


def _points(values: list[float | None]) -> list[PptPoint]:
    return [
        PptPoint(i, f"P{i}", "pre", 3, 3, v, None if v is None else v * 10, None)
        for i, v in enumerate(values)
    ]


@given(st.lists(st.none() | st.floats(1.0, 100.0), max_size=5))
def test_change_of_identical_rounds_is_zero(values):
    for c in ppt_change(_points(values), _points(values)):
        if c.pre_kpa is None:
            assert c.change_kpa is None and c.change_pct is None
        else:
            assert c.change_kpa == 0.0 and c.change_pct == 0.0


@given(pre=st.floats(1.0, 100.0), post=st.floats(1.0, 100.0))
def test_change_pct_is_change_over_pre_matched_by_name(pre, post):
    a = PptPoint(0, "Upper Trapezius  L", "pre", 3, 3, pre / 10, pre, None)
    b = PptPoint(4, "upper trapezius L", "post", 3, 2, post / 10, post, 1.0)
    only_post = PptPoint(5, "Other", "post", 1, 1, 2.0, 20.0, None)
    c, d = ppt_change([a], [b, only_post])
    assert c.change_kpa == pytest.approx(post - pre)
    assert c.change_pct == pytest.approx((post - pre) / pre * 100)
    assert (c.pre_n, c.post_n) == (a.ppt_n, b.ppt_n)
    assert (d.point, d.pre_kpa, d.post_kpa, d.change_kpa) == ("Other", None, 20.0, None)


def test_settings_from_config_convert_kpa_and_area():
    s = PptSettings.from_config(Config(contact_area_cm2=0.5))
    assert s.rate_kpa_per_s == 50.0 and s.rate_n_per_s == pytest.approx(2.5)
    s = PptSettings.from_config(Config(ppt=PptConfig(rate_n_per_s=8.0)))
    assert s.rate_n_per_s == 8.0 and s.rate_kpa_per_s == pytest.approx(80.0)


@given(slope=st.floats(-50.0, 50.0), noise=st.integers(0, 2**32 - 1))
def test_live_rate_is_the_slope_of_the_last_window(slope, noise):
    t = np.arange(0, 2, 0.001)
    f = np.where(t < 1.5, 3.0, 3.0 + slope * (t - 1.5))
    f = f + np.random.default_rng(noise).normal(0, 0.01, len(t))
    assert live_rate_n_per_s(t, f, 0.3) == pytest.approx(slope, abs=0.2)
    assert live_rate_n_per_s(t[:1], f[:1]) is None
