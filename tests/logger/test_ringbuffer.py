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
