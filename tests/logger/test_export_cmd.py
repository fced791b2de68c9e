"""`pressure-logger export` through the real command line."""

from __future__ import annotations

import json

import pytest

from logger.cli import main
from logger.records import SessionStatus
from logger.store import SessionStore

from .test_store import fill, make_hold, make_meta


@pytest.fixture
def sid(db_path):
    store = SessionStore(db_path)
    sid = store.create_session(make_meta())
    fill(store, sid, 0.5)
    store.add_holds(sid, [make_hold(0)])
    store.finish_session(sid, SessionStatus.COMPLETE)
    store.close()
    return sid


@pytest.mark.parametrize("fmt", ["csv", "json", "edf"])
def test_export_writes_the_file_and_prints_its_path(db_path, sid, tmp_path, capsys, fmt):
    out = tmp_path / f"session.{fmt}"
    assert main(["export", sid, "--format", fmt, "--out", str(out), "--db", str(db_path)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    data = out.read_bytes()
    if fmt == "csv":
        lines = data.decode().splitlines()
        assert lines[0] == "t_s,force_n,raw" and len(lines) == 501
    elif fmt == "json":
        doc = json.loads(data)
        assert doc["session"]["id"] == sid and len(doc["holds"]) == 1
    else:
        assert len(data) > 256 and data[:8] == b"0       "


def test_unknown_session_exit_2_nothing_written(db_path, sid, tmp_path, capsys):
    out = tmp_path / "x.csv"
    code = main(["export", "20990101-000000-dead", "--format", "csv", "--out", str(out),
                 "--db", str(db_path)])  # fmt: skip
    assert code == 2
    assert capsys.readouterr().err == (
        "pressure-logger export: error: unknown session '20990101-000000-dead'\n"
    )
    assert not out.exists()


def test_missing_library_exit_2(tmp_path, capsys):
    db = tmp_path / "none.sqlite3"
    code = main(["export", "X", "--format", "json", "--out", str(tmp_path / "x.json"),
                 "--db", str(db)])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown session 'X' (no session library at" in err
    assert not db.exists() and not (tmp_path / "x.json").exists()


def test_bad_format_flag_exit_2(db_path, sid, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["export", sid, "--format", "xlsx", "--out", str(tmp_path / "x"), "--db",
              str(db_path)])  # fmt: skip
    assert exc.value.code == 2
    assert "invalid choice: 'xlsx'" in capsys.readouterr().err


def test_out_in_missing_directory_exit_2(db_path, sid, tmp_path, capsys):
    out = tmp_path / "nope" / "x.csv"
    assert main(["export", sid, "--format", "csv", "--out", str(out), "--db", str(db_path)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_export_to_standard_output_prints_only_the_data(db_path, sid):
    """``--out /dev/stdout`` pipes the CSV on: the path line would land inside the data."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "logger.cli", "export", sid, "--format", "csv",
         "--out", "/dev/stdout", "--db", str(db_path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    assert lines[0] == "t_s,force_n,raw" and len(lines) == 501
    assert all(line.count(",") == 2 for line in lines)
