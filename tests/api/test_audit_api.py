"""``/v1/audit`` over real HTTP: listing, filters, paging, scopes, verification, and the
``trail`` of ``GET /v1/messages/{id}``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import text

from authmail_relay.client import (
    AsyncAuthmailClient,
    AuditPage,
    AuditVerification,
    AuthmailClient,
)
from authmail_relay.db import create_engine
from authmail_relay.exceptions import ValidationError
from authmail_relay.vocabulary import AuditAction
from tests.api.conftest import Api
from tests.api.test_api_keys_api import client_for, create_key

Factory = Callable[..., AbstractAsyncContextManager[Api]]
MAIL = {"kind": "otp", "to": "ada@example.org", "code": "123456"}


async def _queue(api: Api, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        answer = await api.client.post("/v1/messages", json=MAIL)
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["id"])
    return ids


async def _audit(api: Api, **params: Any) -> dict[str, Any]:
    answer = await api.client.get("/v1/audit", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_listing_filters_and_pages(api: Api) -> None:
    first, second = await _queue(api, 2)
    everything = await _audit(api, action="message.accepted")
    assert [e["subject"] for e in everything["data"]][:2] == [second, first]
    entry = everything["data"][0]
    assert set(entry) == {
        "seq",
        "at",
        "at_ms",
        "actor",
        "action",
        "subject",
        "data",
        "prev_hash",
        "hash",
    }
    assert entry["data"]["kind"] == "otp"
    mine = await _audit(api, message=first)
    assert {e["subject"] for e in mine["data"]} == {first}
    assert await _audit(api, key="nobody") == {"data": [], "next_cursor": None}
    assert (await _audit(api, key=entry["actor"], message=first))["data"]
    # One entry per page, newest first, by cursor, until the chain's start.
    seen: list[int] = []
    page = await _audit(api, limit=1)
    while True:
        seen += [e["seq"] for e in page["data"]]
        if page["next_cursor"] is None:
            break
        page = await _audit(api, limit=1, cursor=page["next_cursor"])
    assert seen == sorted(seen, reverse=True)
    assert seen[-1] == 1
    assert len(seen) == len(set(seen))
    later = await _audit(api, since="2999-01-01T00:00:00Z")
    assert later["data"] == []
    earlier = await _audit(api, until="2000-01-01T00:00:00Z")
    assert earlier["data"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"action": "message.bogus"},
        {"cursor": "abc"},
        {"cursor": "0"},
        {"limit": "501"},
        {"limit": "0"},
        {"since": "yesterday"},
        {"message": "x" * 201},
        {"key": ""},
    ],
)
async def test_bad_filters_are_422_problems(api: Api, params: dict[str, str]) -> None:
    answer = await api.client.get("/v1/audit", params=params)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["error_code"] == "validation_error"


async def test_audit_or_admin_scope_reads_the_trail(api: Api) -> None:
    await _queue(api, 1)
    for scopes, allowed in ((["audit"], True), (["admin"], True), (["read", "send"], False)):
        key = (await create_key(api, scopes=scopes))["key"]
        async with client_for(api, key) as client:
            for path in ("/v1/audit", "/v1/audit/verify"):
                answer = await client.get(path)
                assert (answer.status_code == 200) is allowed, (scopes, path, answer.text)
                if not allowed:
                    assert answer.status_code == 403
                    assert answer.json()["error_code"] == "forbidden"


async def test_the_message_shows_its_trail(api: Api) -> None:
    [message_id] = await _queue(api, 1)
    details = (await api.client.get(f"/v1/messages/{message_id}")).json()
    [accepted, *_] = details["trail"]
    assert accepted["action"] == "message.accepted"
    assert set(accepted) == {"seq", "at", "actor", "action", "data"}
    listing = (await api.client.get("/v1/messages")).json()
    assert all(m["trail"] is None for m in listing["data"])


async def test_webhook_changes_name_the_calling_key(api_factory: Factory) -> None:
    async with api_factory(webhook_allow_hosts=("127.0.0.1",)) as api:
        admin = await create_key(api, scopes=["admin"])
        async with client_for(api, admin["key"]) as client:
            created = await client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/h?t=x1"})
            assert created.status_code == 201, created.text
            endpoint_id = created.json()["id"]
            assert (await client.post(f"/v1/webhooks/{endpoint_id}/rotate")).status_code == 200
            assert (await client.delete(f"/v1/webhooks/{endpoint_id}")).status_code == 204
        entries = (await _audit(api, message=endpoint_id))["data"]
        assert [e["action"] for e in entries] == [
            "webhook.deleted",
            "webhook.rotated",
            "webhook.created",
        ]
        assert {e["actor"] for e in entries} == {admin["id"]}
        assert entries[-1]["data"]["host"] == "127.0.0.1"
        assert "x1" not in str(entries)


async def test_verify_reports_ok_then_the_first_broken_entry(api: Api) -> None:
    await _queue(api, 3)
    intact = (await api.client.get("/v1/audit/verify")).json()
    assert intact["ok"] is True
    assert intact["broken_at"] is None
    assert intact["entries"] == intact["head_seq"] >= 3
    engine = create_engine(api.settings.database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP TRIGGER audit_no_update"))
            await connection.execute(text("UPDATE audit SET actor = 'forged' WHERE seq = 2"))
    finally:
        await engine.dispose()
    broken = (await api.client.get("/v1/audit/verify")).json()
    assert broken["ok"] is False
    assert broken["broken_at"] == 2
    assert broken["entries"] == 1
    assert "hash" in broken["reason"]


async def test_both_sdk_clients_list_and_verify(api: Api) -> None:
    [message_id] = await _queue(api, 1)
    auditor = (await create_key(api, scopes=["audit"]))["key"]
    async with AsyncAuthmailClient(api.url, auditor) as client:
        page = await client.list_audit(message=message_id, action=AuditAction.ACCEPTED)
        verified = await client.verify_audit()
        with pytest.raises(ValidationError):
            await client.list_audit(limit=501)
    [entry] = page.entries
    assert entry.subject == message_id
    assert entry.action == "message.accepted"
    assert entry.at.tzinfo is not None
    assert page.next_cursor is None
    assert verified.ok
    assert verified.entries >= 1

    def blocking() -> tuple[AuditPage, AuditVerification]:
        with AuthmailClient(api.url, auditor) as sync_client:
            since = datetime.now(timezone.utc) - timedelta(hours=1)
            return sync_client.list_audit(since=since, limit=1), sync_client.verify_audit()

    sync_page, sync_verified = await asyncio.to_thread(blocking)
    assert len(sync_page.entries) == 1
    newest = sync_page.entries[0].seq
    assert sync_page.next_cursor == (str(newest) if newest > 1 else None)
    assert sync_verified == verified
