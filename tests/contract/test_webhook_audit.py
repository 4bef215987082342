"""Webhook endpoint changes land in the audit trail, in their own transaction, with the
URL's host only and never a secret."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from authmail_relay.db.audit_reads import AuditFilter, list_entries
from authmail_relay.db.audit_verify import verify_trail
from authmail_relay.db.outbox import Outbox
from authmail_relay.db.schema import audit
from authmail_relay.db.webhook_store import WebhookStore
from authmail_relay.exceptions import NotFoundError
from authmail_relay.vocabulary import AuditAction


async def test_every_endpoint_change_is_audited(outbox: Outbox) -> None:
    store = WebhookStore(outbox.engine)
    created = await store.create_endpoint(
        url="https://user:pw@Hooks.Example.com:8443/in/tok3n-path?sig=s3cret",
        event_types=["message.sent"],
        actor="key0123456789",
    )
    endpoint_id = created.endpoint.id
    await store.update_endpoint(
        endpoint_id, url="https://other.example.net/x", enabled=False, actor="key0123456789"
    )
    rotated = await store.rotate_secret(endpoint_id, actor="key0123456789")
    await store.delete_endpoint(endpoint_id)

    entries = await list_entries(outbox.engine, AuditFilter(subject=endpoint_id), oldest_first=True)
    assert [e.action for e in entries] == [
        AuditAction.WEBHOOK_CREATED.value,
        AuditAction.WEBHOOK_UPDATED.value,
        AuditAction.WEBHOOK_ROTATED.value,
        AuditAction.WEBHOOK_DELETED.value,
    ]
    assert [e.actor for e in entries] == ["key0123456789"] * 3 + ["cli"]
    assert entries[0].data == {
        "host": "hooks.example.com",
        "enabled": True,
        "event_types": ["message.sent"],
    }
    assert entries[1].data == {
        "changed": ["disabled_reason", "enabled", "url"],
        "host": "other.example.net",
        "enabled": False,
    }
    assert set(entries[2].data) == {"previous_secret_valid_until"}
    assert (await verify_trail(outbox.engine, {})).ok

    async with outbox.engine.connect() as connection:
        rows = (await connection.execute(select(audit))).all()
    stored = json.dumps([list(map(str, row)) for row in rows])
    for secret in (created.secret, rotated.secret, "tok3n", "s3cret", "user:pw"):
        assert secret not in stored


async def test_a_failed_change_writes_no_entry(outbox: Outbox) -> None:
    store = WebhookStore(outbox.engine)
    with pytest.raises(NotFoundError):
        await store.delete_endpoint("whe_missing")
    with pytest.raises(NotFoundError):
        await store.rotate_secret("whe_missing")
    assert await list_entries(outbox.engine) == []
