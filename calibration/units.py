"""Display units for force and pressure. Everything stored and exported stays SI (newtons);
these functions are a view for the readout, the plots and the config's ``units`` key.

1 kgf = 9.80665 N (models.STANDARD_GRAVITY, exact); 1 lbf = 4.4482216152605 N (exact);
1 N/cm² = 10 kPa; 1 kgf/cm² = 98.0665 kPa.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np

from .models import STANDARD_GRAVITY as N_PER_KGF
from .models import CalibrationError

N_PER_LBF = 4.4482216152605
KPA_PER_N_PER_CM2 = 10.0


class Unit(StrEnum):
    N = "N"
    KGF = "kgf"
    LBF = "lbf"

    @classmethod
    def parse(cls, text: str, where: str = "units") -> Unit:
        """``"N"``, ``"kgf"``, ``"lbf"`` (case-insensitive) or CalibrationError naming the value."""
        for unit in cls:
            if str(text).strip().lower() == unit.value.lower():
                return unit
        choices = " | ".join(u.value for u in cls)
        raise CalibrationError(f"{where}: unknown unit {text!r} (expected {choices})")

    @property
    def n_per_unit(self) -> float:
        return _N_PER_UNIT[self]


_N_PER_UNIT = {Unit.N: 1.0, Unit.KGF: N_PER_KGF, Unit.LBF: N_PER_LBF}


def convert_force(force_n: np.ndarray | float, unit: Unit | str) -> np.ndarray | float:
    """Newtons → ``unit`` (scalar in, float out; array in, array out)."""
    factor = Unit.parse(unit).n_per_unit if isinstance(unit, str) else unit.n_per_unit
    if np.isscalar(force_n):
        return float(force_n) / factor  # type: ignore[arg-type]
    return np.asarray(force_n, dtype=np.float64) / factor


def _check_area(area_cm2: float) -> float:
    area = float(area_cm2)
    if not area > 0 or not np.isfinite(area):
        raise CalibrationError(f"contact_area_cm2: {area_cm2!r} must be a positive number")
    return area


def pressure_kpa(force_n: np.ndarray | float, area_cm2: float) -> np.ndarray | float:
    """Pressure in kPa over a contact area in cm² (1 N/cm² = 10 kPa)."""
    area = _check_area(area_cm2)
    if np.isscalar(force_n):
        return float(force_n) / area * KPA_PER_N_PER_CM2  # type: ignore[arg-type]
    return np.asarray(force_n, dtype=np.float64) / area * KPA_PER_N_PER_CM2


def pressure_kg_cm2(force_n: np.ndarray | float, area_cm2: float) -> np.ndarray | float:
    """Pressure in kgf/cm² (the algometer literature's "kg/cm²") over ``area_cm2``."""
    area = _check_area(area_cm2)
    if np.isscalar(force_n):
        return float(force_n) / N_PER_KGF / area  # type: ignore[arg-type]
    return np.asarray(force_n, dtype=np.float64) / N_PER_KGF / area
