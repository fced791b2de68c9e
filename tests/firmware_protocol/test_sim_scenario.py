"""Scenario files: built-ins are what the brief says; malformed files are refused with
file, step and key named (DESIGN.md §4, §7)."""

from __future__ import annotations

import pytest

from firmware_protocol.sim.protocol_sim import SimUrl
from firmware_protocol.sim.scenario import (
    Action,
    ScenarioError,
    builtin_names,
    load_scenario,
)
from logger.errors import BadInput


def test_builtins_exist():
    assert {"demo", "calibration", "stress"} <= set(builtin_names())


def test_demo_is_a_realistic_session_over_four_points():
    s = load_scenario("demo")
    assert 120.0 <= s.duration_s <= 180.0
    assert len(s.mark_times_s()) == 4
    holds = [st for st in s.steps if st.action is Action.HOLD]
    assert all(7.0 <= h.seconds <= 60.0 for h in holds)
    over = [h for h in holds if h.force_n > 40.0]
    assert len(over) == 1  # the one over-limit moment
    assert all(15.0 <= h.force_n <= 40.0 for h in holds if h not in over)
    assert s.device.rate_hz == 1000


def test_calibration_stacks_half_one_and_two_kg():
    s = load_scenario("calibration")
    loads = [st.mass_kg for st in s.steps if st.action is Action.LOAD]
    assert loads == [0.5, 1.0, 2.0]
    assert s.steps[0].action is Action.REST
    assert all(st.seconds >= 3.0 for st in s.steps if st.action is Action.LOAD)
    # the factory calibration is deliberately off, so a calibration has something to fix
    assert s.device.reported_counts_per_n != s.device.counts_per_n


def test_stress_is_4000_hz_8_channels():
    s = load_scenario("stress")
    assert (s.device.rate_hz, s.device.channels) == (4000, 8)


def test_file_path_and_defaults(tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text('[[steps]]\naction = "hold"\nforce_n = 20\nseconds = 5\n')
    s = load_scenario(f)
    assert s.name == "mine" and s.source == str(f)
    (hold,) = s.steps
    assert (hold.ramp_s, hold.release_s, hold.drift_n_per_s) == (1.0, 0.5, 0.0)
    assert s.duration_s == pytest.approx(6.5)
    assert s.device.reported_offset_counts == s.device.offset_counts == 120000


GOOD_HEAD = '[device]\nrate_hz = 1000\n\n[[steps]]\naction = "rest"\nseconds = 1.0\n\n'


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('[[steps]]\naction = "hold"\nforce_n = 20\nseconds = -3\n', ["step 2", "'seconds'"]),
        ('[[steps]]\naction = "jump"\n', ["step 2", "'action'", "jump"]),
        ('[[steps]]\naction = "hold"\nforce_n = 20\nsecs = 3\n', ["step 2", "'secs'"]),
        ('[[steps]]\naction = "hold"\nforce_n = "20"\nseconds = 3\n', ["step 2", "'force_n'"]),
        ('[[steps]]\naction = "hold"\nseconds = 3\n', ["step 2", "'force_n'", "missing"]),
        ('[[steps]]\naction = "load"\nmass_kg = true\nseconds = 3\n', ["step 2", "'mass_kg'"]),
        ("[[steps]]\nforce_n = 3\n", ["step 2", "'action'", "missing"]),
        ('[[steps]]\naction = "mark"\nforce_n = 3\n', ["step 2", "'force_n'"]),
    ],
)
def test_malformed_step_names_file_step_and_key(tmp_path, body, expected):
    f = tmp_path / "bad.toml"
    f.write_text(GOOD_HEAD + body)
    with pytest.raises(ScenarioError) as err:
        load_scenario(f)
    msg = str(err.value)
    assert str(f) in msg and "\n" not in msg
    for part in expected:
        assert part in msg
    assert not isinstance(err.value, BadInput)  # the codec package stands alone; the
    # command line maps it to exit code 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[device]\nrate_hz = 5\n[[steps]]\naction="rest"\nseconds=1\n', ["[device]", "rate_hz"]),
        ('[device]\nbaud = 9600\n[[steps]]\naction="rest"\nseconds=1\n', ["[device]", "'baud'"]),
        ('[faults]\ncorrupt = 1.5\n[[steps]]\naction="rest"\nseconds=1\n', ["corrupt", "1.5"]),
        ('[therapist]\nseed = -1\n[[steps]]\naction="rest"\nseconds=1\n', ["seed"]),
        ("[device]\nrate_hz = 1000\n", ["'steps'"]),
        ('extra = 1\n[[steps]]\naction="rest"\nseconds=1\n', ["'extra'"]),
        ("[[steps]\naction=", ["not valid TOML"]),
        ('[device]\nerased = 1\n[[steps]]\naction="rest"\nseconds=1\n', ["erased", "true or"]),
    ],
)
def test_malformed_tables_are_refused(tmp_path, text, expected):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(f)
    assert str(f) in str(err.value)
    for part in expected:
        assert part in str(err.value)


def test_unknown_scenario_names_the_builtins():
    with pytest.raises(ScenarioError, match="no-such-scenario.*demo"):
        load_scenario("no-such-scenario")


def test_overrides_replace_device_therapist_and_fault_keys():
    s = load_scenario("demo").with_overrides(seed=9, uid="X1", corrupt=0.01, rate_hz=500)
    assert (s.therapist.seed, s.device.uid, s.faults.corrupt, s.device.rate_hz) == (
        9, "X1", 0.01, 500,
    )  # fmt: skip


def test_erased_plays_a_fresh_board_from_the_file_and_the_url(tmp_path):
    f = tmp_path / "fresh.toml"
    f.write_text('[device]\nerased = true\n[[steps]]\naction="rest"\nseconds=1\n')
    assert load_scenario(f).device.erased
    assert not load_scenario("demo").device.erased
    assert SimUrl.parse("sim://x?erased=1").overrides == {"erased": True}
    assert SimUrl.parse("sim://x?erased=false").overrides == {"erased": False}
    with pytest.raises(ScenarioError, match="'erased': expected true or false, got 'maybe'"):
        SimUrl.parse("sim://x?erased=maybe")
