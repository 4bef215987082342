"""Cross-process wake-ups: NOTIFY in the storing transaction, a listener on its own
connection that survives losing it, and nothing at all on SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sqlalchemy", reason="service tests need the [http] extra")

from sqlalchemy import text
from sqlalchemy.engine import make_url

from authmail_relay.db import create_engine, upgrade
from authmail_relay.db.outbox import Outbox
from authmail_relay.db.wakeups import APPLICATION_NAME, WakeupListener, announce_due
from authmail_relay.vocabulary import Priority
from tests.support.db import new_message
from tests.support.smtpd import free_port

#: Well past the time a notification takes, far below any poll interval that matters.
PROMPT = 5.0
CANARY_PASSWORD = "canary-pw-8f3a1c"


@pytest.fixture
async def pg_outbox(postgres_url: str) -> AsyncIterator[Outbox]:
    engine = create_engine(postgres_url)
    try:
        await upgrade(engine)
        yield Outbox(engine)
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def listening(url: str, wake: asyncio.Event, **options: Any) -> AsyncIterator[WakeupListener]:
    """A started listener that is listening, with the wake-up it gives on connecting
    consumed."""
    options.setdefault("retry_min_s", 0.05)
    async with WakeupListener(url, wake, **options) as listener:
        await asyncio.wait_for(listener.listening.wait(), 10)
        await asyncio.wait_for(wake.wait(), PROMPT)  # "look once": set after connecting
        wake.clear()
        yield listener


async def _stays_unset(event: asyncio.Event, seconds: float) -> bool:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
    return not event.is_set()


@pytest.mark.postgres
async def test_a_committed_message_wakes_a_listener_on_another_connection(
    pg_outbox: Outbox, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="authmail_relay.wakeups")
    # Trust authentication ignores the password; it is there to prove it is never logged.
    url = make_url(postgres_url).set(password=CANARY_PASSWORD).render_as_string(False)
    wake = asyncio.Event()
    async with listening(url, wake):
        for priority in (Priority.HIGH, Priority.LOW):
            started = time.monotonic()
            await pg_outbox.enqueue(new_message(priority=priority))
            await asyncio.wait_for(wake.wait(), PROMPT)
            assert time.monotonic() - started < PROMPT
            wake.clear()
    assert "listening for wake-ups on 127.0.0.1:" in caplog.text
    assert CANARY_PASSWORD not in caplog.text


@pytest.mark.postgres
async def test_a_rolled_back_transaction_wakes_nobody(pg_outbox: Outbox, postgres_url: str) -> None:
    wake = asyncio.Event()
    async with listening(postgres_url, wake):
        async with pg_outbox.engine.connect() as connection:
            await connection.begin()
            await announce_due(connection, Priority.HIGH.value)
            assert await _stays_unset(wake, 0.3), "delivered before the commit"
            await connection.rollback()
        assert await _stays_unset(wake, 1.0), "a rolled-back announcement woke the listener"
        # The same announcement, committed, does get through.
        async with pg_outbox.engine.begin() as connection:
            await announce_due(connection, Priority.HIGH.value)
        await asyncio.wait_for(wake.wait(), PROMPT)


@pytest.mark.postgres
async def test_a_message_scheduled_for_later_does_not_wake(
    pg_outbox: Outbox, postgres_url: str
) -> None:
    wake = asyncio.Event()
    async with listening(postgres_url, wake):
        later = await pg_outbox.db_now_ms() + 3_600_000
        await pg_outbox.enqueue(new_message(send_at_ms=later))
        assert await _stays_unset(wake, 1.0)


@pytest.mark.postgres
async def test_a_message_handed_back_wakes_the_other_workers(
    pg_outbox: Outbox, postgres_url: str
) -> None:
    await pg_outbox.enqueue(new_message())
    [claim] = await pg_outbox.claim(worker_id="stopping", limit=1, lease_ms=60_000)
    wake = asyncio.Event()
    async with listening(postgres_url, wake):
        assert await pg_outbox.release(claim)
        await asyncio.wait_for(wake.wait(), PROMPT)


@pytest.mark.postgres
async def test_the_listener_reconnects_after_its_backend_is_terminated(
    pg_outbox: Outbox, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="authmail_relay.wakeups")
    wake = asyncio.Event()
    async with listening(postgres_url, wake) as listener:
        assert listener.connections == 1
        async with pg_outbox.engine.begin() as connection:
            killed = await connection.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :name AND datname = current_database()"
                ),
                {"name": APPLICATION_NAME},
            )
        assert killed == 1
        deadline = time.monotonic() + 15
        while listener.connections < 2:
            assert time.monotonic() < deadline, "the listener did not reconnect"
            await asyncio.sleep(0.02)
        await asyncio.wait_for(listener.listening.wait(), PROMPT)
        # Notifications sent while it was away are lost, so it wakes once on reconnecting.
        await asyncio.wait_for(wake.wait(), PROMPT)
        wake.clear()
        await pg_outbox.enqueue(new_message())
        await asyncio.wait_for(wake.wait(), PROMPT)
    assert "connection lost; reconnecting" in caplog.text


@pytest.mark.postgres
async def test_the_idle_check_keeps_a_healthy_connection(
    pg_outbox: Outbox, postgres_url: str
) -> None:
    wake = asyncio.Event()
    async with listening(postgres_url, wake, check_interval_s=0.05) as listener:
        await asyncio.sleep(0.5)  # several checks
        await pg_outbox.enqueue(new_message())
        await asyncio.wait_for(wake.wait(), PROMPT)
        assert listener.connections == 1


async def test_an_unreachable_server_is_retried_and_logged_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pytest.importorskip("asyncpg")
    caplog.set_level(logging.INFO, logger="authmail_relay.wakeups")
    url = f"postgresql://relay:{CANARY_PASSWORD}@127.0.0.1:{free_port()}/relay"
    wake = asyncio.Event()
    listener = WakeupListener(url, wake, retry_min_s=0.02, retry_max_s=0.1, connect_timeout_s=2)
    await listener.start()
    deadline = time.monotonic() + 10
    while sum("reconnecting in" in r.getMessage() for r in caplog.records) < 3:
        assert time.monotonic() < deadline, "the listener stopped retrying"
        await asyncio.sleep(0.02)
    await asyncio.wait_for(listener.close(), 5)
    assert not listener.listening.is_set()
    assert not wake.is_set()
    assert CANARY_PASSWORD not in caplog.text
    assert f"127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]}/relay" in caplog.text


async def test_sqlite_needs_no_listener(tmp_path: Path) -> None:
    wake = asyncio.Event()
    listener = WakeupListener(f"sqlite:///{tmp_path / 'relay.db'}", wake)
    assert not listener.enabled
    async with listener:
        await asyncio.sleep(0.05)
    assert not listener.listening.is_set()
    assert listener.connections == 0
    assert not wake.is_set()
    # Storing on SQLite issues no NOTIFY (the statement would not even parse there).
    engine = create_engine(f"sqlite:///{tmp_path / 'relay.db'}")
    try:
        await upgrade(engine)
        await Outbox(engine).enqueue(new_message())
    finally:
        await engine.dispose()
