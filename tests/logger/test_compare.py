"""Comparison maths on synthetic curves with known answers (issue 6 acceptance)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logger.compare import (
    DEFAULT_DT_S,
    SessionData,
    compare_sessions,
    load_hold_curves,
    mean_curve,
    progress,
    resample_hold,
)
from logger.records import Hold, Point


def trapezoid(t_s: np.ndarray, onset_s: float, plateau_n: float, hold_s: float) -> np.ndarray:
    """Ramp 0→plateau in 2 s from onset-ish, plateau, linear release in 1 s (piecewise linear)."""
    knots_t = [onset_s - 0.5, onset_s + 1.5, onset_s + 1.5 + hold_s, onset_s + 2.5 + hold_s]
    knots_f = [0.0, plateau_n, plateau_n, 0.0]
    return np.interp(t_s, knots_t, knots_f, left=0.0, right=0.0)


def curves(t_s: np.ndarray, force_n: np.ndarray, holds: list[Hold], points=()) -> list:
    """Every hold's curve, read from whole in-memory arrays."""
    return load_hold_curves(lambda _t0, _t1: (t_s, force_n), holds, points)


def hold(index: int, point_index: int | None, start_s: float, end_s: float, **kw) -> Hold:
    defaults = dict(
        mean_n=kw.pop("mean_n", 30.0),
        peak_n=31.0,
        cv_pct=2.0,
        ramp_rate_n_per_s=10.0,
        time_over_warn_s=0.0,
        time_over_max_s=0.0,
        in_target_pct=kw.pop("in_target_pct", None),
    )
    return Hold(
        index,
        point_index,
        None,
        start_s,
        end_s,
        end_s - start_s,
        **defaults,  # type: ignore[arg-type]
    )


def session(
    onsets: list[tuple[int, float]],
    offset_n: float = 0.0,
    rate_hz: float = 1000.0,
    shift_s: float = 0.0,
    points: tuple[str, ...] = ("Upper trapezius L", "Upper trapezius R"),
    sid: str = "",
    started_at: str = "",
) -> SessionData:
    """Holds (point_index, onset) of 20 s plateau at 30 N; ``offset_n`` added during holds."""
    duration_s = max(o for _, o in onsets) + shift_s + 40.0
    t = np.arange(0.0, duration_s, 1.0 / rate_hz)
    f = np.zeros_like(t)
    holds = []
    for i, (pi, onset) in enumerate(onsets):
        onset += shift_s
        f += trapezoid(t, onset, 30.0, 20.0)
        # start/end where the base curve crosses 5 N up / 4 N down
        start = onset - 0.5 + 2.0 * 5.0 / 30.0
        end = onset + 1.5 + 20.0 + 1.0 * (1 - 4.0 / 30.0)
        holds.append(hold(i, pi, start, end))
        f[(t >= start - 0.01) & (t <= end + 0.01)] += offset_n
    pts = [Point(i, n, target_n=(25.0, 35.0)) for i, n in enumerate(points)]
    return SessionData(pts, holds, curves(t, f, holds, pts), sid, started_at)


def test_trainee_is_reference_plus_3n_scores_rms_3n_and_mean_diff_plus_3n():
    ref = session([(0, 5.0), (1, 40.0)])
    trainee = session([(0, 5.0), (1, 40.0)], offset_n=3.0)
    c = compare_sessions(trainee, ref)
    assert [p.point for p in c.points] == ["Upper trapezius L", "Upper trapezius R"]
    for p in c.points:
        assert p.rms_error_n == pytest.approx(3.0, abs=1e-9)
        assert p.mean_diff_n == pytest.approx(3.0, abs=1e-9)
        assert p.in_band_pct == pytest.approx(100.0)
        assert p.overlap_s > 20.0
    assert c.rms_error_n == pytest.approx(3.0, abs=1e-9)
    assert c.mean_diff_n == pytest.approx(3.0, abs=1e-9)


def test_trainee_below_reference_has_negative_mean_difference_and_band_share():
    ref = session([(0, 5.0)])
    trainee = session([(0, 5.0)], offset_n=-8.0)
    c = compare_sessions(trainee, ref, tolerance_n=5.0)
    (p,) = c.points
    assert p.mean_diff_n == pytest.approx(-8.0, abs=1e-9)
    assert p.rms_error_n == pytest.approx(8.0, abs=1e-9)
    assert p.in_band_pct == pytest.approx(0.0)


