"""The summary pyramid: min/max of raw channel 0 per time bucket, at every level.

Level k buckets are :data:`SUMMARY_BASE_S` × :data:`SUMMARY_FACTOR`^k wide (0.1 s …
1638.4 s). Each stored chunk adds its min/max to the buckets it touches
(:func:`add_chunk`, in the chunk's own transaction), so an 8-hour session's overview reads
at most ``max_points`` rows of one level (:func:`envelope`) instead of its samples.
Raw counts are kept, not newtons: the envelope is converted as it is read, with the
session's calibration and zero events, so a recalibration changes the overview at once.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from calibration.tare import ForceTimeline

SUMMARY_BASE_S = 0.1  # finest summary bucket
SUMMARY_FACTOR = 4  # each level's bucket is this many times the previous one
SUMMARY_LEVELS = 8  # 0.1 s … 1638.4 s buckets


def summary_rows(session_pk: int, t_s: np.ndarray, raw0: np.ndarray) -> list[tuple]:
    """``(session_pk, level, bucket, min_raw, max_raw, n)`` of one chunk's samples at every
    level (vectorised: one ``reduceat`` per level, not a loop per sample)."""
    if t_s.size == 0:
        return []
    base = np.floor(t_s / SUMMARY_BASE_S).astype(np.int64)
    rows: list[tuple] = []
    vals = raw0.astype(np.int64)
    for level in range(SUMMARY_LEVELS):
        b = base // (SUMMARY_FACTOR**level)
        starts = np.flatnonzero(np.concatenate(([True], b[1:] != b[:-1])))
        mins = np.minimum.reduceat(vals, starts)
        maxs = np.maximum.reduceat(vals, starts)
        counts = np.diff(np.append(starts, b.size))
        rows.extend(
            zip(
                [session_pk] * starts.size,
                [level] * starts.size,
                b[starts].tolist(),
                mins.tolist(),
                maxs.tolist(),
                counts.tolist(),
                strict=True,
            )
        )
    return rows


def add_chunk(c: sqlite3.Connection, session_pk: int, t_s: np.ndarray, raw0: np.ndarray) -> None:
    """Merge one stored chunk into the session's pyramid (inside the chunk's transaction)."""
    c.executemany(
        "INSERT INTO summary (session_pk, level, bucket, min_raw, max_raw, n) "
        "VALUES (?,?,?,?,?,?) ON CONFLICT(session_pk, level, bucket) DO UPDATE SET "
        "min_raw = min(min_raw, excluded.min_raw), max_raw = max(max_raw, excluded.max_raw), "
        "n = n + excluded.n",
        summary_rows(session_pk, t_s, raw0),
    )


def level_for(lo_s: float, hi_s: float, max_points: int) -> int:
    """The finest level with at most ``max_points`` buckets in [lo_s, hi_s] (the coarsest
    when none has so few)."""
    b0_lo, b0_hi = math.floor(lo_s / SUMMARY_BASE_S), math.floor(hi_s / SUMMARY_BASE_S)
    for level in range(SUMMARY_LEVELS):
        f = SUMMARY_FACTOR**level
        if b0_hi // f - b0_lo // f + 1 <= max_points:
            return level
    return SUMMARY_LEVELS - 1


def bucket_range(lo_s: float, hi_s: float, level: int) -> tuple[int, int]:
    """The first and last bucket of ``level`` that [lo_s, hi_s] touches."""
    f = SUMMARY_FACTOR**level
    return math.floor(lo_s / SUMMARY_BASE_S) // f, math.floor(hi_s / SUMMARY_BASE_S) // f


def envelope(
    rows: Sequence[Sequence[float]], level: int, max_points: int, forces: ForceTimeline
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(t_s, min_n, max_n)`` from summary rows ``(bucket, min_raw, max_raw)`` of ``level``
    in bucket order: at most ``max_points`` (neighbours merged beyond the coarsest level),
    ``t_s`` at each bucket's centre, newtons through ``forces``. Both back ends read the
    pyramid through this."""
    if not rows:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    arr = np.asarray(rows, dtype=np.float64)
    width_s = SUMMARY_BASE_S * SUMMARY_FACTOR**level
    if arr.shape[0] > max_points:  # beyond the coarsest level: merge neighbours
        step = math.ceil(arr.shape[0] / max_points)
        starts = np.arange(0, arr.shape[0], step)
        arr = np.stack(
            [
                arr[starts, 0] + (step - 1) / 2,
                np.minimum.reduceat(arr[:, 1], starts),
                np.maximum.reduceat(arr[:, 2], starts),
            ],
            axis=1,
        )
    t = (arr[:, 0] + 0.5) * width_s
    # a bucket takes the zero in force at its centre (a zero inside a bucket blurs that
    # one bucket; zoomed in, the samples themselves are drawn)
    a, b = forces.counts_to_n(t, arr[:, 1]), forces.counts_to_n(t, arr[:, 2])
    return t, np.minimum(a, b), np.maximum(a, b)
