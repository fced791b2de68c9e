"""Records that travel along the data path and into the session store.

These dataclasses are the shared vocabulary of the pipeline (hold detector, limit monitor,
point plan), the store, the exports and the GUI. Field names follow the export schema
(docs/EXPORTS.md) so that an export is a plain ``dataclasses.asdict`` of them.
All times are device time in seconds since the session's first sample (``t_s``);
all forces are newtons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from calibration.models import CalibrationInfo


class MarkSource(StrEnum):
    DEVICE = "device"
    KEYBOARD = "keyboard"
    MOUSE = "mouse"
    CLI = "cli"


class AlertKind(StrEnum):
    WARN = "warn"
    MAX = "max"
    HOLD_DURATION = "hold_duration"


class GapCause(StrEnum):
    CRC = "crc"
    SEQUENCE = "sequence"
    DISCONNECT = "disconnect"
    RESTART = "restart"  # the device began again (reboot): the host clock measured the outage
    TIME = "time"  # the device's clock jumped while its sample index ran on


class SessionStatus(StrEnum):
    COMPLETE = "complete"
    INTERRUPTED = "interrupted"
    RECORDING = "recording"


@dataclass(frozen=True, slots=True)
class SampleBlock:
    """A run of consecutive samples as decoded from the device.

    ``first_index`` is the device's sample index of row 0 (it counts every sample the
    device produced, so a jump between blocks is an exact count of lost samples).
    ``t_s`` is unwrapped device time since the session's first sample, one per row.
    ``raw`` is ADC counts, shape (n, channels), int32. ``force_n`` is channel 0..k in
    newtons, shape (n, channels), filled in by the calibration stage.
    ``host_timed`` marks samples from a text-mode device, timed by the host clock.
    """

    first_index: int
    t_s: np.ndarray
    raw: np.ndarray
    force_n: np.ndarray | None = None
    host_timed: bool = False

    def __len__(self) -> int:
        return int(self.t_s.shape[0])


@dataclass(slots=True)
class Point:
    index: int
    name: str
    warn_n: float | None = None
    max_n: float | None = None
    target_n: tuple[float, float] | None = None
    target_hold_s: float | None = None


@dataclass(slots=True)
class Mark:
    t_s: float
    point_index: int | None
    source: MarkSource


@dataclass(slots=True)
class Hold:
    index: int
    point_index: int | None
    point: str | None
    start_s: float
    end_s: float
    duration_s: float
    mean_n: float
    peak_n: float
    cv_pct: float
    ramp_rate_n_per_s: float | None
    time_over_warn_s: float
    time_over_max_s: float
    in_target_pct: float | None
    cut_short: bool = False  # the recording ended (stopped or killed) while it went on


@dataclass(frozen=True, slots=True)
class Signal:
    """The client's "now": the pressure-pain threshold is reached (a PPT trial ends)."""

    t_s: float
    source: MarkSource


@dataclass(frozen=True, slots=True)
class Rating:
    """The client's pain rating, 0-10, from ``t_s`` on (until the next rating)."""

    t_s: float
    value: float
    source: MarkSource


class ProtocolKind(StrEnum):
    ROUND = "round"  # a PPT round: data {"label": "pre" | "post" | ""} ("" ends PPT)
    DRILL = "drill"  # a training drill starts: data is the drill (its JSON form); {} stops it
    PROFILE = "profile"  # a guided profile starts: data is the profile (JSON form); {} stops it


@dataclass(frozen=True, slots=True)
class ProtocolEvent:
    """From ``t_s`` on, a clinical protocol runs (or a PPT round changes)."""

    t_s: float
    kind: ProtocolKind
    data: dict


@dataclass(slots=True)
class Alert:
    t_s: float
    kind: AlertKind
    value: float
    point_index: int | None
    hold_index: int | None


@dataclass(slots=True)
class Gap:
    start_s: float
    end_s: float
    lost_samples: int
    cause: GapCause


@dataclass(slots=True)
class DeviceInfo:
    uid: str
    firmware: str
    protocol: str
    rate_hz: float
    channels: int
    adc: str = ""
    text_mode: bool = False
    # device clock against the host's, from PING/PONG (filled in when a session ends):
    clock_drift_ppm: float | None = None
    clock_offset_s: float | None = None  # device time − host monotonic time at the end


@dataclass(slots=True)
class SessionStats:
    samples: int = 0
    duration_s: float = 0.0
    rate_hz: float = 0.0
    lost_samples: int = 0
    crc_errors: int = 0
    reconnects: int = 0
    # received but not stored: the recording stopped on a storage failure (disk full …)
    unsaved_samples: int = 0


@dataclass(slots=True)
class SessionMeta:
    started_at: str  # ISO 8601 host wall-clock, UTC
    device: DeviceInfo
    calibration: CalibrationInfo
    config: dict
    client: str | None = None
    therapist: str | None = None
    notes: str | None = None
    points: list[Point] = field(default_factory=list)
