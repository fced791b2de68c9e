"""Simulator scenario files (docs/SCENARIOS.md): what the simulated therapist and sensor do.

A scenario is TOML with optional ``[device]``, ``[therapist]``, ``[patient]``,
``[trainee]`` and ``[faults]`` tables and a list of ``[[steps]]``. ``load_scenario``
validates everything before anything runs and refuses a malformed file with one line naming
the file, the step number and the key. Built-in scenarios live in ``scenarios/``. What a
scenario plays over time (forces, button presses, ratings, trials) is ``Scenario.script()``
(``script.py``).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..messages import INT24_MAX, INT24_MIN, MAX_CHANNELS
from .spec import (
    Action,
    DeviceSpec,
    FaultSpec,
    PatientSpec,
    Step,
    TherapistSpec,
    TraineeSpec,
)

if TYPE_CHECKING:
    from .script import Attempt, PlannedRating, PptTrial, Script

BUILTIN_DIR = Path(__file__).with_name("scenarios")
RATE_MIN_HZ = 10
RATE_MAX_HZ = 4000
# Sanity bounds (docs/SCENARIOS.md): beyond them a value means nothing physical and the
# device's numbers (µs clock, f32 calibration, int24 counts) would overflow.
COUNTS_PER_N_RANGE = (1e-3, 1e9)  # |counts_per_n|: sent as f32 in IDENTITY
MAX_SECONDS = 86400.0  # any one duration or time: one day
MAX_SIM_FORCE_N = 1e5  # far beyond full scale of any sensor simulated here
MAX_MASS_KG = 10_000.0
MAX_RATING = 10.0  # the client's pain rating: 0 (none) .. 10 (worst imaginable)
MIN_PCT, MAX_PCT = -90.0, 1000.0  # a relative error or change, in per cent
MIN_RATE_N_PER_S = 0.01  # slower ramps (and rates 90 % under them) would take years
MAX_NOISE_PCT = 100.0


class ScenarioError(ValueError):
    """A malformed scenario (file, step and key named). The command line reports it as
    bad input (exit code 2); this package knows nothing of the program around it."""


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    source: str  # file path, or "builtin:NAME"
    device: DeviceSpec = field(default_factory=DeviceSpec)
    therapist: TherapistSpec = field(default_factory=TherapistSpec)
    faults: FaultSpec = field(default_factory=FaultSpec)
    steps: tuple[Step, ...] = ()
    description: str = ""
    patient: PatientSpec = field(default_factory=PatientSpec)
    trainee: TraineeSpec = field(default_factory=TraineeSpec)

    def script(self) -> Script:
        """What this scenario plays over scenario time (deterministic from its seeds)."""
        from .script import plan_script  # the plan is built from this parsed form

        return plan_script(self)

    @property
    def duration_s(self) -> float:
        return self.script().duration_s

    def mark_times_s(self) -> list[float]:
        """Scenario times of the ``mark`` steps (where the device's button is pressed)."""
        return self.script().mark_times_s()

    def ppt_trials(self) -> tuple[PptTrial, ...]:
        return self.script().ppt_trials

    def attempts(self) -> tuple[Attempt, ...]:
        return self.script().attempts

    def ratings(self) -> tuple[PlannedRating, ...]:
        return self.script().ratings

    def with_overrides(self, **kw: Any) -> Scenario:
        """A copy with device/therapist/fault keys and ``treated`` replaced (sim:// query
        keys; ``seed`` is the therapist's)."""
        dev = {k: v for k, v in kw.items() if k in _names(DeviceSpec)}
        thr = {k: v for k, v in kw.items() if k in _names(TherapistSpec)}
        flt = {k: v for k, v in kw.items() if k in _names(FaultSpec)}
        pat = {k: v for k, v in kw.items() if k in _PATIENT_QUERY_KEYS}
        return replace(
            self,
            device=replace(self.device, **dev),
            therapist=replace(self.therapist, **thr),
            faults=replace(self.faults, **flt),
            patient=replace(self.patient, **pat),
        )


def _names(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


# ------------------------------------------------------------------------- validation

_NUM = (int, float)
# key -> (python types, check, description of the allowed range)
_Check = tuple[tuple[type, ...], Any, str]


def _finite(v: float) -> bool:
    return math.isfinite(v)


def _gain(v: float) -> bool:
    return _finite(v) and COUNTS_PER_N_RANGE[0] <= abs(v) <= COUNTS_PER_N_RANGE[1]


def _upto(most: float) -> _Check:
    """A number 0 <= v <= most."""
    return (_NUM, lambda v: _finite(v) and 0 <= v <= most, f"a number 0..{most:g}")


_GAIN = f"a number with {COUNTS_PER_N_RANGE[0]:g} <= |v| <= {COUNTS_PER_N_RANGE[1]:g}"
SECONDS = _upto(MAX_SECONDS)
ON_OFF: _Check = ((bool,), lambda v: True, "true or false")  # also 1/0, yes/no in sim://
FORCE = _upto(MAX_SIM_FORCE_N)
SEED: _Check = ((int,), lambda v: 0 <= v < 1 << 64, "an integer 0..2**64-1")
SHARE = _upto(1.0)
RATING = _upto(MAX_RATING)
RATE: _Check = (
    _NUM, lambda v: _finite(v) and MIN_RATE_N_PER_S <= v <= MAX_SIM_FORCE_N,
    f"a number {MIN_RATE_N_PER_S:g}..{MAX_SIM_FORCE_N:g} (newtons per second)",
)  # fmt: skip
_DEVICE_KEYS: dict[str, _Check] = {
    "uid": ((str,), lambda v: 0 < len(v) <= 16 and v.isascii(), "1-16 ASCII characters"),
    "rate_hz": ((int,), lambda v: RATE_MIN_HZ <= v <= RATE_MAX_HZ, "an integer 10..4000"),
    "channels": ((int,), lambda v: 1 <= v <= MAX_CHANNELS, "an integer 1..8"),
    "counts_per_n": (_NUM, _gain, _GAIN),
    "offset_counts": ((int,), lambda v: INT24_MIN <= v <= INT24_MAX, "an int24 integer"),
    "factory_counts_per_n": (_NUM, _gain, _GAIN),
    "factory_offset_counts": ((int,), lambda v: INT24_MIN <= v <= INT24_MAX, "an int24"),
    "noise_n": FORCE,
    "zero_drift_n_per_s": (
        _NUM,
        lambda v: _finite(v) and abs(v) <= MAX_SIM_FORCE_N,
        f"a number -{MAX_SIM_FORCE_N:g}..{MAX_SIM_FORCE_N:g} (newtons per second)",
    ),
    "clock_start_us": ((int,), lambda v: 0 <= v < 1 << 32, "an integer 0..2**32-1"),
    "erased": ON_OFF,
}
_THERAPIST_KEYS: dict[str, _Check] = {
    "seed": SEED,
    "tremor_n": FORCE,
}
_PCT_ERROR: _Check = (
    _NUM, lambda v: _finite(v) and MIN_PCT <= v <= MAX_PCT, f"a number {MIN_PCT:g}..{MAX_PCT:g}"
)  # fmt: skip
_PATIENT_KEYS: dict[str, _Check] = {
    "seed": SEED,
    "threshold_noise_pct": _upto(MAX_NOISE_PCT),
    "treatment_change_pct": _PCT_ERROR,
    "treated": ON_OFF,
}
_PATIENT_QUERY_KEYS = ("treated",)  # ``seed`` in a URL is the therapist's
_TRAINEE_KEYS: dict[str, _Check] = {
    "seed": SEED,
    "error_pct": _PCT_ERROR,
    "ramp_error_pct": _PCT_ERROR,
    "learning": SHARE,
    "retention": SHARE,
    "noise_pct": _upto(MAX_NOISE_PCT),
}
_FAULT_KEYS: dict[str, _Check] = {
    "corrupt": (_NUM, lambda v: 0 <= v < 1, "a probability 0 <= p < 1"),
    "drop": (_NUM, lambda v: 0 <= v < 1, "a probability 0 <= p < 1"),
    "unplug_at_s": SECONDS,
    "unplug_for_s": SECONDS,
    "clock_ppm": (_NUM, lambda v: _finite(v) and abs(v) < 100_000, "a number, |ppm| < 1e5"),
}
_STEP_KEYS: dict[str, _Check] = {
    "seconds": SECONDS,
    "force_n": FORCE,
    "ramp_s": SECONDS,
    "release_s": SECONDS,
    "drift_n_per_s": (
        _NUM,
        lambda v: _finite(v) and abs(v) <= MAX_SIM_FORCE_N,
        f"a number, |v| <= {MAX_SIM_FORCE_N:g}",
    ),
    "mass_kg": _upto(MAX_MASS_KG),
    "label": ((str,), lambda v: True, "a string"),
    "rating": RATING,
    "value": RATING,
    "rate_n_per_s": RATE,
    "threshold_n": FORCE,
    "max_n": FORCE,
    "rate_error_pct": _PCT_ERROR,
    "target_n": FORCE,
    "ramp_n_per_s": RATE,
    "feedback": ON_OFF,
}
_STEP_ALLOWED: dict[Action, tuple[set[str], set[str]]] = {  # (required, optional)
    Action.REST: ({"seconds"}, set()),
    Action.MARK: (set(), set()),
    Action.HOLD: (
        {"force_n", "seconds"},
        {"ramp_s", "release_s", "drift_n_per_s", "rating"},
    ),  # fmt: skip
    Action.PRESS: ({"force_n", "seconds"}, set()),
    Action.LOAD: ({"mass_kg", "seconds"}, set()),
    Action.SIGNAL: (set(), set()),
    Action.RATE: ({"value"}, set()),
    Action.PPT: (
        {"rate_n_per_s", "threshold_n"},
        {"release_s", "max_n", "rate_error_pct"},
    ),  # fmt: skip
    Action.TREATMENT: (set(), {"seconds"}),
    Action.ATTEMPT: ({"target_n", "ramp_n_per_s", "seconds", "feedback"}, {"release_s"}),
}
QUERY_KEYS: dict[str, _Check] = {
    **_DEVICE_KEYS, **_THERAPIST_KEYS, **_FAULT_KEYS,
    **{k: _PATIENT_KEYS[k] for k in _PATIENT_QUERY_KEYS},
}  # fmt: skip


def check_value(where: str, key: str, value: Any, check: _Check) -> Any:
    """Validate one value; returns it (ints widened to float where a float is expected)."""
    types, ok, what = check
    is_bool = isinstance(value, bool)
    if (is_bool and bool not in types) or not isinstance(value, types):
        raise ScenarioError(f"{where}: key '{key}': expected {what}, got {value!r}")
    if not ok(value):
        raise ScenarioError(f"{where}: key '{key}': expected {what}, got {value!r}")
    if float in types and isinstance(value, int | float):
        return float(value)
    return value


def _table(src: str, name: str, data: Any, keys: dict[str, _Check]) -> dict[str, Any]:
    where = f"{src}: [{name}]"
    if not isinstance(data, dict):
        raise ScenarioError(f"{where}: expected a table, got {data!r}")
    out = {}
    for key, value in data.items():
        if key not in keys:
            raise ScenarioError(f"{where}: unknown key '{key}' (known: {', '.join(keys)})")
        out[key] = check_value(where, key, value, keys[key])
    return out


def _step(src: str, n: int, data: Any) -> Step:
    where = f"{src}: step {n}"
    if not isinstance(data, dict):
        raise ScenarioError(f"{where}: expected a table, got {data!r}")
    if "action" not in data:
        raise ScenarioError(f"{where}: key 'action': missing")
    try:
        action = Action(data["action"])
    except (ValueError, TypeError):
        known = ", ".join(a.value for a in Action)
        raise ScenarioError(
            f"{where}: key 'action': unknown action {data['action']!r} (known: {known})"
        ) from None
    required, optional = _STEP_ALLOWED[action]
    allowed = required | optional | {"label"}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "action":
            continue
        if key not in allowed:
            raise ScenarioError(
                f"{where}: unknown key '{key}' for action '{action}' "
                f"(allowed: {', '.join(sorted(allowed))})"
            )
        values[key] = check_value(where, key, value, _STEP_KEYS[key])
    for key in sorted(required - values.keys()):
        raise ScenarioError(f"{where}: key '{key}': missing (action '{action}' needs it)")
    if action is Action.PRESS and values["seconds"] <= 0:
        raise ScenarioError(f"{where}: key 'seconds': a press needs a duration > 0")
    return Step(action=action, **values)


def parse_scenario(text: str, source: str, name: str) -> Scenario:
    """Parse and validate scenario TOML; ``source`` names the file in error messages."""
    try:
        data = tomllib.loads(text)
    except ValueError as exc:  # TOMLDecodeError, or an integer of more than 4300 digits
        raise ScenarioError(f"{source}: not valid TOML: {str(exc).split(';')[0]}") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ScenarioError(f"{source}: not valid TOML: nested too deeply") from None
    known = {"device", "therapist", "patient", "trainee", "faults", "steps", "name",
             "description"}  # fmt: skip
    for key in data:
        if key not in known:
            raise ScenarioError(f"{source}: unknown key '{key}' (known: {', '.join(known)})")
    for key in ("name", "description"):
        if key in data and not isinstance(data[key], str):
            raise ScenarioError(f"{source}: key '{key}': expected a string, got {data[key]!r}")
    device = DeviceSpec(**_table(source, "device", data.get("device", {}), _DEVICE_KEYS))
    therapist = TherapistSpec(
        **_table(source, "therapist", data.get("therapist", {}), _THERAPIST_KEYS)
    )
    faults = FaultSpec(**_table(source, "faults", data.get("faults", {}), _FAULT_KEYS))
    patient = PatientSpec(**_table(source, "patient", data.get("patient", {}), _PATIENT_KEYS))
    trainee = TraineeSpec(**_table(source, "trainee", data.get("trainee", {}), _TRAINEE_KEYS))
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ScenarioError(f"{source}: key 'steps': expected at least one [[steps]] table")
    steps = tuple(_step(source, i, s) for i, s in enumerate(raw_steps, start=1))
    return Scenario(
        name=data.get("name", name), source=source, device=device, therapist=therapist,
        faults=faults, steps=steps, description=data.get("description", ""), patient=patient,
        trainee=trainee,
    )  # fmt: skip


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A built-in scenario by name (``demo``, ``calibration``, ``stress``) or a TOML file."""
    text_name = str(name_or_path)
    builtin = BUILTIN_DIR / f"{text_name}.toml"
    if text_name and "/" not in text_name and "\\" not in text_name and builtin.is_file():
        return parse_scenario(builtin.read_text(encoding="utf-8"), f"builtin:{text_name}",
                              text_name)  # fmt: skip
    path = Path(name_or_path)
    if not path.is_file():
        raise ScenarioError(
            f"{text_name}: no such scenario file or built-in scenario "
            f"(built-ins: {', '.join(builtin_names())})"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"{path}: not valid TOML: not UTF-8 at byte offset {exc.start}"
        ) from None
    return parse_scenario(text, str(path), path.stem)
