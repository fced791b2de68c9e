"""Suite-wide settings: Qt offscreen, hypothesis profile, a temporary database per test."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci")


@pytest.fixture
def db_path(tmp_path):
    """A fresh SQLite session library in a temporary directory."""
    return tmp_path / "sessions.sqlite3"
