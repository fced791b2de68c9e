"""Starting the live app: the QApplication, its look, the configuration, the window.

``run_gui`` is what ``pressure-logger gui`` calls. A configuration given with ``--config``
is validated before any window opens (a malformed file exits with code 2 naming the key);
a path that does not exist yet is where the settings dialog will save. Without
``--config`` the per-user configuration file is used (created on the first save), the one
``record`` reads too (``logger.paths``).
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from logger.db import open_local
from logger.paths import APP_NAME, default_config_path, startup_config

from . import theme

log = logging.getLogger(__name__)


def default_port() -> str:
    """Without ``--port``: the port that looks most like the sensor's Arduino, else the
    built-in simulator playing the demo scenario over and over."""
    from logger.link.ports import found_ports, likeliest_arduino

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


def run_gui(
    port: str | None, db_path: Path | None, config_path: Path | None, *, lsl: bool = False
) -> int:
    """Open the live window on ``port`` (the simulator when None) and run until closed;
    with ``lsl`` every device it connects is published on LSL as well."""
    from .main_window import MainWindow
    from .screen import show_fitted

    if lsl:  # pylsl loads (or says in one line why not) before any window opens
        import logger.lsl  # noqa: F401

    path = config_path if config_path is not None else default_config_path()
    config = startup_config(port, path)  # BadInput (exit 2) before any window opens
    if db_path is not None and db_path.exists():  # … and for a broken or foreign library
        open_local(db_path).close()
    app = create_app()
    url = port or default_port()
    window = MainWindow(config, config_path=path, db_path=db_path, port=url, lsl=lsl)
    show_fitted(window, 1600, 960)
    window.connect_device(url)

    def close() -> None:
        window.close()
        app.quit()

    def close_on_signal(signum: int, _frame: object) -> None:
        # Ctrl-C / SIGTERM: close like the window's close button, so a recording is
        # finalised (the window's frame timer gives Python the chance to run this). Not
        # here: a handler runs between two steps of whatever Python code the main thread
        # is in, perhaps holding a lock the closing needs (a queue's); the event loop does.
        log.info("signal %d: closing", signum)
        QTimer.singleShot(0, close)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, close_on_signal)
    return int(app.exec())
