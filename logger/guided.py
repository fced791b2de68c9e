"""Guided loading: the target profile the therapist follows, and how closely they did.

Pure (docs/PROTOCOLS.md). A ``ProtocolEvent(PROFILE)`` whose data is a profile's JSON form
(:meth:`Profile.to_dict`) starts the profile at its ``t_s``; the live plot scrolls the
target through, and afterwards the deviation of the force from it is scored. The profile
itself, its ``[profile]`` configuration table and its validation live in logger/config.py
with the other sections; this module holds its shape and its score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .config import PROFILE_KINDS, Profile
from .records import ProtocolEvent, ProtocolKind

__all__ = [
    "PROFILE_KINDS",
    "Profile",
    "ProfileScore",
    "profile_knots_s",
    "score_profile",
    "score_profiles",
    "target_n",
]


def target_n(profile: Profile, t_since_start_s: np.ndarray) -> np.ndarray:
    """The target force (N) at each time since the profile started; NaN before 0 and
    after :attr:`Profile.duration_s`. Piecewise linear, so continuous within the profile."""
    t = np.asarray(t_since_start_s, dtype=np.float64)
    period = profile.period_s
    cycle = np.clip(np.floor(t / period), 0, profile.repeats - 1)
    tau = t - cycle * period
    knots, levels = _cycle(profile)
    out = np.interp(tau, knots, levels)
    out[(t < 0) | (t > profile.duration_s) | np.isnan(t)] = np.nan
    return out


def _cycle(profile: Profile) -> tuple[list[float], list[float]]:
    """One cycle's corners: times since the cycle began, and the target there (N)."""
    period, force = profile.period_s, profile.force_n
    if profile.kind == "impulses":
        return [0.0, profile.impulse_s / 2, profile.impulse_s, period], [0.0, force, 0.0, 0.0]
    up = profile.ramp_s
    held = up + profile.plateau_s
    down = held + profile.release_s
    return [0.0, up, held, down, period], [0.0, force, force, 0.0, 0.0]


def profile_knots_s(profile: Profile) -> np.ndarray:
    """The times since the start where the target's slope changes, from 0 to
    :attr:`Profile.duration_s` (at most 5 per cycle): a line through the target at these
    times draws it exactly, however long the profile runs."""
    knots, _ = _cycle(profile)
    starts = np.arange(profile.repeats) * profile.period_s
    out = np.minimum((starts[:, None] + np.asarray(knots)).ravel(), profile.duration_s)
    out[-1] = profile.duration_s  # n × period, however it rounds
    return out


@dataclass(frozen=True, slots=True)
class ProfileScore:
    """How the force followed a profile, over the samples recorded while it ran (errors
    in N; NaN and 0 % when no sample was)."""

    start_s: float
    end_s: float  # the last sample scored (start_s when none)
    samples: int
    complete: bool  # the samples reach the profile's end
    rms_error_n: float
    mean_abs_error_n: float
    in_band_pct: float  # samples within target ± tolerance_n
    max_abs_error_n: float


def score_profile(
    profile: Profile, start_s: float, t_s: np.ndarray, force_n: np.ndarray
) -> ProfileScore:
    """Force against the target, sample by sample, from ``start_s`` to the profile's end
    (or the last sample given)."""
    t = np.asarray(t_s, dtype=np.float64)
    f = np.asarray(force_n, dtype=np.float64)
    if f.ndim > 1:
        f = f[:, 0]
    end_s = start_s + profile.duration_s
    i0 = int(np.searchsorted(t, start_s, side="left"))
    i1 = int(np.searchsorted(t, end_s, side="right"))
    target = target_n(profile, t[i0:i1] - start_s)
    inside = ~np.isnan(target)  # t − start_s may round past the end
    seg_t = t[i0:i1][inside]
    if len(seg_t) == 0:
        nan = math.nan
        return ProfileScore(start_s, start_s, 0, False, nan, nan, 0.0, nan)
    err = np.abs(f[i0:i1][inside] - target[inside])
    return ProfileScore(
        start_s=start_s,
        end_s=float(seg_t[-1]),
        samples=len(seg_t),
        complete=bool(t[-1] >= end_s),
        rms_error_n=float(np.sqrt(np.mean(err**2))),
        mean_abs_error_n=float(err.mean()),
        in_band_pct=float(np.mean(err <= profile.tolerance_n) * 100),
        max_abs_error_n=float(err.max()),
    )


def score_profiles(
    protocols: Sequence[ProtocolEvent], t_s: np.ndarray, force_n: np.ndarray
) -> list[ProfileScore]:
    """Every profile a session ran, in time order; a later PROFILE event ends the one
    before it (scored up to there); one with empty data only stops it."""
    t = np.asarray(t_s, dtype=np.float64)
    events = sorted((e for e in protocols if e.kind == ProtocolKind.PROFILE),
                    key=lambda e: e.t_s)  # fmt: skip
    out = []
    for n, event in enumerate(events):
        if not event.data:  # the profile was stopped
            continue
        profile = Profile.from_dict(event.data, source=f"profile event at {event.t_s:.3f} s")
        stop = len(t)
        if n + 1 < len(events):
            stop = int(np.searchsorted(t, events[n + 1].t_s, side="left"))
        out.append(score_profile(profile, event.t_s, t[:stop], np.asarray(force_n)[:stop]))
    return out
