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

from authmail_relay.api import idempotent, routes_messages
from authmail_relay.exceptions import ValidationError
from authmail_relay.mail.message_request import MessageRequest
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
        await _execute(
            tmp_path / "api.db",
            "CREATE TRIGGER refuse_two BEFORE INSERT ON messages WHEN NEW.subject = 'two' "
            "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END",
        )
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


async def _execute(path: Path, statement: str) -> None:
    """Run one statement on the service's database from outside, retrying (for at most
    5 s) while the service's own start-up writes hold the lock."""
    for _ in range(50):
        database = sqlite3.connect(path, isolation_level=None)
        try:
            database.execute(statement)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
        finally:
            database.close()
        await asyncio.sleep(0.1)
    raise TimeoutError(f"the database stayed locked: {statement}")


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


async def test_a_batch_whose_answer_was_lost_replays_its_entries(
    api_factory: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database refuses to record the batch's answer (a real failure, after both
    entries were stored): the client gets a 503 and the key stays locked. The retry that
    takes the key over answers both entries from their own keys — the same message ids —
    and stores nothing again."""
    # Short locks, so the takeover happens within the test rather than after 30 s.
    monkeypatch.setattr(idempotent, "LOCK_MARGIN_SECONDS", 2)
    monkeypatch.setattr(routes_messages, "BATCH_ENTRY_LOCK_MS", 500)
    items = [{**MAIL, "subject": "one"}, {**MAIL, "subject": "two"}]
    headers = {"Idempotency-Key": "batch-lost"}
    async with api_factory() as api:
        # Fires while the switch table has a row: the test empties it once the first
        # run's answer is lost, so the retry can record its own.
        database = tmp_path / "api.db"
        await _execute(database, "CREATE TABLE lose_answers (armed INTEGER)")
        await _execute(database, "INSERT INTO lose_answers VALUES (1)")
        await _execute(
            database,
            "CREATE TRIGGER lose_answer BEFORE UPDATE ON idempotency_keys "
            "WHEN NEW.state = 'done' AND OLD.key = 'batch-lost' "
            "AND EXISTS (SELECT 1 FROM lose_answers) "
            "BEGIN SELECT RAISE(ABORT, 'disk full'); END",
        )
        first = await api.client.post(
            "/v1/messages/batch", json={"messages": items}, headers=headers
        )
        assert first.status_code == 503, first.text
        stored = {m.subject: m.id for m in await api.relay.list_messages()}
        assert sorted(stored) == ["one", "two"]

        busy = await api.client.post(
            "/v1/messages/batch", json={"messages": items}, headers=headers
        )
        assert busy.status_code == 409  # the key was kept, not forgotten
        await _execute(database, "DELETE FROM lose_answers")  # storage has recovered
        await asyncio.to_thread(api.sink.handler.wait_for_messages, 2, 10.0)
        for _ in range(200):  # the worker records both as sent (at most 10 s)
            if {m.status.value for m in await api.relay.list_messages()} == {"sent"}:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(2.2)  # the first run's lock runs out
        retry = await api.client.post(
            "/v1/messages/batch", json={"messages": items}, headers=headers
        )
        assert retry.status_code == 200, retry.text
        results = retry.json()["results"]
        assert [r["status"] for r in results] == [202, 202]
        assert [r["message"]["id"] for r in results] == [stored["one"], stored["two"]]
        assert len(await api.relay.list_messages()) == 2
        again = await api.client.post(
            "/v1/messages/batch", json={"messages": items}, headers=headers
        )
        assert again.json() == retry.json()
        assert again.headers["idempotent-replayed"] == "true"
