"""Webhook fan-out on SQLite and PostgreSQL: deliveries are written with their event."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from authmail_relay.db.outbox import AttemptRecord, Outbox
from authmail_relay.db.outbox_events import NewEvent, write_events
from authmail_relay.db.schema import events, messages, webhook_deliveries
from authmail_relay.db.sql import write_transaction
from authmail_relay.db.webhook_store import WebhookStore
from authmail_relay.exceptions import ConflictError
from authmail_relay.redaction import address_hash
from authmail_relay.vocabulary import DeliveryStatus, ErrorCode, EventType, MessageStatus
from tests.support.db import message_in_status, new_message

HOOK = "https://hooks.example.com/mail"


async def test_an_event_fans_out_to_every_matching_target(outbox: Outbox) -> None:
    store = WebhookStore(outbox.engine)
    every = (await store.create_endpoint(url="https://a.example.com/h")).endpoint
    only_failed = await store.create_endpoint(
        url="https://b.example.com/h", event_types=[EventType.FAILED]
    )
    await store.create_endpoint(url="https://c.example.com/h", enabled=False)
    record = await message_in_status(
        outbox,
        MessageStatus.SENT,
        webhook_url=HOOK,
        webhook_secret="s3cret",
        recipients=("Ada@Example.org",),
        tags=("signup",),
        meta={"user": 7},
        request_id="req-9",
    )
    deliveries = await store.list_deliveries(message_id=record.id)
    # queued and sending are not reported; sent goes to the message's URL and endpoint A.
    assert sorted((d.endpoint_id or "", d.event_type) for d in deliveries) == sorted(
        [("", EventType.SENT), (every.id, EventType.SENT)]
    )
    assert only_failed.endpoint.id not in {d.endpoint_id for d in deliveries}
    payload = json.loads(deliveries[0].payload)
    assert payload["type"] == "message.sent"
    assert payload["status"] == "delivered"
    data = payload["data"]
    assert data["id"] == record.id
    assert data["status"] == "sent"
    assert data["previous_status"] == "sending"
    assert data["to_hash"] == [address_hash("ada@example.org")]
    assert data["attempts"] == 1
    assert (data["tags"], data["metadata"], data["request_id"]) == (
        ["signup"],
        {"user": 7},
        "req-9",
    )
    assert "example.org" not in deliveries[0].payload.lower()
    assert all(d.status is DeliveryStatus.PENDING and d.attempt_count == 0 for d in deliveries)
    assert {d.payload for d in deliveries} == {deliveries[0].payload}


async def test_cancel_and_consume_fan_out_too(outbox: Outbox) -> None:
    store = WebhookStore(outbox.engine)
    cancelled = await message_in_status(outbox, MessageStatus.CANCELLED, webhook_url=HOOK)
    consumed = await message_in_status(outbox, MessageStatus.CONSUMED, webhook_url=HOOK)
    assert [d.event_type for d in await store.list_deliveries(message_id=cancelled.id)] == [
        EventType.CANCELLED
    ]
    assert sorted(d.event_type for d in await store.list_deliveries(message_id=consumed.id)) == [
        EventType.CONSUMED,
        EventType.SENT,
    ]


async def test_failures_carry_the_error_and_hashed_refusals(outbox: Outbox) -> None:
    store = WebhookStore(outbox.engine)
    record = await outbox.enqueue(new_message(webhook_url=HOOK))
    [claim] = await outbox.claim(worker_id="w", limit=1, lease_ms=60_000)
    now = await outbox.db_now_ms()
    attempt = AttemptRecord(
        started_at=now,
        finished_at=now,
        upstream="mx:25",
        error_code=ErrorCode.RECIPIENT_REFUSED,
        smtp_code=550,
        smtp_reply="550 5.1.1 <user@example.org>: no such user",
        refused=("user@example.org",),
    )
    assert await outbox.mark_failed(
        claim, attempt, error_code=ErrorCode.RECIPIENT_REFUSED, error_message="refused"
    )
    [delivery] = await store.list_deliveries(message_id=record.id)
    payload = json.loads(delivery.payload)
    assert payload["error_code"] == payload["data"]["error_code"] == "recipient_refused"
    assert payload["data"]["smtp_code"] == 550
    assert payload["refused"] == [address_hash("user@example.org")]
    assert "user@example.org" not in delivery.payload
    assert address_hash("user@example.org") in payload["data"]["smtp_reply"]
    # The event row itself stays as it was: no reply, no refusals.
    failed = (await outbox.list_events(record.id))[-1]
    assert "refused" not in failed.data


async def test_events_and_deliveries_commit_together_or_not_at_all(outbox: Outbox) -> None:
    store = WebhookStore(outbox.engine)
    record = await message_in_status(outbox, MessageStatus.SENT, webhook_url=HOOK)
    before = len(await store.list_deliveries(message_id=record.id))

    class Boom(Exception):
        pass

    async def write_then_fail() -> None:
        async with write_transaction(outbox.engine, "test") as (connection, now):
            consumed = NewEvent(record.id, EventType.CONSUMED, MessageStatus.CONSUMED)
            await write_events(connection, now, [consumed])
            raise Boom

    with pytest.raises(Boom):
        await write_then_fail()
    assert len(await store.list_deliveries(message_id=record.id)) == before
    async with outbox.engine.connect() as connection:
        count = await connection.scalar(
            select(func.count()).select_from(events).where(events.c.message_id == record.id)
        )
    assert count == 3  # queued, sending, sent
    with pytest.raises(ConflictError):  # a refused cancel writes neither
        await outbox.cancel(record.id)
    assert len(await store.list_deliveries(message_id=record.id)) == before


async def test_deleting_a_message_deletes_its_deliveries(outbox: Outbox) -> None:
    record = await message_in_status(outbox, MessageStatus.SENT, webhook_url=HOOK)
    async with outbox.engine.begin() as connection:
        await connection.execute(messages.delete().where(messages.c.id == record.id))
        left = await connection.scalar(select(func.count()).select_from(webhook_deliveries))
    assert left == 0
