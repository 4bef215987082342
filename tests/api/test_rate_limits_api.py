"""Recipient and domain rate limits over HTTP: 429 with Retry-After and RateLimit headers,
counted across API keys, address spellings and a restart of the relay."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
from fastapi.routing import APIRoute

from authmail_relay.api.routing import CountedRoute
from tests.api.conftest import Api
from tests.api.test_api_keys_api import _flat_routes

Factory = Callable[..., AbstractAsyncContextManager[Api]]
ON = {"recipient_max_per_window": 5, "recipient_window_seconds": 900}


async def _send_key(api: Api) -> str:
    answer = await api.client.post("/v1/keys", json={"name": "app", "scopes": ["send"]})
    assert answer.status_code == 201, answer.text
    key: str = answer.json()["key"]
    return key


async def _otp(client: httpx.AsyncClient, to: str, **headers: str) -> httpx.Response:
    return await client.post("/send/otp", json={"to": to, "code": "123456"}, headers=headers)


def _assert_limited(answer: httpx.Response, name: str) -> None:
    assert answer.status_code == 429, answer.text
    body: dict[str, Any] = answer.json()
    assert body["error_code"] == "rate_limited"
    assert body["limit"] == name
    assert int(answer.headers["Retry-After"]) >= 1
    assert answer.headers["RateLimit-Policy"].startswith(f'"{name}";q=')
    assert answer.headers["RateLimit"].startswith(f'"{name}";r=0;t=')


async def test_email_bombing_is_capped_across_keys_spellings_and_a_restart(
    api_factory: Factory,
) -> None:
    """100 OTP requests for one victim through several keys, in several spellings, with
    a restart half-way: only the limit reaches the mailbox; other recipients are fine."""
    spellings = [
        "victim@example.com",
        "VICTIM@Example.COM",
        "victim@example.com.",
        "Victim@EXAMPLE.com",
    ]
    statuses: list[int] = []
    async with api_factory(**ON) as api:
        keys = [api.settings.api_key, await _send_key(api), await _send_key(api)]
        for n in range(50):
            auth = {"Authorization": f"Bearer {keys[n % len(keys)]}"}
            answer = await _otp(api.client, spellings[n % len(spellings)], **auth)
            if answer.status_code != 200:
                _assert_limited(answer, "recipient")
            statuses.append(answer.status_code)
    async with api_factory(**ON) as api:
        for n in range(50):
            auth = {"Authorization": f"Bearer {keys[n % len(keys)]}"}
            answer = await _otp(api.client, spellings[n % len(spellings)], **auth)
            if answer.status_code != 200:
                _assert_limited(answer, "recipient")
            statuses.append(answer.status_code)
        assert statuses.count(200) == 5
        assert statuses.count(429) == 95
        assert (await _otp(api.client, "bystander@example.com")).status_code == 200
        assert len(api.sink.messages) == 6
        stored = await api.relay.list_messages(limit=200)
        assert len(stored) == 6


async def test_idn_spellings_share_one_bucket(api_factory: Factory) -> None:
    """A Unicode domain and its A-label form are one mailbox."""
    async with api_factory(recipient_max_per_window=1) as api:
        assert (await _otp(api.client, "anna@bücher.example")).status_code == 200
        _assert_limited(await _otp(api.client, "ANNA@xn--bcher-kva.example"), "recipient")


async def test_minimum_interval_between_two_mails(api_factory: Factory) -> None:
    """A second mail inside the interval is refused; after it, accepted."""
    async with api_factory(recipient_max_per_window=0, recipient_min_interval_seconds=0.5) as api:
        assert (await _otp(api.client, "ada@example.org")).status_code == 200
        answer = await _otp(api.client, "ada@example.org")
        _assert_limited(answer, "recipient")
        assert answer.headers["Retry-After"] == "1"
        await asyncio.sleep(0.6)
        assert (await _otp(api.client, "ada@example.org")).status_code == 200


async def test_limits_are_per_kind_and_raw_mail_is_not_counted(api_factory: Factory) -> None:
    async with api_factory(recipient_max_per_window=1) as api:
        assert (await _otp(api.client, "ada@example.org")).status_code == 200
        link = {"to": "ada@example.org", "token": "t0ken"}
        assert (await api.client.post("/send/magic-link", json=link)).status_code == 200
        raw = {"to": "ada@example.org", "subject": "Hi", "html_body": "<p>Hello</p>"}
        for _ in range(3):
            assert (await api.client.post("/send", json=raw)).status_code == 200


async def test_domain_limit(api_factory: Factory) -> None:
    """The domain limit counts every address at the domain; other domains are fine."""
    async with api_factory(domain_max_per_window=3, domain_window_seconds=60) as api:
        for n in range(3):
            assert (await _otp(api.client, f"user{n}@corp.example")).status_code == 200
        answer = await _otp(api.client, "user9@CORP.example")
        _assert_limited(answer, "domain")
        assert answer.headers["RateLimit-Policy"] == '"domain";q=3;w=60'
        assert (await _otp(api.client, "user9@other.example")).status_code == 200


async def test_twenty_simultaneous_otps_store_at_most_the_limit(api_factory: Factory) -> None:
    async with api_factory(recipient_max_per_window=5) as api:
        answers = await asyncio.gather(*(_otp(api.client, "target@example.com") for _ in range(20)))
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [200] * 5 + [429] * 15
        assert len(await api.relay.list_messages(limit=100)) == 5


async def test_requests_per_minute_per_key(api_factory: Factory) -> None:
    """A stored key's own limit and KEY_REQUESTS_PER_MINUTE for the env key, counted on
    every authenticated request; other keys are unaffected."""
    async with api_factory(key_requests_per_minute=4) as api:
        answer = await api.client.post(
            "/v1/keys", json={"name": "slow", "scopes": ["read"], "rate_limit_per_minute": 2}
        )
        assert answer.status_code == 201, answer.text
        slow = {"Authorization": f"Bearer {answer.json()['key']}"}
        for _ in range(2):
            assert (await api.client.get("/v1/messages", headers=slow)).status_code == 200
        refused = await api.client.get("/v1/messages", headers=slow)
        _assert_limited(refused, "key")
        assert refused.headers["RateLimit-Policy"] == '"key";q=2;w=60'
        # The env key made one request (the key creation) and has three left.
        for _ in range(3):
            assert (await api.client.get("/v1/messages")).status_code == 200
        _assert_limited(await api.client.get("/v1/messages"), "key")


def _key_headers(answer: httpx.Response) -> tuple[str | None, str | None]:
    return answer.headers.get("RateLimit-Policy"), answer.headers.get("RateLimit")


async def test_successful_answers_tell_what_is_left_of_the_key_limit(api_factory: Factory) -> None:
    """Each counted 2xx carries the key's policy and a falling remaining count; the 429
    that follows still names the limit."""
    async with api_factory(key_requests_per_minute=3) as api:
        seen = []
        for _ in range(3):
            answer = await api.client.get("/v1/messages")
            assert answer.status_code == 200, answer.text
            seen.append(_key_headers(answer))
        assert [policy for policy, _ in seen] == ['"key";q=3;w=60'] * 3
        remaining = [state.split(";")[:2] for _, state in seen if state is not None]
        assert remaining == [['"key"', "r=2"], ['"key"', "r=1"], ['"key"', "r=0"]]
        # t: seconds until the first of these requests leaves the minute.
        assert all(0 < int(state.rpartition(";t=")[2]) <= 60 for _, state in seen if state)
        refused = await api.client.get("/v1/messages")
        _assert_limited(refused, "key")
        assert refused.headers["RateLimit-Policy"] == '"key";q=3;w=60'


async def test_every_kind_of_success_carries_them(api_factory: Factory) -> None:
    """Model answers, JSONResponse answers, plain text and idempotent replays alike; an
    error other than 429 does not."""
    async with api_factory(key_requests_per_minute=10) as api:
        raw = {"to": "ada@example.org", "subject": "Hi", "html_body": "<p>Hello</p>"}
        first = await api.client.post("/send", json=raw, headers={"Idempotency-Key": "k1"})
        replay = await api.client.post("/send", json=raw, headers={"Idempotency-Key": "k1"})
        created = await api.client.post("/v1/messages", json=raw)
        text = await api.client.get("/v1/templates/otp/preview", params={"format": "text"})
        missing = await api.client.get("/v1/messages/msg_nonexistent")
        assert [a.status_code for a in (first, replay, created, text, missing)] == [
            200,
            200,
            202,
            200,
            404,
        ]
        assert replay.headers["Idempotent-Replayed"] == "true"
        states = [_key_headers(a)[1] or "" for a in (first, replay, created, text)]
        assert [state.split(";")[1] for state in states] == ["r=9", "r=8", "r=7", "r=6"]
        assert all(0 < int(state.rpartition(";t=")[2]) <= 60 for state in states)
        assert _key_headers(missing) == (None, None)


async def test_a_stored_keys_own_limit_is_in_its_headers(api_factory: Factory) -> None:
    async with api_factory() as api:
        answer = await api.client.post(
            "/v1/keys", json={"name": "paced", "scopes": ["read"], "rate_limit_per_minute": 5}
        )
        assert _key_headers(answer) == (None, None)  # the env key is unlimited
        paced = {"Authorization": f"Bearer {answer.json()['key']}"}
        listed = await api.client.get("/v1/messages", headers=paced)
        assert _key_headers(listed) == ('"key";q=5;w=60', '"key";r=4;t=60')


async def test_no_headers_when_the_key_is_not_limited(api_factory: Factory) -> None:
    """Off: nothing is counted and nothing is said, even with the recipient limits on
    (those are not the caller's to pace)."""
    async with api_factory(recipient_max_per_window=5) as api:
        for answer in (
            await api.client.get("/v1/messages"),
            await _otp(api.client, "ada@example.org"),
            await api.client.get("/health"),
        ):
            assert answer.status_code == 200, answer.text
            assert _key_headers(answer) == (None, None)


async def test_every_route_adds_the_headers(api: Api) -> None:
    """A router without the route class would silently answer without them."""
    app: Any = api.server.config.app
    routes = [route for _, route, _ in _flat_routes(app.routes)]
    assert routes
    assert all(isinstance(route, APIRoute) for route in routes)
    assert [route.path for route in routes if not isinstance(route, CountedRoute)] == []
