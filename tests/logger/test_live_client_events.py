"""The client's signals and pain ratings from a device (EVENT CLIENT_BUTTON and RATING
frames from a scripted device on a real pty) and from the host, into a live session and
its library; `record --ppt-round` through the simulator."""

from __future__ import annotations

import time

import numpy as np
import pytest

from firmware_protocol.messages import Event, EventKind
from logger.cli import main
from logger.config import Config
from logger.live import LiveSession, wait_until
from logger.records import MarkSource, ProtocolEvent, ProtocolKind, Rating, Signal
from logger.store import SessionStore

from .pty_device import PtyDevice, hold_profile_n, sample_frames

T0_US = 5_000_000  # the scripted device's time at its first sample
FRAME_S = 0.02  # sample_frames: 20 samples at 1 kHz per frame
FRAMES = sample_frames(hold_profile_n(12000))  # 12 s: a hold from 1 s to 4 s


@pytest.fixture
def device():
    dev = PtyDevice()
    yield dev
    dev.close()


def test_device_signals_and_ratings_are_recorded_at_their_device_time(device, db_path):
    frames = sample_frames(hold_profile_n(5000))
    live = LiveSession(device.path, Config(), db_path=db_path, record_limit_s=4.5)
    live.arm_recording(client="C-001")
    live.start()
    try:
        assert live.wait_ready(10) and device.streaming.wait(10)
        device.stream(frames[:100])  # 2.0 s
        device.send(Event(EventKind.CLIENT_BUTTON, T0_US + 1_250_000))
        device.send(Event(EventKind.RATING, T0_US + 1_500_000, 650))
        device.send(Event(EventKind.RATING, T0_US + 1_600_000, 1001))  # beyond 10: bad
        device.send(Event(EventKind.RATING, T0_US + 1_700_000, -1))  # below 0: bad
        device.stream(frames[100:150])
        device.send(Event(EventKind.RATING, T0_US + 2_500_000, 1000))
        device.stream(frames[150:])
        assert wait_until(live.finished.is_set, 20.0)
        shown = live.poll_events()
        assert live.counters.bad_events == 2
        assert live.current_rating == 10.0
        assert [r.value for r in live.ratings] == [6.5, 10.0] and len(live.signals) == 1
        with pytest.raises(ValueError, match="pain rating"):
            live.rate(10.5)
    finally:
        sid = live.stop()
    assert [e for e in shown if isinstance(e, Signal | Rating)] == [
        *live.signals, *live.ratings,
    ]  # fmt: skip
    assert sid is not None
    with SessionStore(db_path) as store:
        assert store.load_signals(sid) == [Signal(1.25, MarkSource.DEVICE)]
        assert store.load_ratings(sid) == [
            Rating(1.5, 6.5, MarkSource.DEVICE),
            Rating(2.5, 10.0, MarkSource.DEVICE),
        ]
        assert store.load_protocols(sid) == []


def test_host_signals_ratings_and_protocols_are_recorded(device, db_path):
    frames = sample_frames(hold_profile_n(4000))
    live = LiveSession(device.path, Config(), db_path=db_path, record_limit_s=3.5)
    live.arm_recording()
    live.start()
    try:
        assert live.wait_ready(10) and device.streaming.wait(10)
        device.stream(frames[:75])  # 1.5 s
        assert wait_until(lambda: live.t_s > 1.0, 10.0)
        # host events are placed by the device clock fitted to the host's once a PING has
        # come back (before that: at the newest sample). This device sends its samples in
        # bursts, faster than its clock runs, so the two disagree by a second: wait for the
        # fit, so that the three events below are placed the same way
        assert wait_until(lambda: live.host_to_device_s(time.monotonic()) is not None, 10.0)
        signal = live.signal()
        rating = live.rate(2.5)
        started = live.start_protocol(ProtocolKind.PROFILE, {"kind": "trapezoid", "reps": (1, 2)})
        with pytest.raises(ValueError, match="JSON"):
            live.start_protocol(ProtocolKind.DRILL, {"bad": float("nan")})
        device.stream(frames[75:])
        assert wait_until(live.finished.is_set, 20.0)
        shown = live.poll_events()
    finally:
        sid = live.stop()
    assert signal in shown and rating in shown and started in shown
    assert started.data == {"kind": "trapezoid", "reps": [1, 2]}  # as stored (JSON)
    assert live.current_rating == 2.5 and live.protocols == (started,)
    with SessionStore(db_path) as store:
        (sig,) = store.load_signals(sid)
        (rat,) = store.load_ratings(sid)
        (pro,) = store.load_protocols(sid)
    assert sig.source is MarkSource.KEYBOARD and 0.0 <= sig.t_s <= 3.5
    assert (rat.value, rat.source) == (2.5, MarkSource.KEYBOARD) and rat.t_s >= sig.t_s
    assert pro == ProtocolEvent(pro.t_s, ProtocolKind.PROFILE, started.data)
    assert pro.t_s >= rat.t_s


