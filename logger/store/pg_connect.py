"""``postgresql://`` URLs: recognise, check, connect, and turn failures into one line.

Credentials come from the URL, ``PGPASSFILE`` (``~/.pgpass``) or the ``PG*`` environment
variables, as libpq reads them; nothing here stores or prints a password (messages show
the URL without it). Exit codes follow the command line: a malformed URL or a refused
login is bad input (:class:`BadInput`, 2); a server that cannot be reached or goes away is
a server failure (:class:`ServerError`, 1).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import psycopg

from ..errors import BadInput, DeviceError
from .urls import is_url, redacted

CONNECT_TIMEOUT_S = 10


class ServerError(DeviceError):
    """The school server cannot be reached, went away or failed a statement (exit 1)."""


def check_url(url: str) -> str:
    """``url`` if libpq can parse it; BadInput naming what is wrong otherwise."""
    if not is_url(url):
        raise BadInput(f"{url!r}: not a postgresql:// URL")
    try:
        psycopg.conninfo.conninfo_to_dict(url)
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except (psycopg.ProgrammingError, ValueError) as exc:
        why = _first_line(exc).replace(url, redacted(url))  # libpq quotes the URL
        if "@" in url and url.split("@", 1)[0] in why:
            why = "cannot parse it"
        raise BadInput(f"{redacted(url)}: bad URL ({why})") from None
    return url


def _first_line(exc: BaseException) -> str:
    """The reason in libpq's message, on one line (without the addresses it tried, its
    hints or the severity prefix)."""
    text = str(exc).strip().removeprefix("connection failed: ")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    failed = [line for line in lines if " failed: " in line]
    reason = failed[-1].split(" failed: ", 1)[1] if failed else (lines or [""])[0]
    reason = re.sub(r"^(FATAL|ERROR):\s+", "", reason.strip())
    return reason or type(exc).__name__


def connect_error(url: str, exc: psycopg.Error) -> DeviceError | BadInput:
    """One line for a failed connection: a refused login is bad input, the rest exit 1."""
    why = _first_line(exc)
    low = str(exc).lower()
    if "password authentication failed" in low or "no password supplied" in low:
        return BadInput(f"{redacted(url)}: login refused ({why})")
    if "does not exist" in low and ("database" in low or "role" in low):
        return BadInput(f"{redacted(url)}: {why}")
    return ServerError(f"{redacted(url)}: cannot reach the server ({why})")


def connect(url: str, *, autocommit: bool = True) -> psycopg.Connection:
    """A connection to the server at ``url`` (credentials as libpq finds them)."""
    check_url(url)
    try:
        return psycopg.connect(
            url,
            autocommit=autocommit,
            connect_timeout=int(os.environ.get("PGCONNECT_TIMEOUT") or CONNECT_TIMEOUT_S),
            application_name="pressure-logger",
        )
    except psycopg.Error as exc:
        raise connect_error(url, exc) from None


def server_error(url: str, exc: psycopg.Error, doing: str) -> DeviceError:
    """One line for a statement that failed: the server went away, or refused."""
    why = _first_line(exc)
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return ServerError(f"{redacted(url)}: {doing}: not allowed ({why})")
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return ServerError(f"{redacted(url)}: {doing}: the server went away ({why})")
    return ServerError(f"{redacted(url)}: {doing}: {why}")


@contextlib.contextmanager
def on_server(url: str, doing: str) -> Iterator[None]:
    """Turn a psycopg error inside into one :class:`ServerError` line."""
    try:
        yield
    except psycopg.Error as exc:
        raise server_error(url, exc, doing) from None
