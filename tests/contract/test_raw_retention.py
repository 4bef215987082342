"""The retention sweep (both dialects): the stored bytes of finished messages are erased
after their kind's retention, in bounded batches, whoever sent them; a message's own
webhook is forgotten once nothing more can be reported to it."""

from __future__ import annotations

import itertools
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from authmail_relay.db.outbox import Outbox
from authmail_relay.db.retention_sweep import sweep, sweep_batch
from authmail_relay.db.schema import messages
from authmail_relay.db.webhook_queue import WebhookQueue
from authmail_relay.retention import RetentionPolicy
from authmail_relay.vocabulary import Kind, MessageStatus
from authmail_relay.webhooks.retry import Delivered
from tests.support.db import message_in_status

AUTH_NOW = RetentionPolicy(auth_ms=0, other_ms=7 * 86_400_000)
RAW = b"Subject: Your code\r\n\r\nCANARY-CODE-8812\r\n"
HOOK = "https://hooks.example.com/own"


async def _raw(outbox: Outbox, message_id: str) -> bytes:
    async with outbox.engine.connect() as connection:
        value = await connection.scalar(select(messages.c.raw).where(messages.c.id == message_id))
    return bytes(value)


async def _age(outbox: Outbox, message_id: str, ms: int) -> None:
    """Move the last status change *ms* into the past."""
    async with outbox.engine.begin() as connection:
        await connection.execute(
            update(messages)
            .where(messages.c.id == message_id)
            .values(updated_at=messages.c.updated_at - ms)
        )


async def test_finished_auth_mail_loses_its_bytes_and_waiting_mail_keeps_them(
    outbox: Outbox,
) -> None:
    records = {}
    for status in MessageStatus:
        if status is MessageStatus.SENDING:
            continue
        records[status] = await message_in_status(outbox, status, raw=RAW, send_at_ms=None)
        if status is MessageStatus.QUEUED:
            # Later, so the next message_in_status claims its own message.
            async with outbox.engine.begin() as connection:
                await connection.execute(
                    update(messages)
                    .where(messages.c.id == records[status].id)
                    .values(next_attempt_at=messages.c.next_attempt_at + 3_600_000)
                )
    result = await sweep(outbox.engine, AUTH_NOW)
    assert result.raw_erased == 6
    for status, record in records.items():
        after = await outbox.get_message(record.id)
        assert after.size == len(RAW)
        if status.is_terminal:
            assert await _raw(outbox, record.id) == b""
            assert after.raw_purged_at is not None
        else:
            assert await _raw(outbox, record.id) == RAW
            assert after.raw_purged_at is None
    assert (await sweep(outbox.engine, AUTH_NOW)).raw_erased == 0


async def test_other_mail_keeps_its_bytes_for_its_own_retention(outbox: Outbox) -> None:
    record = await message_in_status(outbox, MessageStatus.SENT, kind=Kind.RAW, raw=RAW)
    assert (await sweep(outbox.engine, AUTH_NOW)).raw_erased == 0
    assert await _raw(outbox, record.id) == RAW
    await _age(outbox, record.id, 7 * 86_400_000)
    assert (await sweep(outbox.engine, AUTH_NOW)).raw_erased == 1
    assert await _raw(outbox, record.id) == b""


async def test_the_auth_retention_counts_from_the_last_change(outbox: Outbox) -> None:
    policy = RetentionPolicy(auth_ms=3_600_000, other_ms=0)
    record = await message_in_status(outbox, MessageStatus.FAILED, raw=RAW)
    assert (await sweep(outbox.engine, policy)).raw_erased == 0
    await _age(outbox, record.id, 3_600_000)
    assert (await sweep(outbox.engine, policy)).raw_erased == 1


async def test_a_batch_is_bounded(outbox: Outbox) -> None:
    for _ in range(5):
        await message_in_status(outbox, MessageStatus.CANCELLED, raw=RAW)
    assert (await sweep_batch(outbox.engine, AUTH_NOW, limit=2)).raw_erased == 2
    assert (await sweep(outbox.engine, AUTH_NOW, limit=2, max_batches=1)).raw_erased == 2
    assert (await sweep(outbox.engine, AUTH_NOW, limit=2)).raw_erased == 1


