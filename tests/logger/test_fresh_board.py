"""A freshly flashed board (no calibration in its EEPROM, ``counts_per_n = 0.0``) is a
first-class state: `record` keeps its raw counts and says plainly that forces are
uncalibrated, `calibrate --auto` calibrates it and writes the result into the device
(STORE_CAL), and the next connection reports it. Played by the simulator's ``erased`` key."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import serial

from calibration.models import UNCALIBRATED, Calibration
from firmware_protocol.framing import FrameDecoder, encode_frame
from firmware_protocol.messages import Hello, Identity
from logger.cli import main
from logger.config import Config
from logger.live import LiveSession, wait_until
from logger.store import CalibrationStore, SessionStore
from tests.scenarios import DEVICE_UID, STACKED, TRUE_GAIN, TRUE_ZERO


def erased_url(tmp_path: Path, name: str, text: str, *, loop: bool = False) -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return f"sim://{tmp_path.name}-{name}?scenario={path}&speed=0&erased=1&loop={int(loop)}"


def identity_of(url: str) -> Identity:
    """What the board says about itself on a new connection (HELLO → IDENTITY)."""
    with serial.serial_for_url(url, timeout=0.05) as port:
        decoder = FrameDecoder()
        port.write(encode_frame(Hello(), 0))
        for _ in range(200):
            for frame in decoder.feed(port.read(max(1, port.in_waiting))):
                if isinstance(frame.msg, Identity):
                    return frame.msg
    raise AssertionError(f"no IDENTITY from {url}")


def test_record_keeps_raw_counts_and_states_forces_are_uncalibrated(tmp_path, db_path, capsys):
    url = erased_url(tmp_path, "rec", STACKED)
    assert main(["record", "--port", url, "--duration", "5", "--db", str(db_path)]) == 0
    out = capsys.readouterr()
    assert "device not calibrated: recording raw counts only, no forces" in out.err
    assert "pressure-logger calibrate --port" in out.err
    sid = out.out.split()[-1]
    store = SessionStore(db_path)
    try:
        meta = store.load_session(sid).meta
        assert meta.calibration.source == UNCALIBRATED
        assert meta.calibration.counts_per_n == 0.0
        t_s, force_n = store.load_forces(sid)
        assert len(t_s) == 5000
        assert np.isnan(force_n).all()  # never a made-up number that looks calibrated
    finally:
        store.close()
    # the raw counts are all there: a later calibration turns them into forces
    csv = tmp_path / "s.csv"
    assert main(["export", sid, "--format", "csv", "--out", str(csv), "--db", str(db_path)]) == 0
    rows = csv.read_text().splitlines()
    assert rows[0] == "t_s,force_n,raw" and len(rows) == 5001
    raw = np.array([int(r.split(",")[2]) for r in rows[1:]])
    assert abs(np.median(raw[:1500]) - TRUE_ZERO) < 200  # unloaded, then 0.5 kg from 2 s
    assert np.median(raw[2500:4500]) == pytest.approx(TRUE_ZERO + 0.5 * 9.80665 * TRUE_GAIN, 5e-3)


def test_calibrate_auto_on_a_fresh_board_stores_it_in_the_device(tmp_path, db_path, capsys):
    url = erased_url(tmp_path, "cal", STACKED)
    assert identity_of(url).counts_per_n == 0.0  # erased: none stored
    assert main(["record", "--port", url, "--duration", "2", "--db", str(db_path)]) == 0
    before = capsys.readouterr().out.split()[-1]  # a session recorded before calibrating
    rc = main(["calibrate", "--port", url, "--masses-kg", "0,0.5,1,2", "--auto",
               "--db", str(db_path)])  # fmt: skip
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "has no calibration stored (a fresh board)" in out.err
    assert "sent to the device's memory (STORE_CAL)" in out.out
    stored = CalibrationStore(db_path).latest(DEVICE_UID)
    assert stored is not None and stored.counts_per_n == pytest.approx(TRUE_GAIN, rel=2e-3)
    # the next connection (the board resets when the port opens) reports it
    ident = identity_of(url)
    assert ident.counts_per_n == pytest.approx(stored.counts_per_n, rel=1e-6)
    assert abs(ident.offset_counts - stored.offset_counts) <= 0.5
    # the session recorded uncalibrated gets its forces afterwards (raw counts were kept)
    assert main(["recalibrate", before, "--db", str(db_path)]) == 0
    assert "uncalibrated → stored:1" in capsys.readouterr().out
    store = SessionStore(db_path)
    try:
        _, force_n = store.load_forces(before)
    finally:
        store.close()
    assert np.abs(force_n[:1000]).max() < 1.0  # unloaded: about 0 N, finite


def test_live_session_on_a_fresh_board_has_no_forces_until_calibrated(tmp_path):
    # played again and again: at speed 0 the reader may reach the script's end while a busy
    # machine keeps this thread from calibrating
    url = erased_url(tmp_path, "live", STACKED, loop=True)
    live = LiveSession(url, Config())
    live.start()
    try:
        assert wait_until(lambda: live.ring is not None and live.ring.written > 2000, 10.0)
        cal = live.calibration
        assert cal is not None and not cal.is_calibrated
        assert math.isnan(live.current_force_n)
        with pytest.raises(RuntimeError, match="not calibrated"):
            live.tare()
        notices = [e for e in live.poll_events() if "not calibrated" in str(e)]
        assert notices, "the session says the device is not calibrated"
        live.set_calibration(Calibration.factory(TRUE_GAIN, TRUE_ZERO))
        n0 = live.ring.written
        assert wait_until(lambda: live.ring.written > n0 + 100, 10.0)
        assert math.isfinite(live.current_force_n)
    finally:
        live.stop()
