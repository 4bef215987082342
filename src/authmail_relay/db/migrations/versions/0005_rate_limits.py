"""Rate limits: the rate_events table.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21

One new table; nothing existing is altered.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("bucket", sa.Text(), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rate_events"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_rate_events_bucket_at_ms", "rate_events", ["bucket", "at_ms"])
    op.create_index("ix_rate_events_expires_at", "rate_events", ["expires_at"])


def downgrade() -> None:
    """Undo 0005: forgets every counted event (limits start afresh)."""
    op.drop_index("ix_rate_events_expires_at", table_name="rate_events")
    op.drop_index("ix_rate_events_bucket_at_ms", table_name="rate_events")
    op.drop_table("rate_events")
