"""The service's embedded worker listens for wake-ups on PostgreSQL: a message stored by
another process (here, another Relay on its own engine) is sent without waiting for the
poll."""

from __future__ import annotations

import asyncio

import pytest

from authmail_relay.mail.message_request import MessageRequest
from authmail_relay.relay import Relay
from authmail_relay.vocabulary import MessageStatus
from tests.api.conftest import api_settings, running_api
from tests.support.smtpd import SmtpServer

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


async def test_the_embedded_worker_wakes_for_a_message_stored_elsewhere(
    postgres_url: str, smtp_sink: SmtpServer
) -> None:
    settings = api_settings(postgres_url, smtp_sink, poll_interval_seconds=3600)
    async with running_api(settings, smtp_sink) as api:
        # Whether the message is stored before or after the listener has connected, only
        # the listener can wake the worker: its first poll is an hour away.
        await asyncio.sleep(0.5)
        async with Relay(settings) as elsewhere:
            accepted = await elsewhere.submit(
                MessageRequest(to="ada@example.org", subject="hi", html="<p>x</p>")
            )
            record = await api.relay.wait_for_outcome(accepted.id, 10)
        assert record.status is MessageStatus.SENT
