"""The printable session report: an A4 PDF written with Qt's own ``QPdfWriter``.

Contents: session metadata (client pseudonym, therapist, device, calibration and its date),
the timeline, alerts and gaps, the holds table, per-point statistics with left/right
differences, and, with a reference session, the comparison scores, one overlay per point
and the trainee's progress.

With ``deidentify`` the report is written from a
:class:`~logger.deidentify.DeidentifiedStore`: no client, therapist or notes, dates shifted
(day 0 = 1 January 1985), random session ids; the audit trail records every report.

Three stages, one module each:

- :mod:`.data` reads the store and computes everything shown (pure, no Qt);
- :mod:`.content` says what goes on the pages, in order, and draws the plots;
- :mod:`.layout` is the page layout engine (A4, flowing blocks, page breaks, tables,
  "page n of N", the temporary file renamed into place so that a failed report never
  leaves a partial PDF).

Qt is imported when a report is written, not with this package, so that :mod:`.data`
can be used and tested without it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from logger.deidentify import deidentified
from logger.errors import BadInput
from logger.store import AuditAction

from .data import ReportReader, prepare_parts

log = logging.getLogger(__name__)

__all__ = ["ReportSummary", "write_report"]


@dataclass(frozen=True, slots=True)
class ReportSummary:
    path: Path
    pages: int
    holds: int
    points: int
    compared_points: int


def write_report(
    store: ReportReader,
    sid: str,
    path: str | os.PathLike[str],
    *,
    reference_sid: str | None = None,
    progress_callback: Callable[[str], None] | None = None,
    deidentify: bool = False,
) -> ReportSummary:
    """Write the A4 report of session ``sid`` (and its comparison with ``reference_sid``)
    and log it in the audit trail; ``deidentify`` writes the hand-over version.

    Needs a ``QApplication``. Unknown sessions raise ``BadInput`` before anything is written.
    ``progress_callback`` is accepted for callers that pass one; nothing calls it yet.
    """
    from PySide6.QtWidgets import QApplication

    from . import content

    if QApplication.instance() is None:
        raise RuntimeError("write_report needs a QApplication")
    path = Path(path)
    if reference_sid is not None and reference_sid == sid:
        raise BadInput(f"--reference {reference_sid}: the session cannot be its own reference")
    if deidentify:
        store = deidentified(store, sid)
    parts = prepare_parts(store, sid, reference_sid, content.TIMELINE_TRACE)
    pages = content.write(parts, path)
    store.log_audit(
        AuditAction.REPORT,
        [sid] if reference_sid is None else [sid, reference_sid],
        out=str(path.absolute()),
    )
    log.info("report %s: %d pages", path, pages)
    return ReportSummary(
        path,
        pages,
        len(parts.record.holds),
        len(parts.stats),
        0 if parts.comparison is None else len(parts.comparison.scores.points),
    )
