"""The summary pyramid (logger/store/overview.py) as the library reads it: the envelope
of channel 0 at the finest level that fits, the same whatever the chunking."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from logger.store import SessionStore
from logger.store.overview import level_for

from .test_store import fill, make_meta


def brute_overview(t: np.ndarray, raw0: np.ndarray, width_s: float):
    b = np.floor(t / 0.1).astype(np.int64) // round(width_s / 0.1)
    keys = np.unique(b)
    lo = np.array([raw0[b == k].min() for k in keys])
    hi = np.array([raw0[b == k].max() for k in keys])
    return (keys + 0.5) * width_s, (lo - 120000.0) / 4000.0, (hi - 120000.0) / 4000.0


def test_overview_picks_a_level_within_max_points(db_path):
    store = SessionStore(db_path)
    sid = store.create_session(make_meta())
    t, raw = fill(store, sid, 60.0, block=500)
    for max_points in (20, 150, 700):
        t_o, lo, hi = store.load_overview(sid, None, None, max_points)
        assert 0 < t_o.size <= max_points
        width = 0.1 * 4 ** next(k for k in range(8) if 599 // 4**k + 1 <= max_points)
        bt, blo, bhi = brute_overview(t, raw[:, 0], width)
        np.testing.assert_allclose(t_o, bt)
        np.testing.assert_allclose(lo, blo)
        np.testing.assert_allclose(hi, bhi)
    # a short range holds fewer samples than max_points: the samples themselves
    t_o, lo, hi = store.load_overview(sid, 10.0, 10.5, 1000)
    np.testing.assert_array_equal(t_o, t[(t >= 10.0) & (t <= 10.5)])
    np.testing.assert_array_equal(lo, hi)
    # a window in the middle reads only its buckets
    t_o, lo, hi = store.load_overview(sid, 20.0, 40.0, 100)
    assert t_o.size <= 100 and t_o[0] >= 19.0 and t_o[-1] <= 41.0


@settings(max_examples=30, deadline=None)
@given(cuts=st.lists(st.integers(1, 2999), max_size=12, unique=True))
def test_summary_does_not_depend_on_chunking(tmp_path_factory, cuts):
    store = SessionStore(tmp_path_factory.mktemp("db") / "s.sqlite3")
    sid = store.create_session(make_meta())
    t = np.arange(3000) / 1000.0 + 0.0123
    rng = np.random.default_rng(len(cuts))
    raw = rng.integers(100000, 200000, size=(3000, 1)).astype(np.int32)
    edges = [0, *sorted(cuts), 3000]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        store.append_samples(sid, a, t[a:b], raw[a:b])
    for width, max_points in ((0.1, 31), (0.4, 9), (1.6, 3)):
        t_o, lo, hi = store.load_overview(sid, 0.0, 3.0, max_points)
        bt, blo, bhi = brute_overview(t, raw[:, 0], width)
        np.testing.assert_allclose(t_o, bt)
        np.testing.assert_allclose(lo, blo)
        np.testing.assert_allclose(hi, bhi)
    store.close()


def test_level_for_is_the_finest_that_fits():
    # 600 buckets of 0.1 s: 150 of 0.4 s, 38 of 1.6 s, 10 of 6.4 s
    assert [level_for(0.0, 59.9, n) for n in (600, 599, 150, 38, 37, 20)] == [0, 1, 1, 2, 3, 3]
    assert level_for(0.0, 8 * 3600.0, 2000) == 4  # 8 h: 1125 buckets of 25.6 s
    assert level_for(0.0, 8 * 3600.0, 10) == 7  # none fits: the coarsest
