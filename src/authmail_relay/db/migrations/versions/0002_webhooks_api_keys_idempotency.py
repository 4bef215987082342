"""Webhook target, API key, cancel/consume times on messages; the idempotency_keys table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-05-16

Spelled out operation by operation, like 0001. Every new ``messages`` column is nullable
without a default, so existing rows need no rewrite: on SQLite the batch context below adds
them with plain ``ALTER TABLE … ADD COLUMN`` and never copies the table (copying it would
drop and recreate ``messages``, and with foreign keys on, dropping it would cascade into
``attempts`` and ``events``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW_MESSAGE_COLUMNS = (
    ("webhook_url", sa.Text),
    ("webhook_secret", sa.Text),
    ("api_key_id", sa.Text),
    ("cancelled_at", sa.BigInteger),
    ("consumed_at", sa.BigInteger),
)


def upgrade() -> None:
    # recreate="never": adding nullable columns is an ALTER on both dialects; refuse
    # rather than silently fall back to copying the table.
    with op.batch_alter_table("messages", recreate="never") as batch:
        for name, column_type in _NEW_MESSAGE_COLUMNS:
            batch.add_column(sa.Column(name, column_type(), nullable=True))
    op.create_index("ix_messages_api_key_id_id", "messages", ["api_key_id", "id"])

    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("lock_token", sa.Text(), nullable=True),
        sa.Column("locked_until", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("response_headers", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name="pk_idempotency_keys"),
    )
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"])


def downgrade() -> None:
    """Undo 0002. Drops the idempotency keys and the new columns' data.

    On SQLite this needs ``ALTER TABLE … DROP COLUMN`` (SQLite 3.35 or newer), for the same
    reason the upgrade avoids copying the table.
    """
    op.drop_index("ix_idempotency_keys_expires_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_messages_api_key_id_id", table_name="messages")
    with op.batch_alter_table("messages", recreate="never") as batch:
        for name, _column_type in reversed(_NEW_MESSAGE_COLUMNS):
            batch.drop_column(name)
