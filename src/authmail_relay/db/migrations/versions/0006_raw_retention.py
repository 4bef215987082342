"""Retention: when a message's stored bytes were erased, and the indexes of the sweep.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

Two nullable columns and two indexes on ``messages``; no data is changed (the sweep of a
running relay erases what is due, see ``docs/storage.md``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEPT = sa.text("webhook_url IS NOT NULL")


def upgrade() -> None:
    # Nullable columns without a default: an ALTER on both dialects, no table copy.
    with op.batch_alter_table("messages", recreate="never") as batch:
        batch.add_column(sa.Column("raw_purged_at", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("raw_size", sa.Integer(), nullable=True))
    op.create_index(
        "ix_messages_raw_purged_at_updated_at", "messages", ["raw_purged_at", "updated_at"]
    )
    op.create_index(
        "ix_messages_webhook_kept",
        "messages",
        ["updated_at"],
        sqlite_where=_KEPT,
        postgresql_where=_KEPT,
    )


def downgrade() -> None:
    """Undo 0006. Bytes already erased stay erased (their messages show size 0). On
    SQLite this needs ``ALTER TABLE … DROP COLUMN`` (3.35 or newer), as 0002 does."""
    op.drop_index("ix_messages_webhook_kept", table_name="messages")
    op.drop_index("ix_messages_raw_purged_at_updated_at", table_name="messages")
    with op.batch_alter_table("messages", recreate="never") as batch:
        batch.drop_column("raw_size")
        batch.drop_column("raw_purged_at")
