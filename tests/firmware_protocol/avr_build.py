"""The firmware built for the ATmega328P once per test run, whichever test asks first.

`make -C firmware_protocol/firmware` compiles the Arduino core and the sketch with avr-gcc
(about a CPU second). The build test and the simavr tests, in whatever pytest-xdist workers
they run, share one build directory in the run's temporary root, behind a file lock: the
first to come runs make and records what it printed, the others read that record.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

import firmware_protocol

FIRMWARE = Path(firmware_protocol.__file__).parent / "firmware"
ARDUINO_DIR = Path(os.environ.get("ARDUINO_DIR", "/usr/share/arduino"))
CORE = ARDUINO_DIR / "hardware/arduino/avr/cores/arduino/Arduino.h"


@dataclass(frozen=True)
class Make:
    """One `make TARGET` into the shared build directory ``out``."""

    out: Path
    returncode: int
    stdout: str
    stderr: str
    tree_unchanged: bool  # nothing under FIRMWARE was written meanwhile


def shared_make(tmp_path_factory: pytest.TempPathFactory, target: str) -> Make:
    """``make TARGET`` run once per test run (the first caller's result for the others)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's own root, above every worker's
    out = root / "firmware-build"
    record = root / f"firmware-make-{target}.json"
    with (root / "firmware-build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not record.exists():
            before = tree_state(FIRMWARE)
            res = subprocess.run(
                ["make", "-C", str(FIRMWARE), f"BUILD={out}", f"ARDUINO_DIR={ARDUINO_DIR}",
                 target],
                capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            made = Make(out, res.returncode, res.stdout, res.stderr, tree_state(FIRMWARE) == before)
            record.write_text(json.dumps({**asdict(made), "out": str(out)}))
        fields = json.loads(record.read_text())
    return Make(**{**fields, "out": Path(fields["out"])})


def tree_state(root: Path) -> dict[str, int]:
    """Every file under ``root`` with its modification time (ns)."""
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}
