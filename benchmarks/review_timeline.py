"""How fast the review timeline opens and zooms on a long session (prints figures).

Usage: .venv/bin/python benchmarks/review_timeline.py [--hours 8] [--rate-hz 1000]

Writes a synthetic session of the given length (holds every 60 s) into a temporary
SessionStore, then times: opening it in the timeline (min/max overview), zooming to one
hold (full-resolution samples), scrolling, the overview call alone, and the per-point
statistics + onset-aligned curves the comparison needs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--rate-hz", type=float, default=1000.0)
    args = ap.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])

    from calibration.models import CalibrationInfo
    from gui.review.timeline import TimelinePlot
    from logger.compare import session_data_from_store
    from logger.records import DeviceInfo, Hold, Point, SessionMeta
    from logger.store import MAX_CHUNK_SAMPLES as CHUNK
    from logger.store import SessionStore

    with tempfile.TemporaryDirectory() as tmp:
        store = SessionStore(Path(tmp) / "long.sqlite3")
        meta = SessionMeta(
            started_at="2026-11-27T08:00:00+00:00",
            device=DeviceInfo("BENCH", "1", "1.0", args.rate_hz, 1),
            calibration=CalibrationInfo(4000.0, 120000.0, "factory"),
            config={},
            points=[Point(0, "Upper trapezius L")],
        )
        sid = store.create_session(meta)
        total = int(args.hours * 3600 * args.rate_hz)
        block = int(600 * args.rate_hz)  # 10 minutes per append
        t0 = time.perf_counter()
        holds = []
        for first in range(0, total, block):
            n = min(block, total - first)
            t = (first + np.arange(n)) / args.rate_hz
            phase = t % 60.0
            f = np.where((phase > 10) & (phase < 40), 30.0, 0.0) + 0.1 * np.sin(t * 60)
            raw = np.rint(120000 + f * 4000).astype(np.int32).reshape(-1, 1)
            for i in range(0, n, CHUNK):  # chunks as SessionWriter stores them
                store.append_samples(sid, first + i, t[i : i + CHUNK], raw[i : i + CHUNK])
        for k in range(int(args.hours * 60)):
            s = 60.0 * k + 10.0
            holds.append(
                Hold(k, 0, "Upper trapezius L", s, s + 30, 30, 30, 30.1, 0.2, 10, 0, 0, None)
            )
        store.add_holds(sid, holds)
        store.finish_session(sid)
        print(
            f"wrote {total:,} samples ({args.hours:g} h at {args.rate_hz:g} Hz), "
            f"{len(holds)} holds in {time.perf_counter() - t0:.1f} s"
        )

        rec = store.load_session(sid)
        plot = TimelinePlot()
        plot.resize(1400, 400)
        plot.show()
        app.processEvents()

        def timed(label: str, fn) -> None:
            t = time.perf_counter()
            fn()
            app.processEvents()
            ms = (time.perf_counter() - t) * 1000
            print(f"{label:<44} {ms:8.1f} ms  ({plot.mode}, {plot.shown_samples:,} points)")

        t = time.perf_counter()
        store.load_overview(sid, None, None, 2800)
        print(
            f"{'load_overview (whole session, 2800 buckets)':<44} "
            f"{(time.perf_counter() - t) * 1000:8.1f} ms"
        )
        timed("open session in the timeline (overview)", lambda: plot.set_session(store, rec))
        mid = holds[len(holds) // 2]
        timed("zoom to one hold (full resolution)", lambda: plot.zoom_to(mid.start_s, mid.end_s))
        timed(
            "scroll by 30 s (full resolution)",
            lambda: plot.zoom_to(mid.start_s + 30, mid.end_s + 30),
        )
        timed("zoom to one hour (overview)", lambda: plot.zoom_to(3600.0, 7200.0))
        timed("back to the whole session", plot.show_all)
        t = time.perf_counter()
        data = session_data_from_store(store, sid)
        print(
            f"{'aligned curves of all holds (comparison)':<44} "
            f"{(time.perf_counter() - t) * 1000:8.1f} ms  ({len(data.curves)} holds)"
        )
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
