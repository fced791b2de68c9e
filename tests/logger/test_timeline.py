"""The sample timeline as a pure stage: frames in (plain lists, or bytes through the real
decoder), blocks and gaps out. Hostile streams included."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_protocol.framing import FrameDecoder, encode_frame
from firmware_protocol.messages import SampleFlag, Samples
from logger.link.timeline import SampleTimeline
from logger.records import Gap, GapCause, SampleBlock

RATE_HZ = 1000
BATCH = 20
T0_US = 7_000_000


def frames(n: int, *, batch: int = BATCH, start_index: int = 5000, t0_us: int = T0_US,
           channels: int = 1) -> list[Samples]:  # fmt: skip
    out = []
    for k in range(n):
        first = start_index + k * batch
        raw = (np.arange(batch * channels, dtype=np.int32) + k * batch * channels).reshape(
            batch, channels
        )  # each value says which sample of the stream it is
        t_us = (t0_us + k * batch * 1000) % 2**32
        out.append(Samples(first % 2**32, t_us, 1000, SampleFlag.NONE, raw))
    return out


def run(msgs, *, host_s=None, finish=True, channels=1) -> tuple[SampleTimeline, list, list]:
    tl = SampleTimeline(RATE_HZ, channels)
    tl.stream_started()
    out = []
    for i, m in enumerate(msgs):
        if isinstance(m, str):
            getattr(tl, m)()
            continue
        tl.push(m, host_s[i] if host_s else 0.0)
        out += tl.take()
    if finish:
        tl.finish()
    out += tl.take()
    blocks = [o for o in out if isinstance(o, SampleBlock)]
    gaps = [o for o in out if isinstance(o, Gap)]
    return tl, blocks, gaps


def times(blocks) -> np.ndarray:
    return np.concatenate([b.t_s for b in blocks]) if blocks else np.empty(0)


def raws(blocks) -> np.ndarray:
    return np.concatenate([b.raw[:, 0] for b in blocks]) if blocks else np.empty(0)


def test_a_clean_stream_is_one_run_of_exact_times():
    tl, blocks, gaps = run(frames(50))
    t = times(blocks)
    assert gaps == [] and len(t) == 50 * BATCH
    np.testing.assert_allclose(t, np.arange(1000) / RATE_HZ, atol=1e-9)
    assert tl.stats.samples == 1000 and tl.stats.lost_samples == 0


def test_an_empty_frame_is_skipped():
    msgs = frames(3)
    empty = Samples(msgs[1].first_index, msgs[1].t_us, 1000, SampleFlag.NONE,
                    np.empty((0, 1), np.int32))  # fmt: skip
    tl, blocks, gaps = run([msgs[0], empty, msgs[1], msgs[2]])
    assert len(times(blocks)) == 60 and gaps == [] and tl.stats.empty_frames == 1


def test_a_duplicated_frame_is_stored_once_and_times_do_not_shift():
    msgs = frames(10)
    tl, blocks, gaps = run(msgs[:5] + [msgs[4], msgs[4]] + msgs[5:])
    assert gaps == [] and tl.stats.duplicate_frames == 2
    np.testing.assert_array_equal(raws(blocks), np.arange(200))
    np.testing.assert_allclose(times(blocks), np.arange(200) / RATE_HZ, atol=1e-9)


def test_swapped_frames_are_put_back_in_order_without_phantom_loss():
    msgs = frames(10)
    msgs[3], msgs[4] = msgs[4], msgs[3]
    tl, blocks, gaps = run(msgs)
    assert gaps == [] and tl.stats.lost_samples == 0 and tl.stats.reordered_frames == 1
    np.testing.assert_array_equal(raws(blocks), np.arange(200))
    assert np.all(np.diff(times(blocks)) > 0)


def test_a_lost_frame_is_an_exact_gap_once_the_reorder_window_passes():
    msgs = frames(12)
    del msgs[5]
    tl, blocks, gaps = run(msgs)
    (gap,) = gaps
    assert gap.lost_samples == BATCH and gap.cause is GapCause.SEQUENCE
    assert gap.start_s == pytest.approx(0.100) and gap.end_s == pytest.approx(0.120)
    assert tl.stats.samples + tl.stats.lost_samples == 12 * BATCH


def test_damage_before_a_hole_makes_it_a_crc_gap():
    msgs = frames(12)
    tl = SampleTimeline(RATE_HZ, 1)
    tl.stream_started()
    for i, m in enumerate(msgs):
        if i == 5:
            tl.damage(1, BATCH)
            continue
        tl.push(m)
    tl.finish()
    (gap,) = [o for o in tl.take() if isinstance(o, Gap)]
    assert gap.cause is GapCause.CRC and gap.lost_samples == BATCH


def test_a_frame_after_its_hole_was_declared_is_late_not_stored_twice():
    msgs = frames(12)
    late = msgs.pop(2)
    tl, blocks, gaps = run(msgs + [late])
    assert tl.stats.late_frames == 1
    assert tl.stats.samples + tl.stats.lost_samples == 12 * BATCH
    assert np.all(np.diff(times(blocks)) > 0)


def test_one_absurd_index_is_a_damaged_frame_not_a_huge_gap():
    msgs = frames(10)
    bad = msgs[4]
    msgs[4] = Samples((bad.first_index + 2**31 - 1) % 2**32, bad.t_us, 1000, bad.flags, bad.raw)
    tl, blocks, gaps = run(msgs)
    assert tl.stats.bogus_frames == 1 and tl.stats.lost_samples == BATCH
    (gap,) = gaps
    assert gap.cause is GapCause.CRC and gap.lost_samples == BATCH


def test_an_index_going_back_by_1000_is_not_a_restart():
    msgs = frames(10, t0_us=3_000_000, start_index=2000)
    bad = msgs[4]
    msgs[4] = Samples(bad.first_index - 1000, bad.t_us, 1000, bad.flags, bad.raw)
    tl, blocks, gaps = run(msgs)
    assert tl.stats.restarts == 0 and tl.stats.bogus_frames == 1
    assert [g.cause for g in gaps] == [GapCause.CRC]


@pytest.mark.parametrize("step_s", [-10.0, -60.0, 1000.0])
def test_device_time_stepping_while_the_index_runs_on_is_a_flagged_discontinuity(step_s):
    msgs = frames(20)
    for k in range(10, 20):  # the clock steps for good from frame 10 on
        m = msgs[k]
        msgs[k] = Samples(m.first_index, int(m.t_us + step_s * 1e6) % 2**32, 1000, m.flags, m.raw)
    tl, blocks, gaps = run(msgs)
    t = times(blocks)
    assert len(t) == 400 and np.all(np.diff(t) > 0)
    np.testing.assert_allclose(t, np.arange(400) / RATE_HZ, atol=1e-6)
    (gap,) = gaps
    assert gap.cause is GapCause.TIME and gap.lost_samples == 0 and tl.stats.time_steps == 1


def test_a_single_absurd_time_is_dropped_and_counted():
    msgs = frames(10)
    m = msgs[4]
    msgs[4] = Samples(m.first_index, m.t_us - 10_000_000, 1000, m.flags, m.raw)
    tl, blocks, gaps = run(msgs)
    assert tl.stats.bogus_frames == 1 and [g.lost_samples for g in gaps] == [BATCH]
    assert np.all(np.diff(times(blocks)) > 0)


def test_frames_with_other_channel_counts_are_refused():
    good = frames(6)
    wide = frames(1, channels=3, start_index=good[3].first_index, t0_us=good[3].t_us)[0]
    tl, blocks, gaps = run(good[:3] + [wide] + good[4:])
    assert tl.stats.refused_frames == 1
    assert all(b.raw.shape[1] == 1 for b in blocks)
    assert [(g.cause, g.lost_samples) for g in gaps] == [(GapCause.CRC, BATCH)]


def test_identity_mid_stream_is_a_restart_timed_by_the_host_clock():
    before = frames(10)
    after = frames(10, start_index=0, t0_us=1_000_000)
    host = [i * 0.02 for i in range(10)] + [None] + [0.18 + 0.5 + i * 0.02 for i in range(10)]
    tl, blocks, gaps = run(before + ["device_restarted"] + after, host_s=host)
    (gap,) = gaps
    assert gap.cause is GapCause.RESTART and tl.stats.restarts == 1
    assert gap.lost_samples == 500 and gap.end_s - gap.start_s == pytest.approx(0.5)
    assert np.all(np.diff(times(blocks)) > 0)


def test_index_and_time_resetting_together_is_a_restart_without_identity():
    before = frames(10, start_index=900_000, t0_us=900_000_000)
    after = frames(10, start_index=100, t0_us=2_100_000)
    tl, blocks, gaps = run(before + after)
    assert [g.cause for g in gaps] == [GapCause.RESTART] and tl.stats.restarts == 1


def test_a_reconnect_counts_the_index_jump_as_a_disconnect():
    msgs = frames(30)
    tl, blocks, gaps = run(msgs[:10] + ["reconnected"] + msgs[20:])
    (gap,) = gaps
    assert gap.cause is GapCause.DISCONNECT and gap.lost_samples == 10 * BATCH


def test_damage_at_the_head_and_the_tail_is_counted():
    msgs = frames(10)
    data = b"".join(encode_frame(m, i) for i, m in enumerate(msgs))
    first_len = len(encode_frame(msgs[0], 0))
    damaged = bytearray(data)
    damaged[5] ^= 0xFF  # the first frame's payload
    damaged[-5] ^= 0xFF  # the last frame's payload
    dec = FrameDecoder()
    tl = SampleTimeline(RATE_HZ, 1)
    tl.stream_started()
    for f in dec.feed(bytes(damaged)):
        tl.damage(f.damaged_before, f.damaged_values_before)
        tl.push(f.msg)
    tl.finish(*dec.pending_damage)
    out = tl.take()
    gaps = [o for o in out if isinstance(o, Gap)]
    assert [(g.cause, g.lost_samples) for g in gaps] == [(GapCause.CRC, BATCH)] * 2
    assert gaps[0].start_s == 0.0 and gaps[0].end_s == pytest.approx(0.020)
    assert tl.stats.samples + tl.stats.lost_samples == 10 * BATCH
    t = times([o for o in out if isinstance(o, SampleBlock)])
    assert t[0] == pytest.approx(0.020)  # session time 0 stays where the stream began
    assert first_len > 20


# --------------------------------------------------------------- property: hostile streams

FAULTS = ("flip", "drop_byte", "truncate", "drop", "duplicate", "swap", "bogus_index",
          "bogus_time", "empty", "wide")  # fmt: skip


@st.composite
def hostile_streams(draw):
    n = draw(st.integers(3, 40))
    batch = draw(st.integers(1, 25))
    start = draw(st.integers(0, 2**32 - 1))
    t0 = draw(st.integers(0, 2**32 - 1))
    msgs = frames(n, batch=batch, start_index=start, t0_us=t0)
    faults = draw(_FAULTS_IN[n])
    return msgs, faults


# built once per length, not per example: hypothesis works out each new strategy's
# properties again
_FAULTS_IN = {
    n: st.lists(st.tuples(st.integers(1, n - 2), st.sampled_from(FAULTS),
                          st.integers(0, 2**32 - 1)), max_size=12)
    for n in range(3, 41)
}  # fmt: skip


def _apply(msgs, faults):
    """The frames as bytes on the wire, with the faults; the first and last frames are
    left intact (nothing bounds a loss there but the damaged frame's own length)."""
    chunks: list[bytes] = [encode_frame(m, i) for i, m in enumerate(msgs)]
    done: set[int] = set()
    for pos, kind, value in faults:
        if pos in done or pos + 1 in done:  # one fault per frame (a swap takes two)
            continue
        done.add(pos)
        m = msgs[pos]
        if kind == "flip":
            b = bytearray(chunks[pos])
            b[value % (len(b) - 1)] ^= 1 + value % 255
            chunks[pos] = bytes(b)
        elif kind == "drop_byte":
            b = bytearray(chunks[pos])
            del b[value % (len(b) - 1)]
            chunks[pos] = bytes(b)
        elif kind == "truncate":
            chunks[pos] = chunks[pos][: value % (len(chunks[pos]) - 1)] + b"\x00"
        elif kind == "drop":
            chunks[pos] = b""
        elif kind == "duplicate":
            chunks[pos] = chunks[pos] * 2
        elif kind == "swap" and pos + 1 < len(chunks) - 1:
            chunks[pos], chunks[pos + 1] = chunks[pos + 1], chunks[pos]
            done.add(pos + 1)
        elif kind == "bogus_index":
            bad = Samples(value, m.t_us, m.period_us, m.flags, m.raw)
            chunks[pos] = encode_frame(bad, pos)
        elif kind == "bogus_time":
            bad = Samples(m.first_index, value, m.period_us, m.flags, m.raw)
            chunks[pos] = encode_frame(bad, pos)
        elif kind == "empty":
            chunks[pos] += encode_frame(
                Samples(m.first_index, m.t_us, 1000, m.flags, np.empty((0, 1), np.int32)), pos
            )
        elif kind == "wide":
            wide = Samples(m.first_index, m.t_us, 1000, m.flags, np.zeros((1, 2), np.int32))
            chunks[pos] += encode_frame(wide, pos)
    return b"".join(chunks)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_streams(), st.integers(1, 97))
