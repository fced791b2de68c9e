"""What the app asks of the sync: each session's state, and a pass that never raises."""

from __future__ import annotations

import sqlite3

from logger.records import SessionStatus
from logger.store import SessionStore
from logger.store.sync import (
    UNREACHABLE,
    SyncState,
    library_key,
    session_sync_states,
    sync_library,
    sync_pass,
)

from .conftest import make_school
from .stations import make_station, write_session


def test_each_session_is_synced_changed_not_synced_or_recording(school, station):
    a, b = make_station(station, 2)
    assert session_sync_states(station, school.url) == {
        a: SyncState.NOT_SYNCED,
        b: SyncState.NOT_SYNCED,
    }
    sync_library(station, school.url)
    with SessionStore(station) as store:
        c = write_session(store, seconds=2, started_at="2026-12-01T09:00:00+00:00")
        live = write_session(store, seconds=1, status=None,
                             started_at="2026-12-02T09:00:00+00:00")  # fmt: skip
        store.set_notes(b, "a trainer's remark after the sync")
    states = session_sync_states(station, school.url)
    assert states == {
        a: SyncState.SYNCED,
        b: SyncState.CHANGED,
        c: SyncState.NOT_SYNCED,
        live: SyncState.RECORDING,
    }
    assert str(states[b]) == "changed since sync"
    sync_library(station, school.url)
    assert session_sync_states(station, school.url) == {
        a: SyncState.SYNCED,
        b: SyncState.SYNCED,
        c: SyncState.SYNCED,
        live: SyncState.RECORDING,
    }


def test_states_are_read_from_the_file_alone_and_per_school_library(pg_server, station):
    first, second = make_school(pg_server), make_school(pg_server)
    (sid,) = make_station(station, 1)
    sync_library(station, first.url)
    pg_server.stop()  # no server at all: the states come from the station's file
    try:
        assert session_sync_states(station, first.url) == {sid: SyncState.SYNCED}
        assert session_sync_states(station, second.url) == {sid: SyncState.NOT_SYNCED}
        # another login on the same library: the same state
        other = first.url.replace("postgres@", "alice:pw@", 1)
        assert library_key(other) == library_key(first.url)
        assert session_sync_states(station, other) == {sid: SyncState.SYNCED}
    finally:
        pg_server.start()
    # reading the states writes nothing
    with sqlite3.connect(station) as conn:
        assert conn.execute("SELECT count(*) FROM sync_state").fetchone()[0] == 1


def test_no_library_yet_has_no_sessions(tmp_path, school):
    assert session_sync_states(tmp_path / "none.sqlite3", school.url) == {}
    done = sync_pass(tmp_path / "none.sqlite3", school.url)
    assert done.ok and done.text == "nothing recorded yet"


def test_a_pass_says_what_it_did_and_then_that_all_is_up_to_date(school, station):
    make_station(station, 2)
    with SessionStore(station) as store:
        write_session(store, seconds=1, status=None, started_at="2026-12-02T09:00:00+00:00")
    first = sync_pass(station, school.url)
    assert first.ok and first.text == "sent 2 sessions" and first.sent == 2
    assert "1 left for later" in first.detail
    again = sync_pass(station, school.url)
    assert again.ok and again.text == "up to date" and again.sent == 0


def test_a_server_down_is_a_result_not_an_exception(fresh_server, station):
    school = make_school(fresh_server)
    (sid,) = make_station(station, 1)
    fresh_server.stop("immediate")  # as if the network went
    done = sync_pass(station, school.url)
    assert not done.ok and done.unreachable and done.text == UNREACHABLE
    assert "cannot reach the server" in done.detail and "\n" not in done.detail
    assert session_sync_states(station, school.url) == {sid: SyncState.NOT_SYNCED}
    fresh_server.start()  # back: the next pass sends it
    back = sync_pass(station, school.url)
    assert back.ok and back.sent == 1
    assert session_sync_states(station, school.url) == {sid: SyncState.SYNCED}


def test_a_refused_login_is_a_failure_not_unreachable(school, station):
    make_station(station, 1)
    url = school.login("alice", "pl_trainee", password="right-pw")
    wrong = url.replace(":right-pw@", ":wrong-pw@")
    done = sync_pass(station, wrong)
    assert not done.ok and not done.unreachable and done.text == "sync failed"
    assert "login refused" in done.detail
    assert "wrong-pw" not in done.detail and "right-pw" not in done.detail


def test_a_pass_asked_to_stop_ends_before_its_next_session(school, station):
    ids = make_station(station, 3)
    asked: list[int] = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) > 1  # the first session goes, then stop

    done = sync_pass(station, school.url, stop=stop)
    assert not done.ok and done.text == "stopped" and done.sent == 1
    assert done.report is not None and done.report.stopped
    states = session_sync_states(station, school.url)
    assert sorted(states.values()) == sorted([SyncState.SYNCED, *[SyncState.NOT_SYNCED] * 2])
    assert sync_pass(station, school.url).sent == 2  # the rest go next time
    assert set(session_sync_states(station, school.url)) == set(ids)


def test_an_interrupted_session_is_synced_as_such(school, station):
    with SessionStore(station) as store:
        sid = write_session(store, seconds=2, status=SessionStatus.INTERRUPTED)
    assert session_sync_states(station, school.url) == {sid: SyncState.NOT_SYNCED}
    assert sync_pass(station, school.url).sent == 1
    assert session_sync_states(station, school.url) == {sid: SyncState.SYNCED}
