"""Who sees what on the school server: row-level security, connecting as each role."""

from __future__ import annotations

import psycopg
import pytest

from logger.errors import BadInput
from logger.store import SessionStore
from logger.store.pg_connect import ServerError
from logger.store.postgres import PostgresLibrary
from logger.store.sync import sync_library

from .stations import make_station, write_session


@pytest.fixture
def school_day(school, tmp_path):
    """A station where alice and bob recorded, synced by their trainer."""
    station = tmp_path / "station.sqlite3"
    alice = make_station(station, 2, therapist="alice")
    with SessionStore(station) as store:
        bob = [write_session(store, therapist="bob", started_at="2026-11-20T09:00:00+00:00")]
    urls = {
        "alice": school.login("alice", "pl_trainee"),
        "bob": school.login("bob", "pl_trainee"),
        "tina": school.login("tina", "pl_trainer"),
        "adam": school.login("adam", "pl_admin"),
    }
    report = sync_library(station, urls["tina"])
    assert sorted(report.copied) == sorted(alice + bob)
    return {"station": station, "urls": urls, "alice": alice, "bob": bob}


def test_a_trainee_sees_only_its_own_sessions(school_day):
    with PostgresLibrary(school_day["urls"]["alice"]) as lib:
        assert sorted(s.id for s in lib.list_sessions()) == sorted(school_day["alice"])
        with pytest.raises(BadInput, match="unknown session"):
            lib.load_session(school_day["bob"][0])
        with pytest.raises(BadInput, match="unknown session"):
            lib.load_samples(school_day["bob"][0])
        assert lib.list_sessions(therapist="bob") == []
        with pytest.raises(BadInput, match="unknown session"):
            lib.set_notes(school_day["bob"][0], "mine now")
    with PostgresLibrary(school_day["urls"]["bob"]) as lib:
        assert [s.id for s in lib.list_sessions()] == school_day["bob"]


def test_a_trainee_cannot_reach_other_rows_with_its_own_sql(school_day, school):
    bob_pk = school.scalar("SELECT pk FROM pressure_logger.sessions WHERE id = %s",
                           school_day["bob"][0])  # fmt: skip
    with psycopg.connect(school_day["urls"]["alice"], autocommit=True) as conn:
        conn.execute("SET search_path TO pressure_logger")
        for table in ("chunks", "summary", "holds", "marks", "points", "zeros", "gaps",
                      "signals", "ratings", "protocols"):  # fmt: skip
            n = conn.execute(f"SELECT count(*) FROM {table} WHERE session_pk = %s", (bob_pk,))
            assert n.fetchone()[0] == 0, table
        mine = conn.execute("SELECT count(DISTINCT session_pk) FROM chunks").fetchone()[0]
        assert mine == 2
        own = conn.execute("SELECT count(DISTINCT session_pk) FROM ratings").fetchone()[0]
        assert own == 2
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # row security
            conn.execute(
                "INSERT INTO sessions (id, owner, station, started_at, started_unix, status, "
                "device, calibration, config, checksum) VALUES "
                "('x', 'bob', 's', 'a', 1, 'complete', '{}', '{}', '{}', 'c')"
            )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO marks (session_pk, seq, t_s, source) VALUES (%s, 99, 1, 'cli')",
                (bob_pk,),
            )
        assert conn.execute("UPDATE sessions SET notes = 'x' WHERE owner = 'bob'").rowcount == 0


def test_only_an_admin_deletes(school_day):
    sid = school_day["alice"][0]
    for who in ("alice", "tina"):
        with psycopg.connect(school_day["urls"][who], autocommit=True) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("DELETE FROM pressure_logger.sessions WHERE id = %s", (sid,))
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("DELETE FROM pressure_logger.chunks")
    with psycopg.connect(school_day["urls"]["adam"], autocommit=True) as conn:
        deleted = conn.execute("DELETE FROM pressure_logger.sessions WHERE id = %s", (sid,))
        assert deleted.rowcount == 1
        left = conn.execute(
            "SELECT count(*) FROM pressure_logger.chunks c WHERE NOT EXISTS "
            "(SELECT 1 FROM pressure_logger.sessions s WHERE s.pk = c.session_pk)"
        ).fetchone()[0]
        assert left == 0  # its samples went with it


def test_a_trainer_sees_everyone_and_edits_notes(school_day):
    with PostgresLibrary(school_day["urls"]["tina"]) as lib:
        assert len(lib.list_sessions()) == 3
        assert len(lib.list_sessions(therapist="alice")) == 2
        lib.set_notes(school_day["bob"][0], "good pressure")
        assert lib.load_session(school_day["bob"][0]).meta.notes == "good pressure"
        lib.log_audit("report", school_day["bob"])
        assert [e.sessions for e in lib.audit()] == [school_day["bob"]]
    with PostgresLibrary(school_day["urls"]["alice"]) as lib, pytest.raises(ServerError):
        lib.audit()  # the audit trail is the staff's


def test_a_trainee_syncs_only_its_own_sessions(school, tmp_path):
    station = tmp_path / "own.sqlite3"
    mine = make_station(station, 1, therapist="carol")
    with SessionStore(station) as store:
        theirs = write_session(store, therapist="dave", started_at="2026-11-21T09:00:00+00:00")
    url = school.login("carol", "pl_trainee")
    report = sync_library(station, url)
    assert report.copied == mine and report.not_theirs == [theirs]
    assert school.scalar("SELECT owner FROM pressure_logger.sessions WHERE id = %s", mine[0]) == (
        "carol"
    )
    # the trainer's sync takes the rest, owned by nobody's login (dave has none): the trainer
    report = sync_library(station, school.login("tom", "pl_trainer"))
    assert report.copied == [theirs] and report.unchanged == mine
    assert school.scalar("SELECT owner FROM pressure_logger.sessions WHERE id = %s", theirs) == (
        "tom"
    )


def test_a_login_outside_the_groups_is_refused(school):
    school.login("stranger", "pg_read_all_stats")
    url = school.server.url(school.dbname, "stranger", "secret-pw")
    with pytest.raises(BadInput, match="may not read the school library"):
        PostgresLibrary(url)
