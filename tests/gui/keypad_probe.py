"""Run under a real X server by test_screen_fit_x11.py: the live window on the simulator,
keys typed with xdotool as a keyboard would (X11's own key mapping, not Qt's test
events), and what the window made of them printed as one JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
import time
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

    def key(name: str) -> None:
        subprocess.run(["xdotool", "key", name], check=True, timeout=10)
        settle(0.5)

    window.show()
    window.connect_device("sim://keypad?scenario=demo&loop=1")
    deadline = time.monotonic() + 30.0
    while window.live is None or window.live.device is None:
        settle(0.05)
        if time.monotonic() > deadline:
            return 1
    settle(0.5)
    subprocess.run(["xdotool", "windowfocus", str(int(window.winId()))], timeout=10)
    settle(0.3)
    live = window.live
    before = live.plan.current_index
    key("KP_7")
    seen = {"rating": live.current_rating, "point_before": before,
            "point_after_keypad": live.plan.current_index}  # fmt: skip
    key("2")
    seen["point_after_2"] = live.plan.current_index
    print(json.dumps(seen), flush=True)
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
