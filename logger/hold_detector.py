"""Hold detection and hold metrics: the single definition (docs/EXPORTS.md).

A *contact* starts at the first sample at or above ``onset_n`` and lasts up to (not
including) the first sample below ``release_n``. A contact whose duration (last sample's
``t_s`` minus first sample's ``t_s``) is shorter than ``min_duration_s`` is a *press*;
otherwise it is a *hold*. Times are sample times (no interpolation), so ``start_s``/``end_s``
are the first and last samples of the hold; sample index ranges are half-open
``[start_i, end_i)``.

Gaps: a jump of more than ``max_gap_s`` (default :data:`MAX_GAP_S`) between consecutive
sample times ends an open contact at the last sample before the jump; if force is still at
or above ``onset_n`` after the gap, a new contact starts at the first sample after it.
Shorter jumps (a corrupted frame or two) are bridged: the hold goes on, and its metrics are
computed over the samples actually received (nothing is interpolated). We never stitch a
hold across a disconnect because nobody knows what the force did meanwhile.

Long contacts: a contact is cut at the first sample :data:`MAX_CONTACT_S` (10 min) or more
after its start, far beyond any clinical hold, so that memory stays bounded when a weight is
left on the sensor; a new contact starts at that sample if force is still above onset.

Metrics (:func:`hold_metrics`):

- plateau (:func:`plateau_range`): from the first sample ``>= 0.9 * median(hold)`` to the
  last such sample;
- ``mean_n`` and ``cv_pct`` (population standard deviation / mean × 100) over the plateau;
- ``peak_n`` over the hold;
- ``ramp_rate_n_per_s``: on the way up, from the last sample below 10 % of the plateau mean
  before the hold first reaches 90 % of it, with both crossing times linearly interpolated.
  The search looks back at most :data:`RAMP_LOOKBACK_S` before the hold start and never
  across a gap; ``None`` if the rise did not start inside that window;
- ``time_over_warn_s`` / ``time_over_max_s``: number of hold samples strictly above the level
  times the sample period (median sample spacing within the hold);
- ``in_target_pct``: share of plateau samples inside the closed target window, else ``None``.

The streaming :class:`HoldDetector` finds transitions per block with numpy and keeps only
the open contact's samples plus :data:`RAMP_LOOKBACK_S` of history, and gives exactly the
result of :func:`detect_holds` + :func:`hold_metrics` over the whole array.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from .config import HoldConfig, Limits

log = logging.getLogger(__name__)

MAX_GAP_S = 0.5
"""A time jump longer than this between two samples ends an open contact."""

RAMP_LOOKBACK_S = 10.0
"""How far before a hold's start the ramp-rate search looks for the rise's beginning."""

MAX_CONTACT_S = 600.0
"""A contact is cut after this long (a weight left on the sensor must not grow memory
without bound); if force is still above onset a new contact starts at the same sample."""

PLATEAU_FRACTION = 0.9
RAMP_LOW_FRACTION = 0.1
RAMP_HIGH_FRACTION = 0.9


@dataclass(frozen=True, slots=True)
class HoldLevels:
    """The limits in force for one hold's metrics (the point's overrides, else the config's)."""

    warn_n: float
    max_n: float
    target_n: tuple[float, float] | None = None


class HoldEventKind(StrEnum):
    STARTED = "started"  # force rose through onset_n: a contact began (may yet be a press)
    ENDED = "ended"  # a hold ended; ``metrics`` holds docs/EXPORTS.md hold metrics
    REJECTED = "rejected"  # the contact was shorter than min_duration_s: a press


@dataclass(frozen=True, slots=True)
class HoldEvent:
    """``start_i``/``end_i`` count samples fed to the detector since it was created (the
    contact is ``[start_i, end_i)``); ``start_i`` identifies the contact."""

    kind: HoldEventKind
    start_i: int
    start_s: float
    end_i: int | None = None
    end_s: float | None = None
    metrics: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class HoldState:
    """The open contact, for the live display. ``mean_n`` is over all its samples so far
    (the plateau is only known at the end); ``is_hold`` once it lasted min_duration_s."""

    start_i: int
    start_s: float
    elapsed_s: float
    mean_n: float
    peak_n: float
    is_hold: bool


# ---------------------------------------------------------------------------- metrics


