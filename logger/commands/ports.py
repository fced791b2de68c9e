"""`pressure-logger ports`: the serial ports this machine has, with their USB identity."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from ..cli import add_db_argument
from ..link.ports import FoundPort, found_ports


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ports", help="list serial ports (USB VID:PID, serial number)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_db_argument(p)  # accepted like every command's; ports use no library
    p.set_defaults(run=run)


def _as_json(found: FoundPort) -> dict[str, str | None]:
    """One port as ``--json`` writes it: its fields, USB ids as 4-digit hex strings."""
    row = asdict(found)
    for key in ("vid", "pid"):
        row[key] = None if row[key] is None else f"{row[key]:04X}"
    return row


def _as_line(found: FoundPort) -> str:
    usb = f"USB {found.usb_id}" if found.usb_id else ""
    sn = f"SN {found.serial_number}" if found.serial_number else ""
    return "  ".join(x for x in (found.port, found.description, usb, sn) if x)


def run(args: argparse.Namespace) -> int:
    ports = found_ports()
    if args.json:
        print(json.dumps([_as_json(p) for p in ports], indent=2))
        return 0
    if not ports:
        print("no serial ports found")
    for p in ports:
        print(_as_line(p))
    print("sim://  built-in simulator (demo scenario); sim://?scenario=NAME|FILE&speed=X")
    return 0
