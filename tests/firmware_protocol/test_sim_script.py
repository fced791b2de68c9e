"""The clinical-protocol steps of a scenario (ppt, attempt, rated holds, signal, rate) and the
script they plan: refused in one line when malformed, deterministic from the seeds, and
sent by the simulated device as EVENT frames at the script's exact device times."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import firmware_protocol  # noqa: F401  (registers sim://)
from firmware_protocol.messages import (
    Capability,
    Event,
    EventKind,
    Start,
    Stop,
)
from firmware_protocol.sim.interface import SimDevice
from firmware_protocol.sim.model import DeviceModel
from firmware_protocol.sim.protocol_sim import SimUrl
from firmware_protocol.sim.scenario import (
    Scenario,
    ScenarioError,
    builtin_names,
    load_scenario,
    parse_scenario,
)

from .test_sim_device import Host
from .test_sim_url import Client

HEAD = '[[steps]]\naction = "rest"\nseconds = 1.0\n\n'
PPT = '[[steps]]\naction = "ppt"\nrate_n_per_s = 5\nthreshold_n = 30\n'
ATTEMPT = (
    '[[steps]]\naction = "attempt"\ntarget_n = 30\nramp_n_per_s = 10\nseconds = 5\n'
    "feedback = true\n"
)


def steps_toml(steps: list[dict]) -> str:
    out = []
    for step in steps:
        out.append("[[steps]]")
        for key, value in step.items():
            v = json_value(value)
            out.append(f"{key} = {v}")
    return "\n".join(out) + "\n"


def json_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


# ------------------------------------------------------------------------ refused


def test_treated_is_a_query_key_and_other_patient_keys_are_not():
    assert SimUrl.parse("sim://x?scenario=ppt&treated=1").overrides == {"treated": True}
    assert SimUrl.parse("sim://x?treated=no").overrides == {"treated": False}
    with pytest.raises(ScenarioError, match="'treated': expected true or false, got 'maybe'"):
        SimUrl.parse("sim://x?treated=maybe")
    with pytest.raises(ScenarioError, match="unknown key 'threshold_noise_pct'"):
        SimUrl.parse("sim://x?threshold_noise_pct=3")
    s = load_scenario("ppt")
    # the URL's seed is the therapist's: the patient's thresholds stay what they were
    assert s.with_overrides(seed=9).ppt_trials() == s.ppt_trials()
    assert [t.treated for t in s.with_overrides(treated=True).ppt_trials()] == [True] * 6


# ------------------------------------------------------------------------ the built-ins


def test_builtin_ppt_drill_and_guided_are_listed():
    assert {"ppt", "drill", "guided"} <= set(builtin_names())


def test_ppt_builtin_plans_three_trials_on_each_of_two_points_one_stray():
    s = load_scenario("ppt")
    trials = s.ppt_trials()
    assert [t.marks_before for t in trials] == [1, 1, 1, 2, 2, 2]
    assert [t.rate_n_per_s for t in trials] == [5.0, 7.0, 5.0, 5.0, 5.0, 5.0]
    assert all(t.signal_s is not None and not t.treated for t in trials)
    for t, base in zip(trials, [30.0] * 3 + [45.0] * 3, strict=True):
        assert t.threshold_n == pytest.approx(base, rel=0.12)  # 3 % noise: within 4 sd
    treated = s.with_overrides(treated=True).ppt_trials()
    for a, b in zip(trials, treated, strict=True):
        assert b.threshold_n == pytest.approx(a.threshold_n * 1.25)  # the same draws
    assert s.duration_s < 90.0


def test_drill_builtin_four_feedback_then_two_blind_attempts():
    attempts = load_scenario("drill").attempts()
    assert [a.feedback for a in attempts] == [True] * 4 + [False] * 2
    errors = [a.plateau_error_pct for a in attempts]
    assert errors[:4] == pytest.approx([30.0, 18.0, 10.8, 6.48])
    assert errors[4] == errors[5] == pytest.approx(3.888 + 0.5 * (30 - 3.888))
    assert all(a.plateau_end_s - a.plateau_start_s == pytest.approx(5.0) for a in attempts)
    gaps = [b.start_s - a.end_s for a, b in zip(attempts, attempts[1:], strict=False)]
    assert gaps == pytest.approx([4.0] * 5)


def test_guided_builtin_rates_4_6_and_5_at_the_plateaus_from_t0():
    s = load_scenario("guided")
    ratings = s.ratings()
    peaks = []
    for k in range(3):  # 20 s cycles: 3 s ramp, 10 s plateau, 2 s release, 5 s rest
        in_cycle = [r.value for r in ratings if 20 * k <= r.t_s < 20 * (k + 1)]
        peaks.append(max(in_cycle))
        assert in_cycle[-1] == 0.0
    assert peaks == [4.0, 6.0, 5.0]
    hand, _ = s.script().forces(np.array([1.5, 8.0, 28.0, 48.0]))
    assert hand[0] == pytest.approx(15.5) and 29 <= hand[1] <= 31 and 29 <= hand[2] <= 31


# ------------------------------------------------------------------------ properties

ppt_steps = st.fixed_dictionaries(
    {
        "action": st.just("ppt"),
        "rate_n_per_s": st.floats(0.5, 20),
        "threshold_n": st.floats(1, 80),
    },
    optional={
        "max_n": st.floats(5, 100),
        "rate_error_pct": st.floats(-60, 60),
        "release_s": st.floats(0, 2),
    },
)
other_steps = st.sampled_from(
    [{"action": "mark"}, {"action": "rest", "seconds": 2.0}, {"action": "treatment"},
     {"action": "signal"}, {"action": "treatment", "seconds": 1.5}]
)  # fmt: skip


@st.composite
def ppt_scenarios(draw, noise: bool = True) -> Scenario:
    steps = draw(st.lists(ppt_steps | other_steps, min_size=1, max_size=12))
    steps.append({"action": "rest", "seconds": 1.0})
    patient = {
        "seed": draw(st.integers(0, 2**32)),
        "threshold_noise_pct": draw(st.floats(0, 10)) if noise else 0.0,
        "treatment_change_pct": draw(st.floats(-50, 100)),
    }
    head = "[patient]\n" + "".join(f"{k} = {v!r}\n" for k, v in patient.items())
    return parse_scenario(head + steps_toml(steps), "gen.toml", "gen")


@settings(max_examples=80, deadline=None)
@given(s=ppt_scenarios())
def test_ppt_signals_come_in_order_where_the_ramp_meets_the_threshold(s):
    script = s.script()
    trials = s.ppt_trials()
    steps = [x for x in s.steps if x.action == "ppt"]
    assert len(trials) == len(steps)
    starts = [t.start_s for t in trials]
    assert starts == sorted(starts)
    signals = [t.signal_s for t in trials if t.signal_s is not None]
    assert all(a < b for a, b in zip(signals, signals[1:], strict=False))
    for t, step in zip(trials, steps, strict=True):
        assert t.rate_n_per_s == pytest.approx(step.rate_n_per_s * (1 + step.rate_error_pct / 100))
        stopped = step.max_n is not None and t.threshold_n > step.max_n
        assert (t.signal_s is None) == stopped
        if t.signal_s is not None:
            assert t.signal_s == pytest.approx(t.start_s + t.threshold_n / t.rate_n_per_s)
            hand, _ = script.forces(np.array([t.signal_s - 1e-7]))  # (release_s may be 0)
            assert hand[0] == pytest.approx(t.threshold_n, abs=1e-4)  # the force at the press
        assert t.end_s == pytest.approx(t.start_s + t.peak_n / t.rate_n_per_s + step.release_s)
    # every client-button event is a trial's signal or a signal step
    n_signal_steps = sum(x.action == "signal" for x in s.steps)
    presses = script.event_times_s(EventKind.CLIENT_BUTTON)
    assert len(presses) == len(signals) + n_signal_steps
    assert set(signals) <= set(presses)
    assert presses == sorted(presses)
    assert script.duration_s >= max([t.end_s for t in trials], default=0.0)


@settings(max_examples=60, deadline=None)
@given(s=ppt_scenarios(noise=False))
def test_treated_thresholds_are_untreated_times_the_change_without_noise(s):
    change = 1 + s.patient.treatment_change_pct / 100
    treated = s.with_overrides(treated=True).ppt_trials()
    steps = [x for x in s.steps if x.action == "ppt"]
    for t, step in zip(treated, steps, strict=True):
        assert t.treated
        assert t.threshold_n == pytest.approx(step.threshold_n * change)
    for t, step in zip(s.ppt_trials(), steps, strict=True):
        # a treatment step makes the trials after it treated
        assert t.threshold_n == pytest.approx(step.threshold_n * (change if t.treated else 1.0))


def test_a_treatment_step_treats_the_trials_after_it():
    s = parse_scenario(
        "[patient]\ntreatment_change_pct = 20\n"
        + steps_toml([{"action": "ppt", "rate_n_per_s": 5.0, "threshold_n": 30.0},
                      {"action": "treatment", "seconds": 10.0},
                      {"action": "ppt", "rate_n_per_s": 5.0, "threshold_n": 30.0}]),
        "t.toml", "t",
    )  # fmt: skip
    before, after = s.ppt_trials()
    assert (before.treated, after.treated) == (False, True)
    assert (before.threshold_n, after.threshold_n) == pytest.approx((30.0, 36.0))
    assert after.start_s == pytest.approx(6.5 + 10.0)


def test_a_threshold_above_max_stops_the_ramp_without_a_signal():
    s = parse_scenario(
        steps_toml([{"action": "ppt", "rate_n_per_s": 5.0, "threshold_n": 80.0, "max_n": 50.0},
                    {"action": "rest", "seconds": 1.0}]),
        "m.toml", "m",
    )  # fmt: skip
    (t,) = s.ppt_trials()
    assert t.signal_s is None and t.peak_n == 50.0 and t.end_s == pytest.approx(10.5)
    assert s.script().event_times_s(EventKind.CLIENT_BUTTON) == []
    hand, _ = s.script().forces(np.array([10.0, 10.5]))
    assert hand[0] == pytest.approx(50.0) and hand[1] == 0.0


@settings(max_examples=80, deadline=None)
@given(
    error_pct=st.floats(1, 100),
    ramp_error_pct=st.floats(-50, 100),
    learning=st.floats(0, 0.95),
    retention=st.floats(0, 1),
    feedback=st.lists(st.booleans(), min_size=1, max_size=10),
)
def test_trainee_errors_shrink_with_feedback_and_rise_when_blind(
    error_pct, ramp_error_pct, learning, retention, feedback
):
    steps = [{"action": "attempt", "target_n": 30.0, "ramp_n_per_s": 10.0, "seconds": 3.0,
              "feedback": f} for f in feedback]  # fmt: skip
    head = (
        f"[trainee]\nerror_pct = {error_pct!r}\nramp_error_pct = {ramp_error_pct!r}\n"
        f"learning = {learning!r}\nretention = {retention!r}\n"
    )
    s = parse_scenario(head + steps_toml(steps), "d.toml", "d")
    attempts = s.attempts()
    assert [a.feedback for a in attempts] == feedback
    learnt = error_pct  # the error the feedback attempts have reached so far
    for a in attempts:
        if a.feedback:
            assert a.plateau_error_pct == pytest.approx(learnt)
            learnt *= learning
        else:
            # a blind attempt: worse than what was learnt, no worse than at the start
            assert learnt - 1e-9 <= a.plateau_error_pct <= error_pct + 1e-9
            assert a.plateau_error_pct == pytest.approx(
                learnt + (1 - retention) * (error_pct - learnt)
            )
        assert a.plateau_n == pytest.approx(30.0 * (1 + a.plateau_error_pct / 100))
        assert a.plateau_start_s - a.start_s == pytest.approx(a.plateau_n / a.ramp_n_per_s)
        assert a.plateau_end_s - a.plateau_start_s == pytest.approx(3.0)
    feedback_errors = [a.plateau_error_pct for a in attempts if a.feedback]
    assert all(b <= a + 1e-9 for a, b in zip(feedback_errors, feedback_errors[1:], strict=False))
    starts = [a.start_s for a in attempts]
    assert starts == sorted(starts)


def test_trainee_noise_is_seeded():
    def errors(seed: int) -> list[float]:
        text = f"[trainee]\nseed = {seed}\nnoise_pct = 5\n" + ATTEMPT * 3
        return [a.plateau_error_pct for a in parse_scenario(text, "n.toml", "n").attempts()]

    assert errors(1) == errors(1) != errors(2)
    assert errors(1) != [30.0, 18.0, 10.8]


rated_holds = st.fixed_dictionaries(
    {
        "action": st.just("hold"),
        "force_n": st.floats(1, 60),
        "seconds": st.floats(0, 5),
        "rating": st.floats(0, 10),
    },
    optional={"ramp_s": st.floats(0.1, 4), "release_s": st.floats(0.1, 3),
              "drift_n_per_s": st.floats(-3, 3)},
)  # fmt: skip
rates = st.fixed_dictionaries({"action": st.just("rate"), "value": st.floats(0, 10)})


@settings(max_examples=100, deadline=None)
@given(steps=st.lists(rated_holds | rates | st.just({"action": "rest", "seconds": 1.0}),
                      min_size=1, max_size=6))  # fmt: skip
def test_ratings_stay_on_the_scale_and_move_in_tenths(steps):
    s = parse_scenario(steps_toml(steps), "r.toml", "r")
    ratings = s.ratings()
    assert all(0.0 <= r.value <= 10.0 for r in ratings)
    times = [r.t_s for r in ratings]
    assert times == sorted(times) and (not times or times[-1] <= s.duration_s + 1e-9)
    assert all(round(r.value * 100) == pytest.approx(r.value * 100) for r in ratings)
    if steps[-1]["action"] == "hold" and ratings:
        assert ratings[-1].value == 0.0  # the release takes the eVAS back to 0
    if ratings and ratings[0].t_s > 0.0:
        pytest.fail("no RATING at START although the eVAS turns later")
    if len(steps) == 1 and steps[0]["action"] == "hold":  # one rated hold, from 0
        rating = steps[0]["rating"]
        values = [r.value for r in ratings[1:]]  # after the one at START (0)
        top = max(values, default=0.0)
        assert top >= min(rating, 10.0) - 0.1 - 1e-9 or steps[0].get("drift_n_per_s", 0) < 0
        rises = values[: values.index(top) + 1] if values else []
        # on the way up every tenth is sent once
        assert rises == pytest.approx([k / 10 for k in range(1, len(rises) + 1)])


def test_rate_steps_send_one_rating_each():
    s = parse_scenario(
        steps_toml([{"action": "rest", "seconds": 1.0}, {"action": "rate", "value": 3.456},
                    {"action": "rest", "seconds": 2.0}, {"action": "rate", "value": 7.0},
                    {"action": "signal"}]),
        "r.toml", "r",
    )  # fmt: skip
    # the first: where the eVAS stands when streaming starts, as the firmware sends it
    assert [(r.t_s, r.value) for r in s.ratings()] == [(0.0, 0.0), (1.0, 3.46), (3.0, 7.0)]
    assert s.script().event_times_s(EventKind.CLIENT_BUTTON) == [3.0]
    assert s.duration_s == 3.0


def test_a_looping_device_plays_the_events_of_every_round():
    s = load_scenario("ppt")
    model = DeviceModel(s, loop=True)
    model.start_scenario()
    assert model.scenario_start_us is not None
    rounds = [model.process(s.duration_s) for _ in range(3)]
    per_round = len(s.script().events)
    assert [len(c.events) for c in rounds] == [per_round] * 3
    t1 = [(e.t_us - model.scenario_start_us) / 1e6 for e in rounds[1].events]
    assert t1 == pytest.approx([e.t_s + s.duration_s for e in s.script().events], abs=1e-6)


# ------------------------------------------------------------------------ on the wire


def test_a_rating_due_at_the_end_of_the_script_comes_before_script_end():
    s = parse_scenario(
        steps_toml([{"action": "hold", "force_n": 20.0, "seconds": 1.0, "rating": 2.0}]),
        "e.toml", "e",
    )  # fmt: skip
    dev = SimDevice(s)
    host = Host(dev)
    host.send(Start())
    dev.process(s.duration_s + 1.0)
    events = [m for m in host.take() if isinstance(m, Event)]
    kinds = [e.kind for e in events]
    assert kinds[-1] is EventKind.SCRIPT_END
    assert events[-2].kind is EventKind.RATING and events[-2].arg == 0
    assert [e.arg for e in events if e.kind is EventKind.RATING] == [
        0,  # at START: where the eVAS stands
        *range(10, 201, 10),
        *range(190, -1, -10),
    ]


def test_a_signal_while_unplugged_is_counted_as_lost():
    s = parse_scenario(
        "[faults]\nunplug_at_s = 1.0\nunplug_for_s = 1.0\n"
        + steps_toml([{"action": "rest", "seconds": 1.5}, {"action": "signal"},
                      {"action": "rest", "seconds": 1.5}, {"action": "signal"},
                      {"action": "rest", "seconds": 1.0}]),
        "u.toml", "u",
    )  # fmt: skip
    dev = SimDevice(s)
    host = Host(dev)
    host.send(Start())
    dev.process(2.2)  # the port is back at 2.0 s: a host opens it again
    dev.attach()
    dev.process(2.0)
    msgs = host.take()
    presses = [m for m in msgs if isinstance(m, Event) and m.kind is EventKind.CLIENT_BUTTON]
    assert len(presses) == 1 and dev.injected.events_lost == 1
    assert dev.model.scenario_start_us is not None
    assert presses[0].t_us - dev.wire_us(dev.model.scenario_start_us) == 3_000_000


class ScriptClient(Client):
    """A host on a real pyserial ``sim://`` port that plays the whole script."""

    def run_script(self) -> None:
        try:
            self.handshake()
            while not self.script_ended:
                self.pump()
        finally:
            self.close()

    def event_times_s(self, kind: EventKind) -> list[float]:
        t0 = self.samples[0].t_us  # scenario time 0: the first sample after START
        return [(e.t_us - t0) / 1e6 for e in self.events if e.kind is kind]

    def forces_n(self, scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
        idx, raw = self.received()
        dev = scenario.device
        return (idx - idx[0]) / dev.rate_hz, (raw[:, 0] - dev.offset_counts) / dev.counts_per_n


def test_ppt_over_sim_url_sends_client_button_events_at_the_signal_times():
    s = load_scenario("ppt")
    c = ScriptClient("sim://ppt-e2e?scenario=ppt&speed=0")
    c.run_script()
    assert c.identity is not None
    assert Capability.CLIENT_BUTTON | Capability.EVAS in c.identity.capabilities
    trials = s.ppt_trials()
    signals = [t.signal_s for t in trials]
    assert c.event_times_s(EventKind.CLIENT_BUTTON) == pytest.approx(signals, abs=1e-6)
    assert c.event_times_s(EventKind.MARK_BUTTON) == pytest.approx(s.mark_times_s(), abs=1e-6)
    assert [e.arg for e in c.events if e.kind is EventKind.CLIENT_BUTTON] == [0] * 6
    t_s, force = c.forces_n(s)
    for trial in trials:
        assert trial.signal_s is not None
        k = int(np.searchsorted(t_s, trial.signal_s))
        # the force at the press is the threshold, give or take tremor and noise
        assert force[k] == pytest.approx(trial.threshold_n, abs=1.0)
        # the mean rate over the ramp is the therapist's real rate
        sel = (t_s > trial.start_s + 0.5) & (t_s < trial.signal_s)
        slope = np.polyfit(t_s[sel], force[sel], 1)[0]
        assert slope == pytest.approx(trial.rate_n_per_s, rel=0.05)


def test_treated_over_sim_url_raises_the_thresholds():
    s = load_scenario("ppt").with_overrides(treated=True)
    c = ScriptClient("sim://ppt-treated?scenario=ppt&speed=0&treated=1")
    c.run_script()
    signals = [t.signal_s for t in s.ppt_trials()]
    assert c.event_times_s(EventKind.CLIENT_BUTTON) == pytest.approx(signals, abs=1e-6)
    assert signals != [t.signal_s for t in load_scenario("ppt").ppt_trials()]


def test_guided_over_sim_url_sends_the_planned_ratings():
    s = load_scenario("guided")
    c = ScriptClient("sim://guided-e2e?scenario=guided&speed=0")
    c.run_script()
    ratings = s.ratings()
    got = [e for e in c.events if e.kind is EventKind.RATING]
    assert [e.arg for e in got] == [round(r.value * 100) for r in ratings]
    assert c.event_times_s(EventKind.RATING) == pytest.approx([r.t_s for r in ratings], abs=1e-6)


def test_drill_over_sim_url_plateaus_are_the_planned_ones():
    s = load_scenario("drill")
    c = ScriptClient("sim://drill-e2e?scenario=drill&speed=0")
    c.run_script()
    t_s, force = c.forces_n(s)
    for a in s.attempts():
        sel = (t_s > a.plateau_start_s + 0.3) & (t_s < a.plateau_end_s - 0.3)
        assert force[sel].mean() == pytest.approx(a.plateau_n, rel=0.01)
        assert math.isclose(a.plateau_n, 30.0 * (1 + a.plateau_error_pct / 100))


def test_a_start_again_says_where_the_evas_stands():
    """As the firmware: after a STOP (or a reconnection), START is answered with the eVAS's
    current value, so a rating changed meanwhile is not left stale on the host."""
    s = parse_scenario(
        steps_toml([{"action": "rest", "seconds": 0.5}, {"action": "rate", "value": 6.5},
                    {"action": "rest", "seconds": 3.0}]),
        "s.toml", "s",
    )  # fmt: skip
    dev = SimDevice(s)
    host = Host(dev)
    host.send(Start())
    dev.process(1.0)
    host.send(Stop())
    dev.process(0.2)
    first = [(e.kind, e.arg) for e in host.take() if isinstance(e, Event)]
    assert first == [(EventKind.RATING, 0), (EventKind.RATING, 650)]
    host.send(Start())
    dev.process(0.2)
    again = [(e.kind, e.arg) for e in host.take() if isinstance(e, Event)]
    assert again == [(EventKind.RATING, 650)]
