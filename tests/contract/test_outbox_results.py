"""Recording results: sent, deferred, failed, expired, released; lost leases."""

from __future__ import annotations

import asyncio

from authmail_relay.db.outbox import AttemptRecord, Claim, Outbox
from authmail_relay.vocabulary import ErrorCode, EventType, MessageStatus
from tests.support.db import new_message

LONG_LEASE = 60_000
UPSTREAM = "smtp.example.com:587"


async def _claim_one(outbox: Outbox, worker_id: str = "w1", lease_ms: int = LONG_LEASE) -> Claim:
    [claim] = await outbox.claim(worker_id=worker_id, limit=1, lease_ms=lease_ms)
    return claim


async def _attempt(outbox: Outbox, **fields: object) -> AttemptRecord:
    now = await outbox.db_now_ms()
    values: dict[str, object] = {"started_at": now - 40, "finished_at": now, "upstream": UPSTREAM}
    values.update(fields)
    return AttemptRecord(**values)  # type: ignore[arg-type]


async def _event_types(outbox: Outbox, message_id: str) -> list[EventType]:
    return [event.type for event in await outbox.list_events(message_id)]


async def test_mark_sent_is_terminal_and_records_everything(outbox: Outbox) -> None:
    record = await outbox.enqueue(new_message())
    claim = await _claim_one(outbox)
    attempt = await _attempt(outbox, smtp_code=250, smtp_reply="2.0.0 Ok: queued as X")

    assert await outbox.mark_sent(claim, attempt) is True

    stored = await outbox.get_message(record.id)
    assert stored.status is MessageStatus.SENT
    assert stored.attempt_count == 1
    assert stored.sent_at is not None
    assert stored.sent_at >= claim.claimed_at
    assert stored.updated_at == stored.sent_at
    assert stored.lease_owner is None
    assert stored.lease_expires_at is None
    assert stored.last_error_code is None

    [row] = await outbox.list_attempts(record.id)
    assert row.number == 1
    assert row.worker_id == "w1"
    assert row.upstream == UPSTREAM
    assert row.result is MessageStatus.SENT
    assert (row.started_at, row.finished_at) == (attempt.started_at, attempt.finished_at)
    assert row.smtp_code == 250
    assert row.smtp_reply == "2.0.0 Ok: queued as X"
    assert row.error_code is None
    assert row.ambiguous is False
    assert row.superseded is False

    events = await outbox.list_events(record.id)
    assert [e.type for e in events] == [EventType.QUEUED, EventType.SENDING, EventType.SENT]
    assert [e.status for e in events] == [
        MessageStatus.QUEUED,
        MessageStatus.SENDING,
        MessageStatus.SENT,
    ]
    assert events[-1].data == {"attempt": 1, "smtp_code": 250}
    assert events[-1].created_at == stored.sent_at
    assert [e.id for e in events] == sorted(e.id for e in events)

    # Terminal: nothing more can be done with the old claim, nobody claims it again.
    assert await outbox.mark_sent(claim, attempt) is False
    assert await outbox.release(claim) is False
    assert await outbox.extend_lease(claim, LONG_LEASE) is None
    assert await outbox.claim(worker_id="w2", limit=5, lease_ms=LONG_LEASE) == []
    assert len(await outbox.list_events(record.id)) == 3


async def test_a_partial_send_keeps_its_error(outbox: Outbox) -> None:
    record = await outbox.enqueue(new_message(recipients=("a@example.org", "b@example.org")))
    claim = await _claim_one(outbox)
    attempt = await _attempt(
        outbox, error_code=ErrorCode.RECIPIENT_REFUSED, smtp_code=250, smtp_reply="x" * 900
    )
    assert await outbox.mark_sent(claim, attempt, error_message="b@example.org refused: 550")
    stored = await outbox.get_message(record.id)
    assert stored.status is MessageStatus.SENT
    assert stored.last_error_code is ErrorCode.RECIPIENT_REFUSED
    assert stored.last_error_message == "b@example.org refused: 550"
    [row] = await outbox.list_attempts(record.id)
    assert row.smtp_reply == "x" * 500  # replies are cut to 500 characters


