"""The clinical protocols in the live window, on the simulator, captured as a user sees them
(→ docs/ppt-live.png, docs/drill-view.png): a PPT round part-way through its trials, and
a trainee's drill during a feedback trial.

Meant for a real X server of laptop size::

    Xvfb :99 -screen 0 1280x800x24 &
    DISPLAY=:99 QT_QPA_PLATFORM=xcb .venv/bin/python scripts/protocol_screenshots.py

Prints one JSON line per capture (device time, what the window showed) and exits 1 when a
capture did not show what it was meant to.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    from firmware_protocol.sim.scenario import load_scenario
    from gui.app import create_app
    from gui.dialogs.session_dialog import SessionDetails
    from gui.main_window import MainWindow
    from gui.screen import show_fitted
    from gui.sound import Sounder
    from logger.config import Config

    app = create_app()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    failed = False

    def settle(seconds: float = 0.3) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    def open_window(tmp: str, config: Config, url: str) -> MainWindow:
        window = MainWindow(
            config,
            config_path=Path(tmp) / "config.toml",
            db_path=Path(tmp) / "sessions.sqlite3",
            sounder=Sounder(muted=True),
        )
        show_fitted(window, 1600, 960)
        window.device_bar.set_url(url)
        window.connect_device(url)
        deadline = time.monotonic() + 60.0
        while not window.record_button.isEnabled():
            settle(0.02)
            if time.monotonic() > deadline:
                sys.exit("the simulator did not identify itself")
        return window

    def wait_for(window: MainWindow, t_s: float) -> None:
        live = window.live
        assert live is not None
        while live.t_s < t_s:
            settle(0.02)

    def capture(window: MainWindow, name: str, ok: bool, shown: dict) -> None:
        nonlocal failed
        settle(0.5)
        path = args.out_dir / name
        window.screen().grabWindow(0).save(str(path))
        failed |= not ok
        print(json.dumps({"screenshot": str(path), "ok": ok, **shown}), flush=True)

    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        # PPT: two points, 50 kPa/s on a 1 cm² probe; limits above the thresholds
        config = Config.from_dict({
            "contact_area_cm2": 1.0,
            "limits": {"warn_n": 60.0, "max_n": 80.0},
            "points": [{"name": "Upper trapezius L"}, {"name": "Levator scapulae L"}],
        })  # fmt: skip
        window = open_window(tmp, config, "sim://shots-ppt?scenario=ppt")
        details = SessionDetails("C-0042", "A. Therapist", "PPT before treatment",
                                 list(config.points))  # fmt: skip
        window.start_recording(details)
        window.ppt_round("pre")
        trial = load_scenario("ppt").ppt_trials()[4]  # the 2nd point's 2nd trial, mid-ramp
        assert trial.signal_s is not None
        wait_for(window, trial.start_s + 0.75 * (trial.signal_s - trial.start_s))
        texts = window.ppt_panel.texts()
        capture(window, "ppt-live.png", window.ppt_panel.isVisible(),
                {"t_s": window.live.t_s if window.live else None, "panel": texts})  # fmt: skip
        window.close()

        # a drill: the built-in "basic", the trainee on its fourth (feedback) trial
        window = open_window(tmp, Config(), "sim://shots-drill?scenario=drill")
        window.start_drill("basic")
        attempt = load_scenario("drill").attempts()[3]
        wait_for(window, attempt.plateau_start_s + 2.0)
        view = window.drill_view
        capture(window, "drill-view.png", view.isVisible() and view.force_visible,
                {"t_s": window.live.t_s if window.live else None})  # fmt: skip
        window.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
