"""The configuration in force for a session (docs/EXPORTS.md): display units, hold detection,
limits, the point plan, the PPT settings and the guided target profile; and the station's
own setting, the school library's address.

Every key of the TOML file is optional and falls back to the defaults below. Every key is
validated before anything else happens, so a malformed file is refused with one line naming
the file, the key (``points[2].target_n``; point numbers count from 0 like ``point_index``)
and the value at fault (:class:`logger.errors.BadInput`, exit code 2).

``Config.to_dict()`` is what a session records as its configuration and what the JSON
export carries; ``Config.from_dict()`` reads it back with the same validation. The
station's own keys (:data:`STATION_KEYS`: ``school_url``) are the file's, not a session's:
``to_dict()`` leaves them out, the TOML file keeps them.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import BadInput
from .files import atomic_write, private_dir
from .records import Point

UNITS = ("N", "kgf", "lbf")
# Sanity bounds, so that every accepted value means something physical (docs/CONFIG.md):
MAX_FORCE_N = 2000.0  # ≈ 204 kgf: far beyond any hand-applied pressure
MAX_DURATION_S = 86400.0  # one day
AREA_RANGE_CM2 = (0.01, 1000.0)


@dataclass(slots=True)
class HoldConfig:
    """A hold starts when force rises through ``onset_n`` and ends when it falls through
    ``release_n`` (hysteresis: ``release_n <= onset_n``); shorter contacts are presses."""

    onset_n: float = 5.0
    release_n: float = 4.0
    min_duration_s: float = 2.0


@dataclass(slots=True)
class Limits:
    """Session-wide alert levels; a point may override ``warn_n`` and ``max_n``."""

    warn_n: float = 40.0
    max_n: float = 60.0
    max_hold_s: float = 90.0


@dataclass(slots=True)
class PptConfig:
    """``[ppt]``: pressure-pain-threshold algometry (docs/PROTOCOLS.md). The target rate is
    ``rate_n_per_s`` when given, else ``rate_kpa_per_s`` on the contact area."""

    rate_kpa_per_s: float = 50.0
    rate_n_per_s: float | None = None
    tolerance_pct: float = 20.0  # a trial whose mean rate strays beyond ± this is flagged
    trials: int = 3  # per point and round
    drop_first: bool = False  # the first trial of each point and round: familiarisation
    exclude_stray: bool = True  # flagged trials are left out of the point's mean


PROFILE_KINDS = ("trapezoid", "impulses")


@dataclass(frozen=True, slots=True)
class Profile:
    """``[profile]``: the guided target profile (logger/guided.py draws and scores it).

    ``trapezoid``: ``repeats`` cycles of a linear ramp 0 → ``force_n`` over ``ramp_s``, a
    plateau of ``plateau_s``, a linear release over ``release_s`` and ``rest_s`` at 0.
    ``impulses``: ``repeats`` triangles 0 → ``force_n`` → 0 of ``impulse_s`` each, one
    every ``interval_s``. ``tolerance_n`` is the half-width of the band drawn and scored.
    """

    kind: str = "trapezoid"
    force_n: float = 30.0
    ramp_s: float = 3.0
    plateau_s: float = 10.0
    release_s: float = 2.0
    rest_s: float = 5.0
    repeats: int = 3
    impulse_s: float = 1.0
    interval_s: float = 3.0
    tolerance_n: float = 3.0

    @property
    def period_s(self) -> float:
        """One cycle: ramp, plateau, release and rest; or one impulse's interval."""
        if self.kind == "impulses":
            return self.interval_s
        return self.ramp_s + self.plateau_s + self.release_s + self.rest_s

    @property
    def duration_s(self) -> float:
        """The whole profile, the rest after the last cycle included."""
        return self.repeats * self.period_s

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (a ``ProtocolEvent(PROFILE).data`` and the ``[profile]`` table)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(
        cls, d: Mapping[str, Any], source: str = "<profile>", prefix: str = ""
    ) -> Profile:
        """Validate ``d`` like the ``[profile]`` table; errors name ``source`` and the key
        (``prefix`` + key)."""
        return _parse_profile(source, prefix, d)

    @classmethod
    def from_config(cls, config: Config) -> Profile | None:
        """The configured profile (``None`` when the file has no ``[profile]``)."""
        return config.profile


