"""`pressure-logger recalibrate SESSION`: re-derive a past session's forces.

Raw counts are what a session stores, so a calibration found wrong afterwards can be
replaced: the session's calibration record changes and its holds and alerts are
recomputed from the raw data. The samples themselves are never touched.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recalibrate", help="re-derive a session's forces with another calibration")
    p.add_argument("session", metavar="SESSION", help="session id (see `sessions`)")
    p.add_argument(
        "--calibration", type=int, metavar="ID",
        help="a stored calibration id (default: the device's newest)",
    )  # fmt: skip
    p.add_argument("--db", help="session library (default: user data directory)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from calibration.store import CalibrationStore

    from ..errors import BadInput
    from ..store import SessionStore, default_db_path, recompute_events

    db = args.db or default_db_path()
    store = SessionStore(db)
    rec = store.load_session(args.session)  # unknown id: BadInput, nothing written
    before = rec.meta.calibration
    uid = rec.meta.device.uid
    cals = CalibrationStore(db)
    if args.calibration is not None:
        cal = cals.get(args.calibration).calibration
    else:
        newest = cals.latest(uid)
        if newest is None:
            raise BadInput(f"no stored calibration for device '{uid}' in {db}")
        cal = newest
    info = cal.to_info()
    store.set_calibration(args.session, info)
    holds, alerts = recompute_events(store, args.session)
    print(f"session {args.session}: calibration {before.source} → {info.source} "
          f"({info.counts_per_n:.2f} counts/N, zero {info.offset_counts:.0f})")  # fmt: skip
    print(f"holds: {len(holds)}  alerts: {len(alerts)}")
    return 0
