"""Run under a real X server by test_screen_fit_x11.py: the live window on the simulator,
keys typed with xdotool as a keyboard would (X11's own key mapping, not Qt's test
events), and what the window made of them printed as one JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from gui.app import create_app
from gui.main_window import MainWindow
from gui.sound import Sounder
from logger.config import Config
from logger.records import Point


def main() -> int:
    tmp = Path(sys.argv[1])
    app = create_app()
    window = MainWindow(Config(points=[Point(0, "A"), Point(1, "B"), Point(2, "C")]),
                        config_path=tmp / "config.toml", db_path=tmp / "s.sqlite3",
                        sounder=Sounder(muted=True))  # fmt: skip

    def settle(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    def until(ready: Callable[[], bool], timeout_s: float = 30.0) -> bool:
        """Waits for what the window shows, not for a fixed time (the machine may be busy)."""
        deadline = time.monotonic() + timeout_s
        while not ready() and time.monotonic() < deadline:
            settle(0.02)
        return ready()

    def key(name: str, done: Callable[[], bool]) -> None:
        subprocess.run(["xdotool", "key", name], check=True, timeout=10)
        until(done, 10.0)
        settle(0.1)  # anything else the key did (a jump) has arrived by now

    window.show()
    window.connect_device("sim://keypad?scenario=demo&loop=1")
    handle = window.windowHandle()
    if not until(lambda: window.live is not None and window.live.device is not None
                 and handle.isExposed()):  # fmt: skip
        return 1
    subprocess.run(["xdotool", "windowfocus", str(int(window.winId()))], timeout=10)
    until(window.isActiveWindow, 10.0)
    live = window.live
    before = live.plan.current_index
    key("KP_7", lambda: live.current_rating is not None)
    seen = {"rating": live.current_rating, "point_before": before,
            "point_after_keypad": live.plan.current_index}  # fmt: skip
    key("2", lambda: live.plan.current_index != seen["point_after_keypad"])
    seen["point_after_2"] = live.plan.current_index
    print(json.dumps(seen), flush=True)
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
