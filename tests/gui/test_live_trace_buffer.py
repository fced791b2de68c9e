"""The window's incremental copy of the ring buffer: nothing lost, nothing twice."""

from __future__ import annotations

import threading

import numpy as np

from gui.trace_buffer import TraceBuffer
from logger.ringbuffer import RingBuffer


def _block(start: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    i = np.arange(start, start + n)
    return i * 1e-3, (i % 1000).astype(np.float32).reshape(-1, 1)


def test_sync_copies_only_new_rows_and_slides_when_full():
    ring = RingBuffer(1000, 1)
    trace = TraceBuffer(1000)
    written = 0
    for n in (10, 500, 999, 1, 1500, 7):
        ring.extend(*_block(written, n))
        written += n
        trace.sync(ring)
        t, f = trace.window(1e9)
        expect_n = min(written, 1000)
        assert t.shape[0] == expect_n
        np.testing.assert_allclose(t, np.arange(written - expect_n, written) * 1e-3)
        np.testing.assert_array_equal(f, np.arange(written - expect_n, written) % 1000)
    assert trace.sync(ring) == 0
    t, _ = trace.window(0.1)
    assert t.shape[0] == 101 and t[-1] == (written - 1) * 1e-3


def test_sync_while_the_reader_writes_loses_and_repeats_nothing():
    total = 150_000
    ring = RingBuffer(total, 1)  # the ring never overwrites: any loss would be sync's
    trace = TraceBuffer(total)
    done = threading.Event()

    def writer() -> None:
        for start in range(0, total, 37):
            ring.extend(*_block(start, min(37, total - start)))
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    while not done.is_set():
        trace.sync(ring)
    thread.join()
    trace.sync(ring)
    t, _ = trace.window(1e9)
    # every row from the first one synced on, each exactly once, in order
    rows = np.rint(t * 1e3)
    np.testing.assert_array_equal(rows, np.arange(rows[0], total))


def test_a_new_ring_starts_a_new_trace():
    trace = TraceBuffer(100)
    a, b = RingBuffer(100, 1), RingBuffer(100, 1)
    a.extend(*_block(0, 50))
    trace.sync(a)
    b.extend(*_block(0, 5))
    trace.sync(b)
    assert len(trace) == 5
