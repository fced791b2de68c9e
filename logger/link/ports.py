"""Serial ports: what the OS has (and which of them looks like the sensor's Arduino), how
to find a USB device again under a new name, and how a port URL is opened.

Everything that asks the OS for its ports takes an optional list of ``FoundPort`` instead,
so the choices can be tested without hardware.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import serial
from serial.tools import list_ports

import firmware_protocol  # noqa: F401  (registers sim://)

from ..errors import BadInput, DeviceError

BAUD = 115200
READ_TIMEOUT_S = 0.01

# USB vendor ids of boards that run the firmware (and of their USB-serial chips), most
# likely first: Arduino, Arduino.org, WCH CH340 (clones), FTDI, Silicon Labs CP210x
ARDUINO_VIDS = (0x2341, 0x2A03, 0x1A86, 0x0403, 0x10C4)


@dataclass(frozen=True, slots=True)
class UsbIdentity:
    """What the OS tells about a USB serial device, to find it again if it is renamed."""

    serial_number: str | None
    vid: int | None
    pid: int | None


@dataclass(frozen=True, slots=True)
class FoundPort:
    """An OS serial port, with the USB details the OS reports (None where it has none)."""

    port: str  # the OS name: /dev/ttyACM0, COM3 …
    description: str = ""
    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None
    manufacturer: str | None = None

    @property
    def usb_id(self) -> str | None:
        """``VID:PID`` as USB tools write it (``2341:0043``); None for a port not on USB."""
        if self.vid is None:
            return None
        return f"{self.vid:04X}:{self.pid or 0:04X}"  # the OS reports both or neither

    @property
    def usb(self) -> UsbIdentity | None:
        return None if self.vid is None else UsbIdentity(self.serial_number, self.vid, self.pid)


def found_ports() -> list[FoundPort]:
    """Every OS serial port, by name, with USB details where the OS reports them."""
    return [
        FoundPort(
            port=info.device,
            description=info.description if info.description != "n/a" else "",
            vid=info.vid,
            pid=info.pid,
            serial_number=info.serial_number,
            manufacturer=info.manufacturer,
        )
        for info in sorted(list_ports.comports(), key=lambda i: i.device)
    ]


def arduino_likelihood(found: FoundPort) -> int:
    """How likely ``found`` is the sensor's Arduino: 0 for not at all, higher for likelier."""
    text = f"{found.description or ''} {found.manufacturer or ''}".lower()
    rank = len(ARDUINO_VIDS) - ARDUINO_VIDS.index(found.vid) if found.vid in ARDUINO_VIDS else 0
    return rank + (10 if "arduino" in text else 0)


def likeliest_arduino(ports: Iterable[FoundPort]) -> str | None:
    """The port most likely to be the sensor's Arduino, or None when none looks like one."""
    best = max(ports, key=arduino_likelihood, default=None)
    return best.port if best is not None and arduino_likelihood(best) > 0 else None


def usb_identity(port: str, ports: Iterable[FoundPort] | None = None) -> UsbIdentity | None:
    """The USB identity of OS port ``port`` (None for URLs and non-USB ports)."""
    if "://" in port:
        return None
    for found in found_ports() if ports is None else ports:
        if found.port == port and found.usb is not None:
            return found.usb
    return None


def renamed_candidates(
    original: str, usb: UsbIdentity, ports: Iterable[FoundPort] | None = None
) -> list[str]:
    """Ports that may be the same device under a new name: the same USB serial number, or,
    for adapters without one, the same VID:PID. The handshake then checks the device uid."""
    out = []
    for found in found_ports() if ports is None else ports:
        if found.port == original or found.vid is None:
            continue
        if usb.serial_number:
            if found.serial_number == usb.serial_number:
                out.append(found.port)
        elif (found.vid, found.pid) == (usb.vid, usb.pid):
            out.append(found.port)
    return out


def open_port(url: str) -> serial.SerialBase:
    """Open ``url`` (an OS port or any pyserial URL, ``sim://`` included) exclusively where
    the OS allows it.

    A port that is not there or cannot be opened is a DeviceError (exit 1); a URL that
    cannot mean anything (unknown scheme, bad ``sim://`` parameter, malformed scenario)
    is BadInput (exit 2)."""
    try:  # every pyserial URL handler takes `exclusive`; only OS ports act on it
        return serial.serial_for_url(url, baudrate=BAUD, timeout=READ_TIMEOUT_S, exclusive=True)
    except (serial.SerialException, OSError) as exc:
        raise DeviceError(f"cannot open port '{url}': {exc}") from None
    except ValueError as exc:  # unknown scheme, bad sim:// key, malformed scenario …
        raise BadInput(f"port '{url}': {exc}") from None