def hold_metrics(
    t_s: np.ndarray,
    force_n: np.ndarray,
    start_i: int,
    end_i: int,
    *,
    warn_n: float,
    max_n: float,
    target_n: tuple[float, float] | None = None,
    max_gap_s: float = MAX_GAP_S,
    lookback_s: float = RAMP_LOOKBACK_S,
) -> dict[str, Any]:
    """Metrics of the hold ``[start_i, end_i)`` of ``t_s``/``force_n`` (docs/EXPORTS.md).

    Samples before ``start_i`` are used only for the ramp rate. Returns exactly the metric
    fields of :class:`logger.records.Hold` (all but index, point_index and point), so that
    ``Hold(index=…, point_index=…, point=…, **metrics)`` builds the record.
    """
    if not 0 <= start_i < end_i <= len(t_s):
        raise ValueError(f"bad hold range [{start_i}, {end_i}) for {len(t_s)} samples")
    t = np.asarray(t_s, dtype=np.float64)
    f = np.asarray(force_n, dtype=np.float64)
    seg_t = t[start_i:end_i]
    seg = f[start_i:end_i]

    p0, p1 = plateau_range(seg)
    plateau = seg[p0:p1]
    mean_n = float(plateau.mean())
    cv_pct = float(plateau.std() / mean_n * 100.0) if mean_n != 0 else float("nan")

    period_s = float(np.median(np.diff(seg_t))) if len(seg_t) > 1 else 0.0
    in_target_pct: float | None = None
    if target_n is not None:
        lo, hi = target_n
        inside = np.count_nonzero((plateau >= lo) & (plateau <= hi))
        in_target_pct = float(inside / len(plateau) * 100.0)

    return {
        "start_s": float(seg_t[0]),
        "end_s": float(seg_t[-1]),
        "duration_s": float(seg_t[-1] - seg_t[0]),
        "mean_n": mean_n,
        "peak_n": float(seg.max()),
        "cv_pct": cv_pct,
        "ramp_rate_n_per_s": _ramp_rate(t, f, start_i, end_i, mean_n, max_gap_s, lookback_s),
        "time_over_warn_s": float(np.count_nonzero(seg > warn_n) * period_s),
        "time_over_max_s": float(np.count_nonzero(seg > max_n) * period_s),
        "in_target_pct": in_target_pct,
    }


def plateau_range(hold_force_n: np.ndarray) -> tuple[int, int]:
    """The plateau of one hold's forces as a half-open index range into them: from the
    first sample ``>= PLATEAU_FRACTION * median`` to the last such sample."""
    seg = np.asarray(hold_force_n, dtype=np.float64)
    on_plateau = np.flatnonzero(seg >= PLATEAU_FRACTION * float(np.median(seg)))
    return int(on_plateau[0]), int(on_plateau[-1]) + 1


def _ramp_rate(
    t: np.ndarray,
    f: np.ndarray,
    start_i: int,
    end_i: int,
    mean_n: float,
    max_gap_s: float,
    lookback_s: float,
) -> float | None:
    if mean_n <= 0:
        return None
    lo_n = RAMP_LOW_FRACTION * mean_n
    hi_n = RAMP_HIGH_FRACTION * mean_n
    reached = np.flatnonzero(f[start_i:end_i] >= hi_n)
    if len(reached) == 0:
        return None
    i_hi = start_i + int(reached[0])
    # the window we may look back into: lookback_s before the start, and not across a gap
    w0 = int(np.searchsorted(t[: start_i + 1], t[start_i] - lookback_s, side="left"))
    jumps = np.flatnonzero(np.diff(t[w0 : i_hi + 1]) > max_gap_s)
    if len(jumps):
        w0 += int(jumps[-1]) + 1
    below = np.flatnonzero(f[w0:i_hi] < lo_n)
    if len(below) == 0:
        return None
    i_lo = w0 + int(below[-1])
    i_hi = i_lo + 1 + int(np.flatnonzero(f[i_lo + 1 : i_hi + 1] >= hi_n)[0])
    t_lo = _cross_time(t, f, i_lo, lo_n)
    t_hi = _cross_time(t, f, i_hi - 1, hi_n)
    if t_hi <= t_lo:
        return None
    return float((hi_n - lo_n) / (t_hi - t_lo))


