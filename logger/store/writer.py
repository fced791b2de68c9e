"""The live session's writer: a thread of its own that stores what a recording produces.

The reader thread must never wait on disk, so it queues typed messages (a sample run, a
batch of events, a flush, the end) and :class:`SessionWriter` turns them into
:class:`WriteBatch` transactions of the library: contiguous sample runs coalesced into
chunks, a commit at most :data:`COMMIT_INTERVAL_S` after data arrives (so a process killed
with ``kill -9`` loses at most that much), the heartbeat refreshed at least every
:data:`~logger.store.ownership.HEARTBEAT_S`. It uses nothing of a library but the public
:class:`~logger.store.library.SessionLibrary`, through a handle of its own (``reopen``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from calibration.models import ZeroEvent

from ..errors import BadInput, StorageError
from ..records import (
    Alert,
    Gap,
    Hold,
    Mark,
    Point,
    ProtocolEvent,
    Rating,
    SampleBlock,
    SessionStats,
    SessionStatus,
    Signal,
)
from .library import SessionEnd, SessionLibrary, WriteBatch
from .ownership import HEARTBEAT_S
from .schema import utc_iso

log = logging.getLogger(__name__)

COMMIT_INTERVAL_S = 0.25  # SessionWriter commits this long after the first pending item
MAX_CHUNK_SAMPLES = 16384  # the writer coalesces contiguous blocks up to this many rows
MAX_PENDING_ITEMS = 4096  # the writer commits at once after this many queued messages
# Space a writer holds beside the library (``<library>-reserve``) and gives back when the
# disk fills, so that the session can still be closed with its stats (a full disk has no
# room even for that one small transaction otherwise).
RESERVE_BYTES = 256 * 1024


@dataclass(slots=True)
class _Flush:
    """Set ``done`` once everything queued before it is committed (or given up)."""

    done: threading.Event = field(default_factory=threading.Event)


# What the writer's queue carries: a run of samples, a batch of events, a flush, the end.
_Message = SampleBlock | WriteBatch | _Flush | SessionEnd


def _make_reserve(path: Path) -> Path | None:
    """Create the reserve file unless it exists already; None when this writer did not."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError:
        return None  # there already (another recorder's) or no room: go without
    try:
        os.write(fd, bytes(RESERVE_BYTES))
        os.fsync(fd)
    except OSError:
        os.close(fd)
        path.unlink(missing_ok=True)
        return None
    os.close(fd)
    return path


