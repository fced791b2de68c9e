"""The report's parts (gui/report/data.py), checked without Qt: no QApplication, no widget;
the parts of a generated session add up to the session, and the module loads no Qt."""

from __future__ import annotations

import math
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calibration.models import CalibrationInfo
from gui.report.data import (
    ReportParts,
    TraceSpec,
    complete_pairs,
    prepare_parts,
    timeline_trace,
)
from gui.review.demo import PLAN, build_demo_library, write_session
from logger.deidentify import DeidentifiedStore
from logger.point_stats import point_stats
from logger.records import DeviceInfo, SessionMeta
from logger.store import SessionStore

SPEC = TraceSpec(max_points=2200, detail_max_samples=40_000)  # the report's own


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    db = tmp_path_factory.mktemp("report-data") / "sessions.sqlite3"
    with SessionStore(db) as store:
        lib = build_demo_library(store, points=4, trials=2, hold_s=6.0, rate_hz=200.0)
    return db, lib


@pytest.fixture
def store(library):
    with SessionStore(library[0]) as s:
        yield s


def holds_by_point(parts: ReportParts) -> dict[int | None, list[float]]:
    out: dict[int | None, list[float]] = {}
    for h in sorted(parts.record.holds, key=lambda h: h.start_s):
        out.setdefault(h.point_index, []).append(h.mean_n)
    return out


def check_adds_up(parts: ReportParts, store: SessionStore, sid: str) -> None:
    """What any session's parts must satisfy."""
    rec = store.load_session(sid)
    assert parts.record.id == sid
    assert [h.index for h in parts.record.holds] == [h.index for h in rec.holds]
    # every hold is one trial of one point, and the statistics are logger's own
    assert sum(s.trials for s in parts.stats) == len(rec.holds)
    assert list(parts.stats) == point_stats(rec.holds, rec.points)
    means = holds_by_point(parts)
    for s in parts.stats:
        trials = means.get(s.point_index, [])
        assert s.trials == len(trials)
        assert s.trial_means_n == tuple(trials)
        if trials:
            assert s.mean_n == pytest.approx(sum(trials) / len(trials))
        else:
            assert s.mean_n is None
    # left/right: only pairs with both sides measured
    assert parts.pairs == complete_pairs(parts.stats)
    for p in parts.pairs:
        assert p.left_mean_n is not None and p.right_mean_n is not None
        assert p.diff_n == pytest.approx(p.left_mean_n - p.right_mean_n)


def test_parts_of_every_demo_session_add_up(store, library):
    _, lib = library
    for sid in (lib.reference, *lib.trainee):
        parts = prepare_parts(store, sid, None, SPEC)
        check_adds_up(parts, store, sid)
        assert parts.day is None and not parts.deidentified
        assert parts.comparison is None
        assert len(parts.pairs) == 2  # trapezius and levator scapulae, both sides


def test_a_short_session_is_traced_sample_by_sample(store, library):
    _, lib = library
    sid = lib.trainee[0]
    rec = store.load_session(sid)
    trace = timeline_trace(store, rec, SPEC)
    t, f = store.load_forces(sid)
    assert trace.detail and not trace.empty
    assert trace.t_s.size == rec.stats.samples == t.size
    np.testing.assert_array_equal(trace.t_s, t)
    np.testing.assert_array_equal(trace.lo_n, f[:, 0])
    assert trace.hi_n is trace.lo_n
    assert trace.t0_s < 0.0 < rec.stats.duration_s < trace.t1_s  # the whole session
    for a in (trace.t_s, trace.lo_n):
        assert not a.flags.writeable  # the parts are frozen, arrays too


def test_a_long_session_is_traced_as_the_envelope(store, library):
    _, lib = library
    sid = lib.trainee[1]  # the one with a gap
    rec = store.load_session(sid)
    spec = TraceSpec(max_points=300, detail_max_samples=100)
    trace = timeline_trace(store, rec, spec)
    _, f = store.load_forces(sid)
    assert not trace.detail
    assert 0 < trace.t_s.size <= 300
    assert (trace.t0_s, trace.t1_s) == (0.0, rec.stats.duration_s)
    assert np.all(trace.lo_n <= trace.hi_n)
    assert np.all((trace.t_s >= 0.0) & (trace.t_s <= rec.stats.duration_s + 1.0))
    # an envelope keeps the extremes of the samples it summarises
    assert trace.lo_n.min() == pytest.approx(f[:, 0].min(), abs=1e-6)
    assert trace.hi_n.max() == pytest.approx(f[:, 0].max(), abs=1e-6)


