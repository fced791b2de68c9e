"""The LSL outlet end to end, over loopback: a live session on a simulated device at real
speed, real LSL inlets in this process, no mocks.

liblsl reads ``tests/lsl_loopback.cfg`` (set here, before the first stream): every query and
reply stays on 127.0.0.1. Each test's device has its own uid, so its streams have their own
source ids and tests in other processes (xdist) never see each other's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

os.environ["LSLAPICFG"] = str(Path(__file__).resolve().parents[1] / "lsl_loopback.cfg")

import pylsl  # noqa: E402

from logger.config import Config  # noqa: E402
from logger.live import LiveSession, wait_until  # noqa: E402
from logger.lsl import (  # noqa: E402
    FORCE_TYPE,
    MANUFACTURER,
    MARKER_TYPE,
    LslOutlet,
    default_source_id,
    device_to_host_line,
    lsl_clock_offset_s,
)
from logger.records import GapCause, MarkSource  # noqa: E402

pytestmark = pytest.mark.slow  # real time: the device's clock is the host's

TOLERANCE_S = 0.001  # the bound on an LSL time against the device's


class _OutletWaitingForInlets(LslOutlet):
    """Holds START until the test's inlets are connected, so they get every sample (an
    outlet sends only to inlets connected when a sample is pushed)."""

    def device_ready(self, live, device):
        super().device_ready(live, device)
        assert self.wait_for_consumers(20.0), "the test's inlets never connected"


def _inlet(source_id: str) -> pylsl.StreamInlet:
    found = pylsl.resolve_byprop("source_id", source_id, 1, 20.0)
    assert len(found) == 1, f"no stream {source_id} on loopback"
    inlet = pylsl.StreamInlet(found[0], max_buflen=60, recover=False, processing_flags=0)
    inlet.open_stream(20.0)
    return inlet


def _pull(inlet: pylsl.StreamInlet, until, timeout_s: float = 20.0):
    """Everything the inlet has, pulled until ``until(values, stamps)`` or the timeout."""
    values: list = []
    stamps: list[float] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not until(values, stamps):
        chunk, ts = inlet.pull_chunk(timeout=0.2)
        values += chunk
        stamps += ts
    return values, np.asarray(stamps)


def _device(tmp_path: Path, steps: str) -> tuple[str, str]:
    uid = f"LSL-{uuid.uuid4().hex[:10]}"
    path = tmp_path / "lsl.toml"
    path.write_text(f'[device]\nuid = "{uid}"\nrate_hz = 500\nnoise_n = 0.05\n{steps}')
    return uid, path.as_posix()


def _run(url: str, uid: str, during=None):
    """Stream a scenario to the test's inlets; returns the session (stopped), the force
    samples and stamps received, the markers, and the clock line of the session's end."""
    outlet = _OutletWaitingForInlets()
    live = LiveSession(url, Config(), taps=[outlet])
    live.start()
    force_in = markers_in = None
    try:
        force_in = _inlet(default_source_id(uid))
        markers_in = _inlet(default_source_id(uid) + ":markers")
        if during is not None:
            during(live)
        assert wait_until(live.finished.is_set, 60.0), "the scenario never ended"
        assert live.ring is not None
        written = live.ring.written
        values, stamps = _pull(force_in, lambda v, s: len(v) >= written)
        # every marker the outlet sent (it has sent them all: the scenario is over)
        markers, marker_stamps = _pull(markers_in, lambda v, s: len(v) >= outlet.markers_pushed)
        line = device_to_host_line(live)
        info = force_in.info(5.0)
    finally:
        for inlet in (force_in, markers_in):
            if inlet is not None:
                inlet.close_stream()
        live.stop()
    assert outlet.force is None  # the session closed its streams
    events = [json.loads(m[0]) for m in markers]
    return live, np.asarray(values, dtype=np.float32), stamps, events, marker_stamps, line, info


