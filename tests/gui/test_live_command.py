"""`pressure-logger [gui] …`: a bad configuration is refused before any window opens."""

from __future__ import annotations

import pytest

from logger.cli import build_parser, main
from logger.paths import startup_config


@pytest.mark.parametrize("argv_head", [["gui"], []])
def test_bad_config_exits_2_naming_file_and_key(tmp_path, capsys, argv_head):
    bad = tmp_path / "bad.toml"
    bad.write_text("[limits]\nwarn_n = 70.0\nmax_n = 60.0\n")
    assert main([*argv_head, "--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert str(bad) in err and "limits.warn_n" in err


def test_gui_flags_parse():
    args = build_parser().parse_args(
        ["gui", "--port", "sim://?scenario=demo", "--db", "x.sqlite3", "--config", "c.toml"]
    )
    assert (args.port, str(args.db), str(args.config)) == (
        "sim://?scenario=demo",
        "x.sqlite3",
        "c.toml",
    )


def test_missing_config_file_means_defaults(tmp_path):
    config = startup_config("/dev/ttyACM0", tmp_path / "new.toml")
    assert config.limits.warn_n == 40.0 and not (tmp_path / "new.toml").exists()
