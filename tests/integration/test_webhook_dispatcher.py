"""Webhook delivery end to end: outbox → dispatcher → a real HTTP receiver on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

pytest.importorskip("sqlalchemy", reason="service tests need the [http] extra")
standardwebhooks = pytest.importorskip("standardwebhooks", reason="needs the [dev] extra")
import trustme
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from authmail_relay.db import create_engine, upgrade
from authmail_relay.db.outbox import Outbox
from authmail_relay.vocabulary import DeliveryStatus, EventType, MessageStatus
from tests.support.db import message_in_status
from tests.support.webhook_rig import Rig, StaticResolver, fast_settings
from tests.support.webhooks import Received, Reply, running_receiver

OWN_SECRET = "per-request s3cret"


@pytest.fixture
async def rig(sqlite_url: str) -> AsyncIterator[Rig]:
    engine = create_engine(sqlite_url)
    try:
        await upgrade(engine)
        yield Rig(Outbox(engine), fast_settings(sqlite_url))
    finally:
        await engine.dispose()


def _legacy_verify(secret: str, request: Received, *, now: float, tolerance: float = 300) -> None:
    """A receiver of the older service: V2 signature over "timestamp.body", fresh timestamp."""
    timestamp = request.headers["x-email-service-timestamp"]
    if abs(now - int(timestamp)) > tolerance:
        raise ValueError("stale timestamp")
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(
        f"sha256={expected}", request.headers["x-email-service-signature-v2"]
    ):
        raise ValueError("bad signature")


class _Later(datetime):
    """``datetime`` ten minutes from now, to see the library refuse a stale timestamp."""

    @classmethod
    def now(cls, tz: Any = None) -> _Later:
        moment = datetime.now(tz) + timedelta(minutes=10)
        return cls.fromtimestamp(moment.timestamp(), tz)


async def test_every_delivery_verifies_and_tampering_does_not(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_receiver() as receiver:
        created = await rig.store.create_endpoint(url=receiver.url(path="/registered"))
        record = await message_in_status(
            rig.outbox,
            MessageStatus.SENT,
            webhook_url=receiver.url(path="/own"),
            webhook_secret=OWN_SECRET,
        )
        async with rig.dispatching():
            requests = await receiver.wait_for(2)
    by_path = {r.path: r for r in requests}
    registered, own = by_path["/registered"], by_path["/own"]
    for request in requests:
        assert request.method == "POST"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"].startswith("authmail-relay/")
    payload = Webhook(created.secret).verify(registered.body, registered.headers)
    assert (payload["type"], payload["data"]["id"]) == ("message.sent", record.id)
    assert "x-email-service-signature" not in registered.headers
    assert Webhook(OWN_SECRET.encode()).verify(own.body, own.headers)["status"] == "delivered"
    _legacy_verify(OWN_SECRET, own, now=time.time())
    legacy_v1 = hmac.new(OWN_SECRET.encode(), own.body, hashlib.sha256).hexdigest()
    assert own.headers["x-email-service-signature"] == f"sha256={legacy_v1}"

    tampered = own.body.replace(b'"delivered"', b'"failed"')
    assert tampered != own.body
    with pytest.raises(WebhookVerificationError):
        Webhook(OWN_SECRET.encode()).verify(tampered, own.headers)
    with pytest.raises(ValueError, match="bad signature"):
        _legacy_verify(OWN_SECRET, Received("POST", "/", own.headers, tampered, 0), now=time.time())
    with pytest.raises(WebhookVerificationError):
        Webhook(b"another secret").verify(own.body, own.headers)
    with pytest.raises(ValueError, match="bad signature"):
        _legacy_verify("another secret", own, now=time.time())
    with pytest.raises(ValueError, match="stale"):
        _legacy_verify(OWN_SECRET, own, now=time.time() + 600)
    monkeypatch.setattr("standardwebhooks.webhooks.datetime", _Later)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(created.secret).verify(registered.body, registered.headers)


async def test_500_500_200_is_three_attempts_of_one_webhook_id(rig: Rig) -> None:
    async with running_receiver() as receiver:
        receiver.reply_with(Reply(500, body=b"oops"), Reply(503))
        record = await message_in_status(
            rig.outbox, MessageStatus.SENT, webhook_url=receiver.url(), webhook_secret=OWN_SECRET
        )
        [delivery] = await rig.deliveries(record.id)
        async with rig.dispatching():
            delivery, attempts = await rig.settled(delivery.id)
    assert len(receiver.requests) == 3
    assert {r.headers["webhook-id"] for r in receiver.requests} == {delivery.id}
    assert len({r.body for r in receiver.requests}) == 1
    stamps = [int(r.headers["webhook-timestamp"]) for r in receiver.requests]
    assert stamps == sorted(stamps)
    for request in receiver.requests:  # each attempt is signed for its own timestamp
        Webhook(OWN_SECRET.encode()).verify(request.body, request.headers)
    assert (delivery.status, delivery.attempt_count, delivery.last_status_code) == (
        DeliveryStatus.SUCCEEDED,
        3,
        200,
    )
    assert [(a.number, a.status_code, a.result) for a in attempts] == [
        (1, 500, "retry"),
        (2, 503, "retry"),
        (3, 200, "succeeded"),
    ]
    assert attempts[0].response == "oops"
    assert all(a.latency_ms >= 0 for a in attempts)


async def test_a_410_disables_the_endpoint(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    abandoned: list[tuple[str, str]] = []
    async with running_receiver() as receiver:
        receiver.default = Reply(410)
        endpoint = (await rig.store.create_endpoint(url=receiver.url())).endpoint
        record = await message_in_status(rig.outbox, MessageStatus.SENT)
        [delivery] = await rig.deliveries(record.id)
        with caplog.at_level(logging.WARNING, logger="authmail_relay.webhooks"):
            async with rig.dispatching(on_abandoned=lambda d, why: abandoned.append((d.id, why))):
                delivery, attempts = await rig.settled(delivery.id)
        later = await message_in_status(rig.outbox, MessageStatus.SENT)
    assert delivery.status is DeliveryStatus.FAILED
    assert [a.status_code for a in attempts] == [410]
    assert not (await rig.store.get_endpoint(endpoint.id)).enabled
    assert await rig.deliveries(later.id) == []
    assert abandoned == [(delivery.id, delivery.last_error)]
    assert f"webhook delivery {delivery.id}" in caplog.text
    assert "abandoned" in caplog.text
    assert f"webhook endpoint {endpoint.id} disabled" in caplog.text


async def test_a_redirect_to_a_private_address_is_not_followed(rig: Rig) -> None:
    settings = fast_settings(rig.settings.database_url, webhook_client_error_attempts=2)
    async with running_receiver() as receiver, running_receiver() as canary:
        receiver.default = Reply(302, headers={"Location": canary.url()})
        record = await message_in_status(rig.outbox, MessageStatus.SENT, webhook_url=receiver.url())
        [delivery] = await rig.deliveries(record.id)
        async with rig.dispatching(settings=settings):
            delivery, attempts = await rig.settled(delivery.id)
    assert canary.connections == 0
    assert [(a.status_code, a.result) for a in attempts] == [(302, "retry"), (302, "failed")]
    assert delivery.last_error == "HTTP 302 after 2 attempts"


async def test_a_slow_receiver_does_not_stall_the_others(rig: Rig) -> None:
    settings = fast_settings(rig.settings.database_url, webhook_timeout_seconds=1)
    async with running_receiver() as slow, running_receiver() as quick:
        slow.reply_with(Reply(hang=True))
        await rig.store.create_endpoint(url=slow.url())
        await rig.store.create_endpoint(url=quick.url())
        record = await message_in_status(rig.outbox, MessageStatus.SENT)
        deliveries = await rig.deliveries(record.id)
        started = time.monotonic()
        async with rig.dispatching(settings=settings):
            await quick.wait_for(1)
            quick_took = time.monotonic() - started
            settled = [await rig.settled(d.id) for d in deliveries]
    assert quick_took < 0.9, "the quick receiver waited for the slow one"
    assert all(d.status is DeliveryStatus.SUCCEEDED for d, _ in settled)
    slow_attempts = next(a for d, a in settled if len(a) > 1)
    assert slow_attempts[0].status_code is None
    assert slow_attempts[0].error == "no answer within 1 s"
    assert 900 <= slow_attempts[0].latency_ms < 3000
    assert slow_attempts[1].status_code == 200


async def test_a_backlog_for_one_slow_host_does_not_hold_up_another_receiver(
    rig: Rig,
) -> None:
    """40 per-request deliveries to a host that never answers (different paths: one
    target), then one to a quick receiver: the quick one goes out within about one
    attempt timeout, not after the backlog (40 x timeout / WEBHOOK_CONCURRENCY)."""
    timeout = 1.0
    settings = fast_settings(
        rig.settings.database_url,
        webhook_timeout_seconds=timeout,
        webhook_retry_base_seconds=5,
        webhook_retry_max_seconds=5,
    )
    assert settings.webhook_concurrency == 8
    async with running_receiver() as slow, running_receiver() as quick:
        slow.default = Reply(hang=True)
        for n in range(40):
            await message_in_status(
                rig.outbox, MessageStatus.SENT, webhook_url=slow.url(path=f"/hook/{n}")
            )
        record = await message_in_status(rig.outbox, MessageStatus.SENT, webhook_url=quick.url())
        [quick_delivery] = await rig.deliveries(record.id)
        started = time.monotonic()
        async with rig.dispatching(settings=settings):
            await quick.wait_for(1, timeout=15)
            quick_took = time.monotonic() - started
            await rig.settled(quick_delivery.id)
            # The slow host never has more than its share of the slots.
            slow_busy = len(slow.requests)
    assert quick_took < 2 * timeout, f"the quick receiver waited {quick_took:.1f} s"
    assert slow_busy <= settings.webhook_concurrency_per_target * 2


async def test_retry_after_is_honoured(rig: Rig) -> None:
    # A first attempt that timed out on a loaded machine would never see the 429 and
    # retry after the short backoff: give it all the time it needs to read the answer.
    rig.settings = replace(rig.settings, webhook_timeout_seconds=30)
    async with running_receiver() as receiver:
        receiver.reply_with(Reply(429, headers={"Retry-After": "1"}))
        record = await message_in_status(rig.outbox, MessageStatus.SENT, webhook_url=receiver.url())
        [delivery] = await rig.deliveries(record.id)
        async with rig.dispatching():
            await rig.settled(delivery.id)
    first, second = receiver.requests
    assert second.at - first.at >= 0.9


async def test_a_per_request_webhook_without_a_secret_is_unsigned(rig: Rig) -> None:
    async with running_receiver() as receiver:
        await message_in_status(rig.outbox, MessageStatus.SENT, webhook_url=receiver.url())
        async with rig.dispatching():
            [request] = await receiver.wait_for(1)
    assert {"webhook-id", "webhook-timestamp", "x-email-service-timestamp"} <= set(request.headers)
    assert not {
        "webhook-signature",
        "x-email-service-signature",
        "x-email-service-signature-v2",
    } & set(request.headers)


async def test_events_reach_one_receiver_in_order(rig: Rig) -> None:
    async with running_receiver() as receiver:
        receiver.reply_with(Reply(500))
        record = await message_in_status(
            rig.outbox, MessageStatus.CONSUMED, webhook_url=receiver.url()
        )
        async with rig.dispatching():
            requests = await receiver.wait_for(3)
            await asyncio.sleep(0.2)
    types = [r.body.split(b'"type":"')[1].split(b'"')[0] for r in requests]
    assert types == [b"message.sent", b"message.sent", b"message.consumed"]
    assert [d.status for d in await rig.deliveries(record.id)] == [DeliveryStatus.SUCCEEDED] * 2


async def test_https_goes_to_the_pinned_address_with_the_original_name(
    rig: Rig, smtp_ca: trustme.CA
) -> None:
    """TLS SNI and certificate checks use the URL's name; the socket goes to the checked IP."""
    server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    smtp_ca.issue_cert("hooks.test").configure_cert(server_ssl)
    client_ssl = ssl.create_default_context()
    smtp_ca.configure_trust(client_ssl)
    settings = fast_settings(rig.settings.database_url, webhook_allow_hosts=("hooks.test",))
    resolver = StaticResolver({"hooks.test": [["127.0.0.1"]], "wrong.test": [["127.0.0.1"]]})
    async with running_receiver(ssl_context=server_ssl) as receiver:
        good = await message_in_status(
            rig.outbox, MessageStatus.SENT, webhook_url=receiver.url(host="hooks.test")
        )
        [delivery] = await rig.deliveries(good.id)
        async with rig.dispatching(settings=settings, resolver=resolver, ssl_context=client_ssl):
            delivery, _ = await rig.settled(delivery.id)
        assert delivery.status is DeliveryStatus.SUCCEEDED
        assert receiver.requests[0].headers["host"] == f"hooks.test:{receiver.port}"

        # The same server under a name its certificate does not cover: refused.
        settings = fast_settings(
            rig.settings.database_url,
            webhook_allow_hosts=("wrong.test",),
            webhook_retry_base_seconds=30,
            webhook_retry_max_seconds=60,  # over the rig's 0.1 s cap: no retry in the test
        )
        bad = await message_in_status(
            rig.outbox, MessageStatus.SENT, webhook_url=receiver.url(host="wrong.test")
        )
        [delivery] = await rig.deliveries(bad.id)
        async with rig.dispatching(settings=settings, resolver=resolver, ssl_context=client_ssl):
            await _attempted(rig, delivery.id)
        _, attempts = await rig.store.get_delivery(delivery.id)
    assert attempts[0].status_code is None
    assert "CERTIFICATE" in (attempts[0].error or "").upper()
    assert len(receiver.requests) == 1


