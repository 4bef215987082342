"""Migrations build exactly the schema described in ``db/schema.py``, once."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from authmail_relay.db import (
    create_engine,
    current_revision,
    head_revision,
    is_current,
    upgrade,
)
from authmail_relay.db.schema import metadata
from authmail_relay.outbox import Outbox
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
        assert await current_revision(engine) == head_revision() == "0001"
        assert await is_current(engine) is True

        record = await Outbox(engine).enqueue(new_message())
        await upgrade(engine)
        await upgrade(db_url)  # by URL too: its own engine, disposed afterwards
        assert await current_revision(engine) == "0001"
        assert (await Outbox(engine).get_message(record.id)).id == record.id
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()
