from __future__ import annotations

import json
import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calibration.models import Calibration
from logger.config import (
    MAX_FORCE_N,
    Config,
    HoldConfig,
    Limits,
    config_to_toml,
    load_config,
    parse_points_arg,
    save_config,
)
from logger.errors import BadInput
from logger.limits import device_limits
from logger.records import Point

FULL = """
units = "kgf"
contact_area_cm2 = 1.0

[holds]
onset_n = 6
release_n = 5.5
min_duration_s = 3.0

[limits]
warn_n = 30.0
max_n = 45.0
max_hold_s = 60

[[points]]
name = "Upper trapezius L"
warn_n = 35.0
max_n = 50.0
target_n = [25.0, 35.0]
target_hold_s = 60.0

[[points]]
name = "  Levator scapulae R "
"""


def write(tmp_path, text: str):
    path = tmp_path / "cfg.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_match_design():
    cfg = Config()
    assert cfg.units == "N"
    assert cfg.contact_area_cm2 is None
    assert cfg.holds == HoldConfig(onset_n=5.0, release_n=4.0, min_duration_s=2.0)
    assert cfg.limits == Limits(warn_n=40.0, max_n=60.0, max_hold_s=90.0)
    assert cfg.points == []


def test_empty_file_gives_defaults(tmp_path):
    assert load_config(write(tmp_path, "")) == Config()


def test_full_file(tmp_path):
    cfg = load_config(write(tmp_path, FULL))
    assert cfg.units == "kgf"
    assert cfg.contact_area_cm2 == 1.0
    assert cfg.holds == HoldConfig(6.0, 5.5, 3.0)
    assert isinstance(cfg.holds.onset_n, float)
    assert cfg.limits == Limits(30.0, 45.0, 60.0)
    assert cfg.points == [
        Point(0, "Upper trapezius L", 35.0, 50.0, (25.0, 35.0), 60.0),
        Point(1, "Levator scapulae R"),
    ]


