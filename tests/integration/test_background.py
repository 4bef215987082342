"""Background work stops in its documented order (authmail_relay.background): a delivery
in flight when the stop begins is finished and its webhook event stored before the
webhook dispatcher stops, and nothing is left running when the block exits.

A real relay on SQLite, a real SMTP server (aiosmtpd) that holds its reply to the
final dot, and a real webhook receiver on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

pytest.importorskip("sqlalchemy", reason="service tests need the [http] extra")

from authmail_relay.background import background_work
from authmail_relay.db.webhook_store import WebhookStore
from authmail_relay.mail.message_request import MessageRequest
from authmail_relay.relay import Relay
from authmail_relay.vocabulary import EventType, MessageStatus
from tests.support.db import migrate, secrets_key_for
from tests.support.smtpd import SmtpServer
from tests.support.webhook_rig import fast_settings
from tests.support.webhooks import running_receiver

HELD_SECONDS = 1.0


def _noted(order: list[str], label: str, call: Callable[..., None]) -> Callable[..., None]:
    """*call*, which first appends *label* to *order*."""

    def noted(*args: object) -> None:
        order.append(label)
        call(*args)

    return noted


async def _until_data_arrived(sink: SmtpServer, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while "DATA" not in sink.handler.commands:
        if time.monotonic() > deadline:
            raise AssertionError("the worker never reached DATA")
        await asyncio.sleep(0.01)


async def test_a_delivery_in_flight_is_finished_and_reported_before_the_work_stops(
    sqlite_url: str, smtp_sink: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    await migrate(sqlite_url)
    settings = fast_settings(
        sqlite_url,
        smtp=smtp_sink.config(),
        secrets_key=secrets_key_for(sqlite_url),
        shutdown_grace_seconds=10,  # far more than the reply is held: the send finishes
    )
    # The server stores the message, then waits before answering the final dot.
    smtp_sink.handler.delay_at("final_dot", HELD_SECONDS, times=1)
    order: list[str] = []
    async with running_receiver() as receiver, Relay(settings) as relay:
        store = WebhookStore.from_settings(relay.outbox.engine, settings, keys=relay.outbox.keys)
        await store.create_endpoint(url=receiver.url(), event_types=[EventType.SENT])
        # Recorded, not replaced: each call still does what it always does.
        monkeypatch.setattr(relay, "notify_finished", _noted(order, "sent", relay.notify_finished))
        async with background_work(relay, settings, smtp=settings.require_smtp()) as work:
            monkeypatch.setattr(work.worker, "stop", _noted(order, "worker stop", work.worker.stop))
            dispatcher_stop = _noted(order, "dispatcher stop", work.dispatcher.stop)
            monkeypatch.setattr(work.dispatcher, "stop", dispatcher_stop)
            accepted = await relay.submit(
                MessageRequest(to="user@example.org", subject="Hello", html="<p>Hi</p>")
            )
            await _until_data_arrived(smtp_sink)
            in_flight = await relay.outbox.get_message(accepted.id)
            assert in_flight.status is MessageStatus.SENDING
            stop_began = time.monotonic()
        stopped_after = time.monotonic() - stop_began

        # The worker stopped claiming first, the delivery then finished (its result
        # written), and only then was the dispatcher asked to stop.
        assert order == ["worker stop", "sent", "dispatcher stop"]
        assert stopped_after >= HELD_SECONDS * 0.5  # the exit waited for the send
        message = await relay.outbox.get_message(accepted.id)
        assert message.status is MessageStatus.SENT
        assert len(smtp_sink.handler.messages) == 1
        deliveries = await store.list_deliveries(message_id=accepted.id)
        assert [d.event_type for d in deliveries] == [EventType.SENT]
        # Nothing of the background work outlives the block.
        left = [t for t in asyncio.all_tasks() if t.get_name().startswith("authmail-relay")]
        assert left == []
