"""Benchmark: erase one client from a library (`forget`) and time the compaction.

Builds a library with ``--clients`` clients, each with ``--sessions`` sessions of
``--minutes`` minutes at ``--rate-hz``, then erases one client with
``SessionStore.forget_client`` (delete, secure_delete, VACUUM, WAL truncate) and prints
the file size before and after and how long the erasure took. VACUUM rewrites the whole
file, so the time grows with the library, not with the client.

    .venv/bin/python benchmarks/forget.py [--clients 10] [--sessions 4] [--minutes 15]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from calibration.models import CalibrationInfo
from logger.records import DeviceInfo, SessionMeta, SessionStatus
from logger.store import SessionStore


def build(store: SessionStore, client: str, day: int, minutes: float, rate_hz: float) -> None:
    meta = SessionMeta(
        started_at=f"2026-11-{day:02d}T09:00:00+00:00",
        device=DeviceInfo("BENCH-1", "bench", "1.0", rate_hz, 1),
        calibration=CalibrationInfo(4000.0, 120000.0, "factory"),
        config={},
        client=client,
        therapist="Bench Therapist",
        notes=f"notes about {client}",
    )
    sid = store.create_session(meta)
    n_total = int(minutes * 60 * rate_hz)
    rng = np.random.default_rng(day)
    chunk = 16384
    for first in range(0, n_total, chunk):
        n = min(chunk, n_total - first)
        t = (first + np.arange(n)) / rate_hz
        force = np.where((t % 90.0) < 40.0, 30.0, 0.0) + rng.normal(0, 0.1, n)
        store.append_samples(sid, first, t, (120000 + 4000 * force).astype(np.int32)[:, None])
    store.finish_session(sid, SessionStatus.COMPLETE)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--sessions", type=int, default=4, help="sessions per client")
    ap.add_argument("--minutes", type=float, default=15.0, help="length of each session")
    ap.add_argument("--rate-hz", type=float, default=1000.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "sessions.sqlite3"
        with SessionStore(db) as store:
            for c in range(args.clients):
                for s in range(args.sessions):
                    build(store, f"C-{c + 1:04d}", 1 + s, args.minutes, args.rate_hz)
            before = db.stat().st_size
            t0 = time.perf_counter()
            result = store.forget_client("C-0001")
            took_s = time.perf_counter() - t0
        hours = args.clients * args.sessions * args.minutes / 60
        print(
            f"library: {args.clients} clients x {args.sessions} sessions x {args.minutes:g} min "
            f"at {args.rate_hz:g} Hz = {hours:g} h of samples, {before / 1e6:.1f} MB"
        )
        print(
            f"forget C-0001: {len(result.sessions)} sessions erased in {took_s:.2f} s; "
            f"file {result.file_bytes / 1e6:.1f} MB after VACUUM; WAL clean: {result.wal_clean}"
        )
        residue = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
        print(f"occurrences of 'C-0001' left in the library files: {residue.count(b'C-0001')}")


if __name__ == "__main__":
    main()
