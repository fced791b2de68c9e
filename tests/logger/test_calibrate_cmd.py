"""`pressure-logger calibrate` end to end through the simulator (sim://, speed=0)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from calibration.models import Calibration
from calibration.tare import Tare
from logger.cli import main
from logger.link.acquisition import Acquisition, Collector
from logger.live import AUTO_ZERO_S
from logger.store import CalibrationStore
from tests.scenarios import DEVICE, HOLD, STACKED, TRUE_GAIN


def scenario(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def sim_url(tmp_path: Path, name: str, text: str) -> str:
    return f"sim://{tmp_path.name}-{name}?scenario={scenario(tmp_path, name, text)}&speed=0"


def stored_rows(db: Path) -> int:
    if not db.exists():
        return 0
    con = sqlite3.connect(db)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        if "calibrations" not in tables:
            return 0
        return con.execute("SELECT count(*) FROM calibrations").fetchone()[0]
    finally:
        con.close()


def hold_raw(url: str, until_s: float = 12.0) -> tuple[np.ndarray, np.ndarray, Calibration]:
    """Raw counts of a hold read over the wire, and the device's factory calibration."""
    heard = Collector()
    blocks = heard.blocks
    acq = Acquisition(url, heard, reconnect=False)
    acq.start()
    try:
        assert acq.wait_ready(10.0)
        ts, raws, t_last = [], [], 0.0
        while t_last < until_s:
            b = blocks.get(timeout=10.0)
            ts.append(b.t_s)
            raws.append(b.raw[:, 0])
            t_last = float(b.t_s[-1])
        ident = acq.identity
        assert ident is not None
        factory = Calibration.factory(ident.counts_per_n, ident.offset_counts)
    finally:
        acq.stop()
    return np.concatenate(ts), np.concatenate(raws), factory


def test_auto_calibration_then_a_30n_hold_reads_30n(tmp_path, db_path, capsys) -> None:
    """Issue 4 acceptance: factory gain 7.5 % off and zero off → calibrated reads 30 N
    within 0.5 %; with the factory calibration it reads ~7.5 % off."""
    url = sim_url(tmp_path, "stacked", STACKED)
    rc = main(["calibrate", "--port", url, "--masses-kg", "0,0.5,1,2", "--auto",
               "--db", str(db_path)])  # fmt: skip
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "stored calibration 1 for device SIM-ACC-0001" in out.out
    assert "residual_n" in out.out and "R²" in out.out
    assert out.out.count("\n    ") >= 4  # one residual row per mass
    assert "accepted 2 kg" in out.err

    stored = CalibrationStore(db_path).latest("SIM-ACC-0001")
    assert stored is not None and stored.source == "stored:1"
    assert stored.counts_per_n == pytest.approx(TRUE_GAIN, rel=0.002)

    t, raw, factory = hold_raw(sim_url(tmp_path, "hold", HOLD))
    plateau = (t > 3.0) & (t < 11.0)
    unloaded = t < 0.9
    calibrated_n = float(np.mean(stored.counts_to_n(raw[plateau])))
    assert calibrated_n == pytest.approx(30.0, rel=0.005)
    # a session zeroes at its start (sensor unloaded): the calibrated hold still reads 30 N,
    # the factory-calibrated one keeps its gain error, ~7.5 % (30/1.075 = 27.9 N)
    tared = Tare(stored)
    assert tared.zero_at_start(t[unloaded], raw[unloaded])
    assert float(np.mean(tared.counts_to_n(raw[plateau]))) == pytest.approx(30.0, rel=0.005)
    factory_tared = Tare(factory)
    assert factory_tared.zero_at_start(t[unloaded], raw[unloaded])
    factory_n = float(np.mean(factory_tared.counts_to_n(raw[plateau])))
    assert factory_n / 30.0 - 1.0 == pytest.approx(1 / 1.075 - 1, abs=0.005)
    # and without a zero the factory calibration is further off still (zero error too)
    untared_n = float(np.mean(factory.counts_to_n(raw[plateau])))
    assert untared_n / 30.0 - 1.0 == pytest.approx(1 / 1.075 - 1 - 6000 / 4300 / 30, abs=0.005)


