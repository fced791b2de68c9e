"""How forces are shown: the chosen unit and, with a contact area, pressure beside force.

Everything inside the app is newtons (display units are a view: docs/EXPORTS.md). This
module turns newtons into the figure on screen and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from calibration.units import Unit, convert_force, pressure_kpa
from logger.records import Hold

from .format import hms, num

HOLD_COLUMNS = (
    "#", "point", "start", "duration", "mean", "peak", "CV", "ramp", ">warn", ">max", "in target",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DisplayUnits:
    """The unit forces are shown in (``N``, ``kgf`` or ``lbf``) and the optional contact area."""

    unit: str = "N"
    contact_area_cm2: float | None = None

    def __post_init__(self) -> None:
        Unit.parse(self.unit)  # BadInput naming the value

    @property
    def per_newton(self) -> float:
        """Display units per newton (multiply a force in N by this)."""
        return float(convert_force(1.0, self.unit))

    @property
    def kpa_per_newton(self) -> float | None:
        """kPa per newton on the contact area (1 N/cm² = 10 kPa), None without an area."""
        if not self.contact_area_cm2:
            return None
        return float(pressure_kpa(1.0, self.contact_area_cm2))

    def decimals(self) -> int:
        return 2 if self.unit == "kgf" else 1

    def force(self, force_n: float) -> str:
        """``23.4 N`` style text (never ``-0.0``)."""
        return num(force_n * self.per_newton, self.unit, self.decimals())

    def value(self, force_n: float) -> str:
        """The number alone, in the display unit."""
        return num(force_n * self.per_newton, "", self.decimals())

    def rate(self, n_per_s: float) -> str:
        """A rate of change of force: ``2.5 N/s`` style text in the display unit."""
        return num(n_per_s * self.per_newton, f"{self.unit}/s", self.decimals())

    def pressure(self, force_n: float) -> str:
        """``234 kPa`` or an empty string when no contact area is set."""
        k = self.kpa_per_newton
        return "" if k is None else num(force_n * k, "kPa", 0)


def hold_cells(h: Hold, units: DisplayUnits | None = None) -> list[str]:
    """One hold's row, in the holds table of the live window, of the review window and of
    the PDF report (forces in the display unit; newtons by default)."""
    u = units or DisplayUnits()
    ramp = h.ramp_rate_n_per_s
    return [
        str(h.index + 1),
        h.point or "—",
        hms(h.start_s),
        num(h.duration_s, "s") + (" (cut)" if h.cut_short else ""),  # the recording ended
        u.force(h.mean_n),
        u.force(h.peak_n),
        num(h.cv_pct, "%"),
        "—" if ramp is None else u.rate(ramp),
        num(h.time_over_warn_s, "s") if h.time_over_warn_s else "—",
        num(h.time_over_max_s, "s") if h.time_over_max_s else "—",
        num(h.in_target_pct, "%", 0),
    ]
