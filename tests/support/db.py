"""Database fixtures (a pytest plugin, loaded from ``tests/conftest.py``).

* ``sqlite_url``: a fresh SQLite file in the test's temporary directory.
* ``postgres_url``: a fresh database ``t_<random>`` on the server named by
  ``TEST_POSTGRES_URL``, dropped afterwards; the test is skipped when that is unset.
* ``db_url``: both of the above, as two parametrized runs (``[sqlite]``, ``[postgres]``;
  the latter carries the ``postgres`` marker).
* ``outbox``: an :class:`Outbox` on a migrated ``db_url``; its engine is disposed after
  the test.
* ``idempotency_store``: an :class:`IdempotencyStore` on the same database as ``outbox``.

:func:`migrate` brings a database to the current schema; :func:`new_message` builds a
valid :class:`NewMessage` for tests; :func:`message_in_status` stores one and takes it to
a given status.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from authmail_relay.db import create_engine, upgrade
from authmail_relay.db.idempotency import IdempotencyStore
from authmail_relay.db.outbox import AttemptRecord, MessageRecord, NewMessage, Outbox
from authmail_relay.ids import new_message_id
from authmail_relay.vocabulary import ErrorCode, Kind, MessageStatus, OversightMode, Priority

POSTGRES_ENV = "TEST_POSTGRES_URL"

#: The secrets key (SECRETS_KEY) of every relay a test runs on PostgreSQL, which needs
#: one; a SQLite relay makes its own key file next to its database.
TEST_SECRETS_KEY = "dGVzdC1vbmx5LXNlY3JldHMta2V5LTMyLWJ5dGVzISE"


def secrets_key_for(database_url: str) -> tuple[bytes, ...]:
    """``Settings.secrets_key`` for a test relay on *database_url*."""
    if database_url.startswith("sqlite"):
        return ()
    return (base64.urlsafe_b64decode(TEST_SECRETS_KEY + "="),)


def postgres_admin_url() -> str | None:
    """The server the PostgreSQL tests use, or None when they are to be skipped."""
    return os.environ.get(POSTGRES_ENV) or None


@contextlib.asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    """Create an empty database on the test server; yield its URL; drop it afterwards."""
    admin = postgres_admin_url()
    if admin is None:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    name = f"t_{secrets.token_hex(6)}"
    admin_url = make_url(admin).set(drivername="postgresql+asyncpg")
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin).set(database=name).render_as_string(hide_password=False)
        finally:
            async with engine.connect() as connection:
                # FORCE: a test that failed half-way may have left connections open.
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


def sqlite_file_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'relay.db'}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return sqlite_file_url(tmp_path)


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield sqlite_file_url(tmp_path)
        return
    async with fresh_postgres_database() as url:
        yield url


async def migrate(db_url: str) -> None:
    """Bring the database at *db_url* to the current schema, leaving no connection open."""
    engine = create_engine(db_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def outbox(db_url: str) -> AsyncIterator[Outbox]:
    engine = create_engine(db_url)
    try:
        await upgrade(engine)
        yield Outbox(engine)
    finally:
        await engine.dispose()


def new_message(**overrides: Any) -> NewMessage:
    """A small valid message; keyword arguments replace any field."""
    message_id = overrides.pop("id", None) or new_message_id()
    fields: dict[str, Any] = {
        "id": message_id,
        "kind": Kind.OTP,
        "priority": Priority.NORMAL,
        "sender": "relay@example.com",
        "recipients": ("user@example.org",),
        "subject": "Your code",
        "message_id": f"<{message_id}@example.com>",
        "raw": b"Subject: Your code\r\n\r\n123456\r\n",
    }
    fields.update(overrides)
    return NewMessage(**fields)


@pytest.fixture
def idempotency_store(outbox: Outbox) -> IdempotencyStore:
    """An :class:`IdempotencyStore` on the same migrated database as ``outbox``."""
    return IdempotencyStore(outbox.engine)


async def message_in_status(
    outbox: Outbox, status: MessageStatus, **overrides: Any
) -> MessageRecord:
    """Store a message and take it to *status* through the outbox's own calls.

    Claims the new message, so no other message may be due when this is called (schedule
    other queued messages for later with ``send_at_ms``). ``deferred`` messages wait an
    hour for their retry. ``held`` and ``rejected`` ones come from a gated key (neither
    is claimed).
    """
    if status in (MessageStatus.HELD, MessageStatus.REJECTED):
        overrides.setdefault("api_key_id", "key_setup_sender")
        held = await outbox.enqueue(new_message(oversight=OversightMode.GATED, **overrides))
        if status is MessageStatus.HELD:
            return held
        return await outbox.reject(held.id, "key_setup_approver", "rejected in setup")
    record = await outbox.enqueue(new_message(**overrides))
    if status is MessageStatus.QUEUED:
        return record
    if status is MessageStatus.CANCELLED:
        return await outbox.cancel(record.id)
    [claim] = await outbox.claim(worker_id="w-setup", limit=1, lease_ms=60_000)
    assert claim.id == record.id, "another message was due"
    now = await outbox.db_now_ms()
    attempt = AttemptRecord(started_at=now, finished_at=now, upstream="mx.example:25")
    if status in (MessageStatus.SENT, MessageStatus.CONSUMED):
        assert await outbox.mark_sent(claim, attempt)
        if status is MessageStatus.CONSUMED:
            return await outbox.consume(record.id)
    elif status is MessageStatus.DEFERRED:
        error = "451 try later"
        assert await outbox.mark_deferred(
            claim, attempt, retry_at=now + 3_600_000, error_message=error
        )
    elif status is MessageStatus.FAILED:
        assert await outbox.mark_failed(
            claim, attempt, error_code=ErrorCode.SMTP_REJECTED, error_message="550 no"
        )
    elif status is MessageStatus.EXPIRED:
        assert await outbox.mark_expired(claim)
    return await outbox.get_message(record.id)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common default umask (022): what files would get without the relay's care."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)
