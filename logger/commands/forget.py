"""`pressure-logger forget --client ID [--yes] [--db PATH]`: erase a client's data.

Deletes every session of the client (samples, events, holds, alerts, gaps) and compacts
the library so that none of their text is left in the file. Asks for confirmation on a
terminal unless ``--yes``; without a terminal and without ``--yes`` nothing is erased
(exit 2). The audit trail records the erasure by session id, not by client.
"""

from __future__ import annotations

import argparse
import sys

from ..cli import add_db_argument
from ..db import open_local
from ..errors import BadInput, DeviceError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "forget",
        help="erase every session of a client (right to erasure)",
        description="Erase every session of a client and leave none of their text in the "
        "library file (the audit trail keeps the erased session ids).",
    )
    p.add_argument("--client", required=True, metavar="ID", help="the client code to erase")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_db_argument(p)
    p.set_defaults(run=run)


def _confirmed(client: str, ids: list[str]) -> bool:
    if sys.stdin is None or not sys.stdin.isatty():
        raise BadInput("--yes is needed to erase without a terminal to confirm on")
    shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
    print(f"Erase {len(ids)} session(s) of client {client!r} ({shown})? This cannot be undone.")
    answer = input("Type 'yes' to erase: ")
    return answer.strip().lower() == "yes"


def run(args: argparse.Namespace) -> int:
    if not args.db.is_file():
        raise BadInput(f"--db {args.db}: no such session database")
    with open_local(args.db) as store:
        ids = [s.id for s in store.list_sessions(client=args.client)]
        if not ids:
            raise BadInput(f"--client {args.client!r}: no sessions of this client in {args.db}")
        if not args.yes and not _confirmed(args.client, ids):
            print("nothing erased")
            return 2
        result = store.forget_client(args.client)
    print(f"erased {len(result.sessions)} session(s) of client {args.client!r} from {args.db}")
    if not result.wal_clean:
        raise DeviceError(
            f"{args.db}: another program has the library open; the erased text may stay in "
            f"{args.db}-wal until it closes"
        )
    return 0
