"""Migrations build exactly the schema described in ``db/schema.py``, once, and keep data."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from authmail_relay.db import (
    create_engine,
    current_revision,
    head_revision,
    is_current,
    upgrade,
)
from authmail_relay.db.migrate import MIGRATIONS_DIR
from authmail_relay.db.outbox import Outbox
from authmail_relay.db.schema import metadata
from authmail_relay.vocabulary import EventType, MessageStatus
from tests.support.db import new_message


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    diffs: list[Any] = compare_metadata(context, metadata)
    return diffs


def _describe(connection: Connection) -> dict[str, Any]:
    """Columns (name, Python type, nullability), indexes and foreign keys per table."""
    inspector = inspect(connection)
    described: dict[str, Any] = {}
    for table in metadata.sorted_tables:
        described[table.name] = {
            "columns": [
                (c["name"], c["type"].python_type, c["nullable"])
                for c in inspector.get_columns(table.name)
            ],
            "indexes": sorted(
                (i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(table.name)
            ),
            "foreign_keys": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                for f in inspector.get_foreign_keys(table.name)
            ),
            "primary_key": inspector.get_pk_constraint(table.name)["constrained_columns"],
        }
    return described


def _expected() -> dict[str, Any]:
    expected: dict[str, Any] = {}
    for table in metadata.sorted_tables:
        expected[table.name] = {
            "columns": [(c.name, c.type.python_type, c.nullable) for c in table.columns],
            "indexes": sorted((i.name, tuple(c.name for c in i.columns)) for i in table.indexes),
            "foreign_keys": sorted(
                (
                    tuple(c.name for c in fk.columns),
                    fk.referred_table.name,
                    tuple(e.column.name for e in fk.elements),
                )
                for fk in table.foreign_key_constraints
            ),
            "primary_key": [c.name for c in table.primary_key.columns],
        }
    return expected


async def test_migrated_schema_matches_schema_py(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        await upgrade(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
            assert await connection.run_sync(_describe) == _expected()
    finally:
        await engine.dispose()


async def test_upgrade_is_idempotent_and_keeps_data(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        assert await current_revision(engine) is None
        assert await is_current(engine) is False

        await upgrade(engine)
        assert await current_revision(engine) == head_revision() == "0008"
        assert await is_current(engine) is True

        record = await Outbox(engine).enqueue(new_message())
        await upgrade(engine)
        await upgrade(db_url)  # by URL too: its own engine, disposed afterwards
        assert await current_revision(engine) == head_revision()
        assert (await Outbox(engine).get_message(record.id)).id == record.id
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()


def _alembic(connection: Connection, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    getattr(command, action)(config, revision)


async def _migrate(engine: AsyncEngine, action: str, revision: str) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(_alembic, action, revision)


# A message, one event and one attempt as 0001 stored them, written without the outbox
# (whose inserts already name the newer columns).
_ROW_0001 = {
    "id": "msg_01JTESTMIGRATION00000000000",
    "kind": "otp",
    "priority": "high",
    "priority_rank": 0,
    "status": "deferred",
    "sender": "relay@example.com",
    "recipients": '["user@example.org"]',
    "subject": "Your code",
    "message_id": "<m1@example.com>",
    "raw": b"Subject: Your code\r\n\r\n123456\r\n",
    "tags": '["signin"]',
    "metadata": '{"user":42}',
    "created_at": 1_700_000_000_000,
    "updated_at": 1_700_000_000_500,
    "next_attempt_at": 1_700_000_060_000,
    "give_up_at": 1_700_086_400_000,
    "attempt_count": 1,
    "last_error_code": "smtp_transient",
    "last_error_message": "451 try later",
}


async def _store_0001_rows(engine: AsyncEngine) -> None:
    old_messages = sa.table("messages", *(sa.column(name) for name in _ROW_0001))
    message_id = _ROW_0001["id"]
    async with engine.begin() as connection:
        await connection.execute(old_messages.insert().values(**_ROW_0001))
        await connection.execute(
            text(
                "INSERT INTO events (message_id, type, status, created_at, data)"
                " VALUES (:m, 'message.deferred', 'deferred', 1700000000500, '{}')"
            ),
            {"m": message_id},
        )
        await connection.execute(
            text(
                "INSERT INTO attempts (message_id, number, worker_id, upstream, started_at,"
                " finished_at, result, error_code, smtp_code)"
                " VALUES (:m, 1, 'w1', 'mx:25', 1700000000100, 1700000000400, 'deferred',"
                " 'smtp_transient', 451)"
            ),
            {"m": message_id},
        )


async def test_0002_upgrades_a_database_holding_0001_data(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        await _migrate(engine, "upgrade", "0001")
        assert await current_revision(engine) == "0001"
        await _store_0001_rows(engine)

        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
        outbox = Outbox(engine)
        record = await outbox.get_message(_ROW_0001["id"])
        assert record.status is MessageStatus.DEFERRED
        assert record.recipients == ("user@example.org",)
        assert record.tags == ("signin",)
        assert record.meta == {"user": 42}
        assert record.created_at == _ROW_0001["created_at"]
        assert record.attempt_count == 1
        assert record.size == len(_ROW_0001["raw"])
        assert (record.has_webhook, record.api_key_id) == (False, None)
        assert (record.cancelled_at, record.consumed_at) == (None, None)
        assert [e.type for e in await outbox.list_events(record.id)] == [EventType.DEFERRED]
        assert len(await outbox.list_attempts(record.id)) == 1
        # The old message takes part in the new features.
        assert [m.id for m in await outbox.list_messages(tag="signin")] == [record.id]
        cancelled = await outbox.cancel(record.id)
        assert cancelled.status is MessageStatus.CANCELLED
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()


async def test_0002_downgrades_without_touching_0001_data(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        await _migrate(engine, "upgrade", "0001")
        await _store_0001_rows(engine)
        await upgrade(engine)
        await _migrate(engine, "downgrade", "0001")
        assert await current_revision(engine) == "0001"
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda c: inspect(c).get_table_names())
            columns = await connection.run_sync(
                lambda c: [col["name"] for col in inspect(c).get_columns("messages")]
            )
            events_left = await connection.scalar(text("SELECT count(*) FROM events"))
            attempts_left = await connection.scalar(text("SELECT count(*) FROM attempts"))
        assert "idempotency_keys" not in names
        assert "api_key_id" not in columns
        assert (events_left, attempts_left) == (1, 1)

        await upgrade(engine)
        assert (await Outbox(engine).get_message(_ROW_0001["id"])).subject == "Your code"
    finally:
        await engine.dispose()


async def test_0007_keys_existing_deliveries_by_target(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        await _migrate(engine, "upgrade", "0006")
        await _store_0001_rows(engine)
        message_id = _ROW_0001["id"]
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE messages SET webhook_url = 'https://Hooks.example.com/a?b=1'")
            )
            await connection.execute(
                text(
                    "INSERT INTO webhook_endpoints (id, url, secret, created_at, updated_at)"
                    " VALUES ('whep_1', 'https://e.example.com/', 'whsec_x', 1, 1)"
                )
            )
            event_id = await connection.scalar(text("SELECT id FROM events"))
            for delivery_id, endpoint_id, status in (
                ("whd_pending", None, "pending"),
                ("whd_done", None, "succeeded"),
                ("whd_endpoint", "whep_1", "pending"),
            ):
                await connection.execute(
                    text(
                        "INSERT INTO webhook_deliveries (id, event_id, message_id, endpoint_id,"
                        " event_type, payload, status, next_attempt_at, give_up_at,"
                        " created_at, updated_at)"
                        " VALUES (:id, :e, :m, :ep, 'message.deferred', '{}', :s, 1, 2, 1, 1)"
                    ),
                    {
                        "id": delivery_id,
                        "e": event_id,
                        "m": message_id,
                        "ep": endpoint_id,
                        "s": status,
                    },
                )
        await upgrade(engine)
        async with engine.connect() as connection:
            targets = dict(
                (await connection.execute(text("SELECT id, target FROM webhook_deliveries"))).all()
            )
        assert targets == {
            "whd_pending": "host:hooks.example.com:443",
            "whd_done": "host:hooks.example.com:443",  # the same message's: keyed alike
            "whd_endpoint": "endpoint:whep_1",
        }
    finally:
        await engine.dispose()
