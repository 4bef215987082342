"""Deciding held messages: approve, reject, list them; the rules read at intake.

The SQL behind ``Outbox.approve``, ``Outbox.reject`` and ``Outbox.list_held``
(:class:`authmail_relay.db.outbox.Outbox` documents each contract; a batch is
:mod:`authmail_relay.db.approval_batches`).
A decision is one transaction of the outbox's writer: one UPDATE guarded by
``status = 'held'``, by the approver not being the key that made the message (separation
of duties) and by the message not having expired, then its event (and so its audit
entry). Of two approvers deciding at once exactly one UPDATE changes the row; the other
finds it no longer held. Nothing here reads the clock of the host: times are the
database's.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, case, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..exceptions import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from ..mail.message_request import check_encodable
from ..oversight.rules import MAX_RULES, Rule
from ..vocabulary import ErrorCode, EventType, Kind, MessageStatus
from .engine import storage_errors
from .outbox_events import NewEvent
from .outbox_queries import event_data, message_filters, select_messages
from .outbox_records import MessageRecord, message_from_row
from .outbox_results import EXPIRED_MESSAGE
from .outbox_writer import OutboxWriter
from .rules_store import rule_from_row
from .schema import approval_rules, messages
from .sql import db_now, notify
from .wakeups import OUTBOX_CHANNEL

#: Decoded rules by their stored values (see :func:`load_rules`).
_PARSED: dict[tuple[str, int, str, str], Rule] = {}

__all__ = [
    "MAX_DECISIONS",
    "MAX_REASON_CHARS",
    "MESSAGE_EXPIRED",
    "NOT_HELD",
    "REASON_REQUIRED",
    "SELF_APPROVAL",
    "approve",
    "check_reason",
    "list_held",
    "load_rules",
    "reject",
]

#: ``ConflictError.error_code``: the message is not (or no longer) held.
NOT_HELD = "not_held"
#: ``ConflictError.error_code``: the held message expired before it was approved (it is
#: now ``expired``).
MESSAGE_EXPIRED = "message_expired"
#: ``PermissionDeniedError.error_code``: an approver deciding on its own message.
SELF_APPROVAL = "self_approval"
#: ``ValidationError.error_code``: a rejection without a reason.
REASON_REQUIRED = "reason_required"
#: Longest reason an approver may give, and most decisions in one batch.
MAX_REASON_CHARS = 500
MAX_DECISIONS = 100

_HELD = MessageStatus.HELD.value


def check_reason(reason: str | None, *, required: bool) -> str | None:
    """The approver's reason, stripped; None when absent and not *required*.

    ValidationError (field ``reason``): missing or blank when *required*
    (``reason_required``), longer than :data:`MAX_REASON_CHARS`, holding a control
    character or not valid Unicode. The length is checked before anything else is.
    """
    if reason is not None and len(reason) > MAX_REASON_CHARS:
        raise ValidationError(f"reason: at most {MAX_REASON_CHARS} characters", field="reason")
    text = (reason or "").strip()
    if not text:
        if required:
            raise ValidationError(
                "a rejection needs a reason", field="reason", error_code=REASON_REQUIRED
            )
        return None
    check_encodable(text, field="reason")
    if any(ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 for char in text):
        raise ValidationError("reason must not hold control characters", field="reason")
    return text


async def load_rules(connection: AsyncConnection) -> list[Rule]:
    """Every rule, in the order they are tried (one small SELECT, in the caller's
    transaction, so a send is decided by the rules as they are when it commits).

    A rule's conditions are decoded once per stored version (the cache is keyed by the
    row's values and bounded), so a send pays for the SELECT, not for parsing up to
    :data:`~authmail_relay.oversight.rules.MAX_RULES` rules again."""
    result = await connection.execute(
        select(approval_rules).order_by(approval_rules.c.position, approval_rules.c.id)
    )
    rules = []
    for row in result:
        key = (row.id, row.position, row.action, row.conditions)
        rule = _PARSED.get(key)
        if rule is None:
            rule = _PARSED[key] = rule_from_row(row)
            while len(_PARSED) > 2 * MAX_RULES:
                del _PARSED[next(iter(_PARSED))]
        rules.append(rule)
    return rules


def _decidable(message_id: str, actor: str, now: int) -> ColumnElement[bool]:
    """Held, not the actor's own, and not past its expiry: what a decision may change."""
    return and_(
        messages.c.id == message_id,
        messages.c.status == _HELD,
        or_(messages.c.api_key_id.is_(None), messages.c.api_key_id != actor),
        or_(messages.c.expires_at.is_(None), messages.c.expires_at > now),
    )


