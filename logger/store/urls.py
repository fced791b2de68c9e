"""School-library URLs, without a database driver: what ``--db`` looks like when it names a
server, and how messages show one (never with its password)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

SCHEMES = ("postgresql://", "postgres://")


def is_url(text: object) -> bool:
    """Whether ``--db`` names a server rather than a file (psycopg is imported only then:
    every command parses ``--db``)."""
    return isinstance(text, str) and text.lower().startswith(SCHEMES)


def redacted(url: str) -> str:
    """The URL without its password (for messages, logs and the audit trail)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "postgresql://…"
    netloc = parts.netloc
    if "@" in netloc:
        auth, host = netloc.rsplit("@", 1)
        if ":" in auth:
            auth = auth.split(":", 1)[0] + ":***"
        netloc = f"{auth}@{host}"
    query = re.sub(r"(?i)(password=)[^&]*", r"\1***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
