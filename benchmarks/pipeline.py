"""Acquisition → pipeline → SQLite, end to end through `record` (issue 3 acceptance).

    .venv/bin/python benchmarks/pipeline.py [--minutes 60] [--short-minutes 10]
                                            [--realtime-s 20] [--overview-hours 8]

Prints, with the targets beside them (takes about 30 s on 2 cores):

1. real-time factor = scenario duration / wall time of ``pressure-logger record`` on
   ``sim://bench?scenario=<generated file>&speed=0`` (1 kHz, SQLite included: ``record``
   returns once the SessionWriter has committed everything), run in process through
   ``logger.cli.main``. At speed 0 the simulator makes its bytes on demand in the reader
   thread, so its cost is in the figure too;
2. peak memory (VmHWM, the RSS high-water mark) of a SHORT and a LONG session, each recorded
   in a subprocess of its own (its own high-water mark), and the RSS at every tenth of the
   long session: flat means the long one peaks no higher than the short one (within
   10 MB) and the RSS does not climb during the session. At speed 0 the reader outruns
   real time ~700x, so the SessionWriter's queue holds a few hundred seconds of samples
   between commits (~12.5 bytes each): the backlog and the commit times are shown too;
3. alert latency, from the moment ``read()`` returned the bytes (``Acquisition.last_read_s``)
   to the ``on_alert`` callback (reader thread, right after decoding and the limit monitor):
   p50 / p99 / max. The generated scenario holds 45 N (> warn_n = 40 N) once every 20 s,
   so an hour raises 180 alerts. At ``speed=0`` a read is 4 KiB (about a second of
   samples), so it is also measured at ``speed=1`` (real time: reads as the bytes come) on
   a short scenario with an alert every 4 s. Each latency is split (Linux) into the reader
   thread's own CPU time, its time runnable but waiting for a core (other processes, or
   this process's other threads on a busy machine) and the rest: asleep, i.e. waiting for
   the GIL (handed to another thread of this process: SessionWriter, record's main loop);
4. the time to load an 8-hour 1 kHz session's overview (``load_overview`` over the whole
   session, 2000 points, a new ``SessionStore`` each time; median of 7). The session is
   built with ``build()`` of benchmarks/overview.py (``append_samples`` in 16384-sample
   chunks, as the SessionWriter stores them).

To time alerts in an unmodified ``record`` command, the child process replaces
``logger.live.LiveSession`` with a subclass that only adds an ``on_alert`` callback (the hook
the GUI uses) and stamps the thread's clocks when a read's decoding starts; it also times
``SessionWriter._write``. Nothing else changes. Scenario files and databases live in
temporary directories removed at the end. Exit status 1 when a target is missed.

Profiling one recording (the reader thread is where the time goes):

    py-spy record --threads --format raw -o prof.txt -- \\
        .venv/bin/python benchmarks/pipeline.py --child 60
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

TARGET_RTF = 300.0
TARGET_PEAK_MB = 200.0
TARGET_LATENCY_P99_MS = 5.0
TARGET_OVERVIEW_MS = 200.0
FLAT_TOLERANCE_MB = 10.0  # "flat": the long session's peak within this of the short one's

RATE_HZ = 1000
CYCLE_S = 20.0  # one over-limit hold per cycle
REALTIME_CYCLE_S = 4.0
QUEUED_BYTES_PER_SAMPLE = 12.5  # t_s float64 + raw int32, plus per-block overhead
RSS_POLL_S = 0.2  # RSS sampler period (seldom: each wake-up takes the GIL)


# --------------------------------------------------------------------- scenarios


def write_scenario(path: Path, duration_s: float, cycle_s: float = CYCLE_S) -> float:
    """A 1 kHz session of ``duration_s`` (whole cycles): each cycle rests, (cycles of 10 s
    or more) palpates with a 12 N press, then holds 45 N (> warn_n = 40 N: one warn alert);
    a mark every 10th cycle. Returns the scenario's duration in seconds."""
    press_s = 2.0 if cycle_s >= 10 else 0.0  # press 0.8 s + rest 1.2 s
    plateau_s = round(max(1.0, cycle_s * 0.4), 3)
    hold_s = 1.0 + plateau_s + 0.5  # ramp, plateau, release
    rest_a = round(0.25 * (cycle_s - press_s - hold_s), 3)
    rest_b = round(cycle_s - press_s - hold_s - rest_a, 3)
    if rest_a <= 0:
        raise ValueError(f"a cycle of {cycle_s} s is too short")
    cycles = max(1, round(duration_s / cycle_s))
    lines = [
        'name = "pipeline-bench"',
        f'description = "{cycles} cycles of {cycle_s:g} s, each with a 45 N hold"',
        "",
        "[device]",
        'uid = "SIM-BENCH-0001"',
        f"rate_hz = {RATE_HZ}",
        "channels = 1",
        "noise_n = 0.1",
        "",
        "[therapist]",
        "seed = 7",
        "tremor_n = 0.3",
        "",
    ]

    def step(**kw: object) -> None:
        lines.append("[[steps]]")
        lines.extend(f"{k} = {json.dumps(v)}" for k, v in kw.items())
        lines.append("")

    for i in range(cycles):
        if i % 10 == 0:
            step(action="mark")
        step(action="rest", seconds=rest_a)
        if press_s:
            step(action="press", force_n=12.0, seconds=0.8)
            step(action="rest", seconds=1.2)
        step(action="hold", force_n=45.0, ramp_s=1.0, seconds=plateau_s, release_s=0.5)
        step(action="rest", seconds=rest_b)
    path.write_text("\n".join(lines))
    return cycles * (rest_a + press_s + hold_s + rest_b)


