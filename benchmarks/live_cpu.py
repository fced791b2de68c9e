"""CPU of the live window beside a bare pyqtgraph rolling plot, side by side in one run.

Both run at once, each in its own process on the same display, for the same time, on the
same input: a 1 kHz device streaming the ``demo`` scenario in real time, a 30-second
window, a frame every 25 ms (40 fps).

- ``app``: the real ``MainWindow`` (its own frame timer: events, ring copy, column
  envelope, readout at ≤ 10 Hz), shown fitted to the screen.
- ``bare``: a ``pg.PlotWidget`` the size of the app's plot, handed the ring's 30-second
  window every frame with ``setData`` and scrolled with ``setXRange``: the plain way to
  write a rolling plot. It reads the device through the same ``LiveSession`` as the app.

The device: each side reads its own simulated device on a pty, served by a separate
``pressure-logger simulate --pty`` process (same scenario, seed and speed for both). On a
laptop the sensor is a USB serial device: making the samples is the device's work, not
the program's; reading, decoding, calibrating, the pipeline and drawing are. Simulating
in the measured process (``--feed sim``: ``sim://`` through ``LiveSession``) would make
both sides pay the sample generation in their reader thread, a cost neither has in use,
which pulls the ratio towards 1. The simulators' own CPU is printed, but counted on
neither side.

Each process reports its CPU time (user + system) over the measured interval as a share
of one core, in all and per thread (from ``/proc/self/task``: GUI, reader, writer, Qt's
own threads), and its frame time: the frame's work plus the repaint of what it changed,
done synchronously (the posted scene and paint events sent at once) so it is timed with
the frame. Run it on a real X server, as a laptop user would see it::

    Xvfb :99 -screen 0 1280x800x24 &
    DISPLAY=:99 QT_QPA_PLATFORM=xcb .venv/bin/python benchmarks/live_cpu.py [--seconds 30]

Target: the app ≤ ⅓ of the bare plot's CPU, and its frame time no worse.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

FRAME_MS = 25
WINDOW_S = 30.0
WARMUP_S = 35.0  # the window fills before measuring
SCENARIO = "demo"
TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def task_cpu_s(pid: int | str = "self") -> dict[int, tuple[str, float]]:
    """CPU seconds (user + system) of every thread of ``pid``: {tid: (comm, seconds)}."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:  # the thread ended meanwhile
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        out[int(tid)] = (comm, (int(fields[11]) + int(fields[12])) * TICK_S)
    return out


def process_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S


def thread_role(tid: int, comm: str, names: dict[int, str]) -> str:
    """What a thread does: ``gui``, ``reader``, ``writer``, or Qt's own (by its name)."""
    name = names.get(tid, "")
    if tid == threading.main_thread().native_id:
        return "gui"
    if name.startswith("reader:"):
        return "reader"
    if name.startswith("SessionWriter"):
        return "writer"
    return f"qt:{comm}" if comm != "python" and not name else "other"


def per_thread(before: dict, after: dict, wall_s: float) -> dict[str, float]:
    """% of a core per role over the interval (threads that started meanwhile included)."""
    names = {t.native_id: t.name for t in threading.enumerate() if t.native_id}
    pct: dict[str, float] = {}
    for tid, (comm, cpu) in after.items():
        role = thread_role(tid, comm, names)
        spent = cpu - before.get(tid, (comm, 0.0))[1]
        pct[role] = pct.get(role, 0.0) + 100.0 * spent / wall_s
    return dict(sorted(pct.items(), key=lambda kv: -kv[1]))


def flush_paint(app) -> None:
    """Send the posted events now: the scene's dirty items, then the paint they ask for
    (each pass posts the next), so the repaint is timed with the frame that caused it."""
    for _ in range(3):
        app.sendPostedEvents()


def run_app(port: str, seconds: float, tmp: Path) -> dict:
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
    window.connect_device(port)
    frame_ms: list[float] = []
    inner = window.frame

    def timed_frame() -> None:
        t0 = time.perf_counter()
        inner()
        flush_paint(app)
        frame_ms.append((time.perf_counter() - t0) * 1e3)

    window.timer.timeout.disconnect()
    window.timer.timeout.connect(timed_frame)
    result = measure(app, seconds, frame_ms)
    result["plot_px"] = [window.plot.width(), window.plot.height()]
    window.close()
    return result


