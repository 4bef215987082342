"""Storing messages and reading them back: records, events, listing and counts."""

from __future__ import annotations

import pytest

from authmail_relay.db.outbox import Outbox
from authmail_relay.exceptions import NotFoundError, ValidationError
from authmail_relay.ids import new_message_id
from authmail_relay.vocabulary import EventType, Kind, MessageStatus, Priority
from tests.support.db import new_message


async def test_enqueue_stores_everything_and_writes_the_queued_event(outbox: Outbox) -> None:
    before = await outbox.db_now_ms()
    message = new_message(
        kind=Kind.MAGIC_LINK,
        priority=Priority.HIGH,
        recipients=("a@example.org", "b@example.org"),
        subject="Sign in ✓",
        raw=b"Subject: x\r\n\r\n\x00\xff binary-safe\r\n",
        tags=("signin", "web"),
        meta={"user": 42, "nested": {"ok": True}, "name": "Zoë"},
        request_id="req-1",
        expires_in_ms=600_000,
        max_age_ms=3_600_000,
    )
    record = await outbox.enqueue(message)
    after = await outbox.db_now_ms()

    assert record.id == message.id
    assert record.status is MessageStatus.QUEUED
    assert before <= record.created_at <= after
    assert record.updated_at == record.created_at == record.next_attempt_at
    assert record.expires_at == record.created_at + 600_000
    assert record.give_up_at == record.created_at + 3_600_000
    assert record.attempt_count == 0
    assert record.size == len(message.raw)

    stored = await outbox.get_message(message.id)
    assert stored == record
    assert stored.kind is Kind.MAGIC_LINK
    assert stored.priority is Priority.HIGH
    assert stored.recipients == ("a@example.org", "b@example.org")
    assert stored.subject == "Sign in ✓"
    assert stored.tags == ("signin", "web")
    assert stored.meta == {"user": 42, "nested": {"ok": True}, "name": "Zoë"}
    assert stored.request_id == "req-1"
    assert stored.message_id == message.message_id
    assert stored.lease_owner is None
    assert stored.sent_at is None
    assert stored.last_error_code is None

    [event] = await outbox.list_events(message.id)
    assert event.type is EventType.QUEUED
    assert event.status is MessageStatus.QUEUED
    assert event.message_id == message.id
    assert event.created_at == record.created_at
    assert event.data == {"kind": "magic_link", "priority": "high"}
    assert await outbox.list_attempts(message.id) == []


async def test_defaults_never_expire_and_give_up_after_a_day(outbox: Outbox) -> None:
    record = await outbox.enqueue(new_message())
    assert record.expires_at is None
    assert record.give_up_at == record.created_at + 86_400_000
    assert record.tags == ()
    assert record.meta == {}


async def test_a_scheduled_message_is_due_at_its_send_time(outbox: Outbox) -> None:
    send_at = await outbox.db_now_ms() + 3_600_000
    record = await outbox.enqueue(new_message(send_at_ms=send_at))
    assert record.next_attempt_at == send_at
    [event] = await outbox.list_events(record.id)
    assert event.data["send_at"] == send_at
    # A send time in the past means "now".
    past = await outbox.enqueue(new_message(send_at_ms=1))
    assert past.next_attempt_at == past.created_at


async def test_a_scheduled_message_keeps_its_whole_retry_window(outbox: Outbox) -> None:
    """The maximum age counts from the send time, not from acceptance: a message
    scheduled a day ahead with a one-hour age still has its hour of retries."""
    send_at = await outbox.db_now_ms() + 86_400_000
    record = await outbox.enqueue(new_message(send_at_ms=send_at, max_age_ms=3_600_000))
    assert record.give_up_at == send_at + 3_600_000
    assert (await outbox.get_message(record.id)).give_up_at == send_at + 3_600_000
    # Due now (no send time, or a past one): from acceptance, as before.
    past = await outbox.enqueue(new_message(send_at_ms=1, max_age_ms=3_600_000))
    assert past.give_up_at == past.created_at + 3_600_000


