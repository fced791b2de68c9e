"""Decoder throughput: in memory, and end to end through a real pty against a DIY reader.

    .venv/bin/python benchmarks/decode.py [--samples N] [--diy-lines N]

1. In memory: a 1 kHz-style stream (SAMPLES frames of 20 int24 samples, as the device
   sends every 20 ms) fed to FrameDecoder in 4 KiB and 64 KiB chunks: samples/s.
2. Through a pty (os.openpty, a writer thread pushing bytes as fast as the pty takes them):
   our reader (pyserial bulk reads + FrameDecoder) against what most DIY scripts do
   (``serial.Serial.readline()`` + ``float()`` on ASCII lines), both in this run, and the
   ratio between them.

Targets (issue 2): >= 2,000,000 samples/s in memory; >= 100x the DIY reader through a pty.
Generates frames with encode_frame only (no simulator).
"""

from __future__ import annotations

import argparse
import os
import threading
import time
import tty

import numpy as np
import serial

from firmware_protocol.framing import FrameDecoder, encode_frame
from firmware_protocol.messages import SampleFlag, Samples

SAMPLES_PER_FRAME = 20  # 1000 samples/s, one frame per 20 ms


def make_stream(n_samples: int, per_frame: int = SAMPLES_PER_FRAME) -> bytes:
    """A realistic stream: a slow force ramp plus noise, as consecutive SAMPLES frames."""
    rng = np.random.default_rng(1)
    n_frames = n_samples // per_frame
    raw = (120_000 + 4000 * 20 * np.sin(np.arange(n_frames * per_frame) / 3000)).astype(np.int32)
    raw += rng.integers(-400, 400, raw.size, dtype=np.int32)
    raw = raw.reshape(n_frames, per_frame, 1)
    period_us = 1000
    return b"".join(
        encode_frame(
            Samples(
                i * per_frame,
                (i * per_frame * period_us) & 0xFFFFFFFF,
                period_us,
                SampleFlag.NONE,
                raw[i],
            ),
            i & 0xFF,
        )  # fmt: skip
        for i in range(n_frames)
    )


def bench_memory(stream: bytes, n_samples: int, chunk: int, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        dec = FrameDecoder()
        got = 0
        t0 = time.perf_counter()
        for i in range(0, len(stream), chunk):
            for frame in dec.feed(stream[i : i + chunk]):
                got += frame.msg.count
        best = min(best, time.perf_counter() - t0)
        assert got == n_samples and dec.stats.damaged_frames == 0, (got, dec.stats)
    return n_samples / best


def _pty_pair() -> tuple[int, str]:
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    os.close(slave)
    return master, path


def _writer(master: int, data: bytes, started: threading.Event) -> None:
    started.wait()
    view = memoryview(data)
    while view:
        n = os.write(master, view[:65536])
        view = view[n:]


def bench_pty_binary(stream: bytes, n_samples: int) -> float:
    master, path = _pty_pair()
    ser = serial.Serial(path, 115200, timeout=1.0)
    started = threading.Event()
    w = threading.Thread(target=_writer, args=(master, stream, started), daemon=True)
    w.start()
    dec = FrameDecoder()
    got = 0
    t0 = time.perf_counter()
    started.set()
    while got < n_samples:
        data = ser.read(max(1, ser.in_waiting))
        if not data:
            raise RuntimeError(f"pty stalled after {got} samples")
        for frame in dec.feed(data):
            got += frame.msg.count
    dt = time.perf_counter() - t0
    w.join()
    ser.close()
    os.close(master)
    assert dec.stats.damaged_frames == 0, dec.stats
    return n_samples / dt


def bench_pty_diy(n_lines: int) -> float:
    rng = np.random.default_rng(2)
    values = 120_000 + rng.integers(-400, 400, n_lines)
    text = "".join(f"{v}\r\n" for v in values).encode()
    master, path = _pty_pair()
    ser = serial.Serial(path, 115200, timeout=1.0)
    started = threading.Event()
    w = threading.Thread(target=_writer, args=(master, text, started), daemon=True)
    w.start()
    got = []
    t0 = time.perf_counter()
    started.set()
    for _ in range(n_lines):  # what the typical DIY logger does, line by line
        line = ser.readline()
        got.append(float(line))
    dt = time.perf_counter() - t0
    w.join()
    ser.close()
    os.close(master)
    assert got[-1] == float(values[-1])
    return n_lines / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=2_000_000, help="samples per binary run")
    ap.add_argument("--diy-lines", type=int, default=20_000, help="lines for the DIY reader")
    args = ap.parse_args()

    stream = make_stream(args.samples)
    n = (args.samples // SAMPLES_PER_FRAME) * SAMPLES_PER_FRAME
    print(f"stream: {n:,} samples in {n // SAMPLES_PER_FRAME:,} frames of "
          f"{SAMPLES_PER_FRAME} samples, {len(stream):,} bytes "
          f"({len(stream) / n:.2f} bytes/sample on the wire)")  # fmt: skip
    for chunk in (4096, 65536):
        rate = bench_memory(stream, n, chunk)
        print(f"in memory, {chunk:>6}-byte reads : {rate:>14,.0f} samples/s  (target 2,000,000)")

    binary = bench_pty_binary(stream, n)
    diy = bench_pty_diy(args.diy_lines)
    print(f"pty, FrameDecoder + bulk reads : {binary:>14,.0f} samples/s")
    print(f"pty, DIY readline() + float()  : {diy:>14,.0f} samples/s")
    print(f"ratio                          : {binary / diy:>14,.0f} x  (target 100 x)")
    print(f"(1 kHz device = 1,000 samples/s: ours has {binary / 1000:,.0f}x headroom)")


if __name__ == "__main__":
    main()
