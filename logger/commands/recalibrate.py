"""`pressure-logger recalibrate SESSION`: re-derive a past session's forces.

Raw counts are what a session stores, so a calibration found wrong afterwards can be
replaced: the session's calibration record changes and its holds and alerts are
recomputed from the raw data. The samples themselves are never touched.
"""

from __future__ import annotations

import argparse

from ..cli import add_db_argument
from ..db import open_library
from ..store.open import open_calibrations


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recalibrate", help="re-derive a session's forces with another calibration")
    p.add_argument("session", metavar="SESSION", help="session id (see `sessions`)")
    p.add_argument(
        "--calibration", type=_calibration_id, metavar="ID",
        help="a stored calibration id (default: the device's newest)",
    )  # fmt: skip
    add_db_argument(p, url=True)
    p.set_defaults(run=run)


def _calibration_id(text: str) -> int:
    """A calibration id as stored (an SQLite integer, from 1)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"expected a calibration id 1..2**63-1, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    from ..errors import BadInput, StorageError
    from ..recalibrate import recalibrate

    with open_library(args.db) as store:
        rec = store.load_session(args.session)  # unknown id: BadInput, nothing written
        if store.read_only:
            raise StorageError(f"{store.db_path}: {store.read_only_reason}: cannot recalibrate")
        before = rec.meta.calibration
        uid = rec.meta.device.uid
        cals = open_calibrations(args.db, store)  # nothing of its own to close
        if args.calibration is not None:
            cal = cals.get(args.calibration).calibration
        else:
            latest = cals.latest(uid)
            if latest is None:
                raise BadInput(f"no stored calibration for device '{uid}' in {store.db_path}")
            cal = latest
        info = cal.to_info()
        holds, alerts = recalibrate(store, args.session, info)  # type: ignore[arg-type]
    print(f"session {args.session}: calibration {before.source} → {info.source} "
          f"({info.counts_per_n:.2f} counts/N, zero {info.offset_counts:.0f})")  # fmt: skip
    print(f"holds: {len(holds)}  alerts: {len(alerts)}")
    return 0
