"""A base URL or link origin with port 0 (or any unusable port) is a 422 on every route
that takes one, and nothing is stored or sent."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api


@pytest.mark.parametrize("port", ["0", "00"])
async def test_port_zero_is_refused_wherever_a_link_base_is_given(api: Api, port: str) -> None:
    base_url = f"https://app.example.com:{port}"
    link = {"to": "x8@example.com", "token": "T", "base_url": base_url}
    answers = [
        await api.client.post("/v1/messages", json={"kind": "magic_link", **link}),
        await api.client.post("/send/magic-link", json=link),
        await api.client.post("/send/password-reset", json=link),
        await api.client.post(
            "/v1/keys", json={"name": "k", "scopes": ["send"], "allowed_origins": [base_url]}
        ),
    ]
    assert [answer.status_code for answer in answers] == [422] * 4, [a.text for a in answers]
    assert all("65535" in answer.json()["detail"] for answer in answers)
    assert (await api.client.get("/v1/messages")).json()["data"] == []
    assert not api.sink.messages