class SessionWriter:
    """Stores a live session from a thread of its own, fed through a queue.

    ``put_*`` never block (an unbounded queue; the reader thread must not wait on disk).
    The writer coalesces contiguous sample blocks into chunks and commits at most
    :data:`COMMIT_INTERVAL_S` after the oldest pending item arrived (so a process killed
    with ``kill -9`` loses at most that much), refreshing the session's heartbeat.
    ``close(status, stats)`` flushes everything and finalises the session.

    A storage failure (disk full, read-only, the library deleted or replaced) ends the
    storing at once: :attr:`failed` is set and ``on_failure`` is called (from the writer
    thread) so that the recording can be stopped. Nothing is dropped uncounted. On a full
    disk the batch that failed and whatever arrives until ``close`` are held; ``close``
    gives back the reserve file (:data:`RESERVE_BYTES`), finalises the session as
    ``interrupted`` together with the held events, then adds the held sample runs while
    they fit, each transaction restating ``stats.unsaved_samples``. After other failures
    the final status is tried once. ``close`` then raises :class:`StorageError`, one line
    saying what was kept and what was not.
    """

    def __init__(
        self,
        store: SessionLibrary,
        sid: str,
        *,
        on_failure: Callable[[StorageError], None] | None = None,
    ) -> None:
        if not store.has_session(sid):  # unknown id → BadInput here, not in the thread
            raise BadInput(f"unknown session {sid!r}")
        self._library = store  # the thread stores through a handle of its own
        self.db_path = store.db_path
        self.sid = sid
        self.on_failure = on_failure
        self.error: StorageError | None = None
        self.failed = threading.Event()
        self.committed_samples = 0
        self.unsaved_samples = 0  # received but not stored (final once closed)
        self._received_samples = 0
        self._finalised = False
        self._held = WriteBatch()  # received after the disk filled: kept at close if it fits
        self._queue: queue.SimpleQueue[_Message] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"SessionWriter-{sid}", daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------- producer
    def put_samples(self, first_index: int, t_s: np.ndarray, raw: np.ndarray) -> None:
        """Queue a contiguous run of samples (copied, so the caller may reuse buffers)."""
        r = np.array(raw, dtype=np.int32, copy=True)
        if r.ndim == 1:
            r = r.reshape(-1, 1)
        t = np.array(t_s, dtype=np.float64, copy=True).reshape(-1)
        if r.ndim != 2 or r.shape[0] != t.shape[0]:
            raise ValueError(f"t_s has {t.shape[0]} rows but raw has shape {r.shape}")
        self._queue.put(SampleBlock(int(first_index), t, r))

    def put_marks(self, marks: Sequence[Mark]) -> None:
        self._queue.put(WriteBatch(marks=list(marks)))

    def put_holds(self, holds: Sequence[Hold]) -> None:
        self._queue.put(WriteBatch(holds=list(holds)))

    def put_alerts(self, alerts: Sequence[Alert]) -> None:
        self._queue.put(WriteBatch(alerts=list(alerts)))

    def put_gaps(self, gaps: Sequence[Gap]) -> None:
        self._queue.put(WriteBatch(gaps=list(gaps)))

    def put_points(self, points: Sequence[Point]) -> None:
        """Points added to the plan while recording (a point with an index already stored
        replaces it)."""
        self._queue.put(WriteBatch(points=[dataclasses.replace(p) for p in points]))

    def put_zeros(self, zeros: Sequence[ZeroEvent]) -> None:
        self._queue.put(WriteBatch(zeros=list(zeros)))

    def put_signals(self, signals: Sequence[Signal]) -> None:
        self._queue.put(WriteBatch(signals=list(signals)))

    def put_ratings(self, ratings: Sequence[Rating]) -> None:
        self._queue.put(WriteBatch(ratings=list(ratings)))

    def put_protocols(self, protocols: Sequence[ProtocolEvent]) -> None:
        self._queue.put(WriteBatch(protocols=list(protocols)))

    def put_reconnect(self, at: str | None = None, t_s: float | None = None) -> None:
        """A reconnect: host wall-clock ``at`` (ISO 8601, UTC; default now), device time."""
        self._queue.put(WriteBatch(reconnects=[(at or utc_iso(), t_s)]))

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until everything queued so far is committed (or given up after a storage
        failure: see :attr:`failed`); False on timeout."""
        if not self._thread.is_alive():
            return False
        f = _Flush()
        self._queue.put(f)
        return f.done.wait(timeout_s)

    def close(
        self,
        status: SessionStatus | str = SessionStatus.COMPLETE,
        stats: SessionStats | None = None,
        ended_at: str | None = None,
    ) -> None:
        """Flush, finalise the session and stop the thread (idempotent). Raises
        :class:`StorageError` (one line: the cause, what was kept) after a failure."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(SessionEnd(SessionStatus(status), stats, ended_at))
        self._thread.join()
        if self.error is not None:
            raise StorageError(
                self._failure_text(), disk_full=self.error.disk_full, gone=self.error.gone
            )

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _failure_text(self) -> str:
        assert self.error is not None
        if self.error.gone:
            return (
                f"{self.error}; session {self.sid} went with it "
                f"({self._received_samples} samples received)"
            )
        text = (
            f"{self.error}; recording stopped: session {self.sid} keeps "
            f"{self.committed_samples} samples, {self.unsaved_samples} not saved"
        )
        if not self._finalised:
            text += " (its final status could not be written: it opens as interrupted once "
            text += "this program has ended)"
        return text

    # ------------------------------------------------------------------ thread
    def _run(self) -> None:
        store: SessionLibrary | None = None
        reserve = self.db_path.with_name(self.db_path.name + "-reserve")
        mine: Path | None = None
        try:
            store = self._library.reopen()
            mine = _make_reserve(reserve)
        except Exception as exc:  # noqa: BLE001 - reported through close()
            self._fail(exc)
        try:
            self._loop(store, reserve)
        finally:
            if store is not None:
                store.close()
            if mine is not None:
                mine.unlink(missing_ok=True)

    def _loop(self, store: SessionLibrary | None, reserve: Path) -> None:
        pending, queued = WriteBatch(), 0  # queued: messages in `pending`
        deadline: float | None = None
        last_beat = time.monotonic()
        while True:
            now = time.monotonic()
            wait_s = HEARTBEAT_S - (now - last_beat) if deadline is None else deadline - now
            item: _Message | None
            try:
                item = self._queue.get(timeout=max(0.0, wait_s))
            except queue.Empty:
                item = None
            flushes: list[_Flush] = []
            closing: SessionEnd | None = None
            # take whatever else is already queued, without waiting
            while item is not None:
                match item:
                    case SampleBlock():
                        pending.samples.append(item)
                        self._received_samples += len(item)
                        queued += 1
                    case WriteBatch():
                        pending.extend(item)
                        self._received_samples += item.n_samples
                        queued += 1
                    case _Flush():
                        flushes.append(item)
                    case SessionEnd():
                        closing = item
                        break
                if deadline is None and queued:
                    deadline = time.monotonic() + COMMIT_INTERVAL_S
                if queued > MAX_PENDING_ITEMS:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    item = None
            now = time.monotonic()
            due = deadline is not None and now >= deadline
            if queued and (due or flushes or closing or queued > MAX_PENDING_ITEMS):
                self._write(store, pending)
                pending, queued, deadline, last_beat = WriteBatch(), 0, None, now
            elif not queued and now - last_beat >= HEARTBEAT_S:
                if store is not None and self.error is None:
                    try:
                        store.heartbeat(self.sid)
                    except Exception as exc:  # noqa: BLE001 - reported through close()
                        self._fail(exc)
                last_beat = now
            for f in flushes:
                f.done.set()
            if closing is not None:
                if self.error is not None and self.error.disk_full:
                    reserve.unlink(missing_ok=True)  # room for the session's last word
                self._finish(store, closing)
                return

    def _write(self, store: SessionLibrary | None, batch: WriteBatch) -> None:
        """Commit one batch. After a failure nothing more is committed: on a full disk
        the batches are held for :meth:`_finish`, otherwise only counted (as unsaved)."""
        if store is None or self.error is not None:
            if self.error is not None and self.error.disk_full:
                self._held.extend(batch)
            return
        batch.samples = _coalesce(batch.samples)
        try:
            store.write_batch(self.sid, batch)
            self.committed_samples += batch.n_samples
        except Exception as exc:  # noqa: BLE001 - reported through close()
            self._fail(exc)
            if self.error is not None and self.error.disk_full:
                self._held.extend(batch)

    def _finish(self, store: SessionLibrary | None, end: SessionEnd) -> None:
        if store is not None and self.error is None:
            try:
                store.finish_session(self.sid, end.status, end.stats, end.ended_at)
                self._finalised = True
                return
            except Exception as exc:  # noqa: BLE001 - reported through close()
                self._fail(exc)
        assert self.error is not None
        if store is not None and not self.error.gone:
            self._keep_what_fits(store, end)
        self.unsaved_samples = self._received_samples - self.committed_samples

    def _keep_what_fits(self, store: SessionLibrary, end: SessionEnd) -> None:
        """After a failure: finalise the session as ``interrupted`` together with the held
        events (one small transaction, which often fits where a batch of samples did not),
        then add the held sample runs one transaction each, every one restating the stats,
        until the first that does not fit."""
        held = self._held
        held.samples = _coalesce(held.samples)
        for piece in held.pieces():
            unsaved = self._received_samples - self.committed_samples - piece.n_samples
            piece.end = SessionEnd(SessionStatus.INTERRUPTED, end.stats, end.ended_at, unsaved)
            try:
                store.write_batch(self.sid, piece)
            except (StorageError, BadInput) as exc:  # full after all, or the session is gone
                log.info("session %s: stopped keeping held data: %s", self.sid, exc)
                return
            self.committed_samples += piece.n_samples
            self._finalised = True

    def _fail(self, exc: BaseException) -> None:
        """Remember the first failure and tell the owner (who stops the recording)."""
        if self.error is not None:
            return
        if not isinstance(exc, StorageError):
            log.debug("SessionWriter for %s failed", self.sid, exc_info=exc)
            exc = StorageError(f"{self.db_path}: storing session {self.sid} failed: {exc}")
        log.info("session %s: storage failed: %s", self.sid, exc)
        self.error = exc
        self.failed.set()
        if self.on_failure is not None:
            try:
                self.on_failure(exc)
            except Exception:  # the writer must go on counting whatever the callback does
                log.exception("on_failure callback of the writer for %s", self.sid)


def _coalesce(blocks: list[SampleBlock]) -> list[SampleBlock]:
    """Join contiguous sample blocks (index follows on, same channels) into chunks."""
    runs: list[tuple[int, list[np.ndarray], list[np.ndarray], int]] = []
    for block in blocks:
        first, t, raw = block.first_index, block.t_s, block.raw
        if t.size == 0:
            continue
        if runs:
            r_first, ts, raws, n = runs[-1]
            if (
                first == r_first + n
                and raw.shape[1] == raws[-1].shape[1]
                and n + t.size <= MAX_CHUNK_SAMPLES
            ):
                ts.append(t)
                raws.append(raw)
                runs[-1] = (r_first, ts, raws, n + t.size)
                continue
        runs.append((first, [t], [raw], t.size))
    return [
        SampleBlock(first, np.concatenate(ts), np.concatenate(raws)) for first, ts, raws, _ in runs
    ]
