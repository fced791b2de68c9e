"""Errors that the command line maps to exit codes (2 bad input, 1 device/I-O failure).

Messages are one line and name the file, key, value or byte offset at fault.
"""

from calibration.models import CalibrationError
from firmware_protocol.sim.scenario import ScenarioError


class BadInput(ValueError):
    """Malformed file, unknown session, bad flag value: exit code 2, nothing written."""


class DeviceError(OSError):
    """Port missing, handshake failed, I/O failure: exit code 1."""


class StorageError(DeviceError):
    """The session library cannot be written (disk full, read-only, deleted or replaced)
    or read (damaged content): exit code 1. The message names the file, and the table or
    session at fault.

    ``disk_full``: the write failed for lack of space (smaller writes may still fit).
    ``gone``: the library file was deleted or replaced: nothing more can be stored in it.
    ``cause``: the reason alone, without the file name (for composing messages).
    """

    def __init__(
        self, message: str, *, disk_full: bool = False, gone: bool = False, cause: str = ""
    ) -> None:
        super().__init__(message)
        self.disk_full = disk_full
        self.gone = gone
        self.cause = cause or message

    def __str__(self) -> str:  # OSError would show its args as a tuple
        return str(self.args[0])


class ProtocolMismatch(BadInput):
    """The device speaks another protocol major version (refused before streaming)."""


# Every error that means "bad input" (exit code 2): ours, and those of the calibration
# package and the scenario parser, which sit below logger and raise their own.
INPUT_ERRORS: tuple[type[ValueError], ...] = (BadInput, CalibrationError, ScenarioError)
