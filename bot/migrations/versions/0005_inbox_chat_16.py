"""received_requests.chat_id: the chat an update came from, so that whichever process holds a
chat's turn handles what that chat sent earlier and nobody handled yet (webhook replicas).

Nullable: rows stored before this step have no chat and are replayed as before. The index serves
"this chat's unhandled requests before this one".

Revision ID: 0005
Revises: 0004
Created: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database from before Alembic may have been made from newer models (see 0001): only
    # what is missing is added.
    inspector = sa.inspect(op.get_bind())
    columns = {c["name"] for c in inspector.get_columns("received_requests")}
    indexes = {i["name"] for i in inspector.get_indexes("received_requests")}
    with op.batch_alter_table("received_requests") as batch:
        if "chat_id" not in columns:
            batch.add_column(sa.Column("chat_id", sa.BigInteger(), nullable=True))
        if "ix_received_requests_chat_id" not in indexes:
            batch.create_index("ix_received_requests_chat_id", ["chat_id", "request_id"])


def downgrade() -> None:
    with op.batch_alter_table("received_requests") as batch:
        batch.drop_index("ix_received_requests_chat_id")
        batch.drop_column("chat_id")