def test_record_starts_a_ppt_round_at_t0(db_path, capsys):
    code = main(["record", "--port", "sim://?scenario=demo&speed=0", "--duration", "2",
                 "--ppt-round", "post", "--db", str(db_path)])  # fmt: skip
    assert code == 0
    sid = capsys.readouterr().out.strip().splitlines()[-1]
    with SessionStore(db_path) as store:
        assert store.load_protocols(sid) == [
            ProtocolEvent(0.0, ProtocolKind.ROUND, {"label": "post"})
        ]


def test_record_refuses_an_unknown_round(db_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["record", "--port", "sim://?scenario=demo&speed=0", "--ppt-round", "mid",
              "--db", str(db_path)])  # fmt: skip
    assert exit_.value.code == 2
    assert "--ppt-round" in capsys.readouterr().err


def _stop_after_a_signal(device, db_path, signal_us: int, late) -> tuple[Signal, np.ndarray]:
    """A recording of 1 s of samples, then a CLIENT_BUTTON at device time ``signal_us``; Stop
    pressed at once while ``late(stopped)`` sends more on a thread of its own (``stopped``
    is set once Stop has returned). The stored signal and sample times."""
    import threading

    stopped = threading.Event()
    live = LiveSession(device.path, Config(), db_path=db_path)
    live.arm_recording()
    live.start()
    sender = threading.Thread(target=late, args=(stopped,))
    try:
        assert live.wait_ready(10) and device.streaming.wait(10)
        device.stream(FRAMES[:50])  # 1.0 s
        assert wait_until(lambda: live.t_s >= 0.97, 10.0)
        device.send(Event(EventKind.CLIENT_BUTTON, signal_us))  # ahead of the samples
        assert wait_until(lambda: len(live.signals) == 1, 10.0)
        sender.start()
        sid = live.stop_recording()
    finally:
        stopped.set()
        if sender.is_alive():
            sender.join()
        live.stop()
    assert sid is not None
    with SessionStore(db_path) as store:
        (signal,) = store.load_signals(sid)
        t_s, _ = store.load_samples(sid)
    return signal, t_s


@pytest.mark.parametrize("gap_s", [0.0, 0.2, None], ids=["at-once", "trickle", "silent"])
def test_stop_just_after_a_signal_waits_for_the_samples_up_to_it(device, db_path, gap_s):
    """The client's EVENT frame can come a frame before the samples around it: a Stop
    pressed at once still keeps the force at the signal (else its PPT trial is lost), however
    slowly they come (a frame each ``gap_s``: 0.6 s in all, more than any one wait), and a
    device gone silent (``None``) ends the wait: the session keeps what came."""

    def trickle(_stopped) -> None:
        if gap_s is None:
            return
        if not gap_s:  # at once: all of them 0.15 s after the signal
            time.sleep(0.15)
        for frame in FRAMES[50:53]:  # to 1.06 s
            time.sleep(gap_s)
            device.stream([frame])

    signal, t_s = _stop_after_a_signal(device, db_path, T0_US + 1_050_000, trickle)
    assert signal.t_s == pytest.approx(1.05)
    if gap_s is None:
        assert t_s[-1] == pytest.approx(0.999)  # all that came before the device fell silent
    else:
        assert t_s[-1] >= signal.t_s  # the samples reaching the signal were kept


def test_stop_does_not_wait_long_for_an_event_stamped_far_ahead(device, db_path):
    """A client's event stamped seconds ahead of its samples (a device clock that jumped)
    while samples keep coming: Stop waits CATCH_UP_MAX_S in all, not until the samples get
    there (the window would hang meanwhile)."""

    def stream_on(stopped) -> None:  # in real time, until Stop has returned
        for frame in FRAMES[50:]:
            if stopped.is_set():
                return
            device.stream([frame], real_time=True)

    signal, t_s = _stop_after_a_signal(device, db_path, T0_US + 9_000_000, stream_on)  # 8 s ahead
    assert signal.t_s == pytest.approx(9.0)
    assert t_s[-1] < 9.0 - 4.0  # Stop gave up long before the samples reached the signal
