"""The background work signs checkpoints of the audit trail: every
``AUDIT_CHECKPOINT_SECONDS`` while it runs and once more when it stops (after the
worker's last writes), with the key derived from the secrets keys."""

from __future__ import annotations

import asyncio
import time

import pytest

pytest.importorskip("sqlalchemy", reason="service tests need the [http] extra")

from authmail_relay.audit_checkpoints import checkpoint_keys
from authmail_relay.background import background_work
from authmail_relay.db.audit_reads import iter_checkpoints
from authmail_relay.db.audit_store import head
from authmail_relay.db.audit_verify import verify_trail
from authmail_relay.mail.message_request import MessageRequest
from authmail_relay.relay import Relay
from tests.support.db import migrate, secrets_key_for
from tests.support.smtpd import SmtpServer
from tests.support.webhook_rig import fast_settings


async def test_checkpoints_while_running_and_at_the_stop(
    sqlite_url: str, smtp_sink: SmtpServer
) -> None:
    await migrate(sqlite_url)
    settings = fast_settings(
        sqlite_url,
        smtp=smtp_sink.config(),
        secrets_key=secrets_key_for(sqlite_url),
        audit_checkpoint_seconds=0.1,
    )
    async with Relay(settings) as relay:
        engine = relay.outbox.engine
        async with background_work(relay, settings, smtp=settings.require_smtp()):
            await relay.submit(MessageRequest(to="a@example.org", subject="s", html="<p>x</p>"))
            deadline = time.monotonic() + 10
            while not [c async for c in iter_checkpoints(engine)]:
                assert time.monotonic() < deadline, "no checkpoint was made"
                await asyncio.sleep(0.05)
            await relay.submit(MessageRequest(to="b@example.org", subject="s", html="<p>x</p>"))
        async with engine.connect() as connection:
            head_seq, head_hash = await head(connection)
        last = [c async for c in iter_checkpoints(engine)][-1]
        assert (last.seq, last.head_hash) == (head_seq, head_hash)
        keys = checkpoint_keys(settings, relay.outbox.keys)
        assert last.key_id == keys.key_id
        found = await verify_trail(engine, keys.verifying)
        assert found.ok
        assert found.checkpoints >= 1


async def test_zero_seconds_makes_none(sqlite_url: str, smtp_sink: SmtpServer) -> None:
    await migrate(sqlite_url)
    settings = fast_settings(
        sqlite_url,
        smtp=smtp_sink.config(),
        secrets_key=secrets_key_for(sqlite_url),
        audit_checkpoint_seconds=0,
    )
    async with Relay(settings) as relay:
        async with background_work(relay, settings, smtp=settings.require_smtp()):
            await relay.submit(MessageRequest(to="a@example.org", subject="s", html="<p>x</p>"))
        assert [c async for c in iter_checkpoints(relay.outbox.engine)] == []
