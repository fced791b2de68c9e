"""How forces are shown: the chosen unit and, with a contact area, pressure beside force.

Everything inside the app is newtons (DESIGN.md §6: display units are a view). This
module turns newtons into the figure on screen and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from calibration.units import Unit, convert_force


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
        return 10.0 / self.contact_area_cm2

    def decimals(self) -> int:
        return 2 if self.unit == "kgf" else 1

    def force(self, force_n: float) -> str:
        """``23.4 N`` style text."""
        return f"{force_n * self.per_newton:.{self.decimals()}f} {self.unit}"

    def value(self, force_n: float) -> str:
        """The number alone, in the display unit."""
        return f"{force_n * self.per_newton:.{self.decimals()}f}"

    def pressure(self, force_n: float) -> str:
        """``234 kPa`` or an empty string when no contact area is set."""
        k = self.kpa_per_newton
        return "" if k is None else f"{force_n * k:.0f} kPa"
