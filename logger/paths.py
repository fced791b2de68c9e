"""Where the user's files are, and which configuration is in force: one answer for every
command.

The session library and the configuration the app's Settings save live in the platform's
per-user directories (platformdirs): on Linux ``$XDG_DATA_HOME`` (``~/.local/share``) and
``$XDG_CONFIG_HOME`` (``~/.config``) + ``pressure-logger``; on macOS
``~/Library/Application Support/pressure-logger``; on Windows ``%APPDATA%\\pressure-logger``.
``record``, the app, ``review`` and ``report`` all ask here, so a session recorded from the
command line carries the point plan and limits the app saved, and every command opens the
same library. ``$PRESSURE_LOGGER_DB`` and ``$PRESSURE_LOGGER_CONFIG`` override the two files.
"""

from __future__ import annotations

import argparse
import os
import urllib.parse
from pathlib import Path

import platformdirs

from .config import Config, load_config

APP_NAME = "pressure-logger"
DB_ENV_VAR = "PRESSURE_LOGGER_DB"
CONFIG_ENV_VAR = "PRESSURE_LOGGER_CONFIG"
DEMO_CONFIG = Path(__file__).with_name("demo_config.toml")
"""The built-in demo scenario's point plan: in force on the demo until the user saves one."""


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


def default_db_path() -> Path:
    """The session library used when ``--db`` is not given."""
    return _env_path(DB_ENV_VAR) or (
        platformdirs.user_data_path(APP_NAME, appauthor=False, roaming=True) / "sessions.sqlite3"
    )


def default_config_path() -> Path:
    """The configuration file the app's Settings save and every command reads."""
    return _env_path(CONFIG_ENV_VAR) or (
        platformdirs.user_config_path(APP_NAME, appauthor=False, roaming=True) / "config.toml"
    )


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--config PATH`` option of the commands that start sessions (None: the saved
    configuration, see :func:`startup_config`)."""
    parser.add_argument(
        "--config",
        type=lambda text: Path(text).expanduser(),
        metavar="PATH",
        help=f"configuration TOML (default: the one the app's Settings save, "
        f"{default_config_path()}; ${CONFIG_ENV_VAR} overrides)",
    )


def plays_demo(port: str | None) -> bool:
    """Whether ``port`` is the built-in demo (no port, or ``sim://`` with the demo
    scenario), whose marks name the demo plan's points."""
    if port is None:
        return True
    parts = urllib.parse.urlsplit(port)
    if parts.scheme != "sim":
        return False
    scenario = urllib.parse.parse_qs(parts.query).get("scenario", ["demo"])[-1]
    return scenario == "demo"


def startup_config(port: str | None, config_path: Path | None = None) -> Config:
    """The configuration in force for a session on ``port``: the file at ``config_path``
    (default :func:`default_config_path`) when it exists; before the user saved one, the
    demo plan on the demo and defaults elsewhere. A malformed file is BadInput (exit 2)."""
    path = config_path if config_path is not None else default_config_path()
    if path.exists():
        return load_config(path)
    return load_config(DEMO_CONFIG) if plays_demo(port) else Config()
