"""The calibration procedure on raw counts from the simulator's device model (no bytes).

The acceptance case of issue 4, without the wire: a device whose factory gain is 7.5 % off
and whose zero is off; calibrating with stacked masses makes a 30 N hold read 30 N within
0.5 %, while the factory calibration reads it ~7.5 % off.
"""

from __future__ import annotations

import numpy as np
import pytest

from calibration.models import Calibration, CalibrationError, ModelKind
from calibration.procedure import CalibrationProcedure, parse_masses
from firmware_protocol.sim.model import DeviceModel
from firmware_protocol.sim.scenario import parse_scenario
from tests.scenarios import DEVICE, HOLD, STACKED, TRUE_GAIN, TRUE_ZERO


def run_model(text: str, step_s: float = 0.05):
    """All samples of a scenario as (t_s, raw, true_force_n), in device-sized steps."""
    model = DeviceModel(parse_scenario(text, "test.toml", "test"))
    model.start_scenario()
    ts, raws, forces = [], [], []
    while not model.scenario_done:
        chunk = model.process(step_s)
        ts.append(model.scenario_time_s(chunk.t_us))
        raws.append(chunk.raw)
        forces.append(chunk.force_n)
    return np.concatenate(ts), np.concatenate(raws), np.concatenate(forces)


def factory() -> Calibration:
    return Calibration.factory(TRUE_GAIN * 1.075, TRUE_ZERO + 6000)


def feed_all(proc: CalibrationProcedure, t, raw, block: int = 50):
    for i in range(0, t.size, block):
        proc.feed(t[i : i + block], raw[i : i + block])
        if proc.done:
            break


@pytest.mark.parametrize("block", [50, 4000])
def test_auto_calibration_fixes_a_wrong_factory_gain(block: int) -> None:
    t, raw, _ = run_model(STACKED)
    proc = CalibrationProcedure([0, 0.5, 1, 2], 1000.0, auto=True, factory=factory())
    feed_all(proc, t, raw, block)
    assert proc.done
    assert [p.mass_kg for p in proc.accepted] == [0.0, 0.5, 1.0, 2.0]
    fit = proc.fit()
    assert fit.model is ModelKind.LINEAR
    assert fit.calibration.counts_per_n == pytest.approx(TRUE_GAIN, rel=0.002)
    assert fit.calibration.offset_counts == pytest.approx(TRUE_ZERO, abs=40)
    assert fit.nonlinearity_pct_fs < 0.2
    assert proc.noise_counts == pytest.approx(0.1 * TRUE_GAIN, rel=0.1)

    # a recorded 30 N hold on the same device
    t, raw, true_n = run_model(HOLD)
    plateau = (t > 3.0) & (t < 11.0)
    assert np.mean(true_n[plateau]) == pytest.approx(30.0, abs=0.05)
    calibrated = float(np.mean(fit.calibration.counts_to_n(raw[plateau, 0])))
    uncalibrated = float(np.mean(factory().counts_to_n(raw[plateau, 0])))
    assert calibrated == pytest.approx(30.0, rel=0.005)
    # factory: gain 7.5 % high and zero 6000 counts (1.5 N) high → reads ~7.5 % low
    assert uncalibrated / 30.0 - 1.0 == pytest.approx(1 / 1.075 - 1 - 6000 / 4300 / 30, abs=0.005)
    assert abs(uncalibrated / 30.0 - 1.0) > 0.07


def test_auto_skips_a_plateau_that_did_not_change() -> None:
    # the 0.5 kg step is repeated as 0.5 → 0.5 (a re-stabilised bump) before 1 kg arrives
    text = DEVICE + "".join(
        f'\n[[steps]]\naction = "load"\nmass_kg = {m}\nseconds = 2.5\n'
        for m in (0.0, 0.5, 0.5001, 1.0)
    )
    t, raw, _ = run_model(text)
    proc = CalibrationProcedure([0, 0.5, 1], 1000.0, auto=True, factory=factory())
    feed_all(proc, t, raw, 100)
    assert proc.done
    values = [p.reading.value_counts for p in proc.accepted]
    assert values[2] - values[1] == pytest.approx(0.5 * 9.80665 * TRUE_GAIN, rel=0.01)


