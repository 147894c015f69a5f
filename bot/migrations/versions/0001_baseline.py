"""Baseline: Errand's tables as the last pre-Alembic schema step (version 4, languages) left them.

On an empty database it creates them. On a database from a release before Alembic (any of the
``schema_version`` versions 0-4 of ``bot/schema.py``, or no version at all) it creates the tables
and indexes that are missing and adds the nullable columns later steps added (``thread_id``,
``lang``), so that every such database ends here with its rows untouched. Frozen: the tables are
spelt out below, not read from today's models.

Revision ID: 0001
Revises:
Created: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _tables() -> list[sa.Table]:
    meta = sa.MetaData()
    return [
        sa.Table(
            "download_jobs",
            meta,
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("chat_id", sa.BigInteger(), nullable=False),
            sa.Column("thread_id", sa.BigInteger(), nullable=True),
            sa.Column("user_id", sa.BigInteger(), nullable=False),
            sa.Column("user_name", sa.String(length=128), nullable=False),
            sa.Column("request_message_id", sa.Integer(), nullable=True),
            sa.Column("status_message_id", sa.Integer(), nullable=True),
            sa.Column("url", sa.Text(), nullable=False),
            sa.Column("requested_name", sa.String(length=255), nullable=True),
            sa.Column("name", sa.String(length=255), nullable=True),
            sa.Column("folder", sa.String(length=64), nullable=False),
            sa.Column("state", sa.String(length=16), nullable=False),
            sa.Column("size", sa.BigInteger(), nullable=True),
            sa.Column("done_bytes", sa.BigInteger(), nullable=False),
            sa.Column("sha256", sa.String(length=64), nullable=True),
            sa.Column("error", sa.Text(), nullable=True),
            sa.Column("delivered", sa.Boolean(), nullable=False),
            sa.Column("resumed", sa.Boolean(), nullable=False),
            sa.Column("created_at", sa.Float(), nullable=False),
            sa.Column("started_at", sa.Float(), nullable=True),
            sa.Column("finished_at", sa.Float(), nullable=True),
            sa.Column("elapsed", sa.Float(), nullable=True),
            sa.Column("lang", sa.String(length=16), nullable=True),
            sa.PrimaryKeyConstraint("id"),
            sa.Index("ix_download_jobs_chat_id", "chat_id"),
            sa.Index("ix_download_jobs_state", "state"),
            sa.Index("ix_download_jobs_user_id", "user_id"),
        ),
        sa.Table(
            "reminders",
            meta,
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("kind", sa.String(length=8), nullable=False),
            sa.Column("chat_id", sa.BigInteger(), nullable=False),
            sa.Column("chat_type", sa.String(length=16), nullable=False),
            sa.Column("thread_id", sa.BigInteger(), nullable=True),
            sa.Column("user_id", sa.BigInteger(), nullable=False),
            sa.Column("user_name", sa.String(length=64), nullable=False),
            sa.Column("label", sa.String(length=200), nullable=False),
            sa.Column("due_at", sa.Float(), nullable=False),
            sa.Column("recurrence", sa.String(length=160), nullable=True),
            sa.Column("tz", sa.String(length=64), nullable=False),
            sa.Column("reply_to", sa.BigInteger(), nullable=True),
            sa.Column("status_message_id", sa.BigInteger(), nullable=True),
            sa.Column("duration", sa.Float(), nullable=True),
            sa.Column("state", sa.String(length=12), nullable=False),
            sa.Column("created_at", sa.Float(), nullable=False),
            sa.Column("lang", sa.String(length=16), nullable=True),
            sa.PrimaryKeyConstraint("id"),
            sa.Index("ix_reminders_chat_state", "chat_id", "state"),
            sa.Index("ix_reminders_state_due", "state", "due_at"),
            sa.Index("ix_reminders_user_state", "user_id", "state"),
        ),
        sa.Table(
            "user_zones",
            meta,
            sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
            sa.Column("tz", sa.String(length=64), nullable=False),
            sa.PrimaryKeyConstraint("user_id"),
        ),
        sa.Table(
            "chat_migrations",
            meta,
            sa.Column("old_chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
            sa.Column("new_chat_id", sa.BigInteger(), nullable=False),
            sa.Column("migrated_at", sa.Float(), nullable=False),
            sa.PrimaryKeyConstraint("old_chat_id"),
            sa.Index("ix_chat_migrations_new_chat_id", "new_chat_id"),
        ),
        sa.Table(
            "gone_chats",
            meta,
            sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
            sa.Column("reason", sa.String(length=16), nullable=False),
            sa.Column("since", sa.Float(), nullable=False),
            sa.PrimaryKeyConstraint("chat_id"),
        ),
        sa.Table(
            "paused_downloads",
            meta,
            sa.Column("job_id", sa.Integer(), autoincrement=False, nullable=False),
            sa.Column("chat_id", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("job_id"),
            sa.Index("ix_paused_downloads_chat_id", "chat_id"),
        ),
        sa.Table(
            "received_requests",
            meta,
            sa.Column("request_id", sa.BigInteger(), autoincrement=False, nullable=False),
            sa.Column("payload", sa.Text(), nullable=True),
            sa.Column("received_at", sa.Float(), nullable=False),
            sa.Column("handled_at", sa.Float(), nullable=True),
            sa.PrimaryKeyConstraint("request_id"),
            sa.Index("ix_received_requests_handled_at", "handled_at"),
        ),
        sa.Table(
            "language_choices",
            meta,
            sa.Column("scope", sa.String(length=8), nullable=False),
            sa.Column("ident", sa.BigInteger(), nullable=False),
            sa.Column("code", sa.String(length=16), nullable=False),
            sa.Column("updated_at", sa.Float(), nullable=False),
            sa.PrimaryKeyConstraint("scope", "ident"),
        ),
    ]


def _complete(table: sa.Table, inspector: sa.Inspector) -> None:
    """Bring a table that an older release created up to ``table``: columns, then indexes."""
    present = {c["name"]: c for c in inspector.get_columns(table.name)}
    for column in table.columns:
        if column.name not in present:
            # only nullable columns were ever added by a step: old rows need no default
            op.add_column(table.name, sa.Column(column.name, column.type, nullable=True))
    if table.name == "reminders" and op.get_bind().dialect.name != "sqlite":
        # widened from 64 to 160 characters without a step; SQLite never enforced the length
        op.alter_column(
            "reminders", "recurrence", type_=sa.String(length=160), existing_nullable=True
        )
    indexes = {ix["name"] for ix in inspector.get_indexes(table.name)}
    for index in table.indexes:
        if index.name not in indexes:
            op.create_index(index.name, table.name, [c.name for c in index.columns])


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    existing = set(inspector.get_table_names())
    for table in _tables():
        if table.name in existing:
            _complete(table, inspector)
        else:
            table.create(op.get_bind())


def downgrade() -> None:
    for table in reversed(_tables()):
        op.drop_table(table.name)
