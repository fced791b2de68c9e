"""Starting the live app: the QApplication, its look, the configuration, the window.

``run_gui`` is what ``pressure-logger gui`` calls. A configuration given with ``--config``
is validated before any window opens (a malformed file exits with code 2 naming the key);
a path that does not exist yet is where the settings dialog will save. Without
``--config`` the per-user configuration file is used (created on the first save).
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QApplication

from logger.config import Config, load_config

from . import theme

log = logging.getLogger(__name__)

APP_NAME = "pressure-logger"


def default_port() -> str:
    """Without ``--port``: the port that looks most like the sensor's Arduino, else the
    built-in simulator playing the demo scenario over and over."""
    from logger.commands.ports import found_ports, likeliest_arduino

    from .widgets.device_bar import SIMULATOR_URL

    return likeliest_arduino(found_ports()) or SIMULATOR_URL


def create_app(argv: list[str] | None = None) -> QApplication:
    """The application object (the existing one if there is one), with the live look."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else [sys.argv[0]])
    app.setApplicationName(APP_NAME)
    theme.apply(app)
    return app  # type: ignore[return-value]


def default_config_path() -> Path:
    """The per-user configuration file (``~/.config/pressure-logger/config.toml`` on Linux)."""
    QApplication.setApplicationName(APP_NAME)
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppConfigLocation)
    return Path(base) / "config.toml"


def load_or_default(config_path: Path) -> Config:
    """The configuration in ``config_path``; defaults when the file does not exist yet."""
    if config_path.exists():
        return load_config(config_path)
    log.info("%s does not exist yet: using defaults (Settings will create it)", config_path)
    return Config()


DEMO_CONFIG = Path(__file__).with_name("demo_config.toml")  # the demo scenario's plan


def startup_config(port: str | None, config_path: Path) -> Config:
    """The user's configuration; on a first start with the demo (no port, no config file
    yet) the demo's own point plan, so the simulator's marks name real points."""
    if port is None and not config_path.exists():
        return load_config(DEMO_CONFIG)
    return load_or_default(config_path)


def run_gui(port: str | None, db_path: Path | None, config_path: Path | None) -> int:
    """Open the live window on ``port`` (the simulator when None) and run until closed."""
    from .main_window import MainWindow
    from .screen import show_fitted

    path = config_path if config_path is not None else default_config_path()
    config = startup_config(port, path)  # BadInput (exit 2) before any window opens
    app = create_app()
    url = port or default_port()
    window = MainWindow(config, config_path=path, db_path=db_path, port=url)
    show_fitted(window, 1600, 960)
    window.connect_device(url)

    def close_on_signal(signum: int, _frame: object) -> None:
        # Ctrl-C / SIGTERM: close like the window's close button, so a recording is
        # finalised (the window's frame timer gives Python the chance to run this)
        log.info("signal %d: closing", signum)
        window.close()
        app.quit()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, close_on_signal)
    return int(app.exec())
