"""`pressure-logger calibrate` — calibrate a device with known masses (README, command line).

Guided: asks for each (stacked) mass in turn, shows the reading settling, accepts it on
Enter once stable. ``--auto``: for each listed mass, accepts the next stable plateau that
differs from the previously accepted one (simulator, scripted rigs). Prints the fit and its
residuals and stores it under the device's uid in the session library; every later session
of that device uses it. Nothing is stored unless every mass was accepted and the fit is
plausible (``calibration.models.check_fit``); the session library is not even created
before then. A linear calibration is also written into a device that reports
``Capability.EEPROM_CAL`` (STORE_CAL), so it reads in newtons on other hosts too.
"""

from __future__ import annotations

import argparse
import os
import queue
import sys
import threading
import time
from pathlib import Path

from ..cli import add_db_argument
from ..errors import BadInput, DeviceError

NO_DATA_S = 10.0  # host seconds without a sample before the device counts as gone
STORE_CAL_FLUSH_S = 0.5  # host seconds the reader gets to write STORE_CAL before it stops
SQLITE_HEADER = b"SQLite format 3\x00"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate",
        help="calibrate a device with known masses (stacked weights)",
        description="Fit a calibration from known masses and store it under the device uid.",
    )
    p.add_argument("--port", required=True, help="device, pyserial URL or sim://…")
    p.add_argument(
        "--masses-kg",
        required=True,
        metavar="LIST",
        help="total mass on the sensor at each step, comma-separated, e.g. 0,0.5,1,2",
    )
    p.add_argument(
        "--auto",
        action="store_true",
        help="accept each next stable plateau that differs from the previous one",
    )
    add_db_argument(p)
    p.add_argument(
        "--window-s",
        type=float,
        default=1.0,
        help="how long a reading must stay steady to be accepted, 0.1..30 (default 1.0)",
    )
    p.add_argument(
        "--timeout-s",
        type=float,
        default=60.0,
        help="device seconds to wait for each mass to settle (default 60)",
    )
    p.set_defaults(run=run)


def _stdin_lines(out: queue.SimpleQueue) -> None:
    """Reader thread for Enter presses (None on end of input)."""
    for line in sys.stdin:
        out.put(line)
    out.put(None)


def check_db_path(path: Path) -> None:
    """Fail early on a --db the calibration could not be stored in, without creating or
    changing anything: BadInput (exit 2) when it is not an SQLite file, DeviceError (exit 1)
    when it cannot be written or created."""
    if path.exists():
        if not path.is_file():
            raise BadInput(f"{path}: not a file (--db must be an SQLite database file)")
        try:
            with path.open("rb") as f:
                header = f.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise DeviceError(f"{path}: {exc.strerror or exc}") from None
        if header and header != SQLITE_HEADER:
            raise BadInput(f"{path}: not an SQLite database (--db)")
        if not os.access(path, os.W_OK):
            raise DeviceError(f"{path}: not writable (--db)")
        return
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise DeviceError(f"{path}: cannot be created, {parent} is not a writable directory")


def run(args: argparse.Namespace) -> int:
    from calibration.models import Calibration, check_fit
    from calibration.procedure import CalibrationProcedure, parse_masses
    from logger.store import CalibrationStore

    from ..link.acquisition import Acquisition, Collector
    from ..live import device_store

    masses = parse_masses(args.masses_kg)
    if not 0.1 <= args.window_s <= 30:  # shorter cannot tell a plateau from noise
        raise BadInput(f"--window-s: {args.window_s} must be in [0.1, 30] seconds")
    if not args.timeout_s > args.window_s:
        raise BadInput(f"--timeout-s: {args.timeout_s} must be longer than --window-s")
    db_path = args.db
    check_db_path(db_path)  # a bad --db fails before the device; created only to store
    tty = sys.stderr.isatty()

    keys: queue.SimpleQueue | None = None
    if not args.auto:  # Enter presses are read from now on: one typed early is not lost
        # behind a device that streams at once (a simulator at speed 0 is seconds ahead
        # before a thread started later reads its first key)
        keys = queue.SimpleQueue()
        threading.Thread(target=_stdin_lines, args=(keys,), daemon=True).start()
    collector = Collector()
    blocks = collector.blocks
    acq = Acquisition(args.port, collector, reconnect=True)
    acq.start()
    try:
        if not acq.wait_ready(timeout_s=15.0) or acq.device is None:
            acq.stop()
            err = acq.error
            if isinstance(err, BadInput | DeviceError):
                raise err
            raise DeviceError(f"no device on '{args.port}': {err or 'handshake timed out'}")
        device, identity = acq.device, acq.identity
        factory = (
            Calibration.factory(identity.counts_per_n, identity.offset_counts)
            if identity is not None
            else None
        )
        if factory is not None and not factory.is_calibrated:
            print(f"device {device.uid} has no calibration stored (a fresh board): "
                  "reading raw counts", file=sys.stderr)  # fmt: skip
            factory = None
        early: list = []
        rate_hz = device.rate_hz or _measure_rate_hz(blocks, acq, early)
        proc = CalibrationProcedure(
            masses,
            rate_hz,
            auto=args.auto,
            window_s=args.window_s,
            timeout_s=args.timeout_s,
            factory=factory,
        )
        print(f"device {device.uid} ({device.adc}, {rate_hz:g} Hz)", file=sys.stderr)
        if factory is not None:
            print(f"factory calibration: {factory.describe()}", file=sys.stderr)
        _collect(proc, acq, blocks, keys, tty, early)

        fit = proc.fit()
        for line in fit.report_lines():
            print(line)
        check_fit(fit)  # a clearly wrong fit: one-line reason, exit 2, nothing stored
        if factory is not None:
            # what the factory calibration made of this fit's full scale and of zero force
            fs_counts = fit.calibration.n_to_counts(fit.full_scale_n)
            fs_err = (float(factory.counts_to_n(fs_counts)) / fit.full_scale_n - 1.0) * 100.0
            zero_n = float(factory.counts_to_n(fit.calibration.offset_counts))
            print(f"factory    read {fs_err:+.2f} % at full scale and {zero_n:+.3f} N at zero "
                  "(corrected from now on)")  # fmt: skip
        store = CalibrationStore(db_path)
        cal_id = store.save(device.uid, fit)
        print(f"stored calibration {cal_id} for device {device.uid} in {store.db_path}")
        command, text = device_store(identity, fit.calibration)
        if command is not None:
            acq.send(command)
            time.sleep(STORE_CAL_FLUSH_S)  # the reader writes queued commands between reads
        print(text)
    finally:
        acq.stop()
    return 0


