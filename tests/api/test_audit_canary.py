"""No token, code, link, address or webhook secret ever reaches the audit trail: unique
canaries through every HTTP send path and through the relay's own submit, then every
column of every ``audit`` row (and every checkpoint) is searched for them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from sqlalchemy import select

from authmail_relay.audit_checkpoints import checkpoint_keys, make_checkpoint
from authmail_relay.db import create_engine
from authmail_relay.db.schema import audit, audit_checkpoints
from authmail_relay.mail.message_request import MessageRequest
from authmail_relay.vocabulary import Kind
from tests.api.conftest import Api

pytestmark = pytest.mark.slow
Factory = Callable[..., AbstractAsyncContextManager[Api]]


def _canary(label: str) -> str:
    return f"CANARY{label}{uuid.uuid4().hex}"


async def _stored_text(api: Api) -> str:
    engine = create_engine(api.settings.database_url)
    try:
        async with engine.connect() as connection:
            rows = [
                *(await connection.execute(select(audit))).all(),
                *(await connection.execute(select(audit_checkpoints))).all(),
            ]
    finally:
        await engine.dispose()
    return "\n".join(repr(tuple(row)) for row in rows)


async def test_no_canary_reaches_the_audit_trail(api_factory: Factory) -> None:
    async with api_factory(webhook_allow_hosts=("127.0.0.1",)) as api:
        await _send_canaries(api)


async def _send_canaries(api: Api) -> None:
    canaries: list[str] = []

    def canary(label: str) -> str:
        value = _canary(label)
        canaries.append(value)
        return value

    def address(label: str) -> str:
        return f"{canary(label).lower()}@example.org"

    code = canary("code")[:40]
    bodies: list[tuple[str, dict[str, Any]]] = [
        ("/send/otp", {"to": address("otp"), "code": code}),
        ("/send/magic-link", {"to": address("ml"), "token": canary("token")}),
        ("/send/password-reset", {"to": address("pr"), "token": canary("reset")}),
        (
            "/v1/messages",
            {
                "kind": "magic_link",
                "to": address("v1"),
                "token": canary("v1token"),
                "webhook_url": "http://127.0.0.1:9/hook",
                "webhook_secret": "whsec_" + canary("whsec"),
            },
        ),
        (
            "/v1/messages/batch",
            {"messages": [{"kind": "otp", "to": address("batch"), "code": canary("b")[:40]}]},
        ),
    ]
    for path, body in bodies:
        answer = await api.client.post(path, json=body)
        assert answer.status_code in (200, 202), answer.text
        if path.endswith("batch"):
            assert answer.json()["results"][0]["status"] == 202, answer.text
    # The relay's own path (what the CLI and library callers use), straight to the outbox.
    for kind, field in ((Kind.OTP, "code"), (Kind.PASSWORD_RESET, "token")):
        secret = canary(f"relay{field}")[:40]
        request = MessageRequest(to=address("relay"), kind=kind, **{field: secret})
        await api.relay.submit(request)
    # Let the worker send what it can, so sent entries are written too.
    await asyncio.sleep(1.0)
    keys = checkpoint_keys(api.settings, api.relay.outbox.keys)
    assert await make_checkpoint(api.relay.outbox.engine, keys.signing) is not None

    stored = await _stored_text(api)
    assert "message.accepted" in stored
    assert "message.sent" in stored
    leaks = [value for value in canaries if value[:30].lower() in stored.lower()]
    assert leaks == []
    assert code not in stored
