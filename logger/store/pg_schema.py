"""The school library's PostgreSQL schema: versioned migrations, group roles, row security.

Everything lives in the schema :data:`SCHEMA` of the database named by the URL, so the
library can share a database the school already runs. The tables mirror the SQLite
library (logger/store/library.py) so that a session reads back the same, field by field:
JSON columns stay text (byte for byte what the station stored), samples stay binary
chunks (``bytea``: little-endian float64 times and int32 counts), and the min/max summary
that makes an 8-hour overview cheap is copied along. Ordering columns (``seq``) replace
SQLite's rowids, and make every row of a synced session unique.

Who sees what (:func:`ensure_roles`, migration 1):

- ``pl_trainee``: reads, syncs and edits only sessions it owns (``sessions.owner`` is its
  login name); the samples and events of other sessions are invisible to it too.
- ``pl_trainer``: reads and edits every session, syncs any station's sessions.
- ``pl_admin``: everything, and the only role that deletes sessions and samples.

Trainees and trainers may replace the events of sessions they may edit (a recalibration
replaces holds and alerts; a re-sync the events a station changed), never samples.

Login roles are members of one of these group roles (``CREATE ROLE alice LOGIN PASSWORD
'…' IN ROLE pl_trainee``). Devices and calibrations are shared by all: they name no person.

Migrations: :data:`PG_MIGRATIONS` [i] takes the schema from version i to i + 1. Append,
never edit. :func:`init_schema` applies what is missing under an advisory lock, so two
``server init`` at once do the work once.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg import sql

SCHEMA = "pressure_logger"
TRAINEE, TRAINER, ADMIN = "pl_trainee", "pl_trainer", "pl_admin"
GROUP_ROLES = (TRAINEE, TRAINER, ADMIN)
_LOCK_KEY = 0x706C5F696E6974  # "pl_init": serialises concurrent `server init`

# child tables of sessions (each has session_pk, cascading on delete); version 1's …
V1_EVENT_TABLES = ("points", "marks", "holds", "alerts", "gaps", "reconnects", "zeros")
SAMPLE_TABLES = ("chunks", "summary")
# … and version 2's: clinical protocols (signals, pain ratings, protocol events)
PROTOCOL_TABLES = ("signals", "ratings", "protocols")
EVENT_TABLES = V1_EVENT_TABLES + PROTOCOL_TABLES
CHILD_TABLES = EVENT_TABLES + SAMPLE_TABLES
SHARED_TABLES = ("devices", "calibrations")

_V1_TABLES = f"""
CREATE TABLE {SCHEMA}.library_info (library_id text NOT NULL);
INSERT INTO {SCHEMA}.library_info (library_id) VALUES (gen_random_uuid()::text);
CREATE TABLE {SCHEMA}.sessions (
    pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text NOT NULL UNIQUE,
    owner name NOT NULL DEFAULT current_user,
    station text NOT NULL,
    started_at text NOT NULL,
    started_unix double precision NOT NULL,
    ended_at text,
    status text NOT NULL,
    client text,
    therapist text,
    notes text,
    device text NOT NULL,
    calibration text NOT NULL,
    config text NOT NULL,
    stats text,
    samples bigint NOT NULL DEFAULT 0,
    last_t_s double precision,
    checksum text NOT NULL,
    synced_by name NOT NULL DEFAULT current_user,
    synced_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_started ON {SCHEMA}.sessions (started_unix, id);
CREATE INDEX sessions_owner ON {SCHEMA}.sessions (owner);
CREATE INDEX sessions_therapist ON {SCHEMA}.sessions (therapist);
CREATE INDEX sessions_client ON {SCHEMA}.sessions (client);
CREATE TABLE {SCHEMA}.points (
    session_pk bigint NOT NULL REFERENCES {SCHEMA}.sessions (pk) ON DELETE CASCADE,
    idx integer NOT NULL,
    name text NOT NULL,
    data text NOT NULL,
    PRIMARY KEY (session_pk, idx)
);
CREATE INDEX points_name ON {SCHEMA}.points (name);
CREATE TABLE {SCHEMA}.marks (
    session_pk bigint NOT NULL REFERENCES {SCHEMA}.sessions (pk) ON DELETE CASCADE,
    seq integer NOT NULL,
    t_s double precision NOT NULL,
    point_index integer,
    source text NOT NULL,
    PRIMARY KEY (session_pk, seq)
);
CREATE TABLE {SCHEMA}.holds (
    session_pk bigint NOT NULL REFERENCES {SCHEMA}.sessions (pk) ON DELETE CASCADE,
    idx integer NOT NULL,
    point_index integer,
    point text,
    start_s double precision NOT NULL,
    end_s double precision NOT NULL,
    data text NOT NULL,
    PRIMARY KEY (session_pk, idx)
);
CREATE INDEX holds_point ON {SCHEMA}.holds (point);
CREATE TABLE {SCHEMA}.alerts (
    session_pk bigint NOT NULL REFERENCES {SCHEMA}.sessions (pk) ON DELETE CASCADE,
    seq integer NOT NULL,
    t_s double precision NOT NULL,
    kind text NOT NULL,
    value double precision NOT NULL,
    point_index integer,
    hold_index integer,
    PRIMARY KEY (session_pk, seq)
);
CREATE TABLE {SCHEMA}.gaps (
    session_pk bigint NOT NULL REFERENCES {SCHEMA}.sessions (pk) ON DELETE CASCADE,
    seq integer NOT NULL,
    start_s double precision NOT NULL,
    end_s double precision NOT NULL,
    lost_samples bigint NOT NULL,
    cause text NOT NULL,
    PRIMARY KEY (session_pk, seq)
);
CREATE TABLE {SCHEMA}.reconnects (
    session_pk bigint NOT NULL REFERENCES {SCHEMA}.sessions (pk) ON DELETE CASCADE,
    seq integer NOT NULL,
    at text NOT NULL,
    t_s double precision,
    PRIMARY KEY (session_pk, seq)
);
CREATE TABLE {SCHEMA}.zeros (
    session_pk bigint NOT NULL REFERENCES {SCHEMA}.sessions (pk) ON DELETE CASCADE,
    seq integer NOT NULL,
    t_s double precision NOT NULL,
    zero_counts double precision NOT NULL,
    source text NOT NULL,
    PRIMARY KEY (session_pk, seq)
);
CREATE TABLE {SCHEMA}.chunks (
    session_pk bigint NOT NULL REFERENCES {SCHEMA}.sessions (pk) ON DELETE CASCADE,
    seq integer NOT NULL,
    first_index bigint NOT NULL,
    n integer NOT NULL,
    channels integer NOT NULL,
    t0_s double precision NOT NULL,
    t1_s double precision NOT NULL,
    t_s bytea NOT NULL,
    raw bytea NOT NULL,
    PRIMARY KEY (session_pk, seq)
);
CREATE INDEX chunks_time ON {SCHEMA}.chunks (session_pk, t1_s);
CREATE TABLE {SCHEMA}.summary (
    session_pk bigint NOT NULL REFERENCES {SCHEMA}.sessions (pk) ON DELETE CASCADE,
    level smallint NOT NULL,
    bucket bigint NOT NULL,
    min_raw integer NOT NULL,
    max_raw integer NOT NULL,
    n integer NOT NULL,
    PRIMARY KEY (session_pk, level, bucket)
);
CREATE TABLE {SCHEMA}.devices (
    uid text PRIMARY KEY,
    info text NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE {SCHEMA}.calibrations (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    station text NOT NULL,
    local_id bigint NOT NULL,
    device_uid text NOT NULL,
    created_at text NOT NULL,
    model text NOT NULL,
    coefficients text NOT NULL,
    masses_kg text NOT NULL,
    counts text NOT NULL,
    residuals_n text NOT NULL,
    r2 double precision NOT NULL,
    nonlinearity_pct double precision NOT NULL,
    g double precision NOT NULL,
    note text,
    UNIQUE (station, local_id)
);
CREATE INDEX calibrations_by_device ON {SCHEMA}.calibrations (device_uid, created_at);
CREATE TABLE {SCHEMA}.audit (
    pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at text NOT NULL,
    "user" text NOT NULL,
    role name NOT NULL DEFAULT current_user,
    action text NOT NULL,
    sessions text NOT NULL,
    deidentified boolean NOT NULL DEFAULT false,
    detail text NOT NULL DEFAULT '{{}}'
);
"""


def _v1_security() -> str:
    """Grants and row-level security of version 1 (see the module docstring)."""
    s = SCHEMA
    everyone = ", ".join(GROUP_ROLES)
    parts = [
        f"GRANT USAGE ON SCHEMA {s} TO {everyone}",
        f"GRANT SELECT ON {s}.schema_version, {s}.library_info TO {everyone}",
        f"GRANT SELECT, INSERT, UPDATE ON {s}.sessions TO {TRAINEE}, {TRAINER}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {ADMIN}",
        f"GRANT SELECT, INSERT, UPDATE ON {s}.devices, {s}.calibrations TO {TRAINEE}, {TRAINER}",
        f"GRANT INSERT ON {s}.audit TO {TRAINEE}, {TRAINER}",
        f"GRANT SELECT ON {s}.audit TO {TRAINER}",
        # events are replaced (never samples): a recalibration, a re-sync of a session
        # whose notes or events changed on its station
        *(f"GRANT DELETE ON {s}.{t} TO {TRAINEE}, {TRAINER}" for t in V1_EVENT_TABLES),
        f"ALTER TABLE {s}.sessions ENABLE ROW LEVEL SECURITY",
        f"CREATE POLICY trainee_reads_own ON {s}.sessions FOR SELECT TO {TRAINEE} "
        "USING (owner = current_user)",
        f"CREATE POLICY trainee_adds_own ON {s}.sessions FOR INSERT TO {TRAINEE} "
        "WITH CHECK (owner = current_user)",
        f"CREATE POLICY trainee_edits_own ON {s}.sessions FOR UPDATE TO {TRAINEE} "
        "USING (owner = current_user) WITH CHECK (owner = current_user)",
        f"CREATE POLICY staff_all ON {s}.sessions FOR ALL TO {TRAINER}, {ADMIN} "
        "USING (true) WITH CHECK (true)",
    ]
    parts += _child_security(V1_EVENT_TABLES + SAMPLE_TABLES)
    parts.append(f"ALTER TABLE {s}.audit ENABLE ROW LEVEL SECURITY")
    parts.append(f"CREATE POLICY writes_own ON {s}.audit FOR INSERT TO {everyone} "
                 "WITH CHECK (role = current_user)")  # fmt: skip
    parts.append(f"CREATE POLICY staff_reads ON {s}.audit FOR SELECT TO {TRAINER}, {ADMIN} "
                 "USING (true)")  # fmt: skip
    return ";\n".join(parts)


def _child_security(tables: Sequence[str]) -> list[str]:
    """Grants and row-level security of child tables of sessions."""
    s = SCHEMA
    parts = []
    for table in tables:
        parts.append(f"GRANT SELECT, INSERT, UPDATE ON {s}.{table} TO {TRAINEE}, {TRAINER}")
        parts.append(f"ALTER TABLE {s}.{table} ENABLE ROW LEVEL SECURITY")
        # a trainee's child row is visible (and writable) exactly when its session is:
        # the sessions policies apply inside the subquery; staff see every row, without
        # a lookup per row (listing 10,000 sessions counts their holds)
        parts.append(
            f"CREATE POLICY of_own_session ON {s}.{table} FOR ALL TO {TRAINEE} "
            f"USING (EXISTS (SELECT 1 FROM {s}.sessions v WHERE v.pk = session_pk)) "
            f"WITH CHECK (EXISTS (SELECT 1 FROM {s}.sessions v WHERE v.pk = session_pk))"
        )
        parts.append(
            f"CREATE POLICY staff_all ON {s}.{table} FOR ALL TO {TRAINER}, {ADMIN} "
            "USING (true) WITH CHECK (true)"
        )
    return parts


def _event_table(name: str, columns: str) -> str:
    """A child table of events kept in the order the station read them (``seq``)."""
    return (
        f"CREATE TABLE {SCHEMA}.{name} (\n"
        f"    session_pk bigint NOT NULL REFERENCES {SCHEMA}.sessions (pk) ON DELETE CASCADE,\n"
        f"    seq integer NOT NULL,\n{columns},\n    PRIMARY KEY (session_pk, seq)\n)"
    )


def _v2_protocols() -> str:
    """Version 2: the clinical protocols' tables (as the station's), secured like the rest."""
    s = SCHEMA
    parts = [
        _event_table("signals", "    t_s double precision NOT NULL,\n    source text NOT NULL"),
        _event_table(
            "ratings",
            "    t_s double precision NOT NULL,\n    value double precision NOT NULL,\n"
            "    source text NOT NULL",
        ),
        _event_table(
            "protocols",
            "    t_s double precision NOT NULL,\n    kind text NOT NULL,\n    data text NOT NULL",
        ),
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(f'{s}.{t}' for t in PROTOCOL_TABLES)} "
        f"TO {ADMIN}",
        *(f"GRANT DELETE ON {s}.{t} TO {TRAINEE}, {TRAINER}" for t in PROTOCOL_TABLES),
        *_child_security(PROTOCOL_TABLES),
    ]
    return ";\n".join(parts)


# PG_MIGRATIONS[i] takes the school library from version i to version i + 1
PG_MIGRATIONS: list[str] = [_V1_TABLES + ";\n" + _v1_security(), _v2_protocols()]


def ensure_roles(conn: psycopg.Connection) -> list[str]:
    """Create the group roles that are missing (NOLOGIN; roles are per cluster, so another
    database may have made them already); returns those created."""
    made = []
    for role in GROUP_ROLES:
        found = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if found is None:
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
            made.append(role)
    return made


def stored_version(conn: psycopg.Connection) -> int | None:
    """The schema version of the library in this database; None when there is none."""
    found = conn.execute(
        "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'schema_version'",
        (SCHEMA,),
    ).fetchone()
    if found is None:
        return None
    row = conn.execute(f"SELECT max(version) FROM {SCHEMA}.schema_version").fetchone()
    return int(row[0] or 0) if row else 0


def init_schema(conn: psycopg.Connection, migrations: Sequence[str] = PG_MIGRATIONS) -> list[int]:
    """Roles, schema and every missing migration, in one transaction under an advisory
    lock; returns the versions applied (none: it was up to date). Raises ValueError for a
    library newer than ``migrations`` (nothing changed)."""
    applied = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        ensure_roles(conn)
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_version ("
            "version integer NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        current = stored_version(conn) or 0
        if current > len(migrations):
            raise ValueError(
                f"the school library is at schema version {current}, newer than this "
                f"program understands ({len(migrations)})"
            )
        for version in range(current, len(migrations)):
            conn.execute(migrations[version])
            conn.execute(
                f"INSERT INTO {SCHEMA}.schema_version (version) VALUES (%s)", (version + 1,)
            )
            applied.append(version + 1)
    return applied
