"""End to end through the simulator: the clinical protocols recorded with `record` from
`sim://` and read back through the one place their results come from (logger.clinical),
checked against what the simulated patient, trainee and therapist were scripted to do.

- PPT: the rate band, the stray trial left out, per-point thresholds, and the pre → post
  change across two sessions of a client, each within 2 % of the patient model's script.
- A drill of feedback and blind trials: each trial's plateau error and ramp rate against
  the trainee model's script.
- Guided loading: a trapezoid profile followed by the scripted therapist, with the
  client's eVAS pain ratings on the same time base.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from firmware_protocol.sim.scenario import load_scenario
from logger.cli import main
from logger.clinical import change_between, load_clinical
from logger.config import Profile, load_config
from logger.drills import load_drill
from logger.guided import score_profile
from logger.ppt import PptSettings, rate_band
from logger.records import MarkSource, ProtocolEvent, ProtocolKind
from logger.store import SessionStore
from logger.store.library import WriteBatch

POINTS = "Upper trapezius L;Levator scapulae L"


def record(db: Path, capsys: pytest.CaptureFixture[str], url: str, *extra: str) -> str:
    code = main(["record", "--port", url, "--db", str(db), "--client", "C-0042", *extra])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0, out
    return out[-1]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "library.sqlite"


def _point_means(trials, excluded: set[int]) -> dict[int, float]:
    """The script's mean threshold per point (1, 2 …) over the trials kept."""
    by_point: dict[int, list[float]] = {}
    for t in trials:
        if t.index not in excluded:
            by_point.setdefault(t.marks_before, []).append(t.threshold_n)
    return {k: float(np.mean(v)) for k, v in by_point.items()}


@pytest.mark.slow
def test_ppt_rate_band_exclusion_and_pre_post_change_match_the_patient_model(db, capsys):
    pre_id = record(db, capsys, "sim://?scenario=ppt&speed=0", "--points", POINTS,
                    "--ppt-round", "pre")  # fmt: skip
    post_id = record(db, capsys, "sim://?scenario=ppt&speed=0&treated=1", "--points", POINTS,
                     "--ppt-round", "post")  # fmt: skip
    scenario = load_scenario("ppt")
    scripted = {False: scenario.ppt_trials(),
                True: scenario.with_overrides(treated=True).ppt_trials()}  # fmt: skip
    with SessionStore(db) as store:
        results = {False: load_clinical(store, pre_id), True: load_clinical(store, post_id)}
    low, high = rate_band(results[False].ppt)
    assert (low, high) == pytest.approx((4.0, 6.0))  # 50 kPa/s ± 20 % on 1 cm²

    for treated, res in results.items():
        plan = scripted[treated]
        assert len(res.ppt_trials) == len(plan) == 6
        stray: set[int] = set()
        for got, want in zip(res.ppt_trials, plan, strict=True):
            assert want.signal_s is not None
            assert got.end_s == pytest.approx(want.signal_s, abs=1e-3)
            assert got.ppt_n == pytest.approx(want.threshold_n, rel=0.02)
            assert got.ppt_kpa == pytest.approx(got.ppt_n * 10.0)  # 1 cm² probe
            assert got.rate_n_per_s == pytest.approx(want.rate_n_per_s, rel=0.02)
            # the rate band: a trial is flagged exactly when the therapist's real rate
            # was outside it, and a flagged trial is left out of the mean
            assert got.rate_ok == (low <= want.rate_n_per_s <= high)
            assert got.excluded == (not got.rate_ok)
            assert got.point_index == want.marks_before - 1
            if not got.rate_ok:
                stray.add(want.index)
        assert stray == {1}  # the scenario's one stray trial, pressed 40 % too fast
        want_means = _point_means(plan, stray)
        assert [p.used for p in res.ppt_points] == [2, 3]
        for p in res.ppt_points:
            assert p.round == ("post" if treated else "pre")
            assert p.ppt_n == pytest.approx(want_means[p.point_index + 1], rel=0.02)

    change = change_between(results[False], results[True])
    assert [c.point for c in change] == POINTS.split(";")
    pre_means = _point_means(scripted[False], {1})
    post_means = _point_means(scripted[True], {1})
    for k, c in enumerate(change, start=1):
        want_pct = (post_means[k] / pre_means[k] - 1.0) * 100.0
        assert c.change_pct == pytest.approx(want_pct, abs=2.0)
        assert c.change_kpa == pytest.approx((post_means[k] - pre_means[k]) * 10.0, rel=0.02)

    # the export carries the same numbers, and the change from a baseline session
    out = db.parent / "post.json"
    assert main(["export", post_id, "--format", "json", "--out", str(out), "--db", str(db),
                 "--baseline", pre_id]) == 0  # fmt: skip
    doc = json.loads(out.read_text())
    assert [t["ppt_n"] for t in doc["ppt"]["trials"]] == [t.ppt_n for t in results[True].ppt_trials]
    assert [c["change_kpa"] for c in doc["ppt"]["change_from_baseline"]] == [
        c.change_kpa for c in change
    ]
    table = db.parent / "post-ppt.csv"
    assert main(["export", post_id, "--format", "csv", "--table", "ppt", "--out", str(table),
                 "--db", str(db)]) == 0  # fmt: skip
    with table.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["ppt_n"]) for r in rows] == [t.ppt_n for t in results[True].ppt_trials]
    assert [r["excluded"] for r in rows] == ["false", "true"] + ["false"] * 4


