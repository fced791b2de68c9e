"""Writing a file so that it appears complete or not at all, readable only by its owner.

Sessions hold health data: every file the program writes (library, configuration,
exports, reports) is created with mode :data:`PRIVATE_FILE_MODE` and every directory it
creates with :data:`PRIVATE_DIR_MODE` (POSIX; Windows keeps its per-user ACLs).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
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
    """Yield a temporary path; write the whole file there; it is delivered to ``path``
    only when the block succeeds.

    - A regular file (or a new one) is replaced atomically: the temporary lives beside it,
      is synced to disk and renamed onto it, with mode :data:`PRIVATE_FILE_MODE` (exports
      and reports hold health data: a replaced file does not keep a wider mode).
    - A symbolic link is followed: its final target is replaced the same way and the link
      stays a link.
    - Anything else that exists (a FIFO, a character device such as ``/dev/stdout``) is
      written through: the finished temporary is copied into it, as ``cat > path`` would.

    When the block fails the temporary is removed and ``path`` is left as it was; nothing
    reaches a FIFO or device. An ``OSError`` (from the block, the sync, the rename or the
    copy) becomes a one-line :class:`DeviceError` naming ``path``; other exceptions pass
    through unchanged.
    """
    shown = Path(path)
    try:
        st: os.stat_result | None = os.stat(shown)  # follows symlinks
    except OSError:
        st = None
    through = st is not None and not stat.S_ISREG(st.st_mode)  # a FIFO, device, directory …
    # written through by the given name (/dev/stdout → /proc/self/fd/1 → "pipe:[…]" has no
    # name of its own); replaced at the end of any symlinks (even a dangling one)
    target = shown if through else Path(os.path.realpath(shown))
    if through and st is not None and stat.S_ISDIR(st.st_mode):
        raise DeviceError(f"{shown}: cannot write (is a directory)")
    try:
        # mkstemp creates it 0600 whatever the umask; a FIFO or device is staged in the
        # temporary directory (/dev itself may be read-only), a file beside its target
        fd, name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".part", dir=None if through else target.parent
        )
        os.close(fd)
        tmp = Path(name)
    except OSError as exc:
        raise DeviceError(f"{shown}: cannot write ({exc.strerror or exc})") from None
    try:
        yield tmp
        if through:
            with open(tmp, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            tmp.unlink()
            return
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, DeviceError):
            raise DeviceError(f"{shown}: cannot write ({exc.strerror or exc})") from exc
        raise
