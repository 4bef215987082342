"""Workers taking messages: the claim, extending a lease, handing a message back.

The SQL behind ``Outbox.claim``, ``Outbox.extend_lease`` and ``Outbox.release``
(:class:`authmail_relay.db.outbox.Outbox` documents each contract). Each call is one
transaction of the outbox's :class:`~authmail_relay.db.outbox_writer.OutboxWriter`; a
lease is identified by the random token the claim gave it, and every later change is
guarded by that token (:func:`~authmail_relay.db.outbox_queries.lease_guard`).
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import replace

from ..trust.rate_limits import Limit
from ..vocabulary import EventType, MessageStatus, Priority
from .outbox_events import NewEvent
from .outbox_queries import claim_statement, event_data, lease_guard
from .outbox_records import Claim, load_strings
from .outbox_writer import OutboxWriter
from .rate_store import record, reserve
from .schema import messages
from .sql import notify
from .wakeups import OUTBOX_CHANNEL

__all__ = ["claim", "extend_lease", "release"]


async def claim(
    writer: OutboxWriter,
    *,
    worker_id: str,
    limit: int,
    lease_ms: int,
    priorities: Collection[Priority] | None,
    send_cap: Limit | None,
) -> list[Claim]:
    if lease_ms <= 0:
        raise ValueError("lease_ms must be positive")
    if limit <= 0:
        return []
    token = secrets.token_urlsafe(18)
    async with writer.write("claim messages") as (connection, now):
        if send_cap is not None:
            limit = await reserve(connection, now, send_cap, limit)
            if limit <= 0:
                return []
        statement = claim_statement(
            now=now,
            limit=limit,
            lease_ms=lease_ms,
            token=token,
            worker_id=worker_id,
            priorities=priorities,
        )
        rows = (await connection.execute(statement)).mappings().all()
        if send_cap is not None and send_cap.quota > 0:
            await record(connection, now, send_cap, len(rows))
        await writer.add_events(
            connection,
            now,
            *(
                NewEvent(
                    row["id"],
                    EventType.SENDING,
                    MessageStatus.SENDING,
                    event_data(
                        attempt=row["attempt_count"] + 1,
                        reclaimed=bool(row["lease_reclaimed"]),
                        worker_id=worker_id,
                    ),
                )
                for row in rows
            ),
        )
    ordered = sorted(rows, key=lambda r: (r["priority_rank"], r["next_attempt_at"], r["id"]))
    return [
        Claim(
            id=row["id"],
            lease_token=token,
            sender=row["sender"],
            recipients=load_strings(row["recipients"]),
            raw=bytes(row["raw"]),
            message_id=row["message_id"],
            priority=Priority(row["priority"]),
            attempt_number=row["attempt_count"] + 1,
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            give_up_at=row["give_up_at"],
            claimed_at=now,
            lease_expires_at=row["lease_expires_at"],
            reclaimed=bool(row["lease_reclaimed"]),
            worker_id=worker_id,
        )
        for row in ordered
    ]


async def extend_lease(writer: OutboxWriter, claim: Claim, lease_ms: int) -> Claim | None:
    if lease_ms <= 0:
        raise ValueError("lease_ms must be positive")
    async with writer.write("extend the lease") as (connection, now):
        result = await connection.execute(
            messages.update()
            .where(lease_guard(claim.id, claim.lease_token))
            .values(lease_expires_at=now + lease_ms)
        )
        if result.rowcount != 1:
            return None
    return replace(claim, lease_expires_at=now + lease_ms)


async def release(writer: OutboxWriter, claim: Claim) -> bool:
    async with writer.write("release the message") as (connection, now):
        result = await connection.execute(
            messages.update()
            .where(lease_guard(claim.id, claim.lease_token))
            .values(
                status=MessageStatus.QUEUED.value,
                next_attempt_at=now,
                lease_token=None,
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
            )
        )
        if result.rowcount != 1:
            return False
        data = event_data(worker_id=claim.worker_id or None)
        await writer.add_events(
            connection, now, NewEvent(claim.id, EventType.REQUEUED, MessageStatus.QUEUED, data)
        )
        # Due at once, for anyone (wakeups.announce_due, like enqueue).
        await notify(connection, OUTBOX_CHANNEL, claim.priority.value)
    return True