@pytest.mark.slow
def test_ppt_pre_and_post_in_one_session_give_the_change(db, capsys):
    """A round switched mid-session: the same point pressed before and after treatment."""
    scenario = db.parent / "one.toml"
    steps = "\n".join(
        f'[[steps]]\naction = "ppt"\nrate_n_per_s = 5.0\nthreshold_n = 30.0\n'
        f'[[steps]]\naction = "rest"\nseconds = 2.0\n{extra}'
        for extra in ["", "", '[[steps]]\naction = "treatment"\nseconds = 1.0\n', "", "", ""]
    )
    scenario.write_text(
        "[patient]\nthreshold_noise_pct = 2.0\ntreatment_change_pct = 40.0\n"
        '[[steps]]\naction = "mark"\n' + steps
    )
    plan = load_scenario(str(scenario)).ppt_trials()
    sid = record(db, capsys, f"sim://?scenario={scenario}&speed=0", "--points", "Infraspinatus R",
                 "--ppt-round", "pre")  # fmt: skip
    # the therapist switches to the post round after the treatment: the event the live
    # session's start_protocol stores, written as its writer does
    post = ProtocolEvent(plan[3].start_s - 0.5, ProtocolKind.ROUND, {"label": "post"})
    with SessionStore(db) as store:
        store.write_batch(sid, WriteBatch(protocols=[post]))
        res = load_clinical(store, sid)
    assert [t.round for t in res.ppt_trials] == ["pre"] * 3 + ["post"] * 3
    (c,) = res.ppt_change
    before = np.mean([t.threshold_n for t in plan[:3]])
    after = np.mean([t.threshold_n for t in plan[3:]])
    assert c.change_pct == pytest.approx((after / before - 1.0) * 100.0, abs=2.0)


@pytest.mark.slow
def test_a_drill_of_feedback_and_blind_trials_scores_the_trainee_model(db, capsys):
    sid = record(db, capsys, "sim://?scenario=drill&speed=0", "--drill", "basic",
                 "--therapist", "Trainee T")  # fmt: skip
    drill = load_drill("basic")
    attempts = load_scenario("drill").attempts()
    with SessionStore(db) as store:
        rec = store.load_session(sid)
        res = load_clinical(store, sid)
    assert rec.protocols[0].kind is ProtocolKind.DRILL and rec.protocols[0].t_s == 0.0
    scores = res.drill_scores
    assert len(scores) == len(attempts) == len(drill.tasks) == 6
    assert (
        [s.feedback for s in scores] == [a.feedback for a in attempts] == [True] * 4 + [False] * 2
    )
    for s, a, task in zip(scores, attempts, drill.tasks, strict=True):
        assert s.target_n == task.target_n
        assert s.rel_error_pct == pytest.approx(a.plateau_error_pct, abs=1.0)
        assert s.abs_error_n == pytest.approx(abs(a.plateau_n - task.target_n), abs=0.3)
        assert s.plateau_n == pytest.approx(a.plateau_n, abs=0.3)
        assert task.ramp_n_per_s is not None and s.ramp_error_pct is not None
        want_ramp_pct = (a.ramp_n_per_s / task.ramp_n_per_s - 1.0) * 100.0
        assert s.ramp_error_pct == pytest.approx(want_ramp_pct, abs=3.0)
        miss_n = abs(a.plateau_n - task.target_n)
        if miss_n < task.tolerance_n - 0.6:  # clearly inside the band (tremor is ± 0.3 N)
            assert s.in_band_pct > 99.0
        elif miss_n > task.tolerance_n + 0.6:  # only the ramp's top passes through the band
            assert s.in_band_pct < 5.0
        # the peak over the target: the plateau's miss plus the tremor's and noise's tops
        over_n = max(0.0, a.plateau_n - task.target_n)
        assert over_n <= s.overshoot_n <= over_n + 1.0
    # learning shows: feedback errors shrink, blind ones come partly back
    feedback = [s.abs_error_n for s in scores if s.feedback]
    blind = [s.abs_error_n for s in scores if not s.feedback]
    assert feedback == sorted(feedback, reverse=True)
    assert min(blind) > feedback[-1]
    summary = res.drill_summary
    assert summary is not None
    assert summary.abs_error_feedback_n == pytest.approx(np.mean(feedback))
    assert summary.abs_error_blind_n == pytest.approx(np.mean(blind))


