"""Schema versions: the database says which version of Errand's tables it holds, and start-up
brings it to the current one.

Why not just ``Base.metadata.create_all``? It creates missing tables but never changes an existing
one, so the day a release adds a column, every operator's database would silently lack it. Here
the database carries its version in a one-row ``schema_version`` table and :func:`upgrade` applies
the ordered :data:`STEPS` above that version, each recorded as soon as it is done, so a crash
halfway resumes where it stopped. A full migration framework (Alembic) would earn its place with
many steps or several database engines in production; for a handful of additive steps on SQLite
an ordered list is easier to read and to test.

Rules for whoever changes a table:

- append a :class:`Step` with the next version number; never edit or reorder a released step;
- write steps so that running one on a database that already has the change is harmless
  (use :func:`add_column`), because step 1 builds missing tables from today's models;
- at each release, freeze its database as ``tests/deploy/schema_snapshots/vN-*.sql``
  (``sqlite3 errand.db .dump`` of a database with a few rows); the tests upgrade every snapshot
  through start-up and fail when today's models want a column no step adds.

Versions:

- 0: the first release, before versioning: tables, no ``schema_version`` row.
- 1: the same tables, stamped (and any table that release had not created yet, created).
- 2 (groups, issue #18): ``reminders.thread_id`` and ``download_jobs.thread_id`` (the forum topic a
  command came from), and the chat tables of :mod:`bot.chats.store` (upgrades, removals).
- 3 (issue #13, "received requests"): the ``received_requests`` table, where each update is
  stored before it is acknowledged (:mod:`bot.inbox`).
- 4 (languages, issue #11): ``reminders.lang`` and ``download_jobs.lang`` (the reply language a
  ring or a result is sent in) and the ``language_choices`` table of :mod:`bot.i18n.store`.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    inspect,
    select,
    text,
)

from bot.db_base import Base
from bot.tables import all_tables

log = logging.getLogger(__name__)


class SchemaError(Exception):
    """The database cannot be used by this release; ``str()`` says why and what to do."""


@dataclass(frozen=True)
class Step:
    """One upgrade: from ``version - 1`` to ``version``. ``apply`` runs inside a transaction."""

    version: int
    summary: str
    apply: Callable[[Connection], None]


_meta = MetaData()
schema_version = Table(
    "schema_version",
    _meta,
    Column("version", Integer, nullable=False),
    Column("upgraded_at", String(32), nullable=False),
)


def add_column(conn: Connection, table: str, column: str, ddl_type: str) -> None:
    """``ALTER TABLE table ADD COLUMN column ddl_type``, unless the column is already there."""
    present = {c["name"] for c in inspect(conn).get_columns(table)}
    if column not in present:
        conn.execute(text(f'ALTER TABLE "{table}" ADD COLUMN "{column}" {ddl_type}'))


def _tables(*models: type[Base]) -> list[Table]:
    """The tables of ``models``, for a step that creates only those."""
    return [all_tables().tables[model.__tablename__] for model in models]


def _create_missing_tables(conn: Connection) -> None:
    all_tables().create_all(conn)


def _groups_topics_and_chat_tables(conn: Connection) -> None:
    from bot.chats.store import ChatMigration, GoneChat, PausedDownload

    add_column(conn, "reminders", "thread_id", "BIGINT")
    add_column(conn, "download_jobs", "thread_id", "BIGINT")
    all_tables().create_all(conn, tables=_tables(ChatMigration, GoneChat, PausedDownload))


def _add_received_requests(conn: Connection) -> None:
    from bot.inbox import ReceivedRequest

    _tables(ReceivedRequest)[0].create(conn, checkfirst=True)


def _languages_columns_and_choices(conn: Connection) -> None:
    from bot.i18n.store import LanguageChoice

    add_column(conn, "reminders", "lang", "VARCHAR(16)")
    add_column(conn, "download_jobs", "lang", "VARCHAR(16)")
    all_tables().create_all(conn, tables=_tables(LanguageChoice))


STEPS: tuple[Step, ...] = (
    Step(1, "stamp the first release's tables and create any that are missing",
         _create_missing_tables),
    Step(2, "groups: forum topic of reminders and downloads; chat upgrade and removal tables",
         _groups_topics_and_chat_tables),
    Step(3, "#13 received requests: store each update before acknowledging it",
         _add_received_requests),
    Step(4, "languages: reply language of reminders and downloads; per-person and per-chat choices",
         _languages_columns_and_choices),
)
CURRENT = STEPS[-1].version


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


def _stamp(conn: Connection, version: int) -> None:
    conn.execute(schema_version.delete())
    now = datetime.now(UTC).isoformat(timespec="seconds")
    conn.execute(schema_version.insert().values(version=version, upgraded_at=now))


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


def upgrade(engine: Engine, steps: Sequence[Step] = STEPS) -> None:
    """Bring the database to the newest version in ``steps``; safe to call on every start.

    An empty database gets today's tables and the newest version at once. An older one gets
    each missing step in order, after a backup copy beside a SQLite file (``errand.db`` →
    ``errand.db.before-v1``). A database newer than this release raises :class:`SchemaError`
    rather than being written by code that does not know its tables.
    """
    newest = steps[-1].version if steps else 0
    found = current_version(engine)
    with engine.begin() as conn:
        _meta.create_all(conn)
    if found is None:
        with engine.begin() as conn:
            all_tables().create_all(conn)
            _stamp(conn, newest)
        log.info("database created at schema version %d", newest)
        return
    if found > newest:
        raise SchemaError(
            f"the database is at schema version {found}, newer than this release knows "
            f"({newest}); run a newer Errand, or restore the backup taken before the upgrade"
        )
    pending = [step for step in steps if step.version > found]
    if not pending:
        return
    if engine.url.database:
        backup = backup_sqlite(engine, Path(f"{engine.url.database}.before-v{pending[-1].version}"))
        if backup is not None:
            log.info("database backed up to %s before upgrading", backup)
    for step in pending:
        with engine.begin() as conn:
            step.apply(conn)
            _stamp(conn, step.version)
        log.info("database upgraded to schema version %d: %s", step.version, step.summary)
