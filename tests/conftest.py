"""Suite-wide settings: Qt offscreen, hypothesis profile, a temporary database per test, and
the order tests are handed to pytest-xdist workers in.

Parallel runs (``make test`` uses pytest-xdist) are safe because nothing a test shares lives
outside its worker: each worker has its own temporary directory (``tmp_path``, and the user
directories below), ``sim://`` devices live in the worker's process, servers bind port 0,
every Xvfb picks a free display itself (``-displayfd``), and hypothesis's example database
is a directory that several processes may write at once. Two things are shared on purpose,
each behind a file lock in the run's temporary root: the firmware built once per run
(tests/firmware_protocol/avr_build.py) and the pristine PostgreSQL cluster the workers copy
(tests/pg_server.py)."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

from tests.cpu_per_test import ENV as CPU_ENV  # noqa: E402
from tests.cpu_per_test import CpuPerTest  # noqa: E402
from tests.pg_server import remove_template  # noqa: E402

settings.register_profile(
    "ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# make test-quick passes --hypothesis-profile=quick: fewer examples where a test does not
# set its own number (make test keeps "ci")
settings.register_profile("quick", parent=settings.get_profile("ci"), max_examples=20)
settings.load_profile("ci")


@pytest.fixture
def db_path(tmp_path):
    """A fresh SQLite session library in a temporary directory."""
    return tmp_path / "sessions.sqlite3"


@pytest.fixture(scope="session", autouse=True)
def own_user_dirs(tmp_path_factory):
    """The suite's own, empty per-user config and data directories: no test reads the
    configuration or the library of whoever runs it (subprocesses inherit them too)."""
    home = tmp_path_factory.mktemp("user")
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")
    os.environ["XDG_DATA_HOME"] = str(home / "data")
    for key in ("PRESSURE_LOGGER_CONFIG", "PRESSURE_LOGGER_DB"):
        os.environ.pop(key, None)
    yield home
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def pytest_configure(config):
    """``PL_TEST_CPU=FILE`` writes the CPU time of every test to FILE (``make test-cpu``)."""
    if out := os.environ.get(CPU_ENV):
        config.pluginmanager.register(CpuPerTest(Path(out).absolute()), "cpu-per-test")


def pytest_sessionfinish(session):
    """The run's pristine PostgreSQL cluster (tests/pg_server.py) goes when the whole run
    ends: in the process that started the workers, or the only one."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        remove_template(session.config._tmp_path_factory.getbasetemp())


def pytest_collection_modifyitems(config, items):
    """Under xdist, the tests marked ``slow`` go first (each worker collects the same order):
    a 20 s test handed out last would make everyone else wait for it at the end."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


ENV_KEYS = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "PRESSURE_LOGGER_CONFIG", "PRESSURE_LOGGER_DB")
