"""Stored keys' oversight modes, separation of duties and the audit of key changes, on
SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update

from authmail_relay.db.api_keys_store import ApiKeyStore
from authmail_relay.db.audit_store import entry_from_row
from authmail_relay.db.outbox import Outbox
from authmail_relay.db.schema import api_keys, audit
from authmail_relay.exceptions import (
    ConflictError,
    ConflictingScopesError,
    PermissionDeniedError,
    ValidationError,
)
from authmail_relay.oversight.chain import AuditEntry, verify
from authmail_relay.vocabulary import AuditAction, OversightMode

ADMIN = "adminkey0001"


async def _audit(outbox: Outbox) -> list[AuditEntry]:
    async with outbox.engine.connect() as connection:
        rows = (await connection.execute(select(audit).order_by(audit.c.seq))).all()
    return [entry_from_row(row) for row in rows]


async def test_key_changes_are_audited_without_secrets(outbox: Outbox) -> None:
    store = ApiKeyStore(outbox.engine)
    created = await store.create(
        name="app", scopes=["send", "read"], oversight="monitored", actor=ADMIN
    )
    key = created.key
    assert key.oversight is OversightMode.MONITORED
    rotated = await store.rotate(key.id, actor="cli")
    assert rotated.key.oversight is OversightMode.MONITORED  # the mode survives rotation
    await store.revoke(key.id, actor=ADMIN)
    await store.revoke(key.id, actor=ADMIN)  # already revoked: nothing changes, no entry
    entries = await _audit(outbox)
    assert [(e.action, e.actor, e.subject) for e in entries] == [
        (AuditAction.KEY_CREATED.value, ADMIN, key.id),
        (AuditAction.KEY_ROTATED.value, "cli", key.id),
        (AuditAction.KEY_REVOKED.value, ADMIN, key.id),
    ]
    assert entries[0].data == {"name": "app", "scopes": ["read", "send"], "oversight": "monitored"}
    assert entries[1].data == {"new_key_id": rotated.key.id}
    assert verify(entries).ok
    text = json.dumps([e.as_json() for e in entries])
    for token in (created.token, rotated.token):
        assert token.rsplit("_", 1)[1] not in text


async def test_set_oversight_records_from_to_and_loosened(outbox: Outbox) -> None:
    store = ApiKeyStore(outbox.engine)
    key = (await store.create(name="app", scopes=["send"], actor=ADMIN)).key
    assert key.oversight is OversightMode.AUTONOMOUS
    gated = await store.set_oversight(key.id, "gated", actor=ADMIN)
    assert gated.oversight is OversightMode.GATED
    assert (await store.get(key.id)).oversight is OversightMode.GATED
    again = await store.set_oversight(key.id, OversightMode.GATED, actor=ADMIN)
    assert again == gated
    await store.set_oversight(key.id, "monitored", actor="cli")
    changes = [e for e in await _audit(outbox) if e.action == AuditAction.KEY_MODE_CHANGED.value]
    assert [(e.actor, dict(e.data)) for e in changes] == [
        (ADMIN, {"from": "autonomous", "to": "gated", "loosened": False}),
        ("cli", {"from": "gated", "to": "monitored", "loosened": True}),
    ]


async def test_refused_mode_changes_write_nothing(outbox: Outbox) -> None:
    store = ApiKeyStore(outbox.engine)
    key = (await store.create(name="app", scopes=["admin"], actor=ADMIN)).key
    before = await _audit(outbox)
    with pytest.raises(PermissionDeniedError) as own:
        await store.set_oversight(key.id, "autonomous", actor=key.id)
    assert own.value.error_code == "self_mode_change"
    with pytest.raises(ValidationError) as unknown:
        await store.set_oversight(key.id, "lenient", actor=ADMIN)
    assert unknown.value.field == "oversight"
    await store.revoke(key.id, actor=ADMIN)
    with pytest.raises(ConflictError) as revoked:
        await store.set_oversight(key.id, "gated", actor=ADMIN)
    assert revoked.value.error_code == "key_revoked"
    assert (await store.get(key.id)).oversight is OversightMode.AUTONOMOUS
    after = await _audit(outbox)
    assert [e.action for e in after[len(before) :]] == [AuditAction.KEY_REVOKED.value]


async def test_send_and_approve_are_never_one_key(outbox: Outbox) -> None:
    store = ApiKeyStore(outbox.engine)
    with pytest.raises(ConflictingScopesError) as refused:
        await store.create(name="both", scopes=["send", "approve"], actor=ADMIN)
    assert refused.value.field == "scopes"
    assert refused.value.error_code == "conflicting_scopes"
    assert await store.list() == []
    assert await _audit(outbox) == []
    approver = (await store.create(name="approver", scopes=["approve", "read"], actor=ADMIN)).key
    # A key stored before the rule existed, holding both: rotation refuses to copy it.
    async with outbox.engine.begin() as connection:
        await connection.execute(
            update(api_keys)
            .where(api_keys.c.id == approver.id)
            .values(scopes=json.dumps(["approve", "send"]))
        )
    with pytest.raises(ConflictingScopesError):
        await store.rotate(approver.id, actor=ADMIN)
    assert [k.id for k in await store.list()] == [approver.id]
    assert [e.action for e in await _audit(outbox)] == [AuditAction.KEY_CREATED.value]


async def test_an_unknown_mode_at_creation_is_refused(outbox: Outbox) -> None:
    store = ApiKeyStore(outbox.engine)
    with pytest.raises(ValidationError) as refused:
        await store.create(name="k", scopes=["send"], oversight="trusting", actor=ADMIN)
    assert refused.value.field == "oversight"
    assert await store.list() == []
