"""The session library: where sessions, their events and calibrations are kept.

One job per module: ``schema`` (tables, their versioned migrations, the stored formats),
``library`` (the :class:`SessionLibrary` protocol and :class:`SessionStore`, its SQLite
implementation), ``overview`` (the min/max summary pyramid), ``ownership`` (who records a
session; recovery of a recording whose process died), ``writer`` (the live session's
writer thread) and ``calibrations`` (the per-device calibration history). The rest of the
code imports from here.
"""

from .calibrations import CalibrationStore
from .library import (
    AuditAction,
    AuditEntry,
    ErasureResult,
    Redetect,
    SessionLibrary,
    SessionRecord,
    SessionStore,
    SessionSummary,
    check_writable,
    force_timeline,
    session_exists,
)
from .schema import utc_iso
from .writer import MAX_CHUNK_SAMPLES, SessionWriter

__all__ = [
    "MAX_CHUNK_SAMPLES",
    "AuditAction",
    "AuditEntry",
    "CalibrationStore",
    "ErasureResult",
    "Redetect",
    "SessionLibrary",
    "SessionRecord",
    "SessionStore",
    "SessionSummary",
    "SessionWriter",
    "check_writable",
    "force_timeline",
    "session_exists",
    "utc_iso",
]
