from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from logger.config import Config, PptConfig, config_to_toml
from logger.errors import BadInput
from logger.guided import Profile, profile_knots_s, score_profile, score_profiles, target_n
from logger.records import ProtocolEvent, ProtocolKind

durations = st.floats(0.1, 10.0)


@st.composite
def profiles(draw) -> Profile:
    kind = draw(st.sampled_from(["trapezoid", "impulses"]))
    impulse = draw(durations)
    return Profile(
        kind=kind,
        force_n=draw(st.floats(5.0, 100.0)),
        ramp_s=draw(durations),
        plateau_s=draw(st.just(0.0) | durations),
        release_s=draw(durations),
        rest_s=draw(st.just(0.0) | durations),
        repeats=draw(st.integers(1, 5)),
        impulse_s=impulse,
        interval_s=impulse + draw(st.just(0.0) | durations),
        tolerance_n=draw(st.floats(0.5, 4.9)),
    )


@given(profile=profiles(), at=st.lists(st.floats(0.0, 1.0), max_size=50))
def test_a_line_through_the_knots_is_the_target(profile, at):
    knots = profile_knots_s(profile)
    assert knots.shape[0] <= 5 * profile.repeats
    assert knots[0] == 0.0 and knots[-1] == profile.duration_s and (np.diff(knots) >= 0).all()
    t = np.array(at) * profile.duration_s
    drawn = np.interp(t, knots, target_n(profile, knots))
    np.testing.assert_allclose(drawn, target_n(profile, t), atol=1e-9 * profile.force_n)


@given(profile=profiles())
def test_target_is_continuous_within_range_and_lasts_its_duration(profile):
    dt = 0.001
    t = np.arange(-1.0, profile.duration_s + 1.0, dt)
    target = target_n(profile, t)
    inside = (t >= 0) & (t <= profile.duration_s)
    assert np.isnan(target[~inside]).all() and not np.isnan(target[inside]).any()
    values = target[inside]
    assert values.min() >= 0.0 and values.max() <= profile.force_n
    assert values.max() == pytest.approx(profile.force_n, rel=0.05)
    ends = target_n(profile, np.array([0.0, profile.duration_s]))
    assert ends.tolist() == pytest.approx([0.0, 0.0], abs=1e-9)
    # continuous: no step larger than the steepest slope allows
    fastest_s = min(profile.ramp_s, profile.release_s, profile.impulse_s / 2)
    assert np.abs(np.diff(values)).max() <= profile.force_n * dt / fastest_s * (1 + 1e-6)
    cycle = profile.interval_s if profile.kind == "impulses" else (
        profile.ramp_s + profile.plateau_s + profile.release_s + profile.rest_s)  # fmt: skip
    assert profile.duration_s == pytest.approx(profile.repeats * cycle)


def test_trapezoid_shape():
    p = Profile(force_n=30.0, ramp_s=3.0, plateau_s=10.0, release_s=2.0, rest_s=5.0, repeats=2)
    at = target_n(p, np.array([0.0, 1.5, 3.0, 8.0, 13.0, 14.0, 15.0, 17.0, 20.0, 21.5, 40.5]))
    assert at[:-1].tolist() == [0.0, 15.0, 30.0, 30.0, 30.0, 15.0, 0.0, 0.0, 0.0, 15.0]
    assert np.isnan(at[-1])
    imp = Profile(kind="impulses", force_n=20.0, impulse_s=1.0, interval_s=3.0, repeats=3)
    assert target_n(imp, np.array([0.25, 0.5, 1.0, 2.0, 3.5, 6.5])).tolist() == [
        10.0, 20.0, 0.0, 0.0, 20.0, 20.0
    ]  # fmt: skip
    assert imp.duration_s == 9.0


@given(profile=profiles(), start=st.floats(0.0, 100.0), rate=st.sampled_from([80.0, 1000.0]))
def test_following_the_profile_exactly_scores_no_error(profile, start, rate):
    t = start - 1.0 + np.arange(0, profile.duration_s + 2.0, 1 / rate)
    f = np.nan_to_num(target_n(profile, t - start))
    s = score_profile(profile, start, t, f)
    assert s.rms_error_n == 0.0 and s.max_abs_error_n == 0.0 and s.in_band_pct == 100.0
    assert s.samples > 0 and s.complete and s.start_s <= s.end_s <= start + profile.duration_s


@given(profile=profiles(), offset=st.floats(-10.0, 10.0))
def test_a_constant_offset_is_the_error(profile, offset):
    t = np.arange(0, profile.duration_s, 0.01)
    f = target_n(profile, t) + offset
    s = score_profile(profile, 0.0, t, f)
    assert s.mean_abs_error_n == pytest.approx(abs(offset))
    assert s.rms_error_n == pytest.approx(abs(offset))
    if abs(offset) < profile.tolerance_n - 1e-9:
        assert s.in_band_pct == 100.0
    elif abs(offset) > profile.tolerance_n + 1e-9:
        assert s.in_band_pct == 0.0


