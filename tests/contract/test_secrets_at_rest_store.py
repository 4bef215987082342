"""Webhook secrets are sealed in the database (both dialects): never stored in clear,
opened for signing, still readable after a key rotation, legacy plaintext rows kept
working and re-sealed on demand."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from authmail_relay.db import create_engine, upgrade
from authmail_relay.db.outbox import Outbox
from authmail_relay.db.schema import messages, webhook_endpoints
from authmail_relay.db.webhook_queue import WebhookQueue
from authmail_relay.db.webhook_store import WebhookStore
from authmail_relay.redaction import address_hash
from authmail_relay.trust.secrets_at_rest import SEALED_PREFIX, AtRestKeys, new_key
from authmail_relay.vocabulary import MessageStatus
from tests.support.db import message_in_status

OLD, NEW = new_key(), new_key()
HOOK = "https://hooks.example.com/own"


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()


async def _stored_text(engine: AsyncEngine) -> str:
    """Every secret column of the two tables, as the database holds them."""
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(webhook_endpoints.c.secret, webhook_endpoints.c.previous_secret).select_from(
                    webhook_endpoints
                )
            )
        ).all()
        own = (await connection.execute(select(messages.c.webhook_secret))).scalars().all()
    return repr(rows) + repr(own)


def _file_bytes(engine: AsyncEngine) -> bytes:
    database = Path(make_url(engine.url).database or "")
    return b"".join(
        path.read_bytes() for path in (database, Path(f"{database}-wal")) if path.exists()
    )


async def _claim_all(queue: WebhookQueue) -> dict[str | None, tuple[tuple[str, ...], str | None]]:
    claims = await queue.claim(worker_id="t", limit=50, lease_ms=60_000)
    return {c.endpoint_id: (c.secrets, c.target_problem) for c in claims}


async def test_secrets_are_sealed_in_the_database_and_open_for_signing(
    engine: AsyncEngine,
) -> None:
    keys = AtRestKeys([NEW])
    outbox = Outbox(engine, keys=keys)
    store = WebhookStore(engine, keys=keys)
    created = await store.create_endpoint(url="https://hooks.example.com/reg")
    rotated = await store.rotate_secret(created.endpoint.id)
    own = f"CANARY{uuid.uuid4().hex}"
    await message_in_status(outbox, MessageStatus.SENT, webhook_url=HOOK, webhook_secret=own)

    stored = await _stored_text(engine)
    for secret in (own, created.secret, rotated.secret):
        assert secret not in stored
    assert stored.count(SEALED_PREFIX) == 3  # current and previous, and the own one
    if engine.dialect.name == "sqlite":
        on_disk = _file_bytes(engine)  # the database file and its WAL, as written so far
        for secret in (own, created.secret, rotated.secret):
            assert secret.encode() not in on_disk

    signing = await _claim_all(WebhookQueue(engine, keys=keys))
    assert signing[None] == ((own,), None)
    assert signing[created.endpoint.id] == ((rotated.secret, created.secret), None)


async def test_a_secret_sealed_under_an_old_key_opens_after_a_new_key_is_added(
    engine: AsyncEngine,
) -> None:
    before = AtRestKeys([OLD])
    store = WebhookStore(engine, keys=before)
    created = await store.create_endpoint(url="https://hooks.example.com/reg")
    own = "own s3cret"
    await message_in_status(
        Outbox(engine, keys=before), MessageStatus.SENT, webhook_url=HOOK, webhook_secret=own
    )
    after = AtRestKeys([NEW, OLD])
    signing = await _claim_all(WebhookQueue(engine, keys=after))
    assert signing[created.endpoint.id] == ((created.secret,), None)
    assert signing[None] == ((own,), None)

    # Re-sealing moves everything to the new key; the old one can then be dropped.
    result = await WebhookStore(engine, keys=after).reseal_secrets(batch=1)
    assert (result.sealed, result.key_id, result.problems) == (2, after.current_id, ())
    assert (await WebhookStore(engine, keys=after).reseal_secrets()).sealed == 0
    assert f"{SEALED_PREFIX}{AtRestKeys([OLD]).current_id}" not in await _stored_text(engine)
    await _release_all(engine)
    signing = await _claim_all(WebhookQueue(engine, keys=AtRestKeys([NEW])))
    assert signing[created.endpoint.id] == ((created.secret,), None)
    assert signing[None] == ((own,), None)


async def test_without_the_key_a_delivery_fails_with_the_reason_not_unsigned(
    engine: AsyncEngine,
) -> None:
    store = WebhookStore(engine, keys=AtRestKeys([OLD]))
    created = await store.create_endpoint(url="https://hooks.example.com/reg")
    await message_in_status(Outbox(engine, keys=AtRestKeys([OLD])), MessageStatus.SENT)
    [claim] = await WebhookQueue(engine, keys=AtRestKeys([NEW])).claim(
        worker_id="t", limit=5, lease_ms=60_000
    )
    assert claim.endpoint_id == created.endpoint.id
    assert (claim.url, claim.secrets) == (None, ())
    assert claim.target_problem is not None
    assert "not among the configured secrets keys" in claim.target_problem


async def test_legacy_plaintext_secrets_keep_working_and_are_resealed(
    engine: AsyncEngine,
) -> None:
    # Rows as the previous version stored them: secrets in clear.
    plain = WebhookStore(engine)
    created = await plain.create_endpoint(url="https://hooks.example.com/reg")
    await message_in_status(
        Outbox(engine), MessageStatus.SENT, webhook_url=HOOK, webhook_secret="legacy"
    )
    keys = AtRestKeys([NEW])
    signing = await _claim_all(WebhookQueue(engine, keys=keys))
    assert signing[created.endpoint.id] == ((created.secret,), None)
    assert signing[None] == (("legacy",), None)

    result = await WebhookStore(engine, keys=keys).reseal_secrets()
    assert result.sealed == 2
    stored = await _stored_text(engine)
    assert created.secret not in stored
    assert "'legacy'" not in stored
    await _release_all(engine)
    signing = await _claim_all(WebhookQueue(engine, keys=keys))
    assert signing[None] == (("legacy",), None)


async def test_a_sealed_secret_moved_to_another_row_does_not_open(engine: AsyncEngine) -> None:
    keys = AtRestKeys([NEW])
    store = WebhookStore(engine, keys=keys)
    first = await store.create_endpoint(url="https://hooks.example.com/a")
    second = await store.create_endpoint(url="https://hooks.example.com/b")
    async with engine.begin() as connection:
        sealed = await connection.scalar(
            select(webhook_endpoints.c.secret).where(webhook_endpoints.c.id == first.endpoint.id)
        )
        await connection.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == second.endpoint.id)
            .values(secret=sealed)
        )
    await message_in_status(Outbox(engine, keys=keys), MessageStatus.SENT)
    signing = await _claim_all(WebhookQueue(engine, keys=keys))
    assert signing[first.endpoint.id] == ((first.secret,), None)
    assert signing[second.endpoint.id][0] == ()
    assert "does not decrypt" in str(signing[second.endpoint.id][1])


async def _release_all(engine: AsyncEngine) -> None:
    """Make every delivery claimable again (as if the leases had run out)."""
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE webhook_deliveries SET lease_token = NULL, lease_expires_at = NULL")
        )


async def test_payload_hashes_are_keyed_with_the_outbox_keys(engine: AsyncEngine) -> None:
    keys = AtRestKeys([NEW])
    outbox = Outbox(engine, keys=keys)
    await WebhookStore(engine, keys=keys).create_endpoint(url="https://hooks.example.com/reg")
    await message_in_status(outbox, MessageStatus.SENT, recipients=("Ada@Example.org",))
    [claim] = await WebhookQueue(engine, keys=keys).claim(worker_id="t", limit=5, lease_ms=60_000)
    payload = json.loads(claim.payload)
    assert payload["data"]["to_hash"] == [keys.address_hash("ada@example.org")]
    assert payload["data"]["to_hash"] != [address_hash("ada@example.org")]
    assert payload["data"]["to_hash"] != [AtRestKeys([OLD]).address_hash("ada@example.org")]
