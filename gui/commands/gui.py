"""`pressure-logger gui` — placeholder until its issue lands; refuses with exit code 2."""

from __future__ import annotations

import argparse

from logger.errors import BadInput


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="(not yet available)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    raise BadInput("'gui' is not available in this build yet")
