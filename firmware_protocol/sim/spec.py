"""The parts of a simulator scenario (docs/SCENARIOS.md) as data: the actions a step
can take, a step, and the device, therapist, patient, trainee and fault tables.

``scenario.py`` reads and checks a scenario file into these; ``script.py`` plans what it
plays over time from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

G_M_PER_S2 = 9.80665
LOAD_RAMP_S = 0.3  # a calibration weight settles in 0.3 s, then stays `seconds`


class Action(StrEnum):
    REST = "rest"
    MARK = "mark"
    HOLD = "hold"
    PRESS = "press"
    LOAD = "load"
    SIGNAL = "signal"  # the client presses their button
    RATE = "rate"  # the client moves the eVAS to a value
    PPT = "ppt"  # a pressure-pain-threshold trial
    TREATMENT = "treatment"  # from here on the patient's thresholds are the treated ones
    ATTEMPT = "attempt"  # a drill trial performed by the trainee model


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    uid: str = "SIM-0001"
    rate_hz: int = 1000
    channels: int = 1
    counts_per_n: float = 4000.0
    offset_counts: int = 120000
    factory_counts_per_n: float | None = None  # None: same as counts_per_n
    factory_offset_counts: int | None = None  # None: same as offset_counts
    noise_n: float = 0.1
    zero_drift_n_per_s: float = 0.0  # the unloaded reading creeps (a warming load cell)
    clock_start_us: int = 0  # the µs clock at power-on (near 2**32: the wrap comes soon)
    erased: bool = False  # a freshly flashed board: no calibration stored until STORE_CAL

    @property
    def reported_counts_per_n(self) -> float:
        f = self.factory_counts_per_n
        return self.counts_per_n if f is None else f

    @property
    def reported_offset_counts(self) -> int:
        f = self.factory_offset_counts
        return self.offset_counts if f is None else f


@dataclass(frozen=True, slots=True)
class TherapistSpec:
    seed: int = 1
    tremor_n: float = 0.3


@dataclass(frozen=True, slots=True)
class PatientSpec:
    """The client under the probe: their pressure-pain thresholds vary from trial to trial
    and change after a treatment."""

    seed: int = 1
    threshold_noise_pct: float = 0.0  # standard deviation of a trial's relative deviation
    treatment_change_pct: float = 0.0  # treated threshold = untreated × (1 + pct/100)
    treated: bool = False  # every ppt trial uses the treated thresholds


@dataclass(frozen=True, slots=True)
class TraineeSpec:
    """The trainee of a drill: errors that shrink with live feedback and partly come back
    without it."""

    seed: int = 1
    error_pct: float = 30.0  # first relative plateau error (positive: overshoot)
    ramp_error_pct: float = 30.0  # first relative ramp-rate error
    learning: float = 0.6  # after each feedback attempt the errors are multiplied by this
    retention: float = 0.5  # share of the learning kept on a blind attempt
    noise_pct: float = 0.0  # per-attempt relative noise on the plateau


@dataclass(frozen=True, slots=True)
class FaultSpec:
    corrupt: float = 0.0  # probability that a byte on the wire (device → host) is flipped
    drop: float = 0.0  # probability that a byte is lost
    unplug_at_s: float | None = None  # scenario time (device clock) at which the port vanishes
    unplug_for_s: float = 2.0
    clock_ppm: float = 0.0  # device clock error: +100 means the device clock runs fast


@dataclass(frozen=True, slots=True)
class Step:
    action: Action
    seconds: float = 0.0
    force_n: float = 0.0
    ramp_s: float = 1.0
    release_s: float = 0.5
    drift_n_per_s: float = 0.0
    mass_kg: float = 0.0
    label: str = ""
    rating: float | None = None  # hold: the eVAS reaches this at the plateau
    value: float = 0.0  # rate: the eVAS value
    rate_n_per_s: float = 0.0  # ppt: the target rate
    threshold_n: float = 0.0  # ppt: the point's untreated threshold
    max_n: float | None = None  # ppt: the ramp stops here without a signal
    rate_error_pct: float = 0.0  # ppt: the therapist's real rate is off by this
    target_n: float = 0.0  # attempt
    ramp_n_per_s: float = 0.0  # attempt
    feedback: bool = True  # attempt: live feedback shown (False: a blind trial)

    @property
    def duration_s(self) -> float:
        """Scenario time this step takes (a ``ppt`` or ``attempt`` step's depends on the
        patient or trainee: see ``Scenario.script()``)."""
        if self.action is Action.HOLD:
            return self.ramp_s + self.seconds + self.release_s
        if self.action in (Action.MARK, Action.SIGNAL, Action.RATE):
            return 0.0
        if self.action is Action.LOAD:
            return LOAD_RAMP_S + self.seconds
        if self.action in (Action.PPT, Action.ATTEMPT):
            raise ValueError(f"a {self.action} step's duration is planned by its script")
        return self.seconds
