"""JSON / CSV exports (docs/EXPORTS.md) from a real session library."""

from __future__ import annotations

import csv
import json
import tracemalloc

import numpy as np
import pytest

from calibration.models import CalibrationInfo, ZeroEvent, ZeroSource
from logger.errors import BadInput
from logger.export.tabular import SCHEMA, export_csv, export_json, export_session
from logger.records import (
    Alert,
    AlertKind,
    Gap,
    GapCause,
    Mark,
    MarkSource,
    SessionStats,
    SessionStatus,
)
from logger.store import SessionStore

from .test_store import fill, make_hold, make_meta

# docs/EXPORTS.md, key by key: the export must carry at least these
SESSION_KEYS = {
    "id", "started_at", "ended_at", "status", "client", "therapist", "notes",
    "device", "calibration", "config",
}  # fmt: skip
DEVICE_KEYS = {"uid", "firmware", "protocol", "rate_hz", "channels"}
CAL_KEYS = {"counts_per_n", "offset_counts", "source", "created_at"}
MARK_KEYS = {"t_s", "point_index", "source"}
HOLD_KEYS = {
    "index", "point_index", "point", "start_s", "end_s", "duration_s", "mean_n", "peak_n",
    "cv_pct", "ramp_rate_n_per_s", "time_over_warn_s", "time_over_max_s", "in_target_pct",
}  # fmt: skip
ALERT_KEYS = {"t_s", "kind", "value", "point_index", "hold_index"}
GAP_KEYS = {"start_s", "end_s", "lost_samples", "cause"}
STATS_KEYS = {
    "samples", "duration_s", "rate_hz", "lost_samples", "crc_errors", "reconnects",
    "unsaved_samples",
}  # fmt: skip


@pytest.fixture
def session(db_path):
    store = SessionStore(db_path)
    sid = store.create_session(make_meta())
    fill(store, sid, 2.0, block=100)
    store.add_marks(sid, [Mark(0.5, 0, MarkSource.DEVICE), Mark(1.5, 1, MarkSource.CLI)])
    hold = make_hold(0)
    hold.cv_pct = float("nan")  # a degenerate plateau: must become null, not NaN
    store.add_holds(sid, [hold])
    store.add_alerts(sid, [Alert(0.2, AlertKind.HOLD_DURATION, 91.0, None, 0)])
    store.add_gaps(sid, [Gap(1.0, 1.1, 100, GapCause.SEQUENCE)])
    store.add_reconnect(sid, "2026-11-27T14:05:20+00:00", 1.1)
    store.add_zeros(sid, [ZeroEvent(1.5, 120000.0 + 4000.0 * 2.5, ZeroSource.USER)])
    store.finish_session(
        sid,
        SessionStatus.COMPLETE,
        SessionStats(2000, 2.0, 1000.0, 100, 3, 1),
        "2026-11-27T14:06:00Z",
    )
    return store, sid


def test_json_follows_the_schema(session, tmp_path):
    store, sid = session
    out = tmp_path / "s.json"
    assert export_json(store, sid, out) == out
    text = out.read_text()
    assert "NaN" not in text
    doc = json.loads(text)
    assert doc["schema"] == SCHEMA == "pressure-logger/session-v1"
    s = doc["session"]
    assert s.keys() >= SESSION_KEYS
    assert s["device"].keys() >= DEVICE_KEYS and s["calibration"].keys() >= CAL_KEYS
    assert list(s["device"])[:5] == ["uid", "firmware", "protocol", "rate_hz", "channels"]
    assert (s["id"], s["status"], s["client"], s["ended_at"]) == (
        sid,
        "complete",
        "C-017",
        "2026-11-27T14:06:00Z",
    )
    assert s["calibration"]["counts_per_n"] == 4000.0 and s["config"]["units"] == "N"
    assert doc["points"][0] == {
        "index": 0,
        "name": "Upper trapezius L",
        "warn_n": 35.0,
        "max_n": 50.0,
        "target_n": [25.0, 35.0],
        "target_hold_s": 60.0,
    }
    assert [set(m) for m in doc["marks"]] == [MARK_KEYS, MARK_KEYS]
    assert [m["source"] for m in doc["marks"]] == ["device", "cli"]
    assert doc["holds"][0].keys() >= HOLD_KEYS
    assert doc["holds"][0]["cv_pct"] is None and doc["holds"][0]["in_target_pct"] == 97.5
    assert doc["alerts"] == [
        {"t_s": 0.2, "kind": "hold_duration", "value": 91.0, "point_index": None, "hold_index": 0}
    ]
    assert set(doc["alerts"][0]) == ALERT_KEYS
    assert doc["gaps"] == [{"start_s": 1.0, "end_s": 1.1, "lost_samples": 100, "cause": "sequence"}]
    assert set(doc["gaps"][0]) == GAP_KEYS
    assert set(doc["stats"]) == STATS_KEYS and doc["stats"]["crc_errors"] == 3
    assert doc["reconnects"] == [{"at": "2026-11-27T14:05:20+00:00", "t_s": 1.1}]
    assert doc["zeros"] == [{"t_s": 1.5, "removed_n": 2.5, "source": "user"}]


