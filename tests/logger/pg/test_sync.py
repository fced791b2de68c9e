"""`pressure-logger sync` against a real server: idempotent, verified, resumable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from logger.records import SessionStatus
from logger.store import SessionStore
from logger.store.pg_schema import PG_MIGRATIONS
from logger.store.postgres import PostgresLibrary
from logger.store.sync import sync_library

from .conftest import in_process, make_school
from .stations import count_rows, make_station, write_session

CLI = [sys.executable, "-m", "logger.cli"]
ROOT = Path(__file__).resolve().parents[3]


def cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300, **kw)  # fmt: skip


def server_counts(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(url) as conn:
        return {
            t: int(conn.execute(f"SELECT count(*) FROM pressure_logger.{t}").fetchone()[0])
            for t in ("sessions", "chunks", "summary", "marks", "holds", "alerts", "gaps",
                      "reconnects", "zeros", "points", "devices", "calibrations", "signals",
                      "ratings", "protocols")
        }  # fmt: skip


def test_second_run_copies_nothing_and_interrupted_sessions_go_marked(school, station):
    ids = make_station(station, 2)
    with SessionStore(station) as store:
        cut = write_session(store, seconds=3, status=SessionStatus.INTERRUPTED,
                            started_at="2026-11-20T09:00:00+00:00")  # fmt: skip
        live = write_session(store, seconds=1, status=None,
                             started_at="2026-11-21T09:00:00+00:00")  # fmt: skip
    first = sync_library(station, school.url)
    assert sorted(first.copied) == sorted([*ids, cut]) and first.recording == [live]
    assert first.samples == 2 * 20000 + 3000
    counts = server_counts(school.url)
    assert counts["sessions"] == 3 and counts["devices"] == 1
    assert counts["chunks"] == count_rows(station, "chunks") - 2  # the live one's stay
    second = sync_library(station, school.url)
    assert second.copied == [] and sorted(second.unchanged) == sorted([*ids, cut])
    assert server_counts(school.url) == counts
    with PostgresLibrary(school.url) as lib:
        assert lib.load_session(cut).status is SessionStatus.INTERRUPTED
    # nothing deleted locally without --prune-synced
    assert count_rows(station, "sessions") == 4


def test_a_session_changed_after_its_sync_is_updated(school, station):
    (sid,) = make_station(station, 1)
    sync_library(station, school.url)
    with SessionStore(station) as store:
        store.set_notes(sid, "trainer's remark")
        store.replace_holds(sid, store.load_session(sid).holds[:1])
    report = sync_library(station, school.url)
    assert report.updated == [sid] and report.copied == []
    with PostgresLibrary(school.url) as lib, SessionStore(station) as store:
        assert lib.load_session(sid) == store.load_session(sid)
    assert sync_library(station, school.url).unchanged == [sid]


def test_a_state_lost_locally_is_found_on_the_server(school, station):
    ids = make_station(station, 2)
    sync_library(station, school.url)
    import sqlite3

    with sqlite3.connect(station) as conn:
        conn.execute("DELETE FROM sync_state")
    report = sync_library(station, school.url)
    assert sorted(report.already) == sorted(ids) and report.copied == []


def test_prune_synced_deletes_only_what_the_server_holds(school, station, capsys):
    ids = make_station(station, 2)
    sync_library(station, school.url, prune=False)
    with SessionStore(station) as store:
        extra = write_session(store, seconds=2, started_at="2026-12-01T09:00:00+00:00")
        live = write_session(store, seconds=1, status=None,
                             started_at="2026-12-02T09:00:00+00:00")  # fmt: skip
    done = in_process(capsys, "sync", "--to", school.url, "--db", str(station), "--prune-synced")
    assert done.returncode == 0, done.stderr
    assert "1 sent" in done.stdout and "3 removed locally" in done.stdout
    with SessionStore(station, recover=False) as store:
        assert [s.id for s in store.list_sessions()] == [live]
    with PostgresLibrary(school.url) as lib:
        assert sorted(s.id for s in lib.list_sessions()) == sorted([*ids, extra])


def test_calibrations_and_devices_go_once(school, station):
    from calibration.models import fit_calibration
    from logger.store import CalibrationStore

    make_station(station, 1)
    fit = fit_calibration([(120000.0 + 4000 * 9.80665 * m, m) for m in (0.0, 1.0, 2.0, 5.0)])
    CalibrationStore(station).save("SIM-0001", fit)
    assert sync_library(station, school.url).calibrations == 1
    assert sync_library(station, school.url).calibrations == 0
    with PostgresLibrary(school.url) as lib:
        latest = lib.latest_calibration("SIM-0001")
    assert latest is not None
    assert latest.calibration.coefficients == fit.calibration.coefficients


def test_several_stations_at_once(school, tmp_path):
    stations = [tmp_path / f"station{k}.sqlite3" for k in range(4)]
    ids = [sid for path in stations for sid in make_station(path, 2, seconds=30)]
    procs = [
        subprocess.Popen([*CLI, "sync", "--to", school.url, "--db", str(path)], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for path in stations
    ]  # fmt: skip
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "2 sent" in out
    with PostgresLibrary(school.url) as lib:
        assert sorted(s.id for s in lib.list_sessions()) == sorted(ids)
    counts = server_counts(school.url)
    assert counts["chunks"] == sum(count_rows(p, "chunks") for p in stations)
    assert counts["devices"] == 1


def _start_sync(url: str, station: Path) -> subprocess.Popen:
    return subprocess.Popen([*CLI, "sync", "--to", url, "--db", str(station)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _after_first_session(proc: subprocess.Popen) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("sent "), line
    return line


def _check_complete(url: str, station: Path, ids: list[str]) -> None:
    with PostgresLibrary(url) as lib, SessionStore(station) as store:
        assert sorted(s.id for s in lib.list_sessions()) == sorted(ids)
        for sid in ids:
            assert lib.load_session(sid) == store.load_session(sid)
            assert lib.load_session(sid).stats.samples == store.load_session(sid).stats.samples
    assert server_counts(url)["chunks"] == count_rows(station, "chunks")


@pytest.mark.slow
def test_killed_mid_sync_resumes_with_nothing_duplicated(school, station, capsys):
    ids = make_station(station, 6, seconds=240)
    proc = _start_sync(school.url, station)
    _after_first_session(proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    sent = server_counts(school.url)["sessions"]
    assert 1 <= sent < 6, "the kill should land mid-way"
    done = in_process(capsys, "sync", "--to", school.url, "--db", str(station))
    assert done.returncode == 0, done.stderr
    assert f"{6 - sent} sent" in done.stdout
    _check_complete(school.url, station, ids)


@pytest.mark.slow
def test_server_gone_mid_sync_is_one_line_and_resumes_later(fresh_server, station, capsys):
    school = make_school(fresh_server)
    ids = make_station(station, 6, seconds=240)
    before = count_rows(station, "chunks")
    proc = _start_sync(school.url, station)
    _after_first_session(proc)
    fresh_server.stop("immediate")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "server went away" in lines[0], err
    assert "Traceback" not in err
    assert count_rows(station, "chunks") == before  # nothing lost locally
    # the network is back
    fresh_server.start()
    done = in_process(capsys, "sync", "--to", school.url, "--db", str(station))
    assert done.returncode == 0, done.stderr
    _check_complete(school.url, station, ids)


def test_unreachable_server_bad_url_and_wrong_password(school, station, tmp_path, capsys):
    make_station(station, 1)
    gone = f"postgresql://postgres@{str(tmp_path).replace('/', '%2F')}:5432/nothing"
    done = cli("sync", "--to", gone, "--db", str(station))  # the program: exit 1, one line
    assert done.returncode == 1 and "cannot reach the server" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    done = in_process(capsys, "sync", "--to", "postgresql://x@localhost:99999/db", "--db",
                      str(station))  # fmt: skip
    assert done.returncode == 2 and "bad URL" in done.stderr
    done = in_process(capsys, "sync", "--to", str(station), "--db", str(station))
    assert done.returncode == 2 and "expected a postgresql:// URL" in done.stderr
    school.login("wrongpw", "pl_trainer", "right")
    url = school.server.url(school.dbname, "wrongpw", "wrong")
    done = in_process(capsys, "sync", "--to", url, "--db", str(station))
    assert done.returncode == 2 and "login refused" in done.stderr
    assert "wrong" not in done.stderr.replace("wrongpw", "")  # no password in messages
    done = in_process(capsys, "sessions", "--db", school.server.url("postgres"))
    assert done.returncode == 2 and "server init" in done.stderr
    assert count_rows(station, "sync_state") == 0


def test_password_from_the_environment_and_pgpassfile(
    school, station, tmp_path, capsys, monkeypatch
):
    make_station(station, 1)
    school.login("envuser", "pl_trainer", "from-env")
    url = school.server.url(school.dbname, "envuser")
    monkeypatch.setenv("PGPASSWORD", "from-env")
    assert in_process(capsys, "sync", "--to", url, "--db", str(station)).returncode == 0
    passfile = tmp_path / "pgpass"
    passfile.write_text("*:*:*:envuser:from-env\n")
    passfile.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    monkeypatch.delenv("PGPASSWORD")
    done = in_process(capsys, "sessions", "--db", url)
    assert done.returncode == 0 and "C-001" in done.stdout, done.stderr


def test_a_library_at_another_schema_version_is_refused(school, station, capsys):
    import psycopg

    make_station(station, 1)
    with psycopg.connect(school.url, autocommit=True) as conn:
        conn.execute("INSERT INTO pressure_logger.schema_version (version) VALUES (99)")
    for args in (["sync", "--to", school.url, "--db", str(station)],
                 ["sessions", "--db", school.url], ["server", "init", school.url]):  # fmt: skip
        done = in_process(capsys, *args)
        assert done.returncode == 2 and "newer than this program" in done.stderr, done.stderr
    assert count_rows(station, "sync_state") == 0


def test_server_init_is_idempotent(pg_server, capsys):
    name = "init_twice"
    pg_server.create_database(name)
    url = pg_server.url(name)
    first, again = cli("server", "init", url), in_process(capsys, "server", "init", url)
    latest = len(PG_MIGRATIONS)
    assert first.returncode == 0 and f"schema version {latest}" in first.stdout
    assert again.returncode == 0 and f"already at schema version {latest}" in again.stdout
    time.sleep(0)  # both runs leave one version row
    import psycopg

    with psycopg.connect(url) as conn:
        assert (
            conn.execute("SELECT count(*) FROM pressure_logger.schema_version").fetchone()[0]
            == latest
        )


def test_a_session_the_server_lost_is_sent_again(school, station):
    import psycopg

    ids = make_station(station, 2)
    sync_library(station, school.url)
    with psycopg.connect(school.url, autocommit=True) as conn:  # a restore from an old backup
        conn.execute("DELETE FROM pressure_logger.sessions WHERE id = %s", (ids[0],))
    report = sync_library(station, school.url)
    assert report.copied == [ids[0]] and report.unchanged == [ids[1]]


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:secret@[bad",
        "postgresql://u:secret@h:99999/x",
        "postgres://u:secret@h/x?foo=1",
    ],
)
def test_a_bad_url_is_refused_without_showing_its_password(url, capsys):
    done = in_process(capsys, "sessions", "--db", url)
    assert done.returncode == 2 and "bad URL" in done.stderr
    assert "secret" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
