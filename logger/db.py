"""The session library a command or the app names (``--db``), opened ready for use.

Opening a SQLite library may find a recording whose recorder died; the library then
finishes it, and its holds and alerts are re-detected from the stored samples
(:func:`logger.recalibrate.redetect_events`). The store cannot import that itself (the
pipeline sits above it), so every opener outside the store comes through here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .recalibrate import redetect_events
from .store import SessionStore
from .store import open as store_open
from .store.open import Db

if TYPE_CHECKING:  # psycopg is imported only when a server is named
    from .store.postgres import PostgresLibrary


def open_library(db: Db) -> SessionStore | PostgresLibrary:
    """What ``--db`` names, for reading: a SQLite file or the school's PostgreSQL server."""
    return store_open.open_library(db, redetect=redetect_events)


def open_local(path: Path) -> SessionStore:
    """This station's own SQLite library, for recording, editing and forgetting."""
    return SessionStore(path, redetect=redetect_events)
