"""The simulated sensor and therapist: physics only, no bytes (lewis-style *model*).

``DeviceModel`` owns the device's sampling clock (integer µs since power-on) and advances
it in explicit steps: ``process(dt_s)`` returns every sample the ADC took meanwhile, as raw
counts, computed with numpy for the whole step at once. It is deterministic for a seed.

Force is the sum of the hand (holds, presses, PPT ramps, a trainee's attempts: the
scenario's ``Script``, with tremor) and static loads (stacked calibration weights, no
tremor). The script's button and eVAS events come out with the samples, at their exact
device time. Raw counts = offset + counts_per_n × force +
white noise, rounded (ADC quantisation) and clipped at the int24 range (saturation).
Channel k of a multi-channel device feels (1 − 0.1 k) of the force.
Scenario time 0 is the first sample after ``start_scenario()`` (the host's first START).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from ..messages import INT24_MAX, INT24_MIN, EventKind
from .scenario import Scenario
from .script import Script
from .spec import G_M_PER_S2, LOAD_RAMP_S

log = logging.getLogger(__name__)

US_PER_S = 1_000_000
CHANNEL_GAIN_STEP = 0.1  # channel k feels (1 - 0.1 k) of the force (cells under one probe)
TREMOR_FULL_N = 5.0  # hand force at which tremor reaches its full amplitude
TREMOR_HZ = 10.0  # centre of the 8–12 Hz physiological tremor band
TREMOR_SPREAD_HZ = 2.0
TREMOR_WANDER_HZ = 0.07  # how fast the tremor frequency wanders within its band
LOOP_VARIATION = 0.15  # a looping scenario's hand forces vary by up to ±15 % per round


@dataclass(frozen=True, slots=True)
class DueEvent:
    """A scripted device event (mark button, client button, eVAS rating) at its exact
    device time."""

    t_us: int  # device clock, µs since power-on
    kind: EventKind
    arg: int


@dataclass(frozen=True, slots=True)
class SampleChunk:
    """Samples the ADC took during one step. ``raw`` has shape (n, channels), int32."""

    first_index: int  # index since power-on of raw[0]
    t_us: np.ndarray  # device clock (unwrapped, int64 µs since power-on) of each sample
    raw: np.ndarray
    saturated: np.ndarray  # bool per sample: any channel clipped at the int24 range
    force_n: np.ndarray  # the true force applied (channel 0), newtons
    events: tuple[DueEvent, ...]  # the script's events up to the end of the step

    @property
    def count(self) -> int:
        return int(self.raw.shape[0])


def loop_gain(rounds: np.ndarray) -> np.ndarray:
    """How hard the therapist presses in round ``rounds`` of a looping scenario (round 0
    plays the script as written; later ones vary, deterministically)."""
    return np.where(rounds > 0, 1.0 + LOOP_VARIATION * np.sin(2.3 * rounds), 1.0)


class DeviceModel:
    """Sensor + therapist. Advance with ``process(dt_s)``; nothing here knows about bytes.

    ``loop``: the scenario starts over when it ends (for as long as the device runs), each
    round pressing a little harder or softer. ``place_mass`` is a calibration rig's control
    surface: from then on the static load is the mass it placed, whatever the script says.
    """

    def __init__(self, scenario: Scenario, *, loop: bool = False) -> None:
        self.scenario = scenario
        self.loop = loop
        self._event_rounds = 0  # rounds whose events are scheduled (loop)
        self._rig: tuple[float, float, float] | None = None  # (t_s placed, from N, to N)
        dev = scenario.device
        self.channels = dev.channels
        self.counts_per_n = dev.counts_per_n
        self.offset_counts = dev.offset_counts
        self.noise_counts = dev.noise_n * abs(dev.counts_per_n)
        self.zero_drift_n_per_s = dev.zero_drift_n_per_s
        self.tremor_n = scenario.therapist.tremor_n
        self.profile: Script = scenario.script()
        self._rng = np.random.default_rng(scenario.therapist.seed)
        self._tremor_phase0 = float(self._rng.uniform(0.0, 2 * np.pi))
        self.rate_hz = dev.rate_hz
        self.now_us = 0  # device clock, µs since power-on (never wraps here)
        self._frac_us = 0.0
        self.next_index = 0  # index of the next sample the ADC will take
        self._base_index = 0  # sample times are base_us + j * 1e6 / rate for j from base
        self._base_us = 0
        self.scenario_start_us: int | None = None
        self._events_pending: list[DueEvent] = []

    # ------------------------------------------------------------------ the clock

    def sample_time_us(self, index: int | np.ndarray) -> np.ndarray:
        """Device clock (µs since power-on) at which sample ``index`` is taken (an array of
        the index's shape: 0-d for one index)."""
        return self._base_us + (np.asarray(index) - self._base_index) * US_PER_S // self.rate_hz

    def samples_taken_by(self, t_us: int) -> int:
        """Index one past the last sample taken at or before device time ``t_us``."""
        if t_us < self._base_us:
            return self._base_index
        return self._base_index + (t_us - self._base_us) * self.rate_hz // US_PER_S + 1

    @property
    def period_us(self) -> int:
        return round(US_PER_S / self.rate_hz)

    def set_rate(self, rate_hz: int) -> None:
        """Change the sampling rate from the next sample on (indices stay continuous)."""
        nxt = self.next_index
        t_next = int(self.sample_time_us(nxt))
        t_next = max(t_next, self.now_us + 1)
        self.rate_hz = int(rate_hz)
        self._base_index, self._base_us = nxt, t_next

    def start_scenario(self) -> None:
        """Scenario time 0 = the next sample the ADC takes (called at the first START)."""
        if self.scenario_start_us is not None:
            return
        self.scenario_start_us = int(self.sample_time_us(self.next_index))
        self._events_pending = []
        self._event_rounds = 0
        self._schedule_events(self.scenario_start_us)
        log.debug("scenario %s starts at device t=%d us", self.scenario.name,
                  self.scenario_start_us)  # fmt: skip

    def scenario_time_s(self, t_us: int | np.ndarray) -> float | np.ndarray:
        if self.scenario_start_us is None:
            return np.asarray(t_us) * 0.0 - 1.0
        return (np.asarray(t_us) - self.scenario_start_us) / US_PER_S

    def _schedule_events(self, until_us: int) -> None:
        """Schedule the script's events of every round that starts by ``until_us`` (one
        round without ``loop``)."""
        assert self.scenario_start_us is not None
        round_us = round(self.profile.duration_s * US_PER_S)
        while self._event_rounds == 0 or (
            self.loop and round_us > 0
            and self.scenario_start_us + self._event_rounds * round_us <= until_us
        ):  # fmt: skip
            base = self.scenario_start_us + self._event_rounds * round_us
            self._events_pending += [DueEvent(base + round(e.t_s * US_PER_S), e.kind, e.arg)
                                     for e in self.profile.events]  # fmt: skip
            self._event_rounds += 1

    def take_events(self, until_us: int) -> tuple[DueEvent, ...]:
        """The scripted events due at or before device time ``until_us``, once each."""
        if self.scenario_start_us is None:
            return ()
        if self.loop:
            self._schedule_events(until_us)
        pending = self._events_pending
        n = 0
        while n < len(pending) and pending[n].t_us <= until_us:
            n += 1
        due, self._events_pending = tuple(pending[:n]), pending[n:]
        return due

    def next_event_us(self) -> int | None:
        """Device time of the next scripted event (None: there is none)."""
        if self.scenario_start_us is None:
            return None
        if self._events_pending:
            return self._events_pending[0].t_us
        if self.loop and self.profile.events and self.profile.duration_s > 0:
            # the next round's, scheduled when it starts
            return self.scenario_start_us + self._event_rounds * round(
                self.profile.duration_s * US_PER_S
            )
        return None

    def place_mass(self, mass_kg: float) -> None:
        """A calibration rig puts ``mass_kg`` (the total, weights stacked) on the sensor,
        reached in ``LOAD_RAMP_S`` from what it held."""
        now_s = float(self.scenario_time_s(self.now_us))
        held = self._rig_load_n(np.array([now_s]))
        start_n = float(held[0]) if held is not None else 0.0
        self._rig = (now_s, start_n, mass_kg * G_M_PER_S2)

    def _rig_load_n(self, t_s: np.ndarray) -> np.ndarray | None:
        if self._rig is None:
            return None
        t0, f0, f1 = self._rig
        return np.interp(t_s, [t0, t0 + LOAD_RAMP_S], [f0, f1])

    @property
    def scenario_done(self) -> bool:
        """True once the whole scenario has been played (the sensor is at rest since);
        never for a looping scenario."""
        if self.scenario_start_us is None or self.loop:
            return False
        return self.now_us - self.scenario_start_us >= self.profile.duration_s * US_PER_S

    # --------------------------------------------------------------- advancing

    def process(self, dt_s: float) -> SampleChunk:
        """Advance the device clock by ``dt_s`` and return every sample taken meanwhile."""
        self._frac_us += dt_s * US_PER_S
        whole = int(self._frac_us)
        self._frac_us -= whole
        return self.advance_to_us(self.now_us + whole)

    def advance_to_us(self, t_us: int, generate: bool = True) -> SampleChunk:
        """Advance the clock to ``t_us`` (µs since power-on). With ``generate=False`` the
        samples are skipped (counted by the caller only), which keeps long outages cheap."""
        t_us = max(int(t_us), self.now_us)
        self.now_us = t_us
        end = self.samples_taken_by(t_us)
        first = self.next_index
        n = max(0, end - first)
        self.next_index = first + n
        chunk = self.generate(first, n) if generate else self._empty(first)
        return replace(chunk, events=self.take_events(t_us))

    def _empty(self, first: int) -> SampleChunk:
        z = np.zeros(0, dtype=np.int64)
        return SampleChunk(first, z, np.zeros((0, self.channels), np.int32),
                           np.zeros(0, bool), np.zeros(0), ())  # fmt: skip

    def generate(self, first: int, n: int) -> SampleChunk:
        """The raw counts of samples ``first .. first+n-1`` (one numpy pass)."""
        if n == 0:
            return self._empty(first)
        idx = np.arange(first, first + n, dtype=np.int64)
        t_us = self.sample_time_us(idx)
        force = np.zeros(n)
        zero = np.full(n, float(self.offset_counts))
        if self.scenario_start_us is not None:
            ts = (t_us - self.scenario_start_us) / US_PER_S
            if self.loop and self.profile.duration_s > 0:
                rounds = np.floor(np.maximum(ts, 0.0) / self.profile.duration_s)
                hand, load = self.profile.forces(ts - rounds * self.profile.duration_s)
                hand = hand * loop_gain(rounds)
            else:
                hand, load = self.profile.forces(ts)
            rig = self._rig_load_n(ts)
            if rig is not None:
                load = rig
            force = hand + load + self._tremor(ts, hand)
            zero += self.counts_per_n * self.zero_drift_n_per_s * np.maximum(ts, 0.0)
        noise = self._rng.standard_normal((n, self.channels)) * self.noise_counts
        gains = 1.0 - CHANNEL_GAIN_STEP * np.arange(self.channels)
        counts = np.rint(zero[:, None] + self.counts_per_n * force[:, None] * gains + noise)
        clipped = np.clip(counts, INT24_MIN, INT24_MAX)
        saturated = (clipped != counts).any(axis=1)
        return SampleChunk(first, t_us, clipped.astype(np.int32), saturated, force, ())

    def _tremor(self, t_s: np.ndarray, hand_n: np.ndarray) -> np.ndarray:
        """8–12 Hz physiological tremor, only while the hand presses (a deterministic
        function of scenario time, so the result does not depend on step sizes)."""
        if self.tremor_n == 0:
            return np.zeros_like(t_s)
        w = 2 * np.pi * TREMOR_WANDER_HZ
        phase = 2 * np.pi * TREMOR_HZ * t_s - (2 * np.pi * TREMOR_SPREAD_HZ / w) * np.cos(
            w * t_s + self._tremor_phase0
        )
        gain = np.clip(hand_n / TREMOR_FULL_N, 0.0, 1.0)
        return self.tremor_n * gain * np.sin(phase)
