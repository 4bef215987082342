"""The MCP endpoint over Streamable HTTP, driven by the MCP SDK's own client: a real
uvicorn server, real keys, a real SMTP sink, SQLite and PostgreSQL.

Every tool call is an API call made with the caller's key, so these tests check that the
HTTP API's rules reach agents unchanged: scopes, oversight, separation of duties, rate
limits, and that no token or code comes back in a result or an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp", reason="the MCP tests need the [mcp] extra")

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from authmail_relay.api import create_app
from authmail_relay.db.api_keys_store import ApiKeyStore
from authmail_relay.exceptions import ConfigurationError
from authmail_relay.mail.auth_mail import MAX_TOKEN
from authmail_relay.vocabulary import OversightMode
from tests.api.conftest import Api, api_settings, running_api
from tests.support.smtpd import SmtpServer

pytestmark = pytest.mark.slow

TOOLS = {
    "send_email",
    "send_otp",
    "send_magic_link",
    "send_password_reset",
    "get_message",
    "list_messages",
    "wait_for_message",
    "cancel_message",
    "mark_consumed",
    "list_pending_approvals",
    "decide_approval",
    "get_audit_log",
    "list_templates",
    "preview_template",
    "check_domain",
}
SEND_TOOLS = {"send_email", "send_otp", "send_magic_link", "send_password_reset"}
CODE = "482913"


@contextlib.asynccontextmanager
async def _service(db_url: str, sink: SmtpServer, **changes: Any) -> AsyncIterator[Api]:
    run_worker = changes.pop("run_worker", True)
    settings = api_settings(db_url, sink, mcp_enabled=True, **changes)
    async with running_api(settings, sink, run_worker=run_worker) as api:
        yield api


@pytest.fixture
def service(tmp_path: Path, smtp_sink: SmtpServer) -> Callable[..., Any]:
    """A service on SQLite: the MCP layer is the same whatever the database."""
    db_url = f"sqlite:///{tmp_path / 'mcp.db'}"
    return lambda **changes: _service(db_url, smtp_sink, **changes)


@pytest.fixture
def service_on_each_db(db_url: str, smtp_sink: SmtpServer) -> Callable[..., Any]:
    """A service on SQLite and on PostgreSQL, for the end-to-end approval flow."""
    return lambda **changes: _service(db_url, smtp_sink, **changes)


@contextlib.asynccontextmanager
async def agent(api: Api, key: str) -> AsyncIterator[Client]:
    """An MCP client session on ``/mcp`` presenting ``key``."""
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60)
    async with http, Client(streamable_http_client(f"{api.url}/mcp", http_client=http)) as c:
        yield c


async def stored_key(
    api: Api, scopes: list[str], mode: OversightMode = OversightMode.AUTONOMOUS, **extra: Any
) -> tuple[str, str]:
    """A stored key with ``scopes`` in ``mode``: its id and its token."""
    created = await ApiKeyStore(api.relay.outbox.engine).create(
        name=f"agent-{'-'.join(scopes)}", scopes=scopes, oversight=mode, actor="cli", **extra
    )
    return created.key.id, created.token


def ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    return result.structured_content


def failed(result: CallToolResult) -> dict[str, Any]:
    assert result.is_error, result.structured_content
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def test_the_tools_are_listed_with_schemas_annotations_and_honest_descriptions(
    service: Callable[..., Any],
) -> None:
    async with service() as api, agent(api, api.settings.api_key) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert len(tool.description or "") > 40, tool.name
        assert tool.input_schema["type"] == "object"
        assert tool.output_schema is not None, tool.name
        hints = tool.annotations
        assert hints is not None, tool.name
        flags = (
            hints.read_only_hint,
            hints.destructive_hint,
            hints.idempotent_hint,
            hints.open_world_hint,
        )
        assert None not in flags, tool.name
    for name in SEND_TOOLS:
        assert "message_id" in tools[name].description
        assert "queued" in tools[name].description
        assert "held" in tools[name].description
        assert tools[name].annotations.read_only_hint is False  # type: ignore[union-attr]
    for name in ("get_message", "list_messages", "wait_for_message", "get_audit_log"):
        assert tools[name].annotations.read_only_hint is True  # type: ignore[union-attr]
        assert "untrusted" in tools[name].description.lower()  # type: ignore[union-attr]
    assert tools["cancel_message"].annotations.destructive_hint is True  # type: ignore[union-attr]
    # The limits are published: an agent sees them before it calls.
    props = tools["send_email"].input_schema["properties"]
    assert "from" in props
    assert "from_" not in props
    assert tools["wait_for_message"].input_schema["properties"]["timeout"]["maximum"] == 120
    otp = tools["send_otp"].input_schema["properties"]["code"]
    assert "maxLength" in json.dumps(otp)
    # No tool creates keys or webhooks or changes oversight.
    assert not any(word in name for name in tools for word in ("key", "webhook", "rule"))


async def test_send_otp_then_wait_reports_sent_and_the_mail_is_at_the_sink(
    service: Callable[..., Any],
) -> None:
    async with service() as api, agent(api, api.settings.api_key) as client:
        sent = ok(await client.call_tool("send_otp", {"to": "ada@example.org", "code": CODE}))
        assert sent["status"] == "queued"
        assert sent["message_id"].startswith("msg_")
        waited = ok(
            await client.call_tool(
                "wait_for_message", {"message_id": sent["message_id"], "timeout": 30}
            )
        )
        assert waited["settled"] is True
        assert waited["message"]["status"] == "sent"
        assert len(api.sink.messages) == 1
        assert CODE in api.sink.messages[0].parsed().get_body(("plain",)).get_content()  # type: ignore[union-attr]
        shown = await client.call_tool("get_message", {"message_id": sent["message_id"]})
    details = ok(shown)
    assert [e["type"] for e in details["events"]][:1] == ["message.queued"]
    assert details["attempts"][0]["smtp_code"] == 250
    assert next(a["action"] for a in details["audit"]) == "message.accepted"
    # Never the code: not in the message shown, not in any text block.
    assert CODE not in json.dumps(details)
    assert all(CODE not in getattr(block, "text", "") for block in shown.content)


async def test_a_gated_agent_send_is_held_until_a_second_key_approves_it(
    service_on_each_db: Callable[..., Any],
) -> None:
    async with service_on_each_db() as api:
        _, agent_key = await stored_key(api, ["send", "read"], OversightMode.GATED)
        _, approver_key = await stored_key(api, ["approve", "read"])
        mail = {"to": "bob@example.org", "subject": "Welcome", "text": "Hello Bob"}
        async with agent(api, agent_key) as sender:
            held = ok(await sender.call_tool("send_email", mail))
            assert held["status"] == "held"
            waited = ok(
                await sender.call_tool(
                    "wait_for_message", {"message_id": held["message_id"], "timeout": 5}
                )
            )
            assert waited["settled"] is True
            assert waited["message"]["status"] == "held"
            assert api.sink.messages == []
        async with agent(api, approver_key) as approver:
            pending = ok(await approver.call_tool("list_pending_approvals", {}))
            assert [m["message_id"] for m in pending["messages"]] == [held["message_id"]]
            decided = ok(
                await approver.call_tool(
                    "decide_approval",
                    {"message_id": held["message_id"], "decision": "approve", "reason": "ok"},
                )
            )
            assert decided["status"] == "queued"
            waited = ok(
                await approver.call_tool(
                    "wait_for_message", {"message_id": held["message_id"], "timeout": 30}
                )
            )
        assert waited["message"]["status"] == "sent"
        assert waited["message"]["decided_by"] is not None
        assert [m.rcpt_tos for m in api.sink.messages] == [("bob@example.org",)]


async def test_an_agent_cannot_approve_its_own_send(service: Callable[..., Any]) -> None:
    # The env key holds every scope (a stored key never holds both send and approve);
    # OVERSIGHT_DEFAULT=gated holds its sends.
    async with service(oversight_default=OversightMode.GATED) as api:
        async with agent(api, api.settings.api_key) as client:
            held = ok(
                await client.call_tool(
                    "send_email", {"to": "eve@example.org", "subject": "Hi", "text": "x"}
                )
            )
            refused = failed(
                await client.call_tool(
                    "decide_approval", {"message_id": held["message_id"], "decision": "approve"}
                )
            )
            assert refused["error_code"] == "self_approval"
            shown = ok(await client.call_tool("get_message", {"message_id": held["message_id"]}))
        assert shown["status"] == "held"
        assert api.sink.messages == []


async def test_a_wrong_or_missing_key_is_401_before_any_mcp_exchange(
    service: Callable[..., Any],
) -> None:
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/list",
        "params": {},
    }
    headers = {"Accept": "application/json, text/event-stream"}
    async with service() as api, api.anonymous() as http:
        missing = await http.post("/mcp", json=init, headers=headers)
        wrong = await http.post(
            "/mcp", json=init, headers={**headers, "Authorization": "Bearer amr_nope_nope"}
        )
        revoked_id, revoked = await stored_key(api, ["send"])
        await ApiKeyStore(api.relay.outbox.engine).revoke(revoked_id, actor="cli")
        gone = await http.post(
            "/mcp", json=init, headers={**headers, "Authorization": f"Bearer {revoked}"}
        )
    for response in (missing, wrong, gone):
        assert response.status_code == 401, response.text
        assert response.json()["error_code"] == "unauthorized"
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_read_only_scope_cannot_send(service: Callable[..., Any]) -> None:
    async with service() as api:
        _, key = await stored_key(api, ["read"])
        async with agent(api, key) as client:
            refused = failed(
                await client.call_tool("send_otp", {"to": "ada@example.org", "code": CODE})
            )
            listed = ok(await client.call_tool("list_messages", {}))
    assert refused["error_code"] == "forbidden"
    assert listed["messages"] == []
    assert api.sink.messages == []


async def test_a_rate_limit_is_a_tool_error_with_retry_after(service: Callable[..., Any]) -> None:
    async with service(key_requests_per_minute=2) as api:
        _, key = await stored_key(api, ["send", "read"])
        async with agent(api, key) as client:
            for _ in range(2):
                ok(await client.call_tool("list_messages", {}))
            limited = await client.call_tool("send_otp", {"to": "ada@example.org", "code": CODE})
    body = failed(limited)
    assert body["error_code"] == "rate_limited"
    assert isinstance(body["retry_after"], int)
    assert 1 <= body["retry_after"] <= 60
    assert "retry after" in limited.content[0].text  # type: ignore[union-attr]
    assert api.sink.messages == []


async def test_invalid_arguments_never_echo_a_token(service: Callable[..., Any]) -> None:
    secret = "s3cr3t" * (MAX_TOKEN // 6 + 1)  # one token longer than any the relay takes
    async with service() as api, agent(api, api.settings.api_key) as client:
        too_long = await client.call_tool(
            "send_magic_link", {"to": "ada@example.org", "token": secret}
        )
        bad_id = await client.call_tool("get_message", {"message_id": "msg_nope"})
        unknown = await client.call_tool("get_message", {"message_id": "msg_" + "0" * 26})
    body = failed(too_long)
    assert body["error_code"] == "validation_error"
    assert body["fields"] == ["token"]
    assert "s3cr3t" not in json.dumps(body) + too_long.content[0].text  # type: ignore[union-attr]
    assert failed(bad_id)["error_code"] == "validation_error"
    assert failed(unknown)["error_code"] == "not_found"


async def test_dns_rebinding_is_refused_by_host_and_origin(service: Callable[..., Any]) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    async with service(mcp_allowed_hosts=("relay.example.com",)) as api:
        headers = {
            "Authorization": f"Bearer {api.settings.api_key}",
            "Accept": "application/json, text/event-stream",
        }
        async with api.anonymous(headers=headers) as http:
            foreign = await http.post("/mcp", json=body, headers={"Host": "evil.example"})
            configured = await http.post("/mcp", json=body, headers={"Host": "relay.example.com"})
            page = await http.post("/mcp", json=body, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 421
    assert page.status_code == 403
    # A configured host is let through: the stateless endpoint answers the call.
    assert configured.status_code == 200
    assert len(configured.json()["result"]["tools"]) == len(TOOLS)


async def test_the_endpoint_is_off_unless_enabled(tmp_path: Path, smtp_sink: SmtpServer) -> None:
    settings = api_settings(f"sqlite:///{tmp_path / 'off.db'}", smtp_sink)
    async with running_api(settings, smtp_sink) as api:
        response = await api.client.post("/mcp", json={})
    assert response.status_code == 404


async def test_templates_and_previews_are_readable(service: Callable[..., Any]) -> None:
    async with service() as api, agent(api, api.settings.api_key) as client:
        catalog = ok(await client.call_tool("list_templates", {}))
        preview = ok(await client.call_tool("preview_template", {"kind": "otp", "locale": "de"}))
    assert {k["kind"] for k in catalog["kinds"]} >= {"otp", "magic_link", "password_reset"}
    assert preview["kind"] == "otp"
    assert preview["subject"]


async def test_cancel_and_consume_follow_the_api_rules(service: Callable[..., Any]) -> None:
    async with service(run_worker=False) as api, agent(api, api.settings.api_key) as client:
        queued = ok(
            await client.call_tool(
                "send_email", {"to": "ada@example.org", "subject": "Later", "text": "x"}
            )
        )
        cancelled = ok(
            await client.call_tool("cancel_message", {"message_id": queued["message_id"]})
        )
        again = failed(
            await client.call_tool("mark_consumed", {"message_id": queued["message_id"]})
        )
    assert cancelled["status"] == "cancelled"
    assert again["error_code"] == "not_consumable"


async def test_a_retried_send_with_its_idempotency_key_sends_once(
    service: Callable[..., Any],
) -> None:
    call = {"to": "ada@example.org", "code": CODE, "idempotency_key": "signup-42"}
    async with service() as api, agent(api, api.settings.api_key) as client:
        first = ok(await client.call_tool("send_otp", call))
        again = ok(await client.call_tool("send_otp", call))
        other = failed(await client.call_tool("send_otp", {**call, "code": "000111"}))
        ok(await client.call_tool("wait_for_message", {"message_id": first["message_id"]}))
    assert again["message_id"] == first["message_id"]
    assert again["replayed"] is True
    assert other["error_code"] == "idempotency_key_mismatch"
    assert len(api.sink.messages) == 1


async def test_header_injection_and_foreign_senders_are_the_api_s_errors(
    service: Callable[..., Any],
) -> None:
    async with service() as api, agent(api, api.settings.api_key) as client:
        injected = failed(
            await client.call_tool(
                "send_email",
                {"to": "ada@example.org", "subject": "Hi\r\nBcc: eve@example.org", "text": "x"},
            )
        )
        spoofed = failed(
            await client.call_tool(
                "send_email",
                {"to": "ada@example.org", "subject": "Hi", "text": "x", "from": "ceo@bank.example"},
            )
        )
        no_body = failed(
            await client.call_tool("send_email", {"to": "ada@example.org", "subject": "Hi"})
        )
    assert injected["error_code"] == "crlf_in_header"
    assert spoofed["error_code"] == "sender_not_allowed"
    assert no_body["error_code"] == "validation_error"
    assert api.sink.messages == []


async def test_a_scheduled_send_waits_for_its_time_and_can_be_cancelled(
    service: Callable[..., Any],
) -> None:
    later = "2099-01-01T00:00:00Z"
    mail = {"to": "ada@example.org", "subject": "Later", "text": "x"}
    async with service() as api, agent(api, api.settings.api_key) as client:
        too_far = failed(await client.call_tool("send_email", {**mail, "send_at": later}))
        scheduled = ok(await client.call_tool("send_email", {**mail, "send_at": _in_an_hour()}))
        waited = ok(
            await client.call_tool(
                "wait_for_message", {"message_id": scheduled["message_id"], "timeout": 0.5}
            )
        )
        cancelled = ok(
            await client.call_tool("cancel_message", {"message_id": scheduled["message_id"]})
        )
    assert too_far["error_code"] == "validation_error"
    assert too_far["fields"] == ["send_at"]
    assert waited["settled"] is False
    assert waited["message"]["status"] == "queued"
    assert cancelled["status"] == "cancelled"
    assert api.sink.messages == []


async def test_pages_and_the_audit_log_follow_scopes(service: Callable[..., Any]) -> None:
    async with service() as api:
        _, auditor = await stored_key(api, ["audit"])
        async with agent(api, api.settings.api_key) as client:
            for code in ("111111", "222222"):
                ok(await client.call_tool("send_otp", {"to": "ada@example.org", "code": code}))
            first = ok(await client.call_tool("list_messages", {"limit": 1}))
            second = ok(
                await client.call_tool(
                    "list_messages", {"limit": 1, "cursor": first["next_cursor"]}
                )
            )
        async with agent(api, auditor) as client:
            log = ok(await client.call_tool("get_audit_log", {"action": "message.accepted"}))
            not_allowed = failed(await client.call_tool("list_messages", {}))
    assert first["messages"][0]["message_id"] != second["messages"][0]["message_id"]
    assert len(log["entries"]) == 2
    assert {entry["actor"] for entry in log["entries"]} != {""}
    assert all(entry["hash"] for entry in log["entries"])
    assert "111111" not in json.dumps(log)
    assert not_allowed["error_code"] == "forbidden"


async def test_many_agents_at_once_each_get_their_own_answer(
    service: Callable[..., Any],
) -> None:
    async with service() as api, agent(api, api.settings.api_key) as client:
        results = await asyncio.gather(
            *(
                client.call_tool("send_otp", {"to": f"user{i}@example.org", "code": f"{i:06d}"})
                for i in range(20)
            )
        )
        ids = {ok(result)["message_id"] for result in results}
        for message_id in ids:
            ok(await client.call_tool("wait_for_message", {"message_id": message_id}))
    assert len(ids) == 20
    assert len(api.sink.messages) == 20


async def test_an_oversized_request_is_refused_before_the_protocol(
    service: Callable[..., Any],
) -> None:
    async with service(max_body_bytes=10_000) as api:
        headers = {
            "Authorization": f"Bearer {api.settings.api_key}",
            "Accept": "application/json, text/event-stream",
        }
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "send_email", "arguments": {"text": "x" * 20_000}},
        }
        async with api.anonymous(headers=headers) as http:
            response = await http.post("/mcp", json=body)
    assert response.status_code == 413


def _in_an_hour() -> str:
    moment = datetime.now(timezone.utc) + timedelta(hours=1)
    return moment.isoformat().replace("+00:00", "Z")


async def test_the_trailing_slash_form_redirects_to_the_endpoint(
    service: Callable[..., Any],
) -> None:
    async with service() as api:
        response = await api.client.post("/mcp/", json={})
    assert response.status_code in (307, 308)
    assert response.headers["location"].endswith("/mcp")


def test_enabling_mcp_without_the_extra_is_a_clear_configuration_error(
    tmp_path: Path, smtp_sink: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A module set to None in sys.modules cannot be imported: as if the extra were absent.
    monkeypatch.setitem(sys.modules, "authmail_relay.mcp.server", None)
    settings = api_settings(f"sqlite:///{tmp_path / 'x.db'}", smtp_sink, mcp_enabled=True)
    with pytest.raises(ConfigurationError, match=r"MCP_ENABLED needs the mcp extra"):
        create_app(settings)
