"""What callers do to messages: store one, cancel one, report one consumed.

The SQL behind ``Outbox.enqueue``, ``Outbox.cancel`` and ``Outbox.consume``
(:class:`authmail_relay.db.outbox.Outbox` documents each contract). Each call is one
transaction of the outbox's :class:`~authmail_relay.db.outbox_writer.OutboxWriter` that
changes the message row and writes its event together, with the time read from the
database clock. Storing reads the approval rules in that transaction (one SELECT) and
stores the message ``queued`` or ``held`` as
:func:`~authmail_relay.oversight.rules.decide_intake` says.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..exceptions import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from ..oversight.rules import Intake, SendFacts, decide_intake
from ..trust.rate_limits import Limit
from ..vocabulary import EventType, MessageStatus, OversightMode
from .approvals import load_rules
from .idempotency import KEY_IN_USE, IdempotencyLink, held_by
from .outbox_events import NewEvent
from .outbox_queries import event_data, select_messages
from .outbox_records import MessageRecord, NewMessage, dump_json, message_from_row
from .outbox_writer import OutboxWriter
from .rate_store import check_and_record
from .schema import PRIORITY_RANK, idempotency_keys, messages
from .sql import notify
from .wakeups import OUTBOX_CHANNEL

__all__ = ["NOT_CANCELLABLE", "NOT_CONSUMABLE", "READ_ONLY", "cancel", "consume", "enqueue"]

#: ``ConflictError.error_code`` for cancelling a message that is no longer waiting.
NOT_CANCELLABLE = "not_cancellable"
#: ``ConflictError.error_code`` for consuming a message that was not sent.
NOT_CONSUMABLE = "not_consumable"
#: ``PermissionDeniedError.error_code`` for a send from a ``read_only`` key.
READ_ONLY = "read_only"

# A sending message is being handed to SMTP right now and cannot be withdrawn.
_CANCELLABLE = (
    MessageStatus.QUEUED.value,
    MessageStatus.DEFERRED.value,
    MessageStatus.HELD.value,
)


async def enqueue(
    writer: OutboxWriter,
    message: NewMessage,
    *,
    idempotency: IdempotencyLink | None = None,
    limits: Sequence[Limit] = (),
) -> MessageRecord:
    if message.oversight is OversightMode.READ_ONLY:
        raise PermissionDeniedError("this API key may not send (read_only)", error_code=READ_ONLY)
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
        "webhook_secret": writer.seal(message.webhook_secret, context=message.id),
        "api_key_id": message.api_key_id,
    }
    async with writer.write("store the message") as (connection, now):
        if idempotency is not None:
            # First, so a request that lost its key writes nothing at all.
            await _link_message(connection, idempotency, message.id)
        await check_and_record(connection, now, limits)
        intake = decide_intake(message.oversight, await load_rules(connection), _facts(message))
        fields["status"] = intake.status.value
        if intake.approved_by is not None:
            fields["decided_at"], fields["decided_by"] = now, intake.approved_by
        fields["created_at"] = fields["updated_at"] = now
        # A send time in the past is "due now", so it does not jump the queue.
        due = fields["next_attempt_at"] = max(now, message.send_at_ms or now)
        fields["expires_at"] = (
            None if message.expires_in_ms is None else now + message.expires_in_ms
        )
        if due > now and fields["expires_at"] is not None and due >= fields["expires_at"]:
            # The relay checks this against its own clock; this is the database's, so a
            # clock skew between the two can never schedule a dead message.
            raise ValidationError("send_at must be before the message expires", field="send_at")
        # The retry window opens at the send time: a scheduled message keeps all of it.
        fields["give_up_at"] = due + message.max_age_ms
        await connection.execute(messages.insert().values(**fields))
        data = event_data(
            kind=message.kind.value,
            priority=message.priority.value,
            send_at=fields["next_attempt_at"] if fields["next_attempt_at"] > now else None,
        )
        # The row is in hand: a rule's approval or a monitored send is reported without
        # reading the message back.
        row = {**fields, "sent_at": None}
        await writer.add_events(
            connection,
            now,
            *_intake_events(writer, message, intake, data),
            known={message.id: row},
        )
        if intake.status is MessageStatus.QUEUED and fields["next_attempt_at"] <= now:
            # Workers in other processes hear of it on commit (PostgreSQL only): what
            # wakeups.announce_due does, without its wrapper's call on this hot path.
            await notify(connection, OUTBOX_CHANNEL, message.priority.value)
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
            "decided_at": fields.get("decided_at"),
            "decided_by": fields.get("decided_by"),
            "decision_reason": None,
            "unused_at": None,
        }
    )


def _facts(message: NewMessage) -> SendFacts:
    return SendFacts(
        kind=message.kind,
        priority=message.priority,
        sender=message.sender.lower(),
        recipients=tuple(address.lower() for address in message.recipients),
        tags=tuple(message.tags),
        api_key_id=message.api_key_id,
    )


def _intake_events(
    writer: OutboxWriter, message: NewMessage, intake: Intake, data: str
) -> list[NewEvent]:
    """The events of a stored message: ``message.queued`` or ``message.held`` (actor: the
    key), then, for a gated send an ``approve`` rule let through, ``message.approved``
    (actor: the rule), or, from a monitored key, ``message.monitored``."""
    actor = message.api_key_id or "relay"
    audit = _accepted_facts(writer, message)
    if intake.status is MessageStatus.HELD:
        held_data = data if intake.rule is None else _with(data, rule=intake.rule.id)
        return [
            NewEvent(message.id, EventType.HELD, intake.status, held_data, actor=actor, audit=audit)
        ]
    out = [NewEvent(message.id, EventType.QUEUED, intake.status, data, actor=actor, audit=audit)]
    if intake.approved_by is not None:
        approved = event_data(rule=intake.approved_by, decided_by=intake.approved_by)
        out.append(
            NewEvent(
                message.id, EventType.APPROVED, intake.status, approved, actor=intake.approved_by
            )
        )
    if intake.monitored:
        out.append(NewEvent(message.id, EventType.MONITORED, intake.status, data, actor=actor))
    return out


def _with(data: str, **values: str) -> str:
    return event_data(**{**json.loads(data), **values})


def _accepted_facts(writer: OutboxWriter, message: NewMessage) -> dict[str, Any]:
    """What the audit trail records of an accepted message: who, what kind, to whom
    (hashed), its tags and request id; never its subject, body, token or code."""
    return {
        "key": message.api_key_id,
        "to_hash": [writer.hash_address(address) for address in message.recipients],
        "tags": list(message.tags),
        "request_id": message.request_id,
    }


async def cancel(writer: OutboxWriter, message_id: str) -> MessageRecord:
    async with writer.write("cancel the message") as (connection, now):
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
                f"message is {status}; only held, queued or deferred messages can be cancelled",
                error_code=NOT_CANCELLABLE,
            )
        await writer.add_events(
            connection, now, NewEvent(message_id, EventType.CANCELLED, MessageStatus.CANCELLED)
        )
        return await _record(connection, message_id)


async def consume(writer: OutboxWriter, message_id: str) -> MessageRecord:
    async with writer.write("consume the message") as (connection, now):
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
            await writer.add_events(connection, now, consumed)
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
