"""Text for numbers and times in the live window, the review window and the report (one
place, so all three agree)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from calibration.models import UNCALIBRATED


def hms(t_s: float | None) -> str:
    """``1:02:03`` for long spans, ``2:03.4`` for short ones."""
    if t_s is None or not math.isfinite(t_s):
        return "—"
    if t_s >= 3600:
        h, rem = divmod(int(round(t_s)), 3600)
        return f"{h}:{rem // 60:02d}:{rem % 60:02d}"
    m, s = divmod(t_s, 60.0)
    return f"{int(m)}:{s:04.1f}"


def mm_ss(t_s: float) -> str:
    """``01:05``: a hold timer or a recording's length (whole seconds, never negative)."""
    t_s = max(0.0, t_s)
    return f"{int(t_s // 60):02d}:{int(t_s % 60):02d}"


def local_time(iso: str | None) -> str:
    """``2026-11-23 14:30`` in UTC (times with an offset are converted; naive ones are
    taken as UTC, as the store does)."""
    if not iso:
        return "—"
    try:
        dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%d %H:%M")


def num(value: float | None, unit: str = "", digits: int = 1, signed: bool = False) -> str:
    """A number with its unit, or an em dash when there is none."""
    if value is None or not math.isfinite(value):
        return "—"
    if abs(value) < 0.5 * 10.0**-digits:
        value = 0.0  # no "-0.0"
    text = f"{value:+.{digits}f}" if signed and value != 0.0 else f"{value:.{digits}f}"
    return f"{text} {unit}".rstrip()


def target(window: tuple[float, float] | None) -> str:
    return "—" if window is None else f"{window[0]:g}–{window[1]:g} N"


def point_label(index: int | None, names: dict[int, str], none: str = "—") -> str:
    """A point's name from the plan, ``Point n`` when the session had no plan."""
    if index is None:
        return none
    return names.get(index) or f"Point {index + 1}"


def calibration_source(source: str | None, created_at: str | None) -> str:
    """Where a session's calibration came from and when: ``stored:12, 2026-11-01 09:00``,
    or the factory one the device reported when none was stored."""
    src = (source or "").strip()
    if src == UNCALIBRATED:
        return "UNCALIBRATED: raw counts only, no forces (`pressure-logger recalibrate` fixes it)"
    if not created_at:
        if not src or src.startswith("factory"):
            tare = " + tare at start" if "tare" in src else ""
            return f"factory calibration (device-reported; none stored){tare}"
        return f"{src} (no date recorded)"
    return f"{src or 'calibration'}, {local_time(created_at)} UTC"


def unsaved_text(unsaved_samples: int) -> str:
    """What a storage failure cost a session, to append to a sample count (nothing when
    it cost nothing)."""
    if not unsaved_samples:
        return ""
    return f", {unsaved_samples} received but not saved (storage failure)"


def plural(count: int, noun: str) -> str:
    """``1 session``, ``2 sessions``, ``0 sessions``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
