"""`pressure-logger export` — placeholder until its issue lands; refuses with exit code 2."""

from __future__ import annotations

import argparse

from ..errors import BadInput


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="(not yet available)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    raise BadInput("'export' is not available in this build yet")