def test_partial_tables_keep_other_defaults(tmp_path):
    cfg = load_config(write(tmp_path, "[limits]\nmax_n = 80\n"))
    assert cfg.limits == Limits(warn_n=40.0, max_n=80.0, max_hold_s=90.0)


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ('unit = "N"', "unit", "'N'"),
        ('units = "psi"', "units", "'psi'"),
        ("units = 3", "units", "3"),
        ("contact_area_cm2 = 0", "contact_area_cm2", "0"),
        ('contact_area_cm2 = "1"', "contact_area_cm2", "'1'"),
        ("contact_area_cm2 = true", "contact_area_cm2", "True"),
        ("contact_area_cm2 = nan", "contact_area_cm2", "nan"),
        ("[holds]\nonset = 5", "holds.onset", "5"),
        ("[holds]\nonset_n = -1", "holds.onset_n", "-1"),
        ("[holds]\nrelease_n = 6", "holds.release_n", "6.0"),
        ("[holds]\nmin_duration_s = 0", "holds.min_duration_s", "0"),
        ("holds = 3", "holds", "3"),
        ("[limits]\nwarn_n = 60", "limits.warn_n", "60.0"),
        ("[limits]\nmax_hold_s = -5", "limits.max_hold_s", "-5"),
        ("[limits]\nmax_hold = 5", "limits.max_hold", "5"),
        ("points = 3", "points", "3"),
        ('[[points]]\nname = ""', "points[0].name", "''"),
        ('[[points]]\nname = "   "', "points[0].name", "'   '"),
        ("[[points]]\nwarn_n = 3", "points[0].name", "None"),
        ('[[points]]\nname = "A"\n[[points]]\nname = 7', "points[1].name", "7"),
        ('[[points]]\nname = "A"\ncolour = "red"', "points[0].colour", "'red'"),
        ('[[points]]\nname = "A"\nwarn_n = 70', "points[0].warn_n", "70.0"),
        ('[[points]]\nname = "A"\nmax_n = 30', "points[0].max_n", "30.0"),
        ('[[points]]\nname = "A"\nwarn_n = 0', "points[0].warn_n", "0"),
        ('[[points]]\nname = "A"\ntarget_n = [35, 25]', "points[0].target_n", "[35, 25]"),
        ('[[points]]\nname = "A"\ntarget_n = [25, 25]', "points[0].target_n", "[25, 25]"),
        ('[[points]]\nname = "A"\ntarget_n = [25]', "points[0].target_n", "[25]"),
        ('[[points]]\nname = "A"\ntarget_n = 25', "points[0].target_n", "25"),
        ('[[points]]\nname = "A"\ntarget_n = [-1, 25]', "points[0].target_n", "-1"),
        ('[[points]]\nname = "A"\ntarget_n = ["a", 25]', "points[0].target_n", "'a'"),
        ('[[points]]\nname = "A"\ntarget_hold_s = 0', "points[0].target_hold_s", "0"),
        # beyond what any device could encode or any hand apply (docs/CONFIG.md)
        ("[limits]\nwarn_n = 1e6\nmax_n = 2e6", "limits.warn_n", "1000000.0"),
        ("[limits]\nmax_n = 1e6", "limits.max_n", "1000000.0"),
        ("[limits]\nmax_n = 2001", "limits.max_n", "2001"),
        ('[[points]]\nname = "A"\nmax_n = 1e300', "points[0].max_n", "1e+300"),
        ('[[points]]\nname = "A"\ntarget_n = [1, 1e9]', "points[0].target_n", "1000000000.0"),
        ("[holds]\nonset_n = 1e308", "holds.onset_n", "1e+308"),
        ("[holds]\nonset_n = inf", "holds.onset_n", "inf"),
        ("[limits]\nmax_hold_s = 1e300", "limits.max_hold_s", "1e+300"),
        ("[limits]\nmax_n = " + "9" * 400, "limits.max_n", "9" * 57 + "..."),
        ("contact_area_cm2 = 1e-300", "contact_area_cm2", "1e-300"),
        ("contact_area_cm2 = 1e6", "contact_area_cm2", "1000000.0"),
    ],
)
def test_bad_values_name_file_key_and_value(tmp_path, text, key, value):
    path = write(tmp_path, text)
    with pytest.raises(BadInput) as info:
        load_config(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: {key} = {value}:"), msg


@pytest.mark.parametrize(
    "text",
    [
        "units = " + "[" * 200 + "]" * 200,
        "units = " + "[" * 100_000 + "]" * 100_000,
        "x = " + "{a = " * 5000 + "1" + "}" * 5000,
        "[limits]\nmax_n = " + "9" * 5000,  # more digits than Python converts
    ],
)
def test_deeply_nested_or_huge_toml_is_one_line(tmp_path, text):
    path = write(tmp_path, text + "\n")
    with pytest.raises(BadInput) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


def test_the_largest_accepted_force_encodes_at_the_demo_calibration(tmp_path):
    path = write(tmp_path, f"[limits]\nwarn_n = {MAX_FORCE_N - 1}\nmax_n = {MAX_FORCE_N}\n")
    assert load_config(path).limits.max_n == MAX_FORCE_N


def test_toml_syntax_error_is_one_line(tmp_path):
    path = write(tmp_path, "units = \n")
    with pytest.raises(BadInput, match=r"invalid TOML.*line 1") as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(BadInput, match="cannot read config"):
        load_config(tmp_path / "nope.toml")


def test_not_utf8(tmp_path):
    path = tmp_path / "cfg.toml"
    path.write_bytes(b'units = "N\xff"\n')
    with pytest.raises(BadInput, match="invalid TOML: not UTF-8 at byte offset 10$"):
        load_config(path)


def test_to_dict_keys_are_the_toml_keys(tmp_path):
    cfg = load_config(write(tmp_path, FULL))
    d = cfg.to_dict()
    assert set(d) == {"units", "contact_area_cm2", "holds", "limits", "points"}
    assert d["points"][0] == {
        "name": "Upper trapezius L",
        "warn_n": 35.0,
        "max_n": 50.0,
        "target_n": [25.0, 35.0],
        "target_hold_s": 60.0,
    }
    assert d["points"][1] == {"name": "Levator scapulae R"}
    assert Config.from_dict(d) == cfg
    assert "contact_area_cm2" not in Config().to_dict()


def test_from_dict_validates_with_source_name():
    with pytest.raises(BadInput, match=r"^session 7: limits\.max_n = 0: must be > 0$"):
        Config.from_dict({"limits": {"max_n": 0}}, source="session 7")


def test_save_then_load_round_trip(tmp_path):
    src = write(tmp_path, FULL)
    cfg = load_config(src)
    out = tmp_path / "saved.toml"
    save_config(cfg, out)
    assert load_config(out) == cfg
    # no temporary left behind: exactly the source and the saved file
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([src.name, out.name])


def test_save_replaces_existing_file(tmp_path):
    out = write(tmp_path, "garbage that is not toml [[[")
    save_config(Config(), out)
    assert load_config(out) == Config()


names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20
).filter(lambda s: s.strip() == s and s != "")
pos = st.floats(min_value=1e-3, max_value=MAX_FORCE_N, allow_nan=False, allow_infinity=False)


