"""Tare: where zero force is, and since when.

A calibration gives gain and zero as they were on the bench; the zero of a force-sensing
resistor or load cell wanders with temperature and handling. The tare is a shift of the zero
in raw counts (the gain is untouched), taken automatically at session start when the sensor
is unloaded, on demand (Zero button / ``LiveSession.tare()``), and watched between holds:
when the unloaded reading wanders more than ``drift_limit_n`` a :class:`DriftWarning` is
returned once per excursion so the user can re-zero.

A zero is an event in time (:class:`calibration.models.ZeroEvent`): it changes the forces from
its instant on, never before. :class:`ForceTimeline` (a calibration plus its zero events in
time order) is the one conversion from raw counts to newtons: the live view, the store,
every export, the comparison and a recalibration all call its :meth:`~ForceTimeline.
counts_to_n`, so no view can apply the last zero to samples taken before it. Raw counts
are never modified.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .models import Calibration, CalibrationError, ZeroEvent, ZeroSource
from .stability import StabilityDetector, estimate_noise_counts

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DriftWarning:
    t_s: float
    drift_n: float  # unloaded reading (mean, N) relative to the current zero
    limit_n: float

    def message(self, force: Callable[[float], str] | None = None) -> str:
        """In the user's words; ``force`` formats a force given in N (default: newtons)."""
        fmt = force or (lambda n: f"{n:.2f} N")
        sign = "+" if self.drift_n >= 0 else "−"
        return (
            f"unloaded reading drifted {sign}{fmt(abs(self.drift_n))} (limit ±"
            f"{fmt(self.limit_n)}) — zero the sensor"
        )


class Tare:
    """Zero offset on top of a calibration.

    ``drift_limit_n``: unloaded readings further than this from zero raise a DriftWarning.
    ``auto_zero_limit_n``: at session start, zero only if the reading is within this of the
    calibration's zero (a larger reading means the sensor is loaded, not drifted).
    """

    def __init__(
        self,
        calibration: Calibration,
        *,
        drift_limit_n: float = 1.0,
        auto_zero_limit_n: float = 5.0,
    ) -> None:
        self.calibration = calibration
        self.drift_limit_n = drift_limit_n
        self.auto_zero_limit_n = auto_zero_limit_n
        self.shift_counts = 0.0
        self._warned = False

    @property
    def effective(self) -> Calibration:
        """The calibration with the tare folded into its zero (what a session records)."""
        if self.shift_counts == 0.0:
            return self.calibration
        return self.calibration.with_zero(self.calibration.offset_counts + self.shift_counts)

    def counts_to_n(self, raw: np.ndarray) -> np.ndarray:
        """Force in newtons with the tare applied (vectorised)."""
        return self.calibration.counts_to_n(np.asarray(raw, dtype=np.float64) - self.shift_counts)

    def zero_now(self, raw: np.ndarray) -> float:
        """Manual zero: the mean of ``raw`` (recent unloaded samples) becomes 0 N.
        Returns the force (N, before zeroing) that was removed."""
        x = np.asarray(raw, dtype=np.float64)
        if x.ndim == 2:
            x = x[:, 0]
        if x.size == 0:
            raise CalibrationError("zero: no recent samples to zero on")
        zero = float(np.mean(x))
        removed_n = float(self.counts_to_n(np.array([zero]))[0])
        self.shift_counts = zero - self.calibration.offset_counts
        self._warned = False
        log.info("zeroed: removed %+.3f N (shift %+.0f counts)", removed_n, self.shift_counts)
        return removed_n

    def zero_at_start(
        self, t_s: np.ndarray, raw: np.ndarray, noise_counts: float | None = None
    ) -> bool:
        """Zero on the first samples of a session if the sensor is unloaded and steady.

        Unloaded: the mean is within ``auto_zero_limit_n`` of the calibration's zero.
        Steady: the whole span passes the :class:`StabilityDetector` test with the
        sensor's noise (estimated from the samples when not given). Returns True if zeroed.
        """
        x = np.asarray(raw, dtype=np.float64)
        if x.ndim == 2:
            x = x[:, 0]
        t = np.asarray(t_s, dtype=np.float64).reshape(-1)
        if x.size < 10:
            return False
        noise = estimate_noise_counts(x) if noise_counts is None else noise_counts
        span_s = float(t[-1] - t[0])
        rate_hz = (x.size - 1) / span_s if span_s > 0 else 1.0
        det = StabilityDetector(noise, window_s=x.size / rate_hz, rate_hz=rate_hz)
        steady = det.feed(t, x) is not None
        force_n = float(np.mean(self.calibration.counts_to_n(x)))
        if not steady or not math.isfinite(force_n) or abs(force_n) > self.auto_zero_limit_n:
            log.info(
                "no zero at session start (steady=%s, reading %.2f N, limit %.2f N)",
                steady,
                force_n,
                self.auto_zero_limit_n,
            )
            return False
        self.zero_now(x)
        return True

    def check_drift(self, t_s: np.ndarray, raw: np.ndarray) -> DriftWarning | None:
        """Check samples known to be unloaded (between holds). One warning per excursion:
        the next one comes only after the reading came back within half the limit or a
        new zero was taken."""
        x = np.asarray(raw, dtype=np.float64)
        if x.ndim == 2:
            x = x[:, 0]
        if x.size == 0:
            return None
        drift_n = float(np.mean(self.counts_to_n(x)))
        if abs(drift_n) <= self.drift_limit_n / 2:
            self._warned = False
        if abs(drift_n) <= self.drift_limit_n or self._warned:
            return None
        self._warned = True
        t = np.asarray(t_s, dtype=np.float64).reshape(-1)
        warning = DriftWarning(float(t[-1]), drift_n, self.drift_limit_n)
        log.info("%s", warning.message())  # the caller shows it to the user
        return warning


