"""`pressure-logger simulate`: serve the simulated device on a pty or a TCP port.

``--pty`` prints the pty path as the first line of output; ``--tcp HOST:PORT`` prints
``socket://HOST:PORT`` (the URL to give ``--port``). Both serve until SIGTERM/SIGINT.
``--tcp`` listens on loopback only: another HOST (``0.0.0.0``, a LAN address) is refused
unless ``--allow-remote`` says the listener is meant for other machines.
The scenario is validated before anything is served (a malformed one exits with code 2,
naming the file, step and key).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import sys
import threading
import time
import urllib.parse

import serial

from ..errors import BadInput, DeviceError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate",
        help="serve the simulated device on a pty or TCP port",
        description="Serve the simulated device (same bytes as the firmware) on a pty or a "
        "TCP port until killed.",
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--pty", action="store_true", help="serve on a new pty; prints its path")
    where.add_argument(
        "--tcp", metavar="HOST:PORT", help="serve on TCP (HOST defaults to 127.0.0.1; PORT 0=any)"
    )
    p.add_argument(
        "--allow-remote", action="store_true",
        help="let --tcp listen on a non-loopback address (other machines can connect)",
    )  # fmt: skip
    p.add_argument(
        "--scenario", default="demo", metavar="FILE|NAME",
        help="scenario file or built-in name (demo, calibration, stress); default demo",
    )  # fmt: skip
    p.add_argument("--db", help="accepted like every command's; the simulator uses no library")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the scenario's)")
    p.add_argument(
        "--speed", type=float, default=1.0,
        help="1 = real time (default), X = X times faster, 0 = as fast as the client reads",
    )  # fmt: skip
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
        help="override a scenario key, e.g. --set corrupt=0.001 --set unplug_at_s=20 "
        "(any sim:// query key: [faults], [device] and [therapist] keys)",
    )  # fmt: skip
    p.set_defaults(run=run)


def parse_tcp(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT``, ``PORT`` or ``[v6]:PORT`` → (host, port)."""
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "", text
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise BadInput(f"--tcp: expected HOST:PORT with PORT 0..65535, got {text!r}")
    return host, port


def is_loopback(host: str) -> bool:
    """``localhost``, ``127.x.x.x`` or ``::1`` (names other than localhost are not trusted:
    they may resolve to any interface)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def sim_url(
    scenario: str, seed: int | None, speed: float, settings: list[str] | None = None
) -> str:
    query = {"scenario": scenario, "speed": repr(speed)}
    if seed is not None:
        query["seed"] = str(seed)
    for item in settings or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or key.strip() in ("scenario", "speed", "seed"):
            raise BadInput(f"--set: expected KEY=VALUE for a scenario key, got {item!r}")
        query[key.strip()] = value.strip()
    return f"sim://simulate-{os.getpid()}?{urllib.parse.urlencode(query)}"


def run(args: argparse.Namespace) -> int:
    import firmware_protocol  # noqa: F401  (registers sim://)
    from firmware_protocol.sim.protocol_sim import MAX_SPEED, SimUrl
    from firmware_protocol.sim.scenario import ScenarioError, builtin_names, load_scenario
    from firmware_protocol.sim.server import PtyServer, TcpServer

    if args.seed is not None and args.seed < 0:
        raise BadInput(f"--seed: expected an integer >= 0, got {args.seed}")
    if not 0 <= args.speed <= MAX_SPEED:
        raise BadInput(f"--speed: expected a number 0..{MAX_SPEED:g}, got {args.speed}")
    scenario = args.scenario
    if scenario not in builtin_names() and os.path.isfile(scenario):
        scenario = os.path.abspath(scenario)  # the URL must not depend on our cwd
    url = sim_url(scenario, args.seed, args.speed, args.settings)
    try:
        load_scenario(scenario)  # refuse a malformed scenario before serving anything …
        SimUrl.parse(url)  # … and malformed --set values
    except ScenarioError as exc:
        raise BadInput(str(exc)) from None
    tcp = parse_tcp(args.tcp) if args.tcp else None
    if tcp is not None and not args.allow_remote and not is_loopback(tcp[0]):
        raise BadInput(
            f"--tcp {args.tcp}: {tcp[0]} is not a loopback address; add --allow-remote to "
            "let other machines connect"
        )
    if tcp is None and not hasattr(os, "openpty"):
        raise DeviceError("--pty needs a POSIX system (Linux, macOS); use --tcp HOST:PORT")

    stop = threading.Event()
    # A handler runs in the main thread between any two of its steps, perhaps inside
    # stop.wait() holding the event's own lock: it must take no lock (stop.set() does, and
    # the process hung on SIGTERM), so it only notes the signal; the loop below acts on it.
    signalled: list[int] = []
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, _frame: signalled.append(signum))
    try:
        port = serial.serial_for_url(url, timeout=0.05)
    except serial.SerialException as exc:
        raise DeviceError(f"cannot start the simulated device: {exc}") from None
    if tcp is None:
        pty_server = PtyServer(port, stop)
        server: PtyServer | TcpServer = pty_server
        first_line = pty_server.path
    else:
        try:
            server = TcpServer(port, tcp[0], tcp[1], stop)
        except OSError as exc:
            port.close()
            raise DeviceError(f"--tcp {args.tcp}: cannot listen: {exc.strerror or exc}") from None
        host, bound = server.address
        first_line = f"socket://{'[' + host + ']' if ':' in host else host}:{bound}"
    print(first_line, flush=True)
    print(
        f"serving scenario '{args.scenario}' at speed {args.speed:g}; Ctrl-C to stop",
        file=sys.stderr, flush=True,
    )  # fmt: skip
    try:
        while not signalled and not stop.is_set():
            time.sleep(0.1)
    finally:
        server.close()
    return 0
