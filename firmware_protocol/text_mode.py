"""Text fallback: plain ASCII numeric lines from a DIY sketch (PROTOCOL.md §11).

Many users already have a sketch that does ``Serial.println(scale.read())``. Such a device
has no protocol, no sample index and no clock, so its lines are timestamped on the host
when they arrive and recorded as such (the acquisition layer flags them as host-timed).

Accepted lines (CRLF or LF; CR alone is treated as whitespace)::

    123456
    123456,-17,0.5          numbers separated by commas, semicolons, spaces or tabs
    raw:123456 force:12.5   Arduino Serial Plotter "label:value" pairs (also "label: value")

Anything else (a banner such as ``HX711 ready``, a half line, a non-ASCII byte, a value
that is not finite or does not fit a signed 32-bit count, and, once ``channels`` is set, a
line with another number of values) is counted in ``stats.bad_lines`` and skipped; ``feed``
never raises.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 256  # a longer line is not a numeric reading: counted bad, skipped
COUNT_MIN, COUNT_MAX = -(2**31), 2**31 - 1  # a value is recorded as a signed 32-bit count

_SEPARATORS = re.compile(rb"[,;\s]+")
_LABEL_COLON = re.compile(rb":\s+")  # "label: value" -> "label:value"
_NUMBER = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_LABEL = re.compile(rb"[A-Za-z_][A-Za-z0-9_.\-]*")


@dataclass(slots=True)
class TextStats:
    lines: int = 0  # lines that gave a row of numbers
    bad_lines: int = 0  # non-empty lines that were not numeric (or too long), skipped
    empty_lines: int = 0
    skipped_bytes: int = 0  # a partial first line dropped by ``resync=True``
    bytes_in: int = 0


def parse_line(line: bytes) -> tuple[np.ndarray, list[str | None]] | None:
    """One line (without its newline) -> (values, labels), or None if it is not numeric."""
    text = _LABEL_COLON.sub(b":", line.strip())
    if not text:
        return None
    values: list[float] = []
    labels: list[str | None] = []
    for token in _SEPARATORS.split(text):
        if not token:
            continue
        label: str | None = None
        if b":" in token:
            name, _, token = token.rpartition(b":")
            if not _LABEL.fullmatch(name):
                return None
            label = name.decode("ascii")
        if not _NUMBER.fullmatch(token):
            return None
        values.append(float(token))
        labels.append(label)
    if not values:
        return None
    return np.asarray(values, dtype=np.float64), labels


class TextLineDecoder:
    """Incremental line decoder: feed bytes in any chunking, get one float row per line.

    ``resync=True`` drops everything up to the first newline after construction or
    ``reset()``: use it when the port was opened mid-stream (boards that do not reset on
    open), so a half line such as ``"23"`` of ``"12323"`` is not read as a value.
    ``labels`` holds the labels of the last good line (``None`` where unlabelled).
    """

    def __init__(self, resync: bool = False, max_line: int = MAX_LINE_BYTES) -> None:
        self._resync = resync
        self._max = max_line
        self._buf = bytearray()
        self._skipping = resync
        self._overlong = False
        self.channels: int | None = None  # values per line, once known; others are bad
        self.labels: list[str | None] = []
        self.stats = TextStats()

    def reset(self) -> None:
        """Forget a partial line (after a reconnect); counters are kept."""
        self._buf.clear()
        self._skipping = self._resync
        self._overlong = False

    def feed(self, data: bytes | bytearray | memoryview) -> list[np.ndarray]:
        st = self.stats
        data = bytes(data)
        st.bytes_in += len(data)
        if self._skipping:
            nl = data.find(b"\n")
            if nl == -1:
                st.skipped_bytes += len(data)
                return []
            st.skipped_bytes += nl + 1
            data = data[nl + 1 :]
            self._skipping = False
        lines = data.split(b"\n")
        rows: list[np.ndarray] = []
        for i, part in enumerate(lines):
            if i == len(lines) - 1:  # unfinished line: keep for the next call
                if not self._overlong:
                    self._buf += part
                    if len(self._buf) > self._max:
                        self._buf.clear()
                        self._overlong = True
                break
            if self._overlong:
                self._overlong = False
                st.bad_lines += 1
                continue
            if self._buf:
                line = bytes(self._buf) + part
                self._buf.clear()
            else:
                line = part
            if len(line) > self._max:
                st.bad_lines += 1
                continue
            if not line.strip():
                st.empty_lines += 1
                continue
            parsed = parse_line(line)
            if parsed is None or not self._fits(parsed[0]):
                st.bad_lines += 1
                log.debug("not a usable numeric line: %r", line[:80])
                continue
            rows.append(parsed[0])
            self.labels = parsed[1]
        st.lines += len(rows)
        return rows

    def _fits(self, values: np.ndarray) -> bool:
        """Whether a row can be recorded: the expected number of values, each a finite
        number that rounds into a signed 32-bit count."""
        if self.channels is not None and len(values) != self.channels:
            return False
        rounded = np.round(values)
        return bool(np.all(np.isfinite(values)) and np.all(rounded >= COUNT_MIN)
                    and np.all(rounded <= COUNT_MAX))  # fmt: skip


_PRINTABLE = bytes(range(0x20, 0x7F)) + b"\t\n\r"


def looks_like_text(buf: bytes | bytearray | memoryview) -> bool:
    """True if ``buf`` (the first bytes heard from a port) is a text-mode device.

    Binary frames end in 0x00 at least every few hundred bytes; text never contains it.
    Text needs at least one complete numeric line and ≥ 95 % printable ASCII (a little
    line noise at power-up is tolerated).
    """
    buf = bytes(buf)
    if not buf or 0 in buf or b"\n" not in buf:
        return False
    unprintable = len(buf.translate(None, _PRINTABLE))
    if unprintable > 0.05 * len(buf):
        return False
    return any(parse_line(line) is not None for line in buf.split(b"\n")[:-1])
