"""Unit conversion against the exact definitions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from calibration.models import CalibrationError
from calibration.units import (
    Unit,
    convert_force,
    pressure_kg_cm2,
    pressure_kpa,
)


def test_exact_factors() -> None:
    assert convert_force(9.80665, Unit.KGF) == pytest.approx(1.0, rel=1e-15)
    assert convert_force(4.4482216152605, Unit.LBF) == pytest.approx(1.0, rel=1e-15)
    assert convert_force(30.0, Unit.N) == 30.0
    # the avoirdupois pound is exactly 0.45359237 kg, so 1 lbf is exactly that many kgf
    assert convert_force(Unit.LBF.n_per_unit, Unit.KGF) == pytest.approx(0.45359237, rel=1e-14)
    assert convert_force(12.5 * Unit.KGF.n_per_unit, "kgf") == pytest.approx(12.5, rel=1e-15)


def test_arrays_in_arrays_out() -> None:
    out = convert_force(np.array([0.0, 9.80665, 19.6133]), "kgf")
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, [0.0, 1.0, 2.0])
    assert isinstance(convert_force(1.0, "N"), float)


@given(st.floats(-1e6, 1e6), st.sampled_from(list(Unit)))
def test_round_trip(value: float, unit: Unit) -> None:
    assert convert_force(value, unit) * unit.n_per_unit == pytest.approx(value, abs=1e-9)


def test_pressure() -> None:
    assert pressure_kpa(10.0, 1.0) == pytest.approx(100.0)  # 1 N/cm² = 10 kPa
    assert pressure_kpa(9.80665, 1.0) == pytest.approx(98.0665)  # 1 kgf on 1 cm²
    assert pressure_kpa(10.0, 0.5) == pytest.approx(200.0)
    assert pressure_kg_cm2(9.80665, 1.0) == pytest.approx(1.0)
    assert pressure_kg_cm2(9.80665, 0.5) == pytest.approx(2.0)
    np.testing.assert_allclose(pressure_kpa(np.array([1.0, 2.0]), 2.0), [5.0, 10.0])


@pytest.mark.parametrize("area", [0.0, -1.0, float("nan")])
def test_bad_area(area: float) -> None:
    with pytest.raises(CalibrationError, match="contact_area_cm2"):
        pressure_kpa(1.0, area)


def test_parse_units() -> None:
    assert Unit.parse("KGF") is Unit.KGF
    assert Unit.parse(" lbf ") is Unit.LBF
    assert Unit.parse("n") is Unit.N
    expected = r"units: unknown unit 'psi' \(expected N \| kgf \| lbf\)"
    with pytest.raises(CalibrationError, match=expected):
        Unit.parse("psi")
    with pytest.raises(CalibrationError, match="config.toml: units"):
        Unit.parse("stone", where="config.toml: units")
