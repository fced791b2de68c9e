"""The library's reading interface, the same tests against SQLite and the school server.

One station library (the review demo: an expert and a trainee, plus a multi-event
session) is synced once to a server; each test runs on both back ends and, where it
reads content, checks that both answer identically."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from gui.review.demo import build_demo_library
from logger.errors import BadInput
from logger.records import SessionStatus
from logger.store import SessionStore
from logger.store.open import open_library
from logger.store.postgres import PostgresLibrary
from logger.store.sync import sync_library

from .conftest import make_school
from .stations import write_session


@pytest.fixture(scope="module")
def source(pg_server, tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("station") / "station.sqlite3"
    with SessionStore(path) as store:
        demo = build_demo_library(store, points=3, trials=1, hold_s=6.0)
        events = write_session(store, seconds=30.0, therapist="A. Trainee")
        interrupted = write_session(store, seconds=5.0, status=SessionStatus.INTERRUPTED,
                                    started_at="2026-11-28T10:00:00+00:00")  # fmt: skip
    school = make_school(pg_server)
    report = sync_library(path, school.url)
    assert not report.failed and len(report.copied) == 6
    return {"path": path, "url": school.url, "demo": demo, "events": events,
            "interrupted": interrupted}  # fmt: skip


@pytest.fixture(params=["sqlite", "postgres"])
def library(request, source) -> Iterator[SessionStore | PostgresLibrary]:
    db = source["path"] if request.param == "sqlite" else source["url"]
    with open_library(db) as store:
        yield store


@pytest.fixture
def both(source) -> Iterator[tuple[SessionStore, PostgresLibrary]]:
    with SessionStore(source["path"]) as a, PostgresLibrary(source["url"]) as b:
        yield a, b


def test_list_and_filter(library, source):
    demo = source["demo"]
    everything = library.list_sessions()
    assert [s.id for s in everything][:4] == [demo.reference, *demo.trainee]
    assert len(everything) == 6
    assert [s.id for s in library.list_sessions(therapist="Dr. Expert")] == [demo.reference]
    assert len(library.list_sessions(therapist="A. Trainee")) == 4
    assert [s.id for s in library.list_sessions(client="C-0003")] == [demo.trainee[1]]
    assert len(library.list_sessions(point="Upper trapezius R")) == 4
    assert library.list_sessions(point="no such point") == []
    since = library.list_sessions(since="2026-11-15", until="2026-11-27T00:00")
    assert [s.id for s in since] == demo.trainee[1:]
    interrupted = library.list_sessions(status="interrupted")
    assert [s.id for s in interrupted] == [source["interrupted"]]
    gap = next(s for s in everything if s.id == demo.trainee[1])
    assert gap.lost_samples == 500 and gap.samples > 0 and gap.device_uid == "SIM-0001"


def test_bad_filters_and_unknown_ids_are_bad_input(library):
    with pytest.raises(BadInput, match="since"):
        library.list_sessions(since="yesterday")
    with pytest.raises(BadInput, match="unknown session"):
        library.load_session("20990101-000000-0000")
    with pytest.raises(BadInput, match="unknown session"):
        library.load_samples("20990101-000000-0000")


def test_load_session_has_every_event(library, source):
    rec = library.load_session(source["events"])
    assert rec.status is SessionStatus.COMPLETE
    assert [p.name for p in rec.points] == ["Upper trapezius L", "B"]
    assert rec.points[0].target_n == (25.0, 35.0)
    assert len(rec.marks) == 2 and len(rec.holds) == 2 and len(rec.alerts) == 1
    assert rec.gaps[0].lost_samples == 100 and len(rec.reconnects) == 1
    assert len(rec.zeros) == 1 and rec.meta.notes == "left side tender"
    assert rec.stats.samples == 30000 and rec.last_t_s is not None
    assert library.calibration(source["events"]) == rec.meta.calibration


def test_samples_forces_and_time_ranges(library, source):
    sid = source["events"]
    t, raw = library.load_samples(sid)
    assert t.shape == (30000,) and raw.shape == (30000, 1) and raw.dtype == np.int32
    part_t, _ = library.load_samples(sid, 10.0, 12.0)
    assert part_t[0] >= 10.0 and part_t[-1] <= 12.0 and part_t.size == 2001
    blocks = list(library.iter_chunks(sid, 14.0, 16.5))
    assert sum(len(b) for b in blocks) > 0
    assert all(b.t_s[0] >= 14.0 and b.t_s[-1] <= 16.5 for b in blocks)
    ft, force = library.load_forces(sid, 0.0, 1.0)
    assert force.shape == (ft.size, 1) and abs(float(force[0, 0])) < 1.0


def test_overview_stays_within_max_points(library, source):
    sid = source["events"]
    t, lo, hi = library.load_overview(sid, max_points=100)
    assert 0 < t.size <= 100 and np.all(lo <= hi)
    t2, lo2, hi2 = library.load_overview(sid, 5.0, 5.05, max_points=2000)
    assert np.array_equal(lo2, hi2) and t2.size == 51  # few enough: the samples themselves


def test_clients(library):
    assert library.clients()[:2] == ["C-001", "C-0004"]


def test_both_back_ends_read_the_same(both):
    a, b = both
    assert a.list_sessions() == b.list_sessions()
    assert a.clients() == b.clients()
    for s in a.list_sessions():
        assert a.load_session(s.id) == b.load_session(s.id)
        for x, y in zip(a.load_samples(s.id), b.load_samples(s.id), strict=True):
            assert np.array_equal(x, y)
        for args in ((None, None, 300), (10.0, 60.0, 50), (None, None, 5)):
            for x, y in zip(a.load_overview(s.id, *args), b.load_overview(s.id, *args),
                            strict=True):  # fmt: skip
                assert np.array_equal(x, y)


def test_notes_are_edited_on_either_back_end(source, pg_server, tmp_path):
    path = tmp_path / "copy.sqlite3"
    shutil.copy(source["path"], path)
    school = make_school(pg_server)
    sync_library(path, school.url)
    sid = source["events"]
    for db in (path, school.url):
        with open_library(db) as store:
            store.set_notes(sid, "better today")
        with open_library(db) as store:
            assert store.load_session(sid).meta.notes == "better today"
            store.set_notes(sid, "")
            assert store.load_session(sid).meta.notes is None


def test_audit_trail_on_the_server(source, pg_server, tmp_path):
    school = make_school(pg_server)
    sync_library(Path(source["path"]), school.url)
    with PostgresLibrary(school.url) as lib:
        lib.log_audit("export", [source["events"]], format="csv", out="/tmp/x.csv")
        (entry,) = lib.audit()
    assert entry.action.value == "export" and entry.sessions == [source["events"]]
    assert entry.detail == {"format": "csv", "out": "/tmp/x.csv"}


def test_damaged_content_on_the_server_names_the_session(school, station):
    import psycopg

    from logger.errors import StorageError

    from .stations import make_station

    (sid,) = make_station(station, 1)
    sync_library(station, school.url)
    with psycopg.connect(school.url, autocommit=True) as conn:
        conn.execute("UPDATE pressure_logger.sessions SET stats = 'not json'")
    with PostgresLibrary(school.url) as lib, pytest.raises(StorageError, match=sid):
        lib.list_sessions()
