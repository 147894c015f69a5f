"""reminders.state holds 16 characters: "undeliverable" (13) did not fit the 12 of the baseline.

SQLite never enforced the length, so only PostgreSQL refused to mark a reminder undeliverable;
the batch operation rebuilds the table on SQLite, where a column's type cannot be altered.

Revision ID: 0002
Revises: 0001
Created: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reminders") as batch:
        batch.alter_column(
            "state",
            type_=sa.String(length=16),
            existing_type=sa.String(length=12),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("reminders") as batch:
        batch.alter_column(
            "state",
            type_=sa.String(length=12),
            existing_type=sa.String(length=16),
            existing_nullable=False,
        )
