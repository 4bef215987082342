"""The long poll ``GET /v1/messages/{id}?wait=S`` over real HTTP, on SQLite and PostgreSQL:
it ends on a terminal status or ``held``, or after ``S``; it holds no database connection
while it waits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from authmail_relay.db.api_keys_store import ApiKeyStore
from authmail_relay.vocabulary import OversightMode
from tests.api.conftest import Api, api_settings, running_api
from tests.support.smtpd import SmtpServer

pytestmark = pytest.mark.slow
MAIL = {"to": "ada@example.org", "subject": "Hello", "html_body": "<p>Hi</p>"}
UNKNOWN_ID = "msg_01ZZZZZZZZZZZZZZZZZZZZZZZZ"


@contextlib.asynccontextmanager
async def _service(db_url: str, sink: SmtpServer, **changes: Any) -> AsyncIterator[Api]:
    options = {k: changes.pop(k) for k in ("run_worker",) if k in changes}
    async with running_api(api_settings(db_url, sink, **changes), sink, **options) as api:
        yield api


@pytest.fixture
def service(db_url: str, smtp_sink: SmtpServer) -> Callable[..., Any]:
    return lambda **changes: _service(db_url, smtp_sink, **changes)


async def _timed_get(api: Api, path: str, **params: Any) -> tuple[Any, float]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await api.client.get(path, params=params, timeout=180)
    return response, loop.time() - started


async def test_a_held_message_answers_at_once(service: Callable[..., Any]) -> None:
    async with service() as api:
        gated = await ApiKeyStore(api.relay.outbox.engine).create(
            name="gated", scopes=["send"], oversight=OversightMode.GATED, actor="cli"
        )
        headers = {"Authorization": f"Bearer {gated.token}"}
        async with api.anonymous(headers=headers) as sender:
            held = (await sender.post("/v1/messages", json=MAIL)).json()
        assert held["status"] == "held"
        response, elapsed = await _timed_get(api, f"/v1/messages/{held['id']}", wait=60)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "held"
    assert elapsed < 2


async def test_a_sent_message_answers_as_soon_as_the_worker_sent_it(
    service: Callable[..., Any],
) -> None:
    """The in-process worker delivers to the real sink; the poll ends long before S, with
    the same body as a plain GET."""
    async with service() as api:
        created = (await api.client.post("/v1/messages", json=MAIL)).json()
        response, elapsed = await _timed_get(api, f"/v1/messages/{created['id']}", wait=60)
        plain = (await api.client.get(f"/v1/messages/{created['id']}")).json()
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "sent"
    assert elapsed < 10
    assert len(api.sink.messages) == 1
    assert body == plain
    assert [e["type"] for e in body["events"]][-1] == "message.sent"
    assert body["trail"]


async def test_an_unknown_id_is_a_404_at_once(service: Callable[..., Any]) -> None:
    async with service(run_worker=False) as api:
        response, elapsed = await _timed_get(api, f"/v1/messages/{UNKNOWN_ID}", wait=30)
    assert response.status_code == 404
    assert response.json()["error_code"] == "not_found"
    assert elapsed < 2


async def test_without_a_worker_the_wait_runs_out_and_shows_the_message_queued(
    service: Callable[..., Any],
) -> None:
    async with service(run_worker=False) as api:
        created = (await api.client.post("/v1/messages", json=MAIL)).json()
        response, elapsed = await _timed_get(api, f"/v1/messages/{created['id']}", wait=1.5)
        at_once, quick = await _timed_get(api, f"/v1/messages/{created['id']}")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "queued"
    assert 1.5 <= elapsed < 4
    assert at_once.json()["status"] == "queued"
    assert quick < 1


async def test_waits_hold_no_database_connection(service: Callable[..., Any]) -> None:
    """More long polls than the connection pool has connections (5 + 10 overflow), and
    a plain read still answers at once; a cancel ends them all."""
    async with service(run_worker=False) as api:
        created = (await api.client.post("/v1/messages", json=MAIL)).json()
        path = f"/v1/messages/{created['id']}"
        polls = [
            asyncio.create_task(_timed_get(api, path, wait=30)) for _ in range(api_pool_plus(5))
        ]
        await asyncio.sleep(1)
        assert not any(poll.done() for poll in polls)
        pool = api.relay.outbox.engine.sync_engine.pool
        assert pool.checkedout() <= 2  # type: ignore[attr-defined]
        plain, quick = await _timed_get(api, path)
        assert plain.status_code == 200
        assert quick < 2
        cancelled = await api.client.post(f"{path}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        answers = await asyncio.wait_for(asyncio.gather(*polls), 10)
    assert all(r.status_code == 200 for r, _ in answers)
    assert {r.json()["status"] for r, _ in answers} == {"cancelled"}
    assert max(elapsed for _, elapsed in answers) < 10


def api_pool_plus(extra: int) -> int:
    """SQLAlchemy's default pool: 5 connections and 10 more on overflow."""
    return 5 + 10 + extra


@pytest.mark.parametrize(
    "wait", ["-1", "-0.001", "120.001", "121", "1e9", "nan", "NaN", "inf", "-inf", "soon", ""]
)
async def test_out_of_range_waits_are_422(api: Api, wait: str) -> None:
    response = await api.client.get(f"/v1/messages/{UNKNOWN_ID}", params={"wait": wait})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["error_code"] == "validation_error"
    assert [error["field"] for error in problem["errors"]] == ["query.wait"]


@pytest.mark.parametrize("wait", ["0", "0.0", "120", "1.5"])
async def test_waits_in_range_are_taken(api: Api, wait: str) -> None:
    """Checked before the message is looked up: an unknown id is then a 404."""
    response = await api.client.get(f"/v1/messages/{UNKNOWN_ID}", params={"wait": wait})
    assert response.status_code == 404, response.text