@given(
    name_list=st.lists(names, max_size=4),
    area=st.none() | st.floats(min_value=0.01, max_value=1000.0),
    onset=pos,
    target=st.none() | st.tuples(pos, pos).filter(lambda w: w[0] < w[1]),
)
def test_toml_writer_round_trips_any_names_and_floats(name_list, area, onset, target):
    points = [Point(i, n, target_n=target) for i, n in enumerate(name_list)]
    cfg = Config(
        units="lbf",
        contact_area_cm2=area,
        holds=HoldConfig(onset_n=onset, release_n=onset, min_duration_s=2.0),
        limits=Limits(warn_n=MAX_FORCE_N - 1, max_n=MAX_FORCE_N, max_hold_s=90.0),
        points=points,
    )
    assert Config.from_dict(tomllib.loads(config_to_toml(cfg))) == cfg


def test_parse_points_arg():
    assert parse_points_arg("A; B ;C") == [Point(0, "A"), Point(1, "B"), Point(2, "C")]
    assert parse_points_arg("Only;") == [Point(0, "Only")]
    with pytest.raises(BadInput, match=r"empty point name at position 2 in 'A;;C'"):
        parse_points_arg("A;;C")
    with pytest.raises(BadInput, match="position 1"):
        parse_points_arg("")


def _toml(v: object) -> str:
    """TOML for a generated value (repr of inf/nan is TOML too)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return repr(v)


WILD_SCALAR = (
    st.floats()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([0, 1e300, -1e300, 1e-300, 2**31, 2**63, 1999.0, 2000.0, 2000.5])
    | st.floats(0.0, 100.0)
    | st.booleans()
    | st.text(max_size=10)
)
WILD = WILD_SCALAR | st.lists(WILD_SCALAR, max_size=3)
_TABLES = {"holds": ("onset_n", "release_n", "min_duration_s"),
           "limits": ("warn_n", "max_n", "max_hold_s")}  # fmt: skip
_POINT = ("name", "warn_n", "max_n", "target_n", "target_hold_s")


# the strategies are built once: one built per draw made hypothesis work out each one's
# properties again for every example
_TOP_KEYS = st.lists(st.sampled_from(["units", "contact_area_cm2"]), max_size=2, unique=True)
_KEYS_OF_TABLE = {
    table: st.lists(st.sampled_from(keys), max_size=3, unique=True)
    for table, keys in _TABLES.items()
}
_POINT_COUNT = st.integers(0, 2)
_POINT_KEYS = st.lists(st.sampled_from(_POINT[1:]), max_size=3, unique=True)


@st.composite
def wild_configs(draw) -> str:
    lines = [f"{k} = {_toml(draw(WILD))}" for k in draw(_TOP_KEYS)]
    for table, keys in _KEYS_OF_TABLE.items():
        chosen = draw(keys)
        if chosen:
            lines += [f"[{table}]", *(f"{k} = {_toml(draw(WILD))}" for k in chosen)]
    for i in range(draw(_POINT_COUNT)):
        lines += ["[[points]]", f'name = "P{i}"']
        for k in draw(_POINT_KEYS):
            lines.append(f"{k} = {_toml(draw(WILD))}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def gen_toml(tmp_path_factory):
    """One file the examples of a test each write whole before reading it."""
    return tmp_path_factory.mktemp("cfg") / "gen.toml"


@settings(max_examples=300)
@given(text=wild_configs())
def test_any_config_is_accepted_within_range_or_refused_in_one_line(gen_toml, text):
    """Whatever TOML says: one line naming the file, or a config whose every level is
    within range, so the device alarm of the demo sensor needs no clamping."""
    path = gen_toml
    path.write_text(text, encoding="utf-8")
    try:
        cfg = load_config(path)
    except BadInput as exc:
        assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc)
        return
    demo = Calibration.factory(4000.0, 120000)  # the built-in simulator's sensor
    for point in [None, *cfg.points]:
        warn_n = point.warn_n if point and point.warn_n is not None else cfg.limits.warn_n
        max_n = point.max_n if point and point.max_n is not None else cfg.limits.max_n
        assert 0 < warn_n < max_n <= MAX_FORCE_N
        assert device_limits(demo, warn_n, max_n)[1] is False
