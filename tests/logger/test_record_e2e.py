"""End to end: a scripted therapist → simulated device → bytes → reader → pipeline → SQLite.

Through ``sim://`` (in process, as fast as the host reads) and through a real pty served
by ``pressure-logger simulate --pty`` at real time.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import serial

from firmware_protocol.sim.protocol_sim import registered_device
from logger.cli import main
from logger.config import Config
from logger.live import LiveSession, wait_until
from logger.recalibrate import redetect_events
from logger.records import AlertKind, GapCause, MarkSource, SessionStatus
from logger.store import SessionStore

RATE_HZ = 1000
SCENARIO = """
[device]
uid = "SIM-E2E"
rate_hz = 1000
noise_n = 0.1

[therapist]
seed = 7
tremor_n = 0.3

[[steps]]
action = "rest"
seconds = 2.0

[[steps]]
action = "mark"

[[steps]]
action = "hold"
force_n = 30.0
ramp_s = 1.0
seconds = 8.0
release_s = 0.5

[[steps]]
action = "rest"
seconds = 2.0

[[steps]]
action = "mark"

[[steps]]
action = "press"
force_n = 12.0
seconds = 0.8

[[steps]]
action = "rest"
seconds = 1.2

[[steps]]
action = "hold"
force_n = 45.0
ramp_s = 1.0
seconds = 5.0
release_s = 0.5

[[steps]]
action = "rest"
seconds = 2.0
"""


@dataclass(frozen=True)
class Script:
    """What a scenario implies (onset 5 N, release 4 N, warn 40 N; linear ramps)."""

    holds: list[tuple[float, float, float]]  # (start_s, end_s, plateau force_n)
    marks: list[float]
    warn_s: float  # the 45 N hold passes warn_n = 40 N on its ramp
    duration_s: float


FULL = Script(
    holds=[(2.0 + 5.0 / 30.0, 11.0 + 26.0 / 30.0 * 0.5, 30.0),
           (15.5 + 5.0 / 45.0, 21.5 + 41.0 / 45.0 * 0.5, 45.0)],
    marks=[2.0, 13.5],
    warn_s=15.5 + 40.0 / 45.0,
    duration_s=24.0,
)  # fmt: skip
EXPECTED_HOLDS = FULL.holds
DURATION_S = FULL.duration_s

# The same script in 8 s (the shortest holds that are still holds: 2 s), for real time
SHORT_SCENARIO = """
[device]
uid = "SIM-E2E"
rate_hz = 1000
noise_n = 0.1

[therapist]
seed = 7
tremor_n = 0.3

[[steps]]
action = "rest"
seconds = 0.5

[[steps]]
action = "mark"

[[steps]]
action = "hold"
force_n = 30.0
ramp_s = 0.5
seconds = 2.0
release_s = 0.25

[[steps]]
action = "rest"
seconds = 0.5

[[steps]]
action = "mark"

[[steps]]
action = "press"
force_n = 12.0
seconds = 0.4

[[steps]]
action = "rest"
seconds = 0.35

[[steps]]
action = "hold"
force_n = 45.0
ramp_s = 0.5
seconds = 2.0
release_s = 0.25

