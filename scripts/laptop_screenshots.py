"""The three windows on the screen they run on, checked and captured: live, calibration
wizard, review (→ docs/laptop-live.png, docs/laptop-wizard.png, docs/laptop-review.png);
with ``--protocols`` also the live window in a PPT round and a drill (→ docs/ppt-live.png,
docs/drill-view.png).

Meant for a real X server of laptop size, so the real fonts decide the layout::

    Xvfb :99 -screen 0 1280x800x24 &
    DISPLAY=:99 QT_QPA_PLATFORM=xcb .venv/bin/python scripts/laptop_screenshots.py

Each window is shown at its preferred size fitted to the screen (``gui.screen``); the
script prints one JSON line per window (screen, frame geometry, minimum size, the layout
problems ``gui.layout_check`` finds) and exits 1 when a window does not fit or a control
is clipped or overlaps another. The screen itself is captured, as a user would see it.
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
MIN_W, MIN_H = 1280, 720


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=ROOT / "docs")
    parser.add_argument("--at-s", type=float, default=76.0, help="device time of the capture")
    parser.add_argument("--speed", type=float, default=1.0, help="simulator speed")
    parser.add_argument("--wizard-s", type=float, default=2.5,
                        help="seconds the rig's third mass shows before the capture")  # fmt: skip
    parser.add_argument("--protocols", action="store_true",
                        help="also a PPT round and a drill (docs/ppt-live.png, "
                        "docs/drill-view.png; about a minute more)")  # fmt: skip
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    from firmware_protocol.sim.protocol_sim import place_mass
    from gui.app import create_app
    from gui.dialogs.calibration_wizard import CalibrationWizard, LiveRawSource
    from gui.dialogs.session_dialog import SessionDetails
    from gui.layout_check import layout_problems
    from gui.main_window import MainWindow
    from gui.review import ReviewWindow
    from gui.review.demo import build_demo_library
    from gui.screen import available_rect, show_fitted
    from gui.sound import Sounder
    from logger.config import load_config
    from logger.paths import DEMO_CONFIG
    from logger.store import SessionStore

    app = create_app()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    failed = False

    def settle(seconds: float = 0.3) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    def wait_for(ready, what: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not ready():
            if time.monotonic() > deadline:
                sys.exit(f"laptop_screenshots: {what} not within {timeout_s:g} s")
            settle(0.02)

    def check(name: str, window, capture: str) -> None:
        nonlocal failed
        settle()
        avail, frame, hint = (
            available_rect(window),
            window.frameGeometry(),
            window.minimumSizeHint(),
        )
        problems = layout_problems(window)
        inside = avail.contains(frame)
        small = (
            max(hint.width(), window.minimumWidth()) <= MIN_W
            and max(hint.height(), window.minimumHeight()) <= MIN_H
        )
        failed |= bool(problems) or not inside or not small
        path = args.out_dir / capture
        window.screen().grabWindow(0).save(str(path))
        report = {
            "window": name,
            "screen": [avail.width(), avail.height()],
            "frame": [frame.x(), frame.y(), frame.width(), frame.height()],
            "minimum": [hint.width(), hint.height()],
            "inside_screen": inside,
            "problems": problems,
            "screenshot": str(path),
        }
        print(json.dumps(report), flush=True)

    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        config = load_config(DEMO_CONFIG)
        window = MainWindow(
            config,
            config_path=Path(tmp) / "config.toml",
            db_path=Path(tmp) / "sessions.sqlite3",
            sounder=Sounder(muted=True),
        )
        show_fitted(window, 1600, 960)
        window.connect_device(f"sim://laptop?scenario=demo&speed={args.speed:g}")
        live = window.live
        assert live is not None
        wait_for(window.record_button.isEnabled, "the simulator identifying itself")
        window.start_recording(
            SessionDetails("C-017", "A. Therapist", "demo session", list(config.points))
        )
        wait_for(lambda: live.t_s >= args.at_s, f"the live session at {args.at_s:g} s")
        check("live", window, "laptop-live.png")

        # the wizard on the calibration scenario, its simulated rig placing the masses
        url = f"sim://laptop-rig?scenario=calibration&loop=1&speed={args.speed:g}"
        window.device_bar.set_url(url)
        window.connect_device(url)
        wait_for(
            lambda: window.live is not None and window.live.device is not None
            and window.live.ring is not None and window.live.t_s >= 1.0,
            "a second of the rig streaming",
        )  # fmt: skip
        wizard = CalibrationWizard(
            LiveRawSource(window.live), db_path=None, parent=window,
            rig=lambda m: place_mass(url, m),
        )  # fmt: skip
        wizard.show()
        wizard.masses_edit.setText("0, 0.5, 1, 2")
        wizard.start_readings()
        for _ in range(2):  # 0 kg, then 0.5 kg accepted; the rig puts on 1 kg
            deadline = time.monotonic() + 30.0
            while not wizard.accept_button.isEnabled() and time.monotonic() < deadline:
                settle(0.1)
            wizard.accept_reading()
        settle(args.wizard_s)
        check("calibration wizard", wizard, "laptop-wizard.png")
        wizard.reject()
        window.close()

        store = SessionStore(Path(tmp) / "demo.sqlite3")
        lib = build_demo_library(store)
        review = ReviewWindow(store)
        show_fitted(review, 1600, 960)
        review.open_session(lib.trainee[-1])
        review.set_reference(lib.reference)
        check("review", review, "laptop-review.png")
        review.close()
        store.close()

        if args.protocols:
            # a PPT round part-way through its trials (limits above the thresholds)
            from firmware_protocol.sim.scenario import load_scenario
            from logger.config import Config

            def live_on(config: Config, url: str) -> MainWindow:
                win = MainWindow(config, config_path=Path(tmp) / "protocols.toml",
                                 db_path=Path(tmp) / "protocols.sqlite3",
                                 sounder=Sounder(muted=True))  # fmt: skip
                show_fitted(win, 1600, 960)
                win.device_bar.set_url(url)
                win.connect_device(url)
                wait_for(win.record_button.isEnabled, f"{url} identifying itself")
                return win

            def until(win: MainWindow, t_s: float) -> None:
                wait_for(lambda: win.live is None or win.live.t_s >= t_s, f"{t_s:g} s")

            config = Config.from_dict({
                "contact_area_cm2": 1.0,
                "limits": {"warn_n": 60.0, "max_n": 80.0},
                "points": [{"name": "Upper trapezius L"}, {"name": "Levator scapulae L"}],
            })  # fmt: skip
            window = live_on(config, "sim://shots-ppt?scenario=ppt")
            details = SessionDetails("C-0042", "A. Therapist", "PPT", list(config.points))
            window.start_recording(details)
            window.ppt_round("pre")
            trial = load_scenario("ppt").ppt_trials()[4]  # the 2nd point's 2nd trial
            assert trial.signal_s is not None
            until(window, trial.start_s + 0.75 * (trial.signal_s - trial.start_s))
            check("ppt round", window, "ppt-live.png")
            window.close()

            # the built-in drill "basic": the trainee on its fourth (feedback) trial
            window = live_on(Config(), "sim://shots-drill?scenario=drill")
            window.start_drill("basic")
            until(window, load_scenario("drill").attempts()[3].plateau_start_s + 2.0)
            check("drill", window, "drill-view.png")
            window.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
