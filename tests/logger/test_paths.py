"""logger.paths: one answer for every command about where the user's files are."""

from __future__ import annotations

import pytest

from logger.paths import DEMO_CONFIG, default_config_path, default_db_path, plays_demo


@pytest.mark.parametrize(
    ("port", "demo"),
    [(None, True), ("sim://", True), ("sim://x?scenario=demo&speed=0", True),
     ("sim://x?scenario=stress", False), ("/dev/ttyACM0", False), ("socket://h:1", False)],
)  # fmt: skip
def test_plays_demo(port, demo):
    assert plays_demo(port) is demo


def test_config_and_library_live_in_the_platforms_user_dirs(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "c"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "d"))
    config, db = default_config_path(), default_db_path()
    assert config.name == "config.toml" and db.name == "sessions.sqlite3"
    assert config.parent.name == db.parent.name == "pressure-logger"
    monkeypatch.setenv("PRESSURE_LOGGER_DB", str(tmp_path / "lib.sqlite3"))
    assert default_db_path() == tmp_path / "lib.sqlite3"
    assert DEMO_CONFIG.is_file()
