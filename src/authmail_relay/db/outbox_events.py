"""Writing events: the one function every state change goes through.

:func:`write_events` inserts event rows inside the caller's transaction and, for the
event types reported to webhooks (:data:`~authmail_relay.vocabulary.WEBHOOK_EVENT_TYPES`),
fans each out into webhook delivery rows in that same transaction: one for the message's
own ``webhook_url`` (if it has one) and one per enabled registered endpoint whose filter
matches. So an event and its notifications are committed together or not at all, and a
crash can never leave an event that nobody will be told about. The delivery's body is
fixed here, from the message as it is at that moment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from ..oversight.chain import NewAuditEntry
from ..redaction import address_hash
from ..vocabulary import (
    WEBHOOK_EVENT_TYPES,
    AuditAction,
    DeliveryStatus,
    EventType,
    MessageStatus,
)
from ..webhooks.payloads import AddressHasher, PayloadFacts, build_payload, encode_payload
from ..webhooks.records import matches, new_delivery_id
from ..webhooks.targets import endpoint_target, url_target
from .audit_store import stage
from .outbox_records import load_strings
from .schema import events, messages, webhook_deliveries, webhook_endpoints

__all__ = ["AUDITED", "DEFAULT_WEBHOOK_MAX_AGE_MS", "NewEvent", "audit_entries", "write_events"]

#: How long deliveries are retried unless the outbox is told otherwise (24 hours).
DEFAULT_WEBHOOK_MAX_AGE_MS = 86_400_000


@dataclass(frozen=True)
class NewEvent:
    """One event to write. ``data`` is JSON text (``outbox_queries.event_data``).

    ``smtp_reply`` and ``refused`` go only into webhook bodies (the reply with addresses
    hashed, the refused recipients as hashes), never into the event row.
    """

    message_id: str
    type: EventType
    status: MessageStatus
    data: str = "{}"
    smtp_reply: str | None = None
    refused: tuple[str, ...] = ()
    #: Who caused it, for the audit trail: a key id, a rule id, ``cli`` or ``relay``.
    actor: str = "relay"
    #: Extra non-secret facts for the audit entry only (e.g. the hashed recipients of
    #: an accepted message), merged over ``data``.
    audit: Mapping[str, Any] | None = None

    def row(self, now: int) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "type": self.type.value,
            "status": self.status.value,
            "created_at": now,
            "data": self.data,
        }


#: The audit entries each event type records (the rest are internal steps).
AUDITED: Mapping[EventType, tuple[AuditAction, ...]] = {
    EventType.QUEUED: (AuditAction.ACCEPTED,),
    EventType.HELD: (AuditAction.ACCEPTED, AuditAction.HELD),
    EventType.APPROVED: (AuditAction.APPROVED,),
    EventType.REJECTED: (AuditAction.REJECTED,),
    EventType.SENT: (AuditAction.SENT,),
    EventType.FAILED: (AuditAction.FAILED,),
    EventType.EXPIRED: (AuditAction.EXPIRED,),
    EventType.CANCELLED: (AuditAction.CANCELLED,),
    EventType.CONSUMED: (AuditAction.CONSUMED,),
    EventType.UNUSED: (AuditAction.UNUSED,),
}


def audit_entries(new_events: Sequence[NewEvent]) -> list[NewAuditEntry]:
    """The audit entries *new_events* record, in order. Their data is the event's data
    (which never holds a secret) with the event's ``audit`` facts over it."""
    entries = []
    for event in new_events:
        actions = AUDITED.get(event.type, ())
        if not actions:
            continue
        data = {**json.loads(event.data), **(event.audit or {})}
        entries += [NewAuditEntry(event.actor, a.value, event.message_id, data) for a in actions]
    return entries


