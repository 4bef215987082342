"""Idempotency-Key over HTTP: replay, mismatch, and exactly-once under concurrency."""

from __future__ import annotations

import asyncio

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.slow
MAIL = {"to": "ada@example.org", "subject": "Once", "html_body": "<p>Only once</p>"}


async def test_same_key_same_body_replays(api: Api) -> None:
    """The second request gets the first response back, marked as replayed, and no new mail."""
    headers = {"Idempotency-Key": "order-123"}
    first = await api.client.post("/send", json=MAIL, headers=headers)
    second = await api.client.post(
        "/send", json=dict(reversed(list(MAIL.items()))), headers=headers
    )
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert len(api.sink.messages) == 1
    assert len(await api.relay.list_messages()) == 1


async def test_same_key_different_body_is_422(api: Api) -> None:
    """Reusing a key for another request is refused and sends nothing new."""
    headers = {"Idempotency-Key": "k-1"}
    assert (await api.client.post("/send", json=MAIL, headers=headers)).status_code == 200
    other = await api.client.post("/send", json={**MAIL, "subject": "Twice?"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["error_code"] == "idempotency_key_mismatch"
    assert len(api.sink.messages) == 1


async def test_keys_are_per_route_and_body(api: Api) -> None:
    """The same key on another route is another request (a mismatch), never a replay."""
    headers = {"Idempotency-Key": "shared"}
    assert (await api.client.post("/send", json=MAIL, headers=headers)).status_code == 200
    v1 = await api.client.post("/v1/messages", json=MAIL, headers=headers)
    assert v1.status_code == 422


async def test_twenty_concurrent_requests_make_one_message(api: Api) -> None:
    """20 simultaneous requests with one key: exactly one message reaches the sink."""
    api.sink.handler.delay_at("final_dot", 0.3)
    headers = {"Idempotency-Key": "burst-1"}
    responses = await asyncio.gather(
        *(api.client.post("/send", json=MAIL, headers=headers) for _ in range(20))
    )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {200, 409}, statuses
    assert statuses.count(200) >= 1
    winners = {r.json()["id"] for r in responses if r.status_code == 200}
    assert len(winners) == 1
    for response in responses:
        if response.status_code == 409:
            assert response.json()["error_code"] == "idempotency_key_in_use"
    await asyncio.sleep(0.5)
    assert len(api.sink.messages) == 1
    later = await api.client.post("/send", json=MAIL, headers=headers)
    assert later.status_code == 200
    assert later.json()["id"] in winners


async def test_failed_validation_does_not_burn_the_key(api: Api) -> None:
    """A request that stored nothing forgets its key, so the corrected retry goes through."""
    headers = {"Idempotency-Key": "retry-me"}
    bad = await api.client.post("/v1/messages", json={**MAIL, "to": "nope"}, headers=headers)
    assert bad.status_code == 422
    good = await api.client.post("/v1/messages", json=MAIL, headers=headers)
    assert good.status_code == 202


@pytest.mark.parametrize("key", ["x" * 256, "ключ", "tab\tin"])
async def test_malformed_keys_are_400(api: Api, key: str) -> None:
    """Keys must be 1-255 printable ASCII characters."""
    response = await api.client.post("/send", json=MAIL, headers={"Idempotency-Key": key.encode()})
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid_idempotency_key"
    assert not api.sink.messages
