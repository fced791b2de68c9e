"""``--db``: a SQLite library file, or the school library on a PostgreSQL server.

The reading commands (``sessions``, ``review``, ``report``, ``export``, ``recalibrate``)
open whatever ``--db`` names through :func:`open_library`, and get an object with the
same reading methods either way (:class:`SessionStore` or :class:`PostgresLibrary`).
A path stays exactly what it was: a :class:`~pathlib.Path` with ``~`` expanded.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from calibration.models import Calibration

from .urls import is_url, redacted

if TYPE_CHECKING:
    from .library import SessionLibrary, SessionStore
    from .postgres import PostgresLibrary

Db = Path | str  # a library file, or a postgresql:// URL


def parse_db(text: str) -> Db:
    """``--db``'s type: a URL is checked and kept as text, anything else is a path."""
    if is_url(text):
        from ..errors import BadInput
        from .pg_connect import check_url

        try:
            return check_url(text)
        except BadInput as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return Path(text).expanduser()


def parse_url(text: str) -> str:
    """A server URL argument (``sync --to``, ``server init``): a path is refused."""
    value = parse_db(text)
    if not isinstance(value, str):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a postgresql:// URL")
    return value


def describe(db: Db) -> str:
    """``db`` as messages show it (a URL without its password)."""
    if isinstance(db, str):
        return redacted(db)
    return str(db)


def library_exists(db: Db) -> bool:
    """Whether there is a library to read (a server is asked when it is opened)."""
    return isinstance(db, str) or Path(db).is_file()


def open_library(
    db: Db, *, redetect: Callable[[SessionLibrary, str], None] | None = None
) -> SessionStore | PostgresLibrary:
    """The library ``db`` names: SQLite for a path (``redetect`` as
    :class:`SessionStore` takes it), the school server for a URL (nothing records there)."""
    if isinstance(db, str):
        from .postgres import PostgresLibrary

        return PostgresLibrary(db)
    from .library import SessionStore

    return SessionStore(db, redetect=redetect)


class StoredFit(Protocol):
    """A stored calibration as ``recalibrate`` reads it (either back end's record)."""

    @property
    def calibration(self) -> Calibration: ...


class CalibrationSource(Protocol):
    """What ``recalibrate`` asks of stored calibrations (CalibrationStore's subset)."""

    def get(self, calibration_id: int) -> StoredFit: ...

    def latest(self, uid: str) -> Calibration | None: ...


class _ServerCalibrations:
    def __init__(self, library: PostgresLibrary) -> None:
        self.library = library

    def get(self, calibration_id: int) -> StoredFit:
        return self.library.stored_calibration(calibration_id)

    def latest(self, uid: str) -> Calibration | None:
        found = self.library.latest_calibration(uid)
        return found.calibration if found else None


def open_calibrations(db: Db, store: SessionStore | PostgresLibrary) -> CalibrationSource:
    """The calibrations kept with library ``db`` (``store`` is that library, open)."""
    from .calibrations import CalibrationStore
    from .library import SessionStore

    if not isinstance(store, SessionStore):
        return _ServerCalibrations(store)
    return CalibrationStore(db)
