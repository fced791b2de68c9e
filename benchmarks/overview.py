"""Benchmark: build a long session in the store and time its overview (min/max summary).

Prints the build rate, the file size and load_overview / load_forces times for the whole
session and for zoomed windows. Target (issue 3): an 8-hour 1 kHz session's overview loads
in well under 200 ms.

    .venv/bin/python benchmarks/overview.py [--hours 8] [--rate-hz 1000] [--max-points 2000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from calibration.models import CalibrationInfo
from logger.export.tabular import export_csv
from logger.records import DeviceInfo, SessionMeta, SessionStatus
from logger.store import SessionStore, SessionWriter


def build(store: SessionStore, hours: float, rate_hz: float, chunk: int) -> str:
    meta = SessionMeta(
        started_at="2026-11-27T08:00:00+00:00",
        device=DeviceInfo("BENCH-1", "bench", "1.0", rate_hz, 1),
        calibration=CalibrationInfo(4000.0, 120000.0, "factory"),
        config={},
    )
    sid = store.create_session(meta)
    n_total = int(hours * 3600 * rate_hz)
    rng = np.random.default_rng(1)
    for first in range(0, n_total, chunk):
        n = min(chunk, n_total - first)
        t = (first + np.arange(n)) / rate_hz
        # holds of 30 N for 40 s every 90 s, plus noise
        force = np.where((t % 90.0) < 40.0, 30.0, 0.0) + rng.normal(0, 0.1, n)
        raw = (120000 + 4000 * force).astype(np.int32).reshape(-1, 1)
        store.append_samples(sid, first, t, raw)
    store.finish_session(sid, SessionStatus.COMPLETE)
    return sid


def writer_throughput(store: SessionStore, seconds: float, rate_hz: float, block: int) -> None:
    """Feed a SessionWriter as the reader thread does (small blocks) and time it to close."""
    meta = SessionMeta(
        started_at="2026-11-27T17:00:00+00:00",
        device=DeviceInfo("BENCH-2", "bench", "1.0", rate_hz, 1),
        calibration=CalibrationInfo(4000.0, 120000.0, "factory"),
        config={},
    )
    sid = store.create_session(meta)
    n_total = int(seconds * rate_hz)
    t_all = np.arange(n_total) / rate_hz
    raw_all = (120000 + 4000 * 30.0 * np.sin(t_all)).astype(np.int32).reshape(-1, 1)
    writer = SessionWriter(store, sid)
    t0 = time.perf_counter()
    put_s = 0.0
    for first in range(0, n_total, block):
        p0 = time.perf_counter()
        writer.put_samples(first, t_all[first : first + block], raw_all[first : first + block])
        put_s = max(put_s, time.perf_counter() - p0)
    writer.close(SessionStatus.COMPLETE)
    wall_s = time.perf_counter() - t0
    print(
        f"SessionWriter: {seconds / 3600:g} h at {rate_hz:g} Hz in {block}-sample blocks stored "
        f"in {wall_s:.1f} s = {seconds / wall_s:.0f}x real time; slowest put {put_s * 1e6:.0f} us"
    )
    out = store.db_path.parent / f"{sid}.csv"
    t0 = time.perf_counter()
    export_csv(store, sid, out)
    csv_s = time.perf_counter() - t0
    print(
        f"export_csv of that session: {n_total} rows in {csv_s:.1f} s "
        f"({n_total / csv_s / 1e6:.2f} M rows/s, {out.stat().st_size / 1e6:.0f} MB)"
    )
    out.unlink()


def timed(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--rate-hz", type=float, default=1000.0)
    ap.add_argument("--chunk", type=int, default=16384, help="samples per stored chunk")
    ap.add_argument("--max-points", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--writer-hours", type=float, default=1.0, help="0 skips the writer run")
    ap.add_argument(
        "--db",
        type=lambda text: Path(text).expanduser(),
        help="keep the library here (default: temp dir)",
    )
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "bench.sqlite3"
        store = SessionStore(db)
        t0 = time.perf_counter()
        sid = build(store, args.hours, args.rate_hz, args.chunk)
        build_s = time.perf_counter() - t0
        n = int(args.hours * 3600 * args.rate_hz)
        size_mb = sum(p.stat().st_size for p in db.parent.glob(db.name + "*")) / 1e6
        print(
            f"built {args.hours:g} h at {args.rate_hz:g} Hz: {n} samples in {build_s:.1f} s "
            f"({n / build_s / 1e6:.2f} M samples/s), library {size_mb:.0f} MB"
        )
        store.close()

        store = SessionStore(db)  # a fresh process-like open (cold caches inside SQLite)
        first_s, _ = timed(lambda: store.load_overview(sid, None, None, args.max_points), 1)
        med_s, (t, lo, _) = timed(
            lambda: store.load_overview(sid, None, None, args.max_points), args.repeat
        )
        print(
            f"overview whole session ({t.size} buckets, max_points={args.max_points}): "
            f"first {first_s * 1e3:.1f} ms, median {med_s * 1e3:.1f} ms  (target < 200 ms)"
        )
        mid = args.hours * 1800
        for span_s in (600.0, 10.0, 1.0):
            med_s, (t, _, _) = timed(
                lambda s=span_s: store.load_overview(sid, mid, mid + s, args.max_points),
                args.repeat,
            )
            print(f"overview {span_s:g} s window ({t.size} points): median {med_s * 1e3:.2f} ms")
        med_s, (t, _) = timed(lambda: store.load_forces(sid, mid, mid + 60.0), args.repeat)
        print(f"load_forces 60 s window ({t.size} samples): median {med_s * 1e3:.2f} ms")
        if args.writer_hours > 0:
            writer_throughput(store, args.writer_hours * 3600, args.rate_hz, 20)
        store.close()


if __name__ == "__main__":
    main()
