"""`pressure-logger record`: a headless recording from any port to the session library.

Stops after ``--duration`` seconds of device time, when a simulated scenario ends, or on
Ctrl-C / SIGTERM, and always finalises the session. Progress goes to the terminal (stderr,
only when it is one); the last line on stdout is the session id. At a terminal, Enter marks
the next point.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import select
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

from ..cli import add_db_argument
from ..errors import BadInput, DeviceError, StorageError
from ..paths import add_config_argument

if TYPE_CHECKING:
    from ..config import Config
    from ..live import LiveTap
    from ..records import ProtocolKind

CALIBRATION_MAX_AGE_DAYS = 30


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("record", help="record a session from a device (no GUI)")
    p.add_argument("--port", required=True, help="device, pyserial URL or sim://…")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="device-time length")
    add_db_argument(p)
    add_config_argument(p)
    p.add_argument("--points", help='point plan, e.g. "Upper trapezius L;Upper trapezius R"')
    p.add_argument("--client", help="client code, e.g. C-0042 (a pseudonym, not a name)")
    p.add_argument(
        "--pseudonym-confirmed", action="store_true",
        help="keep a --client value that looks like a name, e-mail or date of birth",
    )  # fmt: skip
    p.add_argument("--therapist", help="therapist or trainee name")
    p.add_argument("--notes", help="free-text notes")
    p.add_argument(
        "--ppt-round", choices=("pre", "post"),
        help="a pressure-pain threshold round: the session starts with it (t 0)",
    )  # fmt: skip
    p.add_argument(
        "--drill", metavar="NAME|FILE",
        help="a training drill (built-in name or TOML file) starts with the session: "
        "each hold is its next trial",
    )  # fmt: skip
    p.add_argument(
        "--profile", action="store_true",
        help="the configuration's [profile] (guided loading) starts with the session",
    )  # fmt: skip
    add_lsl_argument(p)
    p.set_defaults(run=run)


def add_lsl_argument(parser: argparse.ArgumentParser) -> None:
    """``--lsl``, shared by ``record`` and ``gui``."""
    parser.add_argument(
        "--lsl", action="store_true",
        help="also publish the force and its marks live on the Lab Streaming Layer "
        "(LabRecorder records them into XDF)",
    )  # fmt: skip


def _starting_protocols(
    args: argparse.Namespace, config: Config
) -> list[tuple[ProtocolKind, dict]]:
    """The protocols the session starts with, at its t 0 (checked before the device)."""
    from ..config import Profile
    from ..drills import check_scorable, load_drill
    from ..records import ProtocolKind

    protocols: list[tuple[ProtocolKind, dict]] = []
    if args.ppt_round:
        protocols.append((ProtocolKind.ROUND, {"label": args.ppt_round}))
    if args.drill is not None:
        drill = load_drill(args.drill)
        check_scorable(drill, config.holds.onset_n, args.drill)
        protocols.append((ProtocolKind.DRILL, drill.to_dict()))
    if args.profile:
        profile = Profile.from_config(config)
        if profile is None:
            raise BadInput("--profile: the configuration has no [profile] table")
        protocols.append((ProtocolKind.PROFILE, profile.to_dict()))
    return protocols


class _Terminate(Exception):
    pass


def _raise_terminate(signum, frame):  # noqa: ARG001
    raise _Terminate


def typed_lines(stream: TextIO) -> queue.SimpleQueue[str]:
    """The lines typed on ``stream`` (each Enter), as they come, without their line end.

    They are read on a daemon thread (``select`` cannot wait on a console on Windows; a
    thread can), straight from the file descriptor, so that no line waits in a buffer. The
    thread ends with the stream, or with the program."""
    lines: queue.SimpleQueue[str] = queue.SimpleQueue()
    fd = stream.fileno()

    def read() -> None:
        pending = b""
        with contextlib.suppress(OSError, ValueError):  # a stream closed under us
            while True:
                if os.name == "posix":  # read only what was typed: a job in the background
                    select.select([fd], [], [])  # that reads its terminal is stopped
                data = os.read(fd, 4096)
                if not data:
                    return
                *typed, pending = (pending + data).split(b"\n")
                for line in typed:
                    lines.put(line.decode(errors="replace").rstrip("\r"))

    threading.Thread(target=read, name="record:keys", daemon=True).start()
    return lines


def _enter_pressed(keys: queue.SimpleQueue[str], timeout_s: float) -> bool:
    """Whether Enter was pressed, waiting up to ``timeout_s`` for it."""
    try:
        keys.get(timeout=timeout_s)
    except queue.Empty:
        return False
    return True


def _calibration_warning(live) -> str | None:
    from ..live import UNCALIBRATED_TEXT

    cal = live.calibration
    if cal is None:
        return None
    if not cal.is_calibrated:
        how = f"pressure-logger calibrate --port {live.port} --masses-kg 0,0.5,1,2"
        return f"warning: {UNCALIBRATED_TEXT}; calibrate it with `{how}`"
    if cal.source.startswith("factory"):
        return "warning: no stored calibration for this device here; using the one it reports"
    if cal.created_at:
        with contextlib.suppress(ValueError):
            created = datetime.fromisoformat(cal.created_at)
            if created.tzinfo is None:
                created = created.replace(tzinfo=UTC)
            age = (datetime.now(UTC) - created).days
            if age > CALIBRATION_MAX_AGE_DAYS:
                return f"warning: this device's calibration is {age} days old; recalibrate"
    return None


def run(args: argparse.Namespace) -> int:
    # heavy imports here, so that `pressure-logger --help` and `gui` (which shares
    # add_lsl_argument) stay quick
    from ..config import load_config, parse_points_arg
    from ..link.acquisition import stall_timeout_s
    from ..live import LiveSession
    from ..paths import startup_config
    from ..privacy import identifying_reasons
    from ..recalibrate import redetect_events
    from ..records import MarkSource
    from ..store import check_writable, session_exists

    reasons = identifying_reasons(args.client)
    if reasons and not args.pseudonym_confirmed:
        raise BadInput(
            f"--client {args.client!r} {' and '.join(reasons)}; use a code such as C-0042, "
            "or add --pseudonym-confirmed to keep it"
        )
    if args.duration is not None and not args.duration > 0:
        raise BadInput(f"--duration must be a positive number of seconds, not {args.duration}")
    # an explicit --config must exist (record never saves one); else what the app saved
    config = load_config(args.config) if args.config else startup_config(args.port)
    points = parse_points_arg(args.points) if args.points is not None else config.points
    db = args.db
    check_writable(db, redetect_events)  # a read-only, broken or foreign one: before the device
    tty = sys.stderr.isatty()
    at_keyboard = sys.stdin is not None and sys.stdin.isatty()  # Enter marks the next point

    taps: list[LiveTap] = []
    if args.lsl:
        from ..lsl import LslOutlet  # pylsl only when asked for (DeviceError if missing)

        taps.append(LslOutlet())
    protocols = _starting_protocols(args, config)
    live = LiveSession(args.port, config, db_path=db, points=points, record_limit_s=args.duration,
                       taps=taps)  # fmt: skip
    old_term = signal.signal(signal.SIGTERM, _raise_terminate)
    sid: str | None = None
    stalled: str | None = None
    try:
        live.arm_recording(client=args.client, therapist=args.therapist, notes=args.notes,
                           points=points, protocols=protocols)  # fmt: skip
        live.start()
        if not live.wait_ready(timeout_s=15.0) or live.error is not None:
            live.stop()
            err = live.error
            if isinstance(err, BadInput | DeviceError):
                raise err
            raise DeviceError(f"no device on '{args.port}': {err or 'handshake timed out'}")
        warning = _calibration_warning(live)
        if warning:
            print(warning, file=sys.stderr)
        sid = live.recording_id
        # --duration is device time; a device that stops sending cannot be allowed to hold
        # the command: the host clock ends it once the device is a stall limit behind.
        host_deadline = (
            time.monotonic() + args.duration + stall_timeout_s(live.device.rate_hz)
            if args.duration is not None and live.device is not None
            else None
        )
        keys = typed_lines(sys.stdin) if at_keyboard else None
        if keys is not None:
            print("recording; Enter = mark / next point, Ctrl-C = stop", file=sys.stderr)
        last_progress = 0.0
        while live.running and not live.finished.is_set() and live.storage_error is None:
            if host_deadline is not None and time.monotonic() > host_deadline:
                why = live.state_detail or "no samples"
                stalled = (
                    f"the device stopped sending ({live.state}: {why}); stopped at the "
                    f"--duration limit with {live.recording_elapsed_s:.1f} s recorded"
                )
                break
            if keys is None:
                time.sleep(0.05)
            elif _enter_pressed(keys, 0.05):
                mark = live.mark(MarkSource.CLI)
                point = live.plan.current
                print(f"\rmark at {mark.t_s:.2f} s: {point.name if point else '-'}",
                      file=sys.stderr)  # fmt: skip
            if tty and time.monotonic() - last_progress > 0.25:
                last_progress = time.monotonic()
                c = live.counters
                print(
                    f"\r{live.state:<12} t={live.recording_elapsed_s:8.1f} s  "
                    f"samples={c.samples:<9d} lost={c.lost_samples:<5d} "
                    f"force={live.current_force_n:7.2f} N  holds={len(live.holds)}",
                    end="", file=sys.stderr, flush=True,
                )  # fmt: skip
    except (KeyboardInterrupt, _Terminate):
        pass  # a deliberate stop: live.stop() below finalises the session as complete
    finally:
        signal.signal(signal.SIGTERM, old_term)
        stored: StorageError | None = None
        try:
            live.stop()
        except StorageError as exc:  # the storage failed: what was kept is in the message
            stored = exc
        if tty:
            print(file=sys.stderr)
    if sid is None:
        return 1
    if stored is not None:
        if not stored.gone and session_exists(db, sid):
            print(sid, flush=True)  # what was kept can be exported
        raise stored
    if not session_exists(db, sid):
        raise StorageError(f"{db}: session {sid} is not in the library (deleted or replaced)")
    failed = stalled is not None or live.error is not None and not live.finished.is_set()
    if failed:
        print(f"pressure-logger record: error: {stalled or live.error} (session {sid} kept)",
              file=sys.stderr)  # fmt: skip
    print(f"holds: {len(live.holds)}  alerts: {len(live.alerts)}  "
          f"lost samples: {live.counters.lost_samples}", file=sys.stderr)  # fmt: skip
    print(sid, flush=True)
    return 1 if failed else 0
