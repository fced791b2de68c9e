import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from logger.ringbuffer import RingBuffer


@given(capacity=st.integers(1, 50), sizes=st.lists(st.integers(0, 120), max_size=12))
def test_ring_holds_exactly_the_newest_rows(capacity, sizes):
    ring = RingBuffer(capacity, channels=2)
    t_all, f_all = np.zeros(0), np.zeros((0, 2))
    for n in sizes:
        t = np.arange(t_all.size, t_all.size + n, dtype=float)
        f = np.stack([t * 2, t * 3], axis=1)
        ring.extend(t, f, (f * 10).astype(np.int32))
        t_all, f_all = np.concatenate([t_all, t]), np.concatenate([f_all, f])
    t, f = ring.latest()
    keep = min(capacity, t_all.size)
    np.testing.assert_array_equal(t, t_all[t_all.size - keep :])
    np.testing.assert_array_equal(f, f_all[t_all.size - keep :].astype(np.float32))
    _, raw = ring.latest(raw=True)
    np.testing.assert_array_equal(raw, (f_all[t_all.size - keep :] * 10).astype(np.int32))
    assert ring.written == t_all.size


def test_window_selects_by_time():
    ring = RingBuffer(1000)
    t = np.arange(500) / 100.0
    ring.extend(t, t)
    tw, fw = ring.window(1.0)
    assert tw[0] == 3.99 and tw[-1] == 4.99
    assert fw.shape == (101, 1)


@given(
    capacity=st.integers(1, 40),
    steps=st.lists(st.tuples(st.integers(0, 60), st.booleans()), max_size=20),
)
def test_since_hands_each_row_over_once_and_counts_what_was_overwritten(capacity, steps):
    """A reader that passes back the count it got sees every row still held exactly once,
    in order; rows overwritten before it came back are the only ones missing, and the
    count says how many."""
    ring = RingBuffer(capacity)
    seen, got = 0, []
    for n, read in steps:
        t = np.arange(ring.written, ring.written + n, dtype=float)
        ring.extend(t, t * 2.0)
        if read:
            t_s, force_n, written = ring.since(seen)
            assert written == ring.written
            assert t_s.shape[0] == min(written - seen, capacity)
            np.testing.assert_array_equal(t_s, np.arange(written - t_s.shape[0], written))
            np.testing.assert_array_equal(force_n[:, 0], (t_s * 2.0).astype(np.float32))
            got += t_s.tolist()
            seen = written
    assert got == sorted(set(got))
