"""pyserial URL handler for the simulated device: ``sim://[NAME]?key=value&…``.

``import firmware_protocol`` registers it, after which ``serial.serial_for_url("sim://…")``
returns this ``Serial``. Query keys: ``scenario`` (a built-in name or a file path; default
``demo``), ``speed`` (1 = real time, the default; X = X times real time; 0 = as fast as the
reader reads), ``seed``, ``uid``, ``boot_s`` (the board ignores the host for that many
host seconds after the port opens), every ``[faults]`` key (``corrupt``, ``drop``,
``unplug_at_s``, ``unplug_for_s``, ``clock_ppm``), any ``[device]``/``[therapist]`` key,
and ``treated`` (the ``[patient]`` is the one after a treatment).

Like a real board: the device lives in a module-level registry keyed by the URL. Its
sampling clock runs from the first open, streaming or not. A clean ``close()`` forgets it
(an Arduino resets when its port is opened again), but after an unplug the same URL finds
the same device again, whose clock went on. While unplugged, ``open``/``read``/``write``
raise ``serial.SerialException`` like a vanished OS port.

Device time: at ``speed`` > 0 it follows ``time.monotonic()`` since the first open
(× speed, × the clock error ``clock_ppm``); the device is advanced when it has something to
send (``SimDevice.next_send_us``) or is written to, and a blocking read sleeps until then
(or until a write from another thread gives it an answer to read). At ``speed=0`` bytes
are produced on demand (``read``/``in_waiting`` advance device time as far as needed; they
never wait) and an unplug keeps the port away for min(unplug_for_s, 0.5) host seconds while
device time jumps by exactly ``unplug_for_s``.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

import serial
from serial.serialutil import PortNotOpenError, SerialBase, SerialException

from .interface import SimDevice
from .model import US_PER_S
from .scenario import ON_OFF, QUERY_KEYS, Scenario, ScenarioError, check_value, load_scenario

log = logging.getLogger(__name__)

SPEED0_AWAY_MAX_S = 0.5  # at speed 0 an unplug keeps the port away at most this long
SPEED0_CHUNK_BYTES = 4096  # how much in_waiting produces at once at speed 0 (an OS buffer)
SPEED0_IDLE_HEARTBEAT_S = 1.0  # at speed 0 an idle device sends a heartbeat per host second
_LINK_KEYS = {"scenario", "speed", "boot_s", "loop"}
MAX_SPEED = 100.0  # faster than this, use speed=0 (as fast as the host reads)
MAX_BOOT_S = 60.0
_LINK_CHECKS = {
    "speed": ((int, float), lambda v: 0 <= v <= MAX_SPEED, f"a number 0..{MAX_SPEED:g}"),
    "boot_s": ((int, float), lambda v: 0 <= v <= MAX_BOOT_S, f"a number 0..{MAX_BOOT_S:g}"),
}


@dataclass
class SimUrl:
    """A parsed ``sim://`` URL."""

    url: str
    name: str
    scenario: str = "demo"
    speed: float = 1.0
    boot_s: float = 0.0
    loop: bool = False  # the scenario starts over when it ends, as long as the port is used
    overrides: dict[str, object] = field(default_factory=dict)

    @classmethod
    def parse(cls, url: str) -> SimUrl:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme.lower() != "sim":
            raise SerialException(f"expected a sim:// URL, got {url!r}")
        out = cls(url=url, name=parts.netloc + parts.path)
        for key, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
            if key == "scenario":
                out.scenario = value or "demo"
            elif key == "loop":
                out.loop = check_value(url, key, _flag(value), ON_OFF)
            elif key in ("speed", "boot_s"):
                setattr(out, key, check_value(url, key, _number(value), _LINK_CHECKS[key]))
            elif key in QUERY_KEYS:
                check = QUERY_KEYS[key]
                v = value if key == "uid" else _flag(value) if check is ON_OFF else _number(value)
                out.overrides[key] = check_value(url, key, v, check)
            else:
                known = ", ".join(sorted(_LINK_KEYS | set(QUERY_KEYS)))
                raise ScenarioError(f"{url}: unknown key '{key}' (known: {known})")
        return out


