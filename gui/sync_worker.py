"""The app's background sync to the school library (the configuration's ``school_url``).

The station records into its own library whatever the network does; this worker sends
its finished sessions to the school library when the server can be reached, on a thread
of its own: one pass when it starts, one after each recording ends (:meth:`request`) and
one every ``every_s``. A pass is ``pressure-logger sync`` (``logger.store.sync``:
verified, resumable) and never raises (:func:`~logger.store.sync.sync_pass`): a server
down or a network gone is a result saying "server unreachable", and the next pass tries
again. Nothing in the recording path waits for it or calls it.

Results cross to the GUI the way the live session's events do: the thread puts each
:class:`~logger.store.sync.SyncPass` on a ``queue.SimpleQueue`` and the window drains it
with :meth:`poll` from a timer of its own; the thread never touches a widget.

:meth:`stop` asks the thread to end and waits for it: a pass in progress ends before its
next session. A session being sent when the wait runs out is left to the process's end:
its server transaction dies with the connection, and the next start sends it again.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path

from logger.store.sync import SyncPass, sync_pass

log = logging.getLogger(__name__)

SYNC_EVERY_S = 300.0  # a pass every 5 minutes (and after each recording)
STOP_WAIT_S = 5.0


class SyncWorker:
    """Syncs the station library ``db_path`` to the school library at ``url``."""

    def __init__(self, db_path: Path, url: str, *, every_s: float = SYNC_EVERY_S) -> None:
        self.db_path = Path(db_path)
        self.url = url
        self.every_s = every_s
        # when the pass under way began (time.monotonic()), None between passes: written
        # by the thread, read by the GUI
        self.busy_since: float | None = None
        self.passes = 0  # passes finished
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._results: queue.SimpleQueue[SyncPass] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="school-sync", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def request(self) -> None:
        """A pass as soon as possible (after the one running, if any): a recording ended."""
        self._wake.set()

    def poll(self) -> list[SyncPass]:
        """The passes finished since the last call (GUI thread)."""
        out: list[SyncPass] = []
        while not self._results.empty():  # one consumer: what is there stays there
            out.append(self._results.get_nowait())
        return out

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout_s: float = STOP_WAIT_S) -> bool:
        """End the thread (a pass under way stops before its next session); True once it
        has ended, False if it was still sending a session after ``timeout_s``."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        return not self._thread.is_alive()

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()  # a request from now on means one more pass after this one
            self.busy_since = time.monotonic()
            try:
                result = self._one_pass()
            finally:
                self.busy_since = None
            self.passes += 1
            self._results.put(result)
            self._wake.wait(self.every_s)

    def _one_pass(self) -> SyncPass:
        from logger.db import open_local
        from logger.errors import BadInput, DeviceError

        try:
            if self.db_path.is_file():  # a recording whose recorder died: finished, its
                open_local(self.db_path).close()  # events re-detected (as `sync` does)
            result = sync_pass(self.db_path, self.url, stop=self._stopping.is_set)
        except (BadInput, DeviceError) as exc:  # the library itself (one line)
            result = SyncPass(False, "sync failed", " ".join(str(exc).split()))
        except Exception as exc:  # noqa: BLE001 - a bug: the thread goes on, the window says
            log.exception("school sync: pass failed")
            result = SyncPass(False, "sync failed", f"{type(exc).__name__}: {exc}")
        level = logging.INFO if result.ok or result.unreachable else logging.WARNING
        log.log(level, "school sync: %s%s", result.text, f": {result.detail}" * bool(result.detail))
        return result
