"""Alembic's environment: migrations run on the connection :mod:`bot.db.migrate` hands over
(already holding the migration lock), against the metadata of every table Errand declares."""

from __future__ import annotations

from alembic import context

from bot.tables import all_tables


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Autogenerate never proposes dropping a table Errand does not declare, nor its indexes:
    ``schema_version`` (kept for releases before Alembic), procrastinate's queue (PostgreSQL mode,
    revision 0003) or an operator's own."""
    if not reflected or compare_to is not None:
        return True
    if type_ == "table":
        return False
    table = getattr(obj, "table", None)
    return table is None or table.name in all_tables().tables


connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=all_tables(),
    # SQLite cannot ALTER most things in place: Alembic's batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_object=include_object,
)
with context.begin_transaction():
    context.run_migrations()
