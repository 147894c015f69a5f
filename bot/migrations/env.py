"""Alembic's environment: migrations run on the connection :mod:`bot.db.migrate` hands over
(already holding the migration lock), against the metadata of every table Errand declares."""

from __future__ import annotations

from alembic import context

from bot.tables import all_tables

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=all_tables(),
    # SQLite cannot ALTER most things in place: Alembic's batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
