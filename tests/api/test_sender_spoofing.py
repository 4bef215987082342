"""From spoofing over real HTTP: every look-alike sender is a 403 ``sender_not_allowed``
with nothing stored and nothing sent; the allowed spellings pass."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import pytest

from tests.api.conftest import Api
from tests.api.test_api_keys_api import client_for, create_key

#: The key's rules; the default sender (SMTP_FROM of the sink) is noreply@sender.example.
RULES = ["noreply@example.com", "example.org", "*.corp.example", "bücher.de"]

REFUSED = [
    "other@sender.example",  # the default sender's domain is not a rule
    "ceo@bank.example",
    "other@example.com",  # an address rule does not open its domain
    "noreply@sub.example.org",  # a domain rule does not open its subdomains
    "noreply@example.org.evil.example",
    "noreply@evilexample.org",
    "noreply@corp.example",  # *.corp.example is the subdomains only
    "noreply@evilcorp.example",
    "noreply@ex\u0430mple.org",  # Cyrillic a: another (xn--) domain
    "noreply@ex\u0430mple.com",
    "noreply@xn--exmple-4nf.org",  # the same homoglyph, already in A-label form
    '"noreply@example.org" <ceo@bank.example>',  # judged by the real address
    "Example Org <noreply@example.org.evil.example>",
    "a@b\u00fccher.de.evil.example",
    "a@bucher.de",
]

#: Not even a valid single mailbox: refused earlier, as 422 invalid_address.
INVALID = [
    "noreply@example.org <ceo@bank.example>",
    "noreply@example.org, ceo@bank.example",
    "ceo@bank.example (noreply@example.org)",
]

ALLOWED = [
    "noreply@example.com",
    "NoReply@Example.COM",
    "noreply@example.com.",
    "anyone@EXAMPLE.org",
    "anyone@example.org.",
    '"Example Support" <help@example.org>',
    "a@mail.corp.example",
    "a@deep.mail.CORP.example.",
    "a@b\u00fccher.de",  # U-label of an allowed domain
    "a@xn--bcher-kva.de",  # and its A-label
    "a@B\u00dcCHER.de",
    "noreply@sender.example",  # the default sender is always allowed
    "NoReply@Sender.Example.",
]


def _mail(sender: str) -> dict[str, Any]:
    return {"from": sender, "to": "ada@example.net", "subject": "Hi", "text_body": "Hello"}


async def _stored(api: Api) -> int:
    answer = await api.client.get("/v1/messages", params={"limit": 200})
    assert answer.status_code == 200, answer.text
    return len(answer.json()["data"])


async def test_look_alike_senders_are_refused_and_nothing_is_stored_or_sent(api: Api) -> None:
    key = (await create_key(api, scopes=["send", "read"], allowed_senders=RULES))["key"]
    async with client_for(api, key) as client:
        for sender in REFUSED:
            answers = [
                await client.post("/v1/messages", json=_mail(sender)),
                await client.post("/v1/messages", json=_mail(sender), headers={"X-Dry-Run": "1"}),
                await client.post(
                    "/send",
                    json={**_mail(sender), "html_body": "x", "text_body": None},
                ),
                await client.post(
                    "/send/otp", json={"from": sender, "to": "ada@example.net", "code": "123456"}
                ),
            ]
            for answer in answers:
                assert answer.status_code == 403, (sender, answer.text)
                assert answer.json()["error_code"] == "sender_not_allowed"
            batch = await client.post("/v1/messages/batch", json={"messages": [_mail(sender)]})
            assert batch.status_code == 200, batch.text
            item = batch.json()["results"][0]
            assert item["status"] == 403, (sender, item)
            assert item["problem"]["error_code"] == "sender_not_allowed"
        for sender in INVALID:
            answer = await client.post("/v1/messages", json=_mail(sender))
            assert answer.status_code == 422, (sender, answer.text)
    assert await _stored(api) == 0
    await asyncio.sleep(0.3)
    assert api.sink.messages == []


async def test_allowed_spellings_pass(api: Api) -> None:
    key = (await create_key(api, scopes=["send"], allowed_senders=RULES))["key"]
    async with client_for(api, key) as client:
        for sender in ALLOWED:
            answer = await client.post("/v1/messages", json=_mail(sender))
            assert answer.status_code == 202, (sender, answer.text)
    assert await _stored(api) == len(ALLOWED)
    await asyncio.to_thread(api.sink.handler.wait_for_messages, len(ALLOWED), 10.0)


async def test_key_without_rules_may_use_the_default_sender_only(api: Api) -> None:
    key = (await create_key(api, scopes=["send"]))["key"]
    async with client_for(api, key) as client:
        default = await client.post("/send/otp", json={"to": "ada@example.net", "code": "123456"})
        assert default.status_code in {200, 202}, default.text
        other = await client.post("/v1/messages", json=_mail("noreply@example.com"))
        assert other.status_code == 403


async def test_env_key_is_strict_unless_allowed_senders_says_otherwise(
    api_factory: Callable[..., contextlib.AbstractAsyncContextManager[Api]],
) -> None:
    async with api_factory() as api:
        refused = await api.client.post("/v1/messages", json=_mail("team@example.com"))
        assert refused.status_code == 403
        assert refused.json()["error_code"] == "sender_not_allowed"
        assert (await api.client.post("/v1/messages", json=_mail(""))).status_code != 403
    async with api_factory(allowed_senders=("example.com",)) as api:
        allowed = await api.client.post("/v1/messages", json=_mail("team@Example.com"))
        assert allowed.status_code == 202, allowed.text
        refused = await api.client.post("/v1/messages", json=_mail("team@sub.example.com"))
        assert refused.status_code == 403


@pytest.mark.parametrize("origin", ["https://accounts.example.com", "https://id.example.net:8443"])
async def test_key_link_origins_add_to_the_allowed_ones(api: Api, origin: str) -> None:
    key = (await create_key(api, scopes=["send"], allowed_origins=[origin]))["key"]
    body = {"to": "ada@example.net", "token": "t0k3n-abcdefgh", "base_url": origin}
    async with client_for(api, key) as client:
        mine = await client.post("/send/magic-link", json=body)
        assert mine.status_code in {200, 202}, mine.text
    other = await api.client.post("/send/magic-link", json=body)
    assert other.status_code == 422
