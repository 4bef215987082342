"""At rest, through the real service: owner-only SQLite files, no token, code or webhook
secret left in them in clear once the mail is done, and signatures that still verify."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import stat
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

standardwebhooks = pytest.importorskip("standardwebhooks", reason="needs the [dev] extra")
from standardwebhooks.webhooks import Webhook

from tests.api.conftest import Api
from tests.support.webhooks import running_receiver

pytestmark = pytest.mark.slow

Factory = Callable[..., contextlib.AbstractAsyncContextManager[Api]]


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _database_bytes(database: Path) -> bytes:
    """The database file and, if present, its WAL: everything SQLite keeps on disk."""
    return b"".join(
        path.read_bytes()
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-journal"))
        if path.exists()
    )


async def _until(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@pytest.mark.usefixtures("usual_umask")
async def test_no_secret_is_left_in_the_database_files(
    api_factory: Factory, tmp_path: Path
) -> None:
    database = tmp_path / "api.db"
    token = f"CANARYTOKEN{uuid.uuid4().hex}"
    own_secret = f"CANARYHOOK{uuid.uuid4().hex}"
    async with (
        running_receiver() as receiver,
        api_factory(
            webhook_allow_hosts=("127.0.0.1",),
            webhook_retry_base_seconds=0.05,
            retention_sweep_seconds=0.05,
        ) as api,
    ):
        created = await api.client.post("/v1/webhooks", json={"url": receiver.url(path="/reg")})
        assert created.status_code == 201, created.text
        endpoint_secret = created.json()["secret"]
        sent = await api.client.post(
            "/send/magic-link",
            json={
                "to": "ada@example.org",
                "token": token,
                "webhook_url": receiver.url(path="/own"),
                "webhook_secret": own_secret,
            },
        )
        assert sent.status_code == 200, sent.text
        message_id = sent.json()["id"]
        requests = await receiver.wait_for(2)
        by_path = {request.path: request for request in requests}
        # The sealed secrets still sign: both receivers verify.
        Webhook(endpoint_secret).verify(by_path["/reg"].body, by_path["/reg"].headers)
        Webhook(own_secret.encode()).verify(by_path["/own"].body, by_path["/own"].headers)

        async def erased() -> bool:
            return (await api.relay.outbox.get_message(message_id)).raw_purged_at is not None

        await _until(erased)
        # Still sent and its link still valid: the consumption is reported, and signed.
        consumed = await api.client.post(f"/v1/messages/{message_id}/consume")
        assert consumed.status_code == 200, consumed.text
        [*_, own_consumed] = [r for r in await receiver.wait_for(4) if r.path == "/own"]
        assert (
            Webhook(own_secret.encode()).verify(own_consumed.body, own_consumed.headers)["status"]
            == "consumed"
        )

        async def forgotten() -> bool:
            return not (await api.relay.outbox.get_message(message_id)).has_webhook

        await _until(forgotten)
        record = await api.relay.outbox.get_message(message_id)
        assert record.size > len(token)  # the size is still known
        assert (await api.client.get(f"/v1/messages/{message_id}")).status_code == 200
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            assert _mode(path) == 0o600, path
    # The service has stopped: SQLite has folded its WAL back into the file.
    stored = _database_bytes(database)
    for canary in (token, own_secret, endpoint_secret):
        assert canary.encode() not in stored, canary[:12]
    assert token.encode() in b"".join(m.raw for m in api.sink.messages)


async def test_to_hash_is_keyed_by_the_relay(api_factory: Factory) -> None:
    """A receiver that knows an address cannot find it in a payload by hashing it."""
    address = "ada@example.org"
    async with (
        running_receiver() as receiver,
        api_factory(webhook_allow_hosts=("127.0.0.1",)) as api,
    ):
        created = await api.client.post("/v1/webhooks", json={"url": receiver.url()})
        assert created.status_code == 201, created.text
        sent = await api.client.post("/send/otp", json={"to": address, "code": "123456"})
        assert sent.status_code == 200, sent.text
        [request] = await receiver.wait_for(1)
        keys = api.relay.outbox.keys
    [to_hash] = json.loads(request.body)["data"]["to_hash"]
    assert to_hash != hashlib.sha256(address.encode()).hexdigest()[:16]
    assert len(to_hash) == 16
    assert keys is not None
    assert to_hash == keys.address_hash(address)
