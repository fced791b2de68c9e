"""`pressure-logger server init postgresql://…`: make (or upgrade) the school library.

Creates the group roles ``pl_trainee``, ``pl_trainer`` and ``pl_admin`` when missing, the
schema ``pressure_logger`` and its tables at the newest version, and the row-level
security policies (logger/store/pg_schema.py). Running it again changes nothing; on an
older library it applies the missing migrations. It needs a login that may create roles
and schemas (the server's superuser, e.g. ``postgres``).

Login roles are then made with PostgreSQL's own tools, one per person:
``CREATE ROLE alice LOGIN PASSWORD '…' IN ROLE pl_trainee``.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("server", help="set up the school library on a PostgreSQL server")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    init = actions.add_parser(
        "init", help="create or upgrade the schema, group roles and row-level security"
    )
    init.add_argument("url", type=_url, metavar="URL", help="postgresql://USER@HOST/DB")
    p.set_defaults(run=run)


def _url(text: str) -> str:
    from ..store.open import parse_url

    return parse_url(text)


def run(args: argparse.Namespace) -> int:
    import psycopg

    from ..errors import BadInput
    from ..store.pg_connect import connect, server_error
    from ..store.pg_schema import GROUP_ROLES, PG_MIGRATIONS, init_schema
    from ..store.urls import redacted

    conn = connect(args.url)
    try:
        applied = init_schema(conn)
    except ValueError as exc:
        raise BadInput(f"{redacted(args.url)}: {exc}") from None
    except psycopg.errors.InsufficientPrivilege as exc:
        raise BadInput(
            f"{redacted(args.url)}: this login may not set up the library ({exc}); "
            "use the server's superuser"
        ) from None
    except psycopg.Error as exc:
        raise server_error(args.url, exc, "server init") from None
    finally:
        conn.close()
    where = redacted(args.url)
    if applied:
        print(f"{where}: school library at schema version {applied[-1]} "
              f"(roles {', '.join(GROUP_ROLES)})")  # fmt: skip
    else:
        print(f"{where}: school library already at schema version {len(PG_MIGRATIONS)}")
    return 0
