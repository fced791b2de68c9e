"""logger.clinical and the export flags built on it: results from a stored session, bad
flags and damaged protocol events refused in one line with nothing written."""

from __future__ import annotations

import json

import pytest

from logger.cli import main
from logger.clinical import load_clinical
from logger.config import Profile
from logger.drills import load_drill
from logger.records import MarkSource, ProtocolEvent, ProtocolKind, Signal
from logger.store import SessionStore
from logger.store.library import WriteBatch

from .test_store import fill, make_meta


def _session(db, protocols=(), signals=(), client="C-017") -> str:
    with SessionStore(db) as store:
        sid = store.create_session(make_meta(client=client))
        fill(store, sid, 2.0, block=100)
        store.write_batch(sid, WriteBatch(protocols=list(protocols), signals=list(signals)))
        store.finish_session(sid)
    return sid


def test_a_session_without_protocols_has_empty_results_in_every_export(tmp_path, capsys):
    db = tmp_path / "lib.sqlite"
    sid = _session(db)
    with SessionStore(db) as store:
        res = load_clinical(store, sid)
    assert res.empty and res.drill_summary is None and res.ppt_change == []
    out = tmp_path / "s.json"
    assert main(["export", sid, "--format", "json", "--out", str(out), "--db", str(db)]) == 0
    doc = json.loads(out.read_text())
    assert doc["ppt"]["trials"] == doc["ppt"]["points"] == doc["ppt"]["change"] == []
    assert doc["drills"] == {"trials": [], "summary": None}
    assert doc["guided"] == []
    table = tmp_path / "d.csv"
    assert main(["export", sid, "--format", "csv", "--table", "drill", "--out", str(table),
                 "--db", str(db)]) == 0  # fmt: skip
    header = table.read_text().splitlines()
    assert len(header) == 1 and header[0].startswith("drill,index,feedback,target_n")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--format", "json", "--table", "ppt"], "--table ppt: a table is exported as CSV"),
        (["--format", "csv", "--baseline", "X"], "--baseline X: the PPT change is in the JSON"),
        (["--format", "json", "--baseline", "nope"], "unknown session 'nope'"),
    ],
)
def test_bad_export_flags_are_refused_before_anything_is_written(tmp_path, capsys, extra, message):
    db = tmp_path / "lib.sqlite"
    sid = _session(db)
    out = tmp_path / "out.file"
    assert main(["export", sid, "--out", str(out), "--db", str(db), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not out.exists()


@pytest.mark.parametrize("deidentify", [[], ["--deidentify"]])
@pytest.mark.parametrize("client", ["C-018", None, "same session"])
def test_a_baseline_must_be_another_session_of_the_same_client(
    tmp_path, capsys, client, deidentify
):
    db = tmp_path / "lib.sqlite"
    sid = _session(db)
    other = sid if client == "same session" else _session(db, client=client)
    out = tmp_path / "out.json"
    assert main(["export", sid, "--format", "json", "--out", str(out), "--db", str(db),
                 "--baseline", other, *deidentify]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"--baseline {other}: " in err[0]
    assert "C-01" not in err[0]  # no client code in the message
    assert not out.exists()
    same = _session(db)
    assert main(["export", sid, "--format", "json", "--out", str(out), "--db", str(db),
                 "--baseline", same, *deidentify]) == 0  # fmt: skip


def test_a_damaged_drill_in_the_library_is_one_line_naming_the_session(tmp_path, capsys):
    db = tmp_path / "lib.sqlite"
    bad = ProtocolEvent(0.5, ProtocolKind.DRILL, {"name": "x", "tasks": [{"target_n": 30.0}]})
    sid = _session(db, protocols=[bad])
    out = tmp_path / "s.json"
    assert main(["export", sid, "--format", "json", "--out", str(out), "--db", str(db)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert f"session {sid}: damaged protocol event" in err[0] and "hold_s" in err[0]
    assert not out.exists()
    # the samples themselves still export
    csv_out = tmp_path / "s.csv"
    assert main(["export", sid, "--format", "csv", "--out", str(csv_out), "--db", str(db)]) == 0


def test_results_follow_the_stored_events(tmp_path):
    """A drill and a profile stored with a session are read back as the results' inputs:
    the fill's flat signal has no holds, so no drill trial; the profile is scored."""
    db = tmp_path / "lib.sqlite"
    drill = ProtocolEvent(0.0, ProtocolKind.DRILL, load_drill("basic").to_dict())
    profile = ProtocolEvent(0.0, ProtocolKind.PROFILE, Profile(force_n=20.0).to_dict())
    sid = _session(db, protocols=[drill, profile], signals=[Signal(1.0, MarkSource.KEYBOARD)])
    with SessionStore(db) as store:
        res = load_clinical(store, sid)
    assert res.drill_scores == []
    (score,) = res.profile_scores
    assert score.start_s == 0.0 and score.samples > 0


def test_record_refuses_a_drill_no_hold_could_score(tmp_path, capsys):
    """A task whose band lies below the hold onset would never be a trial: refused before
    the device is opened, one line, exit 2, nothing written."""
    drill = tmp_path / "low.toml"
    drill.write_text('name = "low"\n[[tasks]]\ntarget_n = 3.0\nhold_s = 5.0\ntolerance_n = 1.0\n')
    db = tmp_path / "lib.sqlite"
    code = main(["record", "--port", "sim://?speed=0", "--db", str(db), "--drill", str(drill)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "trial 1: target 3 ± 1 N lies below the hold onset (5 N)" in err[0]
    assert not db.exists()