def test_auto_skips_a_plateau_in_the_wrong_direction() -> None:
    # weights taken off in between (rest) must not be taken for the next heavier mass
    text = (
        DEVICE
        + '\n[[steps]]\naction = "rest"\nseconds = 2.0\n'
        + '\n[[steps]]\naction = "load"\nmass_kg = 1.0\nseconds = 2.5\n'
        + '\n[[steps]]\naction = "rest"\nseconds = 2.5\n'
        + '\n[[steps]]\naction = "load"\nmass_kg = 2.0\nseconds = 2.5\n'
    )
    t, raw, _ = run_model(text)
    proc = CalibrationProcedure([0, 1, 2], 1000.0, auto=True, factory=factory())
    feed_all(proc, t, raw, 100)
    assert proc.done
    fit = proc.fit()
    assert fit.calibration.counts_per_n == pytest.approx(TRUE_GAIN, rel=0.003)


def test_never_settling_load_times_out() -> None:
    text = DEVICE + '\n[[steps]]\naction = "hold"\nforce_n = 20\nseconds = 12\nramp_s = 1\n'
    text = text.replace("[device]", "[therapist]\ntremor_n = 2.0\n\n[device]")
    t, raw, _ = run_model(text)
    proc = CalibrationProcedure([0, 1], 1000.0, auto=True, timeout_s=5.0, factory=factory())
    with pytest.raises(CalibrationError) as info:
        feed_all(proc, t[1500:], raw[1500:], 100)  # starts with the hand on (tremor)
    assert str(info.value) == "mass 0 kg (point 1 of 2): load never settled within 5 s"
    assert not proc.accepted


def test_auto_times_out_when_the_next_mass_never_comes() -> None:
    text = DEVICE + '\n[[steps]]\naction = "rest"\nseconds = 8.0\n'
    t, raw, _ = run_model(text)
    proc = CalibrationProcedure([0, 1], 1000.0, auto=True, timeout_s=4.0)
    with pytest.raises(
        CalibrationError,
        match=r"mass 1 kg \(point 2 of 2\): no new stable load "
        r"within 4 s \(reading still at the 0 kg level\)",
    ):
        feed_all(proc, t, raw, 100)
    assert len(proc.accepted) == 1


def test_guided_accepts_on_enter_only_when_stable_and_changed() -> None:
    t, raw, _ = run_model(STACKED)
    proc = CalibrationProcedure([0, 0.5], 1000.0, auto=False, factory=factory())
    with pytest.raises(CalibrationError, match="not settled yet"):
        proc.accept_current()
    sel = t < 1.9  # unloaded
    feed_all(proc, t[sel], raw[sel], 100)
    assert proc.progress == 1.0
    assert proc.current_force_n() == pytest.approx((TRUE_ZERO - TRUE_ZERO - 6000) / 4300, abs=0.5)
    p0 = proc.accept_current()
    assert p0.mass_kg == 0.0 and not proc.done
    with pytest.raises(CalibrationError, match="reading unchanged since 0 kg"):
        proc.accept_current()
    sel = (t >= 1.9) & (t < 2.15)  # during the 0.5 kg ramp
    feed_all(proc, t[sel], raw[sel], 50)
    assert proc.progress < 0.5
    sel = (t >= 2.15) & (t < 4.5)
    feed_all(proc, t[sel], raw[sel], 50)
    p1 = proc.accept_current()
    assert proc.done and p1.mass_kg == 0.5
    fit = proc.fit()
    assert fit.calibration.counts_per_n == pytest.approx(TRUE_GAIN, rel=0.005)
    with pytest.raises(CalibrationError, match="already accepted"):
        proc.accept_current()


