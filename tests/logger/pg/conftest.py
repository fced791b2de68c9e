"""A real PostgreSQL server for the school-library tests (tests/pg_server.py).

One throw-away cluster per test process (so one per pytest-xdist worker), a fresh
database per test; every cluster of a run is a copy of one made by ``initdb`` once.
Without PostgreSQL's binaries the tests skip, saying why, unless ``PL_REQUIRE_POSTGRES=1``
(CI), where that is a failure.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from logger.cli import main
from tests.pg_server import PgServer, find_bin_dir, shared_template

REQUIRE_ENV = "PL_REQUIRE_POSTGRES"


def in_process(capsys: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess:
    """The command in the test's process (a few tests run each command as a program, for
    exit codes and the absence of tracebacks): the same result, without an interpreter."""
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's refusals
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def _no_server(why: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{why} ({REQUIRE_ENV}=1)")
    pytest.skip(f"{why}: install Debian's postgresql package (or set {REQUIRE_ENV}=1 to fail)")


def run_dir(factory: pytest.TempPathFactory) -> Path:
    """The directory all processes of this test run share (tests/conftest.py cleans it)."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _server(factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    if find_bin_dir() is None:
        _no_server("PostgreSQL's initdb/pg_ctl not found")
    # started; stopped and deleted at the end
    with PgServer(template=shared_template(run_dir(factory))) as server:
        yield server


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    yield from _server(tmp_path_factory)


@pytest.fixture
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    """A server of the test's own, for tests that stop it."""
    yield from _server(tmp_path_factory)


@dataclass
class School:
    """A school library in a database of its own on ``server``."""

    server: PgServer
    dbname: str

    @property
    def url(self) -> str:  # the superuser's (row security does not apply)
        return self.server.url(self.dbname)

    def login(self, name: str, group: str, password: str = "secret-pw") -> str:
        """A login role in ``group`` (pl_trainee, pl_trainer, pl_admin); its URL."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.server.url(), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(
                sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(name), sql.Literal(password)
                )
            )
            conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group),
                                                          sql.Identifier(name)))  # fmt: skip
        return self.server.url(self.dbname, name, password)

    def scalar(self, query: str, *params: object) -> object:
        import psycopg

        with psycopg.connect(self.url) as conn:
            row = conn.execute(query, params).fetchone()
        return row[0] if row else None


def make_school(server: PgServer) -> School:
    from logger.store.pg_connect import connect
    from logger.store.pg_schema import init_schema

    name = f"school_{secrets.token_hex(4)}"
    server.create_database(name)
    school = School(server, name)
    conn = connect(school.url)
    try:
        init_schema(conn)
    finally:
        conn.close()
    return school


@pytest.fixture
def school(pg_server: PgServer) -> School:
    """A fresh school library (schema, roles, row security) in a new database."""
    return make_school(pg_server)


@pytest.fixture
def station(tmp_path: Path) -> Path:
    return tmp_path / "station.sqlite3"
