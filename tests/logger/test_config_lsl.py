"""The ``lsl`` station key: a boolean, kept by the file, refused in one line otherwise."""

from __future__ import annotations

import pytest

from logger.config import Config, load_config, save_config
from logger.errors import BadInput


@pytest.mark.parametrize("value", [True, False])
def test_lsl_round_trips_through_the_file(tmp_path, value):
    path = tmp_path / "c.toml"
    save_config(Config(lsl=value, school_url=None), path)
    assert load_config(path).lsl is value


@pytest.mark.parametrize("text", ["1", '"yes"', "0", "[]"])
def test_lsl_that_is_not_a_boolean_is_refused_naming_the_key(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(f"lsl = {text}\n")
    with pytest.raises(BadInput, match=r"c\.toml: lsl = .*: expected true or false"):
        load_config(path)
