"""PPT trials from hostile recordings: gaps in the samples, missing forces, signals
anywhere (before, after, in a gap, several per contact)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from logger.config import Config, PptConfig
from logger.hold_detector import MAX_GAP_S
from logger.ppt import PptSettings, ppt_points, ppt_trials
from logger.records import Mark, MarkSource, Point, ProtocolEvent, ProtocolKind, Signal

POINTS = [Point(0, "A"), Point(1, "B", max_n=30.0)]


def signal(t_s: float) -> Signal:
    return Signal(t_s, MarkSource.KEYBOARD)


def test_a_signal_in_a_gap_makes_no_trial():
    # pressed on both sides of a 1.7 s gap: nobody knows the force at the signal
    t = np.array([0.0, 0.1, 0.2, 0.3, 2.0, 2.1, 2.2, 2.3])
    f = np.array([0.0, 6.0, 8.0, 10.0, 12.0, 14.0, 0.0, 0.0])
    assert ppt_trials(t, f, [signal(1.0)], [], [], POINTS, Config()) == []


def test_a_rise_inside_a_gap_has_no_known_start():
    # below onset before a 2.8 s gap, above after it: the crossing is not in the samples
    t = np.array([0.0, 0.1, 0.2, 3.0, 3.1, 3.2])
    f = np.array([0.0, 0.0, 0.0, 20.0, 22.0, 0.0])
    (trial,) = ppt_trials(t, f, [signal(3.1)], [], [], POINTS, Config())
    assert trial.ppt_n == 22.0
    assert trial.start_s == 3.0  # the contact's first sample, not a time inside the gap
    assert trial.rate_n_per_s is None and not trial.rate_ok


def test_a_missing_force_at_the_signal_makes_no_trial():
    # the previous contact ended at 3 s; the force around the signal is not known
    t = np.arange(6.0) * 0.1
    f = np.array([0.0, 10.0, 10.0, 0.0, np.nan, 0.0])
    assert ppt_trials(t, f, [signal(0.45)], [], [], POINTS, Config()) == []


def test_a_missing_force_before_a_contact_leaves_its_start_unknown():
    t = np.arange(5.0) * 0.1
    f = np.array([0.0, np.nan, 10.0, 12.0, 0.0])
    (trial,) = ppt_trials(t, f, [signal(0.3)], [], [], POINTS, Config())
    assert trial.start_s == pytest.approx(0.2) and trial.rate_n_per_s is None


def test_a_signal_on_the_last_sample_before_a_gap_belongs_to_the_contact_before_it():
    t = np.array([0.0, 0.1, 0.2, 0.3, 2.0, 2.1, 2.2])
    f = np.array([0.0, 10.0, 15.0, 20.0, 25.0, 30.0, 0.0])
    (trial,) = ppt_trials(t, f, [signal(0.3)], [], [], POINTS, Config())
    assert trial.ppt_n == 20.0
    assert trial.start_s == pytest.approx(0.05) and trial.end_s == 0.3


forces = st.one_of(st.floats(0.0, 80.0), st.just(math.nan))
steps = st.one_of(st.floats(0.001, 0.1), st.floats(MAX_GAP_S * 1.01, 5.0))


@st.composite
def recordings(draw):
    n = draw(st.integers(2, 60))
    t = np.cumsum([0.0, *draw(st.lists(steps, min_size=n - 1, max_size=n - 1))])
    f = np.array(draw(st.lists(forces, min_size=n, max_size=n)))
    span = (float(t[0]) - 1.0, float(t[-1]) + 1.0)
    times = st.one_of(st.floats(*span), st.sampled_from(list(t)))
    signals = [signal(x) for x in draw(st.lists(times, max_size=12))]
    marks = [Mark(x, i % 2, MarkSource.KEYBOARD)
             for i, x in enumerate(draw(st.lists(times, max_size=3)))]  # fmt: skip
    labels = st.sampled_from(["pre", "post", ""])
    rounds = [ProtocolEvent(x, ProtocolKind.ROUND, {"label": lab})
              for x, lab in draw(st.lists(st.tuples(times, labels), max_size=3))]  # fmt: skip
    return t, f, signals, marks, rounds


@given(
    rec=recordings(),
    trials=st.integers(2, 5),
    drop_first=st.booleans(),
    exclude_stray=st.booleans(),
)
def test_trials_from_any_recording_are_whole(rec, trials, drop_first, exclude_stray):
    t, f, signals, marks, rounds = rec
    cfg = Config(ppt=PptConfig(trials=trials, drop_first=drop_first, exclude_stray=exclude_stray))
    found = ppt_trials(t, f, signals, marks, rounds, POINTS, cfg)
    assert len(found) <= len(signals) + len(t)
    ends = [tr.end_s for tr in found]
    assert ends == sorted(ends)
    for tr in found:
        assert t[0] <= tr.start_s <= tr.end_s <= t[-1]
        if tr.ppt_n is not None:  # a threshold is a force the samples show
            assert math.isfinite(tr.ppt_n) and tr.ppt_n >= cfg.holds.onset_n
            assert any(math.isclose(tr.end_s, s.t_s) for s in signals)
        if tr.rate_n_per_s is not None:
            assert math.isfinite(tr.rate_n_per_s) and tr.rate_n_per_s >= 0
        assert tr.excluded == bool(tr.reason)
    for point in ppt_points(found, PptSettings.from_config(cfg)):
        group = [tr for tr in found if (tr.point, tr.round) == (point.point, point.round)]
        assert point.used + sum(tr.excluded for tr in group) == point.trials == len(group)
        assert point.ppt_n is None or math.isfinite(point.ppt_n)


def test_a_signal_after_ppt_was_switched_off_mid_contact_makes_no_trial():
    t = np.arange(0.0, 6.0, 0.01)
    f = np.interp(t, [0.0, 1.0, 5.0, 5.5], [0.0, 0.0, 20.0, 0.0])
    pre = ProtocolEvent(0.0, ProtocolKind.ROUND, {"label": "pre"})
    off = ProtocolEvent(3.0, ProtocolKind.ROUND, {"label": ""})  # F7 while pressing
    assert ppt_trials(t, f, [signal(4.0)], [], [pre, off], POINTS, Config()) == []
    # switched to post mid-contact: the trial stays in the round its contact began in
    post = ProtocolEvent(3.0, ProtocolKind.ROUND, {"label": "post"})
    (trial,) = ppt_trials(t, f, [signal(4.0)], [], [pre, post], POINTS, Config())
    assert trial.round == "pre"
