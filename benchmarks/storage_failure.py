"""How fast `record` stops when the disk fills, and what it keeps.

Runs ``pressure-logger -v record`` in real time (1 kHz) on a 1 MiB tmpfs (needs root with
CAP_SYS_ADMIN; otherwise SQLite's page limit stands in for the full disk), notes when the
writer reports the failure (its INFO line) and when the process exits, and prints the
gap between the two with the samples the session keeps and the ones it could not save.

    python benchmarks/storage_failure.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

SCENARIO = (
    '[device]\nrate_hz = 1000\n\n[[steps]]\naction = "hold"\nforce_n = 20.0\nseconds = 120.0\n'  # noqa: E501
)
CAPPED = textwrap.dedent("""
    import sys, logger.store as s
    connect = s.SessionStore._connect
    def capped(path, read_only):
        conn = connect(path, read_only)
        conn.execute("PRAGMA max_page_count = 60")
        return conn
    s.SessionStore._connect = staticmethod(capped)
    from logger.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def one_run(tmp: Path) -> dict:
    disk = tmp / "disk"
    disk.mkdir()
    mounted = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True
        ).returncode
        == 0
    )
    scenario = tmp / "hold.toml"
    scenario.write_text(SCENARIO)
    db = disk / "sessions.sqlite3"
    prefix = [sys.executable, "-m", "logger.cli"] if mounted else [sys.executable, "-c", CAPPED]
    try:
        proc = subprocess.Popen(
            [*prefix, "-v", "record", "--port", f"sim://bench?scenario={scenario}&speed=1",
             "--db", str(db), "--duration", "100"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        failed_at = None
        error_line = ""
        assert proc.stderr is not None
        for line in proc.stderr:
            if "storage failed" in line and failed_at is None:
                failed_at = time.monotonic()
            if line.startswith("pressure-logger record: error:"):
                error_line = line.strip()
        proc.wait()
        exited_at = time.monotonic()
        sid = proc.stdout.read().strip() if proc.stdout else ""
        rows = json.loads(
            subprocess.run(
                [sys.executable, "-m", "logger.cli", "sessions", "--json", "--db", str(db)],
                capture_output=True, text=True, check=True,
            ).stdout
        )  # fmt: skip
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(disk)], check=False)
    row = next((r for r in rows if r["id"] == sid), None)
    return {
        "mounted": mounted,
        "exit_code": proc.returncode,
        "stop_s": None if failed_at is None else exited_at - failed_at,
        "kept": row["samples"] if row else None,
        "unsaved": row["unsaved_samples"] if row else None,
        "status": row["status"] if row else None,
        "line": error_line,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    results = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="storage-failure-bench-") as tmp:
            results.append(one_run(Path(tmp)))
    how = "1 MiB tmpfs" if results[0]["mounted"] else "SQLite page limit (no mount rights)"
    print(f"full disk: {how}; record at 1 kHz, real time; {args.runs} runs")
    for r in results:
        stop = "n/a" if r["stop_s"] is None else f"{r['stop_s'] * 1000:.0f} ms"
        print(
            f"  exit {r['exit_code']}, failure -> exit {stop}, status {r['status']}, "
            f"kept {r['kept']} samples, unsaved {r['unsaved']}"
        )
    stops = [r["stop_s"] for r in results if r["stop_s"] is not None]
    if stops:
        print(f"failure -> exit, median {statistics.median(stops) * 1000:.0f} ms "
              f"(max {max(stops) * 1000:.0f} ms; target < 1000 ms)")  # fmt: skip
    print(f"error line: {results[-1]['line']}")
    return 0 if stops and max(stops) < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