def test_guided_undo_takes_back_the_last_reading() -> None:
    """The wizard's flow: feed, watch progress/stable, accept_current, undo, fit."""
    t, raw, _ = run_model(STACKED)
    proc = CalibrationProcedure([0, 0.5, 1], 1000.0, auto=False, factory=factory())
    with pytest.raises(CalibrationError, match="nothing to undo"):
        proc.undo()
    feed_all(proc, t[t < 1.9], raw[t < 1.9], 100)
    assert proc.stable is not None
    proc.accept_current()
    sel = (t >= 2.15) & (t < 3.5)
    feed_all(proc, t[sel], raw[sel], 100)
    wrong = proc.accept_current()
    assert wrong.mass_kg == 0.5

    undone = proc.undo()
    assert undone is wrong
    assert [p.mass_kg for p in proc.accepted] == [0.0]
    assert proc.current_mass_kg == 0.5
    assert proc.stable is None and proc.progress == 0.0  # must settle anew
    with pytest.raises(CalibrationError, match="not settled yet"):
        proc.accept_current()
    sel = (t >= 3.5) & (t < 4.9)
    feed_all(proc, t[sel], raw[sel], 100)
    assert proc.stable is not None
    again = proc.accept_current()
    assert again.mass_kg == 0.5 and again.index == 1
    assert again.reading.t_s > wrong.reading.t_s
    with pytest.raises(CalibrationError, match="reading unchanged since 0.5 kg"):
        proc.accept_current()
    sel = (t >= 5.3) & (t < 7.9)
    feed_all(proc, t[sel], raw[sel], 100)
    assert proc.accept_current().mass_kg == 1.0 and proc.done
    assert proc.fit().calibration.counts_per_n == pytest.approx(TRUE_GAIN, rel=0.005)


def test_fit_before_done_refused() -> None:
    proc = CalibrationProcedure([0, 1], 1000.0, noise_counts=10.0)
    with pytest.raises(CalibrationError, match="only 0 of 2 masses accepted"):
        proc.fit()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("0", "at least 2 distinct masses"),
        ("0,0.5,0.5", "repeated"),
        ("0,-1", "negative"),
        ("0,abc", "'abc' (entry 2) is not a number"),
        ("0,,1", "empty entry"),
        ("0,nan", "not finite"),
        ("0.5,1,2", "first mass is '0.5', must be 0"),
        ("1,0.5", "first mass is '1', must be 0"),
        ("0,1,0.5", "'0.5' (entry 3) is not more than '1' (entry 2)"),
        ("0,2,1,3", "'1' (entry 3) is not more than '2' (entry 2)"),
    ],
)
def test_parse_masses_errors(text: str, needle: str) -> None:
    with pytest.raises(CalibrationError) as info:
        parse_masses(text)
    assert needle in str(info.value)
    assert str(info.value).startswith("--masses-kg")


def test_parse_masses_ok() -> None:
    assert parse_masses("0, 0.5,1,2") == [0.0, 0.5, 1.0, 2.0]
    assert parse_masses("0.0,0.1") == [0.0, 0.1]


@pytest.mark.parametrize(
    ("masses", "needle"),
    [([0.5, 1, 2], "first mass is 0.5, must be 0"), ([0, 1, 0.5], "0.5 (entry 3)")],
)
def test_procedure_refuses_unstacked_masses(masses: list[float], needle: str) -> None:
    """The GUI and scripts build procedures directly: the same stacked-weights rule."""
    with pytest.raises(CalibrationError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        CalibrationProcedure(masses, 1000.0)


def test_guided_enter_while_settling_accepts_when_settled() -> None:
    text = DEVICE + '\n[[steps]]\naction = "rest"\nseconds = 2.0\n'
    text += '\n[[steps]]\naction = "load"\nmass_kg = 0.5\nseconds = 8.0\n'
    t, raw, _ = run_model(text)
    proc = CalibrationProcedure([0, 0.5, 1], 1000.0, auto=False, factory=factory())
    sel = t < 1.5
    feed_all(proc, t[sel], raw[sel], 100)
    assert proc.request_accept() is not None  # 0 kg, settled: at once
    assert proc.request_accept() is None  # 0.5 kg not on yet: armed
    assert proc.waiting
    sel = (t >= 1.5) & (t < 4.9)
    feed_all(proc, t[sel], raw[sel], 100)
    assert [p.mass_kg for p in proc.accepted] == [0.0, 0.5]
    assert not proc.waiting
    # 1 kg: Enter pressed, but the load never changes → bounded wait
    proc.timeout_s = 2.0
    assert proc.request_accept() is None
    sel = t >= 4.9
    with pytest.raises(CalibrationError, match=r"mass 1 kg \(point 3 of 3\): no new stable load"):
        feed_all(proc, t[sel], raw[sel], 100)


def test_guided_without_enter_waits_forever() -> None:
    t, raw, _ = run_model(STACKED)
    proc = CalibrationProcedure([0, 0.5], 1000.0, auto=False, timeout_s=1.0)
    feed_all(proc, t, raw, 500)  # 11 s of loads, nobody presses Enter: no error, no points
    assert proc.accepted == []
    assert proc.progress == 1.0