def test_alignment_at_onset_removes_time_shift_and_rate_difference():
    ref = session([(0, 5.0)], rate_hz=1000.0)
    trainee = session([(0, 5.0)], rate_hz=500.0, shift_s=123.4)
    c = compare_sessions(trainee, ref)
    assert c.points[0].rms_error_n == pytest.approx(0.0, abs=0.05)


def test_scatter_between_trials_counts_against_the_trainee():
    ref = session([(0, 5.0)])
    # two trials, +4 N and -4 N: the mean curve matches, the trials do not
    t = np.arange(0.0, 100.0, 0.001)
    f = trapezoid(t, 5.0, 30.0, 20.0) + trapezoid(t, 50.0, 30.0, 20.0)
    holds = [
        hold(0, 0, 5.0 - 0.5 + 1 / 3, 26.5 + 13 / 15),
        hold(1, 0, 50.0 - 0.5 + 1 / 3, 71.5 + 13 / 15),
    ]
    f[(t >= holds[0].start_s - 0.01) & (t <= holds[0].end_s + 0.01)] += 4.0
    f[(t >= holds[1].start_s - 0.01) & (t <= holds[1].end_s + 0.01)] -= 4.0
    pts = ref.points
    trainee = SessionData(pts, holds, curves(t, f, holds, pts))
    (p,) = compare_sessions(trainee, ref).points
    assert p.mean_diff_n == pytest.approx(0.0, abs=1e-9)
    assert p.rms_error_n == pytest.approx(4.0, abs=1e-9)
    assert p.trainee_trials == 2


def test_points_match_by_name_and_unmatched_are_listed():
    ref = session([(0, 5.0)], points=("Levator scapulae", "Gluteus medius"))
    trainee = session([(0, 5.0), (1, 40.0)], points=("levator  SCAPULAE", "Infraspinatus"))
    c = compare_sessions(trainee, ref)
    assert [p.point for p in c.points] == ["levator  SCAPULAE"]
    assert c.unmatched_trainee == ["Infraspinatus"]
    assert c.unmatched_reference == []


def test_resample_does_not_bridge_a_gap():
    t = np.arange(0.0, 10.0, 0.001)
    keep = (t < 4.0) | (t > 6.0)
    t, f = t[keep], np.full(keep.sum(), 20.0)
    curve = resample_hold(t, f, 1.0, 9.0, 0.01)
    grid = 1.0 + np.arange(curve.size) * 0.01
    assert np.isnan(curve[(grid > 4.01) & (grid < 5.99)]).all()
    assert np.isfinite(curve[(grid < 3.99) | (grid > 6.01)]).all()
    assert curve.size == 801


def test_mean_curve_pads_different_lengths_without_warnings():
    mean, count = mean_curve([np.array([1.0, 2.0, 3.0]), np.array([3.0, np.nan])])
    assert mean[0] == 2.0 and mean[1] == 2.0 and mean[2] == 3.0
    assert count.tolist() == [2, 1, 1]


def test_load_hold_curves_reads_only_hold_windows():
    t = np.arange(0.0, 60.0, 0.001)
    f = trapezoid(t, 5.0, 30.0, 20.0)
    h = hold(0, 0, 5.0 - 0.5 + 1 / 3, 26.5 + 13 / 15)
    asked: list[tuple[float, float]] = []

    def loader(t0: float, t1: float):
        asked.append((t0, t1))
        sel = (t >= t0) & (t <= t1)
        return t[sel], f[sel]

    (curve,) = load_hold_curves(loader, [h])
    whole = resample_hold(t, f, h.start_s, h.end_s, DEFAULT_DT_S)
    assert np.isfinite(whole).all()
    np.testing.assert_allclose(curve.force_n, whole)
    assert asked[0][0] > 4.0 and asked[0][1] < 28.0


def test_progress_orders_by_date_and_scores_improvement():
    ref = session([(0, 5.0)])
    sessions = [
        session([(0, 5.0)], offset_n=1.0, sid="c", started_at="2026-11-20T10:00:00Z"),
        session([(0, 5.0)], offset_n=-9.0, sid="a", started_at="2026-11-01T10:00:00Z"),
        session([(0, 5.0)], offset_n=4.0, sid="b", started_at="2026-11-10T10:00:00Z"),
    ]
    entries = progress(sessions, ref)
    assert [e.session_id for e in entries] == ["a", "b", "c"]
    assert [round(e.rms_error_n, 6) for e in entries] == [9.0, 4.0, 1.0]
    assert entries[0].mean_diff_n == pytest.approx(-9.0)
    assert all(e.points_compared == 1 for e in entries)