def test_score_profiles_cuts_a_profile_at_the_next_one():
    p = Profile(force_n=20.0, ramp_s=1.0, plateau_s=2.0, release_s=1.0, rest_s=1.0, repeats=2)
    t = np.arange(0, 30, 0.01)
    first = ProtocolEvent(1.0, ProtocolKind.PROFILE, p.to_dict())
    second = ProtocolEvent(6.0, ProtocolKind.PROFILE, json.loads(json.dumps(p.to_dict())))
    other = ProtocolEvent(0.5, ProtocolKind.ROUND, {"label": ""})
    f = np.zeros_like(t)
    a, b = score_profiles([second, other, first], t, f)
    assert (a.start_s, b.start_s) == (1.0, 6.0)
    assert a.end_s < 6.0 and not a.complete and b.complete
    assert b.end_s == pytest.approx(16.0)
    assert score_profile(p, 100.0, t, f).samples == 0


def test_profile_and_ppt_sections_round_trip_and_are_checked():
    cfg = Config(ppt=PptConfig(rate_n_per_s=6.0, trials=4, drop_first=True),
                 profile=Profile(kind="impulses", repeats=10))  # fmt: skip
    d = cfg.to_dict()
    assert Config.from_dict(json.loads(json.dumps(d))) == cfg
    assert Config.from_dict(tomllib.loads(config_to_toml(cfg))) == cfg
    assert Profile.from_config(cfg) == cfg.profile and Profile.from_config(Config()) is None
    assert "ppt" not in Config().to_dict() and "profile" not in Config().to_dict()
    assert Config.from_dict({"ppt": {"trials": 3}}) == Config()
    for table, message in [
        ({"ppt": {"tolerance_pct": 0}}, "c.toml: ppt.tolerance_pct = 0: must be > 0"),
        ({"ppt": {"trials": 2.5}}, "c.toml: ppt.trials = 2.5: expected a whole number"),
        ({"ppt": {"trials": 1, "drop_first": True}}, "c.toml: ppt.trials = 1: must be >= 2"),
        ({"ppt": {"exclude_stray": "yes"}}, "c.toml: ppt.exclude_stray = 'yes': expected true"),
        ({"profile": {"kind": "sine"}}, "c.toml: profile.kind = 'sine': expected one of"),
        ({"profile": {"kind": "impulses", "interval_s": 0.5}},
         "c.toml: profile.interval_s = 0.5: must be >= profile.impulse_s (1.0)"),
        ({"profile": {"tolerance_n": 40}}, "c.toml: profile.tolerance_n = 40.0: must be <"),
        ({"profile": {"ramp_s": 0}}, "c.toml: profile.ramp_s = 0: must be > 0"),
        ({"profile": {"repeats": True}}, "c.toml: profile.repeats = True: expected a whole"),
        ({"profile": 3}, "c.toml: profile = 3: expected a table"),
    ]:  # fmt: skip
        with pytest.raises(BadInput) as info:
            Config.from_dict(table, "c.toml")
        assert str(info.value).startswith(message), str(info.value)
    with pytest.raises(BadInput, match=r"^profile event: rest_s = -1: must be >= 0$"):
        Profile.from_dict({"rest_s": -1}, "profile event")


WILD = (
    st.floats()
    | st.integers(-(2**40), 2**40)
    | st.booleans()
    | st.text(st.characters(blacklist_categories=("Cs",)), max_size=5)
    | st.sampled_from([0, -1.0, 0.0, 1e9, "impulses", "trapezoid"])
)


@given(
    table=st.sampled_from(["ppt", "profile"]),
    values=st.dictionaries(
        st.sampled_from([*PptConfig.__dataclass_fields__, *Profile.__dataclass_fields__, "x"]),
        WILD,
        max_size=3,
    ),
)
@example(table="profile", values={"force_n": 1.0})
def test_any_ppt_or_profile_table_is_accepted_sanely_or_refused_in_one_line(table, values):
    try:
        cfg = Config.from_dict({table: values}, "c.toml")
    except BadInput as exc:
        message = str(exc)
        assert "\n" not in message
        assert message.startswith(f"c.toml: {table}"), message
        # it names a key given (a cross-key rule may put a default first: "profile.
        # tolerance_n = 3.0: must be < profile.force_n (1.0)" when force_n = 1 was given)
        assert any(f"{table}.{key}" in message for key in values), message
    else:
        assert Config.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
        p = cfg.profile or Profile()
        assert 0 < p.tolerance_n < p.force_n and p.duration_s > 0 and p.repeats >= 1
        assert cfg.ppt.trials >= 1 + cfg.ppt.drop_first and cfg.ppt.tolerance_pct > 0


def test_a_stopped_profile_is_scored_up_to_its_stop():
    profile = Profile(force_n=20.0, ramp_s=1.0, plateau_s=2.0, release_s=1.0, rest_s=1.0,
                      repeats=4)  # fmt: skip
    t = np.arange(0.0, profile.duration_s, 0.01)
    f = target_n(profile, t)
    start = ProtocolEvent(0.0, ProtocolKind.PROFILE, profile.to_dict())
    stop = ProtocolEvent(7.0, ProtocolKind.PROFILE, {})
    (score,) = score_profiles([start, stop], t, f)
    assert score.start_s == 0.0 and score.end_s <= 7.0 and not score.complete
    assert score.rms_error_n == 0.0
