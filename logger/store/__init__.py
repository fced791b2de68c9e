"""The session library: where sessions, their events and calibrations are kept.

``library`` holds :class:`SessionStore` (SQLite); ``calibrations`` the stored calibration
fits. The rest of the code imports from here.
"""

from .calibrations import CalibrationStore
from .library import (
    MAX_CHUNK_SAMPLES,
    AuditAction,
    AuditEntry,
    ErasureResult,
    SessionRecord,
    SessionStore,
    SessionSummary,
    SessionWriter,
    check_writable,
    force_timeline,
    session_exists,
)

__all__ = [
    "MAX_CHUNK_SAMPLES",
    "AuditAction",
    "AuditEntry",
    "CalibrationStore",
    "ErasureResult",
    "SessionRecord",
    "SessionStore",
    "SessionSummary",
    "SessionWriter",
    "check_writable",
    "force_timeline",
    "session_exists",
]
