"""Calibration models (raw ADC counts ⇄ newtons) and fitting them from known masses.

Linear model (the device's own factory calibration has this form):

    counts = offset_counts + counts_per_n · F        coefficients (offset_counts, counts_per_n)

fitted by least squares on counts (the masses are exact; the readings carry the noise).

Quadratic model, written the way every view evaluates non-linear calibrations
(``calibration.tare.ForceTimeline.counts_to_n``: a polynomial in ``raw − offset_counts``,
giving newtons):

    F = n_per_count · d + n_per_count2 · d²,  d = counts − offset_counts
                                             coefficients (offset_counts, n_per_count, n_per_count2)

``offset_counts`` is the reading at zero force in both models, so a tare only moves it.
Both directions are closed-form and vectorised over any array shape. In a session header
(:meth:`Calibration.to_info`) ``counts_per_n``/``offset_counts`` are the linear equivalent
(tangent at zero force) and, for the quadratic model, ``coefficients`` are
``[0, n_per_count, n_per_count2]`` (lowest power first, in ``raw − offset_counts``).

When is the quadratic model chosen? Only when all of these hold (the "materially better"
rule, documented here once and used by the CLI and the GUI wizard):

* there are at least ``MIN_POINTS_QUADRATIC`` (4) distinct masses, so the quadratic still
  has a residual degree of freedom and can be judged at all;
* its residual RMS is at most ``QUADRATIC_RMS_RATIO`` (50 %) of the linear model's;
* the RMS it removes (linear RMS − quadratic RMS, in newtons) is larger than the reading
  noise (``noise_n``: the standard error of one accepted reading, if the caller knows it,
  given in counts and converted through the linear fit's gain) and
  larger than ``QUADRATIC_MIN_GAIN_PCT_FS`` (0.1 %) of full scale, so that noise on a truly
  linear sensor never buys a curve, and a curvature below clinical relevance is ignored.

When is a fit refused (:func:`check_fit`; the CLI stores nothing and exits 2)? When the
chosen model's R² (on counts) is below ``MIN_R2`` (0.999) or its worst non-linearity is
above ``MAX_NONLINEARITY_PCT_FS`` (3 % of full scale). A linear sensor (load cell, or the
simulator at its default 0.1 N noise) fits at R² > 0.99999 and < 0.1 %; an FSR whose output
goes as F^0.8…F^0.9, calibrated with ≥ 4 masses (quadratic model), fits at R² ≥ 0.9995 and
≤ 1.1 %. Mislabelled or missing masses land far outside: ``0.5,1,2`` entered for an
unloaded sensor then 0.5/1/2 kg fits at R² 0.964, 8.3 %. (An FSR calibrated with only 3
masses must be fitted linearly and may be refused: 0,1,2 kg on F^0.9 gives 2.4 %,
R² 0.998; the message asks for ≥ 4 masses.)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

log = logging.getLogger(__name__)

STANDARD_GRAVITY = 9.80665  # m/s², exact (CGPM 1901); 1 kgf = 9.80665 N
MIN_POINTS_QUADRATIC = 4
QUADRATIC_RMS_RATIO = 0.5
QUADRATIC_MIN_GAIN_PCT_FS = 0.1
MIN_R2 = 0.999  # a fit below this is refused (see "When is a fit refused")
MASS_RANGE_KG = (0.001, 1000.0)  # a non-zero calibration mass: a gram to a tonne
MAX_NONLINEARITY_PCT_FS = 3.0  # worst |residual| as % of full scale, above → refused
UNCALIBRATED = "uncalibrated"  # source of a device with no calibration (a fresh board)


class CalibrationError(ValueError):
    """A calibration that cannot be fitted or accepted (exit code 2, nothing stored)."""


class ModelKind(StrEnum):
    LINEAR = "linear"
    QUADRATIC = "quadratic"


@dataclass(slots=True)
class CalibrationInfo:
    counts_per_n: float
    offset_counts: float
    source: str  # "factory" | "stored:<id>" | "tare" ...
    created_at: str | None = None
    model: str = "linear"
    coefficients: list[float] = field(default_factory=list)


class ZeroSource(StrEnum):
    AUTO = "auto"  # taken at the start of acquisition, the sensor unloaded and steady
    USER = "user"  # the Zero button or its shortcut


@dataclass(slots=True)
class ZeroEvent:
    """From ``t_s`` on, the raw reading ``zero_counts`` (channel 0's scale) is 0 N.

    A zero moves the calibration's zero and nothing else (the gain stays); it applies to
    every sample at or after ``t_s`` until the next zero. The force it removed is derived
    (``calibration.tare.ForceTimeline.removed_n``), so a recalibration restates it."""

    t_s: float
    zero_counts: float
    source: ZeroSource


@dataclass(frozen=True, slots=True)
class Calibration:
    """A per-device mapping between raw ADC counts and force in newtons.

    ``source`` says where it came from: ``"factory"`` (reported by the device), ``"fit"``
    (fresh from :func:`fit_calibration`), ``"stored:<id>"`` (from the calibration store),
    or ``"uncalibrated"``: a device that has none (a freshly flashed board reports
    ``counts_per_n = 0.0``). That one has gain 0, keeps raw counts usable and gives NaN
    for every force, so no number can pass for a calibrated one.
    """

    model: ModelKind
    coefficients: tuple[float, ...]  # see the module docstring; [0] is always offset_counts
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
        if coeffs[1] == 0.0 and not (model is ModelKind.LINEAR and self.source == UNCALIBRATED):
            raise CalibrationError("calibration gain must not be 0")

    @classmethod
    def factory(
        cls, counts_per_n: float, offset_counts: float, created_at: str | None = None
    ) -> Calibration:
        """The linear calibration a device reports about itself (Identity message);
        ``counts_per_n = 0.0`` is the protocol's "none stored": :meth:`uncalibrated`."""
        if counts_per_n == 0.0:
            return cls.uncalibrated(offset_counts)
        return cls(ModelKind.LINEAR, (offset_counts, counts_per_n), "factory", created_at)

    @classmethod
    def uncalibrated(cls, offset_counts: float = 0.0) -> Calibration:
        """No calibration at all: forces are NaN until the device is calibrated."""
        return cls(ModelKind.LINEAR, (offset_counts, 0.0), UNCALIBRATED)

    @property
    def is_calibrated(self) -> bool:
        """False for :meth:`uncalibrated` (forces unknown; raw counts only)."""
        return self.coefficients[1] != 0.0

    @classmethod
    def from_info(cls, info: CalibrationInfo) -> Calibration:
        """Rebuild from the record a session stored (the full model when it was kept)."""
        if info.model == ModelKind.LINEAR.value or not info.coefficients:
            if info.counts_per_n == 0.0 and info.source == UNCALIBRATED:
                return cls.uncalibrated(info.offset_counts)
            return cls(ModelKind.LINEAR, (info.offset_counts, info.counts_per_n), info.source,
                       info.created_at)  # fmt: skip
        if info.model != ModelKind.QUADRATIC.value:
            raise CalibrationError(f"calibration model {info.model!r} is not known")
        c = [float(v) for v in info.coefficients] + [0.0] * (3 - len(info.coefficients))
        if len(c) > 3 and any(c[3:]):
            raise CalibrationError(f"quadratic calibration with {len(c)} coefficients")
        c0, c1, c2 = c[:3]
        offset = float(info.offset_counts)
        if c0 != 0.0:  # move the origin to the zero-force reading: c0 + c1 d + c2 d² = 0
            shift = _nearest_root(c0, c1, c2)
            offset += shift
            c1 += 2.0 * c2 * shift
        return cls(ModelKind.QUADRATIC, (offset, c1, c2), info.source, info.created_at)

    @property
    def offset_counts(self) -> float:
        """Reading at zero force."""
        return self.coefficients[0]

    @property
    def counts_per_n(self) -> float:
        """Gain; for the quadratic model the slope at zero force (linear equivalent)."""
        if self.model is ModelKind.LINEAR:
            return self.coefficients[1]
        return 1.0 / self.coefficients[1]

    def counts_to_n(self, raw: np.ndarray | float) -> np.ndarray:
        """Force in newtons for raw counts (any shape; float64 out)."""
        d = np.asarray(raw, dtype=np.float64) - self.offset_counts
        if not self.is_calibrated:
            return np.full_like(d, np.nan)
        if self.model is ModelKind.LINEAR:
            return d / self.coefficients[1]
        b1, b2 = self.coefficients[1], self.coefficients[2]
        return d * (b1 + b2 * d)

    def n_to_counts(self, force_n: np.ndarray | float) -> np.ndarray:
        """Raw counts the sensor gives for a force (float64, any shape)."""
        f = np.asarray(force_n, dtype=np.float64)
        if not self.is_calibrated:
            return np.full_like(f, np.nan)
        if self.model is ModelKind.LINEAR:
            return self.offset_counts + f * self.coefficients[1]
        b1, b2 = self.coefficients[1], self.coefficients[2]
        # root of b2·d² + b1·d − F = 0 through d = 0 at F = 0, in the form that does not
        # cancel as b2 → 0: d = 2F / (b1 + sign(b1)·sqrt(b1² + 4·b2·F)); beyond the
        # parabola's vertex (far outside any calibrated range) the vertex is returned.
        disc = np.sqrt(np.maximum(b1 * b1 + 4.0 * b2 * f, 0.0))
        return self.offset_counts + 2.0 * f / (b1 + math.copysign(1.0, b1) * disc)

    def to_info(self) -> CalibrationInfo:
        """The session-header record: ``counts_per_n``/``offset_counts`` are the linear
        equivalent (tangent at zero force); a quadratic model also carries
        ``coefficients = [0, n_per_count, n_per_count2]``, the polynomial in
        ``raw − offset_counts`` that ``ForceTimeline.counts_to_n`` evaluates."""
        quadratic = self.model is ModelKind.QUADRATIC
        return CalibrationInfo(
            counts_per_n=self.counts_per_n,
            offset_counts=self.offset_counts,
            source=self.source,
            created_at=self.created_at,
            model=self.model.value,
            coefficients=[0.0, *self.coefficients[1:]] if quadratic else [],
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
        if not self.is_calibrated:
            raise CalibrationError("zero: the device is not calibrated yet (calibrate it first)")
        if not math.isfinite(zero):
            raise CalibrationError(f"zero: {zero_counts!r} is not a finite count")
        source = self.source if self.source.endswith("+tare") else f"{self.source}+tare"
        coeffs = (zero, *self.coefficients[1:])
        return Calibration(self.model, coeffs, source, self.created_at)

    def describe(self) -> str:
        """One line for logs and the CLI."""
        if not self.is_calibrated:
            return "none: the device is not calibrated (raw counts only, no forces)"
        if self.model is ModelKind.LINEAR:
            return f"linear: {self.counts_per_n:.6g} counts/N, zero {self.offset_counts:.6g} counts"
        return (
            f"quadratic: {self.counts_per_n:.6g} counts/N at zero force, zero "
            f"{self.offset_counts:.6g} counts, curvature {self.coefficients[2]:.4g} N/count²"
        )


def _nearest_root(c0: float, c1: float, c2: float) -> float:
    """The root of c0 + c1·d + c2·d² nearest d = 0 (stable form)."""
    disc = c1 * c1 - 4.0 * c2 * c0
    if disc < 0 or (c1 == 0 and c2 == 0):
        raise CalibrationError("quadratic calibration never reaches zero force")
    if c2 == 0:
        return -c0 / c1
    q = -0.5 * (c1 + math.copysign(math.sqrt(disc), c1 if c1 != 0 else 1.0))
    roots = [q / c2, c0 / q] if q != 0 else [0.0]
    return min(roots, key=abs)


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
    full_scale_n: float
    chosen: ModelStats  # ``linear`` or ``quadratic``
    linear: ModelStats
    quadratic: ModelStats | None = None  # evaluated only with enough points
    reason: str = ""  # why this model was chosen
    g: float = STANDARD_GRAVITY

    @property
    def model(self) -> ModelKind:
        return self.calibration.model

    @property
    def residuals_n(self) -> np.ndarray:
        return self.chosen.residuals_n

    @property
    def rms_n(self) -> float:
        return self.chosen.rms_n

    @property
    def nonlinearity_pct_fs(self) -> float:
        return self.chosen.nonlinearity_pct_fs

    @property
    def r2(self) -> float:
        return self.chosen.r2

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


def fit_problem(fit: FitResult) -> str | None:
    """Why ``fit`` is too poor to store (one line), or None when it is plausible; the bounds
    are ``MIN_R2`` and ``MAX_NONLINEARITY_PCT_FS`` (module docstring)."""
    problems = []
    if not fit.r2 >= MIN_R2:
        problems.append(f"R² {fit.r2:.4f} < {MIN_R2:g}")
    if not fit.nonlinearity_pct_fs <= MAX_NONLINEARITY_PCT_FS:
        problems.append(
            f"non-linearity {fit.nonlinearity_pct_fs:.2f} % > {MAX_NONLINEARITY_PCT_FS:g} % of "
            "full scale"
        )
    if not problems:
        return None
    worst = int(np.argmax(np.abs(fit.residuals_n)))
    hint = "check the masses and that each was on the sensor when accepted"
    if fit.model is ModelKind.LINEAR and len(fit.masses_kg) < MIN_POINTS_QUADRATIC:
        hint += f"; a non-linear sensor needs ≥ {MIN_POINTS_QUADRATIC} masses"
    return (
        f"fit refused, nothing stored: {' and '.join(problems)} (worst at "
        f"{fit.masses_kg[worst]:g} kg, {fit.residuals_n[worst]:+.3f} N); {hint}"
    )


def check_fit(fit: FitResult) -> None:
    """Raise a one-line :class:`CalibrationError` when :func:`fit_problem` finds one."""
    problem = fit_problem(fit)
    if problem is not None:
        raise CalibrationError(problem)


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
    """Check a mass list (≥ 2 distinct, non-negative, numeric, each 0 or within
    :data:`MASS_RANGE_KG`); one-line CalibrationError."""
    values = np.array([_as_float(m, what, i) for i, m in enumerate(masses_kg)], dtype=np.float64)
    lo, hi = MASS_RANGE_KG
    for i, m in enumerate(values):
        if m < 0:
            raise CalibrationError(f"{what} at point {i + 1}: {masses_kg[i]!r} is negative")
        if m != 0 and not lo <= m <= hi:
            raise CalibrationError(
                f"{what} at point {i + 1}: {masses_kg[i]!r} kg is not 0 or {lo:g}..{hi:g} kg"
            )
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


def _fit_linear(force_n: np.ndarray, counts: np.ndarray) -> Calibration:
    """Least squares counts ≈ offset + gain · F."""
    gain, offset = np.polyfit(force_n, counts, 1)
    return Calibration(ModelKind.LINEAR, (float(offset), float(gain)))


def _fit_quadratic(force_n: np.ndarray, counts: np.ndarray) -> Calibration:
    """Least squares F ≈ a0 + a1·r + a2·r² (r = counts, scaled for conditioning), then the
    origin moved to the zero-force reading so that F = b1·d + b2·d²."""
    ref = float(counts[np.argmin(force_n)])
    scale = float(np.max(np.abs(counts - ref))) or 1.0
    x = (counts - ref) / scale
    a2, a1, a0 = np.polyfit(x, force_n, 2)
    c0, c1, c2 = float(a0), float(a1) / scale, float(a2) / scale**2
    shift = _nearest_root(c0, c1, c2)
    return Calibration(ModelKind.QUADRATIC, (ref + shift, c1 + 2.0 * c2 * shift, c2))


def fit_calibration(
    points: Sequence[tuple[object, object]],
    g: float = STANDARD_GRAVITY,
    noise_counts: float = 0.0,
    allow_quadratic: bool = True,
) -> FitResult:
    """Fit a calibration from ``(counts, mass_kg)`` points.

    Linear least squares (offset + gain) from ≥ 2 distinct masses; the quadratic model is
    chosen only when it is materially better (see the module docstring; ``noise_counts`` is
    the standard error of one accepted reading in counts, 0 if unknown, converted to
    newtons ``noise_n`` through the linear fit's gain). Residuals are
    measured − true force in newtons, per point.
    Raises :class:`CalibrationError` (one line) on bad input.
    """
    if len(points) == 0:
        raise CalibrationError("no calibration points: need zero plus at least one known mass")
    pairs = []
    for i, pt in enumerate(points):
        try:
            c, m = pt
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
    linear_cal = _fit_linear(force_n, counts)
    linear = _stats(linear_cal, counts, force_n, fs_n)
    chosen, reason = linear, "linear (fewer than 4 masses: quadratic not offered)"
    quadratic: ModelStats | None = None
    if allow_quadratic and len(masses) >= MIN_POINTS_QUADRATIC:
        try:
            quadratic = _stats(_fit_quadratic(force_n, counts), counts, force_n, fs_n)
        except CalibrationError:
            quadratic = None
        if quadratic is None:
            reason = "linear (quadratic fit degenerate)"
        else:
            gain_n = linear.rms_n - quadratic.rms_n
            gain = linear_cal.counts_per_n
            noise_n = abs(noise_counts / gain) if gain != 0 else 0.0
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
    cal = chosen.calibration.with_source("fit")  # dated when stored: no clock in here
    return FitResult(
        calibration=cal,
        counts=counts,
        masses_kg=masses,
        force_n=force_n,
        full_scale_n=fs_n,
        chosen=chosen,
        linear=linear,
        quadratic=quadratic,
        reason=reason,
        g=g,
    )
