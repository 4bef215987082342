"""Recipient and domain rate limits over HTTP: 429 with Retry-After and RateLimit headers,
counted across API keys, address spellings and a restart of the relay."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select

from authmail_relay.api.routing import CountedRoute
from authmail_relay.client import AsyncAuthmailClient
from authmail_relay.db.schema import rate_events
from authmail_relay.exceptions import RateLimitedError, ValidationError
from authmail_relay.settings import Settings
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
    """A second mail inside the interval is refused; after it, accepted. (Queued through
    /v1/messages, which does not wait for delivery, so a slow machine cannot stretch the
    time between the two requests past the interval.)"""
    # Two seconds: long enough that a busy machine cannot let the second request through
    # by being slow, short enough to wait out.
    async with api_factory(recipient_max_per_window=0, recipient_min_interval_seconds=2) as api:
        assert (await _queue_otp(api.client, "ada@example.org")).status_code == 202
        answer = await _queue_otp(api.client, "ada@example.org")
        _assert_limited(answer, "recipient")
        assert answer.headers["Retry-After"] in ("1", "2")
        await asyncio.sleep(2.1)
        assert (await _queue_otp(api.client, "ada@example.org")).status_code == 202


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


# The defaults a fresh relay runs with (the API fixtures switch the limits off).
_DEFAULT = Settings()
DEFAULT_LIMITS = {
    "recipient_max_per_window": _DEFAULT.recipient_max_per_window,
    "recipient_window_seconds": _DEFAULT.recipient_window_seconds,
    "recipient_min_interval_seconds": _DEFAULT.recipient_min_interval_seconds,
    "domain_max_per_window": _DEFAULT.domain_max_per_window,
    "domain_window_seconds": _DEFAULT.domain_window_seconds,
}


async def _queue_otp(
    client: httpx.AsyncClient, to: str, *, ip: str | None = None, key: str | None = None
) -> httpx.Response:
    body = {"kind": "otp", "to": to, "code": "123456"}
    if ip is not None:
        body["end_user_ip"] = ip
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    return await client.post("/v1/messages", json=body, headers=headers)


def _spellings_of_one_gmail_inbox(count: int) -> list[str]:
    """Sub-addresses, dotted forms and the googlemail.com alias of victim@gmail.com."""
    dotted = ["v.ictim", "vi.ctim", "vic.tim", "v.i.c.t.i.m", "Vic.Tim"]
    spellings = []
    for n in range(count):
        local = dotted[n % len(dotted)] if n % 3 == 1 else "victim"
        domain = "googlemail.com" if n % 4 == 3 else "gmail.com"
        spellings.append(f"{local}+{n}@{domain}" if n % 2 == 0 else f"{local}@{domain}")
    return spellings


async def test_plus_tags_dots_and_googlemail_reach_one_inbox_once(api_factory: Factory) -> None:
    """Email bombing through address spellings, with the default limits: 110 OTPs for
    victim+N@gmail.com and dotted/googlemail spellings of it. One mailbox, so the
    recipient limit (not the domain limit) refuses all but what it allows; the mail
    that is accepted goes to the address exactly as given."""
    async with api_factory(**DEFAULT_LIMITS) as api:
        answers = [await _queue_otp(api.client, to) for to in _spellings_of_one_gmail_inbox(110)]
        accepted = [a for a in answers if a.status_code == 202]
        refused = [a for a in answers if a.status_code != 202]
        # The 30 s minimum interval lets only the first through in a burst.
        assert len(accepted) == 1, [a.status_code for a in answers]
        assert len(accepted) <= DEFAULT_LIMITS["recipient_max_per_window"]
        for answer in refused:
            _assert_limited(answer, "recipient")
        [received] = await asyncio.to_thread(api.sink.handler.wait_for_messages, 1, 10.0)
        assert received.rcpt_tos == ("victim+0@gmail.com",)


async def test_without_the_interval_one_inbox_gets_exactly_the_quota(api_factory: Factory) -> None:
    async with api_factory(**{**DEFAULT_LIMITS, "recipient_min_interval_seconds": 0}) as api:
        spellings = _spellings_of_one_gmail_inbox(110)
        statuses = [(await _queue_otp(api.client, to)).status_code for to in spellings]
        assert statuses.count(202) == DEFAULT_LIMITS["recipient_max_per_window"]
        assert statuses.count(429) == 110 - DEFAULT_LIMITS["recipient_max_per_window"]
        # Another mailbox at the domain is a bucket of its own.
        assert (await _queue_otp(api.client, "victim2@gmail.com")).status_code == 202


async def test_one_mailbox_has_a_budget_across_the_auth_kinds(api_factory: Factory) -> None:
    """OTPs, magic links and password resets to one mailbox together: at most
    RECIPIENT_MAX_PER_WINDOW_ALL_KINDS, however they are split between the kinds."""
    async with api_factory(recipient_max_per_window=5, recipient_min_interval_seconds=0) as api:
        total = api.settings.recipient_max_per_window_all_kinds
        assert 5 < total < 15
        statuses = []
        for n in range(5):
            for kind in ("otp", "magic_link", "password_reset"):
                secret = {"code": "123456"} if kind == "otp" else {"token": "t0ken"}
                body = {"kind": kind, "to": f"victim+{kind}{n}@example.net", **secret}
                answer = await api.client.post("/v1/messages", json=body)
                if answer.status_code != 202:
                    _assert_limited(answer, "mailbox")
                statuses.append(answer.status_code)
        assert statuses.count(202) == total


async def test_one_requester_cannot_lock_a_domain_out(api_factory: Factory) -> None:
    """Locking a domain out, with the default limits: an attacker behind
    IP A sprays distinct gmail.com addresses through key K until the domain limit
    refuses it; a visitor of the same app from IP B, and another app (key K2, no IP),
    still get their sign-in mail to gmail.com; IP A stays refused."""
    async with api_factory(**DEFAULT_LIMITS) as api:
        other_key = await _send_key(api)
        ip_a, ip_b = "203.0.113.7", "198.51.100.23"
        quota = api.settings.domain_max_per_window
        statuses = []
        for n in range(quota + 10):
            answer = await _queue_otp(api.client, f"user{n}@gmail.com", ip=ip_a)
            if answer.status_code != 202:
                _assert_limited(answer, "domain")
            statuses.append(answer.status_code)
        assert statuses.count(202) == quota
        assert statuses.count(429) == 10
        alice = await _queue_otp(api.client, "alice.legit@gmail.com", ip=ip_b)
        assert alice.status_code == 202, alice.text
        link = {"kind": "magic_link", "to": "bob.legit@gmail.com", "token": "t0ken"}
        bob = await api.client.post(
            "/v1/messages", json=link, headers={"Authorization": f"Bearer {other_key}"}
        )
        assert bob.status_code == 202, bob.text
        # The same app without an end-user IP has a budget of its own too.
        assert (await _queue_otp(api.client, "carol.legit@gmail.com")).status_code == 202
        _assert_limited(await _queue_otp(api.client, "dave@gmail.com", ip=ip_a), "domain")


async def test_an_ipv6_requester_is_its_64_prefix(api_factory: Factory) -> None:
    """Addresses in one /64 are one requester; the next /64 is another."""
    async with api_factory(domain_max_per_window=2) as api:
        for n, ip in enumerate(("2001:db8:1:2::1", "2001:db8:1:2:ffff::9")):
            answer = await _queue_otp(api.client, f"u{n}@corp.example", ip=ip)
            assert answer.status_code == 202, answer.text
        answer = await _queue_otp(api.client, "u3@corp.example", ip="2001:DB8:1:2::abcd")
        _assert_limited(answer, "domain")
        answer = await _queue_otp(api.client, "u4@corp.example", ip="2001:db8:1:3::1")
        assert answer.status_code == 202, answer.text


async def test_the_end_user_ip_is_never_stored_in_clear(api_factory: Factory) -> None:
    """Rate buckets hold a keyed digest of the requester, not the address; the stored
    message and its events do not mention it."""
    async with api_factory(domain_max_per_window=5) as api:
        answer = await _queue_otp(api.client, "ada@example.org", ip="203.0.113.77")
        assert answer.status_code == 202, answer.text
        details = await api.relay.get_message(answer.json()["id"])
        assert "203.0.113.77" not in repr(details)
        engine = api.relay.outbox.engine
        async with engine.connect() as connection:
            buckets = (await connection.scalars(select(rate_events.c.bucket))).all()
        assert buckets
        assert not any("203.0.113" in bucket for bucket in buckets)


BAD_IPS = ["", "not-an-ip", "203.0.113.256", "1.2.3", "::1%eth0", "203.0.113.0/24", " 1.2.3.4"]


async def test_a_bad_end_user_ip_is_refused_on_every_send_route(api_factory: Factory) -> None:
    async with api_factory() as api:
        bodies = {
            "/send": {"to": "ada@example.org", "subject": "Hi", "html_body": "<p>Hi</p>"},
            "/send/otp": {"to": "ada@example.org", "code": "123456"},
            "/send/magic-link": {"to": "ada@example.org", "token": "t0ken"},
            "/send/password-reset": {"to": "ada@example.org", "token": "t0ken"},
            "/v1/messages": {"kind": "otp", "to": "ada@example.org", "code": "123456"},
        }
        for path, body in bodies.items():
            for ip in [*BAD_IPS, "1" * 10_000]:
                answer = await api.client.post(path, json={**body, "end_user_ip": ip})
                assert answer.status_code == 422, (path, ip, answer.text)
                assert answer.json()["error_code"] == "validation_error"
                assert answer.json()["errors"][0]["field"].endswith("end_user_ip"), answer.text
            good = await api.client.post(path, json={**body, "end_user_ip": "203.0.113.7"})
            assert good.status_code in (200, 202), (path, good.text)
        batch = {"messages": [{**bodies["/v1/messages"], "end_user_ip": "nope"}]}
        [item] = (await api.client.post("/v1/messages/batch", json=batch)).json()["results"]
        assert item["status"] == 422
        assert len(await api.relay.list_messages(limit=50)) == len(bodies)


async def test_the_client_passes_the_end_user_ip(api_factory: Factory) -> None:
    """Every send method of the SDK takes ``end_user_ip``; the relay counts by it."""
    async with (
        api_factory(domain_max_per_window=1) as api,
        AsyncAuthmailClient(api.url, api.settings.api_key, max_retries=0) as client,
    ):
        await client.send_otp("ada@corp.example", "123456", end_user_ip="203.0.113.7")
        with pytest.raises(RateLimitedError) as raised:
            await client.create_message(
                "bea@corp.example", kind="otp", code="1", end_user_ip="203.0.113.7"
            )
        assert raised.value.limit == "domain"
        await client.send_magic_link("bea@corp.example", "t0ken", end_user_ip="198.51.100.1")
        await client.create_message(
            "cy@corp.example", kind="otp", code="1", end_user_ip="198.51.100.2"
        )
        await client.send("dee@corp.example", "Hi", "<p>Hi</p>", end_user_ip="198.51.100.3")
        with pytest.raises(ValidationError) as bad:
            await client.send_password_reset("eve@corp.example", "t0ken", end_user_ip="nope")
        assert bad.value.field == "end_user_ip"
        assert len(await api.relay.list_messages(limit=10)) == 4
