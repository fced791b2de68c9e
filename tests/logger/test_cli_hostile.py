"""Every command, fed what a hostile tester would type: one line on stderr naming what is
wrong, exit code 2 for bad input (1 for a device or I/O failure), never a traceback, and
nothing written."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import tty

import pytest

from logger.cli import main
from logger.records import SessionStatus
from logger.store import SessionStore

from .test_store import fill, make_meta

NOT_UTF8 = os.fsdecode(b"caf\xe9")  # what the shell hands Python for Latin-1 bytes


@pytest.fixture
def sid(db_path):
    store = SessionStore(db_path)
    sid = store.create_session(make_meta())
    fill(store, sid, 0.2)
    store.finish_session(sid, SessionStatus.COMPLETE)
    store.close()
    return sid


def one_line(capsys, command: str) -> str:
    """The single stderr line of a refused command (its text after the prefix)."""
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    prefix = f"pressure-logger {command}: error: "
    assert lines[0].startswith(prefix), lines[0]
    return lines[0][len(prefix) :]


# ------------------------------------------------------------------ non-UTF-8 arguments


@pytest.mark.parametrize("command", ["export", "report", "recalibrate"])
def test_a_session_id_that_is_not_utf8_is_bad_input(db_path, sid, tmp_path, capsys, command):
    argv = [command, NOT_UTF8, "--db", str(db_path)]
    if command in ("export", "report"):
        argv += ["--out", str(tmp_path / "x.pdf")]
    if command == "export":
        argv += ["--format", "csv"]
    assert main(argv) == 2
    assert one_line(capsys, command) == r"SESSION: 'caf\udce9' is not valid UTF-8 (byte offset 3)"
    assert not (tmp_path / "x.pdf").exists()


@pytest.mark.parametrize("flag", ["--points", "--client", "--therapist", "--notes"])
def test_record_text_that_is_not_utf8_is_refused_before_the_device(tmp_path, capsys, flag):
    db = tmp_path / "lib.sqlite3"
    argv = ["record", "--port", "sim://?speed=0", "--duration", "1", "--db", str(db)]
    assert main([*argv, flag, NOT_UTF8]) == 2
    assert one_line(capsys, "record").startswith(f"{flag}: 'caf\\udce9' is not valid UTF-8")
    assert not db.exists()


@pytest.mark.parametrize(("argv", "flag"), [
    (["--scenario", NOT_UTF8], "--scenario"),
    (["--set", f"uid={NOT_UTF8}"], "--set"),
])  # fmt: skip
def test_simulate_text_that_is_not_utf8(capsys, argv, flag):
    assert main(["simulate", "--pty", *argv]) == 2
    assert one_line(capsys, "simulate").startswith(f"{flag}: ")


def test_file_names_may_be_any_bytes(db_path, sid, tmp_path):
    """A file name is whatever bytes the OS allows; `export` prints it back as those bytes,
    even where stdout is strict UTF-8."""
    out = tmp_path / NOT_UTF8
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    argv = ["export", sid, "--format", "csv", "--out", str(out), "--db", str(db_path)]
    done = subprocess.run(
        [sys.executable, "-m", "logger.cli", *argv], capture_output=True, timeout=60, env=env
    )
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout == os.fsencode(out) + b"\n"
    assert out.read_text().startswith("t_s,")


# ------------------------------------------------------------------------ absurd numbers


def test_recalibrate_a_calibration_id_beyond_sqlite(db_path, sid, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["recalibrate", sid, "--calibration", "9" * 30, "--db", str(db_path)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "expected a calibration id" in err


@pytest.mark.parametrize("masses", ["0,1e308", "0,1e30", "0,1e-300"])
def test_calibrate_absurd_masses(tmp_path, capsys, masses):
    db = tmp_path / "lib.sqlite3"
    argv = ["calibrate", "--port", "sim://?speed=0&scenario=calibration", "--auto"]
    assert main([*argv, "--masses-kg", masses, "--db", str(db)]) == 2
    assert "kg is not 0 or 0.001..1000 kg" in one_line(capsys, "calibrate")
    assert not db.exists()


@pytest.mark.parametrize(
    ("query", "key"),
    [("speed=1e308", "speed"), ("speed=nan", "speed"), ("boot_s=1e300", "boot_s"),
     ("counts_per_n=1e300", "counts_per_n"), ("unplug_at_s=1e308", "unplug_at_s")],
)  # fmt: skip
def test_record_absurd_sim_query_values(tmp_path, capsys, query, key):
    db = tmp_path / "lib.sqlite3"
    assert main(["record", "--port", f"sim://?{query}", "--duration", "1", "--db", str(db)]) == 2
    assert f"key '{key}'" in one_line(capsys, "record")
    assert not db.exists() or not SessionStore(db).list_sessions()


def test_record_a_scenario_whose_gain_no_identity_can_carry(tmp_path, capsys):
    scenario = tmp_path / "s.toml"
    scenario.write_text('[device]\ncounts_per_n = 1e300\n[[steps]]\naction="rest"\nseconds=1\n')
    port = f"sim://?scenario={scenario}&speed=0"
    assert main(["record", "--port", port, "--db", str(tmp_path / "lib.sqlite3")]) == 2
    msg = one_line(capsys, "record")
    assert str(scenario) in msg and "'counts_per_n'" in msg and "1e+300" in msg


def test_record_global_limits_beyond_any_sensor_name_the_key(tmp_path, capsys):
    """Used to say "no device on 'sim://…'" (exit 1): the config was at fault."""
    config = tmp_path / "c.toml"
    config.write_text("[limits]\nwarn_n = 1e6\nmax_n = 2e6\n")
    argv = ["record", "--port", "sim://?speed=0", "--duration", "1", "--config", str(config)]
    assert main([*argv, "--db", str(tmp_path / "lib.sqlite3")]) == 2
    assert one_line(capsys, "record") == f"{config}: limits.warn_n = 1000000.0: must be <= 2000"


# ------------------------------------------------------------------ malformed files


def test_record_a_deeply_nested_config(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text("units = " + "[" * 5000 + "]" * 5000 + "\n")
    argv = ["record", "--port", "sim://?speed=0", "--config", str(config)]
    assert main([*argv, "--db", str(tmp_path / "lib.sqlite3")]) == 2
    assert one_line(capsys, "record") == f"{config}: invalid TOML: nested too deeply"


def test_simulate_a_deeply_nested_scenario(tmp_path, capsys):
    scenario = tmp_path / "s.toml"
    scenario.write_text("x = " + "[" * 5000 + "]" * 5000 + '\n[[steps]]\naction="rest"\n')
    assert main(["simulate", "--pty", "--scenario", str(scenario)]) == 2
    assert one_line(capsys, "simulate") == f"{scenario}: not valid TOML: nested too deeply"


def test_gui_refuses_a_library_that_is_not_one_before_any_window(tmp_path):
    db = tmp_path / "lib.sqlite3"
    db.write_bytes(b"\xff\xfe not a database")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-m", "logger.cli", "gui", "--db", str(db)],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == f"pressure-logger gui: error: {db}: not a session database " \
        "(file is not a database)\n"  # fmt: skip


# ------------------------------------------------------------ export onto special files


def test_export_into_a_fifo_writes_through(db_path, sid, tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    assert main(["export", sid, "--format", "json", "--out", str(fifo), "--db", str(db_path)]) == 0
    reader.join(10)
    assert got and got[0].startswith(b"{") and b'"schema"' in got[0]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_export_onto_a_symlink_replaces_its_target_and_keeps_the_link(db_path, sid, tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    assert main(["export", sid, "--format", "csv", "--out", str(link), "--db", str(db_path)]) == 0
    assert link.is_symlink() and real.read_text().startswith("t_s,force_n,raw\n")


def test_export_onto_a_device_writes_through(db_path, sid):
    master, slave = os.openpty()  # a real character device that a test may write
    try:
        tty.setraw(slave)
        path = os.ttyname(slave)
        received = bytearray()

        def drain() -> None:
            while b"\n" not in received[-200:] or len(received) < 200:
                chunk = os.read(master, 65536)
                if not chunk:
                    return
                received.extend(chunk)

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        assert main(["export", sid, "--format", "csv", "--out", path, "--db", str(db_path)]) == 0
        reader.join(10)
        assert stat.S_ISCHR(os.lstat(path).st_mode)
        assert received.startswith(b"t_s,force_n,raw\n")
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize("window", ["1e-300", "0.001", "nan", "31"])
def test_calibrate_a_window_too_short_to_see_a_plateau(tmp_path, capsys, window):
    """A 1 ms window never told the next plateau from noise: calibrate waited forever."""
    argv = ["calibrate", "--port", "sim://?speed=0&scenario=calibration", "--auto"]
    argv += ["--masses-kg", "0,0.5", "--window-s", window, "--db", str(tmp_path / "c.db")]
    assert main(argv) == 2
    assert one_line(capsys, "calibrate").endswith("must be in [0.1, 30] seconds")


def test_export_to_stdout_when_stdout_is_a_pipe(db_path, sid):
    """Standard output as --out (/proc/self/fd/1, which /dev/stdout links to: a writer that
    replaced the link in /dev would break the machine) resolves to "pipe:[…]", which has no
    directory to put a temporary in: the file is written through by the name given."""
    argv = ["export", sid, "--format", "csv", "--out", "/proc/self/fd/1", "--db", str(db_path)]
    done = subprocess.run(
        [sys.executable, "-m", "logger.cli", *argv], capture_output=True, timeout=60
    )
    assert (done.returncode, done.stderr) == (0, b"")
    lines = done.stdout.splitlines()
    assert lines[0] == b"t_s,force_n,raw" and len(lines) > 1
    assert all(line.count(b",") == 2 for line in lines)  # no path line after the data


def test_a_reader_that_goes_away_ends_the_command_quietly(db_path, sid):
    """`pressure-logger sessions | head -1`: no traceback when head has read enough."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "logger.cli", "sessions", "--json", "--db", str(db_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the command has written anything
    with proc.stderr:
        err = proc.stderr.read()
    assert proc.wait(60) == 1
    assert err == b""
