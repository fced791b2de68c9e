"""Writing a file so that it appears complete or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import DeviceError


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; write the file there.

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
