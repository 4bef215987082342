"""``/v1/approval-rules`` over real HTTP on SQLite and PostgreSQL: CRUD in order, admin
only, bad input refused with nothing stored, and every change audited with the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from authmail_relay.db.audit_store import entry_from_row
from authmail_relay.db.schema import audit
from authmail_relay.oversight.chain import AuditEntry
from authmail_relay.oversight.rules import MAX_VALUES
from authmail_relay.vocabulary import AuditAction
from tests.api.conftest import Api, api_settings, running_api
from tests.api.test_api_keys_api import client_for, create_key
from tests.support.smtpd import SmtpServer

RULES = "/v1/approval-rules"


@pytest.fixture
async def db_api(db_url: str, smtp_sink: SmtpServer) -> AsyncIterator[Api]:
    async with running_api(api_settings(db_url, smtp_sink), smtp_sink) as running:
        yield running


async def _audit(api: Api) -> list[AuditEntry]:
    async with api.relay.outbox.engine.connect() as connection:
        rows = (await connection.execute(select(audit).order_by(audit.c.seq))).all()
    return [entry_from_row(row) for row in rows]


async def _create(api: Api, **body: Any) -> dict[str, Any]:
    answer = await api.client.post(RULES, json=body)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


async def test_crud_in_order_and_audited(db_api: Api) -> None:
    api = db_api
    admin = await create_key(api, scopes=["admin"])
    async with client_for(api, admin["key"]) as client:
        first = await client.post(
            RULES,
            json={"action": "hold", "conditions": {"tags": ["signup"]}, "description": "new"},
        )
        assert first.status_code == 201, first.text
    rule = first.json()
    assert rule["position"] == 1
    assert rule["conditions"] == {"tags": ["signup"]}
    second = await _create(
        api, action="approve", conditions={"recipient_domains": ["Example.COM"]}, position=1
    )
    assert second["conditions"] == {"recipient_domains": ["example.com"]}
    listed = (await api.client.get(RULES)).json()["data"]
    assert [(r["id"], r["position"]) for r in listed] == [(second["id"], 1), (rule["id"], 2)]
    assert (await api.client.get(f"{RULES}/{rule['id']}")).json() == {**rule, "position": 2}

    patched = await api.client.patch(f"{RULES}/{rule['id']}", json={"position": 1})
    assert patched.status_code == 200, patched.text
    assert patched.json()["position"] == 1
    assert (await api.client.delete(f"{RULES}/{second['id']}")).status_code == 204
    assert (await api.client.get(f"{RULES}/{second['id']}")).status_code == 404
    assert [r["position"] for r in (await api.client.get(RULES)).json()["data"]] == [1]

    entries = await _audit(api)
    rule_entries = [e for e in entries if e.action.startswith("rule.")]
    env_actor = entries[0].actor  # the env key made the admin key
    assert [(e.action, e.actor) for e in rule_entries] == [
        (AuditAction.RULE_CREATED.value, admin["id"]),
        (AuditAction.RULE_CREATED.value, env_actor),
        (AuditAction.RULE_UPDATED.value, env_actor),
        (AuditAction.RULE_DELETED.value, env_actor),
    ]
    assert env_actor != admin["id"]


async def test_only_admin_keys_manage_rules(db_api: Api) -> None:
    api = db_api
    sender = await create_key(api, scopes=["send", "read"])
    async with client_for(api, sender["key"]) as client:
        for method, body in (("GET", None), ("POST", {"action": "hold"})):
            refused = await client.request(method, RULES, json=body)
            assert refused.status_code == 403
            assert refused.json()["error_code"] == "forbidden"
    assert (await api.client.get(RULES)).json()["data"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "hold", "conditions": {"colour": ["red"]}}, "conditions.colour"),
        ({"action": "hold", "conditions": {"tags": "login"}}, "conditions.tags"),
        ({"action": "hold", "conditions": {"tags": ["x"] * (MAX_VALUES + 1)}}, "conditions.tags"),
        ({"action": "hold", "conditions": {"kinds": ["fax"]}}, "conditions.kinds"),
        ({"action": "hold", "conditions": {"tags": ["a\u0007"]}}, "conditions.tags"),
        ({"action": "hold", "description": "x" * 501}, "description"),
        ({"action": "hold", "description": "two\nlines"}, "description"),
        ({"action": "hold", "priority": 1}, "priority"),
        ({"action": "allow"}, "action"),
        ({"action": "hold", "position": 0}, "position"),
    ],
)
async def test_bad_rules_are_refused_and_nothing_is_stored(
    db_api: Api, body: dict[str, Any], field: str
) -> None:
    api = db_api
    answer = await api.client.post(RULES, json=body)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["error_code"] == "validation_error"
    assert any(error["field"].startswith(field) for error in problem["errors"]), problem
    assert (await api.client.get(RULES)).json()["data"] == []
    assert [e for e in await _audit(api) if e.action.startswith("rule.")] == []


async def test_patch_refuses_bad_input_and_unknown_ids(db_api: Api) -> None:
    api = db_api
    rule = await _create(api, action="hold", conditions={})  # empty: matches every send
    for body in ({"conditions": {"senders": []}}, {"enabled": True}, {"description": "\x00"}):
        answer = await api.client.patch(f"{RULES}/{rule['id']}", json=body)
        assert answer.status_code == 422, (body, answer.text)
    assert (await api.client.get(f"{RULES}/{rule['id']}")).json() == rule
    for method in ("GET", "PATCH", "DELETE"):
        for rule_id in ("apr_01ARZ3NDEKTSV4RRFFQ69G5FAV", "nonsense", "x" * 500):
            answer = await api.client.request(
                method, f"{RULES}/{rule_id}", json={} if method == "PATCH" else None
            )
            assert answer.status_code == 404, (method, rule_id, answer.text)
            assert answer.json()["error_code"] == "not_found"