async def write_events(
    connection: AsyncConnection,
    now: int,
    new_events: Sequence[NewEvent],
    *,
    webhook_max_age_ms: int = DEFAULT_WEBHOOK_MAX_AGE_MS,
    hash_address: AddressHasher = address_hash,
    known: Mapping[str, Mapping[str, Any]] | None = None,
) -> int:
    """Insert *new_events* in order at time *now* and fan out their webhook deliveries;
    returns how many deliveries were written.

    *hash_address* makes the recipient hashes of the bodies: the relay passes its keyed
    hash (the unkeyed default is for tools and tests that have no secrets key). *known*
    holds the payload columns of messages the caller has in hand (a message stored in
    this very transaction), which are then not read back.

    Runs inside the caller's write transaction; the messages must already show the new
    state. The audit entries of the events are staged on *connection*
    (:func:`~authmail_relay.db.audit_store.stage`); the transaction appends them before
    it commits. When no event has anyone to notify, all are inserted in one statement.
    """
    if not new_events:
        return 0
    stage(connection, audit_entries(new_events))
    reported = [event for event in new_events if event.type in WEBHOOK_EVENT_TYPES]
    endpoints: Sequence[Any] = ()
    rows: dict[str, Mapping[str, Any]] = {}
    if reported:
        # Read once for the whole call: which endpoints listen, and the messages' state.
        endpoints = (
            await connection.execute(
                select(webhook_endpoints.c.id, webhook_endpoints.c.event_types)
                .where(webhook_endpoints.c.enabled == true())
                .order_by(webhook_endpoints.c.id)
            )
        ).all()
        rows.update(known or {})
        ids = sorted({event.message_id for event in reported} - rows.keys())
        if ids:
            query = select(*(messages.c[name] for name in _PAYLOAD_COLUMNS)).where(
                messages.c.id.in_(ids)
            )
            rows.update({row["id"]: row for row in (await connection.execute(query)).mappings()})
    plan = [(event, *_targets(event, rows, endpoints)) for event in new_events]
    if not any(targets for _, _, targets in plan):
        await connection.execute(events.insert(), [event.row(now) for event in new_events])
        return 0
    deliveries = 0
    for event, message, targets in plan:
        if message is None or not targets:
            await connection.execute(events.insert().values(event.row(now)))
            continue
        previous = await connection.scalar(
            select(events.c.status)
            .where(events.c.message_id == event.message_id)
            .order_by(events.c.id.desc())
            .limit(1)
        )
        inserted = await connection.execute(
            events.insert().values(event.row(now)).returning(events.c.id)
        )
        await _fan_out(
            connection,
            now,
            event,
            inserted.scalar_one(),
            previous,
            message,
            targets,
            webhook_max_age_ms,
            hash_address,
        )
        deliveries += len(targets)
    return deliveries


def _targets(
    event: NewEvent, rows: Mapping[str, Mapping[str, Any]], endpoints: Sequence[Any]
) -> tuple[Mapping[str, Any] | None, list[str | None]]:
    """The message row behind a reported *event* and whom to tell of it: ``None`` for
    the message's own webhook URL, then the ids of the endpoints whose filter matches."""
    message = rows.get(event.message_id) if event.type in WEBHOOK_EVENT_TYPES else None
    if message is None:
        return None, []
    targets: list[str | None] = [None] if message["webhook_url"] is not None else []
    targets += [row.id for row in endpoints if matches(row.event_types, event.type)]
    return message, targets


#: The message columns a webhook body is built from.
_PAYLOAD_COLUMNS = (
    "id",
    "message_id",
    "recipients",
    "tags",
    "meta",
    "request_id",
    "attempt_count",
    "sent_at",
    "webhook_url",
)


async def _fan_out(
    connection: AsyncConnection,
    now: int,
    event: NewEvent,
    event_id: int,
    previous_status: str | None,
    message: Mapping[str, Any],
    targets: Sequence[str | None],
    max_age_ms: int,
    hash_address: AddressHasher,
) -> None:
    """One pending delivery per target of *event*, each carrying the finished body."""
    data = json.loads(event.data)
    facts = PayloadFacts(
        event_type=event.type,
        occurred_at=now,
        id=message["id"],
        message_id=message["message_id"],
        status=event.status.value,
        previous_status=previous_status,
        attempts=message["attempt_count"],
        recipients=load_strings(message["recipients"]),
        refused=event.refused,
        error_code=data.get("error_code"),
        smtp_code=data.get("smtp_code"),
        smtp_reply=event.smtp_reply,
        tags=load_strings(message["tags"]),
        metadata=json.loads(message["meta"]),
        request_id=message["request_id"],
        sent_at=message["sent_at"],
        decided_by=data.get("decided_by"),
        reason=data.get("reason"),
    )
    payload = encode_payload(build_payload(facts, hash_address=hash_address))
    await connection.execute(
        webhook_deliveries.insert(),
        [
            {
                "id": new_delivery_id(),
                "event_id": event_id,
                "message_id": event.message_id,
                "endpoint_id": endpoint_id,
                "target": (
                    url_target(message["webhook_url"])
                    if endpoint_id is None
                    else endpoint_target(endpoint_id)
                ),
                "event_type": event.type.value,
                "payload": payload,
                "status": DeliveryStatus.PENDING.value,
                "attempt_count": 0,
                "next_attempt_at": now,
                "give_up_at": now + max_age_ms,
                "created_at": now,
                "updated_at": now,
            }
            for endpoint_id in targets
        ],
    )
