"""The worker's retention sweep, end to end: an auth mail sent through a real SMTP sink
loses its stored bytes soon after, and so does one that another process finished."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

pytest.importorskip("sqlalchemy", reason="service tests need the [http] extra")

from sqlalchemy import select

from authmail_relay.db.outbox import Outbox
from authmail_relay.db.schema import messages
from authmail_relay.mail.message_request import MessageRequest
from authmail_relay.relay import Relay
from authmail_relay.settings import Settings
from authmail_relay.vocabulary import Kind, MessageStatus
from authmail_relay.worker import Worker
from tests.support.db import message_in_status, migrate, secrets_key_for
from tests.support.smtpd import SmtpServer

CODE = "CANARY-OTP-7731"


@dataclass
class Rig:
    relay: Relay
    settings: Settings

    async def raw(self, message_id: str) -> bytes:
        async with self.relay.outbox.engine.connect() as connection:
            value = await connection.scalar(
                select(messages.c.raw).where(messages.c.id == message_id)
            )
        return bytes(value)

    async def until_erased(self, message_id: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while (await self.relay.outbox.get_message(message_id)).raw_purged_at is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"{message_id} still has its bytes")
            await asyncio.sleep(0.05)

    @contextlib.asynccontextmanager
    async def worker_running(self) -> AsyncIterator[None]:
        """A worker (and so its retention sweep) runs for the block, then stops."""
        worker = Worker(self.relay.outbox, self.settings.require_smtp(), self.settings)
        task = asyncio.create_task(worker.run())
        try:
            yield
        finally:
            worker.stop()
            await asyncio.wait_for(task, 10)


@pytest.fixture
async def rig(db_url: str, smtp_sink: SmtpServer) -> AsyncIterator[Rig]:
    await migrate(db_url)
    settings = Settings(
        database_url=db_url,
        secrets_key=secrets_key_for(db_url),
        smtp=smtp_sink.config(),
        poll_interval_seconds=0.05,
        shutdown_grace_seconds=2,
        retention_sweep_seconds=0.05,
        magic_link_base_url="https://app.example.com",
    )
    async with Relay(settings) as relay:
        yield Rig(relay, settings)


async def test_a_sent_auth_mail_loses_its_bytes_and_raw_mail_keeps_them(
    rig: Rig, smtp_sink: SmtpServer
) -> None:
    otp = await rig.relay.submit(MessageRequest(kind=Kind.OTP, to="ada@example.org", code=CODE))
    raw = await rig.relay.submit(
        MessageRequest(to="ada@example.org", subject="News", html="<p>CANARY-NEWS</p>")
    )
    async with rig.worker_running():
        await rig.until_erased(otp.id)
    assert (await rig.relay.outbox.get_message(otp.id)).status is MessageStatus.SENT
    assert await rig.raw(otp.id) == b""
    assert CODE.encode() in b"".join(m.raw for m in smtp_sink.messages)  # it was sent first
    assert (await rig.relay.outbox.get_message(raw.id)).status is MessageStatus.SENT
    assert b"CANARY-NEWS" in await rig.raw(raw.id)  # 7 days by default


async def test_the_sweep_covers_messages_other_processes_finished(rig: Rig) -> None:
    # Finished through another outbox on the same database, as another process would.
    other = Outbox(rig.relay.outbox.engine)
    failed = await message_in_status(other, MessageStatus.FAILED, kind=Kind.MAGIC_LINK)
    async with rig.worker_running():
        await rig.until_erased(failed.id)
    assert await rig.raw(failed.id) == b""