[[steps]]
action = "rest"
seconds = 0.75
"""
SHORT = Script(
    holds=[(0.5 + 5.0 / 30.0 * 0.5, 3.0 + 26.0 / 30.0 * 0.25, 30.0),
           (4.5 + 5.0 / 45.0 * 0.5, 7.0 + 41.0 / 45.0 * 0.25, 45.0)],
    marks=[0.5, 3.75],
    warn_s=4.5 + 40.0 / 45.0 * 0.5,
    duration_s=8.0,
)  # fmt: skip
SHORT_RECORD_S = 7.5  # stopped by --duration, after the second hold


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "e2e.toml"
    path.write_text(SCENARIO)
    return path


def _check_session(db: Path, sid: str, script: Script, samples: int) -> None:
    store = SessionStore(db)
    rec = store.load_session(sid)
    assert rec.status is SessionStatus.COMPLETE
    assert [p.name for p in rec.points] == ["Trapezius L", "Trapezius R"]
    assert len(rec.holds) == len(script.holds)
    for hold, (start, end, force) in zip(rec.holds, script.holds, strict=True):
        assert hold.start_s == pytest.approx(start, abs=0.1)
        assert hold.end_s == pytest.approx(end, abs=0.1)
        assert hold.mean_n == pytest.approx(force, rel=0.02)
    assert [h.point for h in rec.holds] == ["Trapezius L", "Trapezius R"]
    assert [m.t_s for m in rec.marks] == pytest.approx(script.marks, abs=0.05)
    assert all(m.source is MarkSource.DEVICE for m in rec.marks)
    assert [(a.kind, a.hold_index) for a in rec.alerts] == [(AlertKind.WARN, 1)]
    assert rec.alerts[0].t_s == pytest.approx(script.warn_s, abs=0.1)
    assert rec.stats.lost_samples == 0 and rec.gaps == []
    t_s, raw = store.load_samples(sid)
    # stopped at the end of the scenario, or by --duration: exactly rate × duration
    assert rec.stats.samples == len(t_s) == samples
    assert t_s[0] == 0.0
    assert np.allclose(np.diff(t_s), 1.0 / RATE_HZ)
    assert store.integrity_check() == "ok"


def test_record_through_sim_url_reproduces_the_script(scenario_file, db_path, capsys):
    port = f"sim://e2e?scenario={scenario_file}&speed=0"
    code = main(["record", "--port", port, "--db", str(db_path),
                 "--points", "Trapezius L;Trapezius R", "--client", "C-17"])  # fmt: skip
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    sid = out[-1]
    _check_session(db_path, sid, FULL, int(RATE_HZ * FULL.duration_s))
    assert SessionStore(db_path).load_session(sid).meta.client == "C-17"


@pytest.mark.slow
def test_record_through_a_real_pty_at_real_time(tmp_path, db_path):
    scenario_file = tmp_path / "short.toml"
    scenario_file.write_text(SHORT_SCENARIO)
    sim = subprocess.Popen(
        [sys.executable, "-m", "logger.cli", "simulate", "--pty", "--scenario", str(scenario_file)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        pty_path = sim.stdout.readline().strip()
        assert pty_path.startswith("/dev/")
        rec = subprocess.run(
            [sys.executable, "-m", "logger.cli", "record", "--port", pty_path, "--duration",
             str(SHORT_RECORD_S), "--db", str(db_path), "--points", "Trapezius L;Trapezius R"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        sim.terminate()
        sim.wait(10)
        sim.stdout.close()
    assert rec.returncode == 0, rec.stderr
    sid = rec.stdout.strip().splitlines()[-1]
    _check_session(db_path, sid, SHORT, int(RATE_HZ * SHORT_RECORD_S))


def test_corruption_and_unplug_are_counted_exactly(scenario_file, db_path):
    url = (f"sim://faulty?scenario={scenario_file}&speed=0&seed=3"
           "&corrupt=0.0005&drop=0.0002&unplug_at_s=12.0&unplug_for_s=1.5")  # fmt: skip
    live = LiveSession(url, Config(), db_path=db_path)
    live.arm_recording(points=[])
    live.start()
    try:
        assert wait_until(live.finished.is_set, 30.0)
        device = registered_device(url)
        assert device is not None
        injected = device.injected
    finally:
        sid = live.stop()
    assert sid is not None
    rec = SessionStore(db_path).load_session(sid)
    assert injected.unplugs == 1 and injected.samples_lost > 0
    # no plan given: each device mark adds an ad-hoc point, stored with the session
    assert [p.name for p in rec.points] == ["Point 1", "Point 2"]
    assert [m.point_index for m in rec.marks] == [0, 1]
    assert rec.stats.lost_samples == injected.samples_lost
    assert sum(g.lost_samples for g in rec.gaps) == injected.samples_lost
    assert rec.stats.reconnects >= 1
    disconnect = [g for g in rec.gaps if g.cause is GapCause.DISCONNECT]
    assert len(disconnect) == 1
    assert disconnect[0].start_s == pytest.approx(12.0, abs=0.05)
    assert disconnect[0].end_s == pytest.approx(13.5, abs=0.05)
    assert any(g.cause is GapCause.CRC for g in rec.gaps)
    assert rec.stats.samples + rec.stats.lost_samples == int(RATE_HZ * DURATION_S)
    # the holds lie outside the outage: still exact
    assert len(rec.holds) == 2
    for hold, (start, end, force) in zip(rec.holds, EXPECTED_HOLDS, strict=True):
        assert hold.start_s == pytest.approx(start, abs=0.1)
        assert hold.end_s == pytest.approx(end, abs=0.1)
        assert hold.mean_n == pytest.approx(force, rel=0.02)


@pytest.mark.slow
def test_kill_9_leaves_an_interrupted_session_with_everything_committed(db_path, tmp_path):
    long = tmp_path / "long.toml"
    long.write_text('[[steps]]\naction = "hold"\nforce_n = 20.0\nseconds = 120.0\n')
    proc = subprocess.Popen(
        [sys.executable, "-m", "logger.cli", "record", "--port",
         f"sim://kill?scenario={long}&speed=1", "--db", str(db_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert wait_until(db_path.exists, 20.0)

        def samples_committed() -> int:
            con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
            try:
                return con.execute("SELECT COALESCE(SUM(n), 0) FROM chunks").fetchone()[0]
            except sqlite3.OperationalError:
                return 0
            finally:
                con.close()

        assert wait_until(lambda: samples_committed() > 0, 20.0)
        started = time.monotonic()
        first = samples_committed()
        time.sleep(2.5)
        streamed_s = time.monotonic() - started
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(10)
    store = SessionStore(db_path, redetect=redetect_events)  # notices the dead recording
    sessions = store.list_sessions()
    assert len(sessions) == 1
    rec = store.load_session(sessions[0].id)
    assert rec.status is SessionStatus.INTERRUPTED
    t_s, _ = store.load_samples(rec.id)
    # every sample older than 0.5 s at the kill is there (1 kHz, real time)
    assert len(t_s) >= first + RATE_HZ * (streamed_s - 0.5) * 0.95
    assert np.all(np.diff(t_s) > 0)
    assert store.integrity_check() == "ok"
    # the hold under way at the kill was never finished by its recorder: recovery re-ran
    # hold detection on the stored samples and kept it, flagged as cut short
    [hold] = rec.holds
    assert hold.cut_short
    assert hold.start_s == pytest.approx(0.25, abs=0.01)  # 5 N, 0.25 s into a 1 s ramp
    assert hold.end_s == pytest.approx(t_s[-1], abs=0.01)
    assert hold.mean_n == pytest.approx(20.0, rel=0.02)


def test_unknown_port_is_a_device_error(db_path, capsys):
    assert main(["record", "--port", "/dev/does-not-exist-42", "--db", str(db_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "/dev/does-not-exist-42" in err[0]
    assert not db_path.exists() or SessionStore(db_path).list_sessions() == []


def test_malformed_config_is_refused_before_anything_is_written(tmp_path, db_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[limits]\nwarn_n = 50.0\nmax_n = 40.0\n")
    code = main(["record", "--port", "sim://?speed=0", "--db", str(db_path), "--config", str(cfg)])
    assert code == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err and "warn_n" in err
    assert not db_path.exists()


def _fake_device_with_protocol_major(major: int) -> tuple[str, threading.Thread, int]:
    """A real pty whose far end answers HELLO with an IDENTITY of another protocol major."""
    from firmware_protocol.framing import FrameDecoder, encode_frame
    from firmware_protocol.messages import AdcKind, Hello, Identity

    master, slave = os.openpty()
    path = os.ttyname(slave)

    def serve() -> None:
        dec = FrameDecoder()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                data = os.read(master, 256)
            except OSError:
                return
            if any(isinstance(f.msg, Hello) for f in dec.feed(data)):
                ident = Identity(major, 0, (9, 0, 0), "FUTURE-1", AdcKind.HX711, 24, 1, 80,
                                 10, 80, 4000.0, 0, 256)  # fmt: skip
                os.write(master, encode_frame(ident, 1))
                return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return path, thread, master


def test_a_device_speaking_another_protocol_major_is_refused(db_path, capsys):
    path, thread, master = _fake_device_with_protocol_major(2)
    try:
        code = main(["record", "--port", path, "--db", str(db_path)])
    finally:
        thread.join(5)
        os.close(master)
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "protocol 2.0" in err[0]
    assert not db_path.exists() or SessionStore(db_path).list_sessions() == []


def test_a_pyserial_url_other_than_sim_goes_through_the_same_reader(scenario_file, db_path):
    """socket:// to the simulator's TCP server: the same bytes, the same session."""
    from firmware_protocol.sim.server import TcpServer

    assert "firmware_protocol.sim" in serial.protocol_handler_packages
    server = TcpServer(f"sim://tcp?scenario={scenario_file}&speed=0", "127.0.0.1", 0)
    try:
        code = main(["record", "--port", f"socket://127.0.0.1:{server.address[1]}",
                     "--duration", "12", "--db", str(db_path)])  # fmt: skip
    finally:
        server.close()
    assert code == 0
    rec = SessionStore(db_path).load_session(SessionStore(db_path).list_sessions()[0].id)
    assert rec.stats.samples == 12 * RATE_HZ and rec.stats.lost_samples == 0
    assert len(rec.holds) == 1


