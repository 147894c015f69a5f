"""Bring a database to the newest migration (``bot/migrations``): at start-up and
``errandbot db upgrade``.

Several processes may start at once against one PostgreSQL database (replicas, workers), so the
upgrade runs under a lock: a PostgreSQL advisory lock held by the migrating connection (released
by the server if that process dies), or an ``flock`` on a file beside a SQLite database. The
others wait, then find nothing left to do. Before changing an existing SQLite file it is copied
beside itself (``errand.db.before-0002``), as the schema steps before Alembic did.

A database from a release before Alembic (tables, maybe a ``schema_version`` row, no
``alembic_version``) is not special-cased: the baseline revision creates what it lacks and keeps
its rows. Afterwards ``schema_version`` holds :data:`ALEMBIC_MANAGED`, a number higher than any of
those releases knows, so an older Errand refuses the database instead of writing to tables it
does not know.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, func, inspect, select

import bot.migrations
from bot.dbfile import sqlite_path
from bot.schema import SchemaError, backup_sqlite, schema_version

log = logging.getLogger(__name__)
# Alembic says "Context impl SQLiteImpl." and the like on every look; our own line says what
# changed.
for _name in ("alembic.runtime.migration", "alembic.runtime.plugins"):
    logging.getLogger(_name).setLevel(logging.WARNING)

SCRIPT_LOCATION = Path(bot.migrations.__file__).parent
#: ``pg_advisory_lock`` key of the migration lock ("Errand" in ASCII): one per database.
LOCK_KEY = 0x4572_7261_6E64
#: What ``schema_version`` says once Alembic manages the database (the old steps went up to 4).
ALEMBIC_MANAGED = 100
_BOOKKEEPING = {"alembic_version", "schema_version"}


class State(StrEnum):
    EMPTY = "empty"  # no tables: the first start creates them
    LEGACY = "legacy"  # tables from a release before Alembic
    BEHIND = "behind"  # migrations pending
    CURRENT = "current"
    AHEAD = "ahead"  # a revision this release does not know: written by a newer Errand


@dataclass(frozen=True)
class Status:
    """Where a database stands against this release's migrations."""

    dialect: str
    state: State
    revision: str | None
    head: str
    pending: tuple[str, ...]


@cache
def scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration without an ``alembic.ini``: the packaged scripts, our connection."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["connection"] = connection
    return config


def _status(conn: Connection) -> Status:
    tables = set(inspect(conn).get_table_names())
    head = scripts().get_current_head()
    assert head is not None, "bot/migrations has no revision"
    everything = tuple(r.revision for r in scripts().walk_revisions())
    dialect = conn.dialect.name
    current = (
        MigrationContext.configure(conn).get_current_revision()
        if "alembic_version" in tables
        else None
    )
    if current is None:
        if (
            "schema_version" in tables
            and conn.execute(select(schema_version.c.version)).scalar() == ALEMBIC_MANAGED
        ):
            raise SchemaError(
                "the database's alembic_version table is missing or empty although "
                "Alembic manages it: restore it from a backup"
            )
        state = State.LEGACY if tables - _BOOKKEEPING else State.EMPTY
        return Status(dialect, state, None, head, everything)
    if current == head:
        return Status(dialect, State.CURRENT, current, head, ())
    try:
        pending = tuple(r.revision for r in scripts().iterate_revisions(head, current))
    except (CommandError, RevisionError):
        return Status(dialect, State.AHEAD, current, head, ())
    return Status(dialect, State.BEHIND, current, head, pending)


def status(engine: Engine) -> Status:
    """Read where ``engine``'s database stands; changes nothing."""
    with engine.connect() as conn:
        return _status(conn)


@contextmanager
def migration_lock(engine: Engine) -> Iterator[Connection]:
    """A connection that holds this database's migration lock until the block ends."""
    path = sqlite_path(str(engine.url))
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            if not conn.execute(select(func.pg_try_advisory_lock(LOCK_KEY))).scalar():
                log.info("another process is upgrading the database; waiting for it")
                conn.execute(select(func.pg_advisory_lock(LOCK_KEY)))
            conn.commit()  # a session lock: it outlives this transaction, not the connection
            try:
                yield conn
            finally:
                conn.rollback()
                conn.execute(select(func.pg_advisory_unlock(LOCK_KEY)))
                conn.commit()
        elif path is not None:
            with open(f"{path}.upgrade-lock", "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    yield conn
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)
        else:  # in-memory SQLite: one process by definition
            yield conn


def _mark_managed(conn: Connection) -> None:
    schema_version.create(conn, checkfirst=True)
    conn.execute(schema_version.delete())
    conn.execute(
        schema_version.insert().values(
            version=ALEMBIC_MANAGED, upgraded_at=datetime.now(UTC).isoformat(timespec="seconds")
        )
    )
    conn.commit()


def upgrade(engine: Engine) -> Status:
    """Apply the pending migrations (none: nothing happens); returns the status found before.

    A database written by a newer release raises :class:`SchemaError` rather than being written
    by code that does not know its tables.
    """
    with migration_lock(engine) as conn:
        found = _status(conn)
        if found.state is State.AHEAD:
            raise SchemaError(
                f"the database is at migration {found.revision}, which this release "
                f"does not know (its newest is {found.head}); run a newer Errand, or "
                "restore the backup taken before the upgrade"
            )
        if not found.pending:
            return found
        if found.state is not State.EMPTY:
            backup = backup_sqlite(engine, Path(f"{engine.url.database}.before-{found.head}"))
            if backup is not None:
                log.info("database backed up to %s before upgrading", backup)
        conn.commit()
        command.upgrade(alembic_config(conn), "head")
        conn.commit()
        _mark_managed(conn)
        log.info(
            "database %s: %s → migration %s",
            found.dialect,
            found.revision or found.state,
            found.head,
        )
        return found


def new_revision(message: str) -> Path:
    """Write a revision with what autogenerate finds between the migrations and today's models
    (for developers; see :mod:`bot.migrations`)."""
    import tempfile

    from sqlalchemy import create_engine

    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{folder}/head.db")
        upgrade(engine)
        with engine.connect() as conn:
            number = f"{int(scripts().get_current_head() or 0) + 1:04d}"
            script = command.revision(
                alembic_config(conn), message, autogenerate=True, rev_id=number
            )
        engine.dispose()
    assert script is not None and not isinstance(script, list)
    return Path(script.path)


if __name__ == "__main__":  # pragma: no cover - a developer's tool
    import sys

    print(
        new_revision(
            " ".join(sys.argv[2:])
            if sys.argv[1:2] == ["revision"]
            else sys.exit("usage: python -m bot.db.migrate revision MESSAGE")
        )
    )
