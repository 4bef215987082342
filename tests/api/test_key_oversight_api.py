"""Oversight modes and separation of duties on ``/v1/keys`` over real HTTP, on SQLite and
PostgreSQL: the mode at creation and by PATCH (audited), no self mode change, and no key
holding both ``send`` and ``approve``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, update

from authmail_relay.db.audit_store import entry_from_row
from authmail_relay.db.schema import api_keys, audit
from authmail_relay.oversight.chain import AuditEntry
from authmail_relay.vocabulary import AuditAction, OversightMode
from tests.api.conftest import Api, api_settings, running_api
from tests.api.test_api_keys_api import client_for, create_key
from tests.support.smtpd import SmtpServer


@pytest.fixture
async def db_api(db_url: str, smtp_sink: SmtpServer) -> AsyncIterator[Api]:
    settings = api_settings(db_url, smtp_sink, oversight_default=OversightMode.GATED)
    async with running_api(settings, smtp_sink) as running:
        yield running


async def _audit(api: Api) -> list[AuditEntry]:
    async with api.relay.outbox.engine.connect() as connection:
        rows = (await connection.execute(select(audit).order_by(audit.c.seq))).all()
    return [entry_from_row(row) for row in rows]


async def test_mode_at_creation_and_by_patch_is_audited(db_api: Api) -> None:
    api = db_api
    defaulted = await create_key(api, scopes=["send"])
    assert defaulted["oversight"] == "gated"  # OVERSIGHT_DEFAULT
    chosen = await create_key(api, scopes=["send"], oversight="monitored")
    assert chosen["oversight"] == "monitored"
    admin = await create_key(api, scopes=["admin"], oversight="autonomous")
    async with client_for(api, admin["key"]) as client:
        loosened = await client.patch(
            f"/v1/keys/{defaulted['id']}", json={"oversight": "autonomous"}
        )
        assert loosened.status_code == 200, loosened.text
        assert loosened.json()["oversight"] == "autonomous"
        listed = {k["id"]: k["oversight"] for k in (await client.get("/v1/keys")).json()["data"]}
    assert listed[defaulted["id"]] == "autonomous"
    (change,) = [e for e in await _audit(api) if e.action == AuditAction.KEY_MODE_CHANGED.value]
    assert change.actor == admin["id"]
    assert change.subject == defaulted["id"]
    assert dict(change.data) == {"from": "gated", "to": "autonomous", "loosened": True}
    created = [e for e in await _audit(api) if e.action == AuditAction.KEY_CREATED.value]
    assert [e.data["oversight"] for e in created] == ["gated", "monitored", "autonomous"]
    for entry in created:
        for key in (defaulted, chosen, admin):
            assert key["key"].rsplit("_", 1)[1] not in json.dumps(entry.as_json())


async def test_refused_mode_changes(db_api: Api) -> None:
    api = db_api
    admin = await create_key(api, scopes=["admin"], oversight="gated")
    sender = await create_key(api, scopes=["send", "read"])
    async with client_for(api, admin["key"]) as client:
        own = await client.patch(f"/v1/keys/{admin['id']}", json={"oversight": "autonomous"})
    assert own.status_code == 403
    assert own.json()["error_code"] == "self_mode_change"
    async with client_for(api, sender["key"]) as client:
        scope = await client.patch(f"/v1/keys/{sender['id']}", json={"oversight": "autonomous"})
    assert scope.status_code == 403
    assert scope.json()["error_code"] == "forbidden"
    for body in ({"oversight": "lenient"}, {"oversight": None}, {}, {"scopes": ["admin"]}):
        bad = await api.client.patch(f"/v1/keys/{sender['id']}", json=body)
        assert bad.status_code == 422, (body, bad.text)
        assert bad.json()["error_code"] == "validation_error"
    unknown = await api.client.post(
        "/v1/keys", json={"name": "x", "scopes": ["read"], "oversight": "x"}
    )
    assert unknown.status_code == 422
    missing = await api.client.patch("/v1/keys/aaaaaaaaaaaa", json={"oversight": "gated"})
    assert missing.status_code == 404
    keys = {k["id"]: k["oversight"] for k in (await api.client.get("/v1/keys")).json()["data"]}
    assert keys == {admin["id"]: "gated", sender["id"]: "gated"}
    assert not [e for e in await _audit(api) if e.action == AuditAction.KEY_MODE_CHANGED.value]


async def test_send_and_approve_are_refused_at_create_and_rotate(db_api: Api) -> None:
    api = db_api
    both = await api.client.post("/v1/keys", json={"name": "x", "scopes": ["send", "approve"]})
    assert both.status_code == 422
    problem = both.json()
    assert problem["error_code"] == "conflicting_scopes"
    assert problem["errors"] == [{"field": "scopes", "message": problem["detail"]}]
    approver = await create_key(api, scopes=["approve"])
    # A key stored before the rule, holding both: rotation would copy them, so it refuses.
    async with api.relay.outbox.engine.begin() as connection:
        await connection.execute(
            update(api_keys)
            .where(api_keys.c.id == approver["id"])
            .values(scopes=json.dumps(["approve", "send"]))
        )
    rotated = await api.client.post(f"/v1/keys/{approver['id']}/rotate")
    assert rotated.status_code == 422
    assert rotated.json()["error_code"] == "conflicting_scopes"
    assert [k["id"] for k in (await api.client.get("/v1/keys")).json()["data"]] == [approver["id"]]
