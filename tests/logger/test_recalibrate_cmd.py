"""`pressure-logger recalibrate`: a past session re-derived with a later calibration."""

from __future__ import annotations

import dataclasses

import pytest

from logger.cli import main
from logger.config import Config
from logger.errors import BadInput
from logger.recalibrate import recompute_events
from logger.store import SessionStore
from tests.logger.test_calibrate_cmd import sim_url
from tests.logger.test_store import fill, make_meta
from tests.scenarios import HOLD, STACKED


def _record(tmp_path, db, capsys) -> str:
    assert main(["record", "--port", sim_url(tmp_path, "hold", HOLD), "--db", str(db)]) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_a_session_recorded_before_calibrating_is_corrected_afterwards(tmp_path, db_path, capsys):
    sid = _record(tmp_path, db_path, capsys)
    store = SessionStore(db_path)
    t_raw_before, raw_before = store.load_samples(sid)
    off = store.load_session(sid).holds[0].mean_n
    assert abs(off / 30.0 - 1) > 0.05  # factory gain 7.5 % high, zero taken at start

    port = sim_url(tmp_path, "stacked", STACKED)
    assert main(["calibrate", "--port", port, "--masses-kg", "0,0.5,1,2", "--auto",
                 "--db", str(db_path)]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["recalibrate", sid, "--db", str(db_path)]) == 0
    out = capsys.readouterr().out
    assert "holds: 1" in out

    rec = SessionStore(db_path).load_session(sid)
    assert rec.meta.calibration.source == "stored:1"
    assert rec.holds[0].mean_n == pytest.approx(30.0, rel=0.005)
    t_raw_after, raw_after = SessionStore(db_path).load_samples(sid)
    assert (raw_after == raw_before).all() and (t_raw_after == t_raw_before).all()


def test_unknown_session_or_calibration_is_bad_input(tmp_path, db_path, capsys):
    sid = _record(tmp_path, db_path, capsys)
    assert main(["recalibrate", "19990101-000000-dead", "--db", str(db_path)]) == 2
    assert main(["recalibrate", sid, "--calibration", "42", "--db", str(db_path)]) == 2
    assert main(["recalibrate", sid, "--db", str(db_path)]) == 2  # none stored yet
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "19990101-000000-dead" in err[0] and "42" in err[1]


def test_a_stored_config_beyond_todays_ranges_is_still_re_derived(db_path):
    """A session recorded with limits of 9000 N (accepted then) is not refused now that a
    config file is limited to 2000 N: what was recorded stays re-derivable."""
    meta = dataclasses.replace(make_meta(), config={"limits": {"warn_n": 5000, "max_n": 9000}})
    with SessionStore(db_path) as store:
        sid = store.create_session(meta)
        fill(store, sid, 0.5)
        holds, alerts = recompute_events(store, sid)
    assert alerts == []
    with pytest.raises(BadInput, match=r"limits\.warn_n = 5000: must be <= 2000"):
        Config.from_dict(meta.config, source="file")
