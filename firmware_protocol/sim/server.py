"""Serve a simulated device where any serial tool can reach it: a pty or a TCP port.

Both take an open pyserial port onto the device (normally ``sim://…``; a URL string is
opened for you) and pump bytes both ways in two threads, so the device is the very same
one ``sim://`` gives in-process. At ``speed=0`` the pty/socket buffers are the back-
pressure: the device runs exactly as fast as the client reads.

If the simulated device is unplugged (``unplug_at_s``), the pump sees the port vanish,
goes quiet, and reopens the same ``sim://`` URL once the device is back (its clock went
on), so the client sees silence and then an index jump, like a flaky USB cable.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import socket
import threading
from collections.abc import Callable

import serial
from serial.serialutil import SerialBase

log = logging.getLogger(__name__)

READ_CHUNK = 65536
POLL_S = 0.05
REOPEN_INTERVAL_S = 0.05


class _PortHolder:
    """The device port, reopened after an unplug."""

    def __init__(self, port: SerialBase | str, stop: threading.Event) -> None:
        import firmware_protocol  # noqa: F401  (registers sim://)

        if isinstance(port, str):
            port = serial.serial_for_url(port, timeout=POLL_S)
        elif port.timeout is None or port.timeout > POLL_S:
            port.timeout = POLL_S
        self.port = port
        self.url = port.port
        self._stop = stop
        self._lock = threading.Lock()

    def _reopen(self, broken: SerialBase) -> None:
        with self._lock:
            if self.port is not broken:
                return
            log.info("device on %s vanished; waiting for it", self.url)
            with contextlib.suppress(Exception):
                broken.close()
            while not self._stop.is_set():
                try:
                    self.port = serial.serial_for_url(self.url, timeout=POLL_S)
                    log.info("device on %s is back", self.url)
                    return
                except serial.SerialException:
                    self._stop.wait(REOPEN_INTERVAL_S)

    def read(self) -> bytes:
        port = self.port
        try:
            return port.read(max(1, min(port.in_waiting, READ_CHUNK)))
        except serial.SerialException:
            self._reopen(port)
            return b""

    def write(self, data: bytes) -> None:
        port = self.port
        try:
            port.write(data)
        except serial.SerialException:
            self._reopen(port)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.port.close()


def _write_all(
    fd: int, data: bytes, send: Callable[[memoryview], int], stop: threading.Event
) -> bool:
    """Write everything, waiting for the other side to drain; False if stopped/closed."""
    view = memoryview(data)
    while view and not stop.is_set():
        _, writable, _ = select.select([], [fd], [], POLL_S)
        if not writable:
            continue
        try:
            n = send(view)
        except BlockingIOError:
            continue
        except OSError as exc:
            log.debug("pump write ended: %s", exc)
            return False
        view = view[n:]
    return not view


class _Server:
    """Two pump threads between a device port and a file descriptor."""

    def __init__(self, port: SerialBase | str, stop: threading.Event | None) -> None:
        self.stop_event = stop or threading.Event()
        self.device = _PortHolder(port, self.stop_event)
        self._threads: list[threading.Thread] = []

    def _start(self, name: str, target: Callable[[], None]) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(t)
        t.start()

    def close(self) -> None:
        """Stop the pumps and close the device port."""
        self.stop_event.set()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(2.0)
        self.device.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PtyServer(_Server):
    """The device on a pseudo-terminal; ``path`` (the slave, e.g. /dev/pts/7) is what
    users open. The slave stays open here too, so clients may come and go."""

    def __init__(self, port: SerialBase | str, stop: threading.Event | None = None) -> None:
        import tty  # POSIX only (TcpServer works on Windows too)

        super().__init__(port, stop)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no CR/LF translation: a binary link
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self._start(f"pty-out:{self.path}", self._device_to_pty)
        self._start(f"pty-in:{self.path}", self._pty_to_device)

    def _device_to_pty(self) -> None:
        stop = self.stop_event
        while not stop.is_set():
            data = self.device.read()
            if data and not _write_all(
                self._master, data, lambda b: os.write(self._master, b), stop
            ):
                return

    def _pty_to_device(self) -> None:
        stop = self.stop_event
        while not stop.is_set():
            readable, _, _ = select.select([self._master], [], [], POLL_S)
            if not readable:
                continue
            try:
                data = os.read(self._master, READ_CHUNK)
            except BlockingIOError:
                continue
            except OSError as exc:
                if exc.errno == errno.EIO:  # no client side open right now
                    stop.wait(POLL_S)
                    continue
                raise
            if data:
                self.device.write(data)

    def close(self) -> None:
        super().close()
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class TcpServer(_Server):
    """The device on a TCP port (one client at a time; the device lives on between
    clients). Binds only to ``host`` (loopback by default)."""

    def __init__(
        self,
        port: SerialBase | str,
        host: str = "127.0.0.1",
        tcp_port: int = 0,
        stop: threading.Event | None = None,
    ) -> None:
        super().__init__(port, stop)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((host, tcp_port))
        except OSError:
            self._sock.close()
            raise
        self._sock.listen(1)
        self._sock.settimeout(POLL_S)
        self.address: tuple[str, int] = self._sock.getsockname()[:2]
        self._start(f"tcp-accept:{self.address[1]}", self._accept_loop)

    def _accept_loop(self) -> None:
        stop = self.stop_event
        while not stop.is_set():
            try:
                conn, peer = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            log.info("TCP client %s connected", peer)
            conn.setblocking(False)
            gone = threading.Event()
            t = threading.Thread(target=self._to_client, args=(conn, gone), daemon=True)
            t.start()
            self._from_client(conn, gone)
            t.join()
            with contextlib.suppress(OSError):
                conn.close()
            log.info("TCP client %s left", peer)

    def _to_client(self, conn: socket.socket, gone: threading.Event) -> None:
        while not (gone.is_set() or self.stop_event.is_set()):
            data = self.device.read()
            if data and not _write_all(conn.fileno(), data, conn.send, gone):
                gone.set()

    def _from_client(self, conn: socket.socket, gone: threading.Event) -> None:
        while not (gone.is_set() or self.stop_event.is_set()):
            readable, _, _ = select.select([conn], [], [], POLL_S)
            if not readable:
                continue
            try:
                data = conn.recv(READ_CHUNK)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                gone.set()
                return
            self.device.write(data)

    def close(self) -> None:
        self.stop_event.set()
        with contextlib.suppress(OSError):
            self._sock.close()
        super().close()


__all__ = ["PtyServer", "TcpServer"]
