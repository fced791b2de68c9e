"""Client pseudonyms: the next free client code, and text that looks like it identifies a
person (a name, an e-mail address, a date of birth, a phone or ID number).

Pure logic (no I/O, no Qt), shared by the record dialog and the command line. The checks
are heuristics that ask for a confirmation, never a refusal: a clinic may have good
reasons for a code that happens to look like a date.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

CLIENT_CODE_PREFIX = "C-"
CLIENT_CODE_DIGITS = 4
ANONYMOUS = "anonymous"
"""What the record dialog offers instead of an empty client or therapist field."""

_CODE = re.compile(rf"{re.escape(CLIENT_CODE_PREFIX)}(\d+)", re.IGNORECASE)
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]{2,}")
_MONTHS = (
    "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|january|february|march|april|june|july|"
    "august|september|october|november|december"
)
_DATES = (
    re.compile(r"(?<!\d)\d{1,2}[./-]\d{1,2}[./-](?:\d{2}|\d{4})(?!\d)"),  # 12.03.1980, 3/12/80
    re.compile(r"(?<!\d)(?:1[89]|20)\d\d[./-]\d{1,2}[./-]\d{1,2}(?!\d)"),  # 1980-03-12
    re.compile(rf"(?<!\d)\d{{1,2}}\.?\s*(?:{_MONTHS})\.?,?\s*\d{{2,4}}(?!\d)", re.IGNORECASE),
    re.compile(rf"\b(?:{_MONTHS})\.?\s+\d{{1,2}},?\s+\d{{4}}(?!\d)", re.IGNORECASE),
)
_LONG_NUMBER = re.compile(r"(?<![\w-])\+?\d(?:[\s./-]?\d){6,}")
_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['’.-](?=[^\W\d_]))*")


def next_client_code(existing: Iterable[str | None]) -> str:
    """The code after the highest ``C-nnnn`` in ``existing`` (``C-0001`` for none)."""
    numbers = [int(m.group(1)) for c in existing if c and (m := _CODE.fullmatch(c.strip()))]
    return f"{CLIENT_CODE_PREFIX}{max(numbers, default=0) + 1:0{CLIENT_CODE_DIGITS}d}"


def _capitalised(word: str) -> bool:
    """``Jane``, ``O'Neil``, ``Smith-Jones``: an upper-case letter, then a lower-case one."""
    return word[0].isupper() and any(ch.islower() for ch in word[1:])


def _strip_dates(text: str) -> str:
    for pattern in _DATES:
        text = pattern.sub(" ", text)
    return text


def identifying_reasons(text: str | None) -> list[str]:
    """Why ``text`` may identify a person; empty when it looks like a pseudonym.

    Flags two or more capitalised words (``Jane Smith``), an e-mail address, a date
    (``12.03.1980``, ``1980-03-12``, ``12 March 1980``) and a long number (phone, ID).
    """
    if not text or not text.strip():
        return []
    reasons = []
    if sum(_capitalised(w) for w in _WORD.findall(text)) >= 2:
        reasons.append("looks like a personal name")
    if _EMAIL.search(text):
        reasons.append("contains an e-mail address")
    if any(p.search(text) for p in _DATES):
        reasons.append("contains a date (of birth?)")
    if _LONG_NUMBER.search(_strip_dates(text)):
        reasons.append("contains a long number (phone or ID number?)")
    return reasons
