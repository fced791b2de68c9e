"""`pressure-logger [gui] [--port PORT] [--db PATH] [--config PATH]`: the live desktop app.

Without ``--port`` it opens the built-in simulator (``sim://``, the demo scenario), so the
app can be tried with no hardware at all.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="the live window (default command)")
    p.add_argument(
        "--port", help="serial port or pyserial URL (default: sim://, the demo simulator)"
    )
    p.add_argument("--db", type=Path, help="session library (SQLite file)")
    p.add_argument("--config", type=Path, help="configuration file (TOML)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from gui.app import run_gui  # Qt is imported only when the window is wanted

    return run_gui(args.port, args.db, args.config)
