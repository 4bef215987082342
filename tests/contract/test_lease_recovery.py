"""Ending at once the leases of workers proven gone, on SQLite and PostgreSQL."""

from __future__ import annotations

from authmail_relay.db.lease_recovery import release_orphaned_leases
from authmail_relay.db.outbox import Outbox
from authmail_relay.db.webhook_queue import WebhookQueue
from authmail_relay.vocabulary import MessageStatus
from tests.support.db import message_in_status, new_message

HOOK = "https://hooks.example.com/mail"


async def test_leases_of_stopped_workers_are_ended_at_once(outbox: Outbox) -> None:
    """Only the leases whose owner is proven gone end; the next claim takes them over."""
    queue = WebhookQueue(outbox.engine)
    await message_in_status(outbox, MessageStatus.SENT, webhook_url=HOOK)
    [delivery] = await queue.claim(worker_id="w-dead", limit=5, lease_ms=60_000)
    dead = await outbox.enqueue(new_message())
    [held] = await outbox.claim(worker_id="w-dead", limit=1, lease_ms=60_000)
    alive = await outbox.enqueue(new_message())
    [kept] = await outbox.claim(worker_id="w-alive", limit=1, lease_ms=60_000)
    assert (held.id, kept.id) == (dead.id, alive.id)

    counts = await release_orphaned_leases(outbox.engine, is_gone=lambda o: o == "w-dead")
    assert counts == (1, 1)
    [taken] = await outbox.claim(worker_id="w-new", limit=5, lease_ms=60_000)
    assert (taken.id, taken.reclaimed) == (dead.id, True)
    [again] = await queue.claim(worker_id="w-new", limit=5, lease_ms=60_000)
    assert again.id == delivery.id
    assert await release_orphaned_leases(outbox.engine, is_gone=lambda o: True) == (2, 1)
