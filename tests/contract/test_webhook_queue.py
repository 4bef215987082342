"""The webhook delivery queue on SQLite and PostgreSQL: leases, order, records, release."""

from __future__ import annotations

import asyncio

from authmail_relay.db.outbox import Outbox
from authmail_relay.db.webhook_queue import WebhookQueue
from authmail_relay.db.webhook_store import WebhookStore
from authmail_relay.vocabulary import DeliveryStatus, EventType, MessageStatus
from authmail_relay.webhooks.records import ClaimedDelivery
from authmail_relay.webhooks.retry import Delivered, GiveUp, RetryAt
from tests.support.db import message_in_status
from tests.support.deliveries import claim_all, delivery_attempt

HOOK = "https://hooks.example.com/mail"


async def test_claims_carry_target_and_secrets_and_respect_the_lease(outbox: Outbox) -> None:
    store, queue = WebhookStore(outbox.engine), WebhookQueue(outbox.engine)
    created = await store.create_endpoint(url="https://a.example.com/h")
    record = await message_in_status(
        outbox, MessageStatus.SENT, webhook_url=HOOK, webhook_secret="s3cret"
    )
    claims = {c.endpoint_id: c for c in await claim_all(queue, lease_ms=200)}
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
    assert await claim_all(queue) == []  # leased
    await asyncio.sleep(0.3)
    taken_over = await claim_all(queue)
    assert {c.id for c in taken_over} == {own.id, registered.id}
    assert all(c.lease_token != own.lease_token for c in taken_over)
    assert not await queue.record(own, delivery_attempt(own, 200, "succeeded"), Delivered())


async def test_one_target_hears_about_one_message_in_event_order(outbox: Outbox) -> None:
    store, queue = WebhookStore(outbox.engine), WebhookQueue(outbox.engine)
    endpoint = (await store.create_endpoint(url="https://a.example.com/h")).endpoint
    record = await message_in_status(outbox, MessageStatus.CONSUMED, webhook_url=HOOK)
    first = await claim_all(queue)
    assert {(c.endpoint_id, c.event_type) for c in first} == {
        (None, EventType.SENT),
        (endpoint.id, EventType.SENT),
    }
    by_target = {c.endpoint_id: c for c in first}
    # The per-request target is told; the registered one is retried later.
    assert await queue.record(
        by_target[None], delivery_attempt(by_target[None], 204, "s"), Delivered()
    )
    retry = RetryAt(by_target[endpoint.id].claimed_at, "HTTP 500")
    assert await queue.record(
        by_target[endpoint.id], delivery_attempt(by_target[endpoint.id], 500, "retry"), retry
    )
    second = await claim_all(queue)
    # consumed for the per-request target; the retried sent again, but not its consumed.
    assert {(c.endpoint_id, c.event_type) for c in second} == {
        (None, EventType.CONSUMED),
        (endpoint.id, EventType.SENT),
    }
    assert {c.attempt_number for c in second if c.endpoint_id} == {2}
    sent_again = next(c for c in second if c.endpoint_id)
    assert await queue.record(sent_again, delivery_attempt(sent_again, 200, "s"), Delivered())
    third = await claim_all(queue)
    assert [(c.endpoint_id, c.event_type) for c in third] == [(endpoint.id, EventType.CONSUMED)]
    listed = await store.list_deliveries(message_id=record.id, endpoint_id=endpoint.id)
    assert [d.attempt_count for d in sorted(listed, key=lambda d: d.event_id)] == [2, 0]


async def test_records_attempts_and_410_disables_the_endpoint(outbox: Outbox) -> None:
    store, queue = WebhookStore(outbox.engine), WebhookQueue(outbox.engine)
    endpoint = (await store.create_endpoint(url="https://a.example.com/h")).endpoint
    await message_in_status(outbox, MessageStatus.SENT)
    [claim] = await claim_all(queue)
    gone = GiveUp("HTTP 410: the receiver says the endpoint is gone", disable_endpoint=True)
    assert await queue.record(claim, delivery_attempt(claim, 410, "failed"), gone)
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
    assert await claim_all(queue) == []


async def test_pending_deliveries_of_a_disabled_endpoint_are_claimed_without_target(
    outbox: Outbox,
) -> None:
    store, queue = WebhookStore(outbox.engine), WebhookQueue(outbox.engine)
    endpoint = (await store.create_endpoint(url="https://a.example.com/h")).endpoint
    await message_in_status(outbox, MessageStatus.SENT)
    await store.update_endpoint(endpoint.id, enabled=False)
    [claim] = await claim_all(queue)
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
    [claim] = await claim_all(queue)
    assert await queue.release(claim)
    [again] = await claim_all(queue)
    assert (again.id, again.attempt_number) == (claim.id, 1)


async def test_a_target_at_its_cap_is_passed_over_for_the_others(outbox: Outbox) -> None:
    """Per-request URLs on one host and port are one target whatever their paths; a claim
    leaves a target at most `per_target` in flight, counting leases taken earlier, and
    goes round-robin across targets."""
    queue = WebhookQueue(outbox.engine)
    for n in range(5):
        await message_in_status(
            outbox, MessageStatus.SENT, webhook_url=f"https://slow.example.com/h/{n}?q={n}"
        )
    await message_in_status(
        outbox, MessageStatus.SENT, webhook_url="https://slow.example.com:8443/h"
    )
    quick = await message_in_status(
        outbox, MessageStatus.SENT, webhook_url="https://QUICK.example.com/"
    )

    def urls(claims: list[ClaimedDelivery]) -> list[str | None]:
        return sorted(c.url for c in claims if c.url)

    first = await queue.claim(worker_id="d1", limit=3, lease_ms=60_000, per_target=2)
    # Round-robin: one of each target before a second of any.
    assert urls(first) == [
        "https://QUICK.example.com/",
        "https://slow.example.com/h/0?q=0",
        "https://slow.example.com:8443/h",
    ]
    second = await queue.claim(worker_id="d2", limit=8, lease_ms=60_000, per_target=2)
    assert urls(second) == ["https://slow.example.com/h/1?q=1"]  # its cap, with d1's lease
    assert await queue.claim(worker_id="d3", limit=8, lease_ms=60_000, per_target=2) == []
    done = next(c for c in first if c.message_id != quick.id and c.url and ":8443" not in c.url)
    assert await queue.record(done, delivery_attempt(done, 200, "succeeded"), Delivered())
    third = await queue.claim(worker_id="d3", limit=8, lease_ms=60_000, per_target=2)
    assert urls(third) == ["https://slow.example.com/h/2?q=2"]
    # Without a cap, the oldest due go first, whatever their target.
    assert len(await queue.claim(worker_id="d4", limit=8, lease_ms=60_000)) == 2


async def test_registered_endpoints_are_targets_of_their_own(outbox: Outbox) -> None:
    store, queue = WebhookStore(outbox.engine), WebhookQueue(outbox.engine)
    endpoint = (await store.create_endpoint(url="https://slow.example.com/h")).endpoint
    for _ in range(3):
        await message_in_status(
            outbox, MessageStatus.SENT, webhook_url="https://slow.example.com/x"
        )
    claims = await queue.claim(worker_id="d1", limit=8, lease_ms=60_000, per_target=1)
    assert sorted((c.endpoint_id or "") for c in claims) == ["", endpoint.id]
