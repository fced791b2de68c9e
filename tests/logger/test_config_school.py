"""``school_url``: the station's school library, a URL without a password."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logger.config import Config, config_to_toml, load_config, save_config
from logger.errors import BadInput

URL = "postgresql://tina@school-server/school"


def write(tmp_path, text: str):
    path = tmp_path / "cfg.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_url_is_kept_by_the_file_but_not_by_a_session(tmp_path):
    cfg = load_config(write(tmp_path, f'units = "N"\nschool_url = "{URL}"\n[limits]\nmax_n = 70\n'))
    assert cfg.school_url == URL and cfg.limits.max_n == 70
    assert "school_url" not in cfg.to_dict()  # what a session records and exports carry
    out = tmp_path / "saved.toml"
    save_config(cfg, out)
    assert load_config(out) == cfg
    assert load_config(write(tmp_path, "")).school_url is None
    assert "school_url" not in config_to_toml(Config())


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://tina:s3cret@school-server/school",
         "'postgresql://tina:***@school-server/school'"),
        ("postgres://tina@school/school?password=s3cret&sslmode=require",
         "'postgres://tina@school/school?password=***&sslmode=require'"),
    ],
)  # fmt: skip
def test_a_password_is_refused_in_one_line_naming_the_key(tmp_path, url, shown):
    path = write(tmp_path, f'school_url = "{url}"\n')
    with pytest.raises(BadInput) as info:
        load_config(path)
    text = str(info.value)
    assert text == (
        f"{path}: school_url = {shown}: holds a password: leave it out, the password comes "
        "from PGPASSFILE (~/.pgpass) or PGPASSWORD"
    )
    assert "s3cret" not in text


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ('""', "expected a postgresql://USER@HOST/DB URL (leave the key out for none)"),
        ("3", "expected a postgresql://USER@HOST/DB URL (leave the key out for none)"),
        ('"http://school-server/school"', "expected a postgresql://USER@HOST/DB URL"),
        ('"/var/lib/sessions.sqlite3"', "expected a postgresql://USER@HOST/DB URL"),
        ('"postgresql://tina@school-server:54x/school"', "bad URL (Port could not be cast"),
    ],
)
def test_anything_but_a_url_is_refused_naming_the_key(tmp_path, value, reason):
    path = write(tmp_path, f"school_url = {value}\n")
    with pytest.raises(BadInput) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: school_url = ")
    assert reason in str(info.value) and "\n" not in str(info.value)


@given(
    user=st.text(min_size=1, max_size=8),
    password=st.text(min_size=1, max_size=12),
    rest=st.text(max_size=20),
)
def test_no_password_ever_appears_in_a_refusal(user, password, rest):
    """Whatever the URL around it, a password typed into it is refused and never shown."""
    from urllib.parse import quote

    url = f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@host/{rest}"
    try:
        Config.from_dict({"school_url": url}, source="c.toml")
    except BadInput as exc:
        text = str(exc)
        assert text.startswith("c.toml: school_url = ") and "\n" not in text
        assert f":{quote(password, safe='')}@" not in text
        return
    pytest.fail(f"accepted a URL with a password: {url!r}")