def test_builtin_calibration_scenario(db_path, capsys) -> None:
    rc = main(["calibrate", "--port", "sim://cal-builtin?scenario=calibration&speed=0",
               "--masses-kg", "0,0.5,1,2", "--auto", "--db", str(db_path)])  # fmt: skip
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "model      linear" in out.out
    hist = CalibrationStore(db_path).history("SIM-CAL-0001")
    assert len(hist) == 1
    assert hist[0].masses_kg == [0.0, 0.5, 1.0, 2.0]
    assert hist[0].calibration.counts_per_n == pytest.approx(4000.0, rel=0.002)
    assert hist[0].nonlinearity_pct < 0.1
    assert hist[0].r2 > 0.99999
    # the simulated device has calibration memory: the linear fit is written into it
    assert "sent to the device's memory (STORE_CAL): 4000" in out.out


@pytest.mark.parametrize(
    ("masses", "needle"),
    [
        ("0", "at least 2 distinct masses"),
        ("0,0.5,0.5", "repeated"),
        ("0,-0.5", "negative"),
        ("0,half", "'half' (entry 2) is not a number"),
        ("0.5,1,2", "first mass is '0.5', must be 0"),
        ("1,0.5", "first mass is '1', must be 0"),
        ("0,1,0.5", "'0.5' (entry 3) is not more than '1' (entry 2)"),
        ("0,0.5,2,1", "'1' (entry 4) is not more than '2' (entry 3)"),
    ],
)
def test_bad_masses_exit_2_nothing_stored(db_path, capsys, masses: str, needle: str) -> None:
    """Stacked weights: the list starts at 0 (unloaded) and increases; refused before the
    device is opened, and no session library is created."""
    rc = main(["calibrate", "--port", "sim://cal-bad?scenario=calibration&speed=0",
               "--masses-kg", masses, "--auto", "--db", str(db_path)])  # fmt: skip
    out = capsys.readouterr()
    assert rc == 2
    assert needle in out.err
    assert len(out.err.strip().splitlines()) == 1
    assert "stored calibration" not in out.out
    assert not db_path.exists()


MISLABELLED = DEVICE + "\n[therapist]\ntremor_n = 0.0\n"
MISLABELLED += '\n[[steps]]\naction = "rest"\nseconds = 2.0\n'
MISLABELLED += "".join(
    f'\n[[steps]]\naction = "load"\nmass_kg = {m}\nseconds = 3.0\n' for m in (1.0, 1.5, 2.0)
)


def test_implausible_fit_exit_2_nothing_stored(tmp_path, db_path, capsys) -> None:
    """The list says 0,0.5,1,2 but the rig put 1, 1.5 and 2 kg on (a misplaced weight):
    the fit is printed, then refused with its reason; no library is created."""
    url = sim_url(tmp_path, "mislabelled", MISLABELLED)
    rc = main(["calibrate", "--port", url, "--masses-kg", "0,0.5,1,2", "--auto",
               "--db", str(db_path)])  # fmt: skip
    out = capsys.readouterr()
    assert rc == 2, out.err
    assert "residual_n" in out.out  # the user sees the fit that was refused
    assert "stored calibration" not in out.out
    last = out.err.strip().splitlines()[-1]
    assert "fit refused, nothing stored: R² 0.88" in last
    assert "non-linearity" in last and "worst at" in last
    assert not db_path.exists()


def test_implausible_fit_leaves_an_existing_library_alone(tmp_path, db_path, capsys) -> None:
    rc = main(["calibrate", "--port", "sim://cal-ok?scenario=calibration&speed=0",
               "--masses-kg", "0,0.5,1,2", "--auto", "--db", str(db_path)])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    url = sim_url(tmp_path, "mislabelled2", MISLABELLED.replace("SIM-ACC-0001", "SIM-CAL-0001"))
    rc = main(["calibrate", "--port", url, "--masses-kg", "0,0.5,1,2", "--auto",
               "--db", str(db_path)])  # fmt: skip
    assert rc == 2
    assert "fit refused" in capsys.readouterr().err
    hist = CalibrationStore(db_path).history("SIM-CAL-0001")
    assert [h.id for h in hist] == [1]  # the good one is still the one in use


