"""The worker end to end: relay → outbox (SQLite and PostgreSQL) → worker → real SMTP sink."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import pytest

pytest.importorskip("sqlalchemy", reason="service tests need the [http] extra")

from authmail_relay.db.outbox import NewMessage, Outbox
from authmail_relay.ids import new_message_id
from authmail_relay.mail.message_request import MessageRequest
from authmail_relay.relay import Relay
from authmail_relay.settings import Settings
from authmail_relay.urgency import Urgency
from authmail_relay.vocabulary import ErrorCode, EventType, Kind, MessageStatus
from authmail_relay.worker import Worker
from tests.support.db import migrate, secrets_key_for
from tests.support.smtpd import SmtpServer

ACTIVE = (MessageStatus.QUEUED, MessageStatus.DEFERRED, MessageStatus.SENDING)


@dataclass
class Rig:
    relay: Relay
    sink: SmtpServer
    settings: Settings

    def worker(self) -> Worker:
        return Worker(
            self.relay.outbox, self.settings.require_smtp(), self.settings, wake=self.relay.new_work
        )

    async def submit(self, **fields: object) -> str:
        values: dict[str, object] = {
            "to": "user@example.org",
            "subject": "Hello",
            "html": "<p>Hi</p>",
        }
        values.update(fields)
        accepted = await self.relay.submit(MessageRequest(**values))  # type: ignore[arg-type]
        return accepted.id

    async def drain(self, timeout: float = 20.0) -> None:
        """Run the worker until no message is queued, deferred or sending."""
        deadline = time.monotonic() + timeout
        worker = self.worker()
        while time.monotonic() < deadline:
            await asyncio.wait_for(worker.run(until_idle=True), timeout)
            counts = await self.relay.outbox.count_by_status()
            if not any(counts.get(status, 0) for status in ACTIVE):
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the queue did not drain")

    async def status(self, message_id: str) -> MessageStatus:
        return (await self.relay.outbox.get_message(message_id)).status


@pytest.fixture
async def rig(db_url: str, smtp_sink: SmtpServer) -> AsyncIterator[Rig]:
    await migrate(db_url)
    settings = Settings(
        database_url=db_url,
        secrets_key=secrets_key_for(db_url),
        smtp=smtp_sink.config(),
        worker_concurrency=3,
        poll_interval_seconds=0.05,
        retry_base_seconds=0.05,
        retry_max_seconds=0.2,
        shutdown_grace_seconds=2,
    )
    async with Relay(settings) as relay:
        yield Rig(relay, smtp_sink, settings)


async def test_delivers_and_records_everything(rig: Rig) -> None:
    """Each accepted message arrives once; attempts and events tell the story."""
    ids = [await rig.submit(subject=f"Message {n}") for n in range(5)]
    await rig.drain()
    assert len(rig.sink.messages) == 5
    for message_id in ids:
        details = await rig.relay.get_message(message_id)
        assert details.message.status is MessageStatus.SENT
        assert [event.type for event in details.events] == [
            EventType.QUEUED,
            EventType.SENDING,
            EventType.SENT,
        ]
        (attempt,) = details.attempts
        assert attempt.smtp_code == 250
        assert attempt.upstream == rig.settings.require_smtp().upstream
        assert not attempt.ambiguous


async def test_transient_failure_is_retried_with_identical_bytes(rig: Rig) -> None:
    """A 4xx after the data defers the message; the retry resends the very same bytes."""
    rig.sink.handler.reply_at("final_dot", "451 4.3.0 try again", times=1)
    message_id = await rig.submit()
    await rig.drain()
    details = await rig.relay.get_message(message_id)
    assert details.message.status is MessageStatus.SENT
    assert [a.error_code for a in details.attempts] == [ErrorCode.SMTP_TRANSIENT, None]
    assert EventType.DEFERRED in [event.type for event in details.events]
    first, second = rig.sink.handler.data_received
    assert first == second


async def test_disconnect_after_final_dot_is_retried_and_flagged(rig: Rig) -> None:
    """The uncertain window: retried, the attempt marked ambiguous, same Message-ID."""
    rig.sink.handler.disconnect_at("final_dot", times=1)
    message_id = await rig.submit()
    await rig.drain()
    details = await rig.relay.get_message(message_id)
    assert details.message.status is MessageStatus.SENT
    assert [a.ambiguous for a in details.attempts] == [True, False]
    assert details.attempts[0].error_code is ErrorCode.SMTP_DISCONNECT_UNCERTAIN
    first, second = rig.sink.handler.data_received
    assert first == second
    assert details.message.message_id.encode() in first


async def test_permanent_failure_is_final(rig: Rig) -> None:
    """A 5xx fails the message after one attempt."""
    rig.sink.handler.reply_at("final_dot", "554 5.7.1 rejected")
    message_id = await rig.submit()
    await rig.drain()
    details = await rig.relay.get_message(message_id)
    assert details.message.status is MessageStatus.FAILED
    assert details.message.last_error_code is ErrorCode.SMTP_REJECTED
    assert len(details.attempts) == 1
    assert details.events[-1].type is EventType.FAILED


async def test_expired_message_is_never_handed_to_smtp(rig: Rig) -> None:
    """expires_at in the past → expired, and the sink never sees a connection for it."""
    outbox: Outbox = rig.relay.outbox
    message_id = await rig.submit()
    stored = await outbox.get_message(message_id)
    # Re-store the same bytes with a 1 ms lifetime, then let it lapse.
    await outbox.enqueue(
        NewMessage(
            id=new_message_id(),
            kind=stored.kind,
            priority=stored.priority,
            sender=stored.sender,
            recipients=stored.recipients,
            subject=stored.subject,
            message_id=stored.message_id,
            raw=b"Subject: x\r\n\r\nnever\r\n",
            expires_in_ms=1,
        )
    )
    await asyncio.sleep(0.05)
    await rig.drain()
    expired = [r for r in await outbox.list_messages() if r.status is MessageStatus.EXPIRED]
    assert len(expired) == 1
    assert all(b"never" not in raw for raw in rig.sink.handler.data_received)
    assert len(rig.sink.messages) == 1  # only the other, unexpiring copy
    events = await outbox.list_events(expired[0].id)
    assert [event.type for event in events] == [
        EventType.QUEUED,
        EventType.SENDING,
        EventType.EXPIRED,
    ]


async def test_retry_that_would_land_after_expiry_expires(rig: Rig) -> None:
    """With a retry delay longer than the remaining lifetime, the message expires unsent."""
    rig.sink.handler.reply_at("mail", "451 4.3.0 later")
    slow_retries = replace(rig.settings, retry_base_seconds=30, retry_max_seconds=60)
    rig.settings = slow_retries
    message_id = await rig.submit(expires_in_seconds=5)
    await rig.drain()
    details = await rig.relay.get_message(message_id)
    assert details.message.status is MessageStatus.EXPIRED
    assert not rig.sink.messages


async def test_wrong_password_keeps_the_message_queued(rig: Rig) -> None:
    """A relay-side failure defers (does not fail) the message, so fixing config saves it."""
    rig.settings = replace(
        rig.settings,
        smtp=rig.settings.require_smtp().with_changes(tls="starttls"),
        retry_base_seconds=60,
        retry_max_seconds=900,  # the rig's cap (0.2 s) would make the retry come at once
    )
    message_id = await rig.submit()
    worker = rig.worker()
    await asyncio.wait_for(worker.run(until_idle=True), 10)
    details = await rig.relay.get_message(message_id)
    assert details.message.status is MessageStatus.DEFERRED
    assert details.message.last_error_code is ErrorCode.STARTTLS_UNSUPPORTED


async def test_stop_releases_unfinished_messages(rig: Rig) -> None:
    """Past the grace period, in-flight sends are cancelled and handed back to the queue."""
    rig.sink.handler.delay_at("mail", 3.0)
    rig.settings = replace(rig.settings, shutdown_grace_seconds=0.2)
    message_id = await rig.submit()
    worker = rig.worker()
    running = asyncio.create_task(worker.run())
    for _ in range(100):
        if await rig.status(message_id) is MessageStatus.SENDING:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)
    worker.stop()
    await asyncio.wait_for(running, 5)
    details = await rig.relay.get_message(message_id)
    assert details.message.status is MessageStatus.QUEUED
    assert details.events[-1].type is EventType.REQUEUED
    assert details.attempts == []


async def test_backlog_never_holds_back_an_auth_message(rig: Rig) -> None:
    """With every general slot busy on slow raw mail, an OTP still starts at once."""
    rig.sink.handler.delay_at("final_dot", 0.8)
    rig.settings = replace(rig.settings, worker_concurrency=2)
    backlog = [await rig.submit(subject=f"bulk {n}") for n in range(4)]
    worker = rig.worker()
    running = asyncio.create_task(worker.run())
    try:
        for _ in range(100):
            if await rig.status(backlog[0]) is MessageStatus.SENDING:
                break
            await asyncio.sleep(0.01)
        otp = await rig.submit(kind=Kind.OTP, code="123456", subject="")
        for _ in range(100):
            if await rig.status(otp) is not MessageStatus.QUEUED:
                break
            await asyncio.sleep(0.01)
        statuses = [await rig.status(message_id) for message_id in backlog]
        # The OTP was taken while the first bulk mail was still in flight and the rest waited.
        assert await rig.status(otp) in (MessageStatus.SENDING, MessageStatus.SENT)
        assert statuses.count(MessageStatus.SENDING) == 1
        assert MessageStatus.SENT not in statuses
    finally:
        worker.stop()
        await asyncio.wait_for(running, 10)


async def test_low_priority_progresses_under_continuous_normal_load(rig: Rig) -> None:
    """Normal mail keeps arriving faster than it is sent; low-priority mail still goes
    out meanwhile (its guaranteed share), instead of waiting for the queue to empty."""
    rig.sink.handler.delay_at("final_dot", 0.05)
    backlog = [await rig.submit(subject=f"normal {n}") for n in range(10)]
    low = [await rig.submit(subject=f"low {n}", priority="low") for n in range(3)]
    worker = rig.worker()
    running = asyncio.create_task(worker.run())
    feeding = True

    async def feed() -> None:
        n = 0
        while feeding:
            backlog.append(await rig.submit(subject=f"more {n}"))
            n += 1
            await asyncio.sleep(0.01)

    feeder = asyncio.create_task(feed())
    try:
        deadline = time.monotonic() + 15
        while any([await rig.status(m) is not MessageStatus.SENT for m in low]):
            assert time.monotonic() < deadline, "low-priority mail starved"
            await asyncio.sleep(0.02)
        waiting = [await rig.status(m) for m in backlog]
        assert waiting.count(MessageStatus.QUEUED) > 0  # normal mail was still queued
    finally:
        feeding = False
        await feeder
        worker.stop()
        await asyncio.wait_for(running, 10)


async def test_bulk_mail_steps_aside_while_an_auth_mail_is_in_progress(rig: Rig) -> None:
    """While the API has an auth mail in progress, the worker claims no bulk mail; the
    moment it is done, bulk mail goes on without waiting for a poll."""
    rig.settings = replace(rig.settings, poll_interval_seconds=30)
    bulk = [await rig.submit(subject=f"bulk {n}") for n in range(3)]
    urgency = rig.relay.urgency
    urgency.begin("otp in progress")
    worker = Worker(
        rig.relay.outbox,
        rig.settings.require_smtp(),
        rig.settings,
        wake=rig.relay.new_work,
        urgency=urgency,
    )
    running = asyncio.create_task(worker.run())
    try:
        await asyncio.sleep(0.3)
        assert [await rig.status(m) for m in bulk] == [MessageStatus.QUEUED] * 3
        urgency.end("otp in progress")
        deadline = time.monotonic() + 5
        while any([await rig.status(m) is not MessageStatus.SENT for m in bulk]):
            assert time.monotonic() < deadline, "bulk mail did not resume"
            await asyncio.sleep(0.02)
    finally:
        worker.stop()
        await asyncio.wait_for(running, 10)


async def test_a_deferred_auth_mail_stops_holding_bulk_mail_back(rig: Rig) -> None:
    """An auth mail that could not be sent (deferred) ends its urgency at once, so bulk
    mail does not wait for the urgency to expire."""
    # The rig caps retries at 0.2 s: lift the cap too, or the retry comes 0.1-0.2 s later
    # and a poll on a loaded machine can miss the deferred state altogether.
    rig.settings = replace(
        rig.settings, poll_interval_seconds=30, retry_base_seconds=60, retry_max_seconds=900
    )
    rig.sink.handler.reply_at("mail", "451 4.3.0 try later", times=1)
    otp = await rig.submit(kind=Kind.OTP, code="123456", subject="")
    # A hold far longer than the test: only the worker's end() can clear the urgency.
    urgency = Urgency(hold_seconds=600)
    urgency.begin("request")
    urgency.rename("request", otp)  # as Relay.submit does for a request of this process
    worker = Worker(
        rig.relay.outbox,
        rig.settings.require_smtp(),
        rig.settings,
        wake=rig.relay.new_work,
        urgency=urgency,
    )
    running = asyncio.create_task(worker.run())
    try:
        deadline = time.monotonic() + 10
        while await rig.status(otp) is not MessageStatus.DEFERRED:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        # The status is committed before the worker's coroutine runs on to end the
        # urgency; on a loaded machine a poll can fall between the two.
        while urgency.active:
            assert time.monotonic() < deadline, "the deferred auth mail kept its urgency"
            await asyncio.sleep(0.02)
        assert not urgency.active
    finally:
        worker.stop()
        await asyncio.wait_for(running, 10)