def test_any_hostile_stream_adds_up_and_keeps_time_increasing(stream, chunk):
    msgs, faults = stream
    wire = _apply(msgs, faults)
    sent = sum(m.count for m in msgs)
    dec = FrameDecoder()
    tl = SampleTimeline(RATE_HZ, 1)
    tl.stream_started()
    out = []
    for i in range(0, len(wire), chunk):
        for f in dec.feed(wire[i : i + chunk]):
            tl.damage(f.damaged_before, f.damaged_values_before)
            tl.push(f.msg)
        out += tl.take()
    tl.finish(*dec.pending_damage)
    out += tl.take()
    blocks = [o for o in out if isinstance(o, SampleBlock)]
    gaps = [o for o in out if isinstance(o, Gap)]
    stored = sum(len(b.t_s) for b in blocks)
    assert stored == tl.stats.samples
    assert stored + tl.stats.lost_samples == sent
    assert sum(g.lost_samples for g in gaps) == tl.stats.lost_samples
    t = times(blocks)
    assert np.all(np.diff(t) > 0)
    assert t[0] >= 0.0
    assert all(g.end_s >= g.start_s >= 0.0 for g in gaps)
    # stored values are the device's own samples, each once
    stored_raw = raws(blocks)
    assert len(np.unique(stored_raw)) == len(stored_raw)


def test_two_damaged_frames_close_together_are_both_crc_gaps():
    msgs = frames(14)
    tl = SampleTimeline(RATE_HZ, 1)
    tl.stream_started()
    for i, m in enumerate(msgs):
        if i in (4, 6):  # two holes inside one reorder window
            tl.damage(1, BATCH)
            continue
        tl.push(m)
    tl.finish()
    gaps = [o for o in tl.take() if isinstance(o, Gap)]
    assert [(g.cause, g.lost_samples) for g in gaps] == [(GapCause.CRC, BATCH)] * 2
