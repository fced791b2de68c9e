"""`pressure-logger sessions` through the real command line."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from logger.cli import main
from logger.records import SessionStats, SessionStatus
from logger.store import SessionStore

from .test_store import _dead_pid, fill, make_hold, make_meta

BIN = Path(sys.executable).parent


def _library(db_path):
    store = SessionStore(db_path)
    a = store.create_session(make_meta(started_at="2026-11-01T09:00:00+00:00"))
    fill(store, a, 1.0)
    store.add_holds(a, [make_hold(0), make_hold(1)])
    store.finish_session(a, SessionStatus.COMPLETE, SessionStats(1000, 3725.0, 1000.0, 0, 0, 0))
    b = store.create_session(
        make_meta(started_at="2026-11-20T10:30:00+00:00", client=None, therapist="Bo")
    )
    fill(store, b, 0.5)
    store.close()
    conn = sqlite3.connect(db_path)  # b's recorder died without finishing
    conn.execute("UPDATE sessions SET owner_pid = ? WHERE id = ?", (_dead_pid(), b))
    conn.commit()
    conn.close()
    return a, b


def test_table_lists_sessions(db_path, capsys):
    a, b = _library(db_path)
    assert main(["sessions", "--db", str(db_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "ID", "STARTED", "(UTC)", "STATUS", "CLIENT", "THERAPIST", "DURATION", "HOLDS",
        "ALERTS", "SAMPLES", "LOST", "UNSAVED", "PROTOCOL",
    ]  # fmt: skip
    assert lines[1].split() == [
        a, "2026-11-01", "09:00:00", "complete", "C-017", "Ana", "1:02:05", "2", "0", "1000",
        "0", "0", "-",
    ]  # fmt: skip
    assert lines[2].split() == [
        b, "2026-11-20", "10:30:00", "interrupted", "-", "Bo", "0:00:00", "0", "0", "500", "0",
        "0", "-",
    ]  # fmt: skip


def test_json_output_and_filters(db_path, capsys):
    a, b = _library(db_path)
    assert main(["sessions", "--db", str(db_path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [a, b]
    assert rows[0]["status"] == "complete" and rows[0]["holds"] == 2
    assert rows[1]["duration_s"] == 0.5 and rows[1]["status"] == "interrupted"
    assert {"id", "started_at", "status", "client", "therapist", "duration_s", "holds",
            "alerts", "samples"} <= rows[0].keys()  # fmt: skip
    assert main(["sessions", "--db", str(db_path), "--json", "--therapist", "Bo"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [b]
    assert main(["sessions", "--db", str(db_path), "--json", "--since", "2026-11-10"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [b]


def test_missing_library_is_empty_and_not_created(tmp_path, capsys, monkeypatch):
    db = tmp_path / "none.sqlite3"
    monkeypatch.setenv("PRESSURE_LOGGER_DB", str(db))
    assert main(["sessions"]) == 0
    assert capsys.readouterr().out.strip() == f"no sessions in {db}"
    assert main(["sessions", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert not db.exists()


def test_env_var_names_the_default_library(db_path, capsys, monkeypatch):
    a, _ = _library(db_path)
    monkeypatch.setenv("PRESSURE_LOGGER_DB", str(db_path))
    assert main(["sessions", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["id"] == a


def test_bad_date_is_exit_2_one_line(db_path, capsys):
    _library(db_path)
    assert main(["sessions", "--db", str(db_path), "--since", "yesterday"]) == 2
    err = capsys.readouterr().err
    assert (
        err == "pressure-logger sessions: error: since='yesterday' is not an ISO 8601 date/time\n"
    )


def test_not_a_library_is_exit_2(tmp_path, capsys):
    junk = tmp_path / "notes.txt"
    junk.write_text("shopping list\n" * 200)
    assert main(["sessions", "--db", str(junk)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "notes.txt: not a session database" in err
    assert junk.read_text() == "shopping list\n" * 200


def test_console_script(db_path):
    a, _ = _library(db_path)
    proc = subprocess.run(
        [str(BIN / "pressure-logger"), "sessions", "--db", str(db_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert a in proc.stdout


def test_protocol_column_json_key_and_filter(db_path, capsys):
    from logger.records import ProtocolEvent, ProtocolKind
    from logger.store.library import WriteBatch

    a, b = _library(db_path)
    with SessionStore(db_path) as store:
        store.write_batch(a, WriteBatch(protocols=[
            ProtocolEvent(0.0, ProtocolKind.ROUND, {"label": "pre"}),
            ProtocolEvent(9.0, ProtocolKind.DRILL, {"name": "basic", "tasks": []}),
        ]))  # fmt: skip
    assert main(["sessions", "--db", str(db_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[-1] == "PROTOCOL"
    assert lines[1].endswith("  PPT pre, drill basic")
    assert lines[2].split()[-1] == "-"
    assert main(["sessions", "--db", str(db_path), "--json"]) == 0
    assert [r["protocols"] for r in json.loads(capsys.readouterr().out)] == [
        "PPT pre, drill basic", "",
    ]  # fmt: skip
    for word, ids in (("ppt", [a]), ("drill", [a]), ("guided", [])):
        assert main(["sessions", "--db", str(db_path), "--json", "--protocol", word]) == 0
        assert [r["id"] for r in json.loads(capsys.readouterr().out)] == ids
    assert main(["sessions", "--db", str(db_path), "--protocol", "guided"]) == 0
    assert capsys.readouterr().out.startswith("no sessions in ")


def test_an_unknown_protocol_is_exit_2(db_path):
    _library(db_path)
    proc = subprocess.run(
        [BIN / "pressure-logger", "sessions", "--db", str(db_path), "--protocol", "yoga"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "--protocol" in proc.stderr and "yoga" in proc.stderr
    assert "Traceback" not in proc.stderr
