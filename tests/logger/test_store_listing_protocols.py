"""The session list says which protocols each session ran (``SessionSummary.protocols``)
and filters by them (``list_sessions(protocol=…)``), from the protocols table alone."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logger.deidentify import DeidentifiedStore
from logger.errors import BadInput, StorageError
from logger.records import ProtocolEvent, ProtocolKind
from logger.store import SessionStore
from logger.store.library import WriteBatch

from .test_store import make_meta

ROUND, DRILL, PROFILE = ProtocolKind.ROUND, ProtocolKind.DRILL, ProtocolKind.PROFILE
WORDS = {"PPT": ROUND, "drill": DRILL, "guided": PROFILE}
FILTERS = {"ppt": ROUND, "drill": DRILL, "guided": PROFILE}
TRAPEZOID = {"kind": "trapezoid", "force_n": 30.0, "repeats": 3}


def basic_drill(name: str = "basic") -> dict:
    return {"name": name, "description": "", "tasks": [{"target_n": 20.0}]}


def ev(t_s: float, kind: ProtocolKind, data: dict) -> ProtocolEvent:
    return ProtocolEvent(t_s, kind, data)


def store_sessions(store: SessionStore, runs: list[list[ProtocolEvent]]) -> list[str]:
    ids = []
    for k, events in enumerate(runs):
        sid = store.create_session(
            make_meta(started_at=f"2026-11-{k % 28 + 1:02d}T10:{k // 28:02d}:00+00:00")
        )
        store.write_batch(sid, WriteBatch(protocols=events))
        ids.append(sid)
    return ids


EXAMPLES = [
    ([], ""),
    ([ev(0, ROUND, {"label": "pre"}), ev(50, ROUND, {"label": "post"})], "PPT pre/post"),
    ([ev(0, ROUND, {"label": "pre"}), ev(30, ROUND, {"label": ""})], "PPT pre"),
    ([ev(0, DRILL, basic_drill()), ev(60, DRILL, {})], "drill basic"),
    ([ev(0, PROFILE, TRAPEZOID), ev(9, PROFILE, {})], "guided"),
    ([ev(0, ROUND, {"label": "pre"}), ev(5, DRILL, basic_drill())], "PPT pre, drill basic"),
    (
        [
            ev(0, DRILL, basic_drill("ladder")),
            ev(1, DRILL, {}),
            ev(2, DRILL, basic_drill()),
            ev(3, ROUND, {"label": "post"}),
            ev(4, DRILL, basic_drill("ladder")),
        ],
        "drill ladder/basic, PPT post",
    ),  # fmt: skip
    ([ev(0, DRILL, {}), ev(1, PROFILE, {}), ev(2, ROUND, {"label": ""})], ""),  # stops only
    ([ev(0, DRILL, {"tasks": []}), ev(1, ROUND, {"label": 3})], "drill"),  # no name as text
]


def test_labels_of_examples(db_path):
    with SessionStore(db_path) as store:
        ids = store_sessions(store, [events for events, _ in EXAMPLES])
        got = {s.id: s.protocols for s in store.list_sessions()}
    assert [got[sid] for sid in ids] == [label for _, label in EXAMPLES]


def test_the_filter_and_the_other_filters_together(db_path):
    with SessionStore(db_path) as store:
        ids = store_sessions(store, [events for events, _ in EXAMPLES])
        drills = [s.id for s in store.list_sessions(protocol="drill")]
        assert drills == [ids[3], ids[5], ids[6], ids[8]]
        ppt = [s.id for s in store.list_sessions(protocol="PPT")]
        assert ppt == [ids[1], ids[2], ids[5], ids[6]]
        assert [s.id for s in store.list_sessions(protocol="guided")] == [ids[4]]
        assert [s.protocols for s in store.list_sessions(protocol="drill", since="2026-11-07")] == [
            "drill ladder/basic, PPT post", "drill",
        ]  # fmt: skip
        assert store.list_sessions(protocol="guided", therapist="nobody") == []


def test_an_unknown_filter_is_one_line_of_bad_input(db_path):
    with SessionStore(db_path) as store, pytest.raises(BadInput, match="protocol='hiit'"):
        store.list_sessions(protocol="hiit")


def test_a_damaged_protocol_row_names_the_table(db_path):
    with SessionStore(db_path) as store:
        store_sessions(store, [[ev(0, ROUND, {"label": "pre"})]])
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE protocols SET kind = 'yoga'")
    with SessionStore(db_path) as store, pytest.raises(StorageError, match="table protocols"):
        store.list_sessions()


def test_the_deidentified_view_keeps_label_and_filter(db_path):
    with SessionStore(db_path) as store:
        ids = store_sessions(store, [events for events, _ in EXAMPLES])
        view = DeidentifiedStore(store)
        listed = view.list_sessions()
        assert [s.protocols for s in listed] == [label for _, label in EXAMPLES]
        assert {s.client for s in listed} == {None}
        ppt = view.list_sessions(protocol="ppt")
        assert [view.real_id(s.id) for s in ppt] == [ids[1], ids[2], ids[5], ids[6]]


# ------------------------------------------------------------------ properties
names = st.sampled_from(["basic", "ladder", "ppt-rate"])
starts = st.one_of(
    st.builds(lambda label: (ROUND, {"label": label}), st.sampled_from(["pre", "post"])),
    st.builds(lambda name: (DRILL, basic_drill(name)), names),
    st.just((PROFILE, TRAPEZOID)),
)
stops = st.sampled_from([(ROUND, {"label": ""}), (DRILL, {}), (PROFILE, {})])
sequences = st.lists(st.tuples(st.integers(0, 600), st.one_of(starts, stops)), max_size=8).map(
    lambda items: [ev(float(t), k, d) for t, (k, d) in sorted(items, key=lambda i: i[0])]
)


def first_starts(events: list[ProtocolEvent]) -> list[ProtocolKind]:
    """Each kind started (a round with a label, a drill or profile not stopped), in time
    order of its first start."""
    kinds: list[ProtocolKind] = []
    for e in events:
        started = e.data.get("label") if e.kind is ROUND else e.data
        if started and e.kind not in kinds:
            kinds.append(e.kind)
    return kinds


def label_kinds(label: str) -> list[ProtocolKind]:
    return [WORDS[part.split(" ")[0]] for part in label.split(", ")] if label else []


@settings(max_examples=40, deadline=None)
@given(st.lists(sequences, min_size=1, max_size=6))
def test_the_label_names_each_kind_run_once_in_order_and_the_filter_agrees(runs):
    with tempfile.TemporaryDirectory() as tmp, SessionStore(Path(tmp) / "l.sqlite3") as store:
        ids = store_sessions(store, runs)
        labels = {s.id: s.protocols for s in store.list_sessions()}
        for sid, events in zip(ids, runs, strict=True):
            assert label_kinds(labels[sid]) == first_starts(events)
            names = [e.data["name"] for e in events if e.kind is DRILL and e.data]
            if names:  # each drill's name once, in order
                part = next(p for p in labels[sid].split(", ") if p.startswith("drill"))
                assert part == "drill " + "/".join(dict.fromkeys(names))
        for word, kind in FILTERS.items():
            kept = [s.id for s in store.list_sessions(protocol=word)]
            assert kept == [sid for sid in ids if kind in label_kinds(labels[sid])]
