"""Reader dialogues the simulator does not script: a board that restarts mid-stream and a
START that goes unanswered. A scripted device speaks the real protocol on a real pty."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

from firmware_protocol.framing import FrameDecoder, encode_frame
from firmware_protocol.messages import (
    Ack,
    AdcKind,
    Hello,
    Identity,
    SampleFlag,
    Samples,
    Start,
)
from logger.acquisition import Acquisition, Collector, LinkState
from logger.records import GapCause

RATE_HZ = 1000
BATCH = 20
IDENTITY = Identity(1, 0, (1, 2, 3), "PTY-DEV-1", AdcKind.HX711, 24, 1, RATE_HZ, 10, 4000,
                    4000.0, 120000, 1024)  # fmt: skip


class ScriptedDevice:
    """The far end of a pty: answers HELLO, ACKs (or ignores) START, streams in real time."""

    def __init__(self, ignore_starts: int = 0) -> None:
        self.master, self.slave = os.openpty()
        self.path = os.ttyname(self.slave)
        self.ignore_starts = ignore_starts
        self.starts_seen = 0
        self.streaming = threading.Event()
        self.stop = threading.Event()
        self.seq = 0
        self.index = 0
        self.t_us = 5_000_000
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def send(self, msg) -> None:
        self.seq += 1
        os.write(self.master, encode_frame(msg, self.seq))

    def stream(self, seconds: float) -> None:
        """Send ``seconds`` of samples at real time (batches of 20)."""
        t_end = time.monotonic() + seconds
        while time.monotonic() < t_end:
            raw = np.full((BATCH, 1), 120000, dtype=np.int32)
            self.send(Samples(self.index, self.t_us, 1000, SampleFlag.NONE, raw))
            self.index += BATCH
            self.t_us += BATCH * 1000
            time.sleep(BATCH / RATE_HZ)

    def reboot(self) -> None:
        """Power cycle: index and clock start again at 0; the board says who it is."""
        self.streaming.clear()
        self.index, self.t_us = 0, 0
        self.send(IDENTITY)

    def _serve(self) -> None:
        dec = FrameDecoder()
        while not self.stop.is_set():
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            for frame in dec.feed(data):
                if isinstance(frame.msg, Hello):
                    self.send(IDENTITY)
                elif isinstance(frame.msg, Start):
                    self.starts_seen += 1
                    if self.starts_seen > self.ignore_starts:
                        self.send(Ack(frame.seq, 0x02))
                        self.streaming.set()

    def close(self) -> None:
        self.stop.set()
        os.close(self.slave)
        os.close(self.master)


def _run(device: ScriptedDevice, script) -> tuple[Acquisition, list, list]:
    heard = Collector()
    acq = Acquisition(device.path, heard)
    acq.start()
    try:
        assert device.streaming.wait(10)
        script()
        time.sleep(0.2)
    finally:
        acq.stop()
        device.close()
    return acq, heard.all_blocks(), heard.gaps


@pytest.mark.slow
def test_a_board_restarting_mid_stream_continues_the_timeline():
    device = ScriptedDevice()

    def script() -> None:
        device.stream(1.0)
        time.sleep(0.3)  # the board is away …
        device.reboot()  # … comes back, index and clock at 0, and says IDENTITY
        assert device.streaming.wait(5)  # the host re-sent START
        device.stream(1.0)

    acq, blocks, gaps = _run(device, script)
    assert acq.state is LinkState.STOPPED and device.starts_seen == 2
    t_s = np.concatenate([b.t_s for b in blocks])
    assert np.all(np.diff(t_s) > 0), "time went backwards across the restart"
    (gap,) = gaps
    assert gap.cause is GapCause.RESTART
    assert 0.25 < gap.end_s - gap.start_s < 0.8  # the host clock measured the outage
    assert gap.lost_samples == pytest.approx((gap.end_s - gap.start_s) * RATE_HZ, abs=2)
    assert acq.counters.lost_samples == gap.lost_samples


@pytest.mark.slow
def test_an_unanswered_start_is_sent_again():
    device = ScriptedDevice(ignore_starts=2)
    acq, blocks, gaps = _run(device, lambda: device.stream(0.5))
    assert device.starts_seen == 3  # PROTOCOL.md §7: retried after 500 ms, up to 3 times
    assert sum(len(b) for b in blocks) > 0 and gaps == []
