"""Benchmark: the school library on a local PostgreSQL, with SQLite as the baseline.

Starts a throw-away PostgreSQL (tests/pg_server.py: Debian's postgresql package), then:

1. builds an 8-hour 1 kHz session in a station library and syncs it (``sync_library``:
   COPY of the chunks and summary, read-back verification), then syncs again (nothing to
   copy);
2. times the review overview of that session from the server and from the station file
   (goal < 200 ms);
3. fills both back ends with 10,000 sessions and times ``list_sessions`` unfiltered and
   filtered, as the server's superuser and as a trainer (row security on) (goal < 300 ms).

    .venv/bin/python benchmarks/pg_sync.py [--hours 8] [--sessions 10000] [--repeat 10]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fill_library(sqlite_path: Path, url: str, count: int) -> None:
    """``count`` finished sessions (3 points, 4 holds each; every third a PPT pre and
    post round around a built-in drill) written straight into both back ends' tables:
    listing is measured here, not syncing."""
    import psycopg

    from calibration.models import CalibrationInfo
    from logger.drills import load_drill
    from logger.records import DeviceInfo, SessionStats
    from logger.store import SessionStore

    SessionStore(sqlite_path).close()  # the schema
    device = json.dumps(dataclasses.asdict(DeviceInfo("BENCH-L", "bench", "1.0", 1000.0, 1)))
    cal = json.dumps(dataclasses.asdict(CalibrationInfo(4000.0, 120000.0, "factory")))
    stats = json.dumps(dataclasses.asdict(SessionStats(600000, 600.0, 1000.0)))
    names = [f"Point {k}" for k in range(10)]
    drill = json.dumps(load_drill("basic").to_dict())
    clinical = (("round", '{"label": "pre"}'), ("drill", drill), ("drill", "{}"),
                ("round", '{"label": "post"}'), ("round", '{"label": ""}'))  # fmt: skip
    sessions, points, holds, protocols = [], [], [], []
    for i in range(count):
        unix = 1767225600 + i * 1800  # 2026-01-01, one every 30 minutes
        started = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(unix))
        sid = time.strftime("%Y%m%d-%H%M%S", time.gmtime(unix)) + f"-{i % 65536:04x}"
        sessions.append(
            (
                i + 1,
                sid,
                started,
                float(unix),
                "complete",
                f"C-{i % 500:04d}",
                f"trainee{i % 40}",
                None,
                device,
                cal,
                "{}",
                stats,
                600000,
                599.999,
            )
        )
        for k in range(3):
            name = names[(i + k) % 10]
            points.append((i + 1, k, name, json.dumps({"index": k, "name": name})))
        for k in range(4):
            holds.append((i + 1, k, k % 3, names[(i + k % 3) % 10], 10.0 * k, 10.0 * k + 5, "{}"))
        if i % 3 == 0:
            protocols += [(i + 1, k, 60.0 * k, *row) for k, row in enumerate(clinical)]
    cols = (
        "pk, id, started_at, started_unix, status, client, therapist, notes, device, "
        "calibration, config, stats, samples, last_t_s"
    )
    with sqlite3.connect(sqlite_path) as conn:
        conn.executemany(f"INSERT INTO sessions ({cols}) VALUES ({','.join('?' * 14)})", sessions)
        conn.executemany("INSERT INTO points VALUES (?,?,?,?)", points)
        conn.executemany(
            "INSERT INTO holds (session_pk, idx, point_index, point, start_s, end_s, data) "
            "VALUES (?,?,?,?,?,?,?)",
            holds,
        )
        conn.executemany(
            "INSERT INTO protocols (session_pk, t_s, kind, data) VALUES (?,?,?,?)",
            [(pk, t, kind, data) for pk, _, t, kind, data in protocols],
        )
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SET search_path TO pressure_logger")
        with cur.copy(
            f"COPY sessions ({cols.replace('pk, ', '')}, station, checksum) FROM STDIN"
        ) as copy:
            for row in sessions:
                copy.write_row((*row[1:], "bench", "-"))
        pks = dict(cur.execute("SELECT id, pk FROM sessions").fetchall())
        by_local = {row[0]: pks[row[1]] for row in sessions}
        with cur.copy("COPY points (session_pk, idx, name, data) FROM STDIN") as copy:
            for row in points:
                copy.write_row((by_local[row[0]], *row[1:]))
        with cur.copy(
            "COPY holds (session_pk, idx, point_index, point, start_s, end_s, data) FROM STDIN"
        ) as copy:
            for row in holds:
                copy.write_row((by_local[row[0]], *row[1:]))
        with cur.copy("COPY protocols (session_pk, seq, t_s, kind, data) FROM STDIN") as copy:
            for row in protocols:
                copy.write_row((by_local[row[0]], *row[1:]))
        cur.execute("ANALYZE")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--rate-hz", type=float, default=1000.0)
    ap.add_argument("--sessions", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))  # tests.pg_server; benchmarks/overview.py's builder
    from overview import build, timed

    from logger.store import SessionStore
    from logger.store.postgres import PostgresLibrary
    from logger.store.sync import sync_library
    from tests.pg_server import PgServer

    with tempfile.TemporaryDirectory() as tmp, PgServer() as server:
        station = Path(tmp) / "station.sqlite3"
        with SessionStore(station) as store:
            t0 = time.perf_counter()
            sid = build(store, args.hours, args.rate_hz, 16384)
            n = int(args.hours * 3600 * args.rate_hz)
            print(
                f"station: {args.hours:g} h at {args.rate_hz:g} Hz = {n} samples built in "
                f"{time.perf_counter() - t0:.1f} s, {station.stat().st_size / 1e6:.0f} MB"
            )
        url = server.create_database("school")
        from logger.store.pg_connect import connect
        from logger.store.pg_schema import init_schema

        with connect(url) as conn:
            init_schema(conn)
        report, sync_s = timed(lambda: sync_library(station, url), 1)[::-1]
        assert report.copied == [sid], report  # type: ignore[union-attr]
        print(
            f"sync of that session: {sync_s:.1f} s ({n / sync_s / 1e6:.2f} M samples/s, "
            "COPY + server-side MD5 verification, one transaction)"
        )
        again, again_s = timed(lambda: sync_library(station, url), 1)[::-1]
        print(
            f"second sync (nothing to copy: {len(again.unchanged)} unchanged): "  # type: ignore[union-attr]
            f"{again_s * 1e3:.0f} ms"
        )
        import psycopg

        with psycopg.connect(url) as conn:
            size = conn.execute(
                "SELECT pg_total_relation_size('pressure_logger.chunks') + "
                "pg_total_relation_size('pressure_logger.summary')"
            ).fetchone()
        print(f"server size of its samples and summary: {size[0] / 1e6:.0f} MB")  # type: ignore[index]

        trainer = "postgresql://tina:pw@" + url.split("@", 1)[1]
        with psycopg.connect(server.url(), autocommit=True) as conn:
            conn.execute("CREATE ROLE tina LOGIN PASSWORD 'pw' IN ROLE pl_trainer")
        mid = args.hours * 1800
        for name, db in (("SQLite", station), ("PostgreSQL", url), ("PostgreSQL trainer", trainer)):
            with SessionStore(db) if isinstance(db, Path) else PostgresLibrary(db) as lib:
                first_s, _ = timed(lambda lib=lib: lib.load_overview(sid, None, None, 2000), 1)
                med_s, (t, _, _) = timed(
                    lambda lib=lib: lib.load_overview(sid, None, None, 2000), args.repeat
                )
                zoom_s, _ = timed(
                    lambda lib=lib: lib.load_overview(sid, mid, mid + 600, 2000), args.repeat
                )
                raw_s, (ts, _) = timed(
                    lambda lib=lib: lib.load_forces(sid, mid, mid + 60), args.repeat
                )
            print(
                f"{name}: overview of the whole session ({t.size} buckets) first "
                f"{first_s * 1e3:.1f} ms, median {med_s * 1e3:.1f} ms (goal < 200 ms); "
                f"10 min window {zoom_s * 1e3:.1f} ms; load_forces 60 s ({ts.size} samples) "
                f"{raw_s * 1e3:.1f} ms"
            )

        listing = Path(tmp) / "listing.sqlite3"
        school = server.create_database("listing")
        with connect(school) as conn:
            init_schema(conn)
        t0 = time.perf_counter()
        fill_library(listing, school, args.sessions)
        print(f"library of {args.sessions} sessions written in {time.perf_counter() - t0:.1f} s")
        trainer = "postgresql://tina:pw@" + school.split("@", 1)[1]
        queries = {
            "all": {},
            "therapist": {"therapist": "trainee7"},
            "client": {"client": "C-0042"},
            "point": {"point": "Point 3"},
            "a month": {"since": "2026-03-01", "until": "2026-03-31"},
            "drill": {"protocol": "drill"},
        }
        for name, db in (
            ("SQLite", listing),
            ("PostgreSQL", school),
            ("PostgreSQL trainer", trainer),
        ):
            with SessionStore(db) if isinstance(db, Path) else PostgresLibrary(db) as lib:
                cells = []
                for label, filters in queries.items():
                    med_s, rows = timed(
                        lambda lib=lib, f=filters: lib.list_sessions(**f), args.repeat
                    )
                    cells.append(f"{label} {len(rows)} rows {med_s * 1e3:.0f} ms")  # type: ignore[arg-type]
            print(f"{name} list_sessions (goal < 300 ms): " + "; ".join(cells))


if __name__ == "__main__":
    main()
