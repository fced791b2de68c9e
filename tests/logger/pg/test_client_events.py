"""Client signals, pain ratings and protocol events on the school library: any sequence
written at a station reads back equal, in order, from the server after a sync."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logger.store import SessionStore
from logger.store.library import WriteBatch
from logger.store.postgres import PostgresLibrary
from logger.store.sync import sync_library

from ..test_store import make_meta
from ..test_store_client_events import in_time_order, protocols, ratings, signals
from .stations import make_station


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    st.lists(signals, max_size=8).map(in_time_order),
    st.lists(ratings, max_size=8).map(in_time_order),
    st.lists(protocols, max_size=5).map(in_time_order),
)
def test_any_sequence_syncs_and_reads_back_equal(school, station, sig, rat, pro):
    with SessionStore(station) as store:
        sid = store.create_session(make_meta())
        store.write_batch(sid, WriteBatch(signals=sig, ratings=rat, protocols=pro))
        store.finish_session(sid)
    report = sync_library(station, school.url)
    assert sid in report.copied and not report.failed
    with PostgresLibrary(school.url) as lib:
        assert lib.load_signals(sid) == sig
        assert lib.load_ratings(sid) == rat
        assert lib.load_protocols(sid) == pro
        rec = lib.load_session(sid)
        assert (rec.signals, rec.ratings, rec.protocols) == (sig, rat, pro)


def test_changed_events_are_sent_again_and_equal_on_both_sides(school, station):
    (sid,) = make_station(station, 1)
    assert sync_library(station, school.url).copied == [sid]
    with SessionStore(station) as store:
        store.write_batch(sid, WriteBatch(signals=[*store.load_signals(sid)]))  # one more
        local = store.load_session(sid)
    again = sync_library(station, school.url)
    assert again.updated == [sid] and not again.failed
    with PostgresLibrary(school.url) as lib:
        remote = lib.load_session(sid)
    assert len(local.signals) == 2
    assert (remote.signals, remote.ratings, remote.protocols) == (
        local.signals, local.ratings, local.protocols,
    )  # fmt: skip
