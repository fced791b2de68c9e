"""`record` against devices that misbehave: frames built by the codec, sent through a real
pty, stored in a real SQLite library, counted back from the database."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from firmware_protocol.messages import SampleFlag, Samples
from firmware_protocol.sim import protocol_sim
from logger.cli import main
from logger.link import acquisition
from logger.records import GapCause, SessionStatus
from logger.store import SessionStore

from .pty_device import (
    BATCH,
    RATE_HZ,
    PtyDevice,
    hold_profile_n,
    identity,
    sample_frames,
)

N_SAMPLES = 5000  # 5 s: rest, a 3 s hold at 30 N, rest
DURATION_S = 4.5


def record(device: PtyDevice, frames, capsys, *, duration_s: float = DURATION_S, wire=None,
           after=None) -> tuple[int, str, str]:  # fmt: skip
    """``record`` from the pty while the device streams ``frames`` (then ``after()``)."""

    def play() -> None:
        if not device.streaming.wait(10):
            return
        device.stream(frames, wire=wire)
        if after is not None:
            after()

    player = threading.Thread(target=play, daemon=True)
    player.start()
    try:
        code = main(["record", "--port", device.path, "--duration", str(duration_s),
                     "--db", str(device.db)])  # fmt: skip
    finally:
        device.close()
        player.join(5)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def device(db_path):
    dev = PtyDevice()
    dev.db = db_path
    yield dev
    dev.close()


def stored(db_path, sid: str):
    with SessionStore(db_path) as store:
        rec = store.load_session(sid)
        t_s, raw = store.load_samples(sid)
    return rec, t_s, raw


def frames_with(change) -> list[Samples]:
    frames = sample_frames(hold_profile_n(N_SAMPLES))
    change(frames)
    return frames


def shift(m: Samples, *, index: int = 0, t_us: int = 0, raw=None) -> Samples:
    return Samples((m.first_index + index) % 2**32, (m.t_us + t_us) % 2**32, m.period_us,
                   m.flags, m.raw if raw is None else raw)  # fmt: skip


def assert_sound(rec, t_s, *, lost: int = 0, holds: int = 1) -> None:
    """The session adds up: increasing times, the hold found, every sample counted."""
    assert rec.status == SessionStatus.COMPLETE
    assert np.all(np.diff(t_s) > 0)
    assert rec.stats.duration_s > 0
    assert rec.stats.lost_samples == lost == sum(g.lost_samples for g in rec.gaps)
    assert len(t_s) + lost == DURATION_S * RATE_HZ
    assert len(rec.holds) == holds


def test_an_empty_samples_frame_is_skipped(device, capsys):
    def change(f):
        f.insert(10, Samples(f[10].first_index, f[10].t_us, 1000, SampleFlag.NONE,
                             np.empty((0, 1), np.int32)))  # fmt: skip

    code, out, err = record(device, frames_with(change), capsys)
    assert code == 0, err
    rec, t_s, raw = stored(device.db, out.split()[-1])
    assert_sound(rec, t_s)


def test_a_duplicated_frame_is_stored_once(device, capsys):
    code, out, err = record(device, frames_with(lambda f: f.insert(50, f[50])), capsys)
    assert code == 0, err
    rec, t_s, raw = stored(device.db, out.split()[-1])
    assert_sound(rec, t_s)
    np.testing.assert_allclose(t_s, np.arange(len(t_s)) / RATE_HZ, atol=1e-9)


def test_swapped_frames_are_stored_in_order_without_loss(device, capsys):
    def change(f):
        f[50], f[51] = f[51], f[50]

    code, out, err = record(device, frames_with(change), capsys)
    assert code == 0, err
    rec, t_s, raw = stored(device.db, out.split()[-1])
    assert_sound(rec, t_s)
    assert rec.gaps == []


def test_one_absurd_index_costs_one_frame_not_two_billion_samples(device, capsys):
    def change(f):
        f[50] = shift(f[50], index=2**31 - 1)

    code, out, err = record(device, frames_with(change), capsys)
    assert code == 0, err
    rec, t_s, raw = stored(device.db, out.split()[-1])
    assert_sound(rec, t_s, lost=BATCH)
    assert [g.cause for g in rec.gaps] == [GapCause.CRC]


def test_an_index_going_back_is_a_damaged_frame_not_a_restart(device, capsys):
    def change(f):
        f[50] = shift(f[50], index=-1000)

    code, out, err = record(device, frames_with(change), capsys)
    assert code == 0, err
    rec, t_s, raw = stored(device.db, out.split()[-1])
    assert_sound(rec, t_s, lost=BATCH)
    assert GapCause.RESTART not in {g.cause for g in rec.gaps}


@pytest.mark.parametrize("step_s", [-10.0, -60.0, 1000.0])
def test_device_time_stepping_is_flagged_and_stored_time_still_increases(device, capsys,
                                                                        step_s):  # fmt: skip
    def change(f):
        for k in range(30, len(f)):  # the clock steps at 0.6 s, before the hold
            f[k] = shift(f[k], t_us=int(step_s * 1e6))

    code, out, err = record(device, frames_with(change), capsys)
    assert code == 0, err
    sid = out.split()[-1]
    rec, t_s, raw = stored(device.db, sid)
    assert_sound(rec, t_s)
    (gap,) = rec.gaps
    assert gap.cause is GapCause.TIME and gap.lost_samples == 0
    assert rec.holds[0].start_s == pytest.approx(1.0 + 5.0 / 30 * 0.2, abs=0.01)
    edf = device.db.parent / "s.edf"
    assert main(["export", sid, "--format", "edf", "--out", str(edf), "--db", str(device.db)]) == 0
    import pyedflib

    with pyedflib.EdfReader(str(edf)) as reader:
        assert reader.getNSamples()[0] >= len(t_s)  # nothing silently dropped


def test_frames_with_more_channels_than_announced_are_refused(device, capsys):
    def change(f):
        f[50] = shift(f[50], raw=np.repeat(f[50].raw, 3, axis=1))

    code, out, err = record(device, frames_with(change), capsys)
    assert code == 0, err
    sid = out.split()[-1]
    rec, t_s, raw = stored(device.db, sid)
    assert_sound(rec, t_s, lost=BATCH)
    assert raw.shape[1] == 1
    d = device.db.parent
    assert main(["export", sid, "--format", "edf", "--out", str(d / "x.edf"),
                 "--db", str(device.db)]) == 0  # fmt: skip
    assert main(["report", sid, "--out", str(d / "x.pdf"), "--db", str(device.db)]) == 0


@pytest.mark.slow
@pytest.mark.parametrize("pong", [True, False])
def test_a_device_that_goes_silent_cannot_hang_record(db_path, capsys, monkeypatch, pong):
    # a shorter stall limit (2 s in use: the same path), still a second longer than the
    # pings, so that a device that pongs is one that talks but sends no samples
    monkeypatch.setattr(acquisition, "STALL_S", 1.25)
    monkeypatch.setattr(acquisition, "PING_INTERVAL_S", 0.25)
    device = PtyDevice(pong=pong)
    device.db = db_path
    one_second = sample_frames(np.zeros(RATE_HZ))
    t0 = time.monotonic()
    code, out, err = record(device, one_second, capsys, duration_s=1.5)
    took_s = time.monotonic() - t0
    assert took_s < 1.5 + 1.25 + 3.75  # the duration, the stall limit, set-up
    assert code == 1
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1 and "no samples" in lines[0] and "Traceback" not in err
    rec, t_s, raw = stored(db_path, out.split()[-1])
    assert len(t_s) == RATE_HZ and rec.status == SessionStatus.COMPLETE


class _Sketch(PtyDevice):
    """A sketch that prints lines: it understands no HELLO (a PtyDevice's IDENTITY, sent
    whenever a HELLO reached it before its first line, made a binary device of it)."""

    def _answer(self, frames) -> None:
        pass


def test_a_text_device_that_sends_only_noise_ends_with_one_line(db_path, capsys, monkeypatch):
    monkeypatch.setattr(acquisition, "TEXT_SILENCE_S", 0.5)  # 5 s in use: the same path
    device = _Sketch()
    device.db = db_path
    stop = threading.Event()

    def chatter() -> None:
        for _ in range(100):  # a sketch that prints readings for a second …
            device.write(b"123\r\n")
            time.sleep(0.01)
        rng = np.random.default_rng(3)
        while not stop.is_set():  # … then only noise
            noise = rng.integers(0x41, 0x5A, 40, dtype=np.uint8).tobytes()
            try:
                device.write(noise + b"\r\n")
            except OSError:
                return
            time.sleep(0.01)

    threading.Thread(target=chatter, daemon=True).start()
    t0 = time.monotonic()
    try:
        code = main(["record", "--port", device.path, "--duration", "60", "--db", str(db_path)])
    finally:
        stop.set()
        device.close()
    took_s = time.monotonic() - t0
    out, err = capsys.readouterr()
    assert code == 1 and took_s < 15
    errors = [line for line in err.splitlines() if "error" in line]
    assert len(errors) == 1 and "no numbers" in errors[0] and "Traceback" not in err


@pytest.mark.parametrize("seed", range(64))
def test_a_lost_script_end_never_hangs(db_path, tmp_path, capsys, monkeypatch, seed):
    """With 1 % of the bytes corrupted, some seeds lose the SCRIPT_END event: the reader
    notices the device's idle heartbeat, asks for START again and is told the script is
    over. The simulator sends that heartbeat once per host second at speed 0; ten a second
    here walk the same path sooner (the bytes differ, so other seeds lose the event: 64
    seeds lose it about 10 times, as 40 did at one heartbeat a second)."""
    monkeypatch.setattr(protocol_sim, "SPEED0_IDLE_HEARTBEAT_S", 0.1)
    scenario = tmp_path / "short.toml"
    scenario.write_text('[[steps]]\naction = "rest"\nseconds = 1.0\n')
    url = f"sim://end{seed}?scenario={scenario}&speed=0&corrupt=0.01&seed={seed}"
    t0 = time.monotonic()
    code = main(["record", "--port", url, "--db", str(db_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert time.monotonic() - t0 < 10, f"seed {seed} took too long"


def test_crc_damage_at_full_speed_is_counted_as_crc_with_the_exact_loss(db_path, capsys):
    url = "sim://crc?scenario=demo&speed=0&corrupt=0.0005&seed=5"
    code = main(["record", "--port", url, "--db", str(db_path), "--duration", "30"])
    out, err = capsys.readouterr()
    assert code == 0, err
    rec, t_s, raw = stored(db_path, out.split()[-1])
    assert rec.gaps and {g.cause for g in rec.gaps} == {GapCause.CRC}
    lost = rec.stats.lost_samples
    assert lost == sum(g.lost_samples for g in rec.gaps)
    assert len(t_s) + lost == 30 * RATE_HZ


def test_identity_with_a_rate_of_zero_is_refused_in_one_line(db_path, capsys):
    device = PtyDevice(identity(rate_hz=0))
    device.db = db_path
    try:
        code = main(["record", "--port", device.path, "--db", str(db_path)])
    finally:
        device.close()
    out, err = capsys.readouterr()
    assert code == 2 and "rate of 0 Hz" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
