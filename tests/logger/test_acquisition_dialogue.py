"""Reader dialogues the simulator does not script: a board that restarts mid-stream and a
START that goes unanswered. A scripted device speaks the real protocol on a real pty."""

from __future__ import annotations

import time

import numpy as np
import pytest

from logger.link.acquisition import Acquisition, Collector, LinkState
from logger.records import GapCause

from .pty_device import RATE_HZ, PtyDevice, sample_frames


class ScriptedDevice(PtyDevice):
    """Streams zero-force samples at real time; can be power-cycled."""

    index = 0

    def stream_for(self, seconds: float) -> None:
        frames = sample_frames(np.zeros(int(seconds * RATE_HZ)), start_index=self.index,
                               t0_us=self.t_us)  # fmt: skip
        self.stream(frames, real_time=True)
        self.index += int(seconds * RATE_HZ)

    def reboot(self) -> None:
        """Power cycle: index and clock start again at 0; the board says who it is."""
        self.streaming.clear()
        self.index, self.t_us = 0, 0
        self.send(self.identity)


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
        device.stream_for(0.5)
        time.sleep(0.3)  # the board is away …
        device.reboot()  # … comes back, index and clock at 0, and says IDENTITY
        assert device.streaming.wait(5)  # the host re-sent START
        device.stream_for(0.5)

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
    acq, blocks, gaps = _run(device, lambda: device.stream_for(0.2))
    assert device.starts_seen == 3  # PROTOCOL.md §7: retried after 500 ms, up to 3 times
    assert sum(len(b) for b in blocks) > 0 and gaps == []
