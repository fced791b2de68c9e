"""`pressure-logger review`: the window opens on a real library; bad ids are refused first."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from logger.cli import main


def _record(db_path, capsys) -> str:
    assert main(["record", "--port", "sim://rv?scenario=demo&speed=0", "--db", str(db_path),
                 "--duration", "20"]) == 0  # fmt: skip
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_review_refuses_an_unknown_session_before_opening_a_window(db_path, capsys):
    _record(db_path, capsys)
    assert main(["review", "20000101-000000-beef", "--db", str(db_path)]) == 2
    assert "20000101-000000-beef" in capsys.readouterr().err
    assert main(["review", "--db", str(db_path.with_name("missing.sqlite3"))]) == 2


@pytest.mark.parametrize("extra", [[], ["--deidentify"]])
def test_review_opens_a_session_and_keeps_running(db_path, capsys, extra):
    sid = _record(db_path, capsys)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.Popen(
        [sys.executable, "-m", "logger.cli", "review", sid, "--db", str(db_path), *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(1.5)
        assert proc.poll() is None, proc.communicate()[1]  # the window is up, not crashed
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "Traceback" not in err