def _flag(text: str) -> object:
    """``1/true/yes`` and ``0/false/no`` as a bool (anything else is left for the check)."""
    return {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}.get(
        text.lower(), text
    )


def _number(text: str) -> object:
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def device_us_per_host_s(speed: float, clock_ppm: float) -> float:
    """How many device µs pass in a host second: the device runs ``speed`` times faster
    than real time and its crystal is off by ``clock_ppm``."""
    return speed * (1 + clock_ppm * 1e-6) * US_PER_S


def device_time_us(host_elapsed_s: float, speed: float, clock_ppm: float) -> int:
    """Device clock (µs since power-on) after ``host_elapsed_s`` host seconds."""
    return int(host_elapsed_s * device_us_per_host_s(speed, clock_ppm))


class _Link:
    """One registered device and how its clock relates to the host's."""

    def __init__(self, url: SimUrl, scenario: Scenario) -> None:
        self.url = url
        self.device = SimDevice(scenario, loop=url.loop)
        self.lock = threading.RLock()
        self.speed = url.speed
        self.ppm = scenario.faults.clock_ppm
        self.host_t0 = time.monotonic()
        self.away_until = 0.0  # speed 0: host time until which the port stays away
        self.last_idle_beat = -SPEED0_IDLE_HEARTBEAT_S  # speed 0: host time of the last one
        self.port: Serial | None = None

    def sync(self, *, exact: bool = False) -> None:
        """speed > 0: advance device time to the host clock, once the device has something
        to send by then (``exact``: in any case, e.g. before it hears a command)."""
        if self.speed > 0:
            elapsed_s = time.monotonic() - self.host_t0
            t_us = device_time_us(elapsed_s, self.speed, self.ppm)
            if exact or t_us >= self.device.next_send_us():
                self.device.advance_to_us(t_us)

    def next_send_s(self) -> float:
        """The host time at which the device next sends something (at speed 0: an idle
        one's next heartbeat; a streaming one never waits)."""
        if self.speed == 0:
            return self.last_idle_beat + SPEED0_IDLE_HEARTBEAT_S
        rate = device_us_per_host_s(self.speed, self.ppm)
        return self.host_t0 + (self.device.next_send_us() + 1) / rate

    def present(self) -> bool:
        """Is the port there (not unplugged)?"""
        if self.speed > 0:
            self.sync()
            return not self.device.unplugged
        return time.monotonic() >= self.away_until

    def produce(self, want_bytes: int) -> bool:
        """speed 0: advance device time until about ``want_bytes`` more are waiting (at
        least one frame). An idle device (not streaming) moves on by one heartbeat, one
        second of device time, at most once per host second, so that a host waiting for
        it is not flooded. False if nothing was produced."""
        dev = self.device
        if not dev.streaming:
            now = time.monotonic()
            if now - self.last_idle_beat < SPEED0_IDLE_HEARTBEAT_S:
                return False
            self.last_idle_beat = now
        if dev.streaming:
            per_frame = 16 + 3 * dev.channels * dev.batch_samples + 4
            frames = max(1, min(want_bytes // per_frame, 10 * dev.rate_hz // dev.batch_samples))
            step_us = frames * dev.batch_samples * US_PER_S // dev.rate_hz
        else:
            step_us = 1_000_000 - dev.now_us % 1_000_000  # to the next heartbeat
        target = dev.now_us + max(1, step_us)
        win = dev.unplug_window_us
        if win is not None and dev.now_us < win[0] < target:
            target = win[0]  # the host gets everything sent before the cable is pulled
        dev.advance_to_us(target)
        if dev.unplugged:
            win = dev.unplug_window_us
            assert win is not None
            dev.advance_to_us(win[1] - 1)  # the next sample is the first one after the outage
            self.away_until = time.monotonic() + min(
                (win[1] - win[0]) / US_PER_S, SPEED0_AWAY_MAX_S
            )
        return True


_REGISTRY: dict[str, _Link] = {}
# The EEPROM of each simulated board (by URL) that received a STORE_CAL: it survives the
# reset on the next open, as a real board's does, for as long as this process runs.
_EEPROM: dict[str, tuple[float, int]] = {}
_REGISTRY_LOCK = threading.Lock()


def registered_device(url: str) -> SimDevice | None:
    """The device a ``sim://`` URL currently refers to (for tests and tools)."""
    link = _REGISTRY.get(url)
    return link.device if link else None


def place_mass(url: str, mass_kg: float) -> bool:
    """The simulated calibration rig of the device at ``url`` puts ``mass_kg`` (in total)
    on its sensor; False if no such device is powered on."""
    link = _REGISTRY.get(url)
    if link is None:
        return False
    with link.lock:
        link.sync(exact=True)
        link.device.model.place_mass(mass_kg)
    return True


class Serial(SerialBase):
    """A pyserial port onto a simulated device (see the module docstring)."""

    BAUDRATES = SerialBase.BAUDRATES

    is_open: bool

    def __init__(self, *args, **kwargs) -> None:
        self._link: _Link | None = None
        self._lost = False
        self._boot_until = 0.0
        self._wake = threading.Event()  # a blocking read should look again
        self._cancelled = False  # ... and return
        super().__init__(*args, **kwargs)

    # ---------------------------------------------------------------- open/close

    def open(self) -> None:
        if self.is_open:
            raise SerialException("Port is already open.")
        if self._port is None:
            raise SerialException("Port must be configured before it can be used.")
        parsed = SimUrl.parse(self._port)
        with _REGISTRY_LOCK:
            link = _REGISTRY.get(parsed.url)
            if link is None:
                scenario = load_scenario(parsed.scenario).with_overrides(**parsed.overrides)
                link = _Link(parsed, scenario)
                if parsed.url in _EEPROM:
                    dev = link.device
                    dev.cal_counts_per_n, dev.cal_offset_counts = _EEPROM[parsed.url]
                _REGISTRY[parsed.url] = link
                log.debug("sim device %s powered on for %s", link.device.uid, parsed.url)
            with link.lock:
                if link.port is not None and link.port.is_open and not link.port._lost:
                    raise SerialException(f"could not open port {self._port}: busy")
                if not link.present():
                    raise SerialException(
                        f"could not open port {self._port}: no such device (unplugged)"
                    )
                link.port = self
                self._link = link
                self._lost = False
                self._cancelled = False
                self._wake.clear()
                self._boot_until = time.monotonic() + parsed.boot_s
                if parsed.boot_s <= 0:
                    link.device.attach()
                else:
                    link.device.detach()
        self.is_open = True

    def close(self) -> None:
        link = self._link
        if link is not None:
            with _REGISTRY_LOCK, link.lock:
                if link.port is self:
                    link.port = None
                    if not self._lost:  # a clean close: the board resets on the next open
                        link.device.detach()
                        if link.device.cal_stored:
                            dev = link.device
                            _EEPROM[link.url.url] = (dev.cal_counts_per_n, dev.cal_offset_counts)
                        _REGISTRY.pop(link.url.url, None)
        self._link = None
        self.is_open = False
        self.cancel_read()  # a read blocked in another thread returns

    # ---------------------------------------------------------------- the device

    @property
    def sim_device(self) -> SimDevice:
        """The simulated device behind this port (tests, ``record`` at scenario end)."""
        if self._link is None:
            raise PortNotOpenError()
        return self._link.device

    def _check(self) -> _Link:
        """The link, or SerialException if the port vanished. Call with no lock held."""
        if not self.is_open or self._link is None:
            raise PortNotOpenError()
        link = self._link
        if self._lost:
            raise SerialException(f"device reports readiness to read but returned no data "
                                  f"(device disconnected or multiple access on port?) "
                                  f"[{self._port}]")  # fmt: skip
        return link

    def _booting(self, link: _Link) -> bool:
        if self._boot_until and time.monotonic() < self._boot_until:
            return True
        if self._boot_until:
            self._boot_until = 0.0
            with link.lock:
                link.sync()
                if not link.device.unplugged:
                    link.device.attach()
        return False

    def _sync_locked(self, link: _Link, *, exact: bool = False) -> None:
        link.sync(exact=exact)
        if not link.device.attached and not self._boot_until:
            self._lost = True

    # ---------------------------------------------------------------- I/O

    @property
    def in_waiting(self) -> int:
        link = self._check()
        if self._booting(link):
            return 0
        with link.lock:
            self._sync_locked(link)
            if self._lost:
                raise SerialException(f"{self._port}: device disconnected")
            dev = link.device
            if link.speed == 0 and dev.out_waiting == 0:
                link.produce(SPEED0_CHUNK_BYTES)
                if not dev.attached:
                    self._lost = True
                    raise SerialException(f"{self._port}: device disconnected")
            return dev.out_waiting

    def read(self, size: int = 1) -> bytes:
        link = self._check()
        timeout = self._timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        buf = bytearray()
        while len(buf) < size and self.is_open:
            if self._booting(link):
                if not self._wait(deadline, self._boot_until):
                    break
                continue
            with link.lock:
                self._sync_locked(link)
                if self._lost:
                    if buf:  # hand over what arrived before the port vanished
                        break
                    raise SerialException(f"{self._port}: device disconnected")
                dev = link.device
                buf += dev.read_output(size - len(buf))
                if len(buf) >= size:
                    break
                if link.speed == 0:
                    if buf and not dev.streaming:
                        break  # an idle device: return what there is
                    produced = link.produce(size - len(buf))
                    if not dev.attached:
                        self._lost = True
                    if produced:
                        continue
                until = link.next_send_s()
            if not self._wait(deadline, until):
                break
        return bytes(buf)

    def _wait(self, deadline: float | None, until: float) -> bool:
        """Sleep until ``until``, the deadline, or a wake-up (a write from another thread,
        a cancel); False when the read should return."""
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return False
        if deadline is not None:
            until = min(until, deadline)
        self._wake.wait(max(0.0, until - now))
        self._wake.clear()
        if self._cancelled:
            self._cancelled = False
            return False
        return True

    def write(self, data: bytes) -> int:
        link = self._check()
        data = bytes(data)
        if self._booting(link):
            return len(data)  # the board is still booting: it hears nothing
        with link.lock:
            self._sync_locked(link, exact=True)  # a command is heard at the current time
            if self._lost:
                raise SerialException(f"write failed: {self._port}: device disconnected")
            link.device.receive(data)
            if link.device.out_waiting:
                self._wake.set()  # an answer for a read blocked in another thread
        return len(data)

    def reset_input_buffer(self) -> None:
        link = self._check()
        with link.lock:
            link.device.read_output(link.device.out_waiting)

    def reset_output_buffer(self) -> None:
        self._check()

    def cancel_read(self) -> None:
        self._cancelled = True
        self._wake.set()

    def cancel_write(self) -> None:
        pass

    def flush(self) -> None:
        self._check()

    @property
    def out_waiting(self) -> int:
        return 0

    # modem lines and settings: nothing to configure on a simulated port
    def _reconfigure_port(self) -> None:
        pass

    def _update_rts_state(self) -> None:
        pass

    def _update_dtr_state(self) -> None:
        pass

    def _update_break_state(self) -> None:
        pass

    @property
    def cts(self) -> bool:
        return True

    @property
    def dsr(self) -> bool:
        return True

    @property
    def ri(self) -> bool:
        return False

    @property
    def cd(self) -> bool:
        return True


__all__ = ["Serial", "SimUrl", "registered_device", "serial"]