@pytest.mark.slow
def test_a_guided_trapezoid_and_the_pain_rating_channel(db, capsys, tmp_path):
    config = tmp_path / "guided.toml"
    config.write_text(
        '[profile]\nkind = "trapezoid"\nforce_n = 30.0\nramp_s = 3.0\nplateau_s = 10.0\n'
        "release_s = 2.0\nrest_s = 5.0\nrepeats = 3\ntolerance_n = 3.0\n"
    )
    sid = record(db, capsys, "sim://?scenario=guided&speed=0", "--profile",
                 "--config", str(config))  # fmt: skip
    script = load_scenario("guided").script()
    with SessionStore(db) as store:
        rec = store.load_session(sid)
        t_s, forces_n = store.load_forces(sid)
        res = load_clinical(store, sid)
    force_n = forces_n[:, 0]
    # the rating channel: every eVAS event of the script, on the force's time base
    planned = script.ratings
    assert len(rec.ratings) == len(planned) > 20
    for got, want in zip(rec.ratings, planned, strict=True):
        assert got.source is MarkSource.DEVICE
        assert got.t_s == pytest.approx(want.t_s, abs=1e-3)
        assert got.value == pytest.approx(want.value, abs=0.005)
    peak = {round(r.value) for r in rec.ratings if r.value >= 3.95}
    assert peak == {4, 5, 6}
    # ratings rise with the force: at each rating's time the force agrees with the script's
    hand_n, _ = script.forces(np.array([r.t_s for r in rec.ratings]))
    measured = np.interp([r.t_s for r in rec.ratings], t_s, force_n)
    assert np.max(np.abs(measured - hand_n)) < 1.5  # tremor and noise only

    # the guided profile: its score from the recording against the noise-free script's
    profile = Profile.from_config(load_config(config))
    assert profile is not None
    assert rec.protocols[0].kind is ProtocolKind.PROFILE
    (score,) = res.profile_scores
    want = score_profile(profile, 0.0, t_s, script.forces(t_s)[0])
    assert score.rms_error_n == pytest.approx(want.rms_error_n, abs=0.3)
    assert score.mean_abs_error_n == pytest.approx(want.mean_abs_error_n, abs=0.3)
    assert score.in_band_pct == pytest.approx(want.in_band_pct, abs=2.0)
    assert 0.3 < score.mean_abs_error_n < 2.0  # the script misses by 0.5–1 N on the plateaus

    # the exports carry the ratings and the score
    out = tmp_path / "guided.json"
    assert main(["export", sid, "--format", "json", "--out", str(out), "--db", str(db)]) == 0
    doc = json.loads(out.read_text())
    assert len(doc["ratings"]) == len(planned)
    assert doc["guided"][0]["rms_error_n"] == score.rms_error_n


def test_ppt_settings_follow_the_contact_area(tmp_path):
    """kPa/s on a larger probe asks for proportionally more N/s."""
    cfg = tmp_path / "c.toml"
    cfg.write_text("contact_area_cm2 = 0.5\n[ppt]\nrate_kpa_per_s = 30.0\n")
    s = PptSettings.from_config(load_config(cfg))
    assert s.rate_n_per_s == pytest.approx(1.5)
    assert rate_band(s) == pytest.approx((1.2, 1.8))
