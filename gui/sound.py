"""Chime and alarm sounds without QtMultimedia (PySide6-Essentials does not ship it).

The tones are synthesised once into small WAV files and played asynchronously by the
platform's own player: ``winsound`` on Windows, ``afplay`` on macOS, ``paplay`` /
``pw-play`` / ``aplay`` on Linux. Where none exists the system bell
(``QApplication.beep()``) is the fallback. Playing never blocks the GUI thread: the player
runs as a child process (or winsound's async flag) and finished players are reaped on the
next call.

The alarm always wins: it cuts off a chime (or an earlier alarm) still sounding, while a
chime asked for during an alarm is skipped (and noted in ``skipped``). The window repeats
the alarm every ``ALARM_REPEAT_S`` while the force stays over the level.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
import wave
from enum import StrEnum
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QApplication

log = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 22050
_PLAYERS = ("paplay", "pw-play", "aplay", "afplay")
ALARM_REPEAT_S = 2.0
_DEFAULT = object()


class Sound(StrEnum):
    CHIME = "chime"  # hold target reached: soft two-tone
    ALARM = "alarm"  # over a limit: three sharp beeps


def _tone(freqs_hz: list[float], seconds: float, gap_s: float, volume: float) -> np.ndarray:
    """Concatenated sine bursts with short fades (no clicks), int16 mono."""
    n = int(seconds * SAMPLE_RATE_HZ)
    t = np.arange(n) / SAMPLE_RATE_HZ
    fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)
    silence = np.zeros(int(gap_s * SAMPLE_RATE_HZ))
    parts = []
    for f in freqs_hz:
        parts += [np.sin(2 * np.pi * f * t) * fade * volume, silence]
    return (np.concatenate(parts) * 32767).astype(np.int16)


def write_wav(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE_HZ)
        w.writeframes(samples.tobytes())


class Sounder:
    """Plays the chime and the alarm, unless muted.

    ``played`` logs every sound started (muted ones are not), ``skipped`` the chimes not
    played because an alarm was sounding. ``player`` names the command that plays a WAV
    file (default: the first of paplay / pw-play / aplay / afplay found; None: the bell).
    """

    def __init__(self, muted: bool = False, player: str | None | object = _DEFAULT) -> None:
        self.muted = muted
        self.played: list[Sound] = []
        self.skipped: list[Sound] = []
        self._dir = tempfile.TemporaryDirectory(prefix="pressure-logger-sounds-")
        self._files = {
            Sound.CHIME: Path(self._dir.name) / "chime.wav",
            Sound.ALARM: Path(self._dir.name) / "alarm.wav",
        }
        write_wav(self._files[Sound.CHIME], _tone([880.0, 1320.0], 0.18, 0.05, 0.35))
        write_wav(self._files[Sound.ALARM], _tone([1760.0, 1760.0, 1760.0], 0.12, 0.06, 0.6))
        if player is _DEFAULT:
            player = None if sys.platform == "win32" else self._find_player()
        self._player: str | None = player  # type: ignore[assignment]
        self._children: list[tuple[subprocess.Popen, Sound]] = []

    @staticmethod
    def _find_player() -> str | None:
        for name in _PLAYERS:
            path = shutil.which(name)
            if path:
                return path
        return None

    @property
    def backend(self) -> str:
        if sys.platform == "win32" and self._player is None:
            return "winsound"
        return Path(self._player).name if self._player else "QApplication.beep"

    @property
    def sounding(self) -> list[Sound]:
        """What the player processes are still playing."""
        self._reap()
        return [sound for _, sound in self._children]

    def play(self, sound: Sound) -> None:
        if self.muted:
            return
        self._reap()
        if sound == Sound.ALARM:
            for child, _ in self._children:  # the alarm pre-empts whatever is sounding
                child.terminate()
        elif self._children:  # a chime never interrupts (nor stacks on) a sound
            self.skipped.append(sound)
            return
        self.played.append(sound)
        try:
            if sys.platform == "win32" and self._player is None:
                import winsound

                # SND_ASYNC replaces whatever is playing: the alarm cuts a chime short
                flags = winsound.SND_FILENAME | winsound.SND_ASYNC
                winsound.PlaySound(str(self._files[sound]), flags)
            elif self._player:
                child = subprocess.Popen(
                    [self._player, str(self._files[sound])],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                self._children.append((child, sound))
            else:
                QApplication.beep()
        except OSError as exc:  # no audio device: the banner still shows
            log.warning("could not play %s: %s", sound, exc)
            QApplication.beep()

    def _reap(self) -> None:
        self._children = [(p, s) for p, s in self._children if p.poll() is None]

    def close(self) -> None:
        for p, _ in self._children:
            if p.poll() is None:
                p.terminate()
            p.wait(timeout=2)
        self._children = []
        self._dir.cleanup()
