"""Schema versions before Alembic: what releases up to schema version 4 kept in ``schema_version``.

Those releases carried their version in a one-row ``schema_version`` table and applied ordered
steps at start-up. Schema changes are now Alembic migrations (``bot/migrations``, run by
:mod:`bot.db.migrate`), whose baseline revision brings a database of any of these versions to
where the steps ended, keeping its rows. What stays here is what that needs: the table, reading
the old version, the SQLite backup, and the error a refused database raises. A database Alembic
manages holds :data:`bot.db.migrate.ALEMBIC_MANAGED` here, so those releases refuse it.

Versions:

- 0: the first release, before versioning: tables, no ``schema_version`` row.
- 1: the same tables, stamped (and any table that release had not created yet, created).
- 2 (groups, issue #18): ``reminders.thread_id`` and ``download_jobs.thread_id`` (the forum topic a
  command came from), and the chat tables of :mod:`bot.chats.store` (upgrades, removals).
- 3 (issue #13, "received requests"): the ``received_requests`` table, where each update is
  stored before it is acknowledged (:mod:`bot.inbox`).
- 4 (languages, issue #11): ``reminders.lang`` and ``download_jobs.lang`` (the reply language a
  ring or a result is sent in) and the ``language_choices`` table of :mod:`bot.i18n.store`.

Each release's database is frozen as ``tests/deploy/schema_snapshots/vN-*.sql``; the tests upgrade
every snapshot through start-up.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, inspect, select


class SchemaError(Exception):
    """The database cannot be used by this release; ``str()`` says why and what to do."""


_meta = MetaData()
schema_version = Table(
    "schema_version",
    _meta,
    Column("version", Integer, nullable=False),
    Column("upgraded_at", String(32), nullable=False),
)


def current_version(engine: Engine) -> int | None:
    """The version stored in the database; 0 for tables without a version; None when empty."""
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        if "schema_version" in tables:
            row = conn.execute(select(schema_version.c.version)).first()
            if row is not None:
                return int(row.version)
        tables.discard("schema_version")
        return 0 if tables else None


def backup_sqlite(engine: Engine, dest: Path) -> Path | None:
    """Copy a file SQLite database to ``dest`` with SQLite's online backup (safe while in use).

    Returns ``dest``, or None when the engine is not a file SQLite database.
    """
    if engine.url.get_backend_name() != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    source = sqlite3.connect(engine.url.database)
    target = sqlite3.connect(dest)
    try:
        with target:
            source.backup(target)
    finally:
        target.close()
        source.close()
    return dest
