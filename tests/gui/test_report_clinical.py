"""The report's and review's clinical parts: pure preparation checked over generated
sessions (hypothesis), and a real PDF from a library holding a PPT and a drill session."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from gui.report import write_report
from gui.report.clinical import (
    ClinicalParts,
    learning_cells,
    learning_series,
    ppt_change_cells,
    ppt_point_cells,
    ppt_point_change_cells,
    rating_steps,
    session_clinical,
    trainee_progress,
)
from gui.review.demo import (
    PptTrialPlan,
    build_demo_library,
    write_drill_session,
    write_ppt_session,
)
from logger.drills import learning_curve, load_drill
from logger.ppt import ppt_points
from logger.records import MarkSource, Rating
from logger.store import SessionStore
from tests.gui.test_report import pdf_text

PPT_TRIALS = [
    PptTrialPlan(0, 30.0),
    PptTrialPlan(0, 31.0, rate_n_per_s=8.0),  # 60 % too fast: left out of the mean
    PptTrialPlan(0, 29.0),
    PptTrialPlan(1, 45.0),
    PptTrialPlan(1, 44.0),
    PptTrialPlan(1, 46.0),
    PptTrialPlan(0, 37.0, round="post"),
    PptTrialPlan(0, 38.0, round="post"),
    PptTrialPlan(0, 36.0, round="post"),
    PptTrialPlan(1, 50.0, round="post"),
    PptTrialPlan(1, 51.0, round="post"),
    PptTrialPlan(1, 52.0, round="post"),
]


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """A reference/trainee demo library, a PPT session with ratings, and three drill
    sessions of one student (errors shrinking)."""
    db = tmp_path_factory.mktemp("clinical") / "sessions.sqlite3"
    store = SessionStore(db)
    demo = build_demo_library(store, points=2, trials=1, hold_s=4.0, rate_hz=100.0)
    ppt = write_ppt_session(store, PPT_TRIALS, ratings=[(3.0, 2.0), (8.0, 6.5), (15.0, 4.0)])
    basic = load_drill("basic").to_dict()
    drills = [
        write_drill_session(store, basic, plateaus, started_at=f"2026-11-{day}T14:00:00+00:00")
        for day, plateaus in (
            (18, [38.0, 36.0, 34.0, 33.0, 37.0, 36.5]),
            (19, [34.0, 33.0, 31.5, 31.0, 33.0, 33.5]),
            (20, [31.0, 30.5, 30.2, 30.0, 31.0, 31.5]),
        )
    ]
    store.close()
    return db, demo, ppt, drills


@pytest.fixture
def store(library):
    s = SessionStore(library[0])
    yield s
    s.close()


# ------------------------------------------------------------------ pure


@given(
    st.lists(st.tuples(st.floats(0.0, 1000.0), st.floats(0.0, 10.0)), min_size=0, max_size=30),
    st.floats(0.0, 2000.0),
)
def test_rating_steps_hold_each_value_until_the_next(pairs, end_s):
    ratings = [Rating(t, v, MarkSource.KEYBOARD) for t, v in pairs]
    t, v = rating_steps(ratings, end_s)
    assert t.size == v.size == 2 * len(ratings)
    assert np.all(np.diff(t) >= 0)  # a step trace never goes back in time
    ordered = sorted(ratings, key=lambda r: r.t_s)
    assert v[::2].tolist() == [r.value for r in ordered] == v[1::2].tolist()
    if ratings:
        assert t[-1] == max(end_s, ordered[-1].t_s)
        assert t[1:-1:2].tolist() == t[2::2].tolist()  # each ends where the next begins


@settings(max_examples=40)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 10**6),  # start, seconds after 1 November, in any order
            st.lists(st.tuples(st.floats(-10.0, 10.0), st.booleans()), max_size=6),
        ),
        max_size=8,
        unique_by=lambda s: s[0],
    )
)
def test_learning_series_one_point_per_drill_session_in_time_order(sessions):
    """(plateau error, feedback) per trial → scores → the curve and its plotted series."""
    from datetime import UTC, datetime, timedelta

    from logger.drills import DrillTask, score_trial
    from logger.records import Hold

    base = datetime(2026, 11, 1, tzinfo=UTC)
    t = np.arange(0.0, 10.0, 0.01)
    tagged = []
    for k, (offset, trials) in enumerate(sessions):
        scores = []
        for i, (e, feedback) in enumerate(trials):
            task = DrillTask(30.0, 5.0, 3.0, 10.0, feedback, 4.0)
            plateau = 30.0 + e
            f = np.interp(t, [0, 1, 3, 8, 8.5], [0, 0, plateau, plateau, 0])
            hold = Hold(i, None, None, 1.0, 8.5, 7.5, plateau, plateau, 0.0, 10.0, 0, 0, None)
            scores.append(score_trial(task, i, hold, t, f))
        tagged.append((f"s{k}", (base + timedelta(seconds=offset)).isoformat(), scores))
    curve = learning_curve(tagged)
    with_trials = {sid: scores for sid, _, scores in tagged if scores}
    assert sorted(p.session_id for p in curve) == sorted(with_trials)  # one per session
    assert [p.started_at for p in curve] == sorted(p.started_at for p in curve)
    score, feedback_n, blind_n = learning_series(curve)
    assert score.size == feedback_n.size == blind_n.size == len(curve)
    for k, p in enumerate(curve):
        trials = with_trials[p.session_id]
        fb = [s.abs_error_n for s in trials if s.feedback]
        bl = [s.abs_error_n for s in trials if not s.feedback]
        # a series has a value exactly where the session had such trials, their mean
        assert np.isnan(feedback_n[k]) == (not fb) and np.isnan(blind_n[k]) == (not bl)
        if fb:
            assert feedback_n[k] == pytest.approx(np.mean(fb))
        if bl:
            assert blind_n[k] == pytest.approx(np.mean(bl))
    rows = learning_cells(curve)
    assert [r[1] for r in rows] == [p.session_id for p in curve]


def test_ppt_rows_agree_with_ppt_points(store, library):
    _, _, ppt, _ = library
    parts = session_clinical(store, store.load_session(ppt))
    assert parts.ppt is not None
    expected = ppt_points(parts.ppt.trials, parts.ppt.settings)
    assert list(parts.ppt.points) == expected
    rows = ppt_point_cells(parts.ppt.points)
    assert len(rows) == len(expected) == 4  # two points, two rounds
    for row, p in zip(rows, expected, strict=True):
        assert row[:2] == [p.point, p.round]
        assert row[2] == f"{p.ppt_n:.1f} N" and row[5] == f"{p.used}/{p.trials}"
    # the stray second trial is flagged and left out: 2 of 3 used at the first point, pre
    first = next(p for p in expected if p.round == "pre" and p.point_index == 0)
    assert (first.used, first.trials) == (2, 3)
    assert first.ppt_n == pytest.approx(29.5, abs=0.2)
    # both rounds: a change per point, post higher
    assert [c.point for c in parts.ppt.change] == ["Upper trapezius L", "Upper trapezius R"]
    assert all(c.change_kpa is not None and c.change_kpa > 0 for c in parts.ppt.change)
    # the window's one table: each post row carries its point's change, pre rows none
    merged = ppt_point_change_cells(parts.ppt.points, parts.ppt.change)
    changes = {c[0]: c[3:] for c in ppt_change_cells(parts.ppt.change)}
    for row, p in zip(merged, expected, strict=True):
        assert row[:6] == ppt_point_cells([p])[0]
        assert row[6:] == (changes[p.point] if p.round == "post" else ["", ""])


def test_a_session_without_protocols_has_no_clinical_parts(store, library):
    _, demo, _, _ = library
    parts = session_clinical(store, store.load_session(demo.trainee[0]))
    assert parts == ClinicalParts() or parts.empty
    assert parts.ppt is None and parts.drill is None and not parts.ratings


def test_trainee_progress_reads_every_drill_session_of_the_therapist(store, library):
    _, _, _, drills = library
    curve = trainee_progress(store, "B. Student")
    assert [p.session_id for p in curve] == drills
    errors = [p.summary.abs_error_feedback_n for p in curve]
    assert errors == sorted(errors, reverse=True)  # the student got closer
    assert trainee_progress(store, "Dr. Expert") == []  # no drill sessions
    assert trainee_progress(store, None) == []


# -------------------------------------------------------------------- PDF


def test_report_of_a_ppt_session_has_trials_points_change_and_ratings(
    qapp, store, library, tmp_path
):
    _, _, ppt, _ = library
    out = tmp_path / "ppt.pdf"
    write_report(store, ppt, out)
    _, text, _ = pdf_text(out)
    parts = session_clinical(store, store.load_session(ppt))
    assert parts.ppt is not None
    for needle in (
        "Pressure-pain threshold (PPT)",
        "PPT per point",
        "PPT change, pre → post",
        "rate off target",
        "Pain ratings (0–10): 3 ratings, highest 6.5",
        "Purple steps",
    ):
        assert needle in text, needle
    for p in parts.ppt.points:
        assert f"{p.point} {p.round} {p.ppt_n:.1f} N" in text
    assert "Drill" not in text


def test_report_of_a_drill_session_has_scores_summary_and_learning_curve(
    qapp, store, library, tmp_path
):
    _, _, _, drills = library
    out = tmp_path / "drill.pdf"
    write_report(store, drills[-1], out)
    _, text, _ = pdf_text(out)
    parts = session_clinical(store, store.load_session(drills[-1]))
    assert parts.drill is not None and len(parts.drill.scores) == 6
    assert "Drill" in text and "basic: score" in text
    assert "Learning curve of B. Student" in text
    assert text.count("feedback") >= 4 and "blind" in text
    for sid in drills:
        assert sid in text  # one row per drill session
    images = sum(len(page.images) for page in PdfReader(out).pages)
    assert images == 2  # timeline and learning curve
    assert "Pressure-pain threshold" not in text and "Purple steps" not in text


def test_first_drill_session_has_no_learning_curve(qapp, store, library, tmp_path):
    """The curve needs at least two sessions of the therapist in
    the library; the first of three still shows the whole curve, so use another therapist."""
    db, _, _, _ = library
    lone = SessionStore(tmp_path / "lone.sqlite3")
    sid = write_drill_session(lone, load_drill("basic").to_dict(), [30.0] * 6)
    out = tmp_path / "lone.pdf"
    write_report(lone, sid, out)
    _, text, _ = pdf_text(out)
    assert "Drill" in text and "Learning curve" not in text
    lone.close()


def test_guided_profile_scored_and_its_target_drawn_over_the_session(store, library):
    """A force that follows the profile exactly: no error, all in band, and the target
    curve equals the force where the profile runs (NaN elsewhere)."""
    import dataclasses

    from gui.report.clinical import clinical_from_arrays, guided_text
    from logger.guided import Profile, target_n
    from logger.records import ProtocolEvent, ProtocolKind

    _, _, _, drills = library
    record = store.load_session(drills[0])
    profile = Profile(ramp_s=2.0, plateau_s=4.0, release_s=1.0, rest_s=2.0, repeats=2)
    t = np.arange(0.0, 30.0, 0.01)
    f = np.nan_to_num(target_n(profile, t - 5.0))
    event = ProtocolEvent(5.0, ProtocolKind.PROFILE, profile.to_dict())
    parts = clinical_from_arrays(dataclasses.replace(record, protocols=[event]), t, f)
    assert parts.guided is not None and parts.ppt is None and parts.drill is None
    (score,) = parts.guided.scores
    assert score.rms_error_n == pytest.approx(0.0, abs=1e-9) and score.in_band_pct == 100.0
    running = np.isfinite(parts.guided.target_n)
    assert np.array_equal(parts.guided.target_n[running], f[running])
    assert not running[t < 5.0].any() and running[(t > 5.0) & (t < 5.0 + profile.duration_s)].all()
    assert guided_text(parts.guided).startswith("Guided: trapezoid from 0:05")


def test_report_against_the_clients_earlier_session_has_the_ppt_change(qapp, tmp_path):
    """Two sessions of one client (before and after treatment): the report of the later
    one with the earlier as reference shows each point's change, the earlier as pre."""
    from logger.clinical import change_between, load_clinical

    with SessionStore(tmp_path / "lib.sqlite3") as store:
        before = write_ppt_session(store, [PptTrialPlan(0, 30.0), PptTrialPlan(0, 32.0),
                                           PptTrialPlan(1, 44.0)],
                                   started_at="2026-11-20T10:00:00+00:00")  # fmt: skip
        after = write_ppt_session(store, [PptTrialPlan(0, 40.0), PptTrialPlan(0, 41.0),
                                          PptTrialPlan(1, 50.0)],
                                  started_at="2026-11-27T10:00:00+00:00")  # fmt: skip
        other = write_ppt_session(store, [PptTrialPlan(0, 20.0)], client="C-0999",
                                  started_at="2026-11-28T10:00:00+00:00")  # fmt: skip
        change = change_between(load_clinical(store, before), load_clinical(store, after))
        assert [round(c.change_kpa) for c in change] == [95, 60]  # (40.5 − 31) and (50 − 44) N
        out = tmp_path / "after.pdf"
        # the reference may be either one: the earlier session is the pre
        write_report(store, before, out, reference_sid=after)
        _, text, _ = pdf_text(out)
        assert "PPT change between the two sessions" in text
        assert f"{before} (pre) → {after} (post)" in text
        for row in ppt_change_cells(change):
            assert " ".join(row) in text
        write_report(store, after, out, reference_sid=other)  # another client: no change
        _, text, _ = pdf_text(out)
        assert "PPT change between the two sessions" not in text
