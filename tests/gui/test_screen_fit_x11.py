"""The windows fit a laptop screen under a real X server (Xvfb), with the real fonts.

Offscreen font metrics are not X's, so these tests start their own Xvfb at 1280×800 and
1366×768 and run the programs there: ``pressure-logger gui`` as a user starts it (its
window geometry and size hints read back with xdotool and xprop, before and after the
device connects), and ``scripts/laptop_screenshots.py`` (the live window, the calibration
wizard and the review window checked for clipped or overlapping controls and captured).

Without Xvfb, xdotool and xprop these tests skip, unless PRESSURE_LOGGER_REQUIRE_X11 is set
(CI sets it, and installs them): then a missing tool is a failure.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("Xvfb", "xdotool", "xprop")
SCREENS = [(1280, 800), (1366, 768)]
MIN_W, MIN_H = 1280, 720


def _need_tools() -> None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if not missing:
        return
    message = f"not installed: {', '.join(missing)} (apt-get install xvfb xdotool x11-utils)"
    if os.environ.get("PRESSURE_LOGGER_REQUIRE_X11"):
        pytest.fail(message)
    pytest.skip(message)


def _start_xvfb(width: int, height: int) -> tuple[subprocess.Popen, int]:
    """An Xvfb on a display number of its own, drawn at random from 1000–29999: left to
    itself (``-displayfd`` alone) every Xvfb on the machine takes the lowest free number,
    and one that just stopped there may remove the socket of the next one (parallel test
    workers, other suites). A number in use makes Xvfb exit at once: draw another.
    ``-noreset``: by default Xvfb resets itself when its last client leaves, and a client
    connecting meanwhile is refused ("could not connect to display", seen under load when
    the tests of a module share the server)."""
    rng = random.SystemRandom()
    for _ in range(20):
        number = rng.randrange(1000, 30000)
        read_fd, write_fd = os.pipe()
        server = subprocess.Popen(
            ["Xvfb", f":{number}", "-displayfd", str(write_fd), "-screen", "0",
             f"{width}x{height}x24", "-nolisten", "tcp", "-noreset"],
            pass_fds=(write_fd,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        os.close(write_fd)
        with os.fdopen(read_fd) as f:
            ready = f.readline().strip()  # the number once it accepts clients, else EOF
        if ready == str(number):
            return server, number
        server.wait(timeout=10)
    pytest.fail(f"Xvfb did not start on 20 display numbers (last exit {server.returncode})")


@pytest.fixture(scope="module", params=SCREENS, ids=lambda s: f"{s[0]}x{s[1]}")
def xdisplay(request) -> Iterator[tuple[str, int, int]]:
    """An Xvfb of the parametrised size: ``(DISPLAY, width, height)``, shared by the tests
    of that size (each test's programs have ended, their windows gone, when it returns)."""
    _need_tools()
    width, height = request.param
    server, number = _start_xvfb(width, height)
    try:
        yield f":{number}", width, height
    finally:
        server.terminate()
        server.wait(timeout=10)


def _env(display: str, home: Path) -> dict[str, str]:
    env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb", HOME=str(home))
    env.pop("WAYLAND_DISPLAY", None)
    return env


def _x(env: dict[str, str], *cmd: str) -> str:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=10).stdout


def _geometry(env: dict[str, str], wid: str) -> tuple[int, int, int, int]:
    out = _x(env, "xdotool", "getwindowgeometry", "--shell", wid)
    g = dict(line.split("=", 1) for line in out.split() if "=" in line)
    return int(g["X"]), int(g["Y"]), int(g["WIDTH"]), int(g["HEIGHT"])


def _min_size(env: dict[str, str], wid: str) -> tuple[int, int]:
    hints = _x(env, "xprop", "-id", wid, "WM_NORMAL_HINTS")
    m = re.search(r"minimum size: (\d+) by (\d+)", hints)
    assert m, hints
    return int(m[1]), int(m[2])