@dataclass(slots=True)
class Config:
    units: str = "N"
    contact_area_cm2: float | None = None
    holds: HoldConfig = field(default_factory=HoldConfig)
    limits: Limits = field(default_factory=Limits)
    points: list[Point] = field(default_factory=list)
    # the station's school library (docs/CONFIG.md): never part of a session's record
    school_url: str | None = None
    lsl: bool = False  # publish each connected device on LSL (logger/lsl.py)
    ppt: PptConfig = field(default_factory=PptConfig)
    profile: Profile | None = None  # None: no guided profile configured

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/TOML-able dict with exactly the keys of docs/CONFIG.md, but the
        station's own (``school_url``): what a session records.

        Unset optional keys are left out (so ``from_dict(to_dict())`` round-trips the
        session's part).
        """
        d: dict[str, Any] = {"units": self.units}
        if self.contact_area_cm2 is not None:
            d["contact_area_cm2"] = self.contact_area_cm2
        d["holds"] = dataclasses.asdict(self.holds)
        d["limits"] = dataclasses.asdict(self.limits)
        d["points"] = [_point_to_dict(p) for p in self.points]
        if self.ppt != PptConfig():  # left out at the defaults, like the file may leave it
            d["ppt"] = {k: v for k, v in dataclasses.asdict(self.ppt).items() if v is not None}
        if self.profile is not None:
            d["profile"] = self.profile.to_dict()
        return d

    @classmethod
    def from_dict(
        cls, d: Mapping[str, Any], source: str = "<config>", *, ranged: bool = True
    ) -> Config:
        """Validate ``d`` like a config file; ``source`` names it in error messages.

        ``ranged=False`` skips the upper bounds (:data:`MAX_FORCE_N` …) for a configuration
        a session stored when it was recorded: re-deriving an old session never refuses
        what was accepted then."""
        return _parse(d, source, ranged)


def _point_to_dict(p: Point) -> dict[str, Any]:
    d: dict[str, Any] = {"name": p.name}
    if p.warn_n is not None:
        d["warn_n"] = p.warn_n
    if p.max_n is not None:
        d["max_n"] = p.max_n
    if p.target_n is not None:
        d["target_n"] = [p.target_n[0], p.target_n[1]]
    if p.target_hold_s is not None:
        d["target_hold_s"] = p.target_hold_s
    return d


# ---------------------------------------------------------------------------- validation

STATION_KEYS = ("school_url", "lsl")
_TOP_KEYS = ("units", "contact_area_cm2", "holds", "limits", "points", "ppt", "profile",
             *STATION_KEYS)  # fmt: skip
_HOLD_KEYS = ("onset_n", "release_n", "min_duration_s")
_LIMIT_KEYS = ("warn_n", "max_n", "max_hold_s")
_POINT_KEYS = ("name", "warn_n", "max_n", "target_n", "target_hold_s")
_PPT_KEYS = tuple(f.name for f in dataclasses.fields(PptConfig))
_PROFILE_KEYS = tuple(f.name for f in dataclasses.fields(Profile))
MAX_RATE_N_PER_S = 200.0  # far beyond any hand-applied loading rate
MAX_COUNT = 100  # trials, repeats


def _fail(source: str, key: str, value: Any, reason: str) -> BadInput:
    return BadInput(f"{source}: {key} = {_show(value)}: {reason}")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_keys(source: str, prefix: str, table: Any, allowed: tuple[str, ...]) -> None:
    if not isinstance(table, Mapping):
        raise _fail(source, prefix.rstrip("."), table, "expected a table")
    for key in table:
        if key not in allowed:
            raise _fail(
                source,
                f"{prefix}{key}",
                table[key],
                f"unknown key (allowed: {', '.join(allowed)})",
            )


def _number(
    source: str,
    key: str,
    value: Any,
    *,
    positive: bool = True,
    most: float | None = None,
    ranged: bool = True,
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(source, key, value, "expected a number")
    try:
        x = float(value)
    except OverflowError:  # a TOML integer beyond any float
        x = math.inf
    if not math.isfinite(x):
        raise _fail(source, key, value, "expected a finite number")
    if positive and x <= 0:
        raise _fail(source, key, value, "must be > 0")
    if not positive and x < 0:
        raise _fail(source, key, value, "must be >= 0")
    if most is None:  # units in names: `_s` keys are durations, the others forces
        most = MAX_DURATION_S if key.endswith("_s") else MAX_FORCE_N
    if ranged and x > most:
        raise _fail(source, key, value, f"must be <= {most:g}")
    return x


def _count(source: str, key: str, value: Any, most: int = MAX_COUNT) -> int:
    """A whole number 1 … ``most`` (trials, repeats)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(source, key, value, "expected a whole number")
    if not 1 <= value <= most:
        raise _fail(source, key, value, f"expected a whole number from 1 to {most}")
    return value


def _flag(source: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(source, key, value, "expected true or false")
    return value


def _parse_ppt(source: str, t: Any, num: Callable[..., float] = _number) -> PptConfig:
    _check_keys(source, "ppt.", t, _PPT_KEYS)
    ppt = PptConfig()
    for key in ("rate_kpa_per_s", "rate_n_per_s"):
        if key in t:
            most = MAX_RATE_N_PER_S * (10.0 if "kpa" in key else 1.0)
            setattr(ppt, key, num(source, f"ppt.{key}", t[key], most=most))
    if "tolerance_pct" in t:
        ppt.tolerance_pct = num(source, "ppt.tolerance_pct", t["tolerance_pct"], most=100.0)
    if "trials" in t:
        ppt.trials = _count(source, "ppt.trials", t["trials"])
    for key in ("drop_first", "exclude_stray"):
        if key in t:
            setattr(ppt, key, _flag(source, f"ppt.{key}", t[key]))
    if ppt.drop_first and ppt.trials < 2:
        raise _fail(source, "ppt.trials", ppt.trials, "must be >= 2 with drop_first = true")
    return ppt


def _parse_profile(
    source: str, prefix: str, t: Any, num: Callable[..., float] = _number
) -> Profile:
    _check_keys(source, prefix, t, _PROFILE_KEYS)
    values: dict[str, Any] = {}
    if "kind" in t:
        if t["kind"] not in PROFILE_KINDS:
            raise _fail(source, f"{prefix}kind", t["kind"],
                        f"expected one of {', '.join(PROFILE_KINDS)}")  # fmt: skip
        values["kind"] = t["kind"]
    for key in _PROFILE_KEYS:
        if key == "kind" or key not in t:
            continue
        if key == "repeats":
            values[key] = _count(source, f"{prefix}repeats", t[key])
        else:  # no plateau (a triangle) or no rest may be asked for; ramps take time
            zero_ok = key in ("plateau_s", "rest_s")
            values[key] = num(source, f"{prefix}{key}", t[key], positive=not zero_ok)
    profile = Profile(**values)
    if profile.kind == "impulses" and profile.interval_s < profile.impulse_s:
        raise _fail(source, f"{prefix}interval_s", profile.interval_s,
                    f"must be >= {prefix}impulse_s ({profile.impulse_s})")  # fmt: skip
    if profile.tolerance_n >= profile.force_n:
        raise _fail(source, f"{prefix}tolerance_n", profile.tolerance_n,
                    f"must be < {prefix}force_n ({profile.force_n})")  # fmt: skip
    return profile


def _parse(d: Mapping[str, Any], source: str, ranged: bool = True) -> Config:
    num = functools.partial(_number, ranged=ranged)
    _check_keys(source, "", d, _TOP_KEYS)
    cfg = Config()
    if "units" in d:
        units = d["units"]
        if not isinstance(units, str) or units not in UNITS:
            raise _fail(source, "units", units, f"expected one of {', '.join(UNITS)}")
        cfg.units = units
    if "contact_area_cm2" in d:
        area = num(source, "contact_area_cm2", d["contact_area_cm2"], most=AREA_RANGE_CM2[1])
        if ranged and area < AREA_RANGE_CM2[0]:
            raise _fail(source, "contact_area_cm2", area, f"must be >= {AREA_RANGE_CM2[0]:g}")
        cfg.contact_area_cm2 = area

    for name, keys in (("holds", _HOLD_KEYS), ("limits", _LIMIT_KEYS)):
        if name in d:
            t = d[name]
            _check_keys(source, f"{name}.", t, keys)
            for key in keys:
                if key in t:
                    setattr(getattr(cfg, name), key, num(source, f"{name}.{key}", t[key]))
    if cfg.holds.release_n > cfg.holds.onset_n:
        raise _fail(
            source,
            "holds.release_n",
            cfg.holds.release_n,
            f"must be <= holds.onset_n ({cfg.holds.onset_n})",
        )
    if cfg.limits.warn_n >= cfg.limits.max_n:
        raise _fail(
            source,
            "limits.warn_n",
            cfg.limits.warn_n,
            f"must be < limits.max_n ({cfg.limits.max_n})",
        )

    if "points" in d:
        points = d["points"]
        if not isinstance(points, list):
            raise _fail(source, "points", points, "expected an array of tables ([[points]])")
        cfg.points = [_parse_point(source, i, p, cfg.limits, num) for i, p in enumerate(points)]
    if "school_url" in d:
        cfg.school_url = _school_url(source, d["school_url"])
    if "lsl" in d:
        cfg.lsl = _flag(source, "lsl", d["lsl"])
    if "ppt" in d:
        cfg.ppt = _parse_ppt(source, d["ppt"], num)
    if "profile" in d:
        cfg.profile = _parse_profile(source, "profile.", d["profile"], num)
    return cfg


def _school_url(source: str, value: Any) -> str:
    """``school_url``: a ``postgresql://`` URL libpq can parse, without a password
    (credentials come from PGPASSFILE or PGPASSWORD, never from this file). A refused
    value is shown without its password."""
    key = "school_url"
    if not isinstance(value, str) or not value.strip():
        raise _fail(source, key, value, "expected a postgresql://USER@HOST/DB URL "
                                        "(leave the key out for none)")  # fmt: skip
    from .store.open import is_url

    url = value.strip()
    if not is_url(url):
        raise _fail(source, key, url, "expected a postgresql://USER@HOST/DB URL")
    from .store.pg_connect import check_url, redacted  # psycopg: only when the key is set

    try:
        check_url(url)
    except BadInput as exc:  # "URL: bad URL (why)", the URL without a password
        raise _fail(source, key, redacted(url),
                    str(exc).removeprefix(f"{redacted(url)}: ")) from None  # fmt: skip
    import psycopg

    if psycopg.conninfo.conninfo_to_dict(url).get("password") is not None:
        raise _fail(source, key, redacted(url), "holds a password: leave it out, the "
                    "password comes from PGPASSFILE (~/.pgpass) or PGPASSWORD")  # fmt: skip
    return url


def _parse_point(
    source: str, i: int, t: Any, limits: Limits, num: Callable[..., float] = _number
) -> Point:
    prefix = f"points[{i}]."
    _check_keys(source, prefix, t, _POINT_KEYS)
    if "name" not in t:
        raise _fail(source, f"{prefix}name", None, "missing (every point needs a name)")
    name = t["name"]
    if not isinstance(name, str) or not name.strip():
        raise _fail(source, f"{prefix}name", name, "expected a non-empty string")
    point = Point(index=i, name=name.strip())
    if "warn_n" in t:
        point.warn_n = num(source, f"{prefix}warn_n", t["warn_n"])
    if "max_n" in t:
        point.max_n = num(source, f"{prefix}max_n", t["max_n"])
    warn_n = point.warn_n if point.warn_n is not None else limits.warn_n
    max_n = point.max_n if point.max_n is not None else limits.max_n
    if warn_n >= max_n:
        key = "warn_n" if point.warn_n is not None else "max_n"
        value = point.warn_n if point.warn_n is not None else point.max_n
        raise _fail(
            source, f"{prefix}{key}", value, f"warn level {warn_n} must be < max level {max_n}"
        )
    if "target_n" in t:
        window = t["target_n"]
        key = f"{prefix}target_n"
        if not isinstance(window, list | tuple) or len(window) != 2:
            raise _fail(source, key, window, "expected [low, high]")
        lo = num(source, key, window[0], positive=False)
        hi = num(source, key, window[1], positive=False)
        if not lo < hi:
            raise _fail(source, key, window, "expected [low, high] with low < high")
        point.target_n = (lo, hi)
    if "target_hold_s" in t:
        point.target_hold_s = num(source, f"{prefix}target_hold_s", t["target_hold_s"])
    return point


# ---------------------------------------------------------------------------- file I/O


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a TOML config file; raise BadInput naming file, key and value."""
    source = os.fspath(path)
    return _parse(read_toml(source, "config"), source)


def read_toml(source: str, what: str) -> dict[str, Any]:
    """The TOML file ``source`` as a dict; BadInput in one line naming the file when it
    cannot be read (``what`` names the kind of file) or is not valid TOML."""
    try:
        data = Path(source).read_bytes()
    except OSError as exc:
        raise BadInput(f"{source}: cannot read {what}: {exc.strerror or exc}") from exc
    return parse_toml(data, source)


def parse_toml(data: bytes | str, source: str) -> dict[str, Any]:
    """TOML text (bytes: UTF-8) as a dict; BadInput in one line naming ``source``."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{source}: invalid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise BadInput(f"{source}: invalid TOML: not UTF-8 at byte offset {exc.start}") from exc
    except ValueError as exc:  # tomllib's own: an integer of more than 4300 digits
        raise BadInput(f"{source}: invalid TOML: {str(exc).split(';')[0]}") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise BadInput(f"{source}: invalid TOML: nested too deeply") from None


def _toml_str(s: str) -> str:
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_value(v: Any) -> str:
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return repr(v)
    return repr(float(v))


def config_to_toml(cfg: Config) -> str:
    """The TOML text of ``cfg`` (flat keys, tables and ``[[points]]`` only)."""
    d = cfg.to_dict()
    lines = [f"units = {_toml_value(d['units'])}"]
    if "contact_area_cm2" in d:
        lines.append(f"contact_area_cm2 = {_toml_value(d['contact_area_cm2'])}")
    for table in ("holds", "limits", "ppt", "profile"):
        if table in d:
            lines.append("")
            lines.append(f"[{table}]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in d[table].items())
    top = 1 + ("contact_area_cm2" in d)  # station keys are top-level: before the first table
    if cfg.lsl:
        lines.insert(top, "lsl = true")
    if cfg.school_url is not None:
        lines.insert(top, f"school_url = {_toml_value(cfg.school_url)}")
    for point in d["points"]:
        lines.append("")
        lines.append("[[points]]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in point.items())
    return "\n".join(lines) + "\n"


def save_config(cfg: Config, path: str | os.PathLike[str]) -> None:
    """Write ``cfg`` as TOML atomically (temp file in the same directory, then rename),
    mode 0600; missing directories are created 0700."""
    text = config_to_toml(cfg)
    private_dir(Path(path).parent)
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")


def parse_points_arg(text: str) -> list[Point]:
    """``record --points "A;B;C"`` → points 0..n-1 without per-point overrides.

    A trailing ``;`` is tolerated; any other empty name is refused.
    """
    parts = [p.strip() for p in text.split(";")]
    if parts and parts[-1] == "" and len(parts) > 1:
        parts.pop()
    for i, name in enumerate(parts):
        if not name:
            raise BadInput(f"--points: empty point name at position {i + 1} in {text!r}")
    return [Point(index=i, name=name) for i, name in enumerate(parts)]
