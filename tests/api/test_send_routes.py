"""The compatible /send* routes over real HTTP, delivering to a real SMTP sink."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.api.conftest import Api
from tests.support.smtpd import DEFAULT_FROM

pytestmark = pytest.mark.slow
MAIL = {"to": "ada@example.org", "subject": "Hello Ada", "html_body": "<p>Hi Ada</p>"}


async def test_send_waits_for_the_smtp_outcome(api: Api) -> None:
    """200 {sent, message_id, id} once the upstream said 250; the mail is at the sink."""
    response = await api.client.post("/send", json=MAIL)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sent"] is True
    assert body["id"].startswith("msg_")
    assert body["message_id"].startswith("<")
    assert body["message_id"].endswith(f"@{DEFAULT_FROM.split('@')[1]}>")
    (received,) = api.sink.messages
    assert received.rcpt_tos == ("ada@example.org",)
    assert received.parsed()["Subject"] == "Hello Ada"
    assert received.parsed()["Message-ID"] == body["message_id"]


async def test_send_otp_puts_the_code_in_the_mail(api: Api) -> None:
    """The one-time code arrives, in a high-priority auth mail that expires."""
    response = await api.client.post(
        "/send/otp", json={"to": "ada@example.org", "user_name": "Ada", "code": "482913"}
    )
    assert response.status_code == 200, response.text
    (received,) = api.sink.messages
    text = received.parsed().get_body(preferencelist=("plain",)).get_content()
    assert "482913" in text
    assert "Ada" in text
    record = await api.relay.outbox.get_message(response.json()["id"])
    assert record.priority.value == "high"
    assert record.expires_at is not None


@pytest.mark.parametrize(
    ("route", "path"),
    [("/send/magic-link", "/set-password"), ("/send/password-reset", "/reset-password")],
)
async def test_link_routes_build_an_encoded_link(api: Api, route: str, path: str) -> None:
    """The token is percent-encoded into MAGIC_LINK_BASE_URL + the kind's path."""
    token = "a+b/c=d&e?f g#h"
    response = await api.client.post(
        route, json={"to": "ada@example.org", "user_name": "Ada", "token": token}
    )
    assert response.status_code == 200, response.text
    text = api.sink.messages[0].parsed().get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"https://app\.example\.com/\S+", text)
    assert link is not None
    parts = urlsplit(link.group(0))
    assert parts.path == path
    assert parse_qs(parts.query)["token"] == [token]


async def test_base_url_must_keep_the_configured_origin(api: Api) -> None:
    """A request cannot point a link at another site."""
    evil = {"to": "ada@example.org", "token": "t", "base_url": "https://evil.example.net"}
    response = await api.client.post("/send/magic-link", json=evil)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    same = {"to": "ada@example.org", "token": "t", "base_url": "https://app.example.com/tenant-7"}
    assert (await api.client.post("/send/magic-link", json=same)).status_code == 200
    text = api.sink.messages[0].parsed().get_body(preferencelist=("plain",)).get_content()
    assert "https://app.example.com/tenant-7/set-password?token=t" in text


async def test_links_need_a_configured_base_url(api_factory) -> None:  # type: ignore[no-untyped-def]
    """Without MAGIC_LINK_BASE_URL the link routes answer 503 not_configured."""
    async with api_factory(magic_link_base_url="") as api:
        response = await api.client.post(
            "/send/magic-link", json={"to": "ada@example.org", "token": "t"}
        )
    assert response.status_code == 503
    assert response.json()["error_code"] == "not_configured"
    assert not api.sink.messages


async def test_webhook_url_answers_at_once(api: Api) -> None:
    """With webhook_url the request does not wait: {sent: false, status: accepted, id}."""
    api.sink.handler.delay_at("final_dot", 2.0)
    body = {**MAIL, "webhook_url": "https://hooks.example.com/x", "webhook_secret": "s3cret"}
    response = await api.client.post("/send", json=body)
    assert response.status_code == 200
    assert response.json() == {"sent": False, "status": "accepted", "id": response.json()["id"]}
    record = await api.relay.outbox.get_message(response.json()["id"])
    assert record.has_webhook


async def test_permanent_refusal_is_the_documented_502(api: Api) -> None:
    """A 5xx from the upstream: 502 {"detail": {"error_code", "message", "id"}}."""
    api.sink.handler.reply_at("final_dot", "554 5.7.1 no thanks")
    response = await api.client.post("/send", json=MAIL)
    assert response.status_code == 502
    detail = response.json()["detail"]
    assert detail["error_code"] == "smtp_rejected"
    assert detail["id"].startswith("msg_")
    assert "554" in detail["message"]


