"""Opening the database, its settings, and failures surfacing as StorageError."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from authmail_relay.db import create_engine, current_revision, sqlite_path, upgrade
from authmail_relay.db.engine import normalize_url
from authmail_relay.db.outbox import Outbox
from authmail_relay.exceptions import ConfigurationError, StorageError
from authmail_relay.vocabulary import MessageStatus
from tests.support.db import new_message


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("sqlite:///relay.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:////var/lib/relay.db", "sqlite+aiosqlite"),
        ("postgresql://u:p@db:5432/relay", "postgresql+asyncpg"),
        ("postgres://u@db/relay", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u@db/relay", "postgresql+asyncpg"),
    ],
)
def test_supported_urls_get_the_async_driver(url: str, driver: str) -> None:
    assert normalize_url(url).drivername == driver


@pytest.mark.parametrize(
    "url",
    ["mysql://u@db/relay", "postgresql+psycopg://u@db/relay", "not a url", "sqlite://"],
)
def test_unsupported_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        create_engine(url)
    if url != "sqlite://":
        assert "postgresql" in str(caught.value)
        assert "sqlite" in str(caught.value)


def test_sqlite_path() -> None:
    assert sqlite_path("sqlite:////var/lib/relay.db") == "/var/lib/relay.db"
    assert sqlite_path("sqlite:///data/relay.db") == "data/relay.db"
    assert sqlite_path("sqlite:///file:/tmp/r.db?mode=ro&uri=true") == "/tmp/r.db"
    assert sqlite_path("postgresql://u@db/relay") is None


async def test_sqlite_connections_are_configured(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'dir' / 'relay.db'}"
    engine = create_engine(url, busy_timeout_ms=1234)
    try:
        async with engine.connect() as connection:
            pragmas = {
                name: (await connection.execute(text(f"PRAGMA {name}"))).scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
    finally:
        await engine.dispose()
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 1234,
    }
    assert (tmp_path / "new" / "dir" / "relay.db").exists()


@pytest.fixture
async def sqlite_outbox(sqlite_url: str) -> AsyncIterator[Outbox]:
    engine = create_engine(sqlite_url)
    await upgrade(engine)
    try:
        yield Outbox(engine)
    finally:
        await engine.dispose()


def _assert_translated(error: StorageError) -> None:
    """Chained to the driver's error; no SQL or message contents in the text."""
    assert error.__cause__ is not None
    assert "123456" not in str(error)  # the body of new_message()
    assert "INSERT" not in str(error)
    assert "SELECT" not in str(error)


async def test_a_directory_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    engine = create_engine(f"sqlite:///{blocker / 'relay.db'}")
    try:
        with pytest.raises(StorageError) as caught:
            await upgrade(engine)
        _assert_translated(caught.value)
        with pytest.raises(StorageError):
            await Outbox(engine).db_now_ms()
    finally:
        await engine.dispose()


async def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "relay.db"
    path.write_bytes(b"this is not an SQLite database, just some bytes " * 100)
    engine = create_engine(f"sqlite:///{path}")
    try:
        with pytest.raises(StorageError):
            await upgrade(engine)
        with pytest.raises(StorageError):
            await Outbox(engine).enqueue(new_message())
    finally:
        await engine.dispose()


async def test_a_read_only_database_refuses_writes(sqlite_url: str, tmp_path: Path) -> None:
    await upgrade(sqlite_url)
    path = sqlite_path(sqlite_url)
    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        outbox = Outbox(engine)
        assert await outbox.list_messages() == []  # reading works
        with pytest.raises(StorageError, match="readonly") as caught:
            await outbox.enqueue(new_message())
        _assert_translated(caught.value)
    finally:
        await engine.dispose()


async def test_a_locked_database_fails_after_the_busy_timeout(
    sqlite_url: str, sqlite_outbox: Outbox
) -> None:
    path = sqlite_path(sqlite_url)
    assert path is not None
    blocker = sqlite3.connect(path, isolation_level=None)
    impatient = create_engine(sqlite_url, busy_timeout_ms=100)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        message = new_message()
        with pytest.raises(StorageError, match="locked") as caught:
            await Outbox(impatient).enqueue(message)
        _assert_translated(caught.value)
        # Reads do not wait for the writer.
        assert await Outbox(impatient).count_by_status() == dict.fromkeys(MessageStatus, 0)
        blocker.execute("ROLLBACK")
        assert await sqlite_outbox.list_messages() == []
        await Outbox(impatient).enqueue(message)
        assert (await sqlite_outbox.get_message(message.id)).status is MessageStatus.QUEUED
    finally:
        blocker.close()
        await impatient.dispose()


async def test_a_failed_commit_raises_and_stores_nothing(sqlite_outbox: Outbox) -> None:
    def fail_commit(_connection: Any) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    event.listen(sqlite_outbox.engine.sync_engine, "commit", fail_commit)
    try:
        message = new_message()
        with pytest.raises(StorageError, match="disk I/O error"):
            await sqlite_outbox.enqueue(message)
    finally:
        event.remove(sqlite_outbox.engine.sync_engine, "commit", fail_commit)
    assert await sqlite_outbox.list_messages() == []


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_an_unreachable_postgresql_server() -> None:
    engine = create_engine(
        f"postgresql://postgres@127.0.0.1:{_unused_port()}/relay", connect_timeout_s=5
    )
    outbox = Outbox(engine)
    try:
        with pytest.raises(StorageError) as caught:
            await outbox.db_now_ms()
        _assert_translated(caught.value)
        with pytest.raises(StorageError):
            await outbox.enqueue(new_message())
        with pytest.raises(StorageError):
            await outbox.claim(worker_id="w", limit=1, lease_ms=1000)
        with pytest.raises(StorageError):
            await upgrade(engine)
        with pytest.raises(StorageError):
            await current_revision(engine)
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_a_missing_postgresql_database(postgres_url: str) -> None:
    engine = create_engine(postgres_url.rsplit("/", 1)[0] + "/t_does_not_exist")
    try:
        with pytest.raises(StorageError, match="does not exist"):
            await Outbox(engine).db_now_ms()
    finally:
        await engine.dispose()


async def test_an_unmigrated_database(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        with pytest.raises(StorageError):
            await Outbox(engine).enqueue(new_message())
    finally:
        await engine.dispose()
