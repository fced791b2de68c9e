"""Review, report and export read from the school server exactly what they read from the
station: the same session gives byte-identical exports either way."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gui.review.demo import build_demo_library
from logger.cli import main
from logger.store import SessionStore
from logger.store.postgres import PostgresLibrary
from logger.store.sync import sync_library

from .conftest import in_process, make_school
from .stations import write_session

ROOT = Path(__file__).resolve().parents[3]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "logger.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)  # fmt: skip


@pytest.fixture(scope="module")
def synced(pg_server, tmp_path_factory):
    path = tmp_path_factory.mktemp("station") / "station.sqlite3"
    with SessionStore(path) as store:
        demo = build_demo_library(store, points=3, trials=1, hold_s=6.0)
        events = write_session(store, seconds=12.0, therapist="A. Trainee")
    school = make_school(pg_server)
    sync_library(path, school.url)
    return path, school.url, demo, events


@pytest.mark.parametrize("fmt", ["json", "csv", "edf"])
@pytest.mark.parametrize("deidentify", [False, True])
def test_exports_are_byte_identical(synced, tmp_path, capsys, fmt, deidentify):
    path, url, demo, events = synced
    for sid in (demo.trainee[1], events):  # a gap; zeros, reconnects and every event
        outs = []
        for name, db in (("station", str(path)), ("server", url)):
            out = tmp_path / f"{name}-{sid}.{fmt}"
            extra = ["--deidentify"] if deidentify else []
            code = main(["export", sid, "--format", fmt, "--out", str(out), "--db", db, *extra])
            assert code == 0, capsys.readouterr().err
            outs.append(out.read_bytes())
        if deidentify and fmt != "csv":  # de-identified hand-overs carry random ids
            assert len(outs[0]) == len(outs[1])
        else:
            assert outs[0] == outs[1], f"{fmt} export of {sid} differs"
    with PostgresLibrary(url) as lib:
        assert any(e.detail.get("format") == fmt for e in lib.audit())


def test_report_from_the_server(synced, tmp_path, capsys):
    _, url, demo, _ = synced
    out = tmp_path / "report.pdf"
    done = cli("report", demo.trainee[2], "--reference", demo.reference, "--out", str(out),
               "--db", url)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"%PDF") and "compared" in done.stdout
    code = main(["report", demo.trainee[2], "--deidentify", "--out", str(out), "--db", url])
    assert code == 0, capsys.readouterr().err  # in this process: the first was a real one
    with PostgresLibrary(url) as lib:
        assert [e.action.value for e in lib.audit()].count("report") >= 2


def test_sessions_and_recalibrate_commands_on_the_server(synced, capsys):
    path, url, demo, _ = synced
    # sessions in this process (tests/logger/test_sessions_cmd.py runs it as a program)
    assert main(["sessions", "--json", "--db", str(path)]) == 0
    station = capsys.readouterr().out
    assert main(["sessions", "--json", "--db", url]) == 0
    assert capsys.readouterr().out == station
    done = cli("recalibrate", demo.reference, "--db", url)
    assert done.returncode == 2 and "no stored calibration for device 'SIM-0001'" in done.stderr
    assert "secret" not in done.stderr


def test_review_window_on_the_server(synced, qtbot):
    from gui.review import ReviewWindow

    _, url, demo, _ = synced
    with PostgresLibrary(url) as lib:
        window = ReviewWindow(lib)
        qtbot.addWidget(window)
        try:
            window.resize(1400, 900)
            window.show()
            assert window.library.visible_ids()[-1] == demo.reference
            window.library.select(demo.trainee[1])
            assert window.current_id == demo.trainee[1]
            assert window.holds.table.rowCount() == len(window.record.holds) > 0
            assert window.timeline.shown_samples > 0
        finally:
            window.close()


def test_review_command_refuses_an_unknown_session_on_the_server(synced):
    _, url, _, _ = synced
    done = cli("review", "20990101-000000-0000", "--db", url)
    assert done.returncode == 2 and "unknown session" in done.stderr


# in this process: tests/logger's record tests run the command as a program
def test_writing_commands_refuse_a_url(synced, capsys):
    _, url, _, _ = synced
    done = in_process(capsys, "record", "--db", url, "--port", "sim://")
    assert done.returncode == 2 and "record into a local library" in done.stderr