def test_every_sample_and_marker_reaches_an_inlet_at_the_devices_own_times(tmp_path):
    uid, scenario = _device(
        tmp_path,
        '[[steps]]\naction = "rest"\nseconds = 0.5\n'
        '[[steps]]\naction = "mark"\n'
        '[[steps]]\naction = "hold"\nforce_n = 45.0\nramp_s = 0.5\nseconds = 2.0\n'
        "release_s = 0.3\n"
        '[[steps]]\naction = "rest"\nseconds = 1.9\n',  # 5.2 s: 2600 samples
    )
    url = f"sim://{uid}?scenario={scenario}&speed=1"
    typed: dict[str, float] = {}

    def mark_and_zero_at_rest(live: LiveSession) -> None:
        assert wait_until(lambda: live.t_s > 3.9, 30.0)  # the hold is over, 1.3 s before the end
        live.tare()
        typed["host_s"] = time.monotonic()
        typed["t_s"] = live.mark(MarkSource.KEYBOARD).t_s

    live, values, stamps, events, marker_stamps, line, info = _run(url, uid, mark_and_zero_at_rest)

    # every sample, in order, with the newtons of the live ring (the session's forces)
    assert live.ring is not None
    ring_t, ring_n = live.ring.latest()
    assert live.ring.written == len(ring_t) == len(values) > 2500
    assert live.counters.lost_samples == 0
    np.testing.assert_array_equal(values, ring_n)
    assert np.all(np.diff(stamps) > 0)

    # each time is the device's, mapped onto the LSL clock (not when it reached the host)
    assert line is not None
    expected = line.host_s(ring_t) + lsl_clock_offset_s()
    error_s = np.abs(stamps - expected)
    assert error_s.max() < TOLERANCE_S, f"worst {error_s.max() * 1e3:.3f} ms"
    # the device's spacing, not arrival's (the clock fit is refined once a second)
    assert np.abs(np.diff(stamps) - 1 / 500).max() < TOLERANCE_S

    # the stream says what it is
    assert (info.type(), info.channel_count(), info.nominal_srate()) == (FORCE_TYPE, 1, 500.0)
    assert info.channel_format() == pylsl.cf_float32
    desc = info.desc()
    assert desc.child_value("manufacturer") == MANUFACTURER
    channel = desc.child("channels").child("channel")
    assert channel.child_value("unit") == "newtons"
    assert desc.child("device").child_value("uid") == uid
    assert live.forces is not None  # the calibration the stream opened with, before its zeros
    assert desc.child("calibration").child_value("source") == live.forces.calibration.source

    # markers: the device's mark button, a typed mark, the hold, its alert, the zero
    kinds = [e["event"] for e in events]
    assert kinds.count("hold_start") == kinds.count("hold_end") == 1
    assert "alert" in kinds and "zero" in kinds
    marks = [e for e in events if e["event"] == "mark"]
    assert [m["source"] for m in marks] == ["device", "keyboard"]
    alert = next(e for e in events if e["event"] == "alert")
    assert alert["kind"] == "warn" and alert["value"] > 40.0
    (hold,) = live.holds
    hold_end = next(e for e in events if e["event"] == "hold_end")
    assert hold_end["hold"] == hold.index and hold_end["peak_n"] == round(hold.peak_n, 3)
    at = dict(zip(kinds, marker_stamps, strict=False))
    offset = lsl_clock_offset_s()
    for kind, t_s in (("hold_start", hold.start_s), ("hold_end", hold.end_s),
                      ("alert", live.alerts[0].t_s)):  # fmt: skip
        assert abs(at[kind] - (float(line.host_s(t_s)) + offset)) < TOLERANCE_S, kind
    # a mark typed on the host lands where it was typed, on the host's clock
    typed_stamp = marker_stamps[kinds.index("mark", kinds.index("mark") + 1)]
    assert abs(typed_stamp - (typed["host_s"] + offset)) < TOLERANCE_S


