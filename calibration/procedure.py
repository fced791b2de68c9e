"""The calibration procedure: known masses in turn, one accepted reading each, then a fit.

Pure logic over blocks of raw counts (no ports, no terminal), shared by the
``pressure-logger calibrate`` command and the GUI wizard:

* **guided**: the user places each (stacked) mass; :attr:`progress` shows it settling; on
  Enter the caller calls :meth:`request_accept`, which takes the current stable window, or
  the first one to come if the load is still settling (:meth:`accept_current` is the strict
  variant that refuses instead);
* **auto** (``--auto``, simulator and scripted rigs): for each listed mass in turn, the next
  stable plateau whose value differs from the previously accepted one is accepted.

"Differs" means by more than ``MIN_STEP_BOUNDS`` stability bounds (so that a plateau
that merely re-stabilises after a bump is not taken for the next mass) and, when the device
reports a factory calibration, in the direction the change of mass implies.
The sensor's noise, which sets the stability bound, is estimated from the first window of
samples (robust first-difference estimate) unless the caller knows it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .models import STANDARD_GRAVITY, Calibration, CalibrationError, FitResult, fit_calibration
from .models import validate_masses as _validate
from .stability import StabilityDetector, StableReading, estimate_noise_counts

log = logging.getLogger(__name__)

MIN_STEP_BOUNDS = 5.0
NOISE_FLOOR_COUNTS = 1.0  # quantisation-limited ADCs: never trust a bound below this


@dataclass(frozen=True, slots=True)
class AcceptedPoint:
    index: int  # position in the mass list
    mass_kg: float
    reading: StableReading


def validate_stacked(masses_kg: Sequence[object], what: str = "masses_kg") -> list[float]:
    """A mass list for stacked weights: the checks of :func:`validate_masses`, plus the
    first mass is 0 (the unloaded reading) and each next total is larger than the one
    before (weights are only ever added). One-line CalibrationError naming the value."""
    values = [float(m) for m in _validate(list(masses_kg), what=what)]
    if values[0] != 0.0:
        raise CalibrationError(
            f"{what}: first mass is {masses_kg[0]!r}, must be 0 (the unloaded sensor is "
            "the first point)"
        )
    for i in range(1, len(values)):
        if not values[i] > values[i - 1]:
            raise CalibrationError(
                f"{what}: {masses_kg[i]!r} (entry {i + 1}) is not more than "
                f"{masses_kg[i - 1]!r} (entry {i}); weights are stacked, so list the total "
                "mass at each step in increasing order"
            )
    return values


def parse_masses(text: str, flag: str = "--masses-kg") -> list[float]:
    """``"0,0.5,1,2"`` → [0.0, 0.5, 1.0, 2.0]; one-line CalibrationError naming the value.
    Stacked weights: starts at 0 and increases strictly (:func:`validate_stacked`)."""
    items = [s.strip() for s in str(text).split(",")]
    if any(s == "" for s in items):
        raise CalibrationError(f"{flag}: empty entry in {text!r}")
    for i, s in enumerate(items):
        try:
            float(s)
        except ValueError:
            raise CalibrationError(
                f"{flag}: {s!r} (entry {i + 1}) is not a number of kilograms"
            ) from None
    return validate_stacked(items, what=flag)


class CalibrationProcedure:
    """Feed blocks with :meth:`feed`; read :attr:`done`, :attr:`progress`, :attr:`stable`
    (a reading is ready when not None); guided mode accepts with :meth:`accept_current`
    (or :meth:`request_accept`), :meth:`undo` takes the last one back; finish with
    :meth:`fit`. ``timeout_s`` (device time) bounds the wait for each mass: in auto mode
    from the previous accepted reading, in guided mode from the Enter press."""

    def __init__(
        self,
        masses_kg: Sequence[float],
        rate_hz: float,
        *,
        auto: bool = True,
        window_s: float = 1.0,
        timeout_s: float = 60.0,
        noise_counts: float | None = None,
        factory: Calibration | None = None,
        g: float = STANDARD_GRAVITY,
        channel: int = 0,
    ) -> None:
        self.masses_kg = validate_stacked(list(masses_kg), what="masses_kg")
        if not rate_hz > 0:
            raise CalibrationError(f"rate_hz: {rate_hz!r} must be > 0")
        self.rate_hz = float(rate_hz)
        self.auto = auto
        self.window_s = window_s
        self.timeout_s = timeout_s
        self.factory = factory
        self.g = g
        self.channel = channel
        self.accepted: list[AcceptedPoint] = []
        self.detector: StabilityDetector | None = None
        self.noise_counts = noise_counts
        self._warmup: list[np.ndarray] = []
        self._warmup_t: list[np.ndarray] = []
        self._n_warmup = max(10, round(window_s * self.rate_hz))
        self._since_s: float | None = None  # device time the current mass was asked for
        self._armed_s: float | None = None  # guided: Enter pressed, accept once settled
        self.t_s = 0.0
        self.last_raw: float | None = None
        if noise_counts is not None:
            self._make_detector(noise_counts)

    # ------------------------------------------------------------------ state

    @property
    def done(self) -> bool:
        return len(self.accepted) == len(self.masses_kg)

    @property
    def current_index(self) -> int:
        return len(self.accepted)

    @property
    def current_mass_kg(self) -> float | None:
        return None if self.done else self.masses_kg[self.current_index]

    @property
    def progress(self) -> float:
        """Settling indicator 0..1 for the load on the sensor now."""
        return self.detector.progress if self.detector else 0.0

    @property
    def stable(self) -> StableReading | None:
        return self.detector.current if self.detector else None

    @property
    def acceptable(self) -> bool:
        """Guided mode: a stable reading that differs from the previous mass's is there,
        so ``accept_current`` would take it (the Accept button's state)."""
        reading = self.stable
        return reading is not None and not self.done and self._differs(reading)

    def current_force_n(self) -> float | None:
        """Latest reading through the factory calibration (for the display only)."""
        if self.last_raw is None or self.factory is None:
            return None
        return float(self.factory.counts_to_n(np.array([self.last_raw]))[0])

    # ------------------------------------------------------------------ input

    def _make_detector(self, noise_counts: float) -> None:
        self.noise_counts = max(float(noise_counts), NOISE_FLOOR_COUNTS)
        self.detector = StabilityDetector(
            self.noise_counts,
            self.window_s,
            self.rate_hz,
            channel=0,
        )
        log.info(
            "calibration: noise %.1f counts, stability bound %.1f counts over %.2f s",
            self.noise_counts,
            self.detector.bound_counts,
            self.window_s,
        )

    def feed(self, t_s: np.ndarray, raw: np.ndarray) -> list[AcceptedPoint]:
        """A block of samples; returns points accepted by it (auto mode only)."""
        t = np.asarray(t_s, dtype=np.float64).reshape(-1)
        x = np.asarray(raw)
        if x.ndim == 2:
            x = x[:, self.channel]
        x = x.astype(np.float64, copy=False).reshape(-1)
        if t.size == 0 or self.done:
            return []
        self.t_s = float(t[-1])
        self.last_raw = float(x[-1])
        if self._since_s is None:
            self._since_s = float(t[0])
        if self.detector is None:
            self._warmup.append(x)
            self._warmup_t.append(t)
            if sum(a.size for a in self._warmup) < self._n_warmup:
                return []
            x = np.concatenate(self._warmup)
            t = np.concatenate(self._warmup_t)
            self._warmup, self._warmup_t = [], []
            self._make_detector(estimate_noise_counts(x))
        assert self.detector is not None
        self.detector.feed(t, x)
        new: list[AcceptedPoint] = []
        if self.auto:
            for reading in self.detector.pop_plateaus():
                if self.done:
                    break
                if self._acceptable(reading):
                    new.append(self._accept(reading))
        else:
            self.detector.pop_plateaus()
            current = self.detector.current
            if self._armed_s is not None and current is not None and self._differs(current):
                new.append(self._accept(current))
        waiting_since = self._since_s if self.auto else self._armed_s
        overdue = waiting_since is not None and self.t_s - waiting_since > self.timeout_s
        if overdue and not self.done:
            raise CalibrationError(self._never_settled(unstable=self.stable is None))
        return new

    def _never_settled(self, unstable: bool) -> str:
        m = self.current_mass_kg
        where = f"mass {m:g} kg (point {self.current_index + 1} of {len(self.masses_kg)})"
        if unstable or not self.accepted:
            return f"{where}: load never settled within {self.timeout_s:g} s"
        return (
            f"{where}: no new stable load within {self.timeout_s:g} s "
            f"(reading still at the {self.accepted[-1].mass_kg:g} kg level)"
        )

    def _acceptable(self, reading: StableReading) -> bool:
        """Auto mode: the plateau differs from the previous reading, in the direction the
        change of mass implies (when the factory calibration tells the sign)."""
        if not self._differs(reading):
            log.debug("plateau ≈ previous reading; waiting for the next mass")
            return False
        mass_kg = self.current_mass_kg
        if not self.accepted or mass_kg is None:
            return True
        prev = self.accepted[-1]
        delta = reading.value_counts - prev.reading.value_counts
        if self.factory is not None:
            expected = (mass_kg - prev.mass_kg) * np.sign(self.factory.counts_per_n)
            if np.sign(delta) != np.sign(expected):
                log.info(
                    "plateau %+.0f counts goes the wrong way for %g → %g kg; skipped",
                    delta,
                    prev.mass_kg,
                    mass_kg,
                )
                return False
        return True

    def _accept(self, reading: StableReading) -> AcceptedPoint:
        point = AcceptedPoint(self.current_index, self.masses_kg[self.current_index], reading)
        self.accepted.append(point)
        self._since_s = reading.t_s
        self._armed_s = None
        log.info("accepted %g kg: %.1f counts", point.mass_kg, reading.value_counts)
        return point

    def accept_current(self) -> AcceptedPoint:
        """Guided mode: the user pressed Enter. Takes the current stable window."""
        if self.done:
            raise CalibrationError("all masses already accepted")
        reading = self.stable
        if reading is None:
            raise CalibrationError("not settled yet: wait until the reading is stable")
        if not self._differs(reading):
            raise CalibrationError(
                f"reading unchanged since {self.accepted[-1].mass_kg:g} kg: "
                f"is the {self.current_mass_kg:g} kg load on the sensor?"
            )
        return self._accept(reading)

    def undo(self) -> AcceptedPoint:
        """Drop the last accepted reading (its mass is asked for again) and restart the
        stability detector, so the next reading must settle anew. CalibrationError when
        nothing was accepted."""
        if not self.accepted:
            raise CalibrationError("nothing to undo: no reading accepted yet")
        point = self.accepted.pop()
        self._armed_s = None
        self._since_s = self.t_s
        if self.detector is not None:
            self.detector.restart()
        log.info("undid %g kg (%.1f counts)", point.mass_kg, point.reading.value_counts)
        return point

    def request_accept(self) -> AcceptedPoint | None:
        """Guided mode, Enter pressed: accept now if settled (and changed since the previous
        mass), otherwise as soon as it is; the wait is bounded by ``timeout_s``."""
        if self.done:
            raise CalibrationError("all masses already accepted")
        reading = self.stable
        if reading is not None and self._differs(reading):
            return self._accept(reading)
        if self._armed_s is None:
            self._armed_s = self.t_s
        return None

    @property
    def waiting(self) -> bool:
        """Guided mode: Enter was pressed and the reading has not settled yet."""
        return self._armed_s is not None

    def _differs(self, reading: StableReading) -> bool:
        if not self.accepted:
            return True
        delta = reading.value_counts - self.accepted[-1].reading.value_counts
        return abs(delta) > MIN_STEP_BOUNDS * reading.bound_counts

    # ------------------------------------------------------------------ result

    def fit(self) -> FitResult:
        """Fit the accepted points (all masses must be in)."""
        if not self.done:
            raise CalibrationError(
                f"only {len(self.accepted)} of {len(self.masses_kg)} masses accepted"
            )
        points = [(p.reading.value_counts, p.mass_kg) for p in self.accepted]
        # standard error of one accepted reading (for the quadratic rule)
        stderr = max(p.reading.stderr_counts for p in self.accepted)
        return fit_calibration(points, g=self.g, noise_counts=stderr)
