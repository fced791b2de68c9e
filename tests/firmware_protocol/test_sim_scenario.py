"""Scenario files: built-ins are what the brief says; malformed files are refused with
file, step and key named (docs/SCENARIOS.md)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_protocol.messages import (
    PROTOCOL_MAJOR,
    PROTOCOL_MINOR,
    Event,
    EventKind,
    Hello,
    Identity,
    Samples,
    Start,
)
from firmware_protocol.sim.interface import SimDevice
from firmware_protocol.sim.protocol_sim import SimUrl
from firmware_protocol.sim.scenario import (
    Action,
    ScenarioError,
    builtin_names,
    load_scenario,
    parse_scenario,
)
from logger.errors import BadInput

from .test_sim_device import Host

REST = '[[steps]]\naction = "rest"\nseconds = 1\n'
PPT = '[[steps]]\naction = "ppt"\nrate_n_per_s = 5\nthreshold_n = 30\n'
ATTEMPT = (
    '[[steps]]\naction = "attempt"\ntarget_n = 30\nramp_n_per_s = 10\nseconds = 5\n'
    "feedback = true\n"
)


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
        # the clinical-protocol steps
        ('[[steps]]\naction = "rate"\n', ["step 2", "'value'", "missing"]),
        ('[[steps]]\naction = "rate"\nvalue = 10.5\n', ["step 2", "'value'", "0..10"]),
        ('[[steps]]\naction = "rate"\nvalue = "4"\n', ["step 2", "'value'"]),
        ('[[steps]]\naction = "signal"\nvalue = 3\n', ["step 2", "'value'", "signal"]),
        (
            '[[steps]]\naction = "hold"\nforce_n = 20\nseconds = 3\nrating = -1\n',
            ["step 2", "'rating'"],
        ),
        (
            '[[steps]]\naction = "hold"\nforce_n = 20\nseconds = 3\nrating = 11\n',
            ["step 2", "'rating'"],
        ),
        (
            '[[steps]]\naction = "press"\nforce_n = 20\nseconds = 3\nrating = 5\n',
            ["step 2", "'rating'", "press"],
        ),
        ('[[steps]]\naction = "ppt"\nthreshold_n = 30\n', ["step 2", "'rate_n_per_s'", "missing"]),
        ('[[steps]]\naction = "ppt"\nrate_n_per_s = 5\n', ["step 2", "'threshold_n'", "missing"]),
        (PPT.replace("= 5", "= 0.001"), ["step 2", "'rate_n_per_s'", "0.01..1"]),
        (PPT.replace("= 30", "= -30"), ["step 2", "'threshold_n'"]),
        (PPT + "max_n = -1\n", ["step 2", "'max_n'"]),
        (PPT + "max_n = inf\n", ["step 2", "'max_n'"]),
        (PPT + "rate_error_pct = -95\n", ["step 2", "'rate_error_pct'", "-90..1000"]),
        (PPT + "release_s = 1e308\n", ["step 2", "'release_s'"]),
        (PPT + "seconds = 3\n", ["step 2", "'seconds'", "ppt"]),
        ('[[steps]]\naction = "treatment"\nseconds = -1\n', ["step 2", "'seconds'"]),
        ('[[steps]]\naction = "treatment"\nforce_n = 3\n', ["step 2", "'force_n'"]),
        (ATTEMPT.replace("feedback = true\n", ""), ["step 2", "'feedback'", "missing"]),
        (ATTEMPT.replace("feedback = true", "feedback = 1"), ["step 2", "'feedback'", "true or"]),
        (ATTEMPT.replace("target_n = 30", "target_n = nan"), ["step 2", "'target_n'"]),
        (ATTEMPT.replace("ramp_n_per_s = 10", "ramp_n_per_s = 0"), ["step 2", "'ramp_n_per_s'"]),
        (ATTEMPT.replace("seconds = 5", "seconds = -5"), ["step 2", "'seconds'"]),
        (ATTEMPT.replace("seconds = 5\n", ""), ["step 2", "'seconds'", "missing"]),
        (ATTEMPT + "release_s = -1\n", ["step 2", "'release_s'"]),
        (ATTEMPT + "rating = 3\n", ["step 2", "'rating'", "attempt"]),
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
        # absurd numbers: each used to pass and then crash the device (docs/SCENARIOS.md)
        (f"[device]\ncounts_per_n = 1e300\n{REST}", ["[device]", "'counts_per_n'", "1e+300"]),
        (f"[device]\ncounts_per_n = -1e300\n{REST}", ["'counts_per_n'"]),
        (f"[device]\ncounts_per_n = 1e-300\n{REST}", ["'counts_per_n'"]),
        (f"[device]\nfactory_counts_per_n = nan\n{REST}", ["'factory_counts_per_n'"]),
        (f"[device]\nnoise_n = 1e300\n{REST}", ["'noise_n'"]),
        (f"[faults]\nunplug_at_s = 1e308\n{REST}", ["[faults]", "'unplug_at_s'"]),
        (f"[faults]\nunplug_for_s = inf\n{REST}", ["'unplug_for_s'"]),
        (f"[therapist]\nseed = {2**64}\n{REST}", ["'seed'"]),
        ('[[steps]]\naction="rest"\nseconds=1e308\n', ["step 1", "'seconds'"]),
        ('[[steps]]\naction="hold"\nforce_n=10\nseconds=1\nramp_s=1e308\n', ["'ramp_s'"]),
        ('[[steps]]\naction="press"\nforce_n=inf\nseconds=1\n', ["'force_n'"]),
        ('[[steps]]\naction="load"\nmass_kg=1e300\nseconds=1\n', ["'mass_kg'"]),
        ("x = " + "[" * 100_000 + "]" * 100_000 + f"\n{REST}", ["not valid TOML", "deeply"]),
        ("x = " + "{a = " * 5000 + "1" + "}" * 5000, ["not valid TOML"]),
        (f"[device]\noffset_counts = {'9' * 5000}\n{REST}", ["not valid TOML"]),
        ('[device]\nerased = 1\n[[steps]]\naction="rest"\nseconds=1\n', ["erased", "true or"]),
        # the patient and the trainee
        (f"[patient]\nseed = -1\n{REST}", ["[patient]", "'seed'"]),
        (f"[patient]\nthreshold_noise_pct = 101\n{REST}", ["[patient]", "'threshold_noise_pct'"]),
        (f"[patient]\ntreatment_change_pct = -100\n{REST}", ["'treatment_change_pct'", "-90"]),
        (f"[patient]\ntreatment_change_pct = 1e9\n{REST}", ["'treatment_change_pct'"]),
        (f'[patient]\ntreated = "yes"\n{REST}', ["[patient]", "'treated'", "true or false"]),
        (f"[patient]\nage = 40\n{REST}", ["[patient]", "unknown key 'age'"]),
        (f"[trainee]\nseed = 1.5\n{REST}", ["[trainee]", "'seed'"]),
        (f"[trainee]\nerror_pct = -120\n{REST}", ["[trainee]", "'error_pct'"]),
        (f"[trainee]\nramp_error_pct = inf\n{REST}", ["[trainee]", "'ramp_error_pct'"]),
        (f"[trainee]\nlearning = 1.5\n{REST}", ["[trainee]", "'learning'", "0..1"]),
        (f"[trainee]\nretention = -0.1\n{REST}", ["[trainee]", "'retention'"]),
        (f"[trainee]\nnoise_pct = 200\n{REST}", ["[trainee]", "'noise_pct'"]),
        (f"[trainee]\nskill = 3\n{REST}", ["[trainee]", "unknown key 'skill'"]),
        (f"trainee = 3\n{REST}", ["[trainee]", "expected a table"]),
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


def test_a_file_that_is_not_utf8_names_the_byte(tmp_path):
    f = tmp_path / "latin1.toml"
    f.write_bytes(b'name = "caf\xe9"\n' + REST.encode())
    with pytest.raises(
        ScenarioError, match=r"latin1\.toml: not valid TOML: not UTF-8 at byte offset 11$"
    ) as err:
        load_scenario(f)
    assert "\n" not in str(err.value)


def _toml_value(v: object) -> str:
    """TOML for a bool, number (repr of inf/nan is TOML too) or string."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    return repr(v)