async def test_mark_deferred_makes_it_due_again_only_at_retry_at(outbox: Outbox) -> None:
    record = await outbox.enqueue(new_message())
    claim = await _claim_one(outbox)
    # Room for the checks below to run before it is due, even on a loaded machine.
    retry_at = await outbox.db_now_ms() + 2000
    attempt = await _attempt(
        outbox, error_code=ErrorCode.SMTP_TRANSIENT, smtp_code=451, smtp_reply="4.3.0 try later"
    )

    assert await outbox.mark_deferred(claim, attempt, retry_at=retry_at, error_message="451")

    stored = await outbox.get_message(record.id)
    assert stored.status is MessageStatus.DEFERRED
    assert stored.next_attempt_at == retry_at
    assert stored.attempt_count == 1
    assert stored.last_error_code is ErrorCode.SMTP_TRANSIENT
    assert stored.last_error_message == "451"
    assert stored.lease_owner is None
    events = await outbox.list_events(record.id)
    assert events[-1].type is EventType.DEFERRED
    assert events[-1].status is MessageStatus.DEFERRED
    assert events[-1].data == {
        "attempt": 1,
        "error_code": "smtp_transient",
        "smtp_code": 451,
        "retry_at": retry_at,
    }
    [row] = await outbox.list_attempts(record.id)
    assert row.result is MessageStatus.DEFERRED

    assert await outbox.claim(worker_id="w2", limit=1, lease_ms=LONG_LEASE) == []
    while await outbox.db_now_ms() < retry_at:
        await asyncio.sleep(0.05)
    again = await _claim_one(outbox, "w2")
    assert again.id == record.id
    assert again.attempt_number == 2
    assert again.reclaimed is False

    assert await outbox.mark_sent(again, await _attempt(outbox, smtp_code=250))
    stored = await outbox.get_message(record.id)
    assert stored.attempt_count == 2
    assert stored.last_error_code is None
    assert [a.number for a in await outbox.list_attempts(record.id)] == [1, 2]
    assert await _event_types(outbox, record.id) == [
        EventType.QUEUED,
        EventType.SENDING,
        EventType.DEFERRED,
        EventType.SENDING,
        EventType.SENT,
    ]


async def test_mark_failed_with_and_without_an_attempt(outbox: Outbox) -> None:
    rejected = await outbox.enqueue(new_message())
    unsendable = await outbox.enqueue(new_message())
    first, second = await outbox.claim(worker_id="w", limit=2, lease_ms=LONG_LEASE)
    assert first.id == rejected.id

    attempt = await _attempt(
        outbox,
        error_code=ErrorCode.SMTP_DISCONNECT_UNCERTAIN,
        ambiguous=True,
    )
    assert await outbox.mark_failed(
        first, attempt, error_code=ErrorCode.SMTP_REJECTED, error_message="retries exhausted"
    )
    assert await outbox.mark_failed(
        second, None, error_code=ErrorCode.INVALID_ADDRESS, error_message="bad recipient"
    )

    one = await outbox.get_message(rejected.id)
    assert one.status is MessageStatus.FAILED
    assert one.attempt_count == 1
    assert one.last_error_code is ErrorCode.SMTP_REJECTED
    assert one.last_error_message == "retries exhausted"
    [row] = await outbox.list_attempts(rejected.id)
    assert row.result is MessageStatus.FAILED
    assert row.ambiguous is True
    assert row.error_code is ErrorCode.SMTP_DISCONNECT_UNCERTAIN
    [*_, event] = await outbox.list_events(rejected.id)
    assert event.type is EventType.FAILED
    assert event.data == {"attempt": 1, "error_code": "smtp_rejected", "ambiguous": True}

    two = await outbox.get_message(unsendable.id)
    assert two.status is MessageStatus.FAILED
    assert two.attempt_count == 0
    assert await outbox.list_attempts(unsendable.id) == []
    [*_, event] = await outbox.list_events(unsendable.id)
    assert event.data == {"error_code": "invalid_address"}

    assert await outbox.claim(worker_id="w", limit=5, lease_ms=LONG_LEASE) == []


async def test_mark_expired_is_terminal_without_an_attempt(outbox: Outbox) -> None:
    record = await outbox.enqueue(new_message(expires_in_ms=0))
    claim = await _claim_one(outbox)
    assert await outbox.mark_expired(claim)
    stored = await outbox.get_message(record.id)
    assert stored.status is MessageStatus.EXPIRED
    assert stored.attempt_count == 0
    assert stored.last_error_code is ErrorCode.EXPIRED
    assert await outbox.list_attempts(record.id) == []
    assert await _event_types(outbox, record.id) == [
        EventType.QUEUED,
        EventType.SENDING,
        EventType.EXPIRED,
    ]
    assert await outbox.claim(worker_id="w", limit=5, lease_ms=LONG_LEASE) == []


async def test_release_makes_it_claimable_at_once_without_counting(outbox: Outbox) -> None:
    record = await outbox.enqueue(new_message())
    claim = await _claim_one(outbox, "stopping")
    assert await outbox.release(claim)

    stored = await outbox.get_message(record.id)
    assert stored.status is MessageStatus.QUEUED
    assert stored.attempt_count == 0
    assert stored.lease_owner is None
    events = await outbox.list_events(record.id)
    assert events[-1].type is EventType.REQUEUED
    assert events[-1].status is MessageStatus.QUEUED
    assert events[-1].data == {"worker_id": "stopping"}

    again = await _claim_one(outbox, "next")
    assert again.id == record.id
    assert again.attempt_number == 1
    assert again.reclaimed is False
    assert await outbox.release(claim) is False  # the old claim is dead