def _cross_time(t: np.ndarray, f: np.ndarray, i: int, level_n: float) -> float:
    """Time where the segment from sample i to i+1 passes level_n (linear)."""
    df = f[i + 1] - f[i]
    frac = (level_n - f[i]) / df if df != 0 else 0.0
    frac = min(max(frac, 0.0), 1.0)
    return float(t[i] + frac * (t[i + 1] - t[i]))


# ---------------------------------------------------------------------------- detection


def _jumps(t: np.ndarray, prev_t: float | None, max_gap_s: float) -> np.ndarray:
    """Boolean per sample: True where a gap of more than max_gap_s precedes the sample."""
    jump = np.empty(len(t), dtype=bool)
    if len(t) == 0:
        return jump
    jump[0] = prev_t is not None and (t[0] - prev_t) > max_gap_s
    np.greater(np.diff(t), max_gap_s, out=jump[1:])
    return jump


def _transitions(
    t: np.ndarray,
    f: np.ndarray,
    prev_t: float | None,
    cfg: HoldConfig,
    open_start_s: float | None,
    max_gap_s: float,
    max_contact_s: float,
) -> tuple[list[tuple[str, int]], float | None]:
    """Contact starts/ends in one run of samples, by searching index lists (one step per
    transition, not per sample). ``prev_t`` is the time of the sample before ``t[0]``;
    ``open_start_s`` the start of a contact open before ``t[0]``. Returns
    [("start"|"end", i), …] and the start time of the contact open after the last sample
    (None if none). An end at i means the contact is [start, i)."""
    n = len(f)
    # fast paths for the common blocks (between contacts; inside a steady hold)
    if open_start_s is None:
        if f.max() < cfg.onset_n:
            return [], None
    elif (
        f.min() >= cfg.release_n
        and t[-1] < open_start_s + max_contact_s
        and (prev_t is None or t[0] - prev_t <= max_gap_s)
        and (n < 2 or (t[1:] - t[:-1]).max() <= max_gap_s)
    ):
        return [], open_start_s
    jump = _jumps(t, prev_t, max_gap_s)
    starts = np.nonzero(f >= cfg.onset_n)[0]
    ends = np.nonzero((f < cfg.release_n) | jump)[0]
    out: list[tuple[str, int]] = []
    pos = 0
    while True:
        if open_start_s is not None:
            j = int(ends.searchsorted(pos))
            end = int(ends[j]) if j < len(ends) else n
            # a contact longer than max_contact_s is cut there (bounded memory)
            cut = max(int(t.searchsorted(open_start_s + max_contact_s, side="left")), pos)
            end = min(end, cut)
            if end >= n:
                break
            pos = end
            out.append(("end", pos))
            open_start_s = None
        else:
            j = int(starts.searchsorted(pos))
            if j == len(starts):
                break
            k = int(starts[j])
            out.append(("start", k))
            pos = k + 1
            open_start_s = float(t[k])
    return out, open_start_s


def detect_contacts(
    t_s: np.ndarray,
    force_n: np.ndarray,
    cfg: HoldConfig,
    *,
    max_gap_s: float = MAX_GAP_S,
    max_contact_s: float = MAX_CONTACT_S,
) -> list[tuple[int, int]]:
    """Offline: every contact (holds and presses) in the arrays as a half-open sample
    range ``(start_i, end_i)``; a contact still open at the last sample ends there."""
    t = np.asarray(t_s, dtype=np.float64)
    f = np.asarray(force_n, dtype=np.float64)
    if len(t) == 0:
        return []
    trans, open_s = _transitions(t, f, None, cfg, None, max_gap_s, max_contact_s)
    if open_s is not None:
        trans.append(("end", len(f)))
    return [(s, e) for (_, s), (_, e) in zip(trans[::2], trans[1::2], strict=True)]


def detect_holds(
    t_s: np.ndarray,
    force_n: np.ndarray,
    cfg: HoldConfig,
    *,
    max_gap_s: float = MAX_GAP_S,
    max_contact_s: float = MAX_CONTACT_S,
) -> list[tuple[int, int]]:
    """Offline: every hold in the arrays as a half-open sample range ``(start_i, end_i)``.

    Presses are left out; a contact still open at the last sample ends there.
    """
    t = np.asarray(t_s, dtype=np.float64)
    contacts = detect_contacts(t_s, force_n, cfg, max_gap_s=max_gap_s,
                               max_contact_s=max_contact_s)  # fmt: skip
    return [(s, e) for s, e in contacts if t[e - 1] - t[s] >= cfg.min_duration_s]


