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
    with op.batch_alter_table("received_requests") as batch:
        batch.add_column(sa.Column("chat_id", sa.BigInteger(), nullable=True))
        batch.create_index("ix_received_requests_chat_id", ["chat_id", "request_id"])


def downgrade() -> None:
    with op.batch_alter_table("received_requests") as batch:
        batch.drop_index("ix_received_requests_chat_id")
        batch.drop_column("chat_id")