async def test_extend_lease(outbox: Outbox) -> None:
    record = await outbox.enqueue(new_message())
    claim = await _claim_one(outbox, lease_ms=1_000)
    extended = await outbox.extend_lease(claim, 120_000)
    assert extended is not None
    assert extended.id == claim.id
    assert extended.lease_token == claim.lease_token
    assert extended.lease_expires_at >= claim.claimed_at + 120_000
    stored = await outbox.get_message(record.id)
    assert stored.lease_expires_at == extended.lease_expires_at
    assert await _event_types(outbox, record.id) == [EventType.QUEUED, EventType.SENDING]
    # Either the old or the new copy of the claim can finish it: the token is the same.
    assert await outbox.mark_sent(claim, await _attempt(outbox))


async def test_a_worker_that_lost_its_lease_cannot_overwrite_the_result(outbox: Outbox) -> None:
    record = await outbox.enqueue(new_message())
    stale = await _claim_one(outbox, "slow", lease_ms=100)
    while await outbox.db_now_ms() <= stale.lease_expires_at:
        await asyncio.sleep(0.05)
    fresh = await _claim_one(outbox, "fast")
    assert fresh.reclaimed

    assert await outbox.extend_lease(stale, LONG_LEASE) is None
    assert await outbox.mark_deferred(
        fresh,
        await _attempt(outbox, error_code=ErrorCode.SMTP_TRANSIENT, smtp_code=421),
        retry_at=await outbox.db_now_ms() + 3_600_000,
        error_message="421",
    )
    # The slow worker finally reports success with its old claim: refused, but audited.
    late = await _attempt(outbox, smtp_code=250, smtp_reply="ok")
    assert await outbox.mark_sent(stale, late) is False
    assert (
        await outbox.mark_failed(stale, None, error_code=ErrorCode.UNKNOWN, error_message="x")
        is False
    )
    assert await outbox.mark_expired(stale) is False
    assert await outbox.release(stale) is False

    stored = await outbox.get_message(record.id)
    assert stored.status is MessageStatus.DEFERRED
    assert stored.attempt_count == 1
    assert stored.last_error_code is ErrorCode.SMTP_TRANSIENT
    assert stored.sent_at is None

    rows = await outbox.list_attempts(record.id)
    assert [(r.worker_id, r.result, r.superseded) for r in rows] == [
        ("fast", MessageStatus.DEFERRED, False),
        ("slow", MessageStatus.SENT, True),
    ]
    assert rows[1].smtp_code == 250
    assert await _event_types(outbox, record.id) == [
        EventType.QUEUED,
        EventType.SENDING,
        EventType.SENDING,
        EventType.DEFERRED,
    ]


async def test_an_expired_lease_nobody_took_over_still_counts(outbox: Outbox) -> None:
    record = await outbox.enqueue(new_message())
    claim = await _claim_one(outbox, lease_ms=50)
    while await outbox.db_now_ms() <= claim.lease_expires_at:
        await asyncio.sleep(0.05)
    assert await outbox.mark_sent(claim, await _attempt(outbox, smtp_code=250))
    assert (await outbox.get_message(record.id)).status is MessageStatus.SENT
    assert await outbox.claim(worker_id="w2", limit=1, lease_ms=LONG_LEASE) == []


async def test_every_state_change_writes_exactly_one_event(outbox: Outbox) -> None:
    ids = [(await outbox.enqueue(new_message())).id for _ in range(4)]
    claims = await outbox.claim(worker_id="w", limit=4, lease_ms=LONG_LEASE)
    by_id = {c.id: c for c in claims}
    now = await outbox.db_now_ms()
    attempt = await _attempt(outbox, smtp_code=250)
    assert await outbox.mark_sent(by_id[ids[0]], attempt)
    assert await outbox.mark_deferred(by_id[ids[1]], attempt, retry_at=now, error_message="x")
    assert await outbox.mark_failed(
        by_id[ids[2]], attempt, error_code=ErrorCode.SMTP_REJECTED, error_message="x"
    )
    assert await outbox.release(by_id[ids[3]])

    last = {
        ids[0]: (EventType.SENT, MessageStatus.SENT),
        ids[1]: (EventType.DEFERRED, MessageStatus.DEFERRED),
        ids[2]: (EventType.FAILED, MessageStatus.FAILED),
        ids[3]: (EventType.REQUEUED, MessageStatus.QUEUED),
    }
    for message_id, (event_type, status) in last.items():
        events = await outbox.list_events(message_id)
        assert len(events) == 3
        assert (events[-1].type, events[-1].status) == (event_type, status)
        assert (await outbox.get_message(message_id)).status is status
