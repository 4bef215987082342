"""``send_at`` over real HTTP on every create route: scheduled, refused, dry-run, batch,
cancelled, held and approved; a real server, a real SMTP sink, an in-process worker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from authmail_relay.db.api_keys_store import ApiKeyStore
from authmail_relay.vocabulary import OversightMode
from tests.api.conftest import Api, api_settings, running_api
from tests.support.smtpd import SmtpServer

pytestmark = pytest.mark.slow
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MAIL = {"to": "ada@example.org", "subject": "Hello", "html_body": "<p>Hi</p>"}
#: Each create route and a valid body for it (the auth kinds live 10 or 15 minutes).
ROUTES = [
    ("/send", MAIL),
    ("/send/otp", {"to": "ada@example.org", "code": "482913"}),
    ("/send/magic-link", {"to": "ada@example.org", "token": "tok-1"}),
    ("/send/password-reset", {"to": "ada@example.org", "token": "tok-2"}),
    ("/v1/messages", MAIL),
    ("/v1/messages", {"kind": "otp", "to": "ada@example.org", "code": "482913"}),
]


def rfc3339(seconds_from_now: float, offset_hours: int = 0) -> str:
    moment = datetime.now(timezone.utc) + timedelta(seconds=seconds_from_now)
    return moment.astimezone(timezone(timedelta(hours=offset_hours))).isoformat()


def epoch_ms(text: str) -> int:
    """Exact milliseconds (no float rounding), as the relay computes them."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment - EPOCH) // timedelta(milliseconds=1)


@contextlib.asynccontextmanager
async def _service(db_url: str, sink: SmtpServer, **changes: Any) -> AsyncIterator[Api]:
    async with running_api(api_settings(db_url, sink, **changes), sink) as api:
        yield api


@pytest.fixture
def service(db_url: str, smtp_sink: SmtpServer) -> Callable[..., Any]:
    return lambda **changes: _service(db_url, smtp_sink, **changes)