def test_load_that_never_settles_exit_2_nothing_stored(tmp_path, db_path, capsys) -> None:
    wobbly = (
        DEVICE
        + """
[therapist]
tremor_n = 2.0

[[steps]]
action = "rest"
seconds = 2.0

[[steps]]
action = "hold"
force_n = 10.0
seconds = 30.0
"""
    )
    url = sim_url(tmp_path, "wobbly", wobbly)
    rc = main(["calibrate", "--port", url, "--masses-kg", "0,1", "--auto", "--timeout-s", "5",
               "--db", str(db_path)])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2
    assert "mass 1 kg (point 2 of 2): load never settled within 5 s" in err
    assert not db_path.exists()


def test_no_device_exit_1(db_path, capsys) -> None:
    rc = main(["calibrate", "--port", "/dev/does-not-exist-42", "--masses-kg", "0,1",
               "--auto", "--db", str(db_path)])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 1
    assert "does-not-exist-42" in err
    assert not db_path.exists()
    assert not db_path.with_name(db_path.name + "-wal").exists()


def test_unusable_db_refused_before_the_device(tmp_path, capsys) -> None:
    """A --db that could never take the result fails first, and nothing is created."""
    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("hello", encoding="utf-8")
    rc = main(["calibrate", "--port", "/dev/does-not-exist-42", "--masses-kg", "0,1",
               "--auto", "--db", str(not_sqlite)])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2
    assert "notes.txt: not an SQLite database" in err
    assert not_sqlite.read_text(encoding="utf-8") == "hello"
    under_a_file = not_sqlite / "sub" / "lib.sqlite3"
    rc = main(["calibrate", "--port", "/dev/does-not-exist-42", "--masses-kg", "0,1",
               "--auto", "--db", str(under_a_file)])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 1
    assert "cannot be created" in err and "does-not-exist-42" not in err
    directory = tmp_path / "adir"
    directory.mkdir()
    rc = main(["calibrate", "--port", "sim://x", "--masses-kg", "0,1", "--auto",
               "--db", str(directory)])  # fmt: skip
    assert rc == 2
    assert "not a file" in capsys.readouterr().err
    assert list(directory.iterdir()) == []


def test_db_in_a_new_directory_created_only_when_storing(tmp_path, capsys) -> None:
    db = tmp_path / "new" / "deeper" / "lib.sqlite3"
    rc = main(["calibrate", "--port", "/dev/does-not-exist-42", "--masses-kg", "0,1",
               "--auto", "--db", str(db)])  # fmt: skip
    assert rc == 1
    assert not (tmp_path / "new").exists()
    rc = main(["calibrate", "--port", "sim://cal-new?scenario=calibration&speed=0",
               "--masses-kg", "0,0.5,1,2", "--auto", "--db", str(db)])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    assert stored_rows(db) == 1


def test_bad_timeout_flag(db_path, capsys) -> None:
    rc = main(["calibrate", "--port", "sim://x", "--masses-kg", "0,1", "--window-s", "2",
               "--timeout-s", "1", "--db", str(db_path)])  # fmt: skip
    assert rc == 2
    assert "--timeout-s" in capsys.readouterr().err


