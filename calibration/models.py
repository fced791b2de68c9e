"""Calibration models (raw ADC counts ⇄ newtons) and fitting them from known masses.

The model is written forwards, the way the sensor behaves and the way the noise enters:

    counts = offset_counts + counts_per_n · F  [+ counts_per_n2 · F²]

so least squares minimises errors in counts (the masses are exact; the readings are noisy).
``coefficients`` are ``(offset_counts, counts_per_n)`` for the linear model and
``(offset_counts, counts_per_n, counts_per_n2)`` for the quadratic one. Converting counts to
newtons inverts that polynomial in closed form, vectorised over any array shape.

When is the quadratic model chosen? Only when all of these hold (the "materially better"
rule, documented here once and used by the CLI and the GUI wizard):

* there are at least ``MIN_POINTS_QUADRATIC`` (4) distinct masses, so the quadratic still
  has a residual degree of freedom and can be judged at all;
* its residual RMS is at most ``QUADRATIC_RMS_RATIO`` (50 %) of the linear model's;
* the RMS it removes (linear RMS − quadratic RMS, in newtons) is larger than the reading
  noise (``noise_n``, the standard error of one accepted reading, if the caller knows it) and
  larger than ``QUADRATIC_MIN_GAIN_PCT_FS`` (0.1 %) of full scale, so that noise on a truly
  linear sensor never buys a curve, and a curvature below clinical relevance is ignored.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

import numpy as np

from logger.errors import BadInput
from logger.records import CalibrationInfo

log = logging.getLogger(__name__)

STANDARD_GRAVITY = 9.80665  # m/s², exact (CGPM 1901); 1 kgf = 9.80665 N
MIN_POINTS_QUADRATIC = 4
QUADRATIC_RMS_RATIO = 0.5
QUADRATIC_MIN_GAIN_PCT_FS = 0.1


class CalibrationError(BadInput):
    """A calibration that cannot be fitted or accepted (exit code 2, nothing stored)."""


class ModelKind(StrEnum):
    LINEAR = "linear"
    QUADRATIC = "quadratic"


def utc_now_iso() -> str:
    """UTC wall-clock as ISO 8601 with seconds, e.g. ``2026-11-27T14:05:12Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Calibration:
    """A per-device mapping between raw ADC counts and force in newtons.

    ``source`` says where it came from: ``"factory"`` (reported by the device), ``"fit"``
    (fresh from :func:`fit_calibration`), ``"stored:<id>"`` (from the calibration store).
    """

    model: ModelKind
    coefficients: tuple[float, ...]
    source: str = "fit"
    created_at: str | None = None

    def __post_init__(self) -> None:
        model = ModelKind(self.model)
        object.__setattr__(self, "model", model)
        coeffs = tuple(float(c) for c in self.coefficients)
        object.__setattr__(self, "coefficients", coeffs)
        want = 2 if model is ModelKind.LINEAR else 3
        if len(coeffs) != want:
            raise CalibrationError(
                f"calibration model {model.value!r} needs {want} coefficients, got {len(coeffs)}"
            )
        if not all(math.isfinite(c) for c in coeffs):
            raise CalibrationError(f"calibration coefficients must be finite, got {coeffs}")
        if coeffs[1] == 0.0:
            raise CalibrationError("calibration gain counts_per_n must not be 0")

    @classmethod
    def factory(
        cls, counts_per_n: float, offset_counts: float, created_at: str | None = None
    ) -> Calibration:
        """The linear calibration a device reports about itself (Identity message)."""
        return cls(ModelKind.LINEAR, (offset_counts, counts_per_n), "factory", created_at)

    @classmethod
    def from_info(cls, info: CalibrationInfo) -> Calibration:
        """Rebuild from the record a session stored (full model when it was kept)."""
        if info.coefficients:
            return cls(
                ModelKind(info.model), tuple(info.coefficients), info.source, info.created_at
            )
        return cls(
            ModelKind.LINEAR, (info.offset_counts, info.counts_per_n), info.source, info.created_at
        )

    @property
    def offset_counts(self) -> float:
        return self.coefficients[0]

    @property
    def counts_per_n(self) -> float:
        """Gain at zero force (the linear equivalent for a quadratic model)."""
        return self.coefficients[1]

    @property
    def counts_per_n2(self) -> float:
        return self.coefficients[2] if self.model is ModelKind.QUADRATIC else 0.0

    def counts_to_n(self, raw: np.ndarray | float) -> np.ndarray:
        """Force in newtons for raw counts (any shape; float64 out)."""
        d = np.asarray(raw, dtype=np.float64) - self.offset_counts
        b = self.counts_per_n
        if self.model is ModelKind.LINEAR:
            return d / b
        a = self.counts_per_n2
        # root of a·F² + b·F − d = 0 that goes through F = 0 at d = 0, in the form that
        # does not cancel when a → 0: F = 2d / (b + sign(b)·sqrt(b² + 4ad)).
        disc = np.maximum(b * b + 4.0 * a * d, 0.0)
        return 2.0 * d / (b + math.copysign(1.0, b) * np.sqrt(disc))

    def n_to_counts(self, force_n: np.ndarray | float) -> np.ndarray:
        """Raw counts the sensor gives for a force (float64, any shape)."""
        f = np.asarray(force_n, dtype=np.float64)
        return self.offset_counts + f * (self.counts_per_n + f * self.counts_per_n2)

    def to_info(self) -> CalibrationInfo:
        """The session-header record; counts_per_n/offset_counts are the linear equivalent
        (tangent at zero force), the full model travels in ``model``/``coefficients``."""
        return CalibrationInfo(
            counts_per_n=self.counts_per_n,
            offset_counts=self.offset_counts,
            source=self.source,
            created_at=self.created_at,
            model=self.model.value,
            coefficients=list(self.coefficients),
        )

    def with_source(self, source: str, created_at: str | None = None) -> Calibration:
        return Calibration(
            self.model,
            self.coefficients,
            source,
            created_at if created_at is not None else self.created_at,
        )

    def with_zero(self, zero_counts: float) -> Calibration:
        """Same gain (and curvature), zero moved to ``zero_counts`` (a tare). The source
        gains a ``+tare`` suffix so a session header says the zero was taken live."""
        zero = float(zero_counts)
        if not math.isfinite(zero):
            raise CalibrationError(f"zero: {zero_counts!r} is not a finite count")
        source = self.source if self.source.endswith("+tare") else f"{self.source}+tare"
        coeffs = (zero, *self.coefficients[1:])
        return Calibration(self.model, coeffs, source, self.created_at)

    def describe(self) -> str:
        """One line for logs and the CLI."""
        text = f"{self.model.value}: {self.counts_per_n:.6g} counts/N"
        text += f", zero {self.offset_counts:.6g} counts"
        if self.model is ModelKind.QUADRATIC:
            text += f", {self.counts_per_n2:.4g} counts/N²"
        return text


