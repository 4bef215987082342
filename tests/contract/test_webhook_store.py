"""Webhook storage on SQLite and PostgreSQL: fan-out with the event, claims, order, records."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import func, select

from authmail_relay.db.schema import events, messages, webhook_deliveries
from authmail_relay.exceptions import ConflictError, NotFoundError, ValidationError
from authmail_relay.outbox import AttemptRecord, Outbox
from authmail_relay.outbox_events import NewEvent, write_events
from authmail_relay.outbox_queries import write_transaction
from authmail_relay.redaction import address_hash
from authmail_relay.vocabulary import DeliveryStatus, ErrorCode, EventType, MessageStatus
from authmail_relay.webhook_queue import WebhookQueue
from authmail_relay.webhook_records import ClaimedDelivery, DeliveryAttempt
from authmail_relay.webhook_retry import Delivered, GiveUp, RetryAt
from authmail_relay.webhook_store import WebhookStore
from tests.support.db import message_in_status, new_message

HOOK = "https://hooks.example.com/mail"


def _attempt(claim: ClaimedDelivery, status: int | None, result: str) -> DeliveryAttempt:
    return DeliveryAttempt(
        number=claim.attempt_number,
        worker_id="d1",
        started_at=claim.claimed_at,
        latency_ms=12,
        status_code=status,
        result=result,
        error=None if status else "ConnectError: refused",
        response="ok" if status else None,
    )


async def _claim_all(queue: WebhookQueue, lease_ms: int = 60_000) -> list[ClaimedDelivery]:
    return await queue.claim(worker_id="d1", limit=50, lease_ms=lease_ms)


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


async def test_claims_carry_target_and_secrets_and_respect_the_lease(outbox: Outbox) -> None:
    store, queue = WebhookStore(outbox.engine), WebhookQueue(outbox.engine)
    created = await store.create_endpoint(url="https://a.example.com/h")
    record = await message_in_status(
        outbox, MessageStatus.SENT, webhook_url=HOOK, webhook_secret="s3cret"
    )
    claims = {c.endpoint_id: c for c in await _claim_all(queue, lease_ms=200)}
    own, registered = claims[None], claims[created.endpoint.id]
    assert (own.url, own.secrets, own.legacy_secret, own.per_request) == (
        HOOK,
        ("s3cret",),
        "s3cret",
        True,
    )
    assert (registered.url, registered.secrets, registered.legacy_secret) == (
        "https://a.example.com/h",
        (created.secret,),
        None,
    )
    assert own.message_id == record.id
    assert own.attempt_number == 1
    assert await _claim_all(queue) == []  # leased
    await asyncio.sleep(0.3)
    taken_over = await _claim_all(queue)
    assert {c.id for c in taken_over} == {own.id, registered.id}
    assert all(c.lease_token != own.lease_token for c in taken_over)
    assert not await queue.record(own, _attempt(own, 200, "succeeded"), Delivered())


async def test_one_target_hears_about_one_message_in_event_order(outbox: Outbox) -> None:
    store, queue = WebhookStore(outbox.engine), WebhookQueue(outbox.engine)
    endpoint = (await store.create_endpoint(url="https://a.example.com/h")).endpoint
    record = await message_in_status(outbox, MessageStatus.CONSUMED, webhook_url=HOOK)
    first = await _claim_all(queue)
    assert {(c.endpoint_id, c.event_type) for c in first} == {
        (None, EventType.SENT),
        (endpoint.id, EventType.SENT),
    }
    by_target = {c.endpoint_id: c for c in first}
    # The per-request target is told; the registered one is retried later.
    assert await queue.record(by_target[None], _attempt(by_target[None], 204, "s"), Delivered())
    retry = RetryAt(by_target[endpoint.id].claimed_at, "HTTP 500")
    assert await queue.record(
        by_target[endpoint.id], _attempt(by_target[endpoint.id], 500, "retry"), retry
    )
    second = await _claim_all(queue)
    # consumed for the per-request target; the retried sent again, but not its consumed.
    assert {(c.endpoint_id, c.event_type) for c in second} == {
        (None, EventType.CONSUMED),
        (endpoint.id, EventType.SENT),
    }
    assert {c.attempt_number for c in second if c.endpoint_id} == {2}
    sent_again = next(c for c in second if c.endpoint_id)
    assert await queue.record(sent_again, _attempt(sent_again, 200, "s"), Delivered())
    third = await _claim_all(queue)
    assert [(c.endpoint_id, c.event_type) for c in third] == [(endpoint.id, EventType.CONSUMED)]
    listed = await store.list_deliveries(message_id=record.id, endpoint_id=endpoint.id)
    assert [d.attempt_count for d in sorted(listed, key=lambda d: d.event_id)] == [2, 0]


async def test_records_attempts_and_410_disables_the_endpoint(outbox: Outbox) -> None:
    store, queue = WebhookStore(outbox.engine), WebhookQueue(outbox.engine)
    endpoint = (await store.create_endpoint(url="https://a.example.com/h")).endpoint
    await message_in_status(outbox, MessageStatus.SENT)
    [claim] = await _claim_all(queue)
    gone = GiveUp("HTTP 410: the receiver says the endpoint is gone", disable_endpoint=True)
    assert await queue.record(claim, _attempt(claim, 410, "failed"), gone)
    delivery, attempts = await store.get_delivery(claim.id)
    assert delivery.status is DeliveryStatus.FAILED
    assert delivery.finished_at is not None
    assert (delivery.attempt_count, delivery.last_status_code) == (1, 410)
    assert delivery.last_error == gone.reason
    assert [(a.number, a.status_code, a.result, a.response) for a in attempts] == [
        (1, 410, "failed", "ok")
    ]
    disabled = await store.get_endpoint(endpoint.id)
    assert (disabled.enabled, disabled.disabled_reason) == (False, gone.reason)
    # Disabled endpoints get no new deliveries.
    await message_in_status(outbox, MessageStatus.SENT)
    assert await _claim_all(queue) == []


async def test_pending_deliveries_of_a_disabled_endpoint_are_claimed_without_target(
    outbox: Outbox,
) -> None:
    store, queue = WebhookStore(outbox.engine), WebhookQueue(outbox.engine)
    endpoint = (await store.create_endpoint(url="https://a.example.com/h")).endpoint
    await message_in_status(outbox, MessageStatus.SENT)
    await store.update_endpoint(endpoint.id, enabled=False)
    [claim] = await _claim_all(queue)
    assert claim.url is None
    assert claim.target_problem == "the endpoint is disabled"
    assert await queue.record(claim, None, GiveUp(claim.target_problem))
    delivery, attempts = await store.get_delivery(claim.id)
    assert (delivery.status, delivery.attempt_count, attempts) == (DeliveryStatus.FAILED, 0, [])


async def test_concurrent_claimers_never_share_a_delivery(outbox: Outbox) -> None:
    queue = WebhookQueue(outbox.engine)
    store = WebhookStore(outbox.engine)
    for n in range(3):
        await store.create_endpoint(url=f"https://{n}.example.com/h")
    for _ in range(8):
        await message_in_status(outbox, MessageStatus.SENT)
    results = await asyncio.gather(
        *(queue.claim(worker_id=f"d{n}", limit=3, lease_ms=60_000) for n in range(10))
    )
    ids = [c.id for claims in results for c in claims]
    assert len(ids) == len(set(ids)) == 24


async def test_release_makes_it_due_again(outbox: Outbox) -> None:
    queue = WebhookQueue(outbox.engine)
    await message_in_status(outbox, MessageStatus.SENT, webhook_url=HOOK)
    [claim] = await _claim_all(queue)
    assert await queue.release(claim)
    [again] = await _claim_all(queue)
    assert (again.id, again.attempt_number) == (claim.id, 1)


async def test_endpoint_life_cycle(outbox: Outbox) -> None:
    store = WebhookStore(outbox.engine, secret_grace_ms=150)
    queue = WebhookQueue(outbox.engine)
    created = await store.create_endpoint(
        url="https://a.example.com/h",
        event_types=["message.failed", EventType.SENT],
        description="billing",
    )
    endpoint = created.endpoint
    assert created.secret.startswith("whsec_")
    assert not hasattr(endpoint, "secret")
    assert endpoint.event_types == (EventType.FAILED, EventType.SENT)
    assert (await store.get_endpoint(endpoint.id)) == endpoint
    assert [e.id for e in await store.list_endpoints()] == [endpoint.id]

    updated = await store.update_endpoint(
        endpoint.id, url="https://b.example.com/h", event_types=[], description=""
    )
    assert (updated.url, updated.event_types, updated.description) == (
        "https://b.example.com/h",
        (),
        "",
    )
    assert updated.updated_at >= endpoint.updated_at

    rotated = await store.rotate_secret(endpoint.id)
    assert rotated.secret != created.secret
    assert rotated.endpoint.previous_secret_expires_at is not None
    await message_in_status(outbox, MessageStatus.SENT)
    [claim] = await _claim_all(queue)
    assert claim.secrets == (rotated.secret, created.secret)
    await queue.release(claim)
    await asyncio.sleep(0.2)  # the grace period is over
    [claim] = await _claim_all(queue)
    assert claim.secrets == (rotated.secret,)

    await store.delete_endpoint(endpoint.id)
    assert await store.list_deliveries(endpoint_id=endpoint.id) == []
    for call in (
        store.get_endpoint(endpoint.id),
        store.delete_endpoint(endpoint.id),
        store.rotate_secret(endpoint.id),
        store.update_endpoint(endpoint.id, enabled=True),
    ):
        with pytest.raises(NotFoundError):
            await call


async def test_enabling_clears_the_reason(outbox: Outbox) -> None:
    store, queue = WebhookStore(outbox.engine), WebhookQueue(outbox.engine)
    endpoint = (await store.create_endpoint(url="https://a.example.com/h")).endpoint
    await message_in_status(outbox, MessageStatus.SENT)
    [claim] = await _claim_all(queue)
    await queue.record(claim, None, GiveUp("gone", disable_endpoint=True))
    enabled = await store.update_endpoint(endpoint.id, enabled=True)
    assert (enabled.enabled, enabled.disabled_reason) == (True, None)


@pytest.mark.parametrize("bad", [["message.queued"], ["message.sending"], ["nope"]])
async def test_only_webhook_event_types_can_be_subscribed(outbox: Outbox, bad: list[str]) -> None:
    with pytest.raises(ValidationError) as caught:
        await WebhookStore(outbox.engine).create_endpoint(url="https://a.example/", event_types=bad)
    assert caught.value.field == "event_types"


async def test_listing_filters_and_replay(outbox: Outbox) -> None:
    store, queue = WebhookStore(outbox.engine), WebhookQueue(outbox.engine)
    endpoint = (await store.create_endpoint(url="https://a.example.com/h")).endpoint
    one = await message_in_status(outbox, MessageStatus.SENT, webhook_url=HOOK)
    two = await message_in_status(outbox, MessageStatus.SENT)
    claims = await _claim_all(queue)
    assert len(claims) == 3
    failed = next(c for c in claims if c.endpoint_id and c.message_id == two.id)
    await queue.record(failed, _attempt(failed, 404, "failed"), GiveUp("HTTP 404"))

    assert len(await store.list_deliveries()) == 3
    assert {d.message_id for d in await store.list_deliveries(endpoint_id=endpoint.id)} == {
        one.id,
        two.id,
    }
    [only] = await store.list_deliveries(status=DeliveryStatus.FAILED)
    assert only.id == failed.id
    in_flight = await store.list_deliveries(status=DeliveryStatus.PENDING)
    assert len(in_flight) == 2
    assert all(d.in_flight for d in in_flight)
    page = await store.list_deliveries(limit=2)
    rest = await store.list_deliveries(limit=2, before_id=page[-1].id)
    assert len(page) + len(rest) == 3
    assert [d.id for d in page + rest] == sorted((d.id for d in page + rest), reverse=True)
    with pytest.raises(ValidationError):
        await store.list_deliveries(limit=0)

    replayed = await store.replay(failed.id)
    assert (replayed.status, replayed.finished_at, replayed.in_flight) == (
        DeliveryStatus.PENDING,
        None,
        False,
    )
    [again] = await _claim_all(queue)
    assert (again.id, again.attempt_number) == (failed.id, 2)
    with pytest.raises(ConflictError) as caught:
        await store.replay(again.id)
    assert caught.value.error_code == "delivery_in_flight"
    with pytest.raises(NotFoundError):
        await store.replay("whd_01JNOPE00000000000000000000")


async def test_deleting_a_message_deletes_its_deliveries(outbox: Outbox) -> None:
    record = await message_in_status(outbox, MessageStatus.SENT, webhook_url=HOOK)
    async with outbox.engine.begin() as connection:
        await connection.execute(messages.delete().where(messages.c.id == record.id))
        left = await connection.scalar(select(func.count()).select_from(webhook_deliveries))
    assert left == 0