WILD = (
    st.floats()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([0, 1, -1, 1e300, -1e300, 1e-300, 2**31, 2**32, 2**63, 2**64])
    | st.booleans()
    | st.text(max_size=20)
)
_TABLE_KEYS = {
    "device": ["rate_hz", "channels", "counts_per_n", "offset_counts", "factory_counts_per_n",
               "factory_offset_counts", "noise_n", "clock_start_us"],
    "therapist": ["seed", "tremor_n"],
    "faults": ["corrupt", "drop", "unplug_at_s", "unplug_for_s", "clock_ppm"],
    "patient": ["seed", "threshold_noise_pct", "treatment_change_pct", "treated"],
    "trainee": ["seed", "error_pct", "ramp_error_pct", "learning", "retention", "noise_pct"],
}  # fmt: skip
_STEP_KEYS = ["seconds", "force_n", "ramp_s", "release_s", "drift_n_per_s", "mass_kg",
              "rating", "value", "rate_n_per_s", "threshold_n", "max_n", "rate_error_pct",
              "target_n", "ramp_n_per_s", "feedback"]  # fmt: skip


# the strategies are built once: one built per draw made hypothesis work out each one's
# properties again for every example
_KEYS_OF_TABLE = {
    table: st.lists(st.sampled_from(keys), max_size=3, unique=True)
    for table, keys in _TABLE_KEYS.items()
}
_STEP_COUNT = st.integers(1, 3)
_ACTION = st.sampled_from([a.value for a in Action])
_STEP_KEYS_CHOSEN = st.lists(st.sampled_from(_STEP_KEYS), max_size=3, unique=True)
_STEP_VALUE = WILD | st.floats(0, 5)