class _History:
    """Growable float64 (t, f) buffer of the samples the open contact may still need."""

    def __init__(self, capacity: int = 4096) -> None:
        self.t = np.empty(capacity)
        self.f = np.empty(capacity)
        self.lo = 0  # live region is [lo, hi)
        self.hi = 0
        self.first_i = 0  # global sample index of self.t[self.lo]

    def __len__(self) -> int:
        return self.hi - self.lo

    def append(self, t: np.ndarray, f: np.ndarray) -> None:
        n = len(t)
        if self.hi + n > len(self.t):
            live = self.hi - self.lo
            cap = len(self.t)
            while live + n > cap // 2 and cap < 2 * (live + n):
                cap *= 2
            nt, nf = np.empty(cap), np.empty(cap)
            nt[:live] = self.t[self.lo : self.hi]
            nf[:live] = self.f[self.lo : self.hi]
            self.t, self.f, self.lo, self.hi = nt, nf, 0, live
        self.t[self.hi : self.hi + n] = t
        self.f[self.hi : self.hi + n] = f
        self.hi += n

    def drop_before(self, t_min_s: float) -> None:
        """Forget samples earlier than t_min_s (t is non-decreasing)."""
        k = int(np.searchsorted(self.t[self.lo : self.hi], t_min_s, side="left"))
        self.lo += k
        self.first_i += k

    def view(self) -> tuple[np.ndarray, np.ndarray]:
        return self.t[self.lo : self.hi], self.f[self.lo : self.hi]


LevelsFor = Callable[[int], HoldLevels]


