"""The v1 resource API: create, batch, read, list with filters and cursors, cancel, consume."""

from __future__ import annotations

import pytest

from authmail_relay.smtp.circuit_breaker import Health
from authmail_relay.vocabulary import ErrorCode
from tests.api.conftest import Api

pytestmark = pytest.mark.slow
MAIL = {"to": "ada@example.org", "subject": "Hello", "html_body": "<p>Hi</p>"}


async def test_create_returns_202_and_the_message_is_sent(api: Api) -> None:
    """202 {id, status, message_id, created_at}; then status, events and attempts are visible."""
    response = await api.client.post(
        "/v1/messages", json={**MAIL, "tags": ["welcome"], "metadata": {"user": 7}}
    )
    assert response.status_code == 202, response.text
    created = response.json()
    assert set(created) == {"id", "status", "message_id", "created_at"}
    assert created["status"] == "queued"
    assert created["created_at"].endswith("Z")
    await api.relay.wait_for_outcome(created["id"], 5)
    shown = (await api.client.get(f"/v1/messages/{created['id']}")).json()
    assert shown["status"] == "sent"
    assert shown["tags"] == ["welcome"]
    assert shown["metadata"] == {"user": 7}
    assert [event["type"] for event in shown["events"]] == [
        "message.queued",
        "message.sending",
        "message.sent",
    ]
    (attempt,) = shown["attempts"]
    assert attempt["smtp_code"] == 250
    assert "html_body" not in shown
    assert "raw" not in shown


async def test_auth_kind_through_v1(api: Api) -> None:
    """kind=otp renders the built-in template; the code never shows up in the API view."""
    response = await api.client.post(
        "/v1/messages", json={"kind": "otp", "to": "ada@example.org", "code": "777111"}
    )
    assert response.status_code == 202, response.text
    await api.relay.wait_for_outcome(response.json()["id"], 5)
    shown = await api.client.get(f"/v1/messages/{response.json()['id']}")
    assert "777111" not in shown.text
    assert (
        "777111" in api.sink.messages[0].parsed().get_body(preferencelist=("plain",)).get_content()
    )


async def test_unknown_fields_are_rejected_on_v1(api: Api) -> None:
    """v1 is strict: a misspelt field is an error, not silently ignored."""
    response = await api.client.post("/v1/messages", json={**MAIL, "html": "<p>typo</p>"})
    assert response.status_code == 422


async def test_batch_reports_each_item(api: Api) -> None:
    """Valid items are stored, invalid ones explained, in order."""
    items = [
        MAIL,
        {**MAIL, "to": "bad address"},
        {"kind": "otp", "to": "b@example.org", "code": "1"},
        {"to": 5},
    ]
    response = await api.client.post("/v1/messages/batch", json={"messages": items})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == [202, 422, 202, 422]
    assert results[1]["problem"]["error_code"] == "invalid_address"
    assert results[0]["message"]["id"].startswith("msg_")
    assert len(await api.relay.list_messages()) == 2


async def test_batch_size_is_bounded(api: Api) -> None:
    """More than 100 items is refused as a whole."""
    response = await api.client.post("/v1/messages/batch", json={"messages": [MAIL] * 101})
    assert response.status_code == 422


async def test_list_filters_and_cursor(api_factory) -> None:  # type: ignore[no-untyped-def]
    """Filter by status, tag and recipient; page with next_cursor."""
    async with api_factory(run_worker=False) as api:
        ids = []
        for n in range(5):
            body = {**MAIL, "to": f"user{n}@example.org", "tags": ["even" if n % 2 == 0 else "odd"]}
            ids.append((await api.client.post("/v1/messages", json=body)).json()["id"])
        page1 = (await api.client.get("/v1/messages", params={"limit": 2})).json()
        assert [m["id"] for m in page1["data"]] == ids[::-1][:2]
        page2 = (
            await api.client.get(
                "/v1/messages", params={"limit": 2, "cursor": page1["next_cursor"]}
            )
        ).json()
        assert [m["id"] for m in page2["data"]] == ids[::-1][2:4]
        even = (await api.client.get("/v1/messages", params={"tag": "even"})).json()["data"]
        assert {m["id"] for m in even} == {ids[0], ids[2], ids[4]}
        to = (await api.client.get("/v1/messages", params={"to": "USER3@example.org"})).json()[
            "data"
        ]
        assert [m["id"] for m in to] == [ids[3]]
        queued = (await api.client.get("/v1/messages", params={"status": "queued"})).json()["data"]
        assert len(queued) == 5
        bad = await api.client.get("/v1/messages", params={"cursor": "not-a-cursor"})
        assert bad.status_code == 422


