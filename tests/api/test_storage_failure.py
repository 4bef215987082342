"""Results the database refuses to store: kept and retried, never sent twice; /ready says so.

The failure is real: a trigger in the SQLite database makes every change to a message
that is being sent fail (as a full disk would fail the result write, while reads and new
claims still work), until the test drops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.slow
MAIL = {"to": "ada@example.org", "subject": "Hello", "html_body": "<p>Hi</p>"}
_REFUSE = (
    "CREATE TRIGGER refuse_results BEFORE UPDATE ON messages WHEN OLD.status = 'sending'"
    " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
)


async def _sql(api: Api, statement: str) -> None:
    """Run *statement* on a connection of its own, off the event loop (which must keep
    serving the relay's transactions meanwhile)."""
    path = api.settings.database_url.removeprefix("sqlite:///")

    def run() -> None:
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as connection:
            connection.execute(statement)
            connection.commit()

    await asyncio.to_thread(run)


async def _until(check: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def _status(api: Api, message_id: str) -> str:
    return str((await api.client.get(f"/v1/messages/{message_id}")).json()["status"])


@pytest.fixture
def short_lease(api_factory: Callable[..., Any], smtp_sink: Any) -> Callable[[], Any]:
    def start() -> Any:
        return api_factory(lease_seconds=1, smtp=smtp_sink.config(timeout=0.5))

    return start


async def test_a_result_the_database_refuses_is_retried_not_sent_again(
    short_lease: Callable[[], Any],
) -> None:
    async with short_lease() as api:
        assert api.settings.lease_ms == 3000
        await _sql(api, _REFUSE)
        created = await api.client.post("/v1/messages", json=MAIL)
        assert created.status_code == 202, created.text
        message_id = created.json()["id"]

        async def one_arrived() -> bool:
            return len(api.sink.messages) >= 1

        await _until(one_arrived, 5, "the message at the sink")
        # Well past the lease: the 250 is known, so nothing may send the message again.
        await asyncio.sleep(api.settings.lease_ms / 1000 + 1.5)
        assert await _status(api, message_id) == "sending"
        assert len(api.sink.messages) == 1
        await _sql(api, "DROP TRIGGER refuse_results")

        async def recorded() -> bool:
            return await _status(api, message_id) == "sent"

        await _until(recorded, 10, "the result to be recorded")
        await asyncio.sleep(api.settings.lease_ms / 1000 + 0.5)
        shown = (await api.client.get(f"/v1/messages/{message_id}")).json()
    assert len(api.sink.messages) == 1, "the message was sent again"
    assert shown["status"] == "sent"
    assert [a["smtp_code"] for a in shown["attempts"]] == [250]


async def test_readiness_reports_failing_writes_until_one_succeeds(
    short_lease: Callable[[], Any],
) -> None:
    async with short_lease() as api, api.anonymous() as client:
        await _sql(api, _REFUSE)
        created = await api.client.post("/v1/messages", json=MAIL)
        assert created.status_code == 202, created.text

        async def not_ready() -> bool:
            return (await client.get("/ready")).status_code == 503

        await _until(not_ready, 5, "/ready to fail")
        failing = (await client.get("/ready")).json()
        assert failing["status"] == "not_ready"
        assert failing["checks"]["database"] == "write_failing"
        await _sql(api, "DROP TRIGGER refuse_results")

        async def ready() -> bool:
            return (await client.get("/ready")).status_code == 200

        await _until(ready, 10, "/ready to recover")
        assert (await client.get("/ready")).json()["checks"]["database"] == "ok"