async def test_slow_upstream_gives_202_queued_and_delivery_continues(api_factory) -> None:  # type: ignore[no-untyped-def]
    """When the wait runs out first: 202 queued; the mail still arrives."""
    async with api_factory(send_wait_seconds=0.3) as api:
        api.sink.handler.delay_at("final_dot", 1.0, times=1)
        response = await api.client.post("/send", json=MAIL)
        assert response.status_code == 202
        assert response.json() == {"sent": False, "status": "queued", "id": response.json()["id"]}
        record = await api.relay.wait_for_outcome(response.json()["id"], 5)
    assert record.status.value == "sent"


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer wrong-key",
        "Basic dXNlcjpwYXNz",
        "Bearer kéy-ünïcode",
        "Bearer " + "x" * 10_000,
    ],
)
async def test_bad_keys_are_401_never_500(api: Api, authorization: str | None) -> None:
    """Missing, malformed, non-ASCII or huge bearer values: 401 problem, nothing sent."""
    # Sent as raw UTF-8 bytes, as a misbehaving client would.
    headers = {} if authorization is None else {"Authorization": authorization.encode("utf-8")}
    async with api.anonymous() as client:
        response = await client.post("/send", json=MAIL, headers=headers)
    assert response.status_code == 401
    assert response.json()["error_code"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert not api.sink.messages


async def test_repeated_failures_are_throttled(api_factory) -> None:  # type: ignore[no-untyped-def]
    """After AUTH_FAILURE_LIMIT different wrong keys a client address gets 429 with
    Retry-After, even with the right env key (a 200 would confirm a guess)."""
    async with api_factory(auth_failure_limit=3) as api, api.anonymous() as client:
        for n in range(3):
            assert (
                await client.get("/v1/messages", headers={"Authorization": f"Bearer nope{n}"})
            ).status_code == 401
        blocked = await client.get(
            "/v1/messages", headers={"Authorization": f"Bearer {api.settings.api_key}"}
        )
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["retry-after"]) <= 60


async def test_dry_run_sends_and_stores_nothing(api: Api) -> None:
    """X-Dry-Run: true validates and renders only; an unknown value is 400, not a send."""
    response = await api.client.post(
        "/send/otp", json={"to": "a@example.org", "code": "1"}, headers={"X-Dry-Run": "true"}
    )
    assert response.status_code == 200
    assert response.json()["dry_run"] is True
    assert response.json()["size"] > 100
    for value in ("maybe", "on", "2"):
        refused = await api.client.post("/send", json=MAIL, headers={"X-Dry-Run": value})
        assert refused.status_code == 400
        assert refused.json()["error_code"] == "invalid_dry_run"
    invalid = await api.client.post(
        "/send", json={**MAIL, "to": "not-an-address"}, headers={"X-Dry-Run": "1"}
    )
    assert invalid.status_code == 422
    assert await api.relay.list_messages() == []
    assert not api.sink.messages


async def test_header_injection_is_rejected_before_storage(api: Api) -> None:
    """CR/LF in the subject: 422 crlf_in_header, nothing stored or sent."""
    response = await api.client.post(
        "/send", json={**MAIL, "subject": "Hi\r\nBcc: evil@example.net"}
    )
    assert response.status_code == 422
    assert response.json()["error_code"] == "crlf_in_header"
    assert await api.relay.list_messages() == []


async def test_validation_errors_do_not_echo_the_input(api: Api) -> None:
    """A 422 names the field but never repeats a (possibly huge) value."""
    big = "x" * 2_000_000
    response = await api.client.post("/send", json={"to": big, "subject": 5, "html_body": ""})
    assert response.status_code == 422
    assert len(response.content) < 5_000
    assert big[:100] not in response.text
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"subject", "html_body"} <= fields


async def test_request_id_is_echoed_and_stored(api: Api) -> None:
    """A sane X-Request-ID comes back and follows the message; a bad one is replaced."""
    response = await api.client.post("/send", json=MAIL, headers={"X-Request-ID": "req-42.abc"})
    assert response.headers["x-request-id"] == "req-42.abc"
    record = await api.relay.outbox.get_message(response.json()["id"])
    assert record.request_id == "req-42.abc"
    weird = await api.client.get("/health", headers={"X-Request-ID": "a b\tc" + "x" * 300})
    assert re.fullmatch(r"[0-9a-f]{32}", weird.headers["x-request-id"])


async def test_storage_failure_is_503_never_2xx(api_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """If the commit cannot happen the answer is 503 with Retry-After."""
    async with api_factory(db_busy_timeout_ms=100) as api:
        blocker = sqlite3.connect(tmp_path / "api.db", isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            response = await api.client.post("/send", json=MAIL)
            blocker.execute("ROLLBACK")
        finally:
            blocker.close()
    assert response.status_code == 503
    assert response.json()["error_code"] == "storage_unavailable"
    assert int(response.headers["retry-after"]) >= 1
    assert not api.sink.messages
