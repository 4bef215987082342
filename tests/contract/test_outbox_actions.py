"""What callers do to stored messages: webhook and API key fields, cancel, consume."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from sqlalchemy import select

from authmail_relay.db import create_engine
from authmail_relay.db.outbox import Outbox
from authmail_relay.db.schema import messages
from authmail_relay.exceptions import ConflictError, NotFoundError, ValidationError
from authmail_relay.ids import new_message_id
from authmail_relay.vocabulary import EventType, MessageStatus
from tests.support.db import message_in_status, new_message

LATER_MS = 3_600_000


async def _event_types(outbox: Outbox, message_id: str) -> list[EventType]:
    return [event.type for event in await outbox.list_events(message_id)]


# --- enqueue: webhook and API key -------------------------------------------------------


async def test_webhook_and_api_key_are_stored_but_only_has_webhook_is_read_back(
    outbox: Outbox,
) -> None:
    message = new_message(
        webhook_url="https://app.example.com/hooks/mail",
        webhook_secret="whsec_abc123",
        api_key_id="key_fp_1",
    )
    record = await outbox.enqueue(message)

    assert record.has_webhook is True
    assert record.api_key_id == "key_fp_1"
    assert (record.cancelled_at, record.consumed_at) == (None, None)
    assert await outbox.get_message(record.id) == record
    field_names = {f.name for f in dataclasses.fields(record)}
    assert not field_names & {"webhook_url", "webhook_secret"}
    assert "whsec_abc123" not in repr(record)

    async with outbox.engine.connect() as connection:
        stored = (
            await connection.execute(
                select(messages.c.webhook_url, messages.c.webhook_secret).where(
                    messages.c.id == record.id
                )
            )
        ).one()
    assert tuple(stored) == ("https://app.example.com/hooks/mail", "whsec_abc123")


async def test_without_a_webhook(outbox: Outbox) -> None:
    record = await outbox.enqueue(new_message())
    assert record.has_webhook is False
    assert record.api_key_id is None
    assert await outbox.get_message(record.id) == record
    # A URL alone is enough; the secret is optional.
    unsigned = await outbox.enqueue(new_message(webhook_url="https://app.example.com/h"))
    assert (await outbox.get_message(unsigned.id)).has_webhook is True


async def test_a_webhook_secret_needs_a_url(outbox: Outbox) -> None:
    with pytest.raises(ValidationError) as caught:
        await outbox.enqueue(new_message(webhook_secret="whsec_x"))
    assert caught.value.field == "webhook_secret"
    assert await outbox.list_messages() == []


# --- cancel -----------------------------------------------------------------------------


async def test_cancel_a_queued_message(outbox: Outbox) -> None:
    record = await outbox.enqueue(new_message())
    cancelled = await outbox.cancel(record.id)

    assert cancelled.status is MessageStatus.CANCELLED
    assert cancelled.cancelled_at is not None
    assert cancelled.cancelled_at >= record.created_at
    assert cancelled.updated_at == cancelled.cancelled_at
    assert cancelled.lease_owner is None
    assert cancelled.lease_expires_at is None
    assert await outbox.get_message(record.id) == cancelled

    events = await outbox.list_events(record.id)
    assert [e.type for e in events] == [EventType.QUEUED, EventType.CANCELLED]
    assert events[-1].status is MessageStatus.CANCELLED
    assert events[-1].created_at == cancelled.cancelled_at
    assert events[-1].data == {}

    # Never handed to a worker, and nothing is waiting any more.
    assert await outbox.claim(worker_id="w", limit=10, lease_ms=60_000) == []
    assert await outbox.next_due_at() is None
    assert (await outbox.count_by_status())[MessageStatus.CANCELLED] == 1


async def test_cancel_a_deferred_message_that_is_due_again(outbox: Outbox) -> None:
    deferred = await message_in_status(outbox, MessageStatus.DEFERRED)
    assert deferred.attempt_count == 1

    cancelled = await outbox.cancel(deferred.id)
    assert cancelled.status is MessageStatus.CANCELLED
    assert cancelled.attempt_count == 1
    assert cancelled.last_error_code == deferred.last_error_code
    assert (await _event_types(outbox, deferred.id))[-1] is EventType.CANCELLED
    assert await outbox.claim(worker_id="w", limit=10, lease_ms=60_000) == []


async def test_cancel_a_scheduled_message(outbox: Outbox) -> None:
    send_at = await outbox.db_now_ms() + LATER_MS
    record = await outbox.enqueue(new_message(send_at_ms=send_at))
    assert (await outbox.cancel(record.id)).status is MessageStatus.CANCELLED
    assert await outbox.next_due_at() is None


@pytest.mark.parametrize(
    "status",
    [
        MessageStatus.SENDING,
        MessageStatus.SENT,
        MessageStatus.FAILED,
        MessageStatus.EXPIRED,
        MessageStatus.CANCELLED,
        MessageStatus.CONSUMED,
    ],
)
async def test_only_waiting_messages_can_be_cancelled(
    outbox: Outbox, status: MessageStatus
) -> None:
    record = await message_in_status(outbox, status)
    events_before = await outbox.list_events(record.id)

    with pytest.raises(ConflictError) as caught:
        await outbox.cancel(record.id)

    assert caught.value.error_code == "not_cancellable"
    assert str(caught.value) == (
        f"message is {status.value}; only held, queued or deferred messages can be cancelled"
    )
    assert await outbox.get_message(record.id) == record
    assert await outbox.list_events(record.id) == events_before


async def test_cancel_an_unknown_message(outbox: Outbox) -> None:
    with pytest.raises(NotFoundError):
        await outbox.cancel(new_message_id())


async def test_cancel_and_claim_racing_never_both_win(db_url: str, outbox: Outbox) -> None:
    """Each message ends either cancelled and never claimed, or claimed and not cancelled."""
    ids = [(await outbox.enqueue(new_message())).id for _ in range(40)]
    claimer_engine = create_engine(db_url, busy_timeout_ms=30_000)
    canceller_engine = create_engine(db_url, busy_timeout_ms=30_000)
    claimed: list[str] = []
    cancelled: list[str] = []
    refused: list[str] = []

    async def claim_all() -> None:
        claimer = Outbox(claimer_engine)
        while batch := await claimer.claim(worker_id="racer", limit=3, lease_ms=60_000):
            claimed.extend(c.id for c in batch)
            await asyncio.sleep(0.001)

    async def cancel_all() -> None:
        canceller = Outbox(canceller_engine)
        for message_id in reversed(ids):
            try:
                await canceller.cancel(message_id)
            except ConflictError:
                refused.append(message_id)
            else:
                cancelled.append(message_id)

    try:
        await asyncio.gather(claim_all(), cancel_all())
    finally:
        await claimer_engine.dispose()
        await canceller_engine.dispose()

    assert sorted(claimed + cancelled) == sorted(ids)
    assert sorted(refused) == sorted(claimed)
    for message_id in cancelled:
        types = await _event_types(outbox, message_id)
        assert types == [EventType.QUEUED, EventType.CANCELLED]
    for message_id in claimed:
        assert (await outbox.get_message(message_id)).status is MessageStatus.SENDING


# --- consume ----------------------------------------------------------------------------


async def test_consume_a_sent_message_once(outbox: Outbox) -> None:
    sent = await message_in_status(outbox, MessageStatus.SENT)

    consumed = await outbox.consume(sent.id)
    assert consumed.status is MessageStatus.CONSUMED
    assert consumed.consumed_at is not None
    assert consumed.consumed_at >= sent.updated_at
    assert consumed.updated_at == consumed.consumed_at
    assert consumed.sent_at == sent.sent_at
    assert await outbox.get_message(sent.id) == consumed

    events = await outbox.list_events(sent.id)
    assert events[-1].type is EventType.CONSUMED
    assert events[-1].status is MessageStatus.CONSUMED
    assert events[-1].created_at == consumed.consumed_at

    # Again: the same record, no second event.
    assert await outbox.consume(sent.id) == consumed
    assert await outbox.list_events(sent.id) == events


@pytest.mark.parametrize(
    "status",
    [
        MessageStatus.QUEUED,
        MessageStatus.SENDING,
        MessageStatus.DEFERRED,
        MessageStatus.FAILED,
        MessageStatus.EXPIRED,
        MessageStatus.CANCELLED,
    ],
)
async def test_only_sent_messages_can_be_consumed(outbox: Outbox, status: MessageStatus) -> None:
    record = await message_in_status(outbox, status)
    events_before = await outbox.list_events(record.id)

    with pytest.raises(ConflictError) as caught:
        await outbox.consume(record.id)

    assert caught.value.error_code == "not_consumable"
    assert str(caught.value).startswith(f"message is {status.value};")
    assert await outbox.get_message(record.id) == record
    assert await outbox.list_events(record.id) == events_before


async def test_consume_an_unknown_message(outbox: Outbox) -> None:
    with pytest.raises(NotFoundError):
        await outbox.consume(new_message_id())


async def test_concurrent_consumes_write_one_event(db_url: str, outbox: Outbox) -> None:
    sent = await message_in_status(outbox, MessageStatus.SENT)
    engines = [create_engine(db_url, busy_timeout_ms=30_000) for _ in range(5)]
    try:
        results = await asyncio.gather(*(Outbox(e).consume(sent.id) for e in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    assert {r.status for r in results} == {MessageStatus.CONSUMED}
    assert len({r.consumed_at for r in results}) == 1
    assert (await _event_types(outbox, sent.id)).count(EventType.CONSUMED) == 1
