"""The dispatcher in a real worker process: SIGKILL loses no webhook delivery."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="service tests need the [http] extra")

from authmail_relay.db.webhook_store import WebhookStore
from authmail_relay.mail.message_request import MessageRequest
from authmail_relay.relay import Relay
from authmail_relay.settings import Settings
from authmail_relay.vocabulary import DeliveryStatus, MessageStatus
from tests.support.db import migrate, secrets_key_for
from tests.support.processes import service_env
from tests.support.smtpd import SmtpServer
from tests.support.webhooks import Reply, running_receiver

pytestmark = pytest.mark.slow
MESSAGES = 3


def _worker_env(db_url: str, sink: SmtpServer) -> dict[str, str]:
    return service_env(
        db_url,
        sink,
        drop=("SMTP_", "DATABASE_", "WEBHOOK_"),
        SMTP_TIMEOUT="0.5",
        LEASE_SECONDS="1",
        POLL_INTERVAL_SECONDS="0.1",
        RETRY_BASE_SECONDS="0.1",
        SHUTDOWN_GRACE_SECONDS="2",
        WEBHOOK_ALLOW_HOSTS="127.0.0.1",
        # A delivery lease is two attempt timeouts plus 5 s: 7 s here.
        WEBHOOK_TIMEOUT_SECONDS="1",
        WEBHOOK_RETRY_BASE_SECONDS="0.1",
        WEBHOOK_RETRY_MAX_SECONDS="0.2",
    )


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``authmail-relay worker``; its log goes to *log* (read it when a test fails)."""
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "authmail_relay", "--env-file", os.devnull, "worker"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture
async def relay(db_url: str, smtp_sink: SmtpServer) -> AsyncIterator[Relay]:
    await migrate(db_url)
    settings = Settings(
        database_url=db_url,
        secrets_key=secrets_key_for(db_url),
        smtp=smtp_sink.config(tls="none"),
        webhook_allow_hosts=("127.0.0.1",),
    )
    async with Relay(settings) as relay:
        yield relay


async def _wait_for(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_sigkill_between_event_and_delivery_loses_nothing(
    relay: Relay, smtp_sink: SmtpServer, db_url: str, tmp_path: Path
) -> None:
    store = WebhookStore(relay.outbox.engine)
    async with running_receiver() as receiver:
        receiver.reply_with(Reply(hang=True))  # the first delivery is in flight at the kill
        endpoint = (await store.create_endpoint(url=receiver.url())).endpoint
        ids = [
            (
                await relay.submit(
                    MessageRequest(
                        to=f"user{n}@example.org",
                        subject=f"n{n}",
                        html="<p>x</p>",
                        webhook_url=receiver.url(path="/own"),
                        webhook_secret="s3cret",
                    )
                )
            ).id
            for n in range(MESSAGES)
        ]
        env = _worker_env(db_url, smtp_sink)
        log = tmp_path / "worker.log"
        first = _start_worker(env, log)
        try:
            await receiver.wait_for(1, timeout=30)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        at_kill = await store.list_deliveries()
        assert any(d.status is DeliveryStatus.PENDING for d in at_kill), "killed too late"
        in_flight = {d.id for d in at_kill if d.in_flight}
        assert in_flight, "nothing was in flight at the kill"

        second = _start_worker(env, log)
        try:
            await _wait_for(
                lambda: _all_delivered(relay, store, ids, endpoint.id),
                60,
                f"every delivery after the restart (log: {log})",
            )
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(15) == 0
        received = Counter(r.headers["webhook-id"] for r in receiver.requests)
        delivered = {d.id for d in await store.list_deliveries()}
    assert len(delivered) == 2 * MESSAGES
    assert set(received) == delivered, "a delivery never arrived, or an unknown one did"
    # Sent twice only if in flight at the kill (the receiver may have taken it just before):
    # at least once, never lost. The one the receiver held came again, same webhook-id.
    repeated = {webhook_id for webhook_id, count in received.items() if count > 1}
    assert repeated <= in_flight
    assert max(received.values()) == 2


async def _all_delivered(relay: Relay, store: WebhookStore, ids: list[str], endpoint: str) -> bool:
    statuses = {r.id: r.status for r in await relay.list_messages(limit=200)}
    if any(statuses[i] is not MessageStatus.SENT for i in ids):
        return False
    deliveries = await store.list_deliveries()
    targets = Counter((d.message_id, d.endpoint_id) for d in deliveries)
    expected = {(i, target) for i in ids for target in (None, endpoint)}
    return set(targets) == expected and all(
        d.status is DeliveryStatus.SUCCEEDED for d in deliveries
    )
