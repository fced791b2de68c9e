"""Pressure-pain-threshold (PPT) algometry: trials, per-point thresholds, pre/post change.

Pure: arrays and records in, records out (docs/PROTOCOLS.md).

The therapist presses on a point at a steady target rate; the client signals "now" when the
pressure turns painful. A *trial* is one contact with force at or above ``holds.onset_n``:

- it starts where force last rose through ``onset_n`` before the signal (the crossing
  linearly interpolated between the two samples around it) and force stayed at or above
  ``onset_n`` from there to the signal;
- it ends at the signal; ``ppt_n`` is the force at the signal, linearly interpolated
  between the samples either side of it;
- its mean rate is ``(ppt_n - onset_n) / (end_s - start_s)``.

Signals that make no trial, and are ignored: a signal while force is below ``onset_n``
(nothing pressed), a later signal during the same contact (only the first one counts), a
signal outside the recording, in a gap in the samples or next to a missing (NaN) force
(the force then is not known), and a signal after a ``ROUND`` event with the label ``""``
(PPT ended). A contact that began before the recording (or right after a gap in the
samples, or a missing force) has no known start: its rate is ``None`` and it is flagged
like a stray rate.

Within an explicit PPT round (the last ``ROUND`` event before the contact is labelled
``"pre"`` or ``"post"``), a contact that reaches the max limit (the point's ``max_n``, else
``limits.max_n``) without a signal is a trial *stopped at max*: no threshold, ended where
force first reached the limit.

Exclusion, per point and round, trials in time order (``reason`` says why; ``""`` kept):
``"max"`` stopped at max; ``"first"`` the first trial when ``drop_first``; ``"rate"`` a
mean rate beyond ± ``tolerance_pct`` of the target (or unknown) when ``exclude_stray``;
``"extra"`` a usable trial beyond the ``trials`` planned (``trials - 1`` with
``drop_first``), so a repeated stray trial takes the place of the one left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from calibration.units import KPA_PER_N_PER_CM2

from .compare import name_key
from .config import Config
from .hold_detector import MAX_GAP_S, _cross_time
from .point_stats import point_name
from .records import Mark, Point, ProtocolEvent, ProtocolKind, Signal

DEFAULT_AREA_CM2 = 1.0
"""The probe area PPT uses when the configuration sets no ``contact_area_cm2``."""

PPT_ROUNDS = ("pre", "post")


@dataclass(frozen=True, slots=True)
class PptSettings:
    """The ``[ppt]`` settings resolved: the target rate in both units on the contact area."""

    rate_n_per_s: float
    rate_kpa_per_s: float
    tolerance_pct: float
    trials: int
    drop_first: bool
    exclude_stray: bool
    contact_area_cm2: float

    @classmethod
    def from_config(cls, config: Config) -> PptSettings:
        ppt = config.ppt
        area = config.contact_area_cm2 or DEFAULT_AREA_CM2
        if ppt.rate_n_per_s is not None:
            rate_n = ppt.rate_n_per_s
        else:
            rate_n = ppt.rate_kpa_per_s * area / KPA_PER_N_PER_CM2
        return cls(
            rate_n_per_s=rate_n,
            rate_kpa_per_s=rate_n / area * KPA_PER_N_PER_CM2,
            tolerance_pct=ppt.tolerance_pct,
            trials=ppt.trials,
            drop_first=ppt.drop_first,
            exclude_stray=ppt.exclude_stray,
            contact_area_cm2=area,
        )

    def kpa(self, force_n: float) -> float:
        return force_n / self.contact_area_cm2 * KPA_PER_N_PER_CM2


@dataclass(frozen=True, slots=True)
class PptTrial:
    """One PPT trial (module docstring). ``rate_ok``: the mean rate is known and within
    the tolerance; ``reason`` is set when ``excluded``."""

    index: int
    point_index: int | None
    point: str
    round: str
    start_s: float
    end_s: float
    ppt_n: float | None
    ppt_kpa: float | None
    rate_n_per_s: float | None
    rate_kpa_per_s: float | None
    rate_error_pct: float | None
    rate_ok: bool
    stopped_at_max: bool
    excluded: bool
    reason: str  # "" | "rate" | "first" | "max" | "extra"


@dataclass(frozen=True, slots=True)
class PptPoint:
    """A point's threshold in one round: the mean (and SD, ddof=1) of its used trials."""

    point_index: int | None
    point: str
    round: str
    trials: int
    used: int
    ppt_n: float | None
    ppt_kpa: float | None
    sd_n: float | None


@dataclass(frozen=True, slots=True)
class PptChange:
    """Post minus pre for one point (``None`` where either side has no threshold)."""

    point: str
    pre_kpa: float | None
    post_kpa: float | None
    change_kpa: float | None
    change_pct: float | None  # change_kpa relative to pre_kpa
    pre_n: float | None
    post_n: float | None


