"""Webhook delivery targets: the column the dispatcher's fair share is counted by.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

Adds ``webhook_deliveries.target`` and an index on ``lease_expires_at`` (deliveries in
flight are counted per target at every claim). Existing rows are filled in: a registered
endpoint's deliveries with ``endpoint:<id>``; the per-request deliveries of messages
that still have one pending with the host and port of the message's ``webhook_url``
(the rule new deliveries follow); the other per-request ones (finished, but replayable)
with ``url:`` and the whole URL, one SQL statement however many there are.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Pending per-request deliveries are re-keyed this many messages at a time.
_BATCH = 500


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", recreate="never") as batch:
        batch.add_column(
            sa.Column("target", sa.Text(), nullable=False, server_default=sa.text("''"))
        )
    op.create_index(
        "ix_webhook_deliveries_lease_expires_at", "webhook_deliveries", ["lease_expires_at"]
    )
    op.execute(
        "UPDATE webhook_deliveries SET target = 'endpoint:' || endpoint_id"
        " WHERE endpoint_id IS NOT NULL"
    )
    # Finished per-request deliveries (replayable) are keyed by their message: a copy of
    # the URL here would outlive the retention sweep that forgets the message's URL.
    op.execute(
        "UPDATE webhook_deliveries SET target = 'message:' || message_id WHERE endpoint_id IS NULL"
    )
    _key_pending_by_host()


def _key_pending_by_host() -> None:
    # Imported here: the migration environment has the package, and the rule is the
    # package's own (the same key new deliveries get).
    from authmail_relay.webhooks.targets import url_target

    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT DISTINCT m.id, m.webhook_url FROM messages m"
            " JOIN webhook_deliveries d ON d.message_id = m.id"
            " WHERE d.endpoint_id IS NULL AND d.status = 'pending'"
            " AND m.webhook_url IS NOT NULL"
        )
    ).all()
    update = sa.text(
        "UPDATE webhook_deliveries SET target = :target"
        " WHERE message_id = :message AND endpoint_id IS NULL"
    )
    for start in range(0, len(rows), _BATCH):
        connection.execute(
            update,
            [
                {"target": url_target(url), "message": id_}
                for id_, url in rows[start : start + _BATCH]
            ],
        )


def downgrade() -> None:
    """Undo 0007: the dispatcher of 0006 does not share its slots by target."""
    op.drop_index("ix_webhook_deliveries_lease_expires_at", table_name="webhook_deliveries")
    with op.batch_alter_table("webhook_deliveries", recreate="never") as batch:
        batch.drop_column("target")