# ------------------------------------------------------------------ child process


def _proc_status_mb(key: str) -> float:
    """A memory line of /proc/self/status (VmHWM, VmRSS) in MB; ru_maxrss off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    scale = 1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def _thread_clocks_s() -> tuple[float, float]:
    """(CPU time, time runnable but waiting for a core) of the calling thread in seconds;
    the second is Linux's schedstat run delay (NaN elsewhere)."""
    cpu_s = time.thread_time()
    try:
        with open("/proc/thread-self/schedstat", "rb") as f:
            return cpu_s, int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return cpu_s, float("nan")


def child_record(minutes: float, speed: float, cycle_s: float) -> dict:
    """Generate a scenario, run ``pressure-logger record`` on it in this process, and
    return the figures."""
    import logger.live
    import logger.store
    from logger.cli import main
    from logger.store import SessionStore

    latency_s: list[float] = []
    cpu_s: list[float] = []
    runqueue_s: list[float] = []
    sessions: list[logger.live.LiveSession] = []

    class TimedLiveSession(logger.live.LiveSession):
        """The real LiveSession plus an on_alert callback that times each alert."""

        def __init__(self, *args, **kwargs) -> None:
            kwargs["on_alert"] = self._timed_alert
            super().__init__(*args, **kwargs)
            sessions.append(self)
            self._clocks0 = (float("nan"), float("nan"))
            decoder = getattr(self._acq, "_decoder", None)
            if decoder is not None:  # stamp the thread's clocks as a read's decoding starts
                feed = decoder.feed

                def timed_feed(data: bytes):
                    self._clocks0 = _thread_clocks_s()
                    return feed(data)

                decoder.feed = timed_feed

        def _timed_alert(self, alert) -> None:  # reader thread
            latency_s.append(time.monotonic() - self._acq.last_read_s)
            cpu1, rq1 = _thread_clocks_s()
            cpu_s.append(cpu1 - self._clocks0[0])
            runqueue_s.append(rq1 - self._clocks0[1])

    logger.live.LiveSession = TimedLiveSession  # record.run imports it at call time

    commits: list[tuple[float, int]] = []  # (wall s, samples) of each SessionWriter commit
    writer_cls = logger.store.SessionWriter
    commit = getattr(writer_cls, "_write", None)
    if commit is not None:  # diagnostics only: how long the writer's transactions take

        def timed_commit(self, *args, **kwargs):
            n0, t0 = self.committed_samples, time.perf_counter()
            commit(self, *args, **kwargs)
            commits.append((time.perf_counter() - t0, self.committed_samples - n0))

        writer_cls._write = timed_commit

    # (session t_s, VmRSS MB, samples read but not yet committed by the SessionWriter)
    rss_trace: list[tuple[float, float, int]] = []
    done = threading.Event()

    def sample_rss() -> None:
        while not done.wait(RSS_POLL_S):
            if sessions:
                live = sessions[0]
                rec = getattr(live, "_recording", None)
                writer = getattr(rec, "writer", None)
                backlog = live.counters.samples - getattr(writer, "committed_samples", 0)
                rss = _proc_status_mb("VmRSS")
                rss_trace.append((live.recording_elapsed_s, rss, backlog if writer else 0))

    with tempfile.TemporaryDirectory(prefix="pipeline-bench-child-") as tmp_name:
        tmp = Path(tmp_name)
        scenario, db = tmp / "scenario.toml", tmp / "library.sqlite3"
        scenario_s = write_scenario(scenario, minutes * 60, cycle_s)
        argv = ["record", "--port", f"sim://bench?scenario={scenario}&speed={speed:g}"]
        argv += ["--db", str(db)]
        rss_before_mb = _proc_status_mb("VmRSS")
        sampler = threading.Thread(target=sample_rss, daemon=True)
        sampler.start()
        out, err = io.StringIO(), io.StringIO()
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(argv)
        wall_s = time.perf_counter() - t0
        done.set()
        sampler.join()
        peak_mb = _proc_status_mb("VmHWM")
        if rc != 0 or not out.getvalue().strip():
            raise SystemExit(f"record failed (exit {rc}): {err.getvalue()}")
        sid = out.getvalue().strip().splitlines()[-1]
        with SessionStore(db) as store:
            rec = store.load_session(sid)
    return {
        "scenario_s": scenario_s,
        "wall_s": wall_s,
        "duration_s": rec.stats.duration_s,
        "samples": rec.stats.samples,
        "lost": rec.stats.lost_samples,
        "holds": len(rec.holds),
        "alerts": len(rec.alerts),
        "latency_ms": [x * 1e3 for x in latency_s],
        "cpu_ms": [x * 1e3 for x in cpu_s],
        "runqueue_ms": [x * 1e3 for x in runqueue_s],
        "peak_rss_mb": peak_mb,
        "rss_before_mb": rss_before_mb,
        "rss_trace": rss_trace,
        "commits": commits,
    }