SCENARIO = """
[device]
uid = "SIM-CMP"
rate_hz = 500
noise_n = 0.05
[therapist]
seed = {seed}
tremor_n = 0.1
[[steps]]
action = "rest"
seconds = 1.0
[[steps]]
action = "mark"
[[steps]]
action = "hold"
force_n = {force_n}
ramp_s = {ramp_s}
seconds = 8.0
[[steps]]
action = "rest"
seconds = 3.0
[[steps]]
action = "mark"
[[steps]]
action = "hold"
force_n = {force_n}
ramp_s = {ramp_s}
seconds = 8.0
[[steps]]
action = "rest"
seconds = 2.0
"""


def record(tmp_path, db, capsys, name: str, force_n: float, seed: int) -> str:
    """A real session: the simulator over sim://, recorded by `pressure-logger record`."""
    from logger.cli import main

    scenario = tmp_path / f"{name}.toml"
    # same ramp rate for both, so the onset-aligned curves differ only by the level
    scenario.write_text(SCENARIO.format(seed=seed, force_n=force_n, ramp_s=force_n / 15.0))
    rc = main(
        [
            "record",
            "--port",
            f"sim://{name}?scenario={scenario}&speed=0",
            "--db",
            str(db),
            "--points",
            "Upper trapezius L;Upper trapezius R",
            "--therapist",
            name,
        ]
    )
    assert rc == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_recorded_trainee_3n_below_reference(tmp_path, capsys):
    """End to end: simulator → record → store → comparison of the stored sessions."""
    from logger.compare import session_data_from_store
    from logger.store import SessionStore

    db = tmp_path / "s.sqlite3"
    ref_id = record(tmp_path, db, capsys, "expert", 30.0, 1)
    tr_id = record(tmp_path, db, capsys, "trainee", 27.0, 2)
    store = SessionStore(db)
    c = compare_sessions(
        session_data_from_store(store, tr_id), session_data_from_store(store, ref_id)
    )
    store.close()
    assert [p.point for p in c.points] == ["Upper trapezius L", "Upper trapezius R"]
    for p in c.points:
        assert p.trainee_mean_n - p.reference_mean_n == pytest.approx(-3.0, abs=0.1)
        # the plateau dominates: -3 N. The trainee's shorter ramp (same rate, lower level)
        # starts the release 0.2 s earlier after onset, which adds a little on top
        assert p.mean_diff_n == pytest.approx(-3.0, abs=0.3)
        assert 3.0 <= p.rms_error_n < 4.0
        assert p.overlap_s > 8.0


@settings(max_examples=60)
@given(
    offset_n=st.floats(-20.0, 20.0),
    plateau_n=st.floats(8.0, 60.0),
    hold_s=st.floats(3.0, 30.0),
    shift_s=st.floats(0.0, 100.0),
    rate_hz=st.sampled_from([80.0, 320.0, 1000.0]),
)
def test_constant_offset_scores_its_size(offset_n, plateau_n, hold_s, shift_s, rate_hz):
    """Any trainee curve that is the reference plus c newtons scores RMS |c|, mean c."""
    t = np.arange(0.0, 2 * hold_s + 20.0, 1.0 / 1000.0)
    f = trapezoid(t, 5.0, plateau_n, hold_s)
    h = hold(0, 0, 5.0, 5.0 + hold_s)
    ref = SessionData([Point(0, "P")], [h], curves(t, f, [h]))
    # the trainee: other rate, other start time, same shape + offset
    t2 = np.arange(0.0, 2 * hold_s + 20.0 + shift_s, 1.0 / rate_hz)
    f2 = trapezoid(t2, 5.0 + shift_s, plateau_n, hold_s) + offset_n
    h2 = hold(0, 0, 5.0 + shift_s, 5.0 + shift_s + hold_s)
    trainee = SessionData([Point(0, "P")], [h2], curves(t2, f2, [h2]))
    (p,) = compare_sessions(trainee, ref).points
    # resampling a piecewise-linear curve at another rate is exact except at its corners
    tol = plateau_n * 2.0 / rate_hz + 1e-9
    assert p.mean_diff_n == pytest.approx(offset_n, abs=tol)
    assert p.rms_error_n == pytest.approx(abs(offset_n), abs=2 * tol)
    assert p.rms_error_n >= abs(p.mean_diff_n) - 1e-9