async def test_cancel_only_while_waiting(api_factory) -> None:  # type: ignore[no-untyped-def]
    """A queued message can be cancelled once; it is then never sent."""
    async with api_factory(run_worker=False) as api:
        message_id = (await api.client.post("/v1/messages", json=MAIL)).json()["id"]
        cancelled = await api.client.post(f"/v1/messages/{message_id}/cancel")
        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "cancelled"
        again = await api.client.post(f"/v1/messages/{message_id}/cancel")
        assert again.status_code == 409
        assert again.json()["error_code"] == "not_cancellable"
        assert (
            await api.client.post("/v1/messages/msg_01ZZZZZZZZZZZZZZZZZZZZZZZZ/cancel")
        ).status_code == 404
    assert not api.sink.messages


async def test_consume_only_after_sent(api: Api) -> None:
    """consume: sent → consumed (idempotent); before it is sent it is a 409."""
    api.sink.handler.delay_at("mail", 1.0, times=1)
    message_id = (await api.client.post("/v1/messages", json=MAIL)).json()["id"]
    early = await api.client.post(f"/v1/messages/{message_id}/consume")
    assert early.status_code == 409
    assert early.json()["error_code"] == "not_consumable"
    await api.relay.wait_for_outcome(message_id, 5)
    consumed = await api.client.post(f"/v1/messages/{message_id}/consume")
    assert consumed.status_code == 200
    assert consumed.json()["status"] == "consumed"
    assert (await api.client.post(f"/v1/messages/{message_id}/consume")).status_code == 200
    events = (await api.client.get(f"/v1/messages/{message_id}")).json()["events"]
    assert [e["type"] for e in events].count("message.consumed") == 1


async def test_unknown_message_is_404(api: Api) -> None:
    """Problem+json 404 with the stable code."""
    response = await api.client.get("/v1/messages/msg_01ZZZZZZZZZZZZZZZZZZZZZZZZ")
    assert response.status_code == 404
    assert response.json()["error_code"] == "not_found"


async def test_health_and_readiness(api: Api) -> None:
    """/health needs no I/O or key; /ready checks the database, schema, worker and
    webhook dispatcher."""
    async with api.anonymous() as client:
        assert (await client.get("/health")).json() == {"status": "ok"}
        ready = await client.get("/ready")
    assert ready.status_code == 200
    upstream = f"upstream {api.settings.require_smtp().upstream}"
    assert ready.json() == {
        "status": "ready",
        "checks": {
            "database": "ok",
            "migrations": "ok",
            "worker": "ok",
            "webhooks": "ok",
            upstream: "ok",
        },
    }


async def test_readiness_shows_an_open_breaker_without_failing(api: Api) -> None:
    """An upstream whose breaker is open is listed, but the relay stays ready: it still
    accepts and stores mail durably."""
    worker = api.server.config.app.state.worker
    breaker = worker.upstreams.all[0].breaker
    breaker.record(Health.FATAL, 0, ErrorCode.SMTP_AUTH_FAILED)
    breaker.opened_at = 10**15  # far in the future of the monotonic clock: stays open
    async with api.anonymous() as client:
        ready = await client.get("/ready")
    assert ready.status_code == 200
    checks = ready.json()["checks"]
    assert checks[f"upstream {api.settings.require_smtp().upstream}"] == "open"


async def test_docs_can_be_switched_off(api_factory) -> None:  # type: ignore[no-untyped-def]
    """DOCS_ENABLED=false hides /docs and /openapi.json."""
    async with api_factory(docs_enabled=False) as api, api.anonymous() as client:
        assert (await client.get("/docs")).status_code == 404
        assert (await client.get("/openapi.json")).status_code == 404


async def test_batch_dry_run_stores_nothing(api: Api) -> None:
    """X-Dry-Run on a batch validates every item and stores none."""
    items = [MAIL, {**MAIL, "to": "bad address"}]
    response = await api.client.post(
        "/v1/messages/batch", json={"messages": items}, headers={"X-Dry-Run": "yes"}
    )
    assert response.status_code == 200
    assert [r["status"] for r in response.json()["results"]] == [200, 422]
    assert await api.relay.list_messages() == []
    bad = await api.client.post(
        "/v1/messages/batch", json={"messages": items}, headers={"X-Dry-Run": "perhaps"}
    )
    assert bad.status_code == 400