def run_child(minutes: float, speed: float, cycle_s: float = CYCLE_S) -> dict:
    cmd = [sys.executable, __file__, "--child", f"{minutes:g}", "--speed", f"{speed:g}"]
    cmd += ["--cycle-s", f"{cycle_s:g}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- 8-hour overview


def build_long_session(db: Path, hours: float) -> str:
    """An ``hours``-long 1 kHz session, through benchmarks/overview.py's ``build``."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from overview import build  # the store's own benchmark (same builder, same data)

    from logger.store import MAX_CHUNK_SAMPLES, SessionStore

    with SessionStore(db) as store:
        return build(store, hours, float(RATE_HZ), MAX_CHUNK_SAMPLES)


def time_overview(db: Path, sid: str, runs: int = 7) -> tuple[list[float], int]:
    """Whole-session overview, 2000 points, a new SessionStore each time (ms)."""
    from logger.store import SessionStore

    times_ms: list[float] = []
    n_points = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        with SessionStore(db) as store:
            t, _, _ = store.load_overview(sid, None, None, 2000)
        times_ms.append((time.perf_counter() - t0) * 1e3)
        n_points = int(t.size)
    return times_ms, n_points


# -------------------------------------------------------------------------- main


def _pct(values: list[float] | np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def _at_tenths(trace: list[list[float]], duration_s: float, column: int, scale: float) -> str:
    """A traced value at each tenth of the session (the first poll at or after it)."""
    if not trace:
        return "-"
    arr = np.asarray(trace, dtype=np.float64)
    marks = np.linspace(0.1, 1.0, 10) * duration_s
    idx = np.minimum(np.searchsorted(arr[:, 0], marks * 0.999), len(arr) - 1)
    return " ".join(f"{v * scale:.0f}" for v in arr[idx, column])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0, help="the long session")
    ap.add_argument("--short-minutes", type=float, default=10.0, help="the short session")
    ap.add_argument("--realtime-s", type=float, default=20.0, help="speed=1 latency run")
    ap.add_argument("--overview-hours", type=float, default=8.0)
    ap.add_argument(
        "--child",
        type=float,
        metavar="MINUTES",
        help="record one generated session here and print its figures as JSON",
    )
    ap.add_argument("--speed", type=float, default=0.0, help="with --child")
    ap.add_argument("--cycle-s", type=float, default=CYCLE_S, help="with --child")
    args = ap.parse_args()

    if args.child is not None:
        print(json.dumps(child_record(args.child, args.speed, args.cycle_s)))
        return 0

    started = time.perf_counter()
    print(
        f"machine: {os.cpu_count()} cores ({_cpu_model()}), Python {sys.version.split()[0]}, "
        f"load average {os.getloadavg()[0]:.2f} at start",
        flush=True,
    )
    runs: dict[str, dict] = {}
    for label, minutes, speed, cycle_s in (
        ("short", args.short_minutes, 0.0, CYCLE_S),
        ("long", args.minutes, 0.0, CYCLE_S),
        ("realtime", args.realtime_s / 60, 1.0, REALTIME_CYCLE_S),
    ):
        res = runs[label] = run_child(minutes, speed, cycle_s)
        print(
            f"  {label:8s} speed={speed:g}: {res['scenario_s']:6.0f} s scenario in "
            f"{res['wall_s']:6.2f} s; samples={res['samples']} lost={res['lost']} "
            f"holds={res['holds']} alerts={res['alerts']} VmHWM={res['peak_rss_mb']:.1f} MB",
            flush=True,
        )
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as tmp_name:
        db = Path(tmp_name) / "overview.sqlite3"
        t0 = time.perf_counter()
        sid8 = build_long_session(db, args.overview_hours)
        build_s = time.perf_counter() - t0
        size_mb = sum(p.stat().st_size for p in db.parent.iterdir()) / 1e6
        ov_ms, ov_points = time_overview(db, sid8)
    print(
        f"  overview: {args.overview_hours:g} h session built in {build_s:.1f} s "
        f"({size_mb:.0f} MB); load times (ms): {' '.join(f'{x:.1f}' for x in ov_ms)}",
        flush=True,
    )

    rows: list[tuple[str, str, str, str]] = []  # figure, value, target, verdict

    def row(name: str, value: str, target: str = "", ok: bool | None = None) -> None:
        rows.append((name, value, target, "" if ok is None else ("ok" if ok else "MISSED")))

    long_, short, rt = runs["long"], runs["short"], runs["realtime"]
    for res, minutes, target in ((long_, args.minutes, True), (short, args.short_minutes, False)):
        rtf = res["duration_s"] / res["wall_s"]
        row(
            f"real-time factor, {minutes:g} min @ 1 kHz, speed=0",
            f"{rtf:.0f}x",
            f">= {TARGET_RTF:.0f}x" if target else "",
            rtf >= TARGET_RTF if target else None,
        )
    for res, minutes in ((short, args.short_minutes), (long_, args.minutes)):
        row(
            f"peak RSS (VmHWM), {minutes:g} min session",
            f"{res['peak_rss_mb']:.1f} MB",
            f"< {TARGET_PEAK_MB:.0f} MB",
            res["peak_rss_mb"] < TARGET_PEAK_MB,
        )
    growth = long_["peak_rss_mb"] - short["peak_rss_mb"]
    row(
        "peak RSS, long minus short",
        f"{growth:+.1f} MB",
        f"flat (<= {FLAT_TOLERANCE_MB:.0f} MB)",
        growth <= FLAT_TOLERANCE_MB,
    )
    row(
        f"RSS at each tenth of the {args.minutes:g} min session (MB)",
        _at_tenths(long_["rss_trace"], long_["duration_s"], 1, 1.0),
    )
    row(
        "  SessionWriter backlog then (s of data read, not committed)",
        _at_tenths(long_["rss_trace"], long_["duration_s"], 2, 1.0 / RATE_HZ),
    )
    backlog_s = {
        k: max((b for _, _, b in runs[k]["rss_trace"]), default=0) / RATE_HZ
        for k in ("short", "long")
    }
    row(
        "  SessionWriter backlog, max, short / long (s of data)",
        f"{backlog_s['short']:.0f} / {backlog_s['long']:.0f} s",
    )
    if long_["commits"]:
        c_ms = np.asarray(long_["commits"])[:, 0] * 1e3
        row(
            f"  SessionWriter commits: {c_ms.size}, p50 / p99 / max",
            " / ".join(f"{_pct(c_ms, q):.0f}" for q in (50, 99, 100)) + " ms",
        )
    for name, res in ((f"speed=0, {args.minutes:g} min", long_), ("speed=1", rt)):
        lat = np.asarray(res["latency_ms"])
        cpu, rq = np.asarray(res["cpu_ms"]), np.asarray(res["runqueue_ms"])
        p99 = _pct(lat, 99)
        row(f"alert latency {name}, {lat.size} alerts: p50", f"{_pct(lat, 50):.2f} ms")
        row(
            f"alert latency {name}: p99",
            f"{p99:.2f} ms",
            f"< {TARGET_LATENCY_P99_MS:g} ms",
            p99 < TARGET_LATENCY_P99_MS,
        )
        row(f"alert latency {name}: max", f"{_pct(lat, 100):.2f} ms")
        if lat.size:
            row(
                "  of which reader CPU p50 / p99 / max",
                " / ".join(f"{_pct(cpu, q):.2f}" for q in (50, 99, 100)) + " ms",
            )
            row(
                "  waiting for a core p99 / max",
                " / ".join(f"{_pct(rq, q):.2f}" for q in (99, 100)) + " ms",
            )
            row(
                "  waiting for the GIL p99 / max",
                " / ".join(f"{max(0.0, _pct(lat - cpu - rq, q)):.2f}" for q in (99, 100)) + " ms",
            )
    med = statistics.median(ov_ms)
    row(
        f"overview load, {args.overview_hours:g} h session ({ov_points} points), median",
        f"{med:.1f} ms",
        f"< {TARGET_OVERVIEW_MS:.0f} ms",
        med < TARGET_OVERVIEW_MS,
    )

    print()
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    print(f"{'figure':<{widths[0]}}  {'value':>{widths[1]}}  {'target':<{widths[2]}}  verdict")
    for name, value, target, verdict in rows:
        print(f"{name:<{widths[0]}}  {value:>{widths[1]}}  {target:<{widths[2]}}  {verdict}")
    if growth > FLAT_TOLERANCE_MB:
        queued_mb = (
            (backlog_s["long"] - backlog_s["short"]) * RATE_HZ * QUEUED_BYTES_PER_SAMPLE / 1e6
        )
        print(
            f"note: the long run's SessionWriter queue held up to {backlog_s['long']:.0f} s of "
            f"samples ({backlog_s['short']:.0f} s in the short run), about {queued_mb:.0f} MB "
            "more: the writer fell behind the reader (speed 0), which RSS follows"
        )
    print(
        f"(machine load average {os.getloadavg()[0]:.2f} at the end; "
        f"benchmark took {time.perf_counter() - started:.0f} s)"
    )
    return 0 if all(r[3] != "MISSED" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
