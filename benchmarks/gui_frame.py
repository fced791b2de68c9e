"""Frame time of the live window with 600,000 points visible, and its memory over 8 hours.

Part 1 — frame time: the real ``MainWindow`` on the simulator (1 kHz). The simulator runs
faster than real time until the ring buffer holds 10 minutes, the window is set to 10 min
(600,000 points visible) and then every frame (events + ring copy + plot + readout, and a
synchronous repaint of the whole window) is timed while the simulator keeps streaming.
Target: median < 16 ms (60 fps).

Part 2 — memory: the same window on an 8-hour scenario (holds every ~48 s) at speed=0
(as fast as the reader reads), frames running throughout; resident memory is printed for
every simulated hour. Bounded means it stops growing once the ring buffer is full.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/gui_frame.py [--frames N] [--hours H]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

from gui.app import create_app  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402
from gui.sound import Sounder  # noqa: E402
from logger.config import Config  # noqa: E402
from logger.records import Point  # noqa: E402
from logger.ringbuffer import RingBuffer  # noqa: E402

CYCLE_STEPS = """
[[steps]]
action = "rest"
seconds = 8.0

[[steps]]
action = "mark"

[[steps]]
action = "hold"
force_n = {force}
ramp_s = 2.0
seconds = 30.0
release_s = 1.0
drift_n_per_s = -0.05

[[steps]]
action = "rest"
seconds = 7.0
"""
CYCLE_S = 48.0


def write_scenario(path: Path, hours: float) -> Path:
    """Holds every 48 s for ``hours``; every fifth one goes over the warn limit."""
    cycles = int(np.ceil(hours * 3600.0 / CYCLE_S)) + 1
    parts = ['[device]\nuid = "SIM-BENCH"\nrate_hz = 1000\n']
    parts += [CYCLE_STEPS.format(force=45.0 if i % 5 == 4 else 30.0) for i in range(cycles)]
    path.write_text("".join(parts))
    return path


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def make_window(db: Path) -> MainWindow:
    config = Config(points=[Point(i, f"Point {i + 1}") for i in range(8)])
    window = MainWindow(config, config_path=None, db_path=db, sounder=Sounder(muted=True))
    window.resize(1600, 960)
    window.show()
    window.timer.stop()  # frames are driven (and timed) by the benchmark
    return window


def pump(app, window: MainWindow, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        window.frame()
        time.sleep(0.02)


def prefill(live, seconds: float = 600.0) -> None:
    """Give the live session a ring buffer already holding ``seconds`` of 1 kHz history
    (synthetic holds) that ends at the newest streamed sample; the reader goes on appending
    to it. This is how a 10-minute window can be measured with the simulator at real time."""
    ring = live.ring
    t_end = live.t_s
    t = t_end - seconds + np.arange(int(seconds * 1000)) * 1e-3
    force = 15.0 + 15.0 * np.sin(t / 8.0) + np.random.default_rng(1).normal(0, 0.3, t.size)
    fresh = RingBuffer(ring.capacity, ring.channels)
    fresh.extend(t, np.maximum(force, 0.0).astype(np.float32))
    live.ring = fresh


def frame_time(app, tmp: Path, frames: int, speed: float) -> None:
    window = make_window(tmp / "frame.sqlite3")
    scenario = write_scenario(tmp / "frame.toml", 0.5)
    window.connect_device(f"sim://bench-frame-{speed:g}?scenario={scenario}&speed={speed:g}")
    window.window_combo.setCurrentIndex(window.window_combo.count() - 1)  # 10 min
    live = window.live
    assert live is not None
    started = time.monotonic()
    how = f"simulator at {speed:g}x"
    if speed <= 1.0:
        while live.ring is None or live.t_s < 1.0:
            pump(app, window, 0.1)
        prefill(live)
        how += ", ring pre-filled with 10 min"
    while live.ring is None or live.ring.written < 600_000:
        pump(app, window, 0.5)
        if time.monotonic() - started > 900:
            sys.exit(f"simulator too slow: {live.t_s:.0f} s of data after 900 s")
    pump(app, window, 0.5)
    times_ms = []
    for _ in range(frames):
        t0 = time.perf_counter()
        app.processEvents()
        window.frame()
        window.repaint()  # the whole window, synchronously
        times_ms.append((time.perf_counter() - t0) * 1e3)
        time.sleep(0.01)
    visible = window.plot.points_drawn
    window.close()
    times = np.array(times_ms)
    print(
        f"frame time, 10-min window at 1 kHz ({visible:,} points visible), {how}: "
        f"median {statistics.median(times_ms):.1f} ms, p99 {np.percentile(times, 99):.1f} ms, "
        f"max {times.max():.1f} ms over {frames} frames (target median < 16 ms)"
    )


def memory(app, tmp: Path, hours: float) -> None:
    window = make_window(tmp / "memory.sqlite3")
    scenario = write_scenario(tmp / "memory.toml", hours)
    window.connect_device(f"sim://bench-memory?scenario={scenario}&speed=0")
    live = window.live
    assert live is not None
    print(f"memory over {hours:g} h at 1 kHz (speed=0), RSS at start {rss_mb():.0f} MB")
    started = time.monotonic()
    next_hour = 1.0
    while next_hour <= hours:
        pump(app, window, 0.2)
        if live.t_s >= next_hour * 3600.0:
            print(
                f"  {next_hour:4.1f} h device time  RSS {rss_mb():6.0f} MB  "
                f"holds {window.holds_table.rowCount():4d}  "
                f"host {time.monotonic() - started:5.0f} s"
            )
            next_hour += 1.0
        if str(live.state) in ("stopped", "failed"):
            print(f"  link {live.state} at {live.t_s:.0f} s: {live.error}")
            break
    window.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument(
        "--speeds",
        type=float,
        nargs="*",
        default=[1.0, 40.0],
        help="simulator speeds for part 1 (1: real time with a pre-filled ring; >1: the "
        "simulator fills the 10 minutes itself and keeps streaming that fast)",
    )
    parser.add_argument("--hours", type=float, default=8.0, help="simulated hours, part 2")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the demo's drift notices are not figures
    app = create_app()
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        for speed in args.speeds:
            frame_time(app, Path(tmp), args.frames, speed)
        if not args.skip_memory:
            memory(app, Path(tmp), args.hours)
    return 0


if __name__ == "__main__":
    sys.exit(main())