class HoldDetector:
    """Streaming hold detector: feed blocks in time order with :meth:`process`.

    ``levels(start_i)`` gives the limits in force for the contact starting at global sample
    ``start_i`` (the pipeline maps it to the point active at the start); by default the
    config's default limits without a target window.

    :meth:`set_config` changes the thresholds in place: at once between contacts, else from
    the first sample after the open contact ends, so a contact is judged whole by the
    thresholds it began with (a change never splits or loses it).
    Work per block is O(block + transitions); memory is the open contact plus
    :data:`RAMP_LOOKBACK_S` of samples.
    """

    def __init__(
        self,
        cfg: HoldConfig,
        *,
        levels: LevelsFor | None = None,
        max_gap_s: float = MAX_GAP_S,
        lookback_s: float = RAMP_LOOKBACK_S,
        max_contact_s: float = MAX_CONTACT_S,
    ) -> None:
        self.cfg = cfg
        self._pending_cfg: HoldConfig | None = None  # waits for the open contact to end
        default = Limits()
        self._levels = levels or (lambda _i: HoldLevels(default.warn_n, default.max_n))
        self.max_gap_s = max_gap_s
        self.max_contact_s = max_contact_s
        self.lookback_s = lookback_s
        self._hist = _History()
        self._n_seen = 0
        self._last_t: float | None = None
        self._open_i: int | None = None  # global start index of the open contact
        self._open_s = 0.0
        self._sum_n = 0.0
        self._count = 0
        self._peak_n = -np.inf

    @property
    def pending_config(self) -> HoldConfig | None:
        """Thresholds set during the open contact, in force once it ends (else None)."""
        return self._pending_cfg

    def set_config(self, cfg: HoldConfig) -> None:
        """New thresholds: at once between contacts, else from the end of the open one
        (the latest setting wins; the ones in force again: nothing waits)."""
        if self._open_i is None or cfg == self.cfg:
            self.cfg, self._pending_cfg = cfg, None
        else:
            self._pending_cfg = cfg

    def _apply_pending(self) -> None:
        if self._pending_cfg is not None and self._open_i is None:
            self.cfg, self._pending_cfg = self._pending_cfg, None

    @property
    def samples_seen(self) -> int:
        return self._n_seen

    @property
    def last_t_s(self) -> float | None:
        """Time of the last sample processed."""
        return self._last_t

    @property
    def open_contact(self) -> tuple[int, float] | None:
        """(start_i, start_s) of the open contact, or None (cheaper than ``current``)."""
        return None if self._open_i is None else (self._open_i, self._open_s)

    @property
    def current(self) -> HoldState | None:
        """The open contact (live display), or None between contacts."""
        if self._open_i is None or self._last_t is None:
            return None
        elapsed = self._last_t - self._open_s
        return HoldState(
            start_i=self._open_i,
            start_s=self._open_s,
            elapsed_s=elapsed,
            mean_n=self._sum_n / self._count if self._count else float("nan"),
            peak_n=float(self._peak_n),
            is_hold=elapsed >= self.cfg.min_duration_s,
        )

    def process(self, t_s: np.ndarray, force_n: np.ndarray) -> list[HoldEvent]:
        """Feed one block of samples (t_s non-decreasing, continuing the previous block)."""
        t = np.asarray(t_s, dtype=np.float64)
        f = np.asarray(force_n, dtype=np.float64)
        if t.shape != f.shape or t.ndim != 1:
            raise ValueError(f"t_s {t.shape} and force_n {f.shape} must be equal 1-D shapes")
        if len(t) == 0:
            return []
        g0 = self._n_seen
        self._hist.append(t, f)
        prev_t = self._last_t
        self._n_seen += len(t)
        self._last_t = float(t[-1])
        events: list[HoldEvent] = []
        pos = 0  # the block from here on is judged by self.cfg
        while True:
            open_s = self._open_s if self._open_i is not None else None
            trans, still_open_s = _transitions(
                t[pos:], f[pos:], prev_t, self.cfg, open_s, self.max_gap_s, self.max_contact_s
            )
            split = self._pending_cfg is not None and bool(trans)
            for kind, k in trans[:1] if split else trans:
                k += pos
                if kind == "start":
                    self._open_i = g0 + k
                    self._open_s = float(t[k])
                    self._sum_n, self._count, self._peak_n = 0.0, 0, -np.inf
                    events.append(HoldEvent(HoldEventKind.STARTED, self._open_i, self._open_s))
                else:
                    assert self._open_i is not None
                    self._accumulate(f[max(self._open_i - g0, 0) : k])
                    events.append(self._close(g0 + k))
            if not split:
                break
            # the contact that was open when the thresholds changed has ended at k: the
            # rest of the block is judged afresh by the new ones
            self._apply_pending()
            k = pos + trans[0][1]
            prev_t = float(t[k - 1]) if k > 0 else prev_t
            pos = k
        if still_open_s is not None:
            assert self._open_i is not None
            self._accumulate(f[max(self._open_i - g0, 0) :])
        self._trim()
        return events

    def gap(self, start_s: float, end_s: float) -> list[HoldEvent]:
        """A reported gap in the data: ends the open contact now (at its last sample) when the
        gap is longer than max_gap_s, as the time jump in the next block would."""
        if self._open_i is None or self._last_t is None:
            return []
        if max(start_s, end_s) - self._last_t > self.max_gap_s:
            events = [self._close(self._n_seen)]
            self._apply_pending()
            self._trim()
            return events
        return []

    def flush(self) -> list[HoldEvent]:
        """End of the session: an open contact ends at the last sample."""
        if self._open_i is None:
            return []
        events = [self._close(self._n_seen)]
        self._apply_pending()
        self._trim()
        return events

    def _accumulate(self, f: np.ndarray) -> None:
        if len(f):
            self._sum_n += float(f.sum())
            self._count += len(f)
            self._peak_n = max(self._peak_n, float(f.max()))

    def _close(self, end_i: int) -> HoldEvent:
        start_i = self._open_i
        assert start_i is not None
        self._open_i = None
        t, f = self._hist.view()
        s, e = start_i - self._hist.first_i, end_i - self._hist.first_i
        start_s, end_s = float(t[s]), float(t[e - 1])
        if end_s - start_s < self.cfg.min_duration_s:
            return HoldEvent(HoldEventKind.REJECTED, start_i, start_s, end_i, end_s)
        lv = self._levels(start_i)
        metrics = hold_metrics(
            t,
            f,
            s,
            e,
            warn_n=lv.warn_n,
            max_n=lv.max_n,
            target_n=lv.target_n,
            max_gap_s=self.max_gap_s,
            lookback_s=self.lookback_s,
        )
        return HoldEvent(HoldEventKind.ENDED, start_i, start_s, end_i, end_s, metrics)

    def _trim(self) -> None:
        # keep what the ramp-rate search of the open (or next) contact may look back into
        if self._open_i is not None:
            self._hist.drop_before(self._open_s - self.lookback_s)
        elif self._last_t is not None:
            self._hist.drop_before(self._last_t - self.lookback_s)
