"""The sample timeline: intact SAMPLES frames in, sample blocks and gaps out.

A pure stage beside the codec: no thread, no port, no clock reads (the host's arrival
time comes in as data, for the one case only the host can measure: how long a board that
restarted was away). It can be driven with plain lists.

What a device can do wrong, and what the timeline makes of it (every case is counted):

- **Empty frames** (``count = 0``, legal) are skipped.
- **Frames with another channel count** than IDENTITY announced are refused; their samples
  show up as a hole in the index, recorded as a ``crc`` gap like any damaged frame.
- **Duplicated frames** (index already delivered) are dropped, never stored twice.
- **Reordered frames**: a frame that arrives ahead of a hole is held back for up to
  ``reorder_frames`` frames; if the missing frame arrives, both are delivered in order.
  Only then is the hole declared a gap (``crc`` when damaged frames were seen, ``sequence``
  otherwise); a frame arriving after its hole was declared is dropped as *late* (its
  samples stay counted as lost: exact, never double).
- **An absurd index or time** on one frame (its time does not agree with its index, given
  the stream so far) makes the frame a *suspect*. If the next frame continues the stream,
  the suspect was damage: dropped and counted (its samples become a ``crc`` gap). If the
  next frame continues the suspect, the device really stepped:
  - time moved while the index ran on: a device-time discontinuity, a ``time`` gap with
    no lost samples; stored time continues from the index, so it always increases;
  - the index moved while time ran on: the index is rebased (counted), nothing lost;
  - both moved: the index counts the loss (a ``time`` gap), time is rebased.
- **A restart** is recognised only from the device's own signals: IDENTITY mid-stream
  (``device_restarted``), or index and time going back together to what a freshly booted
  board reports. The host clock then says how long the board was away (a ``restart`` gap).
- **A reconnect** (``reconnected``): the index jump over the outage is a ``disconnect`` gap.
- **Damage at the head and the tail** (before the first and after the last intact
  frame) is counted from the damaged frames' lengths, since no index bounds it.

Invariants (property-tested): stored + lost = sent; stored times strictly increase;
durations are never negative; nothing raises.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

import numpy as np

from firmware_protocol.messages import Samples

from ..records import Gap, GapCause, SampleBlock
from .clock import Unwrapper

log = logging.getLogger(__name__)

REORDER_FRAMES = 4  # frames held back behind a hole before it is declared a gap
RECENT_FRAMES = 64  # delivered frames remembered to recognise duplicates
TIME_TOLERANCE_S = 0.002  # frame time vs. the time its index predicts …
TIME_TOLERANCE_PERIODS = 1.0  # … plus this many sample periods …
TIME_TOLERANCE_FRACTION = 0.1  # … plus this share of the predicted interval (ADC clocks)
BOOT_WINDOW_S = 30.0  # a rebooted board's clock is within this of its index × period
MAX_STEP_LOSS_S = 3600.0  # a larger loss claimed by a stepped index is not believed


@dataclass(slots=True)
class TimelineStats:
    samples: int = 0  # delivered
    lost_samples: int = 0  # counted in gaps
    empty_frames: int = 0
    duplicate_frames: int = 0
    late_frames: int = 0  # arrived after their hole was declared a gap
    reordered_frames: int = 0  # arrived ahead of a hole that was then filled
    refused_frames: int = 0  # channel count other than announced
    bogus_frames: int = 0  # an absurd index or time on one frame
    time_steps: int = 0  # device-time discontinuities
    index_steps: int = 0  # sample-index discontinuities (time ran on)
    restarts: int = 0


@dataclass(slots=True)
class _Frame:
    msg: Samples
    index: int  # unwrapped sample index of row 0
    dev_us: int  # unwrapped device µs of row 0
    damage_mark: int = 0  # the timeline's damage total when the frame was placed

    @property
    def count(self) -> int:
        return self.msg.count

    @property
    def end(self) -> int:
        return self.index + self.msg.count


class SampleTimeline:
    """Turns the SAMPLES frames of one device, in wire order, into timed sample blocks and
    gaps on the session timeline (``t_s``: seconds since the session's first sample).

    Feed it with ``damage`` (damaged frames seen), ``push`` (an intact SAMPLES frame) and
    the device's signals (``stream_started``, ``device_restarted``, ``reconnected``); collect
    output with ``take``; end with ``finish``."""

    def __init__(self, rate_hz: float, channels: int, *, reorder_frames: int = REORDER_FRAMES):
        if not rate_hz > 0:
            raise ValueError(f"rate must be positive, not {rate_hz}")
        self.channels = int(channels)
        self.period_us = 1e6 / float(rate_hz)
        self.reorder_frames = reorder_frames
        self.stats = TimelineStats()
        self._out: list[SampleBlock | Gap] = []
        self._run: list[tuple[_Frame, np.ndarray]] = []  # delivered, not yet taken
        self._started = False
        self._pending_signal: GapCause | None = None  # RESTART / DISCONNECT before next frame
        self._head_values = 0  # sample values in damaged frames before the first intact one
        # damaged, refused or bogus frames: a running total, and how much of it the frames
        # delivered or gaps declared so far account for (each frame notes the total it saw)
        self._damage_total = 0
        self._damage_seen = 0
        self._held: list[_Frame] = []  # ahead of a hole, sorted by index
        self._suspect: _Frame | None = None
        self._declared: list[tuple[int, int]] = []  # recent index ranges declared lost
        self._recent: deque[tuple[int, int]] = deque(maxlen=RECENT_FRAMES)  # (index, t_us)
        # anchor: unwrapped index and µs of the next expected sample, its session time
        self._next_index = 0
        self._next_us = 0.0
        # the u32 index and µs clock, unwrapped from the newest accepted frame
        self._index = Unwrapper()
        self._dev_us = Unwrapper()
        self._t0_us = 0.0  # session time = (dev_us − t0_us) / 1e6
        self._last_t_s = -np.inf  # the newest delivered sample's time
        self._last_host_s: float | None = None  # host arrival of the newest delivery
        self._host_s = 0.0

    # ------------------------------------------------------------------ inputs

    def set_rate(self, rate_hz: float) -> None:
        """The device's rate changed (a new IDENTITY): only frames after it use it."""
        if rate_hz > 0:
            self.period_us = 1e6 / float(rate_hz)

    def stream_started(self) -> None:
        """START was sent: damage seen so far (a board's reset noise) is not sample loss."""
        if not self._started:
            self._head_values = 0
        self._damage_seen = self._damage_total

    def damage(self, frames: int, values: int = 0) -> None:
        """``frames`` damaged frames were dropped by the decoder here, carrying about
        ``values`` sample values (judged by length)."""
        if frames <= 0:
            return
        self._damage_total += frames
        if not self._started:
            self._head_values += values

    def device_restarted(self) -> None:
        """The device said IDENTITY mid-stream: its index and clock began again."""
        self._flush_held()
        self._drop_suspect()
        if self._started:
            self._pending_signal = GapCause.RESTART

    def reconnected(self) -> None:
        """The port came back after an outage: the next index jump is a disconnect."""
        self._flush_held()
        self._drop_suspect()
        if self._started and self._pending_signal is None:
            self._pending_signal = GapCause.DISCONNECT

    def push(self, msg: Samples, host_s: float = 0.0) -> None:
        """One intact SAMPLES frame, in the order it arrived; ``host_s`` is when (host
        monotonic clock), used only to measure the absence of a restarted board."""
        self._host_s = host_s
        if msg.channels != self.channels:
            self.stats.refused_frames += 1
            self._damage_total += 1
            log.warning("refused a SAMPLES frame with %d channel(s); the device announced %d",
                        msg.channels, self.channels)  # fmt: skip
            return
        if msg.count == 0:
            self.stats.empty_frames += 1
            return
        if not self._started:
            self._begin(msg)
            return
        frame = self._unwrap(msg)
        if self._pending_signal is not None:
            self._after_signal(frame)
            return
        if self._suspect is not None:
            suspect, self._suspect = self._suspect, None
            continues_suspect = self._fits(
                frame, suspect.end, suspect.dev_us + suspect.count * self.period_us, after=suspect
            )
            if continues_suspect and not self._fits(frame, self._next_index, self._next_us):
                if self._looks_like_boot(suspect):
                    self._restart(suspect)
                else:
                    self._accept_step(suspect)
            else:
                self._bogus(suspect)
        self._place(frame)

    def finish(self, damaged_frames: int = 0, damaged_values: int = 0) -> None:
        """The stream ended; ``damaged_*`` is the decoder's damage after the last intact
        frame (a damaged last frame)."""
        self._flush_held()
        if self._suspect is not None:
            suspect, self._suspect = self._suspect, None
            self._bogus(suspect)
            self._gap(suspect.count, GapCause.CRC, self._next_t_s)
        self.damage(damaged_frames, damaged_values)
        if self._started and damaged_values >= self.channels:
            self._gap(damaged_values // self.channels, GapCause.CRC, self._next_t_s)

    def take(self) -> list[SampleBlock | Gap]:
        """What the timeline has decided since the last call, in time order."""
        self._close_run()
        out, self._out = self._out, []
        return out

    # ------------------------------------------------------------------ queries

    @property
    def started(self) -> bool:
        return self._started

    @property
    def next_t_s(self) -> float:
        """Session time of the next expected sample (the end of what was delivered)."""
        return self._next_t_s

    def session_t_s(self, t_us: int) -> float | None:
        """Session time of a device µs stamp (an event, a PONG), near the newest frame."""
        if not self._started:
            return None
        return (self._dev_us.unwrap(t_us) - self._t0_us) / 1e6

    @property
    def device_clock_at_zero_s(self) -> float | None:
        """The device's own clock (s, unwrapped) at session time 0, in the current anchor."""
        return None if not self._started else self._t0_us / 1e6

    # ------------------------------------------------------------------ internals

    @property
    def _next_t_s(self) -> float:
        return (self._next_us - self._t0_us) / 1e6 if self._started else 0.0

    def _begin(self, msg: Samples) -> None:
        """The first intact frame anchors the timeline; damage before it is head loss."""
        self._started = True
        head = self._head_values // self.channels
        self._index.anchor(msg.first_index, msg.first_index)
        self._dev_us.anchor(msg.t_us, msg.t_us)
        frame = _Frame(msg, msg.first_index, msg.t_us, self._damage_total)
        self._t0_us = msg.t_us - head * self.period_us
        self._next_index = frame.index - head
        self._next_us = self._t0_us
        if head:
            self._gap(head, GapCause.CRC, 0.0, end_us=float(msg.t_us))
            self._next_index = frame.index
            self._next_us = float(msg.t_us)
        self._deliver(frame)

    def _unwrap(self, msg: Samples) -> _Frame:
        """Index and time continued from the newest accepted frame (signed, mod 2³²)."""
        index, dev_us = self._index.unwrap(msg.first_index), self._dev_us.unwrap(msg.t_us)
        return _Frame(msg, index, dev_us, self._damage_total)

    def _fits(
        self,
        f: _Frame,
        next_index: int,
        next_us: float,
        *,
        after: _Frame | None = None,
    ) -> bool:
        """Whether ``f``'s time agrees with its index, continuing from (next_index,
        next_us), and would keep stored time increasing."""
        predicted_us = next_us + (f.index - next_index) * self.period_us
        interval_us = abs(predicted_us - next_us)
        tol_us = (
            TIME_TOLERANCE_S * 1e6
            + TIME_TOLERANCE_PERIODS * self.period_us
            + TIME_TOLERANCE_FRACTION * interval_us
        )
        if f.index < next_index:  # only a copy of a recent frame, or one late for its hole
            return (
                (f.msg.first_index, f.msg.t_us) in self._recent
                or self._in_declared_gap(f)
                and abs(f.dev_us - predicted_us) <= tol_us
            )
        if abs(f.dev_us - predicted_us) > tol_us:
            return False
        last_us = (
            after.dev_us + (after.count - 1) * self.period_us
            if after is not None
            else self._t0_us + self._last_t_s * 1e6
        )
        if f.dev_us <= last_us:
            return False
        # and in order with the frames held back behind a hole
        f_last_us = f.dev_us + (f.count - 1) * self.period_us
        return all(
            h.dev_us > f_last_us
            if h.index > f.index
            else h.dev_us + (h.count - 1) * self.period_us < f.dev_us
            for h in self._held
            if h.index != f.index
        )

    def _place(self, f: _Frame) -> None:
        """A frame judged against the stream as it stands."""
        f.damage_mark = self._damage_total
        if not self._fits(f, self._next_index, self._next_us):
            self._suspect = f  # damage or a real step: the next frame will tell
            return
        if f.end <= self._next_index or f.index < self._next_index:
            if self._in_declared_gap(f):
                self.stats.late_frames += 1
            else:
                self.stats.duplicate_frames += 1
            return
        if any(h.index == f.index for h in self._held):
            self.stats.duplicate_frames += 1
            return
        if f.index == self._next_index:
            if self._held:  # it arrived behind frames that followed it
                self.stats.reordered_frames += 1
            self._deliver(f)
            self._release_held(force=False)
            return
        self._held.append(f)
        self._held.sort(key=lambda h: h.index)
        self._release_held(force=len(self._held) > self.reorder_frames)

    def _release_held(self, force: bool) -> None:
        while self._held:
            head = self._held[0]
            if head.index < self._next_index:  # overlapped by what was delivered meanwhile
                self._held.pop(0)
                self.stats.duplicate_frames += 1
                continue
            if head.index == self._next_index:
                self._deliver(self._held.pop(0))
                continue
            if not force:
                return
            lost = head.index - self._next_index
            # damage seen before the frame after the hole explains it
            cause = GapCause.CRC if head.damage_mark > self._damage_seen else GapCause.SEQUENCE
            self._gap(lost, cause, self._next_t_s, end_us=float(head.dev_us))
            self._damage_seen = max(self._damage_seen, head.damage_mark)
            self._declared.append((self._next_index, head.index))
            del self._declared[:-16]
            self._next_index = head.index
            force = len(self._held) > self.reorder_frames

    def _flush_held(self) -> None:
        while self._held:
            self._release_held(force=True)

    def _in_declared_gap(self, f: _Frame) -> bool:
        """Whether ``f`` lies in a hole already declared lost (a late frame)."""
        return any(a <= f.index and f.end <= b for a, b in self._declared)

    def _drop_suspect(self) -> None:
        if self._suspect is not None:
            suspect, self._suspect = self._suspect, None
            self._bogus(suspect)

    def _bogus(self, f: _Frame) -> None:
        self.stats.bogus_frames += 1
        self._damage_total += 1
        log.warning("dropped a SAMPLES frame whose index/time disagree with the stream "
                    "(index %d, t_us %d)", f.msg.first_index, f.msg.t_us)  # fmt: skip

    def _accept_step(self, f: _Frame) -> None:
        """The device really stepped at ``f`` (the next frame continues it)."""
        self._flush_held()
        jump = f.index - self._next_index
        time_jump_us = f.dev_us - self._next_us
        index_ok = jump == 0
        time_ok = abs(time_jump_us) <= TIME_TOLERANCE_S * 1e6 + TIME_TOLERANCE_PERIODS * (
            self.period_us
        )
        start_s = self._next_t_s
        if index_ok:  # time stepped while the index ran on
            self.stats.time_steps += 1
            log.warning("device time stepped by %+.3f s while its sample index ran on",
                        time_jump_us / 1e6)  # fmt: skip
            self._rebase_time(f, self._next_us)
            self._out_gap(Gap(start_s, start_s, 0, GapCause.TIME))
        elif time_ok:  # the index stepped while time ran on
            self.stats.index_steps += 1
            log.warning("device sample index stepped by %+d while its clock ran on", jump)
            self._next_index = f.index
        else:  # both: trust the device's sample count if it is believable
            lost = jump if 0 < jump * self.period_us <= MAX_STEP_LOSS_S * 1e6 else 0
            self.stats.time_steps += 1
            self._next_index = f.index
            self._rebase_time(f, self._next_us + lost * self.period_us)
            self._gap(lost, GapCause.TIME, start_s)
        self._deliver(f)

    def _rebase_time(self, f: _Frame, at_us: float) -> None:
        """Shift the session clock so that frame ``f`` lands at device µs ``at_us`` of the
        old anchor (stored time stays continuous and increasing)."""
        shift = f.dev_us - at_us
        self._t0_us += shift
        self._next_us += shift

    def _looks_like_boot(self, f: _Frame) -> bool:
        """Index and clock both went back, to what a board reports soon after power-on."""
        raw = f.msg
        if raw.first_index >= self._index.raw or raw.t_us >= self._dev_us.raw:
            return False  # a reboot sets both the index and the clock back
        boot_us = f.msg.t_us - f.msg.first_index * self.period_us
        return -BOOT_WINDOW_S * 1e6 <= boot_us <= BOOT_WINDOW_S * 1e6

    def _restart(self, f: _Frame, cause: GapCause = GapCause.RESTART) -> None:
        """Continue the session after the device began again: the host clock says for how
        long it was away, and that time's samples count as lost."""
        self._flush_held()
        outage_s = 0.0
        if self._last_host_s is not None:
            outage_s = max(0.0, self._host_s - self._last_host_s)
        lost = round(outage_s * 1e6 / self.period_us)
        start_s = self._next_t_s
        self.stats.restarts += cause is GapCause.RESTART
        log.warning("device %s: %.2f s without samples (%d lost)",
                    "restarted" if cause is GapCause.RESTART else "came back", outage_s,
                    lost)  # fmt: skip
        at_us = self._next_us + lost * self.period_us
        self._t0_us += f.dev_us - at_us
        self._next_us = float(f.dev_us)
        self._next_index = f.index
        self._gap(lost, cause, start_s, end_us=float(f.dev_us))
        self._deliver(f)

    def _after_signal(self, f: _Frame) -> None:
        cause, self._pending_signal = self._pending_signal, None
        assert cause is not None
        if (
            cause is GapCause.DISCONNECT
            and f.index >= self._next_index
            and self._fits(f, self._next_index, self._next_us)
        ):
            if f.index > self._next_index:
                self._gap(f.index - self._next_index, cause, self._next_t_s,
                          end_us=float(f.dev_us))  # fmt: skip
            self._deliver(f)
            return
        self._restart(f, GapCause.RESTART if cause is GapCause.RESTART or self._looks_like_boot(
            f) else GapCause.DISCONNECT)  # fmt: skip

    def _gap(
        self,
        lost: int,
        cause: GapCause,
        start_s: float,
        *,
        end_us: float | None = None,
    ) -> None:
        """Record ``lost`` samples from ``start_s`` to ``end_us`` (default: their length)."""
        if end_us is None:
            end_s = start_s + lost * self.period_us / 1e6
            self._next_index += lost
            self._next_us += lost * self.period_us
        else:
            end_s = (end_us - self._t0_us) / 1e6
        self.stats.lost_samples += lost
        self._out_gap(Gap(start_s=start_s, end_s=max(start_s, end_s), lost_samples=int(lost),
                          cause=cause))  # fmt: skip

    def _out_gap(self, gap: Gap) -> None:
        self._close_run()
        log.info("gap: %s", gap)
        self._out.append(gap)

    def _deliver(self, f: _Frame) -> None:
        t_s = (f.dev_us - self._t0_us + np.arange(f.count) * self.period_us) / 1e6
        self._run.append((f, t_s))
        self._last_t_s = float(t_s[-1])
        self._next_index = f.end
        self._next_us = f.dev_us + f.count * self.period_us
        self._index.anchor(f.msg.first_index, f.index)
        self._dev_us.anchor(f.msg.t_us, f.dev_us)
        self._recent.append((f.msg.first_index, f.msg.t_us))
        self._last_host_s = self._host_s
        self._damage_seen = max(self._damage_seen, f.damage_mark)
        self.stats.samples += f.count

    def _close_run(self) -> None:
        run, self._run = self._run, []
        if not run:
            return
        raw = run[0][0].msg.raw if len(run) == 1 else np.concatenate([f.msg.raw for f, _ in run])
        t_s = run[0][1] if len(run) == 1 else np.concatenate([t for _, t in run])
        self._out.append(SampleBlock(first_index=run[0][0].msg.first_index, t_s=t_s, raw=raw))
