"""What callers do to messages: store one, cancel one, report one consumed.

:class:`OutboxActions` is the caller-facing write side of
:class:`authmail_relay.db.outbox.Outbox` (the worker-facing side, claims and reports, is in
``outbox.py``). Each call is one transaction that changes the message row and writes its
event together, with the time read from the database clock.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..exceptions import ConflictError, NotFoundError, ValidationError
from ..trust.rate_limits import Limit
from ..vocabulary import EventType, MessageStatus
from .idempotency import KEY_IN_USE, IdempotencyLink, held_by
from .outbox_events import NewEvent, write_events
from .outbox_queries import event_data, select_messages, write_transaction
from .outbox_reads import OutboxReader
from .outbox_records import MessageRecord, NewMessage, dump_json, message_from_row
from .rate_store import check_and_record
from .schema import PRIORITY_RANK, idempotency_keys, messages
from .wakeups import announce_due

__all__ = ["NOT_CANCELLABLE", "NOT_CONSUMABLE", "OutboxActions"]

#: Key in a connection's ``info`` counting the webhook deliveries its transaction wrote.
_DELIVERIES_WRITTEN = "authmail_webhook_deliveries"

#: ``ConflictError.error_code`` for cancelling a message that is no longer waiting.
NOT_CANCELLABLE = "not_cancellable"
#: ``ConflictError.error_code`` for consuming a message that was not sent.
NOT_CONSUMABLE = "not_consumable"

# A sending message is being handed to SMTP right now and cannot be withdrawn.
_CANCELLABLE = (MessageStatus.QUEUED.value, MessageStatus.DEFERRED.value)


class OutboxActions(OutboxReader):
    """Storing, cancelling and consuming messages; the reads come from OutboxReader."""

    @contextlib.asynccontextmanager
    async def _write(self, action: str) -> AsyncIterator[tuple[AsyncConnection, int]]:
        """A write transaction and the database time at its start; commits on exit.
        If it wrote webhook deliveries, :attr:`webhooks_due` is set once it committed."""
        async with write_transaction(self._engine, action) as (connection, now):
            connection.info[_DELIVERIES_WRITTEN] = 0
            yield connection, now
            written = connection.info.pop(_DELIVERIES_WRITTEN, 0)
        if written:
            self.webhooks_due.set()

    async def _add_events(self, connection: AsyncConnection, now: int, *new: NewEvent) -> None:
        """Write events (and their webhook deliveries) in the caller's transaction."""
        written = await write_events(
            connection,
            now,
            new,
            webhook_max_age_ms=self._webhook_max_age_ms,
            hash_address=self.hash_address,
        )
        connection.info[_DELIVERIES_WRITTEN] = connection.info.get(_DELIVERIES_WRITTEN, 0) + written

    def _seal(self, secret: str | None, *, context: str) -> str | None:
        if secret is None or self._keys is None:
            return secret
        return self._keys.seal(secret, context=context)

    async def enqueue(
        self,
        message: NewMessage,
        *,
        idempotency: IdempotencyLink | None = None,
        limits: Sequence[Limit] = (),
    ) -> MessageRecord:
        """Store *message* as ``queued`` and write its ``message.queued`` event, atomically.

        With *idempotency* (from ``IdempotencyStore.begin``), the idempotency key is pointed
        at the new message in the same transaction. If the request no longer owns the key
        (its lock was taken over) or the key already points at a message, nothing is
        stored and ConflictError (``idempotency_key_in_use``) is raised.

        *limits* (rate-limit buckets, see :mod:`authmail_relay.db.rate_store`) are checked
        and recorded in the same transaction: if one refuses, RateLimitedError is raised
        and nothing is stored.
        """
        if message.max_age_ms <= 0:
            raise ValidationError("max_age_ms must be positive", field="max_age_ms")
        if message.expires_in_ms is not None and message.expires_in_ms < 0:
            raise ValidationError("expires_in_ms must not be negative", field="expires_in_ms")
        if message.webhook_secret is not None and message.webhook_url is None:
            raise ValidationError("a webhook secret needs a webhook URL", field="webhook_secret")
        fields: dict[str, Any] = {
            "id": message.id,
            "kind": message.kind.value,
            "priority": message.priority.value,
            "priority_rank": PRIORITY_RANK[message.priority],
            "status": MessageStatus.QUEUED.value,
            "sender": message.sender,
            "recipients": dump_json(list(message.recipients), field_name="recipients"),
            "subject": message.subject,
            "message_id": message.message_id,
            "raw": message.raw,
            "tags": dump_json(list(message.tags), field_name="tags"),
            "meta": dump_json(dict(message.meta), field_name="metadata"),
            "request_id": message.request_id,
            "attempt_count": 0,
            "webhook_url": message.webhook_url,
            "webhook_secret": self._seal(message.webhook_secret, context=message.id),
            "api_key_id": message.api_key_id,
        }
        async with self._write("store the message") as (connection, now):
            if idempotency is not None:
                # First, so a request that lost its key writes nothing at all.
                await _link_message(connection, idempotency, message.id)
            await check_and_record(connection, now, limits)
            fields["created_at"] = fields["updated_at"] = now
            # A send time in the past is "due now", so it does not jump the queue.
            fields["next_attempt_at"] = max(now, message.send_at_ms or now)
            fields["expires_at"] = (
                None if message.expires_in_ms is None else now + message.expires_in_ms
            )
            fields["give_up_at"] = now + message.max_age_ms
            await connection.execute(messages.insert().values(**fields))
            data = event_data(
                kind=message.kind.value,
                priority=message.priority.value,
                send_at=fields["next_attempt_at"] if fields["next_attempt_at"] > now else None,
            )
            await self._add_events(
                connection, now, NewEvent(message.id, EventType.QUEUED, MessageStatus.QUEUED, data)
            )
            if fields["next_attempt_at"] <= now:
                # Workers in other processes hear of it on commit (PostgreSQL only).
                await announce_due(connection, message.priority.value)
        return message_from_row(
            {
                **fields,
                "size": len(message.raw),
                "has_webhook": message.webhook_url is not None,
                "lease_owner": None,
                "lease_expires_at": None,
                "sent_at": None,
                "last_error_code": None,
                "last_error_message": None,
                "cancelled_at": None,
                "consumed_at": None,
                "raw_purged_at": None,
            }
        )

    async def cancel(self, message_id: str) -> MessageRecord:
        """Withdraw a ``queued`` or ``deferred`` message: status ``cancelled`` (terminal).

        Sets ``cancelled_at``, clears any lease and writes ``message.cancelled``, in one
        transaction guarded by the status, so a worker claiming the message at the same
        moment either gets it (and the cancel fails) or never sees it. Returns the updated
        record. NotFoundError for an unknown id; ConflictError (``not_cancellable``) for any
        other status: a ``sending`` message is being handed to SMTP right now, and the rest
        are final.
        """
        async with self._write("cancel the message") as (connection, now):
            result = await connection.execute(
                messages.update()
                .where(messages.c.id == message_id, messages.c.status.in_(_CANCELLABLE))
                .values(
                    status=MessageStatus.CANCELLED.value,
                    cancelled_at=now,
                    updated_at=now,
                    lease_token=None,
                    lease_owner=None,
                    lease_expires_at=None,
                )
            )
            if result.rowcount != 1:
                status = await _status(connection, message_id)
                raise ConflictError(
                    f"message is {status}; only queued or deferred messages can be cancelled",
                    error_code=NOT_CANCELLABLE,
                )
            await self._add_events(
                connection, now, NewEvent(message_id, EventType.CANCELLED, MessageStatus.CANCELLED)
            )
            return await _record(connection, message_id)

    async def consume(self, message_id: str) -> MessageRecord:
        """Record that the link or code in a ``sent`` message was used: status ``consumed``.

        Sets ``consumed_at`` and writes ``message.consumed``. Consuming a ``consumed``
        message again returns it unchanged (no second event). NotFoundError for an unknown
        id; ConflictError (``not_consumable``) for any status other than those two.
        """
        async with self._write("consume the message") as (connection, now):
            result = await connection.execute(
                messages.update()
                .where(
                    messages.c.id == message_id,
                    messages.c.status == MessageStatus.SENT.value,
                )
                .values(status=MessageStatus.CONSUMED.value, consumed_at=now, updated_at=now)
            )
            if result.rowcount == 1:
                consumed = NewEvent(message_id, EventType.CONSUMED, MessageStatus.CONSUMED)
                await self._add_events(connection, now, consumed)
            else:
                status = await _status(connection, message_id)
                if status is not MessageStatus.CONSUMED:
                    raise ConflictError(
                        f"message is {status}; only sent messages can be consumed",
                        error_code=NOT_CONSUMABLE,
                    )
            return await _record(connection, message_id)


async def _link_message(
    connection: AsyncConnection, link: IdempotencyLink, message_id: str
) -> None:
    """Point the key held by *link* at *message_id*, inside the caller's transaction.

    ConflictError (``error_code`` :data:`KEY_IN_USE`) if the request no longer owns the
    key, or the key already points at a message; the caller's transaction must then be
    rolled back so that no message is stored without its key.
    """
    result = await connection.execute(
        update(idempotency_keys)
        .where(held_by(link), idempotency_keys.c.message_id.is_(None))
        .values(message_id=message_id)
    )
    if result.rowcount != 1:
        raise ConflictError(
            "the idempotency key is not held by this request or already has a message",
            error_code=KEY_IN_USE,
        )


async def _status(connection: AsyncConnection, message_id: str) -> MessageStatus:
    """The message's current status; NotFoundError if there is no such message."""
    value = await connection.scalar(select(messages.c.status).where(messages.c.id == message_id))
    if value is None:
        raise NotFoundError(f"no message {message_id!r}")
    return MessageStatus(value)


async def _record(connection: AsyncConnection, message_id: str) -> MessageRecord:
    query = select_messages().where(messages.c.id == message_id)
    row = (await connection.execute(query)).mappings().one()
    return message_from_row(row)