def test_comparison_parts_hold_one_overlay_per_point_and_the_progress(store, library):
    _, lib = library
    sid = lib.trainee[2]
    parts = prepare_parts(store, sid, lib.reference, SPEC)
    check_adds_up(parts, store, sid)
    c = parts.comparison
    assert c is not None
    assert c.reference.id == lib.reference
    assert [o.point for o in c.overlays] == [p.point for p in c.scores.points]
    for o, p in zip(c.overlays, c.scores.points, strict=True):
        assert len(o.curves) == p.trainee_trials == 2
        assert all(curve.point == p.point for curve in o.curves)
        assert o.reference_curve_n is p.reference_curve_n
        assert (o.dt_s, o.target_n) == (p.dt_s, p.target_n)
    # the trainee's three sessions, oldest first, the reference left out
    assert [e.session_id for e in c.progress] == lib.trainee
    assert c.progress[-1].rms_error_n == pytest.approx(c.scores.rms_error_n)
    assert c.progress[-1].points_compared == len(c.scores.points)


def test_no_progress_without_a_second_session_of_the_therapist(tmp_path):
    with SessionStore(tmp_path / "two.sqlite3") as store:
        ref, trainee = (
            write_session(
                store,
                therapist=who,
                client="C-1",
                started_at=f"2026-11-0{day}T10:00:00+00:00",
                plateaus_n=[[30.0], [28.0]],
                rate_hz=100.0,
                hold_s=4.0,
            )
            for who, day in (("Expert", 1), ("Trainee", 2))
        )
        c = prepare_parts(store, trainee, ref, SPEC).comparison
    assert c is not None and len(c.overlays) == 2
    assert c.progress == ()


def test_deidentified_parts_have_a_day_and_no_names(store, library):
    _, lib = library
    view = DeidentifiedStore(store, lib.trainee[0])
    first = prepare_parts(view, lib.trainee[0], lib.reference, SPEC)
    later = prepare_parts(view, lib.trainee[1], None, SPEC)
    assert (first.day, later.day) == (0, 7) and first.deidentified
    for parts in (first, later):
        m = parts.record.meta
        assert (m.client, m.therapist, m.notes) == (None, None, None)
        assert parts.record.id.startswith("anon-")
    assert first.comparison is not None
    assert first.comparison.reference.meta.therapist is None
    assert first.comparison.progress == ()  # a view has no therapist to follow


def test_an_empty_session_has_empty_parts(tmp_path):
    with SessionStore(tmp_path / "empty.sqlite3") as store:
        meta = SessionMeta(
            "2026-11-01T10:00:00+00:00",
            DeviceInfo("EDGE-1", "1", "1.0", 1000.0, 1),
            CalibrationInfo(4000.0, 120000.0, "factory"),
            {},
        )
        sid = store.create_session(meta)
        store.finish_session(sid, "interrupted")
        parts = prepare_parts(store, sid, None, SPEC)
    assert parts.record.holds == [] and parts.stats == () and parts.pairs == ()
    assert parts.timeline.empty and parts.timeline.t_s.size == 0


@pytest.mark.slow
@settings(max_examples=50, deadline=None)
@given(
    plateaus=st.lists(
        st.lists(st.floats(12.0, 60.0), min_size=1, max_size=3), min_size=1, max_size=len(PLAN)
    ),
    rate_hz=st.sampled_from([50.0, 100.0]),
)
def test_parts_of_a_generated_session_add_up(plateaus, rate_hz):
    with tempfile.TemporaryDirectory() as d, SessionStore(Path(d) / "s.sqlite3") as store:
        sid = write_session(
            store,
            therapist="T",
            client="C-0001",
            started_at="2026-11-01T10:00:00+00:00",
            plateaus_n=plateaus,
            rate_hz=rate_hz,
            hold_s=3.0,
            rest_s=4.0,
            ramp_s=1.0,
        )
        parts = prepare_parts(store, sid, None, SPEC)
        check_adds_up(parts, store, sid)
    # one hold per press, each trial where it was pressed, each near the force pressed
    assert len(parts.record.holds) == sum(len(p) for p in plateaus)
    assert [s.trials for s in parts.stats] == [len(p) for p in plateaus]
    for s, pressed in zip(parts.stats, plateaus, strict=True):
        assert s.mean_n is not None
        assert math.isclose(s.mean_n, sum(pressed) / len(pressed), abs_tol=0.5)
    # PLAN pairs points 1/2 and 3/4 (L and R)
    assert len(parts.pairs) == (len(plateaus) >= 2) + (len(plateaus) >= 4)
    assert parts.timeline.detail and parts.timeline.t_s.size == parts.record.stats.samples


def test_the_data_module_loads_no_qt():
    code = (
        "import sys, gui.report.data, gui.report\n"
        "qt = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'shiboken6', 'pyqtgraph'))\n"
        "assert not qt, qt\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
