"""Ring claims and the shared send pace (issue #16): each due ring is claimed by one process.

``reminders.claimed_by`` / ``claimed_until``: the ring loop that claimed a due row and its lease
(:mod:`bot.reminders.claims`). ``send_pace``: one row per flood-limit key, shared by every process
that sends (:mod:`bot.telegram.shared_pace`; used with PostgreSQL, created on both engines so that
the schema is the same).

Revision ID: 0004
Revises: 0003
Created: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reminders") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("claimed_until", sa.Float(), nullable=True))
    op.create_table(
        "send_pace",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("tat", sa.Float(), nullable=False),
        sa.Column("step", sa.Float(), nullable=False),
        sa.Column("tolerance", sa.Float(), nullable=False),
        sa.Column("seen", sa.Float(), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("send_pace")
    with op.batch_alter_table("reminders") as batch:
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")
