"""The ``pressure-logger`` command line (DESIGN.md §3).

Each subcommand is a module with ``register(subparsers)`` and ``run(args) -> int``, found
through the ``pressure_logger.commands`` entry points (pyproject.toml), so that commands
that need Qt (``gui``, ``report``) live in ``gui/`` and ``logger`` never imports it.
Exit codes: 0 success, 2 bad input, 1 device or I/O failure.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from importlib.metadata import entry_points

from .errors import BadInput, DeviceError

ORDER = (
    "gui", "record", "simulate", "sessions", "review", "export", "report", "calibrate",
    "recalibrate", "forget", "ports",
)  # fmt: skip


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 already; keep it one line
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pressure-logger", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    found = {ep.name: ep.value for ep in entry_points(group="pressure_logger.commands")}
    for name in sorted(found, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n)):
        importlib.import_module(found[name]).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `pressure-logger [--port P]` with no subcommand opens the GUI (DESIGN.md §3)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "-v", "--verbose"):
        argv.insert(0, "gui")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["gui", *argv])
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.run(args) or 0)
    except BadInput as exc:
        print(f"pressure-logger {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except DeviceError as exc:
        print(f"pressure-logger {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
