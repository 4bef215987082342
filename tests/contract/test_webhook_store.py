"""Webhook endpoints and the delivery log on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time

import pytest

from authmail_relay.db.outbox import Outbox
from authmail_relay.db.webhook_queue import WebhookQueue
from authmail_relay.db.webhook_store import WebhookStore
from authmail_relay.exceptions import ConflictError, NotFoundError, ValidationError
from authmail_relay.vocabulary import DeliveryStatus, EventType, MessageStatus
from authmail_relay.webhooks.retry import GiveUp
from tests.support.db import message_in_status
from tests.support.deliveries import claim_all, delivery_attempt

HOOK = "https://hooks.example.com/mail"


async def test_endpoint_life_cycle(outbox: Outbox) -> None:
    # Long enough for a loaded machine to claim within it; the test then waits it out.
    store = WebhookStore(outbox.engine, secret_grace_ms=1500)
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
    [claim] = await claim_all(queue)
    assert claim.secrets == (rotated.secret, created.secret)
    await queue.release(claim)
    expires_at = rotated.endpoint.previous_secret_expires_at
    assert expires_at is not None
    await asyncio.sleep(max(0.0, expires_at / 1000 - time.time()) + 0.2)  # grace is over
    [claim] = await claim_all(queue)
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
    [claim] = await claim_all(queue)
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
    claims = await claim_all(queue)
    assert len(claims) == 3
    failed = next(c for c in claims if c.endpoint_id and c.message_id == two.id)
    await queue.record(failed, delivery_attempt(failed, 404, "failed"), GiveUp("HTTP 404"))

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
    [again] = await claim_all(queue)
    assert (again.id, again.attempt_number) == (failed.id, 2)
    with pytest.raises(ConflictError) as caught:
        await store.replay(again.id)
    assert caught.value.error_code == "delivery_in_flight"
    with pytest.raises(NotFoundError):
        await store.replay("whd_01JNOPE00000000000000000000")