def _cli(args: list[str], stdin: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    return subprocess.run(
        [sys.executable, "-m", "logger.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_guided_accepts_on_enter(tmp_path, db_path) -> None:
    """Enter for each mass (typed ahead here): each is accepted once it has settled."""
    url = sim_url(tmp_path, "guided", STACKED)
    proc = _cli(["calibrate", "--port", url, "--masses-kg", "0,0.5,1,2", "--db", str(db_path)],
                "\n\n\n\n")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "remove all weights" in proc.stderr
    assert "place 2 kg in total, then press Enter" in proc.stderr
    assert "stored calibration" in proc.stdout
    cal = CalibrationStore(db_path).latest("SIM-ACC-0001")
    assert cal is not None
    assert cal.counts_per_n == pytest.approx(TRUE_GAIN, rel=0.003)


def test_guided_input_ends_early_exit_2(tmp_path, db_path) -> None:
    url = sim_url(tmp_path, "guided-eof", STACKED)
    proc = _cli(["calibrate", "--port", url, "--masses-kg", "0,0.5,1,2", "--db", str(db_path)],
                "\n")  # fmt: skip
    assert proc.returncode == 2
    assert "input ended after" in proc.stderr
    assert "of 4 masses" in proc.stderr
    assert stored_rows(db_path) == 0


def _record_hold(tmp_path: Path, db: Path, name: str, capsys):
    """`pressure-logger record` of the 30 N hold scenario; returns the stored session."""
    from logger.store import SessionStore

    rc = main(["record", "--port", sim_url(tmp_path, name, HOLD), "--db", str(db)])
    out = capsys.readouterr()
    assert rc == 0, out.err
    sid = out.out.strip().splitlines()[-1]
    with SessionStore(db) as store:
        return store.load_session(sid), out.err


def test_record_uses_the_stored_calibration(tmp_path, capsys) -> None:
    """Issue 4 acceptance through `record`: after `calibrate --auto` the 30 N hold of the
    recorded session reads 30 N within 0.5 %; without calibrating it reads the factory's
    error (gain 7.5 % high → −7 %; the zero error is removed by the zero at start)."""
    calibrated_db = tmp_path / "calibrated.sqlite3"
    rc = main(["calibrate", "--port", sim_url(tmp_path, "stack", STACKED), "--masses-kg",
               "0,0.5,1,2", "--auto", "--db", str(calibrated_db)])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    capsys.readouterr()
    rec, err = _record_hold(tmp_path, calibrated_db, "hold-cal", capsys)
    assert "no stored calibration" not in err
    assert rec.meta.calibration.source == "stored:1"
    # zeroed at start, gain kept: an event from the block that completed the first 0.5 s
    [zero] = rec.zeros
    assert zero.source == "auto" and 0.0 <= zero.t_s <= AUTO_ZERO_S
    assert rec.meta.calibration.counts_per_n == pytest.approx(TRUE_GAIN, rel=0.002)
    assert len(rec.holds) == 1
    assert rec.holds[0].mean_n == pytest.approx(30.0, rel=0.005)

    factory_db = tmp_path / "factory.sqlite3"
    rec, err = _record_hold(tmp_path, factory_db, "hold-factory", capsys)
    assert "no stored calibration" in err
    # the unloaded first 0.5 s zeroed the sensor: what is left is the factory gain error
    assert rec.meta.calibration.source == "factory"
    assert [z.source for z in rec.zeros] == ["auto"]
    assert len(rec.holds) == 1
    expected_n = 30.0 / 1.075
    assert rec.holds[0].mean_n == pytest.approx(expected_n, rel=0.005)
    assert rec.holds[0].mean_n / 30.0 - 1.0 < -0.065


def test_linear_calibration_written_into_the_device(db_path, capsys, monkeypatch) -> None:
    """The simulated device reports EEPROM_CAL: it receives STORE_CAL with the stored fit
    and applies it (observed on the real simulator; its command handler is only wrapped)."""
    from firmware_protocol.sim.interface import SimDevice

    applied: list[tuple[float, int]] = []
    real = SimDevice._command

    def watched(self, msg, seq, mtype):  # noqa: ANN001, ANN202
        real(self, msg, seq, mtype)
        if type(msg).__name__ == "StoreCal":
            applied.append((self.cal_counts_per_n, self.cal_offset_counts))

    monkeypatch.setattr(SimDevice, "_command", watched)
    rc = main(["calibrate", "--port", "sim://cal-eeprom?scenario=calibration&speed=0",
               "--masses-kg", "0,0.5,1,2", "--auto", "--db", str(db_path)])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    stored = CalibrationStore(db_path).latest("SIM-CAL-0001")
    assert stored is not None
    assert len(applied) == 1
    assert applied[0][0] == pytest.approx(stored.counts_per_n, rel=1e-6)  # float32 on the wire
    assert applied[0][1] == round(stored.offset_counts)


def test_a_scenario_that_ends_before_the_masses_do_ends_calibrate(
    tmp_path, db_path, capsys, monkeypatch
) -> None:
    """The simulated device plays its whole script with masses still to come: calibrate
    says so in one line (exit 1) instead of waiting for samples that never come."""
    import logger.commands.calibrate as calibrate_cmd

    monkeypatch.setattr(calibrate_cmd, "NO_DATA_S", 0.5)
    short = DEVICE + '\n[[steps]]\naction = "rest"\nseconds = 3.0\n'
    url = sim_url(tmp_path, "short", short)
    rc = main(["calibrate", "--port", url, "--masses-kg", "0,0.5,1", "--auto",
               "--db", str(db_path)])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 1, err
    assert (
        err.strip()
        .splitlines()[-1]
        .endswith("played its whole scenario before calibration finished (1 of 3 masses)")
    )
    assert not db_path.exists()