def run_bare(port: str, seconds: float, tmp: Path, size: tuple[int, int]) -> dict:
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
    live = LiveSession(port, Config(), db_path=tmp / "b.db")
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
        flush_paint(app)
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
    tasks0, w0 = task_cpu_s(), time.monotonic()
    run_for(seconds)
    tasks1, wall = task_cpu_s(), time.monotonic() - w0
    threads = per_thread(tasks0, tasks1, wall)
    frames = sorted(frame_ms) or [float("nan")]
    return {
        "cpu_pct": sum(threads.values()),
        "gui_pct": threads.get("gui", 0.0),
        "threads": threads,
        "fps": len(frame_ms) / wall,
        "frame_median_ms": statistics.median(frames),
        "frame_p99_ms": frames[min(len(frames) - 1, int(0.99 * len(frames)))],
    }


def child(kind: str, port: str, seconds: float, size: tuple[int, int]) -> int:
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        if kind == "app":
            result = run_app(port, seconds, Path(tmp))
        else:
            result = run_bare(port, seconds, Path(tmp), size)
    print(json.dumps(result), flush=True)
    return 0


def start_simulator() -> tuple[subprocess.Popen, str]:
    """A ``pressure-logger simulate --pty`` process and the pty it serves."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "logger.cli", "simulate", "--pty", "--scenario", SCENARIO],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def run_sides(
    here: list[str], feed: str, sims: dict[str, subprocess.Popen]
) -> tuple[dict[str, dict], dict[str, float]]:
    """Both sides at once; their results, and each simulator's CPU (% of a core)."""
    ports = {}
    for kind in ("app", "bare"):
        if feed == "pty":
            sims[kind], ports[kind] = start_simulator()
        else:
            ports[kind] = f"sim://cpu-{kind}?scenario={SCENARIO}&speed=1"
    procs = {
        kind: subprocess.Popen(
            [*here, "--child", kind, "--port", ports[kind]], stdout=subprocess.PIPE, text=True
        )
        for kind in ("app", "bare")
    }
    time.sleep(WARMUP_S)  # the simulators' CPU over (about) the measured interval
    sim0 = {kind: process_cpu_s(p.pid) for kind, p in sims.items()}
    s0 = time.monotonic()
    results = {}
    for kind, proc in procs.items():
        out, _ = proc.communicate()
        results[kind] = json.loads(out.strip().splitlines()[-1])
    wall_s = time.monotonic() - s0
    sim_pct = {k: 100.0 * (process_cpu_s(p.pid) - sim0[k]) / wall_s for k, p in sims.items()}
    return results, sim_pct


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured interval")
    parser.add_argument(
        "--feed", choices=("pty", "sim"), default="pty",
        help="pty: a simulator process per side on a pty (default); sim: sim:// in-process",
    )  # fmt: skip
    parser.add_argument("--child", choices=("app", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--port", help=argparse.SUPPRESS)
    parser.add_argument("--size", default="900x480", help="the bare plot's size (the app's plot)")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    if args.child:
        return child(args.child, args.port, args.seconds, size)  # type: ignore[arg-type]
    here = [sys.executable, __file__, "--seconds", str(args.seconds), "--size", args.size]
    sims: dict[str, subprocess.Popen] = {}
    try:
        results, sim_pct = run_sides(here, args.feed, sims)
    finally:
        for proc in sims.values():  # the simulators serve until told to stop
            proc.terminate()
            proc.wait(10)
    platform = os.environ.get("QT_QPA_PLATFORM", "xcb")
    feed = "a simulator process each on a pty" if args.feed == "pty" else "sim:// in-process"
    print(
        f"live window vs bare pyqtgraph rolling plot, side by side, {platform}, "
        f"1 kHz ({feed}), {WINDOW_S:g} s window, {FRAME_MS} ms frames, "
        f"{args.seconds:g} s measured"
    )
    for kind, r in results.items():
        print(f"  {kind:5s} process {r['cpu_pct']:5.1f} %  GUI thread {r['gui_pct']:5.1f} %  "
              f"{r['fps']:5.1f} fps  frame median {r['frame_median_ms']:.2f} ms  "
              f"p99 {r['frame_p99_ms']:.2f} ms")  # fmt: skip
        print("        threads: " + ", ".join(f"{k} {v:.1f} %" for k, v in r["threads"].items()))
    for kind, pct in sim_pct.items():
        print(f"  ({kind}'s simulator process: {pct:.1f} %, counted on neither side)")
    for key, what in (("gui_pct", "GUI thread"), ("cpu_pct", "whole process")):
        ratio = results["app"][key] / results["bare"][key]
        print(f"  app / bare, {what}: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
