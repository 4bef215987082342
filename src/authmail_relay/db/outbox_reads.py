"""Reading the outbox: messages, their events and attempts, counts and the clock.

The SQL behind the read methods of :class:`authmail_relay.db.outbox.Outbox`. Every
function takes the outbox's read-only engine (:func:`~authmail_relay.db.engine.read_only`):
reads run in plain (deferred) transactions, so on SQLite they see a consistent snapshot
without waiting for writers. Errors of the database become StorageError. The contract of
each function is documented on the ``Outbox`` method of the same name.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..exceptions import NotFoundError, ValidationError
from ..vocabulary import MessageStatus
from .engine import storage_errors
from .outbox_queries import message_filters, select_messages
from .outbox_records import (
    EventRecord,
    MessageRecord,
    StoredAttempt,
    event_from_row,
    message_from_row,
    stored_attempt_from_row,
)
from .schema import attempts, events, messages
from .sql import db_now

__all__ = [
    "MAX_LIST_LIMIT",
    "count_by_status",
    "db_now_ms",
    "get_message",
    "list_attempts",
    "list_events",
    "list_messages",
    "message_exists",
    "next_due_at",
]

#: The most messages one listing call returns.
MAX_LIST_LIMIT = 200


@contextlib.asynccontextmanager
async def _read(reader: AsyncEngine, action: str) -> AsyncIterator[AsyncConnection]:
    with storage_errors(action):
        async with reader.connect() as connection:
            yield connection


async def db_now_ms(reader: AsyncEngine) -> int:
    async with _read(reader, "read the database clock") as connection:
        return await db_now(connection)


async def get_message(reader: AsyncEngine, message_id: str) -> MessageRecord:
    async with _read(reader, "read the message") as connection:
        result = await connection.execute(select_messages().where(messages.c.id == message_id))
        row = result.mappings().first()
    if row is None:
        raise NotFoundError(f"no message {message_id!r}")
    return message_from_row(row)


async def list_messages(
    reader: AsyncEngine,
    *,
    status: MessageStatus | None,
    tag: str | None,
    recipient: str | None,
    created_after: int | None,
    created_before: int | None,
    api_key_id: str | None,
    limit: int,
    before_id: str | None,
) -> list[MessageRecord]:
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise ValidationError(f"limit must be between 1 and {MAX_LIST_LIMIT}", field="limit")
    conditions = message_filters(
        reader,
        status=status,
        tag=tag,
        recipient=recipient,
        created_after=created_after,
        created_before=created_before,
        api_key_id=api_key_id,
        before_id=before_id,
    )
    query = select_messages().where(*conditions).order_by(messages.c.id.desc()).limit(limit)
    async with _read(reader, "list messages") as connection:
        rows = (await connection.execute(query)).mappings().all()
    return [message_from_row(row) for row in rows]


async def list_events(reader: AsyncEngine, message_id: str) -> list[EventRecord]:
    query = select(events).where(events.c.message_id == message_id).order_by(events.c.id)
    async with _read(reader, "list events") as connection:
        rows = (await connection.execute(query)).mappings().all()
        if not rows and not await message_exists(connection, message_id):
            raise NotFoundError(f"no message {message_id!r}")
    return [event_from_row(row) for row in rows]


async def list_attempts(reader: AsyncEngine, message_id: str) -> list[StoredAttempt]:
    query = select(attempts).where(attempts.c.message_id == message_id).order_by(attempts.c.id)
    async with _read(reader, "list attempts") as connection:
        rows = (await connection.execute(query)).mappings().all()
        if not rows and not await message_exists(connection, message_id):
            raise NotFoundError(f"no message {message_id!r}")
    return [stored_attempt_from_row(row) for row in rows]


async def count_by_status(reader: AsyncEngine) -> dict[MessageStatus, int]:
    query = select(messages.c.status, func.count()).group_by(messages.c.status)
    async with _read(reader, "count messages") as connection:
        rows = (await connection.execute(query)).all()
    counts = dict.fromkeys(MessageStatus, 0)
    for status, count in rows:
        counts[MessageStatus(status)] = int(count)
    return counts


_WAITING = select(func.min(messages.c.next_attempt_at)).where(
    messages.c.status.in_((MessageStatus.QUEUED.value, MessageStatus.DEFERRED.value))
)
_LEASED = select(func.min(messages.c.lease_expires_at)).where(
    messages.c.status == MessageStatus.SENDING.value
)


async def next_due_at(reader: AsyncEngine) -> int | None:
    async with _read(reader, "find the next due message") as connection:
        times = [await connection.scalar(_WAITING), await connection.scalar(_LEASED)]
    present = [int(t) for t in times if t is not None]
    return min(present) if present else None


async def message_exists(connection: AsyncConnection, message_id: str) -> bool:
    """Whether a message with this id is stored."""
    found = await connection.scalar(select(messages.c.id).where(messages.c.id == message_id))
    return found is not None
