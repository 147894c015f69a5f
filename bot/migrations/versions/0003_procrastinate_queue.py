"""The job queue of PostgreSQL mode: procrastinate's tables, functions and triggers.

Its schema is procrastinate's own (``SchemaManager.get_schema()`` of the installed release), run
as it ships, not copied here. Only on PostgreSQL: with SQLite there is one process and the
download queue stays in memory (bot.downloads.registry), so this revision changes nothing there.
A later procrastinate release that changes its schema ships SQL migrations of its own; an Errand
revision applies those when the dependency's lower bound moves past them.

Revision ID: 0003
Revises: 0002
Created: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _postgres():
        return
    from procrastinate.schema import SchemaManager

    # Several statements with no parameters: psycopg sends them as one simple query, and no
    # "%" in procrastinate's SQL is taken for a placeholder.
    driver = op.get_bind().connection.driver_connection
    assert driver is not None, "no psycopg connection under the migration's"
    driver.execute(SchemaManager.get_schema())


def downgrade() -> None:
    if not _postgres():
        return
    op.execute(
        """
        DO $$
        DECLARE item record;
        BEGIN
            FOR item IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
                JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate%'
            LOOP
                EXECUTE 'DROP FUNCTION IF EXISTS ' || item.signature || ' CASCADE';
            END LOOP;
        END $$
        """
    )
    for table in (
        "procrastinate_events",
        "procrastinate_periodic_defers",
        "procrastinate_jobs",
        "procrastinate_workers",
    ):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    for kind in (
        "procrastinate_job_to_defer_v1",
        "procrastinate_job_event_type",
        "procrastinate_job_status",
    ):
        op.execute(f"DROP TYPE IF EXISTS {kind} CASCADE")
