"""`pressure-logger [gui] [--port PORT] [--db PATH] [--config PATH] [--lsl]`: the live app.

Without ``--port`` it opens the port that looks most like the sensor's Arduino, else the
built-in simulator (``sim://``, the demo scenario, looping), so the app can be tried with
no hardware at all. ``--lsl`` also publishes the device's force and marks on the Lab
Streaming Layer (``logger/lsl.py``).
"""

from __future__ import annotations

import argparse

from logger.cli import add_db_argument
from logger.commands.record import add_lsl_argument
from logger.paths import add_config_argument


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="the live window (default command)")
    p.add_argument(
        "--port",
        help="serial port or pyserial URL (default: the likeliest Arduino, else sim://, the demo)",
    )
    add_db_argument(p)
    add_config_argument(p)
    add_lsl_argument(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from gui.app import run_gui  # Qt is imported only when the window is wanted

    return run_gui(args.port, args.db, args.config, lsl=args.lsl)
