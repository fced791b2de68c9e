"""Serial ports: discovery, the likeliest Arduino, finding a renamed USB device, opening a
URL, and what `pressure-logger ports` prints."""

from __future__ import annotations

import json

import pytest
from serial.tools.list_ports_common import ListPortInfo

from logger.cli import main
from logger.errors import BadInput, DeviceError
from logger.link import ports
from logger.link.ports import (
    FoundPort,
    UsbIdentity,
    found_ports,
    likeliest_arduino,
    open_port,
    renamed_candidates,
    usb_identity,
)


def _usb(port: str, sn: str | None, vid: int = 0x2341, pid: int = 0x0043) -> FoundPort:
    return FoundPort(port, "", vid, pid, sn)


def _info(device: str, description: str = "n/a", **usb) -> ListPortInfo:
    info = ListPortInfo(device, skip_link_detection=True)
    info.description = description
    for key, value in usb.items():
        setattr(info, key, value)
    return info


@pytest.fixture
def os_ports(monkeypatch):
    """What the OS reports: a Bluetooth port, an Uno and a CH340 clone, in no order."""
    infos = [
        _info("/dev/ttyUSB0", "USB2.0-Serial", vid=0x1A86, pid=0x7523),
        _info("/dev/ttyS0"),
        _info(
            "/dev/ttyACM0",
            "Arduino Uno",
            vid=0x2341,
            pid=0x0043,
            serial_number="7573",
            manufacturer="Arduino (www.arduino.cc)",
        ),  # fmt: skip
    ]
    monkeypatch.setattr(ports.list_ports, "comports", lambda: infos)
    return infos


def test_found_ports_are_sorted_records_of_what_the_os_reports(os_ports):
    found = found_ports()
    assert [p.port for p in found] == ["/dev/ttyACM0", "/dev/ttyS0", "/dev/ttyUSB0"]
    uno, serial_port, clone = found
    assert uno == FoundPort("/dev/ttyACM0", "Arduino Uno", 0x2341, 0x0043, "7573",
                            "Arduino (www.arduino.cc)")  # fmt: skip
    assert uno.usb_id == "2341:0043" and uno.usb == UsbIdentity("7573", 0x2341, 0x0043)
    assert serial_port.description == "" and serial_port.usb_id is None  # "n/a" is nothing
    assert serial_port.usb is None
    assert likeliest_arduino(found) == "/dev/ttyACM0"


def test_the_likeliest_arduino_is_chosen_among_ports():
    bluetooth = FoundPort("/dev/ttyS0", "ttyS0")
    ftdi = FoundPort("/dev/ttyUSB0", "FT232R USB UART", 0x0403, 0x6001)
    uno = FoundPort("/dev/ttyACM0", "Arduino Uno", 0x2341, 0x0043)
    clone = FoundPort("/dev/ttyUSB1", "USB2.0-Serial", 0x1A86, 0x7523)
    named = FoundPort("/dev/ttyUSB2", "", 0x9999, 0x0001, manufacturer="Arduino LLC")
    assert likeliest_arduino([]) is None
    assert likeliest_arduino([bluetooth]) is None
    assert likeliest_arduino([bluetooth, ftdi, clone]) == "/dev/ttyUSB1"
    assert likeliest_arduino([ftdi, clone, uno, bluetooth]) == "/dev/ttyACM0"
    assert likeliest_arduino([clone, named]) == "/dev/ttyUSB2"  # the name outweighs the chip


def test_a_renamed_usb_port_is_found_by_serial_number():
    found = [_usb("/dev/ttyACM1", "A1"), _usb("/dev/ttyACM2", "B2")]
    usb = UsbIdentity("B2", 0x2341, 0x0043)
    assert renamed_candidates("/dev/ttyACM0", usb, found) == ["/dev/ttyACM2"]


def test_without_a_serial_number_vid_pid_narrows_the_candidates():
    found = [_usb("/dev/ttyUSB1", None, 0x1A86, 0x7523), _usb("/dev/ttyACM1", "X")]
    usb = UsbIdentity(None, 0x1A86, 0x7523)
    assert renamed_candidates("/dev/ttyUSB0", usb, found) == ["/dev/ttyUSB1"]


def test_urls_have_no_usb_identity():
    assert usb_identity("sim://?speed=0", []) is None
    assert usb_identity("/dev/ttyS0", [FoundPort("/dev/ttyS0")]) is None
    assert usb_identity("/dev/ttyACM0", [_usb("/dev/ttyACM0", "Z")]) == UsbIdentity(
        "Z", 0x2341, 0x0043
    )


def test_the_os_is_asked_when_no_list_is_given(os_ports):
    assert usb_identity("/dev/ttyUSB0") == UsbIdentity(None, 0x1A86, 0x7523)
    assert renamed_candidates("/dev/ttyUSB9", UsbIdentity(None, 0x1A86, 0x7523)) == ["/dev/ttyUSB0"]


def test_opening_a_port_says_whose_fault_a_failure_is():
    ser = open_port("sim://?speed=0")
    ser.close()
    with pytest.raises(DeviceError, match="cannot open port '/nonexistent/tty'"):
        open_port("/nonexistent/tty")
    with pytest.raises(BadInput, match="port 'nosuch://x'"):
        open_port("nosuch://x")


def test_the_ports_command_prints_what_it_always_printed(os_ports, capsys):
    assert main(["ports"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "/dev/ttyACM0  Arduino Uno  USB 2341:0043  SN 7573",
        "/dev/ttyS0",
        "/dev/ttyUSB0  USB2.0-Serial  USB 1A86:7523",
        "sim://  built-in simulator (demo scenario); sim://?scenario=NAME|FILE&speed=X",
    ]
    assert main(["ports", "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == [
        {"port": "/dev/ttyACM0", "description": "Arduino Uno", "vid": "2341", "pid": "0043",
         "serial_number": "7573", "manufacturer": "Arduino (www.arduino.cc)"},
        {"port": "/dev/ttyS0", "description": "", "vid": None, "pid": None,
         "serial_number": None, "manufacturer": None},
        {"port": "/dev/ttyUSB0", "description": "USB2.0-Serial", "vid": "1A86", "pid": "7523",
         "serial_number": None, "manufacturer": None},
    ]  # fmt: skip
    assert list(json.loads(out)[0]) == [
        "port", "description", "vid", "pid", "serial_number", "manufacturer"
    ]  # fmt: skip


def test_without_ports_the_command_says_so(monkeypatch, capsys):
    monkeypatch.setattr(ports.list_ports, "comports", lambda: [])
    assert main(["ports"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "no serial ports found"
