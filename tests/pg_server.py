"""A throw-away PostgreSQL cluster for tests (and ``python -m tests.pg_server``).

``initdb`` in a temporary directory, the server listening only on a Unix socket in that
directory (no TCP port at all), stopped and deleted at the end. PostgreSQL refuses to run
as root, and CI runs as root: then the cluster belongs to a system user ``pltest``
(created with ``useradd -r`` when missing; ``nobody`` if that fails).

Authentication: the superuser ``postgres`` connects without a password over the socket
(trust, for the fixtures); every other role needs its password (scram-sha-256), so that
the tests see wrong passwords refused as a real school server would refuse them.

The binaries are looked up on ``PATH`` and in Debian's ``/usr/lib/postgresql/*/bin``
(the ``postgresql`` package installs them there, off ``PATH``).

``initdb`` is most of the cost of a cluster, so the processes of one test run share a
pristine one (:func:`shared_template`) and each cluster is a copy of it.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

SUPERUSER = "postgres"
UNPRIVILEGED = "pltest"
LOCAL_CONF = "pl_test.conf"  # included by postgresql.conf
TEMPLATE_NOTE = "pg-template"  # in a run's shared directory: the template's data directory


def find_bin_dir() -> Path | None:
    """The directory with ``initdb``, ``pg_ctl`` and ``postgres``, or None (the newest
    Debian cluster version wins over an older one)."""
    found = shutil.which("initdb")
    candidates = [Path(found).resolve().parent] if found else []
    candidates += [
        Path(p)
        for p in sorted(
            glob.glob("/usr/lib/postgresql/*/bin"),
            key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
            reverse=True,
        )
    ]
    for d in candidates:
        if all((d / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return d
    return None


def _run_as_user() -> str | None:
    """The user the cluster runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(UNPRIVILEGED)
        return UNPRIVILEGED
    except KeyError:
        pass
    done = subprocess.run(
        ["useradd", "-r", "-M", "-s", "/usr/sbin/nologin", UNPRIVILEGED],
        capture_output=True,
        text=True,
    )
    if done.returncode == 0 or "already exists" in done.stderr:
        return UNPRIVILEGED
    return "nobody"


class PgServer:
    """One cluster: ``start()``, ``stop()`` (restartable on the same data), ``close()``;
    a copy of ``template`` (a data directory) when given, else made by ``initdb``."""

    def __init__(self, bin_dir: Path | None = None, template: Path | None = None) -> None:
        found = bin_dir or find_bin_dir()
        if found is None:
            raise FileNotFoundError("PostgreSQL's initdb/pg_ctl/postgres not found")
        self.bin_dir = found
        self.user = _run_as_user()
        self.root = Path(tempfile.mkdtemp(prefix="pl-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root  # short: a socket path must fit in 107 bytes
        self.log = self.root / "server.log"
        self.port = 5432  # names the socket file only: listen_addresses is empty
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        os.chmod(self.root, 0o755)  # the socket must be reachable by the tests' user
        try:
            if template is None:
                self._initdb()
            else:
                self._as_user("cp", "-a", str(template), str(self.data))
            self._configure()
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        self.running = False

    # ----------------------------------------------------------------- commands
    def _check(self, *argv: str, timeout: float = 120) -> None:
        self._as_user(str(self.bin_dir / argv[0]), *argv[1:], timeout=timeout)

    def _as_user(self, *argv: str, timeout: float = 120) -> None:
        cmd = list(argv) if self.user is None else ["runuser", "-u", self.user, "--", *argv]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            log_tail = ""
            with contextlib.suppress(OSError):
                log_tail = "\n".join(self.log.read_text().splitlines()[-10:])
            raise RuntimeError(f"{Path(argv[0]).name} failed: {' | '.join(tail)}\n{log_tail}")

    def _initdb(self) -> None:
        self._check(
            "initdb", "-D", str(self.data), "-U", SUPERUSER, "-E", "UTF8", "--locale=C",
            "--auth=trust", "--no-sync",
        )  # fmt: skip
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"\ninclude '{LOCAL_CONF}'\n")

    def _configure(self) -> None:
        """This cluster's own settings (a copy of a template gets its own socket)."""
        (self.data / "pg_hba.conf").write_text(  # first match wins; no TCP lines at all
            f"local all {SUPERUSER} trust\nlocal all all scram-sha-256\n"
        )
        (self.data / LOCAL_CONF).write_text(
            "listen_addresses = ''\n"
            f"unix_socket_directories = '{self.socket_dir}'\n"
            f"port = {self.port}\n"
            "fsync = off\nfull_page_writes = off\n"
            "max_connections = 60\nshared_buffers = 64MB\n"
        )

    def start(self) -> None:
        if self.running:
            return
        self._check("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                    "start")  # fmt: skip
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate``: as if it crashed or the network went)."""
        if not self.running:
            return
        self._check("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
        self.running = False

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PgServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --------------------------------------------------------------------- URLs
    def url(self, dbname: str = "postgres", user: str = SUPERUSER, password: str = "") -> str:
        """A ``postgresql://`` URL reaching this server through its socket directory."""
        auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
        host = quote(str(self.socket_dir), safe="")
        return f"postgresql://{auth}@{host}:{self.port}/{quote(dbname, safe='')}"

    def psql_env(self) -> dict[str, str]:
        return {"PGHOST": str(self.socket_dir), "PGPORT": str(self.port), "PGUSER": SUPERUSER}

    def create_database(self, name: str) -> str:
        """A new, empty database owned by the superuser; returns its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def shared_template(run_dir: Path) -> Path:
    """The data directory of a pristine cluster (never started) for the clusters of one
    test run to copy: made by the first process that asks, under a lock in ``run_dir``
    (a directory every process of the run shares); :func:`remove_template` deletes it."""
    with open(run_dir / f"{TEMPLATE_NOTE}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        note = run_dir / TEMPLATE_NOTE
        if note.is_file() and (Path(note.read_text()) / "PG_VERSION").is_file():
            return Path(note.read_text())
        template = PgServer()
        note.write_text(str(template.data))
        return template.data


def remove_template(run_dir: Path) -> None:
    note = run_dir / TEMPLATE_NOTE
    if note.is_file():
        shutil.rmtree(Path(note.read_text()).parent, ignore_errors=True)
        note.unlink()


@contextlib.contextmanager
def running_server() -> Iterator[PgServer]:
    server = PgServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


def _wait_forever() -> None:  # pragma: no cover - a developer's helper
    with running_server() as server:
        print(f"PostgreSQL running: {server.url()}  (Ctrl-C stops and deletes it)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":  # pragma: no cover
    _wait_forever()
