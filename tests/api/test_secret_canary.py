"""Tokens, codes and links never leave the mail: a canary through every path."""

from __future__ import annotations

import logging
import uuid

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.slow


async def test_canary_appears_only_in_the_delivered_mail(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """Success, validation errors, permanent failure: logs, API views, events and error
    bodies never contain the token or code; only the mail at the sink does."""
    caplog.set_level(logging.DEBUG)
    canary = f"CANARY{uuid.uuid4().hex}"
    seen: list[str] = []

    async def post(path: str, body: dict[str, object]) -> None:
        response = await api.client.post(path, json=body)
        seen.append(response.text)

    await post("/send/otp", {"to": "ada@example.org", "code": canary[:60]})
    await post("/send/magic-link", {"to": "ada@example.org", "token": canary})
    await post("/v1/messages", {"kind": "password_reset", "to": "ada@example.org", "token": canary})
    await post("/send/magic-link", {"to": "not an address", "token": canary})
    await post("/send/otp", {"to": "ada@example.org", "code": canary[:60] + "\n"})
    await post(
        "/send/magic-link",
        {"to": "ada@example.org", "token": canary, "base_url": "https://evil.example"},
    )
    api.sink.handler.reply_at("final_dot", "554 5.7.1 no")
    await post("/send/magic-link", {"to": "ada@example.org", "token": canary})
    listing = await api.client.get("/v1/messages", params={"limit": 50})
    seen.append(listing.text)
    for message in listing.json()["data"]:
        seen.append((await api.client.get(f"/v1/messages/{message['id']}")).text)
    # Everything logged in this process except the test SMTP sink's own trace ("mail.log"),
    # which is the receiving side and naturally sees the mail.
    seen.extend(r.getMessage() for r in caplog.records if not r.name.startswith("mail.log"))
    leaks = [text[:200] for text in seen if canary[:60] in text]
    assert leaks == []
    delivered = b"".join(message.raw for message in api.sink.messages)
    assert len(api.sink.messages) == 3
    assert canary[:60].encode() in delivered