@dataclass(frozen=True, slots=True)
class ModelStats:
    """How one candidate model fits the calibration points."""

    calibration: Calibration
    residuals_n: np.ndarray  # measured − true force per point, N
    rms_n: float
    nonlinearity_pct_fs: float  # worst |residual| as % of full scale
    r2: float  # on counts


@dataclass(frozen=True, slots=True)
class FitResult:
    """Outcome of :func:`fit_calibration`: the chosen model and how well it fits."""

    calibration: Calibration
    counts: np.ndarray  # accepted reading per point (mean counts)
    masses_kg: np.ndarray
    force_n: np.ndarray  # mass × g
    residuals_n: np.ndarray
    rms_n: float
    nonlinearity_pct_fs: float
    r2: float
    full_scale_n: float
    linear: ModelStats
    quadratic: ModelStats | None = None  # evaluated only with enough points
    reason: str = ""  # why this model was chosen
    g: float = STANDARD_GRAVITY
    extra: dict = field(default_factory=dict)

    @property
    def model(self) -> ModelKind:
        return self.calibration.model

    def report_lines(self) -> list[str]:
        """Human-readable table of the fit (for the CLI and logs)."""
        lines = [
            f"model      {self.calibration.describe()}",
            f"R²         {self.r2:.6f}",
            f"residual   RMS {self.rms_n:.4f} N, worst non-linearity "
            f"{self.nonlinearity_pct_fs:.3f} % of {self.full_scale_n:.3f} N full scale",
        ]
        if self.reason:
            lines.append(f"why        {self.reason}")
        lines.append("   mass_kg     force_n        counts  residual_n")
        for m, f, c, r in zip(
            self.masses_kg, self.force_n, self.counts, self.residuals_n, strict=True
        ):
            lines.append(f"{m:10.4f} {f:11.4f} {c:13.1f} {r:+11.4f}")
        return lines


def _as_float(value: object, what: str, index: int) -> float:
    if isinstance(value, bool):
        raise CalibrationError(f"{what} at point {index + 1}: {value!r} is not a number")
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CalibrationError(f"{what} at point {index + 1}: {value!r} is not a number") from None
    if not math.isfinite(x):
        raise CalibrationError(f"{what} at point {index + 1}: {value!r} is not finite")
    return x


def validate_masses(masses_kg: Sequence[object], what: str = "mass_kg") -> np.ndarray:
    """Check a mass list (≥ 2 distinct, non-negative, numeric); one-line CalibrationError."""
    values = np.array([_as_float(m, what, i) for i, m in enumerate(masses_kg)], dtype=np.float64)
    for i, m in enumerate(values):
        if m < 0:
            raise CalibrationError(f"{what} at point {i + 1}: {masses_kg[i]!r} is negative")
    seen: dict[float, int] = {}
    for i, m in enumerate(values):
        if m in seen:
            raise CalibrationError(
                f"{what}: {masses_kg[i]!r} repeated (points {seen[m] + 1} and {i + 1}); "
                "each point needs its own mass"
            )
        seen[m] = i
    if len(values) < 2:
        raise CalibrationError(
            f"{what}: need at least 2 distinct masses (zero plus at least one known mass), "
            f"got {len(values)}"
        )
    return values


