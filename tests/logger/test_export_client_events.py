"""Client signals, pain ratings and protocol events in the exports: JSON sections, the CSV
rating column (only with ratings), EDF+ annotations read back, the de-identified view."""

from __future__ import annotations

import csv
import json

import numpy as np
import pyedflib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logger.config import Profile
from logger.drills import load_drill
from logger.export.tabular import csv_header, export_csv, export_json, export_session
from logger.records import MarkSource, ProtocolEvent, ProtocolKind, Rating, Signal
from logger.store import SessionStore
from logger.store.library import WriteBatch

from .test_store import fill, make_meta

SIGNALS = [Signal(0.75, MarkSource.DEVICE)]
RATINGS = [Rating(0.5, 6.5, MarkSource.DEVICE), Rating(1.2, 3.0, MarkSource.KEYBOARD)]
PROTOCOLS = [
    ProtocolEvent(0.0, ProtocolKind.ROUND, {"label": "pre"}),
    ProtocolEvent(0.25, ProtocolKind.DRILL, load_drill("basic").to_dict()),
    ProtocolEvent(1.0, ProtocolKind.PROFILE, Profile(force_n=20.0).to_dict()),
    ProtocolEvent(1.5, ProtocolKind.ROUND, {"label": ""}),
]


def _session(store: SessionStore, *, events: bool) -> str:
    sid = store.create_session(make_meta())
    fill(store, sid, 2.0, block=100)
    if events:
        store.write_batch(sid, WriteBatch(signals=SIGNALS, ratings=RATINGS, protocols=PROTOCOLS))
    store.finish_session(sid)
    return sid


@pytest.fixture
def store(db_path):
    with SessionStore(db_path) as s:
        yield s


def test_json_has_the_sections_always(store, tmp_path):
    with_events, without = _session(store, events=True), _session(store, events=False)
    doc = json.loads(export_json(store, with_events, tmp_path / "a.json").read_text())
    assert doc["signals"] == [{"t_s": 0.75, "source": "device"}]
    assert doc["ratings"] == [
        {"t_s": 0.5, "value": 6.5, "source": "device"},
        {"t_s": 1.2, "value": 3.0, "source": "keyboard"},
    ]
    assert [(p["t_s"], p["kind"]) for p in doc["protocols"]] == [
        (0.0, "round"), (0.25, "drill"), (1.0, "profile"), (1.5, "round"),
    ]  # fmt: skip
    assert doc["protocols"][1]["data"] == PROTOCOLS[1].data
    empty = json.loads(export_json(store, without, tmp_path / "b.json").read_text())
    assert (empty["signals"], empty["ratings"], empty["protocols"]) == ([], [], [])


def test_csv_has_a_rating_column_only_with_ratings(store, tmp_path):
    with_events, without = _session(store, events=True), _session(store, events=False)
    with open(export_csv(store, with_events, tmp_path / "a.csv"), newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["t_s", "force_n", "raw", "rating"] == csv_header(1, ratings=True)
    t = np.array([float(r[0]) for r in rows[1:]])
    cells = [r[3] for r in rows[1:]]
    assert len(rows) - 1 == 2000
    assert all(c == "" for c, ts in zip(cells, t, strict=True) if ts < 0.5)
    assert all(c == "6.5" for c, ts in zip(cells, t, strict=True) if 0.5 <= ts < 1.2)
    assert all(c == "3" for c, ts in zip(cells, t, strict=True) if ts >= 1.2)
    with open(export_csv(store, without, tmp_path / "b.csv"), newline="") as fh:
        header = next(csv.reader(fh))
    assert header == ["t_s", "force_n", "raw"] == csv_header(1)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 3), st.integers(0, 1000)), min_size=1, max_size=8))
def test_the_rating_column_is_the_latest_rating_at_or_before_each_sample(ratings):
    from logger.export.tabular import rating_cells

    items = sorted((Rating(t, v / 100, MarkSource.DEVICE) for t, v in ratings),
                   key=lambda r: r.t_s)  # fmt: skip
    t_s = np.linspace(0, 3, 61)
    cells = rating_cells(items, t_s)
    for t, cell in zip(t_s, cells, strict=True):
        before = [r for r in items if r.t_s <= t]
        assert cell == (f"{before[-1].value:g}" if before else "")


def test_edf_annotates_signals_ratings_and_protocols(store, tmp_path):
    sid = _session(store, events=True)
    out = export_session(store, sid, tmp_path / "s.edf", "edf")
    with pyedflib.EdfReader(str(out)) as r:
        onsets, _, texts = r.readAnnotations()
    found = {str(text): float(onset) for onset, text in zip(onsets, texts, strict=True)}
    assert found["client signal"] == pytest.approx(0.75, abs=1e-4)
    assert found["pain 6.5"] == pytest.approx(0.5, abs=1e-4)
    assert found["pain 3"] == pytest.approx(1.2, abs=1e-4)
    assert found["PPT round pre"] == pytest.approx(0.0, abs=1e-4)
    assert found["drill basic"] == pytest.approx(0.25, abs=1e-4)
    assert found["profile trapezoid"] == pytest.approx(1.0, abs=1e-4)
    assert found["PPT end"] == pytest.approx(1.5, abs=1e-4)


def test_deidentified_json_keeps_them(store, tmp_path):
    sid = _session(store, events=True)
    out = export_session(store, sid, tmp_path / "d.json", "json", deidentify=True)
    doc = json.loads(out.read_text())
    assert doc["session"]["client"] is None
    assert len(doc["signals"]) == 1 and len(doc["ratings"]) == 2
    assert [p["data"] for p in doc["protocols"]] == [p.data for p in PROTOCOLS]
