"""`pressure-logger forget --client ID`: the client's sessions go, and so does every byte of
their text in the library file (its WAL and SHM included)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from logger.cli import main
from logger.store import AuditAction, SessionStore

from .test_deidentify import CLIENT, NOTES, make_identified_session
from .test_store import fill, make_meta


def library_bytes(db) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


@pytest.fixture
def library(db_path, tmp_path):
    with SessionStore(db_path) as store:
        erased = [make_identified_session(store), make_identified_session(store)]
        kept = store.create_session(make_meta(client="C-0002"))
        fill(store, kept, 1.0)
        store.finish_session(kept)
        # an export named after the client: the audit line must not keep the name
        store.log_audit(AuditAction.EXPORT, [erased[0]], format="csv", out="/x/Jane Smith.csv")
    return db_path, erased, kept


def test_forget_erases_every_session_and_every_byte_of_their_text(library, capsys):
    db, erased, kept = library
    before = library_bytes(db)
    assert CLIENT.encode() in before and NOTES.encode() in before  # the scan can fail
    assert main(["forget", "--client", CLIENT, "--yes", "--db", str(db)]) == 0
    assert f"erased 2 session(s) of client {CLIENT!r}" in capsys.readouterr().out
    after = library_bytes(db)
    for text in (CLIENT, "Jane", "Smith", NOTES, "Harrogate", "Rosalind Okafor"):
        assert text.encode() not in after, text
    with SessionStore(db) as store:
        assert [s.id for s in store.list_sessions()] == [kept]
        assert store.integrity_check() == "ok"
        entries = store.audit()
        assert store.load_forces(kept)[0].size == 1000  # the other client is untouched
    assert entries[0].detail["out"] is None and entries[0].sessions == [erased[0]]
    assert entries[-1].action is AuditAction.FORGET and sorted(entries[-1].sessions) == sorted(
        erased
    )
    conn = sqlite3.connect(db)
    for table in ("chunks", "summary", "holds", "alerts", "gaps", "marks", "points", "reconnects"):
        n = conn.execute(
            f"SELECT count(*) FROM {table} WHERE session_pk NOT IN (SELECT pk FROM sessions)"
        ).fetchone()[0]
        assert n == 0, table
    conn.close()


def test_forget_without_a_terminal_needs_yes_and_erases_nothing(library):
    db, erased, _ = library
    proc = subprocess.run(
        [sys.executable, "-m", "logger.cli", "forget", "--client", CLIENT, "--db", str(db)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2 and "--yes" in proc.stderr and len(proc.stderr.splitlines()) == 1
    with SessionStore(db) as store:
        assert {s.id for s in store.list_sessions(client=CLIENT)} == set(erased)


def test_forget_asks_on_a_terminal_and_only_yes_erases(library, monkeypatch, capsys):
    db, erased, _ = library
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    assert main(["forget", "--client", CLIENT, "--db", str(db)]) == 2
    assert "nothing erased" in capsys.readouterr().out
    with SessionStore(db) as store:
        assert len(store.list_sessions(client=CLIENT)) == 2
    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    assert main(["forget", "--client", CLIENT, "--db", str(db)]) == 0
    with SessionStore(db) as store:
        assert store.list_sessions(client=CLIENT) == []


def test_unknown_client_and_recording_session_are_refused(library, capsys):
    db, _, _ = library
    assert main(["forget", "--client", "C-9999", "--yes", "--db", str(db)]) == 2
    assert "'C-9999': no sessions" in capsys.readouterr().err
    with SessionStore(db) as store:
        live = store.create_session(make_meta(client="C-0003"))
    assert main(["forget", "--client", "C-0003", "--yes", "--db", str(db)]) == 2
    assert f"session {live} is still recording" in capsys.readouterr().err
