"""``errandbot db copy SOURCE TARGET``: move an install to another database (SQLite → PostgreSQL).

Every table Errand declares is copied row by row with its ids, in one transaction on the target
(all or nothing), parents before children. PostgreSQL hands out new ids from sequences, which a
copy with explicit ids does not advance: each is set past the largest id copied, so the next
``/timer`` does not collide with ``t12`` that came over. The target is brought to the newest
migration first; the source must already be there (``errandbot db upgrade`` on it, with the bot
stopped). A target that holds rows is refused unless ``replace`` says to empty it, and tables that
are not Errand's (an operator's own) are left alone on both sides and named in the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, Table, func, inspect, select, text
from sqlalchemy.exc import DBAPIError

from bot.db import migrate
from bot.db.url import shown
from bot.dbfile import check_existing, sqlite_path
from bot.storage import make_engine
from bot.tables import all_tables

BATCH = 1000  # rows per INSERT round trip


class CopyRefused(Exception):
    """The copy was not made (nothing changed on the target); ``str()`` says why."""


@dataclass
class CopyReport:
    rows: dict[str, int] = field(default_factory=dict)  # table → rows copied
    left_alone: list[str] = field(default_factory=list)  # source tables that are not Errand's


def _tables() -> list[Table]:
    return list(all_tables().sorted_tables)


def _row_counts(conn: Connection, tables: list[Table]) -> dict[str, int]:
    return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables}


def _advance_sequences(conn: Connection, tables: list[Table]) -> None:
    """Set each PostgreSQL id sequence to the largest id copied (the next id is one more)."""
    for table in tables:
        column = table.autoincrement_column
        if column is None:
            continue
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                f'COALESCE(MAX("{column.name}"), 1), MAX("{column.name}") IS NOT NULL) '
                f'FROM "{table.name}"'
            ),
            {"table": table.name, "column": column.name},
        )


def _copy_table(source: Connection, target: Connection, table: Table) -> int:
    copied = 0
    result = source.execution_options(yield_per=BATCH).execute(select(table))
    for rows in result.partitions(BATCH):
        batch = [row._asdict() for row in rows]
        try:
            target.execute(table.insert(), batch)
        except DBAPIError as exc:
            raise CopyRefused(
                f"the target refused a row of {table.name} "
                f"({exc.orig.__class__.__name__}: {str(exc.orig).splitlines()[0]}); "
                "nothing was copied"
            ) from exc
        copied += len(batch)
    return copied


def _check_source(engine: Engine) -> None:
    found = migrate.status(engine)
    if found.state is migrate.State.EMPTY:
        raise CopyRefused(f"the source {shown(engine.url)} holds no Errand tables")
    if found.state is not migrate.State.CURRENT:
        raise CopyRefused(
            f"the source is {found.state.value} (migration {found.revision or '-'}, "
            f"this release: {found.head}): stop the bot and run `errandbot db "
            "upgrade` on it first, with DATABASE_URL set to the source"
        )


def copy_database(source_url: str, target_url: str, *, replace: bool = False) -> CopyReport:
    """Copy every Errand table from ``source_url`` to ``target_url``; see the module's docstring."""
    if shown(source_url) == shown(target_url):
        raise CopyRefused("the source and the target are the same database")
    path = sqlite_path(source_url)
    if path is not None and not path.exists():
        raise CopyRefused(f"the source {path} does not exist")
    check_existing(source_url)
    source, target = make_engine(source_url), make_engine(target_url)
    try:
        _check_source(source)
        migrate.upgrade(target)
        tables = _tables()
        report = CopyReport()
        with source.connect() as src:
            ours = {t.name for t in tables} | {"alembic_version", "schema_version"}
            report.left_alone = sorted(set(inspect(src).get_table_names()) - ours)
            with target.begin() as dst:
                held = {name: n for name, n in _row_counts(dst, tables).items() if n}
                if held and not replace:
                    listing = ", ".join(f"{name} ({n})" for name, n in held.items())
                    raise CopyRefused(
                        f"the target already holds rows: {listing}; pass --replace "
                        "to empty Errand's tables there first"
                    )
                for table in reversed(tables):
                    dst.execute(table.delete())
                for table in tables:
                    report.rows[table.name] = _copy_table(src, dst, table)
                if dst.dialect.name == "postgresql":
                    _advance_sequences(dst, tables)
                if _row_counts(dst, tables) != report.rows:
                    raise CopyRefused(
                        "the target's row counts differ from what was copied; nothing was copied"
                    )
        return report
    finally:
        source.dispose()
        target.dispose()
