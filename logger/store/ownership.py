"""Who owns a live recording, and what becomes of a recording whose owner is gone.

A ``recording`` session carries its owner's host name, pid and a heartbeat (unix time,
refreshed with every commit and at least every :data:`HEARTBEAT_S`). Opening a library
marks it ``interrupted`` when the owner is gone: on the same host, when that pid is not
alive (or the heartbeat is older than :data:`PID_REUSE_AFTER_S`, so a pid recycled after a
reboot is not taken for the recorder); from another host, when the heartbeat is older than
:data:`STALE_AFTER_S`. A second window therefore never takes over a live recording. Should
a live recorder's session be marked anyway (a host suspended for minutes), nothing is lost:
its writer keeps storing, and its ``close`` sets the final status.

The holds and alerts a dead recorder had not finished are decided again by whoever opens
the library with a ``redetect`` callable: hold detection is the pipeline's, a layer above
the store, so the store only calls what it is given.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from ..errors import StorageError

log = logging.getLogger(__name__)

HEARTBEAT_S = 2.0  # a live writer refreshes its heartbeat at least this often
STALE_AFTER_S = 30.0  # another host's recording with a heartbeat this old is abandoned
PID_REUSE_AFTER_S = 600.0  # same host: a live pid with a heartbeat this old is not the owner

HOST = socket.gethostname()


@dataclass(frozen=True, slots=True)
class Owner:
    """The process that records a session, as the session's row names it."""

    host: str | None
    pid: int | None
    heartbeat_unix: float | None


def this_process() -> Owner:
    """This process as the owner of a recording, alive now."""
    return Owner(HOST, os.getpid(), time.time())


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def abandoned(owner: Owner, now_unix: float) -> bool:
    """Whether the recording ``owner`` names has no live owner any more."""
    beat = owner.heartbeat_unix
    age_s = math.inf if beat is None else now_unix - float(beat)
    if owner.host == HOST:
        return not pid_alive(int(owner.pid or 0)) or age_s > PID_REUSE_AFTER_S
    return age_s > STALE_AFTER_S


class Recoverable(Protocol):
    """What recovery needs of a library."""

    def recording_owners(self) -> dict[str, Owner]: ...

    def mark_interrupted(self, sid: str) -> bool: ...


S = TypeVar("S", bound=Recoverable)


def recover_stale(store: S, redetect: Callable[[S, str], None] | None = None) -> list[str]:
    """Mark the abandoned ``recording`` sessions of ``store`` ``interrupted`` and, with
    ``redetect``, have their events decided again; return the ids marked."""
    now = time.time()
    stale = [sid for sid, owner in store.recording_owners().items() if abandoned(owner, now)]
    marked = []
    for sid in stale:
        log.warning("session %s was left recording by a process that is gone", sid)
        try:
            if not store.mark_interrupted(sid):
                continue  # another process was first
        except StorageError as exc:  # a full disk must not stop the library opening
            log.warning("session %s stays 'recording' for now: %s", sid, exc)
            continue
        marked.append(sid)
        if redetect is None:
            continue
        try:
            redetect(store, sid)
        except Exception:  # a session we cannot replay keeps what its recorder stored
            log.exception("session %s: could not re-run hold detection", sid)
    return marked
