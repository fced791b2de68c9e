"""A device the simulator does not script: the far end of a real pty, speaking the real
protocol through the codec, with a stream the test writes frame by frame (and may make as
hostile as it likes)."""

from __future__ import annotations

import contextlib
import functools
import os
import select
import threading
import time
from collections.abc import Callable

import numpy as np

from firmware_protocol.framing import Frame, FrameDecoder, encode_frame
from firmware_protocol.messages import (
    Ack,
    AdcKind,
    Hello,
    Identity,
    Message,
    Ping,
    Pong,
    SampleFlag,
    Samples,
    Start,
    Stop,
)

RATE_HZ = 1000
BATCH = 20
COUNTS_PER_N = 4000.0
OFFSET_COUNTS = 120000
POLL_S = 0.05  # the longest a wait on the pty goes without looking at close()


def identity(rate_hz: int = RATE_HZ, channels: int = 1, uid: str = "PTY-DEV-1") -> Identity:
    return Identity(1, 0, (1, 2, 3), uid, AdcKind.HX711, 24, channels, rate_hz, 10, 4000,
                    COUNTS_PER_N, OFFSET_COUNTS, 1024)  # fmt: skip


def hold_profile_n(n: int, rate_hz: int = RATE_HZ) -> np.ndarray:
    """1 s rest, a 3 s hold at 30 N (0.2 s ramps), rest: forces in newtons, n samples."""
    t = np.arange(n) / rate_hz
    return np.interp(t, [0, 1.0, 1.2, 4.0, 4.2, 1e9], [0, 0, 30, 30, 0, 0])


def sample_frames(force_n: np.ndarray, *, batch: int = BATCH, start_index: int = 1000,
                  t0_us: int = 5_000_000, rate_hz: int = RATE_HZ) -> list[Samples]:  # fmt: skip
    """The frames a calibrated device would send for ``force_n`` (one channel)."""
    period_us = round(1e6 / rate_hz)
    raw = np.round(force_n * COUNTS_PER_N + OFFSET_COUNTS).astype(np.int32)
    out = []
    for k in range(0, len(raw), batch):
        chunk = raw[k : k + batch].reshape(-1, 1)
        out.append(Samples((start_index + k) % 2**32, (t0_us + k * period_us) % 2**32,
                           period_us, SampleFlag.NONE, chunk))  # fmt: skip
    return out


class PtyDevice:
    """Answers HELLO with IDENTITY, START with ACK, PING with PONG (unless told not to) and
    STOP with ACK; streams what the test gives it, when the host has started it."""

    def __init__(self, ident: Identity | None = None, *, pong: bool = True,
                 ignore_starts: int = 0) -> None:  # fmt: skip
        self.identity = ident or identity()
        self.master, self.slave = os.openpty()
        os.set_blocking(self.master, False)  # every wait on it sees close() (see there)
        self.path = os.ttyname(self.slave)
        self.pong = pong
        self.ignore_starts = ignore_starts
        self.starts_seen = 0
        self.streaming = threading.Event()
        self.stopped = threading.Event()
        self._closing = threading.Event()
        self._seq = 0
        self._lock = threading.Lock()  # a frame is numbered and written, or the pty closed
        self.t_us = 5_000_000
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def send(self, msg: Message, wire: Callable[[bytes], bytes] | None = None) -> None:
        """``msg`` as the next frame (``wire`` may damage its bytes)."""
        with self._lock:
            self._seq += 1
            data = encode_frame(msg, self._seq)
            self._write(wire(data) if wire else data)

    def write(self, data: bytes) -> None:
        """Raw bytes on the wire, between frames."""
        with self._lock:
            self._write(data)

    def _write(self, data: bytes) -> None:
        """All of ``data``, as fast as the host drains the pty; nothing once closed (the
        cable is pulled: what the device sends goes nowhere). With the lock held."""
        view = memoryview(data)
        while view and not self._closing.is_set():
            try:
                view = view[os.write(self.master, view) :]
            except BlockingIOError:
                select.select([], [self.master], [], POLL_S)

    def stream(self, frames: list[Samples], *, real_time: bool = False,
               wire: Callable[[int, bytes], bytes] | None = None) -> None:  # fmt: skip
        """Send ``frames`` (``wire(i, bytes)`` may damage frame i's bytes); in real time
        (one frame per its length) or as fast as the pty takes them."""
        for i, msg in enumerate(frames):
            self.send(msg, None if wire is None else functools.partial(wire, i))
            self.t_us = msg.t_us + msg.count * msg.period_us
            if real_time:
                time.sleep(msg.count * msg.period_us / 1e6)

    def _serve(self) -> None:
        dec = FrameDecoder()
        while not self._closing.is_set():
            if not select.select([self.master], [], [], POLL_S)[0]:
                continue
            try:
                data = os.read(self.master, 4096)
            except BlockingIOError:
                continue
            except OSError:  # EIO: the host closed its end
                return
            try:
                self._answer(dec.feed(data))
            except OSError:  # the host went away while answering
                return

    def _answer(self, frames: list[Frame]) -> None:
        for frame in frames:
            msg = frame.msg
            if isinstance(msg, Hello):
                self.send(self.identity)
            elif isinstance(msg, Start):
                self.starts_seen += 1
                if self.starts_seen > self.ignore_starts:
                    self.send(Ack(frame.seq, 0x02))
                    self.streaming.set()
            elif isinstance(msg, Ping) and self.pong:
                self.send(Pong(msg.token, self.t_us % 2**32))
            elif isinstance(msg, Stop):
                self.send(Ack(frame.seq, 0x03))
                self.stopped.set()

    def close(self) -> None:
        """Unplug: the descriptors are closed only once no thread can use them any more.
        A number closed under a thread's feet is soon another file's (the next one the
        process opens), and the frames still being sent would be written into it: into
        a session library, whose reader then finds "file is not a database"."""
        self._closing.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
        with self._lock:
            for fd in (self.slave, self.master):
                with contextlib.suppress(OSError):
                    os.close(fd)