class ForceTimeline:
    """A calibration and its zero events in time order: raw counts → newtons at any time.

    Sample ``i`` is converted with the calibration whose zero is the last event at or
    before ``t_s[i]`` (the calibration's own zero before the first event). Each segment
    goes through :meth:`Calibration.counts_to_n` of ``calibration.with_zero(zero)``, the
    same arithmetic wherever it runs, so live and stored forces agree to the bit.
    """

    def __init__(self, calibration: Calibration, zeros: Sequence[ZeroEvent] = ()) -> None:
        self.calibration = calibration
        self.zeros: list[ZeroEvent] = []
        self._t_s: list[float] = []
        self._cals: list[Calibration] = [calibration]
        for z in sorted(zeros, key=lambda z: z.t_s):
            self.zero_at(z.t_s, z.zero_counts, z.source)

    @property
    def current(self) -> Calibration:
        """The calibration in force after the last zero (what a new session starts with)."""
        return self._cals[-1]

    def zero_at(self, t_s: float, zero_counts: float, source: ZeroSource | str) -> ZeroEvent:
        """From ``t_s`` on, raw ``zero_counts`` reads 0 N. Events arrive in time order."""
        t = float(t_s)
        if self._t_s and t < self._t_s[-1]:
            raise CalibrationError(f"zero at t={t:g} s is before the previous one")
        cal = self.calibration.with_zero(zero_counts)
        event = ZeroEvent(t, float(zero_counts), ZeroSource(source))
        self.zeros.append(event)
        self._t_s.append(t)
        self._cals.append(cal)
        return event

    def calibration_at(self, t_s: float) -> Calibration:
        return self._cals[bisect.bisect_right(self._t_s, float(t_s))]

    def removed_n(self) -> list[float]:
        """Per zero event, the force (N) its zero reading had just before it: the load or
        drift that event took away."""
        return [float(self._cals[k].counts_to_n(z.zero_counts)) for k, z in enumerate(self.zeros)]

    def counts_to_n(self, t_s: np.ndarray, raw: np.ndarray) -> np.ndarray:
        """Newtons for ``raw`` (any shape with samples on axis 0) taken at ``t_s``."""
        t = np.asarray(t_s, dtype=np.float64).reshape(-1)
        if not self._t_s or t.size == 0:
            return self.calibration.counts_to_n(raw)
        segment = np.searchsorted(self._t_s, t, side="right")
        first, last = int(segment.min()), int(segment.max())
        if first == last:
            return self._cals[first].counts_to_n(raw)
        raw_arr = np.asarray(raw)
        out = np.empty(raw_arr.shape, dtype=np.float64)
        for k in range(first, last + 1):
            sel = segment == k
            if sel.any():
                out[sel] = self._cals[k].counts_to_n(raw_arr[sel])
        return out