def _runs(t: np.ndarray, f: np.ndarray, onset_n: float) -> tuple[np.ndarray, np.ndarray]:
    """Half-open sample ranges where force is at or above ``onset_n``; a gap in the samples
    (longer than MAX_GAP_S) ends a run."""
    above = f >= onset_n
    fresh = np.ones(len(f), dtype=bool)
    fresh[1:] = ~above[:-1] | (np.diff(t) > MAX_GAP_S)
    starts = np.flatnonzero(above & fresh)
    stops = np.ones(len(f), dtype=bool)
    stops[:-1] = ~above[1:] | (np.diff(t) > MAX_GAP_S)
    ends = np.flatnonzero(above & stops) + 1
    return starts, ends


def _last_before(times: Sequence[float], t_s: float) -> int:
    """Index of the last time ``<= t_s`` in sorted ``times`` (-1 if none)."""
    return int(np.searchsorted(np.asarray(times, dtype=float), t_s, side="right")) - 1


def ppt_trials(
    t_s: np.ndarray,
    force_n: np.ndarray,
    signals: Sequence[Signal],
    marks: Sequence[Mark],
    protocols: Sequence[ProtocolEvent],
    points: Sequence[Point],
    config: Config,
) -> list[PptTrial]:
    """Every PPT trial of a recording, in time order, with its exclusion decided
    (module docstring). ``t_s`` increasing; ``force_n`` one channel."""
    t = np.asarray(t_s, dtype=np.float64)
    f = np.asarray(force_n, dtype=np.float64)
    if f.ndim > 1:
        f = f[:, 0]
    if len(t) < 2:
        return []
    settings = PptSettings.from_config(config)
    onset_n = config.holds.onset_n
    run_starts, run_ends = _runs(t, f, onset_n)
    marks = sorted(marks, key=lambda m: m.t_s)
    mark_times = [m.t_s for m in marks]
    rounds = sorted((p for p in protocols if p.kind == ProtocolKind.ROUND), key=lambda p: p.t_s)
    round_times = [p.t_s for p in rounds]

    def round_at(t0: float) -> tuple[str, bool]:
        """The round label in force at t0, and whether a ROUND event set it."""
        k = _last_before(round_times, t0)
        return (str(rounds[k].data.get("label", "")), True) if k >= 0 else ("pre", False)

    def point_at(t0: float) -> int | None:
        k = _last_before(mark_times, t0)
        return marks[k].point_index if k >= 0 else None

    def start_of(r: int) -> float | None:
        s = int(run_starts[r])
        # began before the samples, after a missing force, or after a gap
        if s == 0 or not f[s - 1] < onset_n or t[s] - t[s - 1] > MAX_GAP_S:
            return None
        return _cross_time(t, f, s - 1, onset_n)

    # (run, end_s, ppt_n, force at the end, stopped at max) of each trial
    found: list[tuple[int, float, float | None, float, bool]] = []
    used_runs: set[int] = set()
    for sig in sorted(signals, key=lambda s: s.t_s):
        if not t[0] <= sig.t_s <= t[-1]:
            continue
        j = int(np.searchsorted(t, sig.t_s, side="right")) - 1
        if sig.t_s == t[j]:
            k, at_signal_n = j, float(f[j])
        elif t[j + 1] - t[j] > MAX_GAP_S:  # in a gap: the force is not known
            continue
        else:  # the run of sample j, or the one starting at j + 1 (the signal on its rise)
            k, at_signal_n = j + 1, float(np.interp(sig.t_s, t[j : j + 2], f[j : j + 2]))
        if not at_signal_n >= onset_n:  # below onset, or next to a missing force
            continue
        if round_at(sig.t_s) == ("", True):  # PPT was switched off before the signal
            continue
        r = int(np.searchsorted(run_starts, k, side="right")) - 1
        if r < 0 or r in used_runs:
            continue
        used_runs.add(r)
        found.append((r, sig.t_s, at_signal_n, at_signal_n, False))

    for r in range(len(run_starts)):
        if r in used_runs:
            continue
        s, e = int(run_starts[r]), int(run_ends[r])
        label, explicit = round_at(float(t[s]))
        if not (explicit and label in PPT_ROUNDS):
            continue
        max_n = _max_n(point_at(float(t[s])), points, config)
        over = np.flatnonzero(f[s:e] >= max_n)
        if len(over) == 0:
            continue
        i = s + int(over[0])
        end_s = _cross_time(t, f, i - 1, max_n) if i > s else float(t[i])
        found.append((r, end_s, None, max_n, True))

    trials: list[PptTrial] = []
    for r, end_s, ppt_n, level_n, at_max in sorted(found, key=lambda x: x[0]):
        s = int(run_starts[r])
        label, _ = round_at(float(t[s]))
        if not at_max and label == "":  # a "" round ended PPT
            continue
        start = start_of(r)
        rate = (
            (level_n - onset_n) / (end_s - start) if start is not None and end_s > start else None
        )
        target = settings.rate_n_per_s
        err = (rate - target) / target * 100 if rate is not None else None
        pi = point_at(float(t[s]))
        trials.append(
            PptTrial(
                index=len(trials),
                point_index=pi,
                point=point_name(pi, points, None),
                round=label,
                start_s=start if start is not None else float(t[s]),
                end_s=end_s,
                ppt_n=ppt_n,
                ppt_kpa=settings.kpa(ppt_n) if ppt_n is not None else None,
                rate_n_per_s=rate,
                rate_kpa_per_s=settings.kpa(rate) if rate is not None else None,
                rate_error_pct=err,
                rate_ok=err is not None and abs(err) <= settings.tolerance_pct,
                stopped_at_max=at_max,
                excluded=False,
                reason="",
            )
        )
    return _decide_exclusions(trials, settings)