@st.composite
def wild_scenarios(draw) -> str:
    """Scenario TOML with a few keys set to anything TOML can say."""
    lines = []
    for table, keys in _KEYS_OF_TABLE.items():
        chosen = draw(keys)
        if chosen:
            lines.append(f"[{table}]")
            lines += [f"{k} = {_toml_value(draw(WILD))}" for k in chosen]
    for _ in range(draw(_STEP_COUNT)):
        lines += ["[[steps]]", f'action = "{draw(_ACTION)}"']
        for k in draw(_STEP_KEYS_CHOSEN):
            lines.append(f"{k} = {_toml_value(draw(_STEP_VALUE))}")
    return "\n".join(lines) + "\n"


@settings(max_examples=300)
@given(text=wild_scenarios())
def test_any_scenario_is_refused_in_one_line_or_plays(text):
    """Whatever the values: a one-line ScenarioError, or a device that says IDENTITY and
    streams (or ends its scenario) for two seconds without an exception."""
    try:
        scenario = parse_scenario(text, "gen.toml", "gen")
    except ScenarioError as exc:
        assert str(exc).startswith("gen.toml: ") and "\n" not in str(exc)
        return
    dev = SimDevice(scenario)
    host = Host(dev)
    host.send(Hello(PROTOCOL_MAJOR, PROTOCOL_MINOR))
    host.send(Start())
    dev.process(2.0)
    msgs = host.take()
    if dev.injected.unplugs and not msgs:
        return  # unplugged at once: nothing reaches the host, and nothing raised
    assert any(isinstance(m, Identity) for m in msgs)
    ended = any(isinstance(m, Event) and m.kind is EventKind.SCRIPT_END for m in msgs)
    assert ended or any(isinstance(m, Samples) for m in msgs)  # a 0 s scenario just ends


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
