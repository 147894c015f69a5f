"""The database: one SQLAlchemy engine and a session factory, the schema brought up to date.

What must survive a crash (reminders, download jobs) is a row here. SQLite in ``DATA_DIR`` by
default, in WAL mode so readers never wait on the writer; ``DATABASE_URL`` can point elsewhere.
Each feature declares its own tables in its own package (``bot/reminders/store.py``,
``bot/downloads/jobs.py``) on :class:`bot.db_base.Base`; :mod:`bot.tables` lists them all, and the
Alembic migrations in ``bot/migrations`` create them (:func:`open_database` applies the missing).
"""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import sessionmaker


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and cross-thread use."""
    from bot.db.url import normalize

    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(normalize(url), pool_pre_ping=True)


def open_database(url: str) -> tuple[Engine, sessionmaker]:
    """Open the database at ``url``, upgrade its schema, and return (engine, session factory)."""
    from bot.db.migrate import upgrade
    from bot.dbfile import check_existing

    check_existing(url)  # never create a new database over a damaged or emptied file
    engine = make_engine(url)
    upgrade(engine)  # the migrations make every table; tests/db checks they match the models
    return engine, sessionmaker(engine, expire_on_commit=False)