def test_csv_one_row_per_sample_in_newtons(session, tmp_path):
    store, sid = session
    out = tmp_path / "s.csv"
    export_csv(store, sid, out)
    with out.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["t_s", "force_n", "raw"]
    data = np.array(rows[1:], dtype=np.float64)
    t, force = store.load_forces(sid)
    assert data.shape == (2000, 3)
    np.testing.assert_allclose(data[:, 0], t, atol=1e-6)
    np.testing.assert_allclose(data[:, 1], force[:, 0], atol=1e-5)
    np.testing.assert_array_equal(data[:, 2], store.load_samples(sid)[1][:, 0])
    # the zero at 1.5 s moves what follows it, nothing before
    before = data[:, 0] < 1.5
    np.testing.assert_allclose(data[before, 1], (data[before, 2] - 120000.0) / 4000.0, atol=1e-5)
    np.testing.assert_allclose(data[~before, 1], (data[~before, 2] - 130000.0) / 4000.0, atol=1e-5)
    # a corrected calibration is what the next export uses
    store.set_calibration(sid, CalibrationInfo(2000.0, 120000.0, "stored:3"))
    export_csv(store, sid, out)
    again = np.loadtxt(out, delimiter=",", skiprows=1)
    np.testing.assert_allclose(again[:, 1], 2 * data[:, 1], atol=1e-4)


def test_csv_multi_channel_header(db_path, tmp_path):
    store = SessionStore(db_path)
    sid = store.create_session(make_meta(channels=2))
    _, raw = fill(store, sid, 0.3, channels=2)
    out = tmp_path / "m.csv"
    export_csv(store, sid, out)
    lines = out.read_text().splitlines()
    assert lines[0] == "t_s,force_n_0,raw_0,force_n_1,raw_1"
    first = lines[1].split(",")
    assert first[0] == "0.000000" and int(first[2]) == raw[0, 0] and int(first[4]) == raw[0, 1]
    assert float(first[3]) == pytest.approx((raw[0, 1] - 120000) / 4000, abs=1e-5)
    assert len(lines) == 301


def test_csv_streams_in_bounded_memory(db_path, tmp_path):
    store = SessionStore(db_path)
    sid = store.create_session(make_meta())
    n = 120_000
    t = np.arange(n) / 1000.0
    raw = (120000 + (np.arange(n) % 5000)).astype(np.int32).reshape(-1, 1)
    for i in range(0, n, 4000):
        store.append_samples(sid, i, t[i : i + 4000], raw[i : i + 4000])
    whole_session_bytes = n * (8 + 8 + 8 * 3)  # t, force and the formatted table at once
    tracemalloc.start()
    try:
        export_csv(store, sid, tmp_path / "big.csv")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < whole_session_bytes / 4
    with (tmp_path / "big.csv").open() as fh:
        assert sum(1 for _ in fh) == n + 1


def test_unknown_session_writes_nothing(db_path, tmp_path):
    store = SessionStore(db_path)
    for fmt in ("csv", "json", "edf"):
        with pytest.raises(BadInput, match=r"^unknown session 'nope'$"):
            export_session(store, "nope", tmp_path / f"x.{fmt}", fmt)
    assert set(tmp_path.iterdir()) <= {
        db_path,
        db_path.with_name(db_path.name + "-wal"),
        db_path.with_name(db_path.name + "-shm"),
    }


def test_failure_midway_leaves_no_partial_file(db_path, tmp_path):
    store = SessionStore(db_path)
    sid = store.create_session(make_meta(channels=1))
    fill(store, sid, 1.0)
    # a corrupt library: a later chunk disagrees with the declared channel count
    store.append_samples(sid, 1000, np.array([1.0, 1.001]), np.zeros((2, 2), dtype=np.int32))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "s.csv"
    out.write_text("previous export\n")
    with pytest.raises(BadInput, match="chunk at sample 1000 has 2 channels"):
        export_csv(store, sid, out)
    assert out.read_text() == "previous export\n"  # untouched
    assert [p.name for p in out_dir.iterdir()] == ["s.csv"]  # no temp file left


def test_bad_format_and_missing_directory(session, tmp_path):
    store, sid = session
    with pytest.raises(BadInput, match="--format 'xlsx': expected one of csv, json, edf"):
        export_session(store, sid, tmp_path / "x.xlsx", "xlsx")
    with pytest.raises(BadInput, match="does not exist"):
        export_session(store, sid, tmp_path / "missing" / "x.json", "json")
    assert not (tmp_path / "missing").exists()


def test_edf_is_dispatched_to_export_edf(session, tmp_path):
    store, sid = session
    out = tmp_path / "s.edf"
    export_session(store, sid, out, "edf")
    assert out.read_bytes()[:8] == b"0       "  # EDF header version field
