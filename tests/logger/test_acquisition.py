"""Reader details that the end-to-end tests do not isolate."""

from __future__ import annotations

import threading

import numpy as np

from logger.link import acquisition
from logger.link.acquisition import Acquisition, Collector, LinkState
from logger.live import wait_until


def test_device_time_wraps_inside_a_session(tmp_path):
    """A device whose µs clock wraps 1 s into the session: time stays continuous."""
    path = tmp_path / "wrap.toml"
    path.write_text('[[steps]]\naction = "rest"\nseconds = 3.0\n')
    heard = Collector()
    acq = Acquisition(
        f"sim://wrap?scenario={path}&speed=0&clock_start_us={2**32 - 1_000_000}", heard
    )
    acq.start()
    assert wait_until(lambda: bool(heard.events), 20)
    acq.stop()
    assert acq.state is LinkState.STOPPED
    t_s = np.concatenate([b.t_s for b in heard.all_blocks()])
    assert len(t_s) == 3000 and t_s[0] == 0.0
    np.testing.assert_allclose(np.diff(t_s), 0.001, atol=1e-9)


def _resting_device(tmp_path, name: str) -> Acquisition:
    """A simulated device at rest for a minute, at real time, its clock 5000 ppm fast."""
    path = tmp_path / "rest.toml"
    path.write_text('[[steps]]\naction = "rest"\nseconds = 60.0\n')
    return Acquisition(f"sim://{name}?scenario={path}&speed=1&clock_ppm=5000", Collector())


def test_clock_drift_is_estimated_from_pings(tmp_path, monkeypatch):
    """A device clock running 5000 ppm fast, at real time: PING/PONG pairs measure it
    (four a second instead of one: the same fit over 3 s rather than 5, after the burst)."""
    monkeypatch.setattr(acquisition, "PING_INTERVAL_S", 0.25)
    acq = _resting_device(tmp_path, "drift")
    acq.start()
    try:
        assert acq.wait_ready(10)
        assert wait_until(lambda: acq.clock_samples >= acquisition.CLOCK_BURST_PINGS + 12, 30)
        assert wait_until(lambda: acq.clock_drift_measured, 30)  # once prompt pairs span 2 s
        drift_ppm = acq.counters.drift_ppm
        offset_s = acq.clock_offset_s()
    finally:
        acq.stop()
    assert 3500 < drift_ppm < 6500
    assert offset_s is not None


def test_a_stream_starts_with_a_burst_of_pings(tmp_path, monkeypatch):
    """The clock's first offset rests on the most prompt of several round trips, which come
    at once, not one a PING_INTERVAL_S (made 30 s here); too close together for a slope."""
    monkeypatch.setattr(acquisition, "PING_INTERVAL_S", 30.0)
    acq = _resting_device(tmp_path, "burst")
    acq.start()
    try:
        assert acq.wait_ready(10)
        assert wait_until(lambda: acq.clock_samples >= acquisition.CLOCK_BURST_PINGS, 10)
        assert not acq.clock_drift_measured and acq.counters.drift_ppm == 0.0
        assert acq.clock_offset_s() is not None
    finally:
        acq.stop()
    assert acq.clock_samples == acquisition.CLOCK_BURST_PINGS  # then none for 30 s


def test_a_sketch_printing_numbers_is_recorded_with_host_timestamps(db_path):
    """`Serial.println(scale.read())` on a real pty: logged, host-timed and flagged."""
    import os
    import time

    from logger.cli import main
    from logger.store import SessionStore

    master, slave = os.openpty()
    stop = threading.Event()

    def sketch() -> None:
        i = 0
        while not stop.is_set():
            os.write(master, f"weight:{1000 + i}\r\n".encode())
            i += 1
            time.sleep(0.005)

    writer = threading.Thread(target=sketch, daemon=True)
    writer.start()
    try:
        code = main(["record", "--port", os.ttyname(slave), "--duration", "1.5",
                     "--db", str(db_path)])  # fmt: skip
    finally:
        stop.set()
        writer.join(2)
        os.close(master)
        os.close(slave)
    assert code == 0
    store = SessionStore(db_path)
    rec = store.load_session(store.list_sessions()[0].id)
    assert rec.meta.device.text_mode and rec.meta.device.protocol == "text"
    t_s, raw = store.load_samples(rec.id)
    assert 100 < len(t_s) <= 300 and t_s[-1] < 1.5
    assert np.all(np.diff(t_s) > 0)
    # the values are the printed numbers, in order, one apart
    assert np.all(np.diff(raw[:, 0]) == 1)
