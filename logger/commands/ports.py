"""`pressure-logger ports`: the serial ports this machine has, with their USB identity."""

from __future__ import annotations

import argparse
import json

from serial.tools import list_ports

from ..store import add_db_argument


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ports", help="list serial ports (USB VID:PID, serial number)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_db_argument(p)  # accepted like every command's; ports use no library
    p.set_defaults(run=run)


def found_ports() -> list[dict]:
    """Every OS serial port, with USB details where the OS reports them."""
    rows = []
    for info in sorted(list_ports.comports(), key=lambda i: i.device):
        rows.append(
            {
                "port": info.device,
                "description": info.description if info.description != "n/a" else "",
                "vid": f"{info.vid:04X}" if info.vid is not None else None,
                "pid": f"{info.pid:04X}" if info.pid is not None else None,
                "serial_number": info.serial_number,
                "manufacturer": info.manufacturer,
            }
        )
    return rows


def run(args: argparse.Namespace) -> int:
    rows = found_ports()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no serial ports found")
    for r in rows:
        usb = f"USB {r['vid']}:{r['pid']}" if r["vid"] else ""
        sn = f"SN {r['serial_number']}" if r["serial_number"] else ""
        print("  ".join(x for x in (r["port"], r["description"], usb, sn) if x))
    print("sim://  built-in simulator (demo scenario); sim://?scenario=NAME|FILE&speed=X")
    return 0
