"""De-identified hand-over (`export --deidentify`): every byte of every output is read and
none of the identifying strings is found; what a trainer or researcher needs is kept."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pyedflib
import pytest

from calibration.models import CalibrationInfo
from logger.cli import main
from logger.deidentify import EPOCH, DeidentifiedStore
from logger.records import Alert, AlertKind, Gap, GapCause, Mark, MarkSource, SessionStatus
from logger.store import AuditAction, SessionStore

from .test_store import fill, make_hold, make_meta

CLIENT = "Jane Smith"
THERAPIST = "Rosalind Okafor"
NOTES = "tender since the accident in Harrogate"
STARTED = "2024-03-05T09:41:27+00:00"


def identifying_strings(sid: str) -> list[str]:
    """Everything that could point back to the person, in the forms outputs use (EDF
    headers write spaces as underscores and dates as dd-MMM-yyyy and dd.mm.yy)."""
    return [
        "Jane", "Smith", "Rosalind", "Okafor", "Harrogate", "accident",
        sid, sid[:8],  # the library id carries the start time
        "2024-03-05", "05-MAR-2024", "05.03.24", "09:41:27", "09.41.27", "09:41",
        "2024-03-06",  # the reconnect's date
        "2023-11-20",  # the calibration's date
    ]  # fmt: skip


def find_identifying(data: bytes, sid: str) -> list[str]:
    low = data.lower()
    return [s for s in identifying_strings(sid) if s.lower().encode() in low]


def make_identified_session(store: SessionStore) -> str:
    meta = make_meta(started_at=STARTED, client=CLIENT, therapist=THERAPIST)
    meta.notes = NOTES
    meta.calibration = CalibrationInfo(4000.0, 120000.0, "stored:3", "2023-11-20T08:00:00+00:00")
    sid = store.create_session(meta)
    fill(store, sid, 3.0, block=250)
    store.add_marks(sid, [Mark(0.5, 0, MarkSource.DEVICE)])
    store.add_holds(sid, [make_hold(0)])
    store.add_alerts(sid, [Alert(1.2, AlertKind.WARN, 41.0, 0, 0)])
    store.add_gaps(sid, [Gap(2.0, 2.1, 100, GapCause.SEQUENCE)])
    store.add_reconnect(sid, "2024-03-06T00:00:03+00:00", 2.1)  # past midnight: next day
    store.finish_session(sid, SessionStatus.COMPLETE, ended_at="2024-03-05T09:44:00+00:00")
    return sid


@pytest.fixture
def identified(db_path):
    with SessionStore(db_path) as store:
        sid = make_identified_session(store)
    return db_path, sid


def export(db: Path, sid: str, fmt: str, out: Path, *extra: str) -> Path:
    args = ["export", sid, "--format", fmt, "--out", str(out), "--db", str(db), *extra]
    assert main(args) == 0
    return out


@pytest.mark.parametrize("fmt", ["csv", "json", "edf"])
def test_deidentified_exports_hold_none_of_the_identifying_strings(identified, tmp_path, fmt):
    db, sid = identified
    plain = export(db, sid, fmt, tmp_path / f"plain.{fmt}")
    deid = export(db, sid, fmt, tmp_path / f"deid.{fmt}", "--deidentify")
    if fmt != "csv":  # the scan can fail: the identified export has the strings
        found = set(find_identifying(plain.read_bytes(), sid))
        # EDF's recording field keeps 40 characters: the session id and the device uid go
        # whole, the therapist gets what is left ("Rosalind_Okaf~")
        names = {"Jane", "Okafor"} if fmt == "json" else {"Jane", "Rosalind"}
        assert names | {sid} <= found and found & {"2024-03-05", "05-MAR-2024"}
    assert find_identifying(deid.read_bytes(), sid) == []


def test_deidentified_json_keeps_what_a_trainer_needs(identified, tmp_path):
    db, sid = identified
    plain = json.loads(export(db, sid, "json", tmp_path / "p.json").read_text())
    doc = json.loads(export(db, sid, "json", tmp_path / "d.json", "--deidentify").read_text())
    s = doc["session"]
    assert s["client"] is None and s["therapist"] is None and s["notes"] is None
    assert s["id"].startswith("anon-") and s["id"] != sid
    assert s["started_at"].startswith("1985-01-01T00:00:00")  # day 0 = the EDF clipping date
    assert s["ended_at"].startswith("1985-01-01T00:02:33")  # the duration is kept
    assert doc["reconnects"][0]["at"].startswith("1985-01-01T14:18:36")
    assert doc["deidentified"]["day"] == 0
    assert s["calibration"]["source"] == "stored:3"
    assert s["calibration"]["created_at"].startswith("1984-")  # shifted like every date
    for key in ("points", "marks", "holds", "alerts", "gaps", "stats"):
        assert doc[key] == plain[key], key
    assert s["device"] == plain["session"]["device"]
    assert s["calibration"]["counts_per_n"] == plain["session"]["calibration"]["counts_per_n"]


def test_deidentified_csv_has_the_same_forces(identified, tmp_path):
    db, sid = identified
    plain = export(db, sid, "csv", tmp_path / "p.csv").read_text()
    deid = export(db, sid, "csv", tmp_path / "d.csv", "--deidentify").read_text()
    assert deid == plain and len(list(csv.reader(deid.splitlines()))) == 3001


def test_deidentified_edf_uses_the_anonymised_header_fields(identified, tmp_path):
    db, sid = identified
    out = export(db, sid, "edf", tmp_path / "d.edf", "--deidentify")
    header = out.read_bytes()[:256].decode("ascii")
    patient, recording = header[8:88].rstrip(), header[88:168].rstrip()
    assert patient == "X X X X"  # code, sex, birthdate, name: all unknown (EDF+ 2.1.3.2)
    fields = recording.split(" ")
    assert fields[:2] == ["Startdate", "01-JAN-1985"] and fields[3] == "X"  # no technician
    assert fields[2].startswith("anon-") and fields[4] == "SIM-0001"
    assert header[168:184] == "01.01.8500.00.00"  # header start date and time
    with pyedflib.EdfReader(str(out)) as r:
        _, _, texts = r.readAnnotations()
        forces = r.readSignal(0)
    assert {"Mark Upper trapezius L", "Alert warn 41.0 N", "Gap sequence 100 lost"} <= set(texts)
    assert any(t.startswith("Hold 1") for t in texts)
    with SessionStore(db) as store:
        _, expected = store.load_forces(sid)
    kept = forces[: expected.shape[0]]
    filled = forces[: expected.shape[0]] <= forces.min() + 1e-9
    np.testing.assert_allclose(kept[~filled], expected[~filled, 0], atol=0.01)


def test_view_maps_ids_both_ways_and_counts_days_from_the_anchor(identified):
    db, sid = identified
    with SessionStore(db) as store:
        later = store.create_session(make_meta(started_at="2024-03-12T15:00:00+00:00"))
        view = DeidentifiedStore(store, sid)
        public = view.public_id(later)
        assert view.real_id(public) == later and view.public_id(public) == public
        rec = view.load_session(public)
        assert rec.id == public and rec.meta.client is None
        assert view.day(rec.meta.started_at) == 7
        assert view.day(view.load_session(sid).meta.started_at) == 0
        assert view.shifted(STARTED) == EPOCH.isoformat(timespec="milliseconds")
        assert {s.id for s in view.list_sessions()} == {view.public_id(sid), public}
        assert view.list_sessions(client=CLIENT) == []  # no names to match
        # dates given to the view are the view's own (day 0 = 1985-01-01), not the library's
        assert [s.id for s in view.list_sessions(since="1985-01-03")] == [public]
        assert [s.id for s in view.list_sessions(until="1985-01-03")] == [view.public_id(sid)]
        assert view.list_sessions(since="2024-03-01") == []


def test_every_export_is_in_the_audit_trail(identified, tmp_path, capsys):
    db, sid = identified
    export(db, sid, "json", tmp_path / "plain.json")
    doc = json.loads(export(db, sid, "json", tmp_path / "d.json", "--deidentify").read_text())
    with SessionStore(db) as store:
        entries = store.audit()
    assert [(e.action, e.sessions, e.deidentified) for e in entries] == [
        (AuditAction.EXPORT, [sid], False),
        (AuditAction.EXPORT, [sid], True),
    ]
    assert entries[1].detail["handed_over_as"] == {sid: doc["session"]["id"]}
    assert entries[1].detail["out"] == str(tmp_path / "d.json")
    capsys.readouterr()
    assert main(["sessions", "--audit", "--db", str(db)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["AT", "(UTC)", "USER"] and len(lines) == 3
    assert "export" in lines[2] and "yes" in lines[2] and doc["session"]["id"] in lines[2]
    assert main(["sessions", "--audit", "--json", "--db", str(db)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [e["deidentified"] for e in listed] == [False, True]


def test_an_export_that_cannot_be_audited_says_so_in_one_line(identified, tmp_path, caplog):
    """The data can still be rescued from a library that takes no audit line (a full
    disk): the export is written, and a warning says it went unrecorded."""
    import sqlite3

    db, sid = identified
    conn = sqlite3.connect(db)  # the library refuses audit lines (as a full disk would)
    conn.execute(
        "CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'no room'); END"
    )
    conn.commit()
    conn.close()
    args = ["export", sid, "--format", "json", "--out", str(tmp_path / "x.json"), "--db", str(db)]
    assert main(args) == 0 and (tmp_path / "x.json").is_file()
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and "not in the audit trail" in warned[0] and "no room" in warned[0]
