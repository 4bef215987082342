"""Claiming: what is due, in which order, and taking over expired leases."""

from __future__ import annotations

import asyncio

import pytest

from authmail_relay.db.outbox import AttemptRecord, Outbox
from authmail_relay.vocabulary import ErrorCode, EventType, MessageStatus, Priority
from tests.support.db import new_message

LONG_LEASE = 60_000


async def test_claims_in_priority_then_due_order(outbox: Outbox) -> None:
    now = await outbox.db_now_ms()
    low = await outbox.enqueue(new_message(priority=Priority.LOW))
    normal_first = await outbox.enqueue(new_message(priority=Priority.NORMAL))
    high = await outbox.enqueue(new_message(priority=Priority.HIGH))
    normal_second = await outbox.enqueue(new_message(priority=Priority.NORMAL))
    await outbox.enqueue(new_message(priority=Priority.HIGH, send_at_ms=now + LONG_LEASE))

    claims = await outbox.claim(worker_id="w1", limit=10, lease_ms=LONG_LEASE)

    # The scheduled high-priority message is not due yet.
    assert [c.id for c in claims] == [high.id, normal_first.id, normal_second.id, low.id]


async def test_within_a_lane_the_earliest_due_goes_first(outbox: Outbox) -> None:
    # Stored first but retried later than the second one: the retry time decides.
    retried_late = await outbox.enqueue(new_message())
    retried_early = await outbox.enqueue(new_message())
    claims = {c.id: c for c in await outbox.claim(worker_id="w", limit=2, lease_ms=LONG_LEASE)}
    now = await outbox.db_now_ms()
    await outbox.mark_deferred(
        claims[retried_late.id], _attempt(now), retry_at=now - 10, error_message="4xx"
    )
    await outbox.mark_deferred(
        claims[retried_early.id], _attempt(now), retry_at=now - 20, error_message="4xx"
    )
    again = await outbox.claim(worker_id="w", limit=2, lease_ms=LONG_LEASE)
    assert [c.id for c in again] == [retried_early.id, retried_late.id]
    assert [c.attempt_number for c in again] == [2, 2]


async def test_claim_fills_in_the_lease_and_message(outbox: Outbox) -> None:
    message = new_message(priority=Priority.HIGH, expires_in_ms=120_000)
    record = await outbox.enqueue(message)
    before = await outbox.db_now_ms()

    [claim] = await outbox.claim(worker_id="worker-7", limit=5, lease_ms=30_000)

    assert claim.id == message.id
    assert claim.sender == message.sender
    assert claim.recipients == message.recipients
    assert claim.raw == message.raw
    assert claim.message_id == message.message_id
    assert claim.priority is Priority.HIGH
    assert claim.attempt_number == 1
    assert claim.created_at == record.created_at
    assert claim.expires_at == record.expires_at
    assert claim.give_up_at == record.give_up_at
    assert claim.claimed_at >= before
    assert claim.lease_expires_at == claim.claimed_at + 30_000
    assert claim.reclaimed is False
    assert claim.worker_id == "worker-7"
    assert claim.lease_token

    stored = await outbox.get_message(message.id)
    assert stored.status is MessageStatus.SENDING
    assert stored.lease_owner == "worker-7"
    assert stored.lease_expires_at == claim.lease_expires_at
    assert stored.attempt_count == 0  # attempts count when recorded, not when claimed

    events = await outbox.list_events(message.id)
    assert [e.type for e in events] == [EventType.QUEUED, EventType.SENDING]
    assert events[-1].status is MessageStatus.SENDING
    assert events[-1].created_at == claim.claimed_at
    assert events[-1].data == {"attempt": 1, "reclaimed": False, "worker_id": "worker-7"}


async def test_limit_and_nothing_twice(outbox: Outbox) -> None:
    for _ in range(5):
        await outbox.enqueue(new_message())
    first = await outbox.claim(worker_id="w", limit=2, lease_ms=LONG_LEASE)
    second = await outbox.claim(worker_id="w", limit=2, lease_ms=LONG_LEASE)
    third = await outbox.claim(worker_id="w", limit=2, lease_ms=LONG_LEASE)
    assert [len(first), len(second), len(third)] == [2, 2, 1]
    ids = [c.id for c in first + second + third]
    assert len(set(ids)) == 5
    assert await outbox.claim(worker_id="w", limit=2, lease_ms=LONG_LEASE) == []
    assert await outbox.claim(worker_id="w", limit=0, lease_ms=LONG_LEASE) == []


async def test_lease_must_be_positive(outbox: Outbox) -> None:
    with pytest.raises(ValueError, match="lease_ms"):
        await outbox.claim(worker_id="w", limit=1, lease_ms=0)