async def approve(
    writer: OutboxWriter, message_id: str, actor: str, reason: str | None = None
) -> MessageRecord:
    reason = check_reason(reason, required=False)
    async with writer.write("approve the message") as (connection, now):
        due = case((messages.c.next_attempt_at < now, now), else_=messages.c.next_attempt_at)
        result = await connection.execute(
            messages.update()
            .where(_decidable(message_id, actor, now))
            .values(
                status=MessageStatus.QUEUED.value,
                next_attempt_at=due,
                decided_at=now,
                decided_by=actor,
                decision_reason=reason,
                updated_at=now,
            )
            .returning(messages.c.priority, messages.c.next_attempt_at)
        )
        changed = result.first()
        if changed is not None:
            data = event_data(reason=reason, decided_by=actor)
            event = NewEvent(
                message_id, EventType.APPROVED, MessageStatus.QUEUED, data, actor=actor
            )
            await writer.add_events(connection, now, event)
            if changed.next_attempt_at <= now:
                await notify(connection, OUTBOX_CHANNEL, changed.priority)
            return await _record(connection, message_id)
        await _refuse(writer, connection, now, message_id, actor)
    # Only an expired message gets here: its expiry is committed, then refused.
    raise ConflictError("the message expired while it was held", error_code=MESSAGE_EXPIRED)


async def reject(writer: OutboxWriter, message_id: str, actor: str, reason: str) -> MessageRecord:
    checked = check_reason(reason, required=True)
    async with writer.write("reject the message") as (connection, now):
        result = await connection.execute(
            messages.update()
            .where(_decidable(message_id, actor, now))
            .values(
                status=MessageStatus.REJECTED.value,
                decided_at=now,
                decided_by=actor,
                decision_reason=checked,
                updated_at=now,
            )
        )
        if result.rowcount == 1:
            data = event_data(reason=checked, decided_by=actor)
            event = NewEvent(
                message_id, EventType.REJECTED, MessageStatus.REJECTED, data, actor=actor
            )
            await writer.add_events(connection, now, event)
            return await _record(connection, message_id)
        await _refuse(writer, connection, now, message_id, actor)
    # An expired held message is never sent either way; say what it became.
    raise ConflictError("the message expired while it was held", error_code=MESSAGE_EXPIRED)


async def _refuse(
    writer: OutboxWriter, connection: AsyncConnection, now: int, message_id: str, actor: str
) -> None:
    """Say why a decision changed nothing: NotFoundError, PermissionDeniedError
    (``self_approval``) or ConflictError (``not_held``). Returns only for a held message
    past its expiry, after marking it ``expired`` in the caller's transaction."""
    row = (
        await connection.execute(
            select(messages.c.status, messages.c.api_key_id).where(messages.c.id == message_id)
        )
    ).first()
    if row is None:
        raise NotFoundError(f"no message {message_id!r}")
    if row.api_key_id is not None and row.api_key_id == actor:
        raise PermissionDeniedError(
            "a key cannot decide on the messages it sent (separation of duties)",
            error_code=SELF_APPROVAL,
        )
    if row.status != _HELD:
        raise ConflictError(f"message is {row.status}, not held", error_code=NOT_HELD)
    await expire_held_ids(writer, connection, now, [message_id])


async def expire_held_ids(
    writer: OutboxWriter, connection: AsyncConnection, now: int, ids: Sequence[str]
) -> list[str]:
    """Mark those of *ids* that are still held and past their expiry ``expired`` (never
    sent), with their ``message.expired`` events (actor ``relay``); returns their ids."""
    if not ids:
        return []
    result = await connection.execute(
        messages.update()
        .where(
            messages.c.id.in_(ids),
            messages.c.status == _HELD,
            messages.c.expires_at <= now,
        )
        .values(
            status=MessageStatus.EXPIRED.value,
            last_error_code=ErrorCode.EXPIRED.value,
            last_error_message=EXPIRED_MESSAGE,
            updated_at=now,
        )
        .returning(messages.c.id)
    )
    expired = sorted(row.id for row in result)
    data = event_data(error_code=ErrorCode.EXPIRED.value)
    await writer.add_events(
        connection,
        now,
        *(NewEvent(i, EventType.EXPIRED, MessageStatus.EXPIRED, data) for i in expired),
    )
    return expired


async def list_held(
    reader: AsyncEngine,
    *,
    api_key_id: str | None,
    kind: Kind | None,
    tag: str | None,
    older_than_ms: int | None,
    limit: int,
    before_id: str | None,
) -> list[MessageRecord]:
    if not 1 <= limit <= 200:
        raise ValidationError("limit must be between 1 and 200", field="limit")
    with storage_errors("list held messages"):
        async with reader.connect() as connection:
            created_before = None
            if older_than_ms is not None:
                created_before = await db_now(connection) - older_than_ms
            conditions = message_filters(
                connection,
                status=MessageStatus.HELD,
                tag=tag,
                api_key_id=api_key_id,
                created_before=created_before,
                before_id=before_id,
            )
            if kind is not None:
                conditions.append(messages.c.kind == kind.value)
            query = select_messages().where(*conditions).order_by(messages.c.id.desc())
            rows = (await connection.execute(query.limit(limit))).mappings().all()
    return [message_from_row(row) for row in rows]


async def _record(connection: AsyncConnection, message_id: str) -> MessageRecord:
    row = (
        (await connection.execute(select_messages().where(messages.c.id == message_id)))
        .mappings()
        .one()
    )
    return message_from_row(row)
