"""A dispatcher over a real SQLite outbox, for integration tests of webhook delivery."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import httpcore

from authmail_relay.db.outbox import Outbox
from authmail_relay.db.webhook_queue import WebhookQueue
from authmail_relay.db.webhook_store import WebhookStore
from authmail_relay.settings import Settings
from authmail_relay.vocabulary import DeliveryStatus
from authmail_relay.webhooks.dispatcher import WebhookDispatcher
from authmail_relay.webhooks.records import Delivery, DeliveryAttempt


def fast_settings(database_url: str, **changes: Any) -> Settings:
    """Short delays and timeouts, loopback allowed: nothing in a test waits long."""
    base = Settings(
        database_url=database_url,
        poll_interval_seconds=0.05,
        shutdown_grace_seconds=1,
        webhook_allow_hosts=("127.0.0.1",),
        webhook_retry_base_seconds=0.05,
        webhook_retry_max_seconds=0.1,
        webhook_timeout_seconds=2,
        webhook_connect_timeout_seconds=1,
    )
    return replace(base, **changes)


@dataclass
class Rig:
    """An outbox, its webhook store and queue, and settings for dispatchers."""

    outbox: Outbox
    settings: Settings

    @property
    def store(self) -> WebhookStore:
        return WebhookStore(self.outbox.engine)

    @property
    def queue(self) -> WebhookQueue:
        return WebhookQueue(self.outbox.engine)

    @contextlib.asynccontextmanager
    async def dispatching(self, **options: Any) -> AsyncIterator[WebhookDispatcher]:
        """A dispatcher running in the background for the duration of the block."""
        settings = options.pop("settings", self.settings)
        dispatcher = WebhookDispatcher(self.queue, settings, **options)
        task = asyncio.create_task(dispatcher.run())
        try:
            yield dispatcher
        finally:
            dispatcher.stop()
            await asyncio.wait_for(task, 10)

    async def settled(
        self, delivery_id: str, timeout: float = 10.0
    ) -> tuple[Delivery, list[DeliveryAttempt]]:
        """The delivery once it succeeded or failed; AssertionError if it does not in time."""
        deadline = time.monotonic() + timeout
        while True:
            delivery, attempts = await self.store.get_delivery(delivery_id)
            if delivery.status is not DeliveryStatus.PENDING:
                return delivery, attempts
            if time.monotonic() > deadline:
                raise AssertionError(f"delivery {delivery_id} still pending: {delivery}")
            await asyncio.sleep(0.02)

    async def deliveries(self, message_id: str) -> list[Delivery]:
        return sorted(
            await self.store.list_deliveries(message_id=message_id), key=lambda d: d.event_id
        )


class StaticResolver:
    """Answers host names from a table (one answer list per call once a list is used up)."""

    def __init__(self, answers: dict[str, Sequence[Sequence[str]]]) -> None:
        self.answers = {host: list(lists) for host, lists in answers.items()}
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append(host)
        lists = self.answers[host]
        return lists.pop(0) if len(lists) > 1 else lists[0]


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Records where connections were asked to go and refuses them all (no real network)."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        raise httpcore.ConnectError("refused by the test backend")

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("no unix sockets")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
