"""Errors that the command line maps to exit codes (2 bad input, 1 device/I-O failure).

Messages are one line and name the file, key, value or byte offset at fault.
"""


class BadInput(ValueError):
    """Malformed file, unknown session, bad flag value: exit code 2, nothing written."""


class DeviceError(OSError):
    """Port missing, handshake failed, I/O failure: exit code 1."""


class ProtocolMismatch(BadInput):
    """The device speaks another protocol major version (refused before streaming)."""
