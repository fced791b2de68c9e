"""Client signals, pain ratings and protocol events in the SQLite library: written (in
batches, through the writer) and read back, erased with their client."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logger.records import MarkSource, ProtocolEvent, ProtocolKind, Rating, Signal
from logger.store import SessionStore, SessionWriter, schema
from logger.store.library import WriteBatch

from .test_store import make_meta

times = st.floats(0.0, 1e5, allow_nan=False, allow_infinity=False)
sources = st.sampled_from(list(MarkSource))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=8,
)  # fmt: skip
signals = st.builds(Signal, times, sources)
ratings = st.builds(Rating, times, st.floats(0.0, 10.0), sources)
protocols = st.builds(
    ProtocolEvent, times, st.sampled_from(list(ProtocolKind)),
    st.dictionaries(st.text(max_size=8), json_values, max_size=4),
)  # fmt: skip


def in_time_order(items: list) -> list:
    return sorted(items, key=lambda e: e.t_s)  # stable: equal times keep their order


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """One library for all examples: each writes and reads a session of its own."""
    with SessionStore(tmp_path_factory.mktemp("lib") / "l.sqlite3") as store:
        yield store


@settings(max_examples=40, deadline=None)
@given(
    st.lists(signals, max_size=12).map(in_time_order),
    st.lists(ratings, max_size=12).map(in_time_order),
    st.lists(protocols, max_size=6).map(in_time_order),
    st.integers(1, 5),
)
def test_client_events_read_back_as_written_in_order(library, sig, rat, pro, batches):
    store = library
    sid = store.create_session(make_meta())
    for k in range(batches):  # split over several transactions, in order
        store.write_batch(sid, WriteBatch(
            signals=_part(sig, k, batches),
            ratings=_part(rat, k, batches),
            protocols=_part(pro, k, batches),
        ))  # fmt: skip
    assert store.load_signals(sid) == sig
    assert store.load_ratings(sid) == rat
    assert store.load_protocols(sid) == pro
    rec = store.load_session(sid)
    assert (rec.signals, rec.ratings, rec.protocols) == (sig, rat, pro)


def _part(items: list, k: int, parts: int) -> list:
    """The k-th of ``parts`` consecutive slices of ``items``."""
    size = -(-len(items) // parts)
    return items[k * size : (k + 1) * size]


def test_events_written_out_of_time_order_read_back_in_time_order(db_path):
    with SessionStore(db_path) as store:
        sid = store.create_session(make_meta())
        late, early = Signal(5.0, MarkSource.KEYBOARD), Signal(4.0, MarkSource.DEVICE)
        store.write_batch(sid, WriteBatch(signals=[late]))
        store.write_batch(sid, WriteBatch(signals=[early]))
        assert store.load_signals(sid) == [early, late]


def test_the_writer_commits_them_while_recording(db_path):
    """What a recorder committed is in the file while it still runs (and so survives a
    crash, like marks)."""
    with SessionStore(db_path) as store:
        sid = store.create_session(make_meta())
        writer = SessionWriter(store, sid)
        writer.put_signals([Signal(1.0, MarkSource.DEVICE)])
        writer.put_ratings([Rating(1.5, 7.25, MarkSource.DEVICE)])
        writer.put_protocols([ProtocolEvent(0.0, ProtocolKind.ROUND, {"label": "post"})])
        assert writer.flush(10)
        with SessionStore(db_path, recover=False) as other:
            assert other.load_signals(sid) == [Signal(1.0, MarkSource.DEVICE)]
            assert other.load_ratings(sid) == [Rating(1.5, 7.25, MarkSource.DEVICE)]
            assert other.load_protocols(sid)[0].data == {"label": "post"}
        writer.close()


def test_forget_client_erases_them(db_path):
    with SessionStore(db_path) as store:
        sid = store.create_session(make_meta(client="C-099"))
        store.write_batch(sid, WriteBatch(
            signals=[Signal(1.0, MarkSource.DEVICE)],
            ratings=[Rating(1.0, 3.0, MarkSource.DEVICE)],
            protocols=[ProtocolEvent(0.0, ProtocolKind.DRILL, {"name": "basic"})],
        ))  # fmt: skip
        store.finish_session(sid)
        store.forget_client("C-099")
    with sqlite3.connect(db_path) as conn:
        for table in ("signals", "ratings", "protocols"):
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table


def test_a_library_of_the_previous_version_gains_the_tables(db_path):
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for version, step in enumerate(schema.MIGRATIONS[:-1], start=1):
        assert isinstance(step, str)
        conn.executescript(step)
        conn.execute("INSERT INTO schema_version VALUES (?)", (version,))
    conn.commit()
    conn.close()
    with SessionStore(db_path) as store:
        assert store.schema_version == len(schema.MIGRATIONS)
        sid = store.create_session(make_meta())
        assert store.load_signals(sid) == store.load_ratings(sid) == []
        assert store.load_session(sid).protocols == []