def _measure_rate_hz(blocks: queue.SimpleQueue, acq, seen: list) -> float:
    """Text-mode devices do not say their rate: measure it over ~1 s of host-timed samples
    (the blocks used stay in ``seen``, to be fed first)."""
    deadline = time.monotonic() + NO_DATA_S
    while time.monotonic() < deadline:
        try:
            seen.append(blocks.get(timeout=0.1))
        except queue.Empty:
            continue
        n = sum(len(b) for b in seen)
        span_s = float(seen[-1].t_s[-1] - seen[0].t_s[0])
        if n >= 20 and span_s >= 1.0:
            return (n - 1) / span_s
    raise DeviceError(f"too few samples from '{acq.port}' to tell its sampling rate")


def _prompt(proc) -> None:
    m = proc.current_mass_kg
    if m is None:
        return
    if proc.auto:
        print(f"waiting for {m:g} kg …", file=sys.stderr)
    else:
        what = "remove all weights (sensor unloaded)" if m == 0 else f"place {m:g} kg in total"
        print(f"[{proc.current_index + 1}/{len(proc.masses_kg)}] {what}, then press Enter "
              "(accepted once the reading is stable)", file=sys.stderr)  # fmt: skip


def _status(proc, tty: bool) -> None:
    if not tty:
        return
    bar_n = 20
    filled = int(round(proc.progress * bar_n))
    state = "stable  " if proc.stable is not None else "settling"
    force = proc.current_force_n()
    if force is not None:
        reading = f"{force:8.3f} N (factory)"
    elif proc.last_raw is not None:
        reading = f"{proc.last_raw:10.0f} counts"
    else:
        reading = "no samples yet"
    wait = "  waiting to settle…" if proc.waiting else ""
    print(f"\r  {state} [{'#' * filled}{'.' * (bar_n - filled)}] {reading}{wait}   ",
          end="", file=sys.stderr, flush=True)  # fmt: skip


def _collect(proc, acq, blocks, keys, tty: bool, early: list) -> None:
    """Feed blocks to the procedure until every mass is accepted."""
    from calibration.models import CalibrationError

    from ..link.acquisition import LinkState

    _prompt(proc)
    last_data = time.monotonic()
    last_status = 0.0
    while not proc.done:
        if early:
            block = early.pop(0)
        else:
            try:
                block = blocks.get(timeout=0.1)
            except queue.Empty:
                block = None
        if block is not None:
            last_data = time.monotonic()
            before = proc.current_index
            accepted = proc.feed(block.t_s, block.raw)
            _report(accepted, tty)
            if proc.current_index != before:
                _prompt(proc)
        elif acq.state is LinkState.FAILED or not acq.running:
            err = acq.error
            if isinstance(err, BadInput | DeviceError):
                raise err
            raise DeviceError(f"device on '{acq.port}' stopped before calibration finished")
        elif time.monotonic() - last_data > NO_DATA_S and acq.state is LinkState.STREAMING:
            raise DeviceError(f"no samples from '{acq.port}' for {NO_DATA_S:g} s")
        elif time.monotonic() - last_data > NO_DATA_S and acq.state is LinkState.ENDED:
            # a simulated device played its whole script: nothing more will come (an Enter
            # for the last plateau had NO_DATA_S to arrive)
            raise DeviceError(
                f"'{acq.port}' played its whole scenario before calibration finished "
                f"({len(proc.accepted)} of {len(proc.masses_kg)} masses)"
            )
        # one Enter per mass; typed-ahead presses wait until the armed mass is accepted
        while keys is not None and proc.last_raw is not None and not proc.waiting:
            if proc.done or keys.empty():
                break
            if keys.get_nowait() is None:
                raise CalibrationError(
                    f"input ended after {len(proc.accepted)} of {len(proc.masses_kg)} "
                    "masses (guided mode needs Enter for each; use --auto for rigs)"
                )
            point = proc.request_accept()
            if point is not None:
                _report([point], tty)
                _prompt(proc)
        if time.monotonic() - last_status > 0.1:
            last_status = time.monotonic()
            _status(proc, tty)
    if tty:
        print(file=sys.stderr)


def _report(points, tty: bool) -> None:
    for p in points:
        r = p.reading
        if tty:
            print(file=sys.stderr)
        print(f"accepted {p.mass_kg:g} kg: {r.value_counts:.1f} counts "
              f"(± {r.stderr_counts:.1f}, t={r.t_s:.2f} s)", file=sys.stderr)  # fmt: skip
