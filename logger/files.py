"""Writing a file so that it appears complete or not at all, readable only by its owner.

Sessions hold health data: every file the program writes (library, configuration,
exports, reports) is created with mode :data:`PRIVATE_FILE_MODE` and every directory it
creates with :data:`PRIVATE_DIR_MODE` (POSIX; Windows keeps its per-user ACLs).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import DeviceError

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Create directory ``path`` and its missing parents with mode 0700 (existing ones are
    left as they are: a shared parent such as ``~/.local/share`` is not ours to change)."""
    target = Path(path)
    missing: list[Path] = []
    for parent in (target, *target.parents):
        if parent.exists():
            break
        missing.append(parent)
    for directory in reversed(missing):
        directory.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
        os.chmod(directory, PRIVATE_DIR_MODE)  # mkdir's mode is filtered by the umask
    return target


def private_file(path: str | os.PathLike[str]) -> bool:
    """Create ``path`` empty with mode 0600 (its missing directories 0700) unless it exists.

    Returns True when it was created. SQLite gives a library's WAL and SHM files the
    library's own mode, so creating the library this way keeps all three private.
    """
    target = Path(path)
    private_dir(target.parent)
    try:
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE_MODE))
    except FileExistsError:
        return False
    return True


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (mkstemp: mode 0600); write the file there.

    When the block succeeds the temporary is synced to disk and renamed to ``path``; when
    it fails the temporary is removed and ``path`` is left as it was. An ``OSError`` (from
    the block, the sync or the rename) becomes a one-line :class:`DeviceError` naming
    ``path``; other exceptions pass through unchanged.
    """
    target = Path(path)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise DeviceError(f"{target}: cannot write ({exc.strerror or exc})") from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, DeviceError):
            raise DeviceError(f"{target}: cannot write ({exc.strerror or exc})") from exc
        raise
