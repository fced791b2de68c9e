"""`pressure-logger ports`: the serial ports this machine has, with their USB identity."""

from __future__ import annotations

import argparse
import json

from serial.tools import list_ports

from ..cli import add_db_argument


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


# USB vendor ids of boards that run the firmware (and of their USB-serial chips), most
# likely first: Arduino, Arduino.org, WCH CH340 (clones), FTDI, Silicon Labs CP210x
ARDUINO_VIDS = ("2341", "2A03", "1A86", "0403", "10C4")


def arduino_likelihood(row: dict) -> int:
    """How likely the port in ``row`` (from ``found_ports``) is the sensor's Arduino:
    0 for not at all, higher for likelier."""
    vid = (row.get("vid") or "").upper()
    text = f"{row.get('description') or ''} {row.get('manufacturer') or ''}".lower()
    score = len(ARDUINO_VIDS) - ARDUINO_VIDS.index(vid) if vid in ARDUINO_VIDS else 0
    return score + (10 if "arduino" in text else 0)


def likeliest_arduino(rows: list[dict]) -> str | None:
    """The port most likely to be the sensor's Arduino, or None when none looks like one."""
    best = max(rows, key=arduino_likelihood, default=None)
    return best["port"] if best is not None and arduino_likelihood(best) > 0 else None


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
