"""`make -C firmware_protocol/firmware` builds the sketch for the ATmega328P, and it fits.

Skips (saying why) only where avr-gcc or the Arduino AVR core is not installed; CI installs
gcc-avr, avr-libc and arduino-core-avr so that there it always runs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import firmware_protocol
from firmware_protocol.messages import PROTOCOL_MAJOR, PROTOCOL_MINOR

FIRMWARE = Path(firmware_protocol.__file__).parent / "firmware"
ARDUINO_DIR = Path(os.environ.get("ARDUINO_DIR", "/usr/share/arduino"))
CORE = ARDUINO_DIR / "hardware/arduino/avr/cores/arduino/Arduino.h"

MISSING = [
    what
    for what, ok in [
        ("avr-gcc (apt install gcc-avr avr-libc)", shutil.which("avr-gcc")),
        ("make", shutil.which("make")),
        (f"the Arduino AVR core at {CORE.parent} (apt install arduino-core-avr)", CORE.exists()),
    ]
    if not ok
]


@pytest.mark.skipif(bool(MISSING), reason="cannot build the firmware: no " + "; no ".join(MISSING))
def test_firmware_builds_and_fits_the_atmega328p(tmp_path: Path) -> None:
    res = subprocess.run(
        ["make", "-C", str(FIRMWARE), f"BUILD={tmp_path}", f"ARDUINO_DIR={ARDUINO_DIR}"],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    flash = re.search(r"^flash: (\d+) / (\d+) bytes", res.stdout, re.M)
    ram = re.search(r"^ram: (\d+) / (\d+) bytes", res.stdout, re.M)
    assert flash and ram, res.stdout
    assert int(flash[2]) == 32256 and int(flash[1]) <= 32256  # 32 KB minus the bootloader
    assert int(ram[2]) == 2048 and int(ram[1]) <= 2048 - 256  # leave room for the stack
    hex_file = tmp_path / "firmware.hex"
    assert hex_file.read_text().startswith(":")
    # the firmware and the host agree on the protocol version
    header = (FIRMWARE / "protocol_core.h").read_text()
    assert re.search(r"#define PC_PROTOCOL_MAJOR (\d+)", header)[1] == str(PROTOCOL_MAJOR)
    assert re.search(r"#define PC_PROTOCOL_MINOR (\d+)", header)[1] == str(PROTOCOL_MINOR)
    # nothing was written into the source tree
    assert not (FIRMWARE / "build").exists()


def test_makefile_explains_a_missing_arduino_core(tmp_path: Path) -> None:
    if not shutil.which("make") or not shutil.which("avr-gcc"):
        pytest.skip("make or avr-gcc absent: the toolchain check is what is under test")
    res = subprocess.run(
        ["make", "-C", str(FIRMWARE), f"BUILD={tmp_path}", f"ARDUINO_DIR={tmp_path}/nowhere"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode != 0
    assert "Arduino core not found" in res.stdout + res.stderr
