"""The device model: deterministic physics advanced in explicit steps (no bytes)."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_protocol.messages import INT24_MAX
from firmware_protocol.sim.model import DeviceModel
from firmware_protocol.sim.scenario import load_scenario
from firmware_protocol.sim.spec import G_M_PER_S2, Action


def run(model: DeviceModel, steps_s: list[float]) -> tuple[np.ndarray, np.ndarray, list[float]]:
    raws, forces, marks = [], [], []
    for dt in steps_s:
        c = model.process(dt)
        raws.append(c.raw)
        forces.append(c.force_n)
        assert model.scenario_start_us is not None
        marks += [(e.t_us - model.scenario_start_us) / 1e6 for e in c.events]
    return np.concatenate(raws), np.concatenate(forces), marks


def started(name: str, **overrides) -> DeviceModel:
    m = DeviceModel(load_scenario(name).with_overrides(**overrides))
    m.start_scenario()
    return m


def test_same_seed_same_samples_whatever_the_step_sizes():
    a_raw, _, a_marks = run(started("demo"), [12.0])
    rng = np.random.default_rng(5)
    steps = list(rng.uniform(0.0001, 0.7, size=25))
    steps.append(12.0 - sum(steps))
    b_raw, _, b_marks = run(started("demo"), steps)
    n = min(len(a_raw), len(b_raw))
    assert abs(len(a_raw) - len(b_raw)) <= 1 and n > 11_000
    np.testing.assert_array_equal(a_raw[:n], b_raw[:n])
    assert a_marks == b_marks == [3.0]
    c_raw, _, _ = run(started("demo", seed=2), [12.0])
    assert not np.array_equal(a_raw[:n], c_raw[:n])


def test_sample_clock_counts_from_power_on():
    m = DeviceModel(load_scenario("demo"))
    m.process(2.5)  # idle: the ADC samples anyway
    assert m.next_index == 2501  # samples at 0.000 … 2.500 s
    m.start_scenario()
    assert m.scenario_start_us == 2_501_000
    c = m.process(0.1)
    assert c.first_index == 2501 and int(c.t_us[0]) == 2_501_000


def test_plateau_means_match_the_script_within_one_percent():
    s = load_scenario("demo")
    m = started("demo")
    raw, true_f, _ = run(m, [s.duration_s])
    force = (raw[:, 0] - s.device.offset_counts) / s.device.counts_per_n
    t = np.arange(len(force)) / s.device.rate_hz
    t0 = 0.0
    checked = 0
    for step in s.steps:
        if step.action is Action.HOLD:
            a = t0 + step.ramp_s + 0.5
            b = t0 + step.ramp_s + step.seconds - 0.5
            sel = (t >= a) & (t <= b)
            scripted = step.force_n + step.drift_n_per_s * (t[sel] - t0 - step.ramp_s)
            assert force[sel].mean() == pytest.approx(scripted.mean(), rel=0.01)
            # what varies around the script is tremor + noise, nothing else
            resid = force[sel] - scripted
            assert resid.std() < 0.5
            checked += 1
        t0 += step.duration_s
    assert checked == 5
    assert np.abs(force - true_f).max() < 1.0  # noise only (0.1 N sd)


def test_tremor_is_in_the_8_to_12_hz_band():
    s = load_scenario("demo").with_overrides(noise_n=0.0)
    m = DeviceModel(s)
    m.start_scenario()
    raw, _, _ = run(m, [38.0])
    force = (raw[:, 0] - s.device.offset_counts) / s.device.counts_per_n
    seg = force[10_000:36_000]  # inside the 30 s hold of point 1
    seg = seg - np.polyval(np.polyfit(np.arange(seg.size), seg, 1), np.arange(seg.size))
    spec = np.abs(np.fft.rfft(seg))
    freqs = np.fft.rfftfreq(seg.size, 1 / s.device.rate_hz)
    peak_hz = freqs[np.argmax(spec)]
    assert 8.0 <= peak_hz <= 12.0
    band = (freqs >= 7.5) & (freqs <= 12.5)
    assert (spec[band] ** 2).sum() > 0.9 * (spec**2).sum()
    assert 0.2 < seg.std() * np.sqrt(2) < 0.4  # amplitude tremor_n = 0.3 N


def test_no_tremor_and_no_force_at_rest():
    s = load_scenario("demo").with_overrides(noise_n=0.0)
    m = DeviceModel(s)
    m.start_scenario()
    raw, _, _ = run(m, [2.9])
    assert np.all(raw == s.device.offset_counts)  # quantised zero, exactly


def test_zero_drift_moves_the_unloaded_reading_and_not_the_true_force():
    s = load_scenario("demo").with_overrides(noise_n=0.0, zero_drift_n_per_s=0.02)
    m = DeviceModel(s)
    m.start_scenario()
    raw, force, _ = run(m, [2.9])
    t = np.arange(raw.shape[0]) / s.device.rate_hz
    reading_n = (raw[:, 0] - s.device.offset_counts) / s.device.counts_per_n
    np.testing.assert_allclose(reading_n, 0.02 * t, atol=0.5 / s.device.counts_per_n)
    assert np.all(force == 0.0)  # ground truth: nothing presses


def test_stacked_loads_give_m_times_g():
    s = load_scenario("calibration")
    m = started("calibration")
    raw, _, _ = run(m, [s.duration_s])
    force = (raw[:, 0] - s.device.offset_counts) / s.device.counts_per_n
    t = np.arange(len(force)) / s.device.rate_hz
    for (a, b), mass in zip([(6.0, 10.0), (11.5, 15.0), (17.0, 20.5)], [0.5, 1.0, 2.0],
                            strict=True):  # fmt: skip
        sel = (t >= a) & (t <= b)
        assert force[sel].mean() == pytest.approx(mass * G_M_PER_S2, rel=0.005)
    assert abs(force[(t > 1) & (t < 4.5)].mean()) < 0.01
    assert abs(force[t > s.duration_s - 2].mean()) < 0.01  # weights taken off


def test_adc_saturates_at_the_int24_range():
    s = load_scenario("stress")
    m = started("stress")
    saw_sat = False
    raw_max = 0
    while not m.scenario_done:
        c = m.process(0.5)
        saw_sat |= bool(c.saturated.any())
        raw_max = max(raw_max, int(c.raw.max(initial=0)))
    assert saw_sat and raw_max == INT24_MAX
    assert c.raw.shape[1] == s.device.channels == 8


def test_set_rate_keeps_indices_continuous():
    m = started("demo")
    m.process(1.0)
    nxt = m.next_index
    m.set_rate(250)
    c = m.process(1.0)
    assert c.first_index == nxt
    assert np.all(np.diff(c.t_us) == 4000)
    assert 249 <= c.count <= 251


def test_profile_breakpoints_follow_the_steps():
    p = load_scenario("demo").script()
    hand, load = p.forces(np.array([0.0, 3.4, 20.0, 153.0]))
    assert hand[0] == 0 and hand[1] == pytest.approx(12.0)  # the palpation press peak
    assert 28 < hand[2] < 30 and hand[3] == 0
    assert np.all(load == 0)


def test_a_looping_scenario_starts_over_with_other_forces_and_never_ends():
    scenario = load_scenario("demo")
    model = DeviceModel(scenario, loop=True)
    model.start_scenario()
    rounds = [model.process(scenario.duration_s) for _ in range(3)]
    assert not model.scenario_done
    marks_per_round = len(scenario.mark_times_s())
    assert [len(c.events) for c in rounds] == [marks_per_round] * 3  # the points come again
    peaks = [float(c.force_n.max()) for c in rounds]
    plain = DeviceModel(scenario)
    plain.start_scenario()
    assert peaks[0] == pytest.approx(float(plain.process(scenario.duration_s).force_n.max()))
    assert len({round(p, 1) for p in peaks}) == 3  # each round presses differently
    for p in peaks[1:]:
        assert abs(p / peaks[0] - 1.0) <= 0.16


def test_a_rig_places_masses_whatever_the_script_says():
    model = DeviceModel(load_scenario("calibration"))
    model.start_scenario()
    model.process(1.0)  # the script rests
    for mass_kg in (0.5, 2.0, 0.0):
        model.place_mass(mass_kg)
        chunk = model.process(1.0)
        settled = chunk.force_n[chunk.t_us >= chunk.t_us[0] + 0.4e6]
        np.testing.assert_allclose(settled, mass_kg * G_M_PER_S2, atol=1e-9)
