"""How fast ``pressure-logger record`` takes samples from a real pty, SQLite included.

    .venv/bin/python benchmarks/record_pty.py [--seconds 60] [--rate 4000]

A device on the far end of a pty (frames built by the codec: by default 255 samples each,
the longest legal SAMPLES frame; ``--per-frame 20`` is what the firmware sends at 1 kHz)
answers the handshake and then writes its whole stream as fast as the
pty takes it. Three readers of the same bytes, in the same run:

1. bare: ``os.read`` of the pty and nothing else (the ceiling the pty itself sets);
2. decode + timeline: the codec and the sample timeline, no storage (``Acquisition``);
3. record: ``pressure-logger record --duration`` in this process, SQLite included
   (it returns once the writer has committed every sample).

Figures are samples per second of wall time from the first START to the end, and each
reader's ratio to the bare read. For scale: a USB full-speed device streaming flat out
sends about 253 k samples/s (24-bit values in 64-byte packets).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import contextlib

from firmware_protocol.framing import FrameDecoder, encode_frame  # noqa: E402
from firmware_protocol.messages import (  # noqa: E402
    Ack,
    AdcKind,
    Hello,
    Identity,
    Ping,
    Pong,
    SampleFlag,
    Samples,
    Start,
    Stop,
)

PER_FRAME = 255


def stream_bytes(n_samples: int, rate_hz: int, per_frame: int = PER_FRAME) -> bytes:
    period_us = round(1e6 / rate_hz)
    rng = np.random.default_rng(1)
    raw = (120000 + rng.integers(-50, 50, n_samples)).astype(np.int32)
    out = bytearray()
    for k in range(0, n_samples, per_frame):
        chunk = raw[k : k + per_frame].reshape(-1, 1)
        msg = Samples(k, (1_000_000 + k * period_us) % 2**32, period_us, SampleFlag.NONE, chunk)
        out += encode_frame(msg, (k // per_frame) & 0xFF)
    return bytes(out)


class Device:
    """Answers HELLO/START/PING/STOP; after START writes ``data`` as fast as it can."""

    def __init__(self, data: bytes, rate_hz: int) -> None:
        self.master, self.slave = os.openpty()
        self.path = os.ttyname(self.slave)
        self.data = data
        self.identity = Identity(1, 0, (1, 0, 0), "BENCH-PTY", AdcKind.SIMULATED, 24, 1,
                                 rate_hz, 10, 4000, 4000.0, 120000, 1024)  # fmt: skip
        self.started_s: float | None = None
        self.done = threading.Event()
        self._seq = 0
        self._write_lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _send(self, msg) -> None:
        self._seq = (self._seq + 1) & 0xFF
        self._write(encode_frame(msg, self._seq))

    def _write(self, data: bytes) -> None:
        with self._write_lock:
            view = memoryview(data)
            while view:
                view = view[os.write(self.master, view) :]

    def _serve(self) -> None:
        dec = FrameDecoder()
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            for frame in dec.feed(data):
                msg = frame.msg
                if isinstance(msg, Hello):
                    self._send(self.identity)
                elif isinstance(msg, Start) and self.started_s is None:
                    self._send(Ack(frame.seq, 0x02))
                    self.started_s = time.perf_counter()
                    threading.Thread(target=self._pour, daemon=True).start()
                elif isinstance(msg, Ping):
                    self._send(Pong(msg.token, 1_000_000))
                elif isinstance(msg, Stop):
                    self._send(Ack(frame.seq, 0x03))

    def _pour(self) -> None:
        """Whole frames at a time (about 64 KiB each write), so that an answer to a PING
        lands between two frames and never inside one."""
        start = 0
        while start < len(self.data):
            end = self.data.find(b"\x00", min(start + (1 << 16), len(self.data) - 1)) + 1
            self._write(self.data[start:end])
            start = end
        self.done.set()

    def close(self) -> None:
        for fd in (self.slave, self.master):
            with contextlib.suppress(OSError):
                os.close(fd)


def bare(data: bytes) -> float:
    """Seconds to move ``data`` through a pty with plain reads."""
    master, slave = os.openpty()
    import tty

    tty.setraw(slave)
    got = 0
    t0 = time.perf_counter()

    def pour() -> None:
        for k in range(0, len(data), 1 << 16):
            view = memoryview(data[k : k + (1 << 16)])
            while view:
                view = view[os.write(master, view) :]

    threading.Thread(target=pour, daemon=True).start()
    while got < len(data):
        got += len(os.read(slave, 1 << 16))
    dt = time.perf_counter() - t0
    os.close(master)
    os.close(slave)
    return dt


def acquisition_only(data: bytes, n: int, rate_hz: int) -> float:
    from logger.link.acquisition import Acquisition, AcquisitionListener

    class Count(AcquisitionListener):
        samples = 0

        def samples_received(self, block) -> None:
            self.samples += len(block.t_s)

    dev = Device(data, rate_hz)
    heard = Count()
    acq = Acquisition(dev.path, heard)
    acq.start()
    try:
        while heard.samples < n:
            time.sleep(0.001)
        return time.perf_counter() - (dev.started_s or 0.0)
    finally:
        acq.stop()
        dev.close()


def record(data: bytes, n: int, rate_hz: int) -> tuple[float, int]:
    import contextlib
    import io

    from logger.cli import main
    from logger.store import SessionStore

    dev = Device(data, rate_hz)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.sqlite3"
        out = io.StringIO()
        duration = (n - 255) / rate_hz
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = main(["record", "--port", dev.path, "--duration", f"{duration}",
                         "--db", str(db)])  # fmt: skip
        dt = time.perf_counter() - (dev.started_s or 0.0)
        dev.close()
        if code != 0:
            raise SystemExit(f"record failed with exit code {code}")
        with SessionStore(db) as store:
            stored = store.load_session(out.getvalue().split()[-1]).stats.samples
    return dt, stored


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="device time streamed")
    ap.add_argument("--rate", type=int, default=4000, help="the device's sample rate")
    ap.add_argument("--per-frame", type=int, default=PER_FRAME,
                    help="samples per SAMPLES frame (the firmware sends 20 ms worth)")  # fmt: skip
    args = ap.parse_args()
    n = int(args.seconds * args.rate)
    data = stream_bytes(n, args.rate, args.per_frame)
    print(f"{n:,} samples ({len(data) / 1e6:.1f} MB of frames, {args.per_frame} per frame, "
          f"{args.rate} Hz nominal)")  # fmt: skip
    t_bare = bare(data)
    t_acq = acquisition_only(data, n, args.rate)
    t_rec, stored = record(data, n, args.rate)
    for name, dt, count in (
        ("bare pty read", t_bare, n),
        ("decode + timeline", t_acq, n),
        ("record (SQLite)", t_rec, stored),
    ):
        rate = count / dt
        print(f"{name:<20} {rate / 1e3:8.0f} k samples/s  {rate / (n / t_bare):6.2f}× bare"
              f"  ({count:,} samples in {dt:.2f} s)")  # fmt: skip
    print("a USB full-speed device flat out: ~253 k samples/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
