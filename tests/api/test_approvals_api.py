"""Held sends over HTTP: gated keys, approvers, rejection, expiry, rules, the compatible
routes, and attacks on the approval routes. A real server, a real SMTP sink, SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, update

from authmail_relay.db.api_keys_store import ApiKeyStore
from authmail_relay.db.schema import api_keys, approval_rules
from authmail_relay.vocabulary import OversightMode
from tests.api.conftest import Api, api_settings, running_api
from tests.support.smtpd import SmtpServer

pytestmark = pytest.mark.slow
MAIL = {"to": "ada@example.org", "subject": "Hello", "text_body": "Hi"}


@contextlib.asynccontextmanager
async def _service(db_url: str, sink: SmtpServer, **changes: Any) -> AsyncIterator[Api]:
    async with running_api(api_settings(db_url, sink, **changes), sink) as api:
        yield api


@pytest.fixture
def service(db_url: str, smtp_sink: SmtpServer) -> Callable[..., Any]:
    return lambda **changes: _service(db_url, smtp_sink, **changes)


async def _key(
    api: Api, scopes: list[str], mode: OversightMode = OversightMode.AUTONOMOUS
) -> tuple[str, httpx.AsyncClient]:
    """A stored key (its id and a client using it) in *mode*."""
    created = await ApiKeyStore(api.relay.outbox.engine).create(
        name=f"k-{'-'.join(scopes)}", scopes=scopes, oversight=mode, actor="cli"
    )
    headers = {"Authorization": f"Bearer {created.token}"}
    return created.key.id, api.anonymous(headers=headers)


async def _held(client: httpx.AsyncClient, **extra: Any) -> str:
    response = await client.post("/v1/messages", json={**MAIL, **extra})
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "held"
    return str(response.json()["id"])


async def test_a_gated_send_waits_for_another_key_and_is_then_delivered(
    service: Callable[..., Any],
) -> None:
    async with service() as api:
        sender_id, sender = await _key(api, ["send", "read"], OversightMode.GATED)
        approver_id, approver = await _key(api, ["approve", "read"])
        async with sender, approver:
            message_id = await _held(sender)
            await asyncio.sleep(0.3)
            assert api.sink.messages == []
            listed = (await approver.get("/v1/approvals")).json()
            assert [m["id"] for m in listed["data"]] == [message_id]
            response = await approver.post(
                f"/v1/messages/{message_id}/approve", json={"reason": "expected mail"}
            )
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "queued"
            assert response.json()["decided_by"] == approver_id
            record = await api.relay.wait_for_outcome(message_id, 5)
            assert record.status.value == "sent"
            assert len(api.sink.messages) == 1
            shown = (await sender.get(f"/v1/messages/{message_id}")).json()
        assert [e["type"] for e in shown["events"]] == [
            "message.held",
            "message.approved",
            "message.sending",
            "message.sent",
        ]
        assert shown["decision_reason"] == "expected mail"
        assert sender_id != approver_id


async def test_nobody_approves_their_own_send(service: Callable[..., Any]) -> None:
    async with service(oversight_default=OversightMode.GATED) as api:
        # The env key has every scope, and still cannot approve what it sent.
        own = await _held(api.client)
        response = await api.client.post(f"/v1/messages/{own}/approve")
        assert response.status_code == 403
        assert response.json()["error_code"] == "self_approval"
        # No key may be made with send and approve any more; one made before that rule
        # (its scopes written directly here) is still held back by the core.
        both_id, both = await _key(api, ["send"], OversightMode.GATED)
        async with api.relay.outbox.engine.begin() as connection:
            await connection.execute(
                update(api_keys)
                .where(api_keys.c.id == both_id)
                .values(scopes=json.dumps(["send", "approve"]))
            )
        async with both:
            mine = await _held(both)
            response = await both.post(f"/v1/messages/{mine}/reject", json={"reason": "no"})
            assert response.status_code == 403
            assert response.json()["error_code"] == "self_approval"
            # Each may decide on the other's.
            assert (await both.post(f"/v1/messages/{own}/approve")).status_code == 200
            assert (await api.client.post(f"/v1/messages/{mine}/approve")).status_code == 200


async def test_rejection_needs_a_bounded_printable_reason(service: Callable[..., Any]) -> None:
    async with service() as api:
        _, sender = await _key(api, ["send"], OversightMode.GATED)
        async with sender:
            message_id = await _held(sender)
        path = f"/v1/messages/{message_id}/reject"
        for body in (None, {}, {"reason": ""}, {"reason": "  "}):
            response = await api.client.post(path, json=body)
            assert response.status_code == 422, body
            assert response.json()["error_code"] == "reason_required"
        for reason in ("x" * 501, "two\nlines", "esc\x1b[31m"):
            response = await api.client.post(path, json={"reason": reason})
            assert response.status_code == 422
            assert response.json()["error_code"] == "validation_error"
            assert reason not in response.text
        response = await api.client.post(path, json={"reason": "not ours"})
        assert response.status_code == 200
        assert response.json()["status"] == "rejected"
        again = await api.client.post(f"/v1/messages/{message_id}/approve")
        assert again.status_code == 409
        assert again.json()["error_code"] == "not_held"
        await asyncio.sleep(0.2)
        assert api.sink.messages == []


async def test_a_held_message_that_expires_is_never_sent(service: Callable[..., Any]) -> None:
    async with service(oversight_sweep_seconds=0.1) as api:
        _, sender = await _key(api, ["send"], OversightMode.GATED)
        async with sender:
            swept = await _held(sender, expires_in=1)
            await asyncio.sleep(1.5)
        shown = (await api.client.get(f"/v1/messages/{swept}")).json()
        assert shown["status"] == "expired"
        assert shown["events"][-1]["type"] == "message.expired"
        response = await api.client.post(f"/v1/messages/{swept}/approve")
        assert response.status_code == 409
        assert response.json()["error_code"] == "not_held"
        assert api.sink.messages == []


async def test_approving_after_the_expiry_is_refused(service: Callable[..., Any]) -> None:
    async with service(oversight_sweep_seconds=3600) as api:
        _, sender = await _key(api, ["send"], OversightMode.GATED)
        async with sender:
            message_id = await _held(sender, expires_in=1)
        await asyncio.sleep(1.2)
        response = await api.client.post(f"/v1/messages/{message_id}/approve")
        assert response.status_code == 409
        assert response.json()["error_code"] == "message_expired"
        assert (await api.client.get(f"/v1/messages/{message_id}")).json()["status"] == "expired"
        assert api.sink.messages == []


async def test_an_approve_rule_delivers_with_the_rule_as_approver(
    service: Callable[..., Any],
) -> None:
    async with service() as api:
        async with api.relay.outbox.engine.begin() as connection:
            await connection.execute(
                insert(approval_rules).values(
                    id="apr_01TESTRULE",
                    position=1,
                    action="approve",
                    conditions=json.dumps({"kinds": ["otp"]}),
                    created_at=0,
                    updated_at=0,
                )
            )
        _, sender = await _key(api, ["send"], OversightMode.GATED)
        async with sender:
            response = await sender.post(
                "/v1/messages", json={"kind": "otp", "to": "ada@example.org", "code": "424242"}
            )
        assert response.status_code == 202
        assert response.json()["status"] == "queued"
        await api.relay.wait_for_outcome(response.json()["id"], 5)
        shown = (await api.client.get(f"/v1/messages/{response.json()['id']}")).json()
        assert shown["status"] == "sent"
        assert shown["decided_by"] == "apr_01TESTRULE"
        assert "message.approved" in [e["type"] for e in shown["events"]]
        assert len(api.sink.messages) == 1


async def test_read_only_and_compatible_routes(service: Callable[..., Any]) -> None:
    async with service() as api:
        _, reader = await _key(api, ["send", "read"], OversightMode.READ_ONLY)
        _, gated = await _key(api, ["send"], OversightMode.GATED)
        async with reader, gated:
            otp = {"to": "a@example.org", "code": "123456"}
            for path, body in (("/v1/messages", MAIL), ("/send/otp", otp)):
                response = await reader.post(path, json=body)
                assert response.status_code == 403
                assert response.json()["error_code"] == "read_only"
            response = await gated.post("/send/otp", json={"to": "a@example.org", "code": "1234"})
        assert response.status_code == 202
        body = response.json()
        assert (body["sent"], body["status"]) == (False, "held")
        # Only the held one was stored: the read_only sends left nothing behind.
        [stored] = await api.relay.outbox.list_messages()
        assert (stored.id, stored.status.value) == (body["id"], "held")


async def test_two_approvers_at_once(service: Callable[..., Any]) -> None:
    async with service() as api:
        _, sender = await _key(api, ["send"], OversightMode.GATED)
        _, first = await _key(api, ["approve"])
        _, second = await _key(api, ["approve"])
        async with sender, first, second:
            message_id = await _held(sender)
            answers = await asyncio.gather(
                first.post(f"/v1/messages/{message_id}/approve"),
                second.post(f"/v1/messages/{message_id}/approve"),
            )
        assert sorted(a.status_code for a in answers) == [200, 409]
        [lost] = [a for a in answers if a.status_code == 409]
        assert lost.json()["error_code"] == "not_held"


async def test_the_sender_can_cancel_while_held(service: Callable[..., Any]) -> None:
    async with service() as api:
        _, sender = await _key(api, ["send"], OversightMode.GATED)
        async with sender:
            cancelled = await _held(sender)
            response = await sender.post(f"/v1/messages/{cancelled}/cancel")
        assert response.status_code == 200
        assert response.json()["status"] == "cancelled"
        late = await api.client.post(f"/v1/messages/{cancelled}/approve")
        assert late.status_code == 409
        assert late.json()["error_code"] == "not_held"
        await asyncio.sleep(0.3)
        assert api.sink.messages == []


async def test_the_approval_routes_refuse_what_they_must(service: Callable[..., Any]) -> None:
    async with service() as api:
        _, sender = await _key(api, ["send", "read"], OversightMode.GATED)
        async with sender:
            message_id = await _held(sender)
            for method, path, body in (
                ("GET", "/v1/approvals", None),
                ("POST", f"/v1/messages/{message_id}/approve", None),
                ("POST", f"/v1/messages/{message_id}/reject", {"reason": "x"}),
                (
                    "POST",
                    "/v1/approvals/decide",
                    {"decisions": [{"id": message_id, "action": "approve"}]},
                ),
            ):
                response = await sender.request(method, path, json=body)
                assert response.status_code == 403, path
                assert response.json()["error_code"] == "forbidden"
        for unknown in ("msg_01ARZ3NDEKTSV4RRFFQ69G5FAV", "nonsense", "x" * 300):
            response = await api.client.post(f"/v1/messages/{unknown}/approve")
            assert response.status_code == 404
            assert response.json()["error_code"] == "not_found"
        decide = "/v1/approvals/decide"
        too_many = [{"id": f"msg_{n:026d}", "action": "approve"} for n in range(101)]
        for decisions in (too_many, [], [{"id": message_id, "action": "maybe"}]):
            response = await api.client.post(decide, json={"decisions": decisions})
            assert response.status_code == 422
        assert (await api.client.get(f"/v1/messages/{message_id}")).json()["status"] == "held"
        response = await api.client.post(
            decide,
            json={
                "decisions": [
                    {"id": message_id, "action": "reject"},
                    {"id": "msg_01ARZ3NDEKTSV4RRFFQ69G5FAV", "action": "approve"},
                ]
            },
        )
        assert response.status_code == 200
        results = response.json()["results"]
        assert [(r["status"], r["error_code"]) for r in results] == [
            (422, "reason_required"),
            (404, "not_found"),
        ]
        twice = [{"id": message_id, "action": "approve", "reason": "ok"}] * 2
        response = await api.client.post(decide, json={"decisions": twice})
        assert response.status_code == 200
        first, repeated = response.json()["results"]
        assert first["status"] == 200
        assert first["message"]["status"] == "queued"
        assert (repeated["status"], repeated["error_code"]) == (422, "validation_error")


async def test_listing_filters(service: Callable[..., Any]) -> None:
    async with service() as api:
        sender_id, sender = await _key(api, ["send"], OversightMode.GATED)
        async with sender:
            tagged = await _held(sender, tags=["signup"])
            plain = await _held(sender)

        async def ids(**params: Any) -> list[str]:
            response = await api.client.get("/v1/approvals", params=params)
            assert response.status_code == 200, response.text
            return [m["id"] for m in response.json()["data"]]

        assert await ids(tag="signup") == [tagged]
        assert await ids(key=sender_id) == [plain, tagged]
        assert await ids(key="key_nobody") == []
        assert await ids(kind="otp") == []
        assert await ids(older_than=3600) == []
        page = (await api.client.get("/v1/approvals", params={"limit": 1})).json()
        assert page["next_cursor"] == plain
        assert await ids(cursor=page["next_cursor"]) == [tagged]
        for bad in ({"limit": 0}, {"older_than": -1}, {"cursor": "bad"}, {"tag": "t" * 65}):
            assert (await api.client.get("/v1/approvals", params=bad)).status_code == 422