def test_an_unplugged_cable_leaves_a_gap_and_the_stream_goes_on(tmp_path):
    """Unplugged for 0.6 s in the middle of a hold (4 s in: the clock fit has a few round
    trips by then, as it has in any real session)."""
    uid, scenario = _device(
        tmp_path,
        '[[steps]]\naction = "rest"\nseconds = 0.5\n'
        '[[steps]]\naction = "hold"\nforce_n = 20.0\nramp_s = 0.5\nseconds = 4.4\n'
        '[[steps]]\naction = "rest"\nseconds = 0.3\n',
    )  # 5.7 s: some 700 samples after the hole (500 needed)
    url = f"sim://{uid}?scenario={scenario}&speed=1&unplug_at_s=4.0&unplug_for_s=0.6"
    live, values, stamps, events, marker_stamps, line, _ = _run(url, uid)

    assert live.counters.reconnects == 1 and live.counters.lost_samples > 0
    assert live.ring is not None
    ring_t, ring_n = live.ring.latest()
    assert len(values) == len(ring_t) == live.ring.written
    np.testing.assert_array_equal(values, ring_n)
    assert np.all(np.diff(stamps) > 0)
    # the unplugged stretch is a hole as long as the device's, with samples on both sides
    # (a frame lost as the cable goes is a hole of its own: every gap has its marker)
    steps = np.diff(stamps)
    # holes by device time (a frame lost as the cable goes is one too); LSL times are the
    # device's mapped through a clock fit that may move a little after the reconnect
    holes = np.flatnonzero(np.diff(ring_t) > 1.5 / 500)
    hole = int(holes[np.argmax(steps[holes])])
    assert hole > 1000 and len(stamps) - hole > 500
    assert abs(steps[hole] - np.diff(ring_t)[hole]) < TOLERANCE_S
    gaps = [(e, t) for e, t in zip(events, marker_stamps, strict=True) if e["event"] == "gap"]
    assert GapCause.DISCONNECT.value in [e["cause"] for e, _ in gaps]
    assert sum(e["lost_samples"] for e, _ in gaps) == live.counters.lost_samples
    assert len(gaps) == len(holes)
    for (_, at), before in zip(gaps, holes, strict=True):  # where the next sample was due
        assert at == pytest.approx(stamps[before] + 1 / 500, abs=TOLERANCE_S)
    # the first seconds, before the cable went, at the device's times (after the reconnect
    # the clock fit takes in a round trip that the reconnection slowed: see logger/lsl.py)
    assert line is not None
    early = slice(0, 1500)
    error_s = np.abs(stamps[early] - line.host_s(ring_t[early]) - lsl_clock_offset_s())
    assert error_s.max() < TOLERANCE_S


def _receive_from(cmd: list[str], uid: str, *, stop: bool = False) -> subprocess.Popen:
    """Run ``cmd`` (a command line publishing device ``uid`` on LSL) until its force stream
    has reached an inlet of ours with a few hundred samples, and its marker stream is there;
    with ``stop`` send it SIGTERM then. Returns the finished process."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        inlet = _inlet(default_source_id(uid))
        values, stamps = _pull(inlet, lambda v, s: len(v) >= 200)
        assert len(values) >= 200 and np.all(np.diff(stamps) > 0)
        assert inlet.info(5.0).desc().child("device").child_value("uid") == uid
        markers = pylsl.resolve_byprop("source_id", default_source_id(uid) + ":markers", 1, 10)
        assert [m.type() for m in markers] == [MARKER_TYPE]
        inlet.close_stream()
        if stop:
            proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc


def test_record_with_lsl_publishes_the_recording(tmp_path, db_path):
    """``record --lsl``: the command line's plumbing."""
    uid, scenario = _device(tmp_path, '[[steps]]\naction = "rest"\nseconds = 30.0\n')
    port = f"sim://{uid}?scenario={scenario}&speed=1"
    cmd = [sys.executable, "-m", "logger.cli", "record", "--lsl", "--duration", "3",
           "--port", port, "--db", str(db_path)]  # fmt: skip
    proc = _receive_from(cmd, uid)
    assert proc.returncode == 0


def test_the_app_with_lsl_publishes_the_device_it_connects(tmp_path, db_path):
    """``gui --lsl``: the app's plumbing (offscreen; SIGTERM closes it like its window)."""
    uid, scenario = _device(tmp_path, '[[steps]]\naction = "rest"\nseconds = 60.0\n')
    port = f"sim://{uid}?scenario={scenario}&speed=1"
    cmd = [sys.executable, "-m", "logger.cli", "gui", "--lsl", "--port", port,
           "--db", str(db_path)]  # fmt: skip
    proc = _receive_from(cmd, uid, stop=True)
    assert proc.returncode == 0


def test_the_opening_ping_burst_gives_lsl_the_round_trips_it_waits_for():
    """LSL times samples once CLOCK_PAIRS round trips are in: the burst that opens a
    stream must bring that many, or the first samples would wait a PING_INTERVAL_S each."""
    from logger import lsl
    from logger.link import acquisition

    assert lsl.CLOCK_PAIRS <= acquisition.CLOCK_BURST_PINGS
