"""SQL building blocks of the outbox: the database clock, the claim and the lease guard."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, Update, and_, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from .db.schema import messages
from .vocabulary import EventType, MessageStatus

__all__ = [
    "MESSAGE_COLUMNS",
    "claim_statement",
    "db_now",
    "event_row",
    "lease_guard",
    "select_messages",
]

# "Now" as epoch milliseconds, read from the database server so that every worker and
# every API process agrees on due times and lease expiry whatever their own clocks say.
_NOW_SQL = {
    "sqlite": "SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
    "postgresql": "SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint",
}

_UNLISTED = ("raw", "lease_token", "lease_reclaimed")
_CLAIMABLE = (MessageStatus.QUEUED.value, MessageStatus.DEFERRED.value)

#: Every message column except the body, plus its size.
MESSAGE_COLUMNS: tuple[ColumnElement[Any], ...] = (
    # Labelled by key: the "metadata" column is read back as "meta".
    *(column.label(column.key) for column in messages.c if column.key not in _UNLISTED),
    func.length(messages.c.raw).label("size"),
)


async def db_now(connection: AsyncConnection) -> int:
    """The database clock, in epoch milliseconds."""
    value = await connection.scalar(text(_NOW_SQL[connection.dialect.name]))
    return int(value)


def select_messages() -> Select[Any]:
    return select(*MESSAGE_COLUMNS)


def claim_statement(*, now: int, limit: int, lease_ms: int, token: str, worker_id: str) -> Update:
    """One UPDATE that leases up to *limit* due messages and returns them.

    Due means queued or deferred with ``next_attempt_at <= now``, or sending under a lease
    that expired before *now* (its worker died or stalled: the message is taken over,
    never dropped). The inner SELECT picks in claim order and, on PostgreSQL, locks its
    rows with ``FOR UPDATE SKIP LOCKED`` so concurrent claimers pick disjoint sets without
    waiting on each other; on SQLite the transaction already holds the write lock. The
    assignments read the row's values from before the update, which is how
    ``lease_reclaimed`` records whether the previous lease was taken over.
    """
    candidate = messages.alias("candidate")
    due = or_(
        and_(
            candidate.c.status.in_(_CLAIMABLE),
            candidate.c.next_attempt_at <= now,
        ),
        and_(
            candidate.c.status == MessageStatus.SENDING.value,
            candidate.c.lease_expires_at < now,
        ),
    )
    picked = (
        select(candidate.c.id)
        .where(due)
        .order_by(candidate.c.priority_rank, candidate.c.next_attempt_at, candidate.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (
        messages.update()
        .where(messages.c.id.in_(picked))
        .values(
            lease_reclaimed=messages.c.status == MessageStatus.SENDING.value,
            status=MessageStatus.SENDING.value,
            lease_token=token,
            lease_owner=worker_id,
            lease_expires_at=now + lease_ms,
            updated_at=now,
        )
        .returning(
            messages.c.id,
            messages.c.sender,
            messages.c.recipients,
            messages.c.raw,
            messages.c.message_id,
            messages.c.priority,
            messages.c.priority_rank,
            messages.c.attempt_count,
            messages.c.created_at,
            messages.c.next_attempt_at,
            messages.c.expires_at,
            messages.c.give_up_at,
            messages.c.lease_expires_at,
            messages.c.lease_reclaimed,
        )
    )


def lease_guard(message_id: str, token: str) -> ColumnElement[bool]:
    """True for the message only while the lease identified by *token* still holds it.

    A lease that ran out but was not yet taken over still counts: its worker's result is
    the truth, and nobody else can have sent the message in the meantime.
    """
    return and_(
        messages.c.id == message_id,
        messages.c.status == MessageStatus.SENDING.value,
        messages.c.lease_token == token,
    )


def event_row(
    message_id: str,
    event_type: EventType,
    status: MessageStatus,
    now: int,
    data: str,
) -> dict[str, Any]:
    """Parameters for inserting one event (``data`` is already JSON)."""
    return {
        "message_id": message_id,
        "type": event_type.value,
        "status": status.value,
        "created_at": now,
        "data": data,
    }