async def test_not_yet_due_and_terminal_messages_are_skipped(outbox: Outbox) -> None:
    now = await outbox.db_now_ms()
    scheduled = await outbox.enqueue(new_message(send_at_ms=now + 3_600_000))
    for _ in range(3):
        await outbox.enqueue(new_message())
    sent, failed, expired = await outbox.claim(worker_id="w", limit=3, lease_ms=LONG_LEASE)
    assert await outbox.mark_sent(sent, _attempt(now))
    assert await outbox.mark_failed(
        failed, None, error_code=ErrorCode.INVALID_ADDRESS, error_message="bad"
    )
    assert await outbox.mark_expired(expired)

    assert await outbox.claim(worker_id="w", limit=10, lease_ms=LONG_LEASE) == []
    assert (await outbox.get_message(scheduled.id)).status is MessageStatus.QUEUED


async def test_a_scheduled_message_becomes_due(outbox: Outbox) -> None:
    now = await outbox.db_now_ms()
    record = await outbox.enqueue(new_message(send_at_ms=now + 300))
    assert await outbox.claim(worker_id="w", limit=1, lease_ms=LONG_LEASE) == []
    await _sleep_until(outbox, record.next_attempt_at)
    [claim] = await outbox.claim(worker_id="w", limit=1, lease_ms=LONG_LEASE)
    assert claim.id == record.id


async def test_an_expired_lease_is_reclaimed_by_another_worker(outbox: Outbox) -> None:
    record = await outbox.enqueue(new_message())
    [first] = await outbox.claim(worker_id="dies", limit=1, lease_ms=100)
    # Still leased: nobody else gets it.
    assert await outbox.claim(worker_id="other", limit=1, lease_ms=LONG_LEASE) == []

    await _sleep_until(outbox, first.lease_expires_at + 1)
    [second] = await outbox.claim(worker_id="other", limit=1, lease_ms=LONG_LEASE)

    assert second.id == record.id
    assert second.reclaimed is True
    assert second.lease_token != first.lease_token
    assert second.attempt_number == 1  # the dead worker never recorded its attempt
    assert second.claimed_at > first.lease_expires_at
    stored = await outbox.get_message(record.id)
    assert stored.lease_owner == "other"
    assert stored.status is MessageStatus.SENDING
    events = await outbox.list_events(record.id)
    assert [e.type for e in events] == [EventType.QUEUED, EventType.SENDING, EventType.SENDING]
    assert events[-1].data == {"attempt": 1, "reclaimed": True, "worker_id": "other"}

    # The next normal claim of the same message is not a takeover.
    await outbox.release(second)
    [third] = await outbox.claim(worker_id="other", limit=1, lease_ms=LONG_LEASE)
    assert third.reclaimed is False


async def test_reclaimed_messages_keep_their_place_in_priority_order(outbox: Outbox) -> None:
    low = await outbox.enqueue(new_message(priority=Priority.LOW))
    high = await outbox.enqueue(new_message(priority=Priority.HIGH))
    [leased] = await outbox.claim(worker_id="dies", limit=1, lease_ms=100)
    assert leased.id == high.id
    await _sleep_until(outbox, leased.lease_expires_at + 1)
    claims = await outbox.claim(worker_id="other", limit=1, lease_ms=LONG_LEASE)
    assert [c.id for c in claims] == [high.id]
    assert claims[0].reclaimed
    assert (await outbox.get_message(low.id)).status is MessageStatus.QUEUED


async def _sleep_until(outbox: Outbox, at_ms: int) -> None:
    """Wait until the database clock reaches *at_ms*."""
    while (remaining := at_ms - await outbox.db_now_ms()) >= 0:
        await asyncio.sleep(remaining / 1000 + 0.005)


def _attempt(now: int) -> AttemptRecord:
    return AttemptRecord(started_at=now, finished_at=now, upstream="smtp.example.com:587")


async def test_claim_can_be_limited_to_lanes(outbox: Outbox) -> None:
    """A lane filter claims only those priorities and leaves the rest queued."""
    for priority in (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.NORMAL):
        await outbox.enqueue(new_message(priority=priority))
    high = await outbox.claim(worker_id="w", limit=10, lease_ms=60_000, priorities={Priority.HIGH})
    assert [claim.priority for claim in high] == [Priority.HIGH]
    rest = await outbox.claim(
        worker_id="w", limit=10, lease_ms=60_000, priorities={Priority.NORMAL, Priority.LOW}
    )
    assert [claim.priority for claim in rest] == [Priority.NORMAL, Priority.NORMAL, Priority.LOW]
    assert await outbox.claim(worker_id="w", limit=10, lease_ms=60_000) == []
