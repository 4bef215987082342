"""The global sending cap (SEND_RATE_PER_MINUTE): messages over it wait in the queue and
are sent later, never failed; high priority is claimed first (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

pytest.importorskip("sqlalchemy", reason="service tests need the [http] extra")

from authmail_relay.mail.message_request import MessageRequest
from authmail_relay.relay import Relay
from authmail_relay.settings import Settings
from authmail_relay.vocabulary import MessageStatus
from authmail_relay.worker import Worker
from tests.support.db import migrate, secrets_key_for
from tests.support.smtpd import SmtpServer


@pytest.fixture
async def relay(db_url: str, smtp_sink: SmtpServer) -> AsyncIterator[Relay]:
    await migrate(db_url)
    settings = Settings(
        database_url=db_url,
        secrets_key=secrets_key_for(db_url),
        smtp=smtp_sink.config(),
        worker_concurrency=4,
        poll_interval_seconds=0.05,
        shutdown_grace_seconds=2,
        send_rate_per_minute=3,
        send_rate_window_seconds=2,
    )
    async with Relay(settings) as relay:
        yield relay


async def test_messages_over_the_cap_wait_and_are_sent_later(
    relay: Relay, smtp_sink: SmtpServer
) -> None:
    for n in range(6):
        await relay.submit(MessageRequest(to=f"u{n}@example.org", subject="Hi", html="<p>x</p>"))
    await relay.submit(
        MessageRequest(to="vip@example.org", subject="Now", html="<p>x</p>", priority="high")
    )
    smtp = relay.settings.require_smtp()
    worker = Worker(relay.outbox, smtp, relay.settings, wake=relay.new_work)
    task = asyncio.create_task(worker.run())
    try:
        deadline = time.monotonic() + 1.5
        while len(smtp_sink.messages) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        # One window: exactly the cap was handed over, the high-priority message first.
        assert len(smtp_sink.messages) == 3
        assert "Now" in [received.parsed()["Subject"] for received in smtp_sink.messages]
        counts = await relay.outbox.count_by_status()
        assert counts.get(MessageStatus.QUEUED, 0) == 4
        deadline = time.monotonic() + 15
        while len(smtp_sink.messages) < 7 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        worker.stop()
        await task
    assert len(smtp_sink.messages) == 7
    counts = await relay.outbox.count_by_status()
    assert counts.get(MessageStatus.SENT) == 7
    assert not counts.get(MessageStatus.FAILED)