def _max_n(point_index: int | None, points: Sequence[Point], config: Config) -> float:
    for p in points:
        if p.index == point_index and p.max_n is not None:
            return p.max_n
    return config.limits.max_n


def _decide_exclusions(trials: list[PptTrial], settings: PptSettings) -> list[PptTrial]:
    planned = settings.trials - (1 if settings.drop_first else 0)
    seen: dict[tuple[int | None, str, str], int] = {}
    kept: dict[tuple[int | None, str, str], int] = {}
    out = []
    for tr in trials:
        key = (tr.point_index, tr.point, tr.round)
        first = key not in seen
        seen[key] = seen.get(key, 0) + 1
        if tr.stopped_at_max:
            reason = "max"
        elif first and settings.drop_first:
            reason = "first"
        elif not tr.rate_ok and settings.exclude_stray:
            reason = "rate"
        elif kept.get(key, 0) >= planned:
            reason = "extra"
        else:
            reason = ""
            kept[key] = kept.get(key, 0) + 1
        out.append(replace(tr, excluded=bool(reason), reason=reason))
    return out


def ppt_points(trials: Sequence[PptTrial], settings: PptSettings) -> list[PptPoint]:
    """Per point and round (in order of first trial): the mean of the trials kept."""
    groups: dict[tuple[int | None, str, str], list[PptTrial]] = {}
    for tr in trials:
        groups.setdefault((tr.point_index, tr.point, tr.round), []).append(tr)
    out = []
    for (pi, name, label), group in groups.items():
        values = np.array([tr.ppt_n for tr in group if not tr.excluded and tr.ppt_n is not None])
        mean = float(values.mean()) if len(values) else None
        out.append(
            PptPoint(
                point_index=pi,
                point=name,
                round=label,
                trials=len(group),
                used=len(values),
                ppt_n=mean,
                ppt_kpa=settings.kpa(mean) if mean is not None else None,
                sd_n=float(values.std(ddof=1)) if len(values) >= 2 else None,
            )
        )
    return out


def ppt_change(pre: Sequence[PptPoint], post: Sequence[PptPoint]) -> list[PptChange]:
    """Post minus pre per point, matched by name (case and spacing ignored), in the order
    of ``pre`` then the points only ``post`` has. The rounds may come from one session or
    from two sessions of the same client."""
    post_by = {name_key(p.point): p for p in post}
    pre_keys = {name_key(p.point) for p in pre}
    out = []
    for a in pre:
        out.append(_change(a.point, a, post_by.get(name_key(a.point))))
    out.extend(_change(b.point, None, b) for b in post if name_key(b.point) not in pre_keys)
    return out


def _change(name: str, a: PptPoint | None, b: PptPoint | None) -> PptChange:
    pre_kpa = a.ppt_kpa if a else None
    post_kpa = b.ppt_kpa if b else None
    change = post_kpa - pre_kpa if pre_kpa is not None and post_kpa is not None else None
    pct = change / pre_kpa * 100 if change is not None and pre_kpa else None
    return PptChange(
        point=name,
        pre_kpa=pre_kpa,
        post_kpa=post_kpa,
        change_kpa=change,
        change_pct=pct,
        pre_n=a.ppt_n if a else None,
        post_n=b.ppt_n if b else None,
    )


def live_rate_n_per_s(t_s: np.ndarray, force_n: np.ndarray, window_s: float = 0.3) -> float | None:
    """The loading rate now: the least-squares slope of force over the last ``window_s``
    of samples (``None`` with fewer than 2 samples in it)."""
    t = np.asarray(t_s, dtype=np.float64)
    if len(t) < 2:
        return None
    k = int(np.searchsorted(t, t[-1] - window_s, side="left"))
    tw = t[k:] - t[k:].mean()
    fw = np.asarray(force_n, dtype=np.float64)[k:]
    denom = float(tw @ tw)
    if len(tw) < 2 or denom == 0.0:
        return None
    slope = float(tw @ (fw - fw.mean())) / denom
    return slope if math.isfinite(slope) else None


def rate_band(settings: PptSettings) -> tuple[float, float]:
    """The accepted mean rates, (low, high) in N/s: the target ± ``tolerance_pct``."""
    tol = settings.tolerance_pct / 100.0
    return settings.rate_n_per_s * (1 - tol), settings.rate_n_per_s * (1 + tol)
