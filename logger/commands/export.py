"""`pressure-logger export SESSION --format csv|json|edf --out FILE`: one session to a file.

Unknown sessions and bad flags are refused (exit 2) before anything is written; the output
appears only when complete (temporary file, then rename). Prints the written path.
``--deidentify`` writes a hand-over copy without names and with shifted dates; every
export is logged in the library's audit trail.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

from ..cli import add_db_argument
from ..db import open_library
from ..errors import BadInput
from ..export.tabular import ExportFormat, ExportTable, export_session
from ..store.open import library_exists


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a session (CSV, JSON, EDF+)")
    p.add_argument("session", metavar="SESSION", help="session id, as listed by `sessions`")
    p.add_argument(
        "--format",
        required=True,
        choices=[f.value for f in ExportFormat],
        help="csv: one row per sample; json: pressure-logger/session-v1; edf: EDF+",
    )
    p.add_argument("--out", required=True, metavar="FILE", help="file to write")
    p.add_argument(
        "--table", default=ExportTable.SAMPLES.value,
        choices=[t.value for t in ExportTable],
        help="with --format csv: samples (default), or one row per PPT trial (ppt), "
        "scored drill trial (drill) or guided profile run (guided)",
    )  # fmt: skip
    p.add_argument(
        "--baseline", metavar="SESSION",
        help="with --format json: the PPT change per point from SESSION (the client's "
        "earlier session) to this one",
    )  # fmt: skip
    p.add_argument(
        "--deidentify", action="store_true",
        help="hand-over copy: no client, therapist or notes; dates shifted (day 0 = 1985-01-01)",
    )  # fmt: skip
    add_db_argument(p, url=True)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not library_exists(args.db):
        raise BadInput(f"unknown session {args.session!r} (no session library at {args.db})")
    with open_library(args.db) as store:
        out = export_session(
            store,
            args.session,
            Path(args.out).expanduser(),
            args.format,
            deidentify=args.deidentify,
            table=args.table,
            baseline=args.baseline,
        )
    if not _is_stdout(out):  # the data went to our own output: a path after it would corrupt it
        print(out)
    return 0


def _is_stdout(path: Path) -> bool:
    try:
        here, there = os.fstat(sys.stdout.fileno()), os.stat(path)
    except (OSError, ValueError, io.UnsupportedOperation):
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)