async def test_the_sweep_agrees_with_the_policy(outbox: Outbox) -> None:
    """Every kind, terminal status and age: the SQL erases exactly what the pure rule says."""
    policy = RetentionPolicy(auth_ms=60_000, other_ms=600_000)
    cases = list(
        itertools.product(
            list(Kind), [MessageStatus.SENT, MessageStatus.FAILED], [0, 120_000, 900_000]
        )
    )
    stored = []
    for kind, status, age in cases:
        record = await message_in_status(outbox, status, kind=kind, raw=RAW)
        await _age(outbox, record.id, age)
        stored.append((record.id, kind, status))
    now = await outbox.db_now_ms()
    await sweep(outbox.engine, policy)
    for message_id, kind, status in stored:
        after = await outbox.get_message(message_id)
        expected = policy.raw_due(kind=kind, status=status, updated_at=after.updated_at, now_ms=now)
        assert (after.raw_purged_at is not None) == expected, (kind, status)


async def test_the_own_webhook_is_forgotten_once_nothing_more_is_reported(
    outbox: Outbox,
) -> None:
    failed = await message_in_status(
        outbox, MessageStatus.FAILED, webhook_url=HOOK, webhook_secret="s3cret"
    )
    # Its "failed" delivery is still pending: the URL and secret stay.
    result = await sweep(outbox.engine, AUTH_NOW)
    assert (result.raw_erased, result.webhooks_forgotten) == (1, 0)
    assert (await outbox.get_message(failed.id)).has_webhook
    queue = WebhookQueue(outbox.engine)
    [claim] = await queue.claim(worker_id="t", limit=5, lease_ms=60_000)
    assert await queue.record(claim, None, Delivered())
    assert (await sweep(outbox.engine, AUTH_NOW)).webhooks_forgotten == 1
    assert not (await outbox.get_message(failed.id)).has_webhook
    async with outbox.engine.connect() as connection:
        row = (
            await connection.execute(
                select(messages.c.webhook_url, messages.c.webhook_secret).where(
                    messages.c.id == failed.id
                )
            )
        ).one()
    assert tuple(row) == (None, None)


async def test_a_sent_message_keeps_its_webhook_while_it_can_be_consumed(
    outbox: Outbox,
) -> None:
    sent = await message_in_status(
        outbox, MessageStatus.SENT, webhook_url=HOOK, webhook_secret="s", expires_in_ms=3_600_000
    )
    queue = WebhookQueue(outbox.engine)
    [claim] = await queue.claim(worker_id="t", limit=5, lease_ms=60_000)
    assert await queue.record(claim, None, Delivered())
    assert (await sweep(outbox.engine, AUTH_NOW)).webhooks_forgotten == 0
    consumed = await outbox.consume(sent.id)
    assert consumed.has_webhook  # so the consumption is reported to it
    [claim] = await queue.claim(worker_id="t", limit=5, lease_ms=60_000)
    assert claim.url == HOOK
    assert claim.secrets == ("s",)
    assert await queue.record(claim, None, Delivered())
    assert (await sweep(outbox.engine, AUTH_NOW)).webhooks_forgotten == 1


async def test_a_replayed_delivery_of_a_forgotten_webhook_fails_clearly(outbox: Outbox) -> None:
    from authmail_relay.db.webhook_store import WebhookStore

    record = await message_in_status(outbox, MessageStatus.CANCELLED, webhook_url=HOOK)
    queue = WebhookQueue(outbox.engine)
    [claim] = await queue.claim(worker_id="t", limit=5, lease_ms=60_000)
    assert await queue.record(claim, None, Delivered())
    assert (await sweep(outbox.engine, AUTH_NOW)).webhooks_forgotten == 1
    await WebhookStore(outbox.engine).replay(claim.id)
    [again] = await queue.claim(worker_id="t", limit=5, lease_ms=60_000)
    assert (again.id, again.url) == (claim.id, None)
    assert again.target_problem == "the message has no webhook URL"
    assert (await outbox.get_message(record.id)).status is MessageStatus.CANCELLED


async def test_erased_bytes_leave_no_copy_in_the_sqlite_file(sqlite_url: str) -> None:
    from authmail_relay.db import create_engine, upgrade

    engine = create_engine(sqlite_url)
    try:
        await upgrade(engine)
        outbox = Outbox(engine)
        # Big enough to need overflow pages, as a real HTML mail does.
        raw = RAW + b"x" * 20_000 + b"CANARY-TAIL-4471"
        await message_in_status(outbox, MessageStatus.SENT, raw=raw)
        assert (await sweep(engine, AUTH_NOW)).raw_erased == 1
    finally:
        await engine.dispose()
    database = Path(make_url(sqlite_url).database or "")
    stored = b"".join(p.read_bytes() for p in (database, Path(f"{database}-wal")) if p.exists())
    assert b"CANARY-CODE-8812" not in stored
    assert b"CANARY-TAIL-4471" not in stored
