"""`pressure-logger sync --to postgresql://… [--db PATH] [--prune-synced]`.

Sends the station's finished sessions (samples, events, zero events, calibrations,
devices; interrupted ones too) to the school library, one verified transaction per
session (logger/store/sync.py). Run it as often as you like: what is on the server already
is not sent again, and a run cut short (killed, the network gone) is finished by the next.
Nothing is deleted from the station unless ``--prune-synced`` is given, and then only
sessions the server holds with the checksum this station recorded.

Exit codes: 0 all sent (or nothing to send), 1 the server could not be reached or went
away, or a session could not be verified; 2 bad arguments (a URL, a login, a library).
"""

from __future__ import annotations

import argparse

from ..cli import add_db_argument
from ..store.open import describe


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sync", help="send this station's sessions to the school library")
    p.add_argument(
        "--to", required=True, type=_url, metavar="URL",
        help="the school library: postgresql://USER@HOST/DB (password from PGPASSFILE, "
        "PGPASSWORD or the URL)",
    )  # fmt: skip
    add_db_argument(p)
    p.add_argument(
        "--prune-synced", action="store_true",
        help="then delete from this station the sessions the server holds, verified",
    )  # fmt: skip
    p.set_defaults(run=run)


def _url(text: str) -> str:
    from ..store.open import parse_url

    return parse_url(text)


def run(args: argparse.Namespace) -> int:
    from ..db import open_local
    from ..store.sync import sync_library

    if args.db.is_file():  # a recording whose recorder died: finished, events re-detected
        open_local(args.db).close()
    report = sync_library(args.db, args.to, prune=args.prune_synced, progress=print)
    parts = [
        f"{len(report.copied)} sent",
        f"{len(report.updated)} updated",
        f"{len(report.unchanged) + len(report.already)} already on the server",
    ]
    if report.recording:
        parts.append(f"{len(report.recording)} still recording (sent next time)")
    if report.not_theirs:
        parts.append(f"{len(report.not_theirs)} of other trainees (left for their sync)")
    if report.failed:
        parts.append(f"{len(report.failed)} failed")
    if report.pruned:
        parts.append(f"{len(report.pruned)} removed locally")
    print(f"sync {describe(args.db)} → {describe(args.to)}: " + ", ".join(parts))
    for sid, why in report.failed:
        print(f"not synced: {sid}: {why}")
    return 1 if report.failed else 0
