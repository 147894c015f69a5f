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
    # What is there already is kept: a database whose tables were made from today's models
    # before it was versioned (the baseline brings such a one here) has these columns.
    inspector = sa.inspect(op.get_bind())
    columns = {c["name"] for c in inspector.get_columns("reminders")}
    missing = [
        sa.Column(name, type_, nullable=True)
        for name, type_ in (("claimed_by", sa.String(length=64)), ("claimed_until", sa.Float()))
        if name not in columns
    ]
    if missing:
        with op.batch_alter_table("reminders") as batch:
            for column in missing:
                batch.add_column(column)
    if inspector.has_table("send_pace"):
        return
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
