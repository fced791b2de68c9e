"""Deciding when a static load has settled, so a calibration reading can be accepted.

The window (``window_s``) is cut into ``SUB_BLOCKS`` equal sub-blocks; each sub-block is
averaged, which shrinks white noise by √m (m samples per sub-block). The reading is stable
when the spread (max − min) of the sub-block means over the whole window is below

    bound = K_SIGMA · noise_counts / √m + quantisation_counts

``K_SIGMA`` = 6 keeps false "unstable" verdicts on a truly static load rare (the range of
10 Gaussian means exceeds 6 σ with probability ≈ 0.2 %), while a load still creeping by more
than that bound over one window is refused. The accepted value is the mean of the window.
Everything is computed per block with numpy (no Python loop per sample).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .models import CalibrationError

log = logging.getLogger(__name__)

SUB_BLOCKS = 10
K_SIGMA = 6.0


@dataclass(frozen=True, slots=True)
class StableReading:
    """A window of samples whose spread stayed within the noise bound."""

    t_s: float  # device time of the window's last sample
    value_counts: float  # mean raw counts over the window
    spread_counts: float  # max − min of the sub-block means
    bound_counts: float
    std_counts: float  # standard deviation of the samples in the window
    n_samples: int
    new_plateau: bool  # first stable window after an unstable one

    @property
    def stderr_counts(self) -> float:
        """Standard error of ``value_counts`` (white noise assumed)."""
        return self.std_counts / math.sqrt(self.n_samples)


def estimate_noise_counts(raw: np.ndarray) -> float:
    """Robust white-noise σ from first differences (insensitive to slow ramps and steps):
    1.4826 · MAD(diff) / √2."""
    x = np.asarray(raw, dtype=np.float64).reshape(-1)
    if x.size < 3:
        raise CalibrationError(f"need at least 3 samples to estimate noise, got {x.size}")
    d = np.diff(x)
    mad = float(np.median(np.abs(d - np.median(d))))
    return 1.4826 * mad / math.sqrt(2.0)


class StabilityDetector:
    """Streaming stability check for one channel of raw counts.

    ``feed(t_s, raw)`` takes a block (raw: (n,) or (n, channels); ``channel`` picks one) and
    returns the latest stable window ending in this block, or None. Every plateau's first
    stable window is also queued for :meth:`pop_plateaus` (``--auto`` calibration needs each
    plateau even when one block spans several). ``progress`` (0..1) is how much of the
    window has been steady, for a "settling" indicator. It never gives up: the caller
    bounds the wait (:class:`~calibration.procedure.CalibrationProcedure` has a timeout).
    """

    def __init__(
        self,
        noise_counts: float,
        window_s: float = 1.0,
        rate_hz: float = 1000.0,
        *,
        quantisation_counts: float = 1.0,
        channel: int = 0,
    ) -> None:
        if not (math.isfinite(noise_counts) and noise_counts >= 0):
            raise CalibrationError(f"noise_counts: {noise_counts!r} must be ≥ 0")
        if not (window_s > 0 and rate_hz > 0):
            raise CalibrationError(f"window_s/rate_hz must be > 0, got {window_s}, {rate_hz}")
        n_window = max(1, round(window_s * rate_hz))
        self.sub_blocks = min(SUB_BLOCKS, n_window)
        self.m = max(1, n_window // self.sub_blocks)  # samples per sub-block
        self.n_window = self.m * self.sub_blocks
        self.noise_counts = float(noise_counts)
        self.bound_counts = K_SIGMA * self.noise_counts / math.sqrt(self.m) + quantisation_counts
        self.window_s = window_s
        self.rate_hz = rate_hz
        self.channel = channel
        self._pending = np.empty(0, dtype=np.float64)  # samples of an unfinished sub-block
        self._means = np.empty(0, dtype=np.float64)  # last ≤ sub_blocks sub-block means
        self._vars = np.empty(0, dtype=np.float64)
        self._ends = np.empty(0, dtype=np.float64)  # t_s of each sub-block's last sample
        self._stable = False
        self._plateaus: list[StableReading] = []
        self.current: StableReading | None = None
        self.progress = 0.0
        self.spread_counts = math.inf

    def restart(self) -> None:
        """Forget the history (new load coming)."""
        self._pending = np.empty(0, dtype=np.float64)
        self._means = self._vars = self._ends = np.empty(0, dtype=np.float64)
        self._stable = False
        self._plateaus.clear()
        self.current = None
        self.progress = 0.0
        self.spread_counts = math.inf

    def pop_plateaus(self) -> list[StableReading]:
        """First stable window of each plateau seen since the last call, oldest first."""
        out, self._plateaus = self._plateaus, []
        return out

    def feed(self, t_s: np.ndarray, raw: np.ndarray) -> StableReading | None:
        t = np.asarray(t_s, dtype=np.float64).reshape(-1)
        x = np.asarray(raw)
        if x.ndim == 2:
            x = x[:, self.channel]
        x = x.astype(np.float64, copy=False).reshape(-1)
        if t.size != x.size:
            raise ValueError(f"t_s has {t.size} samples, raw has {x.size}")
        if t.size == 0:
            return self.current if self._stable else None
        # previous unfinished sub-block + this block → whole sub-blocks
        n_prev = self._pending.size
        allx = np.concatenate([self._pending, x])
        n_sub = allx.size // self.m
        used = n_sub * self.m
        self._pending = allx[used:].copy()
        reading: StableReading | None = None
        if n_sub:
            blocks = allx[:used].reshape(n_sub, self.m)
            means = blocks.mean(axis=1)
            vars_ = blocks.var(axis=1)
            # time of each new sub-block's last sample (index into this block's t)
            end_idx = np.arange(1, n_sub + 1) * self.m - 1 - n_prev
            ends = t[end_idx]
            reading = self._update(means, vars_, ends)
        self._update_progress()
        return reading

    def _update(
        self, means: np.ndarray, vars_: np.ndarray, ends: np.ndarray
    ) -> StableReading | None:
        k = self.sub_blocks
        keep = k - 1
        all_means = np.concatenate([self._means[-keep:] if keep else self._means[:0], means])
        all_vars = np.concatenate([self._vars[-keep:] if keep else self._vars[:0], vars_])
        all_ends = np.concatenate([self._ends[-keep:] if keep else self._ends[:0], ends])
        self._means, self._vars, self._ends = all_means, all_vars, all_ends
        if all_means.size < k:
            return None
        win = sliding_window_view(all_means, k)  # one row per full window ending at a new block
        spread = win.max(axis=1) - win.min(axis=1)
        stable = spread <= self.bound_counts
        self.spread_counts = float(spread[-1])
        # new plateaus: stable windows whose predecessor was unstable
        prev = np.concatenate([[self._stable], stable[:-1]])
        starts = np.flatnonzero(stable & ~prev)
        for i in starts:  # one per plateau, not per sample
            self._plateaus.append(self._reading(int(i), win, all_vars, all_ends, spread, True))
        self._stable = bool(stable[-1])
        if not self._stable:
            self.current = None
            return None
        last = stable.size - 1
        self.current = self._reading(
            last, win, all_vars, all_ends, spread, bool(starts.size and starts[-1] == last)
        )
        return self.current

    def _reading(
        self,
        i: int,
        win: np.ndarray,
        all_vars: np.ndarray,
        all_ends: np.ndarray,
        spread: np.ndarray,
        new_plateau: bool,
    ) -> StableReading:
        k = self.sub_blocks
        means = win[i]
        var = float(np.mean(all_vars[i : i + k]) + np.var(means))
        return StableReading(
            t_s=float(all_ends[i + k - 1]),
            value_counts=float(np.mean(means)),
            spread_counts=float(spread[i]),
            bound_counts=self.bound_counts,
            std_counts=math.sqrt(var),
            n_samples=self.n_window,
            new_plateau=new_plateau,
        )

    def _update_progress(self) -> None:
        """Share of the window, counted back from now, whose sub-block means agree."""
        s = self._means[::-1]
        if s.size == 0:
            self.progress = 0.0
            return
        rng = np.maximum.accumulate(s) - np.minimum.accumulate(s)
        steady = (
            int(np.argmax(rng > self.bound_counts)) if np.any(rng > self.bound_counts) else s.size
        )
        self.progress = min(1.0, steady / self.sub_blocks)
