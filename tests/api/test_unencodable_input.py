"""Lone surrogates are refused with a 422 everywhere, and a batch never runs twice.

A JSON body may carry ``"\\ud800"``: valid JSON, but not valid Unicode text, and no
database driver or SMTP server can take it. Every field refuses it before anything is
stored. A batch whose items commit one by one keeps its ``Idempotency-Key`` once one
item is stored, so a retry replays the answer instead of storing the items again.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from authmail_relay.exceptions import ValidationError
from authmail_relay.message_request import MessageRequest
from tests.api.conftest import Api

pytestmark = pytest.mark.slow

LONE = "\ud800"
MAIL = {"to": "a@example.com", "subject": "s", "text_body": "x"}
ADMIN_ROUTES: list[tuple[str, dict[str, Any]]] = [
    ("/v1/keys", {"name": LONE, "scopes": ["send"]}),
    ("/v1/keys", {"name": "k", "scopes": ["send"], "allowed_senders": [f"a{LONE}@example.com"]}),
    ("/v1/webhooks", {"url": "https://hooks.example.com/x", "description": LONE}),
]


# Bodies are sent as written (``content=``): they carry lone surrogates as \u escapes.
JSON = {"Content-Type": "application/json"}


def _assert_validation_problem(response: Any, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["error_code"] == "validation_error"
    assert body["status"] == 422
    assert body["request_id"]
    assert any(error["field"].startswith(field) for error in body["errors"]), body


async def test_lone_surrogate_in_metadata_is_422_and_stores_nothing(api: Api) -> None:
    """The report's reproduction: it used to be a 500 from the database driver."""
    body = '{"to":"a@example.com","subject":"s","text_body":"x","metadata":{"k":"\\ud800"}}'
    response = await api.client.post("/v1/messages", content=body, headers=JSON)
    _assert_validation_problem(response, "metadata")
    assert await api.relay.list_messages() == []


@pytest.mark.parametrize(
    "changes",
    [
        {"metadata": {LONE: "v"}},
        {"metadata": {"a": [{"b": {"c": ["ok", LONE]}}]}},
        {"tags": [LONE]},
        {"headers": {"X-A": LONE}},
        {"headers": {f"X-{LONE}": "v"}},
        {"to": f"a{LONE}@example.com"},
        {"cc": [f"a{LONE}@example.com"]},
        {"reply_to": [f"a{LONE}@example.com"]},
        {"from": f"A{LONE} <relay@example.com>"},
        {"subject": LONE},
        {"text_body": LONE},
        {"html_body": f"<p>{LONE}</p>"},
        {"locale": LONE},
        {"webhook_url": f"https://hooks.example.com/{LONE}"},
        {"webhook_secret": LONE},
    ],
    ids=lambda changes: next(iter(changes)),
)
async def test_every_message_field_refuses_lone_surrogates(
    api: Api, changes: dict[str, Any]
) -> None:
    """At any nesting depth, in keys and values: 422 validation_error, nothing stored."""
    field = next(iter(changes))
    for route, base in (("/v1/messages", MAIL), ("/send", {**MAIL, "html_body": "<p>x</p>"})):
        body = _dumps({**base, **changes})
        response = await api.client.post(route, content=body, headers=JSON)
        _assert_validation_problem(response, field)
    assert await api.relay.list_messages() == []


@pytest.mark.parametrize(("route", "payload"), ADMIN_ROUTES)
async def test_admin_bodies_refuse_lone_surrogates(
    api: Api, route: str, payload: dict[str, Any]
) -> None:
    """Keys and webhook endpoints are stored too: the same 422, never a 500."""
    body = _dumps(payload)
    response = await api.client.post(route, content=body, headers=JSON)
    _assert_validation_problem(response, next(k for k, v in payload.items() if not _clean(v)))


async def test_batch_with_a_bad_item_answers_per_item_and_replays(api: Api) -> None:
    """The report's batch: item 0 is stored once, item 1 is a 422, and three retries with
    the same key get the same answer without storing or sending anything again."""
    body = (
        '{"messages":[{"to":"b1@example.com","subject":"one","text_body":"x"},'
        '{"to":"b2@example.com","subject":"two","text_body":"x","metadata":{"k":"\\ud800"}}]}'
    )
    headers = {**JSON, "Idempotency-Key": "batch-1"}
    first = await api.client.post("/v1/messages/batch", content=body, headers=headers)
    assert first.status_code == 200, first.text
    results = first.json()["results"]
    assert [r["status"] for r in results] == [202, 422]
    assert results[1]["problem"]["error_code"] == "validation_error"
    for _ in range(3):
        again = await api.client.post("/v1/messages/batch", content=body, headers=headers)
        assert again.status_code == 200
        assert again.json() == first.json()
        assert again.headers["idempotent-replayed"] == "true"
    stored = await api.relay.list_messages()
    assert [m.id for m in stored] == [results[0]["message"]["id"]]
    await asyncio.to_thread(api.sink.handler.wait_for_messages, 1, 10.0)
    assert len(api.sink.messages) == 1


async def test_storage_failure_mid_batch_keeps_the_key(
    api_factory: Callable[..., Any], tmp_path: Path
) -> None:
    """A real database failure on item 1, after item 0 was committed: item 1 reports it,
    the key is kept, and retries replay the answer and store nothing twice."""
    items = [{**MAIL, "subject": "one"}, {**MAIL, "subject": "two"}, {**MAIL, "subject": "3"}]
    headers = {"Idempotency-Key": "batch-fail"}
    async with api_factory() as api:
        database = sqlite3.connect(tmp_path / "api.db", isolation_level=None)
        try:
            database.execute(
                "CREATE TRIGGER refuse_two BEFORE INSERT ON messages WHEN NEW.subject = 'two' "
                "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
            )
        finally:
            database.close()
        first = await api.client.post(
            "/v1/messages/batch", json={"messages": items}, headers=headers
        )
        assert first.status_code == 200, first.text
        results = first.json()["results"]
        assert [r["status"] for r in results] == [202, 503, 202]
        assert results[1]["problem"]["error_code"] == "storage_unavailable"
        for _ in range(2):
            again = await api.client.post(
                "/v1/messages/batch", json={"messages": items}, headers=headers
            )
            assert again.json() == first.json()
        stored = sorted(m.subject for m in await api.relay.list_messages())
        assert stored == ["3", "one"]
        await asyncio.to_thread(api.sink.handler.wait_for_messages, 2, 10.0)
        assert sorted(str(m.parsed()["Subject"]) for m in api.sink.messages) == ["3", "one"]


def _dumps(payload: dict[str, Any]) -> str:
    """JSON text; json.dumps writes lone surrogates as ``\\uXXXX`` escapes."""
    return json.dumps(payload)


def _clean(value: Any) -> bool:
    return "\\ud800" not in json.dumps(value)


async def test_relay_submit_refuses_lone_surrogates(api: Api) -> None:
    """The core refuses them too, for the library and every other adapter."""
    request = MessageRequest(to="a@example.com", subject="s", text="x", metadata={"k": LONE})
    with pytest.raises(ValidationError) as caught:
        await api.relay.submit(request)
    assert caught.value.field == "metadata"
    assert await api.relay.list_messages() == []
