"""Calibration models and fitting against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from calibration.models import (
    MAX_NONLINEARITY_PCT_FS,
    MIN_R2,
    STANDARD_GRAVITY,
    Calibration,
    CalibrationError,
    CalibrationInfo,
    ModelKind,
    check_fit,
    fit_calibration,
    fit_problem,
)


def test_linear_fit_matches_hand_computation() -> None:
    # g = 10 keeps the arithmetic by hand: F = 0, 10, 20 N; counts 100, 1100, 2000.
    # x̄ = 10, ȳ = 3200/3; Sxy = 19000, Sxx = 200 → gain 95 counts/N, offset 350/3.
    fit = fit_calibration([(100, 0), (1100, 1), (2000, 2)], g=10.0)
    assert fit.model is ModelKind.LINEAR
    assert fit.calibration.counts_per_n == pytest.approx(95.0)
    assert fit.calibration.offset_counts == pytest.approx(350.0 / 3.0)
    # residuals in counts −50/3, +100/3, −50/3 → in N divide by the gain
    expected = np.array([-50 / 3, 100 / 3, -50 / 3]) / 95.0
    np.testing.assert_allclose(fit.residuals_n, expected, rtol=1e-9)
    # R² = 1 − SSres/SStot = 1 − (5000/3)/(5420000/3)
    assert fit.r2 == pytest.approx(1.0 - 5000.0 / 5420000.0)
    # worst |residual| 100/3/95 N of 20 N full scale
    assert fit.nonlinearity_pct_fs == pytest.approx(100 / 3 / 95 / 20 * 100)
    assert fit.full_scale_n == pytest.approx(20.0)
    assert fit.rms_n == pytest.approx(np.sqrt(np.mean(expected**2)))
    assert fit.calibration.source == "fit"
    assert fit.calibration.created_at is None  # pure: the library dates it when it stores it


def test_two_points_is_exact_and_uses_standard_gravity() -> None:
    f1 = 0.5 * STANDARD_GRAVITY
    fit = fit_calibration([(120000, 0.0), (120000 + 4000 * f1, 0.5)])
    assert fit.calibration.counts_per_n == pytest.approx(4000.0)
    assert fit.calibration.offset_counts == pytest.approx(120000.0)
    np.testing.assert_allclose(fit.residuals_n, 0.0, atol=1e-9)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.quadratic is None


def test_points_in_any_order_and_as_strings() -> None:
    fit = fit_calibration([("2000", "2"), (100, 0), (1100, 1.0)], g=10.0)
    assert fit.calibration.counts_per_n == pytest.approx(95.0)
    np.testing.assert_allclose(fit.masses_kg, [2.0, 0.0, 1.0])


def _points(cal: Calibration, masses: list[float], noise_counts: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    f = np.array(masses) * STANDARD_GRAVITY
    counts = cal.n_to_counts(f) + rng.normal(0.0, noise_counts, f.size)
    return list(zip(counts.tolist(), masses, strict=True))


# an FSR-like sensor: 4000 counts/N at zero, stiffening so that 20 N reads ~80000 counts
# where a linear sensor would give ~76000 (F = d/4000 + 3e-10·d²: +2 N at d = 80000)
CURVED = Calibration(ModelKind.QUADRATIC, (120000.0, 2.5e-4, 3e-10))


def test_quadratic_chosen_for_a_curved_sensor() -> None:
    true = CURVED
    fit = fit_calibration(_points(true, [0, 0.5, 1, 1.5, 2], noise_counts=5.0, seed=1))
    assert fit.model is ModelKind.QUADRATIC
    assert fit.quadratic is not None
    assert fit.quadratic.rms_n < 0.5 * fit.linear.rms_n
    assert fit.calibration.offset_counts == pytest.approx(120000.0, abs=10)
    assert fit.calibration.coefficients[1] == pytest.approx(2.5e-4, rel=2e-3)
    assert fit.calibration.coefficients[2] == pytest.approx(3e-10, rel=2e-2)
    assert fit.calibration.counts_per_n == pytest.approx(4000.0, rel=2e-3)
    assert np.max(np.abs(fit.residuals_n)) < 0.01
    assert "quadratic" in fit.reason


def test_quadratic_not_offered_below_four_masses() -> None:
    true = CURVED
    fit = fit_calibration(_points(true, [0, 1, 2]))
    assert fit.model is ModelKind.LINEAR
    assert fit.quadratic is None
    assert fit.nonlinearity_pct_fs > 1.0  # the curvature shows up in the residuals


def test_quadratic_refused_when_curvature_below_noise() -> None:
    # curvature worth ~0.03 % of full scale (1e-13·78000² ≈ 0.0006 N), noise ~0.05 % FS
    true = Calibration(ModelKind.QUADRATIC, (120000.0, 2.5e-4, 1e-13))
    fit = fit_calibration(
        _points(true, [0, 0.5, 1, 2], noise_counts=40.0, seed=3), noise_counts=40.0
    )
    assert fit.model is ModelKind.LINEAR
    assert fit.quadratic is not None
    assert "not materially better" in fit.reason


def test_reading_noise_in_counts_is_judged_in_newtons_through_the_linear_gain() -> None:
    points = _points(CURVED, [0, 0.5, 1, 1.5, 2])
    exact = fit_calibration(points)
    assert exact.model is ModelKind.QUADRATIC and exact.quadratic is not None
    gain_n = exact.linear.rms_n - exact.quadratic.rms_n
    counts_per_n = exact.linear.calibration.counts_per_n
    below = fit_calibration(points, noise_counts=0.9 * gain_n * counts_per_n)
    above = fit_calibration(points, noise_counts=1.1 * gain_n * counts_per_n)
    assert below.model is ModelKind.QUADRATIC
    assert above.model is ModelKind.LINEAR
    assert above.chosen is above.linear and above.rms_n == above.linear.rms_n


@pytest.mark.parametrize("noise_counts", [1.0, 50.0, 400.0])
def test_linear_sensor_with_noise_rarely_gets_a_curve(noise_counts: float) -> None:
    """A truly linear sensor with readings whose standard error is known: the quadratic
    may win only by chance, and the rule keeps that rare."""
    true = Calibration.factory(4000.0, 120000.0)
    chosen = [
        fit_calibration(
            _points(true, [0, 0.5, 1, 2], noise_counts, seed), noise_counts=noise_counts
        ).model
        for seed in range(200)
    ]
    assert chosen.count(ModelKind.QUADRATIC) <= 4  # ≤ 2 %


def test_linear_with_exact_data_stays_linear() -> None:
    true = Calibration.factory(4000.0, 120000.0)
    fit = fit_calibration(_points(true, [0, 0.25, 0.5, 1, 2]))
    assert fit.model is ModelKind.LINEAR
    assert fit.rms_n < 1e-9


@pytest.mark.parametrize(
    ("points", "needle"),
    [
        ([(100, 0)], "at least 2 distinct masses"),
        ([], "no calibration points"),
        ([(100, 0.5), (200, 0.5)], "repeated"),
        ([(100, 0), (200, 0.5), (300, 0.5)], "0.5 repeated (points 2 and 3)"),
        ([(100, 0), (200, -1)], "negative"),
        ([(100, 0), (200, "abc")], "'abc' is not a number"),
        ([(100, 0), (200, None)], "None is not a number"),
        ([(100, 0), (200, float("nan"))], "not finite"),
        ([(100, 0), ("x", 1)], "counts at point 2"),
        ([(100, 0), (100, 1)], "do not change with mass"),
        ([(100, 0), 5], "not a (counts, mass_kg) pair"),
        ([(100, 0), (200, True)], "not a number"),
    ],
)
def test_bad_points_are_refused_in_one_line(points, needle: str) -> None:
    with pytest.raises(CalibrationError) as info:
        fit_calibration(points)
    msg = str(info.value)
    assert needle in msg
    assert "\n" not in msg


def test_bad_gravity_refused() -> None:
    with pytest.raises(CalibrationError, match="g:"):
        fit_calibration([(0, 0), (10, 1)], g=0.0)


def test_linear_conversion_both_ways() -> None:
    cal = Calibration.factory(4000.0, 120000.0)
    raw = np.array([[120000, 240000], [80000, 120000]], dtype=np.int32)
    np.testing.assert_allclose(cal.counts_to_n(raw), [[0.0, 30.0], [-10.0, 0.0]])
    assert cal.counts_to_n(raw).shape == (2, 2)
    np.testing.assert_allclose(cal.n_to_counts(np.array([0.0, 30.0])), [120000.0, 240000.0])
    assert cal.source == "factory"


def test_negative_gain_sensor_converts() -> None:
    cal = Calibration.factory(-2000.0, 50000.0)
    np.testing.assert_allclose(cal.counts_to_n(np.array([50000.0, 30000.0])), [0.0, 10.0])


@given(
    b2=st.floats(-3e-10, 3e-10),
    f=st.lists(st.floats(0.0, 30.0), min_size=1, max_size=20),
)
def test_quadratic_inverse_round_trips(b2: float, f: list[float]) -> None:
    cal = Calibration(ModelKind.QUADRATIC, (120000.0, 2.5e-4, b2))
    force = np.array(f)
    np.testing.assert_allclose(cal.counts_to_n(cal.n_to_counts(force)), force, atol=1e-6)


def test_quadratic_conversion_by_hand() -> None:
    cal = Calibration(ModelKind.QUADRATIC, (1000.0, 0.01, 1e-6))
    # d = 0, 100, 1000 → F = 0, 1 + 0.01, 10 + 1
    np.testing.assert_allclose(cal.counts_to_n(np.array([1000, 1100, 2000])), [0, 1.01, 11.0])
    np.testing.assert_allclose(cal.n_to_counts(np.array([0.0, 1.01, 11.0])), [1000, 1100, 2000])
    assert cal.counts_per_n == pytest.approx(100.0)


def test_quadratic_with_zero_curvature_equals_linear() -> None:
    q = Calibration(ModelKind.QUADRATIC, (1000.0, 1 / 50.0, 0.0))
    lin = Calibration(ModelKind.LINEAR, (1000.0, 50.0))
    raw = np.linspace(0, 5000, 11)
    np.testing.assert_allclose(q.counts_to_n(raw), lin.counts_to_n(raw))


def test_to_info_and_back() -> None:
    cal = Calibration(ModelKind.QUADRATIC, (100.0, 0.05, 1e-4), "stored:7", "2026-11-27T14:00:00Z")
    info = cal.to_info()
    assert isinstance(info, CalibrationInfo)
    assert info.counts_per_n == pytest.approx(20.0)  # tangent at zero force
    assert info.offset_counts == 100.0
    assert info.model == "quadratic"
    assert info.coefficients == [0.0, 0.05, 1e-4]
    assert info.source == "stored:7"
    assert Calibration.from_info(info) == cal
    lin = Calibration.factory(3.0, 9.0)
    assert lin.to_info().coefficients == []
    legacy = CalibrationInfo(counts_per_n=3.0, offset_counts=9.0, source="factory")
    assert Calibration.from_info(legacy) == lin


def test_session_store_evaluates_our_models_identically() -> None:
    """logger.store.force_timeline (how sessions, exports and reviews derive forces) and
    Calibration.counts_to_n agree for both models."""
    from logger.store import force_timeline

    raw = np.array([119000, 120000, 150000, 200000])
    t_s = np.arange(raw.size, dtype=float)
    fit = fit_calibration(_points(CURVED, [0, 0.5, 1, 1.5, 2]))
    assert fit.model is ModelKind.QUADRATIC
    for cal in (fit.calibration, fit.linear.calibration, Calibration.factory(4000.0, 120000.0)):
        stored = force_timeline(cal.to_info()).counts_to_n(t_s, raw)
        np.testing.assert_allclose(stored, cal.counts_to_n(raw))


def test_from_info_with_a_constant_term() -> None:
    # a polynomial whose origin is not the zero-force reading (allowed by the store)
    info = CalibrationInfo(100.0, 1000.0, "x", model="quadratic", coefficients=[-0.5, 0.01, 1e-6])
    cal = Calibration.from_info(info)
    raw = np.array([900.0, 1000.0, 1100.0, 3000.0])
    expected = np.polynomial.polynomial.polyval(raw - 1000.0, info.coefficients)
    np.testing.assert_allclose(cal.counts_to_n(raw), expected, atol=1e-9)
    assert cal.counts_to_n(np.array([cal.offset_counts]))[0] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(CalibrationError, match="never reaches zero force"):
        Calibration.from_info(
            CalibrationInfo(1.0, 0.0, "x", model="quadratic", coefficients=[1.0, 0.0, 1.0])
        )
    with pytest.raises(CalibrationError, match="not known"):
        Calibration.from_info(CalibrationInfo(1.0, 0.0, "x", model="cubic", coefficients=[1.0]))


@pytest.mark.parametrize(
    ("model", "coeffs", "needle"),
    [
        ("linear", (1.0,), "needs 2 coefficients"),
        ("quadratic", (1.0, 2.0), "needs 3 coefficients"),
        ("linear", (1.0, 0.0), "must not be 0"),
        ("linear", (float("inf"), 1.0), "finite"),
    ],
)
def test_bad_calibration_refused(model: str, coeffs: tuple, needle: str) -> None:
    with pytest.raises(CalibrationError, match=needle):
        Calibration(ModelKind(model), coeffs)


def test_report_lines_list_every_point() -> None:
    fit = fit_calibration([(100, 0), (1100, 1), (2000, 2)], g=10.0)
    lines = fit.report_lines()
    assert any("R²" in line for line in lines)
    assert sum(1 for line in lines if line.strip().startswith(("0.0000", "1.0000", "2.0000"))) == 3


def test_with_zero_moves_only_the_zero() -> None:
    cal = Calibration(ModelKind.QUADRATIC, (100.0, 20.0, 0.5), "stored:3", "2026-11-01T00:00:00Z")
    z = cal.with_zero(150.0)
    assert z.coefficients == (150.0, 20.0, 0.5)
    assert z.source == "stored:3+tare"
    assert z.created_at == cal.created_at
    assert z.with_zero(160.0).source == "stored:3+tare"
    assert z.counts_to_n(np.array([150.0]))[0] == 0.0
    with pytest.raises(CalibrationError, match="zero"):
        cal.with_zero(float("nan"))


# ---------------------------------------------------------------- plausibility (check_fit)

SIM_NOISE_COUNTS = 0.1 * 4000.0  # the simulator's default noise_n (0.1 N) on one sample


@pytest.mark.parametrize("masses", [[0, 0.5, 1, 2], [0, 1, 2], [0, 0.2], [0, 1, 2, 5, 10]])
def test_load_cell_fits_pass_with_a_wide_margin(masses: list[float]) -> None:
    """A linear sensor with the simulator's default noise: an accepted reading (1 s mean at
    1000 Hz) is far inside both bounds; even single unaveraged samples pass."""
    true = Calibration.factory(4000.0, 120000.0)
    for seed in range(50):
        fit = fit_calibration(_points(true, masses, SIM_NOISE_COUNTS / np.sqrt(1000), seed))
        assert fit_problem(fit) is None
        assert fit.r2 > 1 - (1 - MIN_R2) / 100
        assert fit.nonlinearity_pct_fs < MAX_NONLINEARITY_PCT_FS / 20
        assert fit_problem(fit_calibration(_points(true, masses, SIM_NOISE_COUNTS, seed))) is None


@pytest.mark.parametrize("alpha", [0.8, 0.9])
@pytest.mark.parametrize("masses", [[0, 0.5, 1, 2], [0, 0.5, 1, 1.5, 2, 3]])
def test_fsr_with_four_masses_passes(alpha: float, masses: list[float]) -> None:
    """An FSR whose output goes as F^alpha, readings averaged over the 1 s window at
    1000 Hz with the simulator's default noise: quadratic model, within a third of the
    non-linearity bound."""
    rng = np.random.default_rng(7)
    f = np.array(masses) * STANDARD_GRAVITY
    for _ in range(50):
        noise = rng.normal(0.0, SIM_NOISE_COUNTS / np.sqrt(1000), f.size)
        counts = 120000 + 4000 * f.max() * (f / f.max()) ** alpha + noise
        fit = fit_calibration(
            list(zip(counts, masses, strict=True)), noise_counts=SIM_NOISE_COUNTS / np.sqrt(1000)
        )
        assert fit.model is ModelKind.QUADRATIC
        assert fit_problem(fit) is None
        assert fit.nonlinearity_pct_fs < MAX_NONLINEARITY_PCT_FS / 2


def test_mislabelled_masses_refused_in_one_line() -> None:
    """The audit case: the list said 0.5,1,2 while the sensor saw nothing, 0.5 and 1 kg."""
    true = Calibration.factory(4000.0, 120000.0)
    counts = true.n_to_counts(np.array([0, 0.5, 1]) * STANDARD_GRAVITY)
    fit = fit_calibration(list(zip(counts.tolist(), [0.5, 1, 2], strict=True)))
    assert fit.r2 == pytest.approx(0.964, abs=1e-3)
    problem = fit_problem(fit)
    assert problem is not None and "\n" not in problem
    assert "R² 0.9643 < 0.999" in problem
    assert "non-linearity 8.33 % > 3 % of full scale" in problem
    assert "nothing stored" in problem
    with pytest.raises(CalibrationError, match="fit refused"):
        check_fit(fit)


def test_one_misplaced_weight_refused() -> None:
    """Guided mode, 1 kg placed when 0.5 kg was asked (then 1.5 for 1): refused."""
    true = Calibration.factory(4000.0, 120000.0)
    counts = true.n_to_counts(np.array([0, 1, 1.5, 2]) * STANDARD_GRAVITY)
    fit = fit_calibration(list(zip(counts.tolist(), [0, 0.5, 1, 2], strict=True)))
    problem = fit_problem(fit)
    assert problem is not None and "worst at" in problem


def test_curved_sensor_with_three_masses_asks_for_more() -> None:
    """An F^0.8 FSR with only 3 masses must be fitted linearly (≈ 5 % off): refused."""
    f = np.array([0, 1, 2]) * STANDARD_GRAVITY
    counts = 120000 + 4000 * f.max() * (f / f.max()) ** 0.8
    fit = fit_calibration(list(zip(counts, [0, 1, 2], strict=True)))
    assert fit.model is ModelKind.LINEAR
    problem = fit_problem(fit)
    assert problem is not None
    assert "needs ≥ 4 masses" in problem


def test_a_device_without_calibration_gives_nan_forces_never_a_number() -> None:
    """IDENTITY ``counts_per_n = 0.0`` means "none stored" (a freshly flashed board)."""
    from calibration.models import UNCALIBRATED

    cal = Calibration.factory(0.0, 123)
    assert not cal.is_calibrated and cal.source == UNCALIBRATED
    assert np.isnan(cal.counts_to_n(np.array([[120000], [-5]]))).all()
    assert np.isnan(cal.n_to_counts(np.array([1.0, 2.0]))).all()
    assert "not calibrated" in cal.describe()
    info = cal.to_info()
    assert (info.counts_per_n, info.source) == (0.0, UNCALIBRATED)
    assert not Calibration.from_info(info).is_calibrated
    with pytest.raises(CalibrationError, match="not calibrated"):
        cal.with_zero(120000)
    # a gain of 0 from anywhere else is still an error
    with pytest.raises(CalibrationError, match="gain must not be 0"):
        Calibration(ModelKind.LINEAR, (0.0, 0.0), "fit")
    assert Calibration.factory(4000.0, 0).is_calibrated
