"""CPU of the live window beside a bare pyqtgraph rolling plot, side by side in one run.

Both run at once, each in its own process on the same display, for the same time, on the
same input: the simulator at real time (1 kHz, ``sim://`` through ``LiveSession``, so both
pay the same reader thread), a 30-second window, a frame every 25 ms (40 fps).

- ``app``: the real ``MainWindow`` (its own frame timer: events, ring copy, column
  envelope, readout at ≤ 10 Hz), shown fitted to the screen.
- ``bare``: a ``pg.PlotWidget`` the size of the app's plot, handed the ring's 30-second
  window every frame with ``setData`` and scrolled with ``setXRange``: the plain way to
  write a rolling plot.

Each process reports its own CPU time (user + system, every thread) over the measured
interval, as a share of one core, and its frame time (the frame's work plus a synchronous
repaint of what it changed). Run it on a real X server, as a laptop user would see it::

    Xvfb :99 -screen 0 1280x800x24 &
    DISPLAY=:99 QT_QPA_PLATFORM=xcb .venv/bin/python benchmarks/live_cpu.py [--seconds 30]

Target: the app ≤ ⅓ of the bare plot's CPU, and its frame time no worse.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FRAME_MS = 25
WINDOW_S = 30.0
WARMUP_S = 35.0  # the window fills before measuring


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_app(seconds: float, tmp: Path) -> dict:
    from gui.app import create_app
    from gui.main_window import MainWindow
    from gui.screen import show_fitted
    from gui.sound import Sounder
    from logger.config import Config

    app = create_app()
    window = MainWindow(
        Config(), config_path=None, db_path=tmp / "app.sqlite3", sounder=Sounder(muted=True),
        frame_interval_ms=FRAME_MS,
    )  # fmt: skip
    show_fitted(window, 1600, 960)
    window.plot.set_window_s(WINDOW_S)
    window.connect_device("sim://cpu-app?scenario=demo&speed=1")
    frame_ms: list[float] = []
    inner = window.frame

    def timed_frame() -> None:
        t0 = time.perf_counter()
        inner()
        frame_ms.append((time.perf_counter() - t0) * 1e3)

    window.timer.timeout.disconnect()
    window.timer.timeout.connect(timed_frame)
    result = measure(app, seconds, frame_ms)
    result["plot_px"] = [window.plot.width(), window.plot.height()]
    window.close()
    return result


def run_bare(seconds: float, tmp: Path, size: tuple[int, int]) -> dict:
    import pyqtgraph as pg
    from PySide6.QtCore import QTimer

    from gui.app import create_app
    from logger.config import Config
    from logger.live import LiveSession

    app = create_app()
    widget = pg.PlotWidget()
    curve = widget.plot(pen=pg.mkPen("#4fc3f7", width=1))
    widget.resize(*size)
    widget.show()
    live = LiveSession("sim://cpu-bare?scenario=demo&speed=1", Config(), db_path=tmp / "b.db")
    live.start()
    frame_ms: list[float] = []

    def frame() -> None:
        t0 = time.perf_counter()
        live.poll_events()
        ring = live.ring
        if ring is not None:
            t_s, force = ring.window(WINDOW_S)
            if t_s.shape[0]:
                curve.setData(t_s, force[:, 0])
                widget.setXRange(float(t_s[-1]) - WINDOW_S, float(t_s[-1]), padding=0.0)
        frame_ms.append((time.perf_counter() - t0) * 1e3)

    timer = QTimer()
    timer.setInterval(FRAME_MS)
    timer.timeout.connect(frame)
    timer.start()
    result = measure(app, seconds, frame_ms)
    timer.stop()
    live.stop()
    widget.close()
    return result


def measure(app, seconds: float, frame_ms: list[float]) -> dict:
    """Warm up until the window is full, then CPU and frames over ``seconds`` (Qt's own
    event loop runs meanwhile, as in the real program)."""
    from PySide6.QtCore import QEventLoop, QTimer

    def run_for(span_s: float) -> None:
        loop = QEventLoop()  # not app.quit(): that closes the windows
        QTimer.singleShot(int(span_s * 1000), loop.quit)
        loop.exec()

    run_for(WARMUP_S)
    frame_ms.clear()
    c0, g0, w0 = cpu_s(), time.thread_time(), time.monotonic()
    run_for(seconds)
    cpu, gui, wall = cpu_s() - c0, time.thread_time() - g0, time.monotonic() - w0
    return {
        "cpu_pct": 100.0 * cpu / wall,
        "gui_pct": 100.0 * gui / wall,
        "fps": len(frame_ms) / wall,
        "frame_median_ms": statistics.median(frame_ms) if frame_ms else float("nan"),
    }


def child(kind: str, seconds: float, size: tuple[int, int]) -> int:
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        if kind == "app":
            result = run_app(seconds, Path(tmp))
        else:
            result = run_bare(seconds, Path(tmp), size)
    print(json.dumps(result), flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured interval")
    parser.add_argument("--child", choices=("app", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--size", default="900x480", help="the bare plot's size (the app's plot)")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    if args.child:
        return child(args.child, args.seconds, size)  # type: ignore[arg-type]
    here = [sys.executable, __file__, "--seconds", str(args.seconds), "--size", args.size]
    procs = {
        kind: subprocess.Popen([*here, "--child", kind], stdout=subprocess.PIPE, text=True)
        for kind in ("app", "bare")
    }
    results = {}
    for kind, proc in procs.items():
        out, _ = proc.communicate()
        results[kind] = json.loads(out.strip().splitlines()[-1])
    platform = os.environ.get("QT_QPA_PLATFORM", "xcb")
    print(
        f"live window vs bare pyqtgraph rolling plot, side by side, {platform}, "
        f"1 kHz, {WINDOW_S:g} s window, {FRAME_MS} ms frames, {args.seconds:g} s measured"
    )
    for kind, r in results.items():
        print(f"  {kind:5s} process {r['cpu_pct']:5.1f} %  GUI thread {r['gui_pct']:5.1f} %  "
              f"{r['fps']:5.1f} fps  frame median {r['frame_median_ms']:.2f} ms")  # fmt: skip
    for key, what in (("gui_pct", "GUI thread"), ("cpu_pct", "whole process")):
        ratio = results["app"][key] / results["bare"][key]
        print(f"  app / bare, {what}: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
