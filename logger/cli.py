"""The ``pressure-logger`` command line (docs in README.md, docs/CONFIG.md, docs/SCENARIOS.md).

Each subcommand is a module with ``register(subparsers)`` and ``run(args) -> int``, found
through the ``pressure_logger.commands`` entry points (pyproject.toml), so that commands
that need Qt (``gui``, ``report``) live in ``gui/`` and ``logger`` never imports it.
A command line that names one of logger's own commands (``logger/commands/NAME.py``)
imports that module alone, without reading the entry points (importlib.metadata and the
email package it loads were a fifth of the start-up); ``--help`` and everything else
build the whole parser.
Exit codes: 0 success, 2 bad input, 1 device or I/O failure.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import io
import logging
import os
import sys
from pathlib import Path
from typing import NoReturn

from .errors import INPUT_ERRORS, BadInput, DeviceError
from .paths import DB_ENV_VAR, default_db_path

DESCRIPTION = "Record, simulate, review and export sessions of a handheld force sensor."
ORDER = (
    "gui", "record", "simulate", "sessions", "review", "export", "report", "calibrate",
    "recalibrate", "forget", "ports",
)  # fmt: skip


# file names may be any bytes the OS allows; every other argument is text that ends up in
# the library, a URL or a report, so it must be valid UTF-8
PATH_ARGS = frozenset({"db", "out", "config", "port"})


def _check_text(command: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse, in one line, a text argument with bytes that are not UTF-8 (the shell hands
    them to Python as lone surrogates, which SQLite and URLs cannot take)."""
    for action in command._actions:
        value = getattr(args, action.dest, None)
        if action.dest in PATH_ARGS or not isinstance(value, str | list):
            continue
        for text in value if isinstance(value, list) else [value]:
            try:
                str(text).encode("utf-8")
            except UnicodeEncodeError as exc:
                name = "/".join(action.option_strings) or action.metavar or action.dest
                offset = len(text[: exc.start].encode("utf-8"))
                raise BadInput(
                    f"{name}: {text!r} is not valid UTF-8 (byte offset {offset})"
                ) from None


def add_db_argument(parser: argparse.ArgumentParser, *, url: bool = False) -> None:
    """The ``--db PATH`` option every command shares: a ``Path`` with ``~`` expanded, and
    :func:`default_db_path` when not given (resolved as the parser is built).

    With ``url`` (the reading commands) it may also be a ``postgresql://`` URL, the school
    library, kept as checked text; elsewhere a URL is refused in one line (a station
    records into its own file, and ``sync`` sends it to the server)."""
    from .store.open import parse_db

    def db_type(text: str) -> Path | str:
        value = parse_db(text)
        if isinstance(value, str) and not url:
            raise argparse.ArgumentTypeError(
                "a postgresql:// URL is for sessions, review, report, export and "
                "recalibrate: record into a local library and `sync` it"
            )
        return value

    parser.add_argument(
        "--db",
        type=db_type,
        default=default_db_path(),
        metavar="PATH|URL" if url else "PATH",
        help=f"session library (SQLite; default: ${DB_ENV_VAR} or the user data directory)"
        + ("; or a postgresql:// URL: the school library" if url else ""),
    )


class _Parser(argparse.ArgumentParser):
    commands: dict[str, _Parser]  # the subcommands' parsers, by name

    def error(self, message: str) -> NoReturn:  # argparse exits 2 already; keep it one line
        self.exit(2, f"{self.prog}: error: {message}\n")


def _own_command(argv: list[str]) -> dict[str, str]:
    """The one command ``argv`` names, when it is one of logger's own: {name: module}."""
    name = next((a for a in argv if a not in ("-v", "--verbose")), "")
    module = f"{__package__}.commands.{name}"
    if not name.isidentifier() or name.startswith("_") or importlib.util.find_spec(module) is None:
        return {}
    return {name: module}


def build_parser(found: dict[str, str] | None = None) -> _Parser:
    """The parser with the commands ``found`` ({name: module}; default: every entry point)."""
    parser = _Parser(prog="pressure-logger", description=DESCRIPTION)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    parser.commands = sub.choices
    if not found:
        from importlib.metadata import entry_points

        found = {ep.name: ep.value for ep in entry_points(group="pressure_logger.commands")}
    for name in sorted(found, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n)):
        importlib.import_module(found[name]).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `pressure-logger [--port P]` with no subcommand opens the GUI (README, command line)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "-v", "--verbose"):
        argv.insert(0, "gui")
    parser = build_parser(_own_command(argv))
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["gui", *argv])
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:  # a lost server is reported in one line of ours; psycopg's own
        logging.getLogger("psycopg").setLevel(logging.ERROR)  # warning about it is noise
    out = sys.stdout
    if out is sys.__stdout__ and isinstance(out, io.TextIOWrapper):  # the process's own:
        out.reconfigure(errors="surrogateescape")  # a file name prints as the OS's bytes
    try:
        _check_text(parser.commands[args.command], args)
        return int(args.run(args) or 0)
    except INPUT_ERRORS as exc:
        print(f"pressure-logger {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except DeviceError as exc:
        print(f"pressure-logger {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader of our output went away (`sessions | head -1`):
        # stop quietly like any Unix filter; stdout goes to /dev/null so that flushing it
        # at exit cannot fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