def _stats(cal: Calibration, counts: np.ndarray, force_n: np.ndarray, fs_n: float) -> ModelStats:
    residuals = cal.counts_to_n(counts) - force_n
    pred = cal.n_to_counts(force_n)
    ss_res = float(np.sum((counts - pred) ** 2))
    ss_tot = float(np.sum((counts - counts.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0
    rms = float(np.sqrt(np.mean(residuals**2)))
    nonlin = float(np.max(np.abs(residuals)) / fs_n * 100.0)
    return ModelStats(cal, residuals, rms, nonlin, r2)


def _polyfit(force_n: np.ndarray, counts: np.ndarray, degree: int) -> tuple[float, ...]:
    """Least squares counts ≈ Σ c_k F^k, with F scaled to ±1 for conditioning."""
    scale = float(np.max(np.abs(force_n)))
    x = force_n / scale
    design = np.vander(x, degree + 1, increasing=True)
    coeffs, *_ = np.linalg.lstsq(design, counts, rcond=None)
    return tuple(float(c) / scale**k for k, c in enumerate(coeffs))


def fit_calibration(
    points: Sequence[tuple[object, object]],
    g: float = STANDARD_GRAVITY,
    noise_n: float = 0.0,
    allow_quadratic: bool = True,
) -> FitResult:
    """Fit a calibration from ``(counts, mass_kg)`` points.

    Linear least squares (offset + gain) from ≥ 2 distinct masses; the quadratic model is
    chosen only when it is materially better (see the module docstring; ``noise_n`` is the
    standard error of one accepted reading in newtons, 0 if unknown). Residuals are
    measured − true force in newtons, per point.
    Raises :class:`CalibrationError` (one line) on bad input.
    """
    if len(points) == 0:
        raise CalibrationError("no calibration points: need zero plus at least one known mass")
    pairs = []
    for i, pt in enumerate(points):
        try:
            c, m = pt  # type: ignore[misc]
        except (TypeError, ValueError):
            raise CalibrationError(
                f"calibration point {i + 1}: {pt!r} is not a (counts, mass_kg) pair"
            ) from None
        pairs.append((c, m))
    masses = validate_masses([m for _, m in pairs])
    counts = np.array([_as_float(c, "counts", i) for i, (c, _) in enumerate(pairs)])
    if not (math.isfinite(g) and g > 0):
        raise CalibrationError(f"g: {g!r} must be a positive number (m/s²)")
    force_n = masses * g
    fs_n = float(np.max(force_n))
    if np.ptp(counts) == 0:
        raise CalibrationError(
            f"counts do not change with mass (all {counts[0]:.0f}): is the load on the sensor?"
        )
    linear_cal = Calibration(ModelKind.LINEAR, _polyfit(force_n, counts, 1))
    linear = _stats(linear_cal, counts, force_n, fs_n)
    chosen, reason = linear, "linear (fewer than 4 masses: quadratic not offered)"
    quadratic: ModelStats | None = None
    if allow_quadratic and len(masses) >= MIN_POINTS_QUADRATIC:
        q = _polyfit(force_n, counts, 2)
        try:
            quadratic = _stats(Calibration(ModelKind.QUADRATIC, q), counts, force_n, fs_n)
        except CalibrationError:
            quadratic = None
        if quadratic is None:
            reason = "linear (quadratic fit degenerate)"
        else:
            gain_n = linear.rms_n - quadratic.rms_n
            floor_n = max(noise_n, QUADRATIC_MIN_GAIN_PCT_FS / 100.0 * fs_n)
            if quadratic.rms_n <= QUADRATIC_RMS_RATIO * linear.rms_n and gain_n > floor_n:
                chosen = quadratic
                reason = (
                    f"quadratic: residual RMS {linear.rms_n:.4f} → {quadratic.rms_n:.4f} N "
                    f"(improvement {gain_n:.4f} N > {floor_n:.4f} N)"
                )
            else:
                reason = (
                    f"linear: quadratic would change residual RMS {linear.rms_n:.4f} → "
                    f"{quadratic.rms_n:.4f} N, not materially better"
                )
    log.debug("calibration fit: %s", reason)
    cal = chosen.calibration.with_source("fit", utc_now_iso())
    return FitResult(
        calibration=cal,
        counts=counts,
        masses_kg=masses,
        force_n=force_n,
        residuals_n=chosen.residuals_n,
        rms_n=chosen.rms_n,
        nonlinearity_pct_fs=chosen.nonlinearity_pct_fs,
        r2=chosen.r2,
        full_scale_n=fs_n,
        linear=linear,
        quadratic=quadratic,
        reason=reason,
        g=g,
    )
