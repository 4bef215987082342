"""Oversight: held messages, approval rules, oversight modes, the audit trail.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

Adds the decision columns of held messages and ``unused_at`` to ``messages`` (with a
partial index for the sweep that reports unused auth mail), ``oversight`` to
``api_keys`` (existing keys stay ``autonomous``: nothing changes for them), and three
tables: ``approval_rules``, ``audit`` and ``audit_checkpoints``. Triggers make ``audit``
append-only on both databases (an UPDATE or DELETE fails); a database owner can still
drop them, which is what ``authmail-relay audit verify`` is there to catch.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNUSED_DUE = sa.text("status = 'sent' AND unused_at IS NULL AND expires_at IS NOT NULL")

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
)
_POSTGRES_TRIGGERS = (
    "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$",
    "CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit"
    " FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
    "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit"
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()",
)


def upgrade() -> None:
    with op.batch_alter_table("messages", recreate="never") as batch:
        batch.add_column(sa.Column("decided_at", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("decided_by", sa.Text(), nullable=True))
        batch.add_column(sa.Column("decision_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("unused_at", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_messages_unused_due",
        "messages",
        ["expires_at"],
        sqlite_where=_UNUSED_DUE,
        postgresql_where=_UNUSED_DUE,
    )
    with op.batch_alter_table("api_keys", recreate="never") as batch:
        batch.add_column(
            sa.Column(
                "oversight", sa.Text(), nullable=False, server_default=sa.text("'autonomous'")
            )
        )
    op.create_table(
        "approval_rules",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("conditions", sa.Text(), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("description", sa.Text(), nullable=False, server_default=sa.text("''")),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_approval_rules"),
    )
    op.create_index("ix_approval_rules_position_id", "approval_rules", ["position", "id"])
    op.create_table(
        "audit",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("prev_hash", sa.Text(), nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit"),
    )
    op.create_index("ix_audit_subject_seq", "audit", ["subject", "seq"])
    op.create_index("ix_audit_action_seq", "audit", ["action", "seq"])
    op.create_index("ix_audit_actor_seq", "audit", ["actor", "seq"])
    op.create_index("ix_audit_at", "audit", ["at"])
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("head_hash", sa.Text(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_checkpoints"),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRES_TRIGGERS if postgres else _SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    """Undo 0008: drops the audit trail, the rules and every decision record."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE audit CASCADE")
        op.execute("DROP FUNCTION audit_append_only()")
    else:
        op.drop_table("audit")
    op.drop_table("audit_checkpoints")
    op.drop_index("ix_approval_rules_position_id", table_name="approval_rules")
    op.drop_table("approval_rules")
    with op.batch_alter_table("api_keys", recreate="never") as batch:
        batch.drop_column("oversight")
    op.drop_index("ix_messages_unused_due", table_name="messages")
    with op.batch_alter_table("messages", recreate="never") as batch:
        batch.drop_column("unused_at")
        batch.drop_column("decision_reason")
        batch.drop_column("decided_by")
        batch.drop_column("decided_at")