async def test_a_send_time_at_or_after_the_expiry_is_refused(outbox: Outbox) -> None:
    """Checked again on the database clock, so clock skew cannot schedule a dead mail."""
    now = await outbox.db_now_ms()
    for late in (now + 3_600_000, now + 7_200_000):
        with pytest.raises(ValidationError) as refused:
            await outbox.enqueue(new_message(send_at_ms=late, expires_in_ms=600_000))
        assert refused.value.field == "send_at"
    assert await outbox.list_messages() == []
    kept = await outbox.enqueue(new_message(send_at_ms=now + 60_000, expires_in_ms=3_600_000))
    assert kept.next_attempt_at == now + 60_000
    # An expiry of zero without a send time is still accepted (expired at once).
    assert (await outbox.enqueue(new_message(expires_in_ms=0))).expires_at is not None


async def test_unknown_ids_are_not_found(outbox: Outbox) -> None:
    missing = new_message_id()
    with pytest.raises(NotFoundError):
        await outbox.get_message(missing)
    with pytest.raises(NotFoundError):
        await outbox.list_events(missing)
    with pytest.raises(NotFoundError):
        await outbox.list_attempts(missing)


async def test_list_messages_newest_first_with_paging_and_status(outbox: Outbox) -> None:
    ids = [(await outbox.enqueue(new_message())).id for _ in range(7)]
    newest_first = list(reversed(ids))

    listed = await outbox.list_messages()
    assert [m.id for m in listed] == newest_first

    page_one = await outbox.list_messages(limit=3)
    page_two = await outbox.list_messages(limit=3, before_id=page_one[-1].id)
    page_three = await outbox.list_messages(limit=3, before_id=page_two[-1].id)
    assert [m.id for m in page_one + page_two + page_three] == newest_first

    [claim] = await outbox.claim(worker_id="w", limit=1, lease_ms=60_000)
    sending = await outbox.list_messages(status=MessageStatus.SENDING)
    assert [m.id for m in sending] == [claim.id]
    assert sending[0].lease_owner == "w"
    queued = await outbox.list_messages(status=MessageStatus.QUEUED)
    assert claim.id not in {m.id for m in queued}
    assert len(queued) == 6
    assert await outbox.list_messages(status=MessageStatus.SENT) == []


async def test_count_by_status_lists_every_status(outbox: Outbox) -> None:
    assert await outbox.count_by_status() == dict.fromkeys(MessageStatus, 0)
    for _ in range(3):
        await outbox.enqueue(new_message())
    await outbox.claim(worker_id="w", limit=1, lease_ms=60_000)
    counts = await outbox.count_by_status()
    assert counts[MessageStatus.QUEUED] == 2
    assert counts[MessageStatus.SENDING] == 1
    assert sum(counts.values()) == 3


async def test_next_due_at(outbox: Outbox) -> None:
    assert await outbox.next_due_at() is None
    now = await outbox.db_now_ms()
    later = await outbox.enqueue(new_message(send_at_ms=now + 3_600_000))
    assert await outbox.next_due_at() == later.next_attempt_at
    soon = await outbox.enqueue(new_message(send_at_ms=now + 60_000))
    assert await outbox.next_due_at() == soon.next_attempt_at


async def test_invalid_messages_are_refused_before_storing(outbox: Outbox) -> None:
    with pytest.raises(ValidationError):
        await outbox.enqueue(new_message(meta={"not json": object()}))
    with pytest.raises(ValidationError):
        await outbox.enqueue(new_message(max_age_ms=0))
    with pytest.raises(ValidationError):
        await outbox.enqueue(new_message(expires_in_ms=-1))
    assert await outbox.list_messages() == []


async def test_the_database_clock_moves_forward(outbox: Outbox) -> None:
    first = await outbox.db_now_ms()
    second = await outbox.db_now_ms()
    assert 1_600_000_000_000 < first <= second