async def _attempted(rig: Rig, delivery_id: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivery, _ = await rig.store.get_delivery(delivery_id)
        if delivery.attempt_count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("no attempt was made")


async def test_a_deleted_target_is_given_up_without_an_attempt(rig: Rig) -> None:
    endpoint = (await rig.store.create_endpoint(url="http://127.0.0.1:9/")).endpoint
    record = await message_in_status(rig.outbox, MessageStatus.SENT)
    [delivery] = await rig.deliveries(record.id)
    await rig.store.update_endpoint(endpoint.id, enabled=False)
    async with rig.dispatching():
        delivery, attempts = await rig.settled(delivery.id)
    assert (delivery.status, attempts) == (DeliveryStatus.FAILED, [])
    assert delivery.last_error == "the endpoint is disabled"


async def test_stopping_releases_in_flight_deliveries(rig: Rig) -> None:
    settings = fast_settings(
        rig.settings.database_url, webhook_timeout_seconds=30, shutdown_grace_seconds=0.2
    )
    async with running_receiver() as receiver:
        receiver.reply_with(Reply(hang=True))
        record = await message_in_status(rig.outbox, MessageStatus.SENT, webhook_url=receiver.url())
        async with rig.dispatching(settings=settings):
            await receiver.wait_for(1)
        [delivery] = await rig.deliveries(record.id)
        assert (delivery.status, delivery.in_flight, delivery.attempt_count) == (
            DeliveryStatus.PENDING,
            False,
            0,
        )
        async with rig.dispatching():
            await rig.settled(delivery.id)
    assert len(receiver.requests) == 2
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]
    assert EventType.SENT.value.encode() in receiver.requests[1].body


async def test_deliveries_written_in_this_process_go_out_at_once(rig: Rig) -> None:
    """With a 30 s poll, a dispatcher woken by the outbox sends a new delivery right away."""
    slow_poll = replace(rig.settings, poll_interval_seconds=30)
    async with (
        running_receiver() as receiver,
        rig.dispatching(settings=slow_poll, wake=rig.outbox.webhooks_due),
    ):
        await asyncio.sleep(0.1)  # the dispatcher has looked once and sleeps
        started = time.monotonic()
        await message_in_status(
            rig.outbox, MessageStatus.SENT, webhook_url=receiver.url(), webhook_secret=OWN_SECRET
        )
        [request] = await receiver.wait_for(1, timeout=5)
        elapsed = time.monotonic() - started
    assert elapsed < 5
    payload = Webhook(OWN_SECRET.encode()).verify(request.body, request.headers)
    assert payload["status"] == "delivered"
