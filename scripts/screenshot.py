"""Make docs/screenshot.png from the real app mid-session.

The live window is connected to the built-in simulator playing the ``demo`` scenario
(real time, so the status line shows true rates), a recording is started with the demo's
point plan, and the window is captured 100 s into the session: the fourth point's 60 s
hold is in progress and the third point's over-limit moment is in the alert log.

    .venv/bin/python scripts/screenshot.py [--out docs/screenshot.png] [--at-s 100]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from gui.app import create_app  # noqa: E402
from gui.dialogs.session_dialog import SessionDetails  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402
from gui.sound import Sounder  # noqa: E402
from logger.config import load_config  # noqa: E402
from logger.paths import DEMO_CONFIG  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--at-s", type=float, default=100.0, help="device time of the capture")
    parser.add_argument("--speed", type=float, default=1.0, help="simulator speed (1: real time)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    app = create_app()
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        config = load_config(DEMO_CONFIG)  # what `make run` shows on a first start
        window = MainWindow(
            config,
            config_path=Path(tmp) / "config.toml",
            db_path=Path(tmp) / "sessions.sqlite3",
            sounder=Sounder(muted=True),
        )
        window.resize(1600, 960)
        window.show()
        window.connect_device(f"sim://screenshot?scenario=demo&speed={args.speed:g}")
        live = window.live
        assert live is not None
        deadline = time.monotonic() + 60.0
        while not window.record_button.isEnabled():
            app.processEvents()
            if time.monotonic() > deadline:
                sys.exit("the simulator did not identify itself")
            time.sleep(0.01)
        window.start_recording(
            SessionDetails("C-017", "A. Therapist", "demo session", list(config.points))
        )
        while live.t_s < args.at_s:
            app.processEvents()
            time.sleep(0.005)
        for _ in range(5):  # let the last frame and its repaint through
            window.frame()
            app.processEvents()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(args.out))
        alerts = [line for line in window.alert_log.texts() if "warning" in line.lower()]
        hold = live.current_hold
        print(
            f"{args.out}: t = {live.t_s:.1f} s, hold in progress "
            f"{'yes' if hold is not None else 'no'}, alerts in the log {len(alerts)}"
        )
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