@pytest.mark.parametrize(
    ("port", "names"),
    [
        ("sim://?scenario=no-such-scenario", "no-such-scenario"),
        ("sim://?speed=abc", "speed"),
        ("sim://?bogus=1", "bogus"),
        ("foo://bar", "foo"),
    ],
)
def test_a_port_that_cannot_mean_anything_is_bad_input_in_one_line(port, names, db_path, capsys):
    assert main(["record", "--port", port, "--db", str(db_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and names in err[0]
    assert not db_path.exists()


def test_the_recorded_config_holds_the_plan_in_force(scenario_file, db_path, capsys):
    port = f"sim://plan?scenario={scenario_file}&speed=0"
    assert main(["record", "--port", port, "--db", str(db_path), "--duration", "10",
                 "--points", "Trapezius L;Trapezius R"]) == 0  # fmt: skip
    captured = capsys.readouterr()
    rec = SessionStore(db_path).load_session(captured.out.strip().splitlines()[-1])
    assert [p["name"] for p in rec.meta.config["points"]] == ["Trapezius L", "Trapezius R"]
    # the hold still open at --duration is closed at the stop and counted in the summary
    assert len(rec.holds) == 1 and "holds: 1 " in captured.err


def test_record_warns_about_a_calibration_older_than_30_days(scenario_file, db_path, capsys):
    """The newest stored calibration is used, and named stale when it is over 30 days old."""
    import dataclasses

    from calibration.models import fit_calibration
    from logger.store import CalibrationStore

    g = 9.80665
    fit = fit_calibration([(120000.0 + 4000.0 * m * g, m) for m in (0.0, 0.5, 1.0, 2.0)])
    old = dataclasses.replace(fit, calibration=fit.calibration.with_source(
        "fit", "2026-09-01T10:00:00Z"))  # fmt: skip
    CalibrationStore(db_path).save("SIM-E2E", old)
    port = f"sim://old-cal?scenario={scenario_file}&speed=0"
    assert main(["record", "--port", port, "--db", str(db_path), "--duration", "1"]) == 0
    captured = capsys.readouterr()
    assert "calibration is" in captured.err and "days old" in captured.err
    rec = SessionStore(db_path).load_session(captured.out.strip().splitlines()[-1])
    assert rec.meta.calibration.source.startswith("stored:1")
    assert rec.meta.calibration.counts_per_n == pytest.approx(4000.0, rel=1e-6)


@pytest.mark.slow
def test_a_point_marked_before_recording_is_where_the_session_starts(tmp_path, db_path):
    """Mark first, press Record a moment later: the session starts on that point."""
    from logger.records import Point

    path = tmp_path / "mark-first.toml"
    path.write_text(
        '[[steps]]\naction = "rest"\nseconds = 0.3\n[[steps]]\naction = "mark"\n'
        '[[steps]]\naction = "rest"\nseconds = 1.0\n'
        # a hold of 2.4 s from its onset (the shortest that is a hold: 2 s)
        '[[steps]]\naction = "hold"\nforce_n = 20.0\nramp_s = 0.5\nseconds = 2.0\n'
    )
    plan = [Point(0, "Upper trapezius L"), Point(1, "Upper trapezius R")]
    live = LiveSession(f"sim://mark-first?scenario={path}&speed=1", Config(),
                       db_path=db_path, points=plan)  # fmt: skip
    live.start()
    try:
        assert wait_until(lambda: live.plan.current_index == 0, 10.0)
        sid = live.start_recording(points=plan)
        assert wait_until(live.finished.is_set, 10.0)
    finally:
        live.stop()
    rec = SessionStore(db_path).load_session(sid)
    assert [(m.t_s, m.point_index) for m in rec.marks] == [(0.0, 0)]
    assert rec.marks[0].source is MarkSource.DEVICE
    assert [h.point for h in rec.holds] == ["Upper trapezius L"]


def test_record_uses_the_configuration_the_app_saved(tmp_path, db_path, capsys, monkeypatch):
    """Without --config, `record` reads the file the app's Settings save: its sessions get
    the same point plan as the app's, so they can be compared point by point."""
    from logger.config import Config, Limits, save_config
    from logger.paths import default_config_path
    from logger.records import Point

    saved = default_config_path()
    assert not saved.exists()
    port = "sim://saved?scenario=demo&speed=0"
    assert main(["record", "--port", port, "--db", str(db_path), "--duration", "2"]) == 0
    sid = capsys.readouterr().out.strip().splitlines()[-1]
    names = [p.name for p in SessionStore(db_path).load_session(sid).points]
    assert names[:2] == ["Upper trapezius L", "Levator scapulae L"]  # the demo's, as the app
    saved.parent.mkdir(parents=True, exist_ok=True)
    plan = [Point(0, "Rhomboid L"), Point(1, "Rhomboid R")]
    save_config(Config(limits=Limits(warn_n=33.0), points=plan), saved)
    assert main(["record", "--port", port, "--db", str(db_path), "--duration", "2"]) == 0
    rec = SessionStore(db_path).load_session(capsys.readouterr().out.strip().splitlines()[-1])
    assert [p.name for p in rec.points] == ["Rhomboid L", "Rhomboid R"]
    assert rec.meta.config["limits"]["warn_n"] == 33.0
    monkeypatch.setenv("PRESSURE_LOGGER_CONFIG", str(tmp_path / "elsewhere.toml"))
    assert default_config_path() == tmp_path / "elsewhere.toml"
