"""The attack report's CPU denial of service over real HTTP: an over-long or adversarial
header-bound value is answered at once and never stalls the event loop."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.slow
HEAD_THEN_ENDS = "=?utf-8?q?" + "?=" * 8000  # 16 KB
MAIL = {"to": "ada@example.org", "subject": "Hello", "text_body": "x", "html_body": "<p>x</p>"}


async def _answered_fast(api: Api, body: dict[str, Any]) -> None:
    async def health_while_busy() -> float:
        await asyncio.sleep(0.05)  # let the attack request start first
        started = time.perf_counter()
        response = await api.client.get("/health")
        assert response.status_code == 200
        return time.perf_counter() - started

    started = time.perf_counter()
    attack, health = await asyncio.gather(
        api.client.post("/v1/messages", json=body, headers={"X-Dry-Run": "true"}),
        health_while_busy(),
    )
    assert attack.status_code == 422, attack.text
    assert "?=?=" not in attack.text
    # The old scan took 3 to 26 s here, and /health waited as long.
    assert time.perf_counter() - started < 2
    assert health < 1


@pytest.mark.parametrize(
    "body",
    [
        {**MAIL, "headers": {"X-A": HEAD_THEN_ENDS}},
        {**MAIL, "to": "a@example.com" + HEAD_THEN_ENDS[:6000]},
        {**MAIL, "cc": ["a@example.com" + HEAD_THEN_ENDS[:6000]]},
        {**MAIL, "reply_to": HEAD_THEN_ENDS[:6000]},
        {**MAIL, "subject": "=?u?q?=?u?q?" + "?=" * 600, "headers": {"X-A": "\n"}},
    ],
    ids=["16 KB header", "6 KB to", "6 KB cc", "6 KB reply_to", "adversarial subject"],
)
async def test_the_attack_payloads_are_refused_at_once(api: Api, body: dict[str, Any]) -> None:
    await _answered_fast(api, body)


async def test_a_998_character_adversarial_subject_is_accepted_at_once(api: Api) -> None:
    subject = ("=?u?q?=?u?q?" + "?=" * 600)[:998]  # harmless; 9 s of the old scan
    started = time.perf_counter()
    response = await api.client.post(
        "/v1/messages", json={**MAIL, "subject": subject}, headers={"X-Dry-Run": "true"}
    )
    assert response.status_code == 200, response.text
    assert time.perf_counter() - started < 2
