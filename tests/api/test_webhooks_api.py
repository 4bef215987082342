"""Webhooks over real HTTP: /v1/webhooks, URL checks on every route, signed deliveries."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

standardwebhooks = pytest.importorskip("standardwebhooks", reason="needs the [dev] extra")
from standardwebhooks.webhooks import Webhook

from tests.api.conftest import Api
from tests.support.webhook_rig import StaticResolver
from tests.support.webhooks import Reply, running_receiver

pytestmark = pytest.mark.slow
MAIL = {"to": "ada@example.org", "subject": "Hello", "html_body": "<p>Hi</p>"}
Factory = Callable[..., AbstractAsyncContextManager[Api]]
FAST = {
    "webhook_allow_hosts": ("127.0.0.1",),
    "webhook_retry_base_seconds": 0.05,
    "webhook_retry_max_seconds": 0.1,
    "webhook_timeout_seconds": 2,
}
BLOCKED_URLS = [
    "http://10.0.0.1/hook",
    "http://127.0.0.1:9/hook",  # loopback is not allowed in these settings
    "http://localhost/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://2130706433/hook",
    "ftp://hooks.example.com/hook",
    "https://user:pass@hooks.example.com/hook",
    "not a url",
]


async def _deliveries(api: Api, **params: str) -> list[dict[str, Any]]:
    response = await api.client.get("/v1/webhooks/deliveries", params=params)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def _settled(api: Api, message_id: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = await _deliveries(api, message_id=message_id)
        if len(found) >= count and all(d["status"] != "pending" for d in found):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"deliveries of {message_id} did not settle: {found}")


async def test_endpoint_life_cycle(api: Api) -> None:
    created = await api.client.post(
        "/v1/webhooks",
        json={
            "url": "https://hooks.example.com/in",
            "event_types": ["message.failed", "message.sent"],
            "description": "billing",
        },
    )
    assert created.status_code == 201, created.text
    endpoint = created.json()
    secret = endpoint.pop("secret")
    assert secret.startswith("whsec_")
    assert endpoint["event_types"] == ["message.failed", "message.sent"]
    assert endpoint["enabled"] is True
    assert endpoint["previous_secret_valid_until"] is None
    path = f"/v1/webhooks/{endpoint['id']}"

    shown = await api.client.get(path)
    assert shown.json() == endpoint
    assert secret not in shown.text
    listed = await api.client.get("/v1/webhooks")
    assert listed.json() == {"data": [endpoint]}
    assert secret not in listed.text

    patched = await api.client.patch(path, json={"enabled": False, "event_types": []})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["enabled"], patched.json()["event_types"]) == (False, [])

    rotated = await api.client.post(f"{path}/rotate")
    assert rotated.status_code == 200
    assert rotated.json()["secret"] not in (secret, None)
    assert rotated.json()["previous_secret_valid_until"] is not None

    assert (await api.client.delete(path)).status_code == 204
    assert (await api.client.get(path)).status_code == 404
    assert (await api.client.delete(path)).status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/webhooks/whep_01JNOPE0000000000000000000"),
        ("GET", "/v1/webhooks/not-an-id"),
        ("PATCH", "/v1/webhooks/not-an-id"),
        ("DELETE", "/v1/webhooks/whep_01JNOPE0000000000000000000"),
        ("POST", "/v1/webhooks/not-an-id/rotate"),
        ("GET", "/v1/webhooks/deliveries/whd_01JNOPE0000000000000000000"),
        ("POST", "/v1/webhooks/deliveries/nope/replay"),
    ],
)
async def test_unknown_ids_are_404(api: Api, method: str, path: str) -> None:
    response = await api.client.request(method, path, json={} if method == "PATCH" else None)
    assert response.status_code == 404, response.text
    assert response.json()["error_code"] == "not_found"


@pytest.mark.parametrize("url", BLOCKED_URLS)
async def test_blocked_endpoint_urls_are_422(api: Api, url: str) -> None:
    response = await api.client.post("/v1/webhooks", json={"url": url})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "url"
    assert (await api.client.get("/v1/webhooks")).json() == {"data": []}


async def test_a_blocked_url_cannot_be_patched_in(api: Api) -> None:
    created = (await api.client.post("/v1/webhooks", json={"url": "https://h.example.com/"})).json()
    response = await api.client.patch(
        f"/v1/webhooks/{created['id']}", json={"url": "http://192.168.0.1/"}
    )
    assert response.status_code == 422
    assert (await api.client.get(f"/v1/webhooks/{created['id']}")).json()["url"] == (
        "https://h.example.com/"
    )


async def test_descriptions_are_one_line_of_text(api: Api) -> None:
    response = await api.client.post(
        "/v1/webhooks", json={"url": "https://h.example.com/", "description": "a\x00b"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "description"


@pytest.mark.parametrize("event_types", [["message.queued"], ["whatever"]])
async def test_only_webhook_event_types(api: Api, event_types: list[str]) -> None:
    response = await api.client.post(
        "/v1/webhooks", json={"url": "https://h.example.com/", "event_types": event_types}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "event_types"


@pytest.mark.parametrize("url", BLOCKED_URLS[:4])
@pytest.mark.parametrize("route", ["/send", "/v1/messages"])
async def test_blocked_per_request_urls_are_422_and_nothing_is_stored(
    api: Api, route: str, url: str
) -> None:
    response = await api.client.post(route, json={**MAIL, "webhook_url": url})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "webhook_url"
    dry = await api.client.post(
        route, json={**MAIL, "webhook_url": url}, headers={"X-Dry-Run": "true"}
    )
    assert dry.status_code == 422
    assert await api.relay.outbox.list_messages() == []


@pytest.mark.parametrize("route", ["/send", "/v1/messages"])
async def test_a_name_resolving_inside_is_refused_without_naming_the_address(
    api_factory: Factory, route: str
) -> None:
    """The 422 says the address is not allowed, never which address the name resolved to
    or what kind it is (which would map internal DNS for whoever holds a send key)."""
    resolver = StaticResolver({"intranet.example.com": [["127.0.0.1"]]})
    async with api_factory(webhook_resolver=resolver) as api:
        url = "https://intranet.example.com/hook"
        response = await api.client.post(route, json={**MAIL, "webhook_url": url})
        assert await api.relay.outbox.list_messages() == []
    assert response.status_code == 422, response.text
    assert resolver.calls == ["intranet.example.com"]
    assert response.json()["errors"][0]["field"] == "webhook_url"
    assert "intranet.example.com resolves to an address that is not allowed" in response.text
    for detail in ("127.0.0.1", "loopback"):
        assert detail not in response.text


async def test_deliveries_are_signed_both_ways_and_can_be_replayed(api_factory: Factory) -> None:
    async with api_factory(**FAST) as api, running_receiver() as receiver:
        endpoint = (await api.client.post("/v1/webhooks", json={"url": receiver.url()})).json()
        sent = await api.client.post(
            "/send",
            json={
                **MAIL,
                "webhook_url": receiver.url(path="/own"),
                "webhook_secret": "legacy-secret",
                "tags": ["signup"],
            },
        )
        assert sent.json() == {"sent": False, "status": "accepted", "id": sent.json()["id"]}
        message_id = sent.json()["id"]
        deliveries = await _settled(api, message_id, 2)
        requests = await receiver.wait_for(2)

        by_path = {r.path: r for r in requests}
        registered_request = by_path["/hooks"]
        payload = Webhook(endpoint["secret"]).verify(
            registered_request.body, registered_request.headers
        )
        own = by_path["/own"]
        Webhook(b"legacy-secret").verify(own.body, own.headers)
        expected = hmac.new(
            b"legacy-secret",
            own.headers["x-email-service-timestamp"].encode() + b"." + own.body,
            hashlib.sha256,
        ).hexdigest()
        assert own.headers["x-email-service-signature-v2"] == f"sha256={expected}"
        assert payload["type"] == "message.sent"
        assert payload["data"]["id"] == message_id
        assert payload["data"]["tags"] == ["signup"]
        assert payload["data"]["request_id"] == sent.headers["x-request-id"]
        assert b"ada@example.org" not in own.body

        assert {d["status"] for d in deliveries} == {"succeeded"}
        assert {d["endpoint_id"] for d in deliveries} == {None, endpoint["id"]}
        [registered] = await _deliveries(api, endpoint_id=endpoint["id"])
        detail = (await api.client.get(f"/v1/webhooks/deliveries/{registered['id']}")).json()
        assert detail["payload"] == payload
        assert [(a["number"], a["status_code"], a["result"]) for a in detail["attempts"]] == [
            (1, 200, "succeeded")
        ]
        assert detail["attempts"][0]["response"] == "ok"

        replay = await api.client.post(f"/v1/webhooks/deliveries/{registered['id']}/replay")
        assert replay.status_code == 202, replay.text
        assert replay.json()["status"] == "pending"
        again = (await receiver.wait_for(3))[2]
        assert again.headers["webhook-id"] == registered["id"]
        assert again.body == registered_request.body
        await _settled(api, message_id, 2)
        failed_only = await _deliveries(api, status="failed")
        assert failed_only == []


async def test_a_410_disables_the_endpoint_visibly(api_factory: Factory) -> None:
    async with api_factory(**FAST) as api, running_receiver() as receiver:
        receiver.default = Reply(410)
        endpoint = (await api.client.post("/v1/webhooks", json={"url": receiver.url()})).json()
        sent = (await api.client.post("/v1/messages", json=MAIL)).json()
        [delivery] = await _settled(api, sent["id"], 1)
        assert (delivery["status"], delivery["last_status_code"]) == ("failed", 410)
        shown = (await api.client.get(f"/v1/webhooks/{endpoint['id']}")).json()
        assert shown["enabled"] is False
        assert "410" in shown["disabled_reason"]
        enabled = await api.client.patch(f"/v1/webhooks/{endpoint['id']}", json={"enabled": True})
        assert (enabled.json()["enabled"], enabled.json()["disabled_reason"]) == (True, None)


async def test_events_written_by_the_api_fan_out_without_a_worker(api_factory: Factory) -> None:
    """A cancel in an API-only process still queues its notification for the worker."""
    async with api_factory(run_worker=False, **FAST) as api:
        created = (
            await api.client.post(
                "/v1/messages", json={**MAIL, "webhook_url": "https://h.example/"}
            )
        ).json()
        assert (await api.client.post(f"/v1/messages/{created['id']}/cancel")).status_code == 200
        [delivery] = await _deliveries(api, message_id=created["id"])
        assert (delivery["event_type"], delivery["status"], delivery["endpoint_id"]) == (
            "message.cancelled",
            "pending",
            None,
        )


async def test_listing_validation(api: Api) -> None:
    bad = [
        {"status": "nope"},
        {"limit": "0"},
        {"limit": "201"},
        {"cursor": "msg_01JNOPE0000000000000000000"},
        {"endpoint_id": "nope"},
        {"message_id": "whd_01JNOPE0000000000000000000"},
        {"message_id": "msg_\x00"},
    ]
    for params in bad:
        response = await api.client.get("/v1/webhooks/deliveries", params=params)
        assert response.status_code == 422, params