@pytest.mark.parametrize(("path", "body"), ROUTES)
async def test_every_create_route_schedules_and_answers_at_once(
    api: Api, path: str, body: dict[str, Any]
) -> None:
    """202 queued without waiting SEND_WAIT_SECONDS; nothing is sent before its time."""
    send_at = rfc3339(300, offset_hours=2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await api.client.post(path, json={**body, "send_at": send_at})
    assert loop.time() - started < api.settings.send_wait_seconds / 2
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["status"] == "queued"
    if path.startswith("/send"):
        assert answer == {"sent": False, "status": "queued", "id": answer["id"]}
    shown = (await api.client.get(f"/v1/messages/{answer['id']}")).json()
    assert epoch_ms(shown["next_attempt_at"]) == epoch_ms(send_at)
    queued = shown["events"][0]
    assert queued["type"] == "message.queued"
    assert queued["data"]["send_at"] == epoch_ms(send_at)
    await asyncio.sleep(0.3)
    assert api.sink.messages == []


async def test_a_past_send_at_is_sent_now(api: Api) -> None:
    response = await api.client.post("/send", json={**MAIL, "send_at": "2001-01-01T00:00:00Z"})
    assert response.status_code == 200, response.text
    assert response.json()["sent"] is True
    assert len(api.sink.messages) == 1


async def test_a_scheduled_message_is_sent_when_its_time_comes(api: Api) -> None:
    response = await api.client.post("/v1/messages", json={**MAIL, "send_at": rfc3339(1.5)})
    message_id = response.json()["id"]
    await asyncio.sleep(0.5)
    assert api.sink.messages == []
    record = await api.relay.wait_for_outcome(message_id, 10, read_first=True)
    assert record.status.value == "sent"
    assert record.sent_at is not None
    assert record.sent_at >= record.next_attempt_at


BAD_SEND_AT = [
    "tomorrow",
    "2026-11-21T12:00:00",  # naive
    "2026-11-21",
    1_900_000_000,
    True,
    ["2030-01-01T00:00:00Z"],
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-23:59",
    "2030-02-30T00:00:00Z",
    "x" * 1_000_000,
]


@pytest.mark.parametrize("value", BAD_SEND_AT, ids=lambda v: repr(v)[:30])
@pytest.mark.parametrize("path", ["/send", "/v1/messages"])
async def test_bad_send_at_is_a_422_naming_the_field(api: Api, path: str, value: Any) -> None:
    response = await api.client.post(path, json={**MAIL, "send_at": value})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["error_code"] == "validation_error"
    assert [error["field"] for error in problem["errors"]] == ["send_at"]
    if isinstance(value, str) and len(value) > 10:
        assert value not in response.text
    assert len(response.content) < 2000
    assert await api.relay.list_messages() == []


@pytest.mark.parametrize(
    ("body", "seconds"),
    [
        (MAIL, 31 * 86400),  # more than 30 days ahead
        ({**MAIL, "expires_in": 60}, 61),  # just after the expiry (at it: a unit test)
        ({**MAIL, "expires_in": 60}, 3600),
        ({"kind": "otp", "to": "ada@example.org", "code": "1"}, 700),  # OTP lives 600 s
        ({"kind": "magic_link", "to": "ada@example.org", "token": "t"}, 1000),  # links 900 s
    ],
)
async def test_the_window_is_enforced_on_every_path(
    api: Api, body: dict[str, Any], seconds: int
) -> None:
    """Real sends, dry runs and batch entries alike."""
    send_at = rfc3339(seconds)
    real = await api.client.post("/v1/messages", json={**body, "send_at": send_at})
    assert real.status_code == 422, real.text
    assert real.json()["errors"][0]["field"] == "send_at"
    dry = await api.client.post(
        "/v1/messages", json={**body, "send_at": send_at}, headers={"X-Dry-Run": "true"}
    )
    assert dry.status_code == 422, dry.text
    batch = await api.client.post(
        "/v1/messages/batch", json={"messages": [{**body, "send_at": send_at}]}
    )
    [item] = batch.json()["results"]
    assert item["status"] == 422
    assert item["problem"]["errors"][0]["field"] == "send_at"
    assert await api.relay.list_messages() == []


async def test_a_dry_run_accepts_a_good_send_at_and_stores_nothing(api: Api) -> None:
    for path, body in ROUTES:
        response = await api.client.post(
            path, json={**body, "send_at": rfc3339(120)}, headers={"X-Dry-Run": "1"}
        )
        assert response.status_code == 200, (path, response.text)
        assert response.json()["dry_run"] is True
    assert await api.relay.list_messages() == []


async def test_batch_entries_are_scheduled_or_refused_one_by_one(api: Api) -> None:
    later = rfc3339(3600)
    entries = [
        {**MAIL, "send_at": later},
        {**MAIL, "send_at": "2030-01-01T00:00:00"},
        MAIL,
        {**MAIL, "send_at": rfc3339(40 * 86400)},
    ]
    response = await api.client.post("/v1/messages/batch", json={"messages": entries})
    results = response.json()["results"]
    assert [r["status"] for r in results] == [202, 422, 202, 422]
    scheduled = await api.relay.outbox.get_message(results[0]["message"]["id"])
    assert scheduled.next_attempt_at == epoch_ms(later)
    assert scheduled.give_up_at == epoch_ms(later) + 86_400_000


async def test_a_scheduled_send_replays_under_its_idempotency_key(api: Api) -> None:
    body = {**MAIL, "send_at": rfc3339(3600)}
    headers = {"Idempotency-Key": "scheduled-1"}
    first = await api.client.post("/send", json=body, headers=headers)
    again = await api.client.post("/send", json=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len(await api.relay.list_messages()) == 1


async def test_a_scheduled_message_can_be_cancelled(api: Api) -> None:
    created = await api.client.post("/v1/messages", json={**MAIL, "send_at": rfc3339(2)})
    message_id = created.json()["id"]
    cancelled = await api.client.post(f"/v1/messages/{message_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    await asyncio.sleep(2.5)
    assert api.sink.messages == []
    assert (await api.relay.outbox.get_message(message_id)).status.value == "cancelled"


async def test_approving_a_held_scheduled_message_keeps_its_time(
    service: Callable[..., Any],
) -> None:
    send_at = rfc3339(3600)
    async with service() as api:
        store = ApiKeyStore(api.relay.outbox.engine)
        sender = await store.create(
            name="gated", scopes=["send"], oversight=OversightMode.GATED, actor="cli"
        )
        approver = await store.create(name="approver", scopes=["approve"], actor="cli")
        async with (
            api.anonymous(headers={"Authorization": f"Bearer {sender.token}"}) as as_sender,
            api.anonymous(headers={"Authorization": f"Bearer {approver.token}"}) as as_approver,
        ):
            held = await as_sender.post("/send", json={**MAIL, "send_at": send_at})
            assert held.status_code == 202
            assert held.json()["status"] == "held"
            message_id = held.json()["id"]
            approved = await as_approver.post(f"/v1/messages/{message_id}/approve")
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "queued"
        assert epoch_ms(approved.json()["next_attempt_at"]) == epoch_ms(send_at)
        await asyncio.sleep(0.5)
        assert api.sink.messages == []
        record = await api.relay.outbox.get_message(message_id)
        assert record.give_up_at == epoch_ms(send_at) + 86_400_000
