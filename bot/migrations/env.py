"""Alembic's environment: migrations run on the connection :mod:`bot.db.migrate` hands over
(already holding the migration lock), against the metadata of every table Errand declares."""

from __future__ import annotations

from alembic import context

from bot.tables import all_tables


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Autogenerate never proposes dropping a table Errand does not declare: ``schema_version``
    (kept for releases before Alembic) or an operator's own."""
    return not (type_ == "table" and reflected and compare_to is None)


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