def _run(
    script: str, *args: str, env: dict[str, str], timeout_s: float
) -> subprocess.CompletedProcess:
    """``script`` run to its end; one still running after ``timeout_s`` is made to print
    where each of its threads is (faulthandler, on SIGABRT) and the test fails with that."""
    proc = subprocess.Popen(
        [sys.executable, "-X", "faulthandler", str(ROOT / script), *args],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        out, err = proc.communicate(timeout=30)
        pytest.fail(f"{script} still running after {timeout_s:g} s\n{out}\n{err}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_the_live_window_opens_inside_the_screen_and_stays_there(xdisplay, tmp_path):
    display, width, height = xdisplay
    env = _env(display, tmp_path)
    # -v: the reader logs its states, so the test sees when the device is streaming
    app = subprocess.Popen(
        [sys.executable, "-m", "logger.cli", "-v", "gui", "--db", str(tmp_path / "s.sqlite3"),
         "--config", str(tmp_path / "config.toml"), "--port", "sim://fit?scenario=demo&loop=1"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    streaming = threading.Event()

    def read_output() -> None:  # all of it, so that the app never blocks on a full pipe
        assert app.stdout is not None
        for line in app.stdout:
            lines.append(line)
            if ": streaming" in line:
                streaming.set()

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    try:
        wid = ""
        deadline = time.monotonic() + 60
        while not wid and time.monotonic() < deadline and app.poll() is None:
            time.sleep(0.1)
            wid = _x(
                env, "xdotool", "search", "--onlyvisible", "--name", "^pressure-logger"
            ).strip()
        if not wid:
            reader.join(5)  # whatever the app said before it ended
        assert wid, f"no window appeared (exit {app.poll()}): {''.join(lines)}"
        wid = wid.split()[0]
        first = _geometry(env, wid)
        assert streaming.wait(60), "".join(lines)  # the simulator connected and streams
        # … and the window has shown it for a while (40 frames a second): it
        # was never resized meanwhile
        until = time.monotonic() + 1.0
        while time.monotonic() < until:
            assert _geometry(env, wid) == first  # connecting did not resize the window
            time.sleep(0.1)
        x, y, w, h = _geometry(env, wid)
        assert (x, y, w, h) == first
        assert x >= 0 and y >= 0 and x + w <= width and y + h <= height, (x, y, w, h)
        min_w, min_h = _min_size(env, wid)
        assert min_w <= MIN_W and min_h <= MIN_H, (min_w, min_h)
    finally:
        app.send_signal(signal.SIGTERM)
        app.wait(timeout=30)
        reader.join(10)
        app.stdout.close()  # type: ignore[union-attr]
    assert app.returncode == 0, "".join(lines)


def test_live_wizard_and_review_have_nothing_clipped_or_overlapping(xdisplay, tmp_path):
    display, width, height = xdisplay
    run = _run(
        "scripts/laptop_screenshots.py",
        *("--out-dir", str(tmp_path), "--at-s", "3", "--speed", "3", "--wizard-s", "0.3"),
        env=_env(display, tmp_path), timeout_s=90,
    )  # fmt: skip
    reports = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert [r["window"] for r in reports] == ["live", "calibration wizard", "review"], run.stderr
    for r in reports:
        assert r["screen"] == [width, height]
        assert r["inside_screen"], r
        assert r["minimum"][0] <= MIN_W and r["minimum"][1] <= MIN_H, r
        assert r["problems"] == [], r
        assert Path(r["screenshot"]).stat().st_size > 10_000  # a real picture of the screen
    assert run.returncode == 0, run.stderr


def test_a_keypad_digit_rates_pain_on_a_real_x_server(xdisplay, tmp_path):
    """Through X11's key mapping Qt matched a keypad 7 to the plain "7" shortcut (jump to
    point 7), never to "Num+7": only a real X server shows it (Qt's test events do not)."""
    display, _, _ = xdisplay
    run = _run(
        "tests/gui/keypad_probe.py", str(tmp_path), env=_env(display, tmp_path), timeout_s=90
    )
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    assert run.returncode == 0 and lines, run.stderr
    seen = json.loads(lines[-1])
    assert seen["rating"] == 7.0
    assert seen["point_after_keypad"] == seen["point_before"]  # no jump
    assert seen["point_after_2"] == 1  # the top-row 2 still jumps to the second point
