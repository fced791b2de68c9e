"""`pressure-logger review [SESSION] [--reference SESSION] [--db PATH]`: the review window.

The trainer's view of the session library: timeline, holds, per-point statistics, overlays
and the comparison with a reference session (also reachable from the live window).
``--deidentify`` shows it without names, with shifted dates and random session ids.
"""

from __future__ import annotations

import argparse

from logger.cli import add_db_argument
from logger.errors import BadInput


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("review", help="open the session library and review window")
    p.add_argument("session", nargs="?", metavar="SESSION", help="session to open first")
    p.add_argument("--reference", metavar="SESSION", help="reference (expert) session id")
    p.add_argument(
        "--deidentify", action="store_true",
        help="show the library without names and with shifted dates (day 0 = 1985-01-01)",
    )  # fmt: skip
    add_db_argument(p, url=True)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from logger.db import open_library
    from logger.store.open import library_exists

    db = args.db
    if not library_exists(db):
        raise BadInput(f"--db {db}: no such session database")
    store = open_library(db)
    for sid in (args.session, args.reference):
        if sid is not None:
            store.load_session(sid)  # unknown id: BadInput before any window opens

    from gui.app import create_app
    from gui.review import ReviewWindow
    from gui.screen import show_fitted
    from logger.deidentify import DeidentifiedStore

    app = create_app()
    view = DeidentifiedStore(store, args.session) if args.deidentify else None
    window = ReviewWindow(view or store)
    show_fitted(window, 1600, 960)
    if args.session:
        window.open_session(view.public_id(args.session) if view else args.session)
    if args.reference:
        window.set_reference(view.public_id(args.reference) if view else args.reference)
    return int(app.exec())
