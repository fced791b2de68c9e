"""The session list's protocols label and filter from the school library: the same as the
station's for the same sessions, whatever protocol events (or damage-free oddities: a
label that is not text, unknown keys) they hold."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logger.records import ProtocolEvent, ProtocolKind, SessionStatus
from logger.store import SessionStore
from logger.store.library import WriteBatch
from logger.store.postgres import PostgresLibrary
from logger.store.sync import sync_library

from ..test_store import make_meta
from ..test_store_client_events import in_time_order, protocols
from ..test_store_listing_protocols import EXAMPLES, sequences

FILTERS = (None, "ppt", "drill", "guided")


def listing(lib: SessionStore | PostgresLibrary) -> dict[str | None, list[tuple[str, str]]]:
    return {f: [(s.id, s.protocols) for s in lib.list_sessions(protocol=f)] for f in FILTERS}


def write(station, runs) -> list[str]:
    ids = []
    with SessionStore(station) as store:
        for events in runs:
            sid = store.create_session(make_meta())
            store.write_batch(sid, WriteBatch(protocols=events))
            store.finish_session(sid, SessionStatus.COMPLETE)
            ids.append(sid)
    return ids


def test_the_examples_read_the_same_from_the_server(school, station):
    ids = write(station, [events for events, _ in EXAMPLES])
    assert sorted(sync_library(station, school.url).copied) == sorted(ids)
    with SessionStore(station) as store, PostgresLibrary(school.url) as lib:
        local, remote = listing(store), listing(lib)
        assert remote == local
        labels = dict(remote[None])
        assert [labels[sid] for sid in ids] == [label for _, label in EXAMPLES]
        # the filter with another filter (row security and all) on the server
        assert lib.list_sessions(protocol="drill", therapist="nobody") == []


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    st.lists(
        st.one_of(sequences, st.lists(protocols, max_size=5).map(in_time_order)),
        min_size=1,
        max_size=4,
    )
)
def test_both_back_ends_give_the_same_labels_and_filters(school, station, runs):
    write(station, runs)
    report = sync_library(station, school.url)
    assert not report.failed
    with SessionStore(station) as store, PostgresLibrary(school.url) as lib:
        assert listing(lib) == listing(store)


def test_a_name_the_servers_json_cannot_read_is_read_all_the_same(school, station):
    """PostgreSQL's JSON refuses a \\u0000 escape: those rows are read whole instead, and
    the name ends at the NUL on both back ends (SQLite's JSON functions end it there)."""
    odd = [ProtocolEvent(0.0, ProtocolKind.DRILL, {"name": "a\x00b"})]
    plain = [ProtocolEvent(0.0, ProtocolKind.ROUND, {"label": "pre"})]
    ids = write(station, [odd, plain])
    sync_library(station, school.url)
    with SessionStore(station) as store, PostgresLibrary(school.url) as lib:
        remote = listing(lib)
        assert remote == listing(store)
        assert dict(remote[None]) == dict(zip(ids, ["drill a", "PPT pre"], strict=True))
