"""`pressure-logger report SESSION --out FILE.pdf [--reference SESSION] [--db PATH]`.

Writes the A4 session report (the gui.report package). Qt is needed for the PDF writer and the
plots, but no display: the command uses Qt's offscreen platform unless one is set.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from logger.cli import add_db_argument
from logger.errors import BadInput

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="write an A4 PDF report of a session",
        description="Write an A4 PDF report of a stored session: metadata, timeline, holds, "
        "alerts, per-point statistics; with --reference, the comparison with a reference "
        "session (overlays, RMS error, mean difference, time in target) and progress.",
    )
    p.add_argument("session", metavar="SESSION", help="session id (see `sessions`)")
    p.add_argument("--out", required=True, metavar="FILE.pdf", help="the PDF to write")
    p.add_argument("--reference", metavar="SESSION", help="reference (expert) session id")
    p.add_argument(
        "--deidentify", action="store_true",
        help="hand-over copy: no client, therapist or notes; dates shifted (day 0 = 1985-01-01)",
    )  # fmt: skip
    add_db_argument(p, url=True)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from logger.db import open_library
    from logger.store.open import library_exists

    db = args.db
    if not library_exists(db):
        raise BadInput(f"--db {db}: no such session database")
    out = Path(args.out)
    if out.suffix.lower() != ".pdf":
        raise BadInput(f"--out {out}: the report is a PDF; name it *.pdf")
    if not out.parent.is_dir():
        raise BadInput(f"--out {out}: directory {out.parent} does not exist")
    store = open_library(db)
    try:
        # unknown ids are refused (BadInput, exit 2) before Qt starts or anything is written
        store.load_session(args.session)
        if args.reference:
            store.load_session(args.reference)
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance() or QApplication(["pressure-logger"])
        from ..report import write_report

        summary = write_report(
            store,
            args.session,
            out,
            reference_sid=args.reference,
            deidentify=args.deidentify,
        )
        del app
    finally:
        store.close()
    print(
        f"{summary.path}: {summary.pages} pages, {summary.holds} holds, "
        f"{summary.points} points"
        + (f", {summary.compared_points} compared" if args.reference else "")
    )
    return 0
