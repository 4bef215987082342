"""db/sql.py: each SQLite/PostgreSQL difference builds the SQL of its own database (and
the outbox stays one class that names all its operations).

Behaviour on live databases is covered by tests/contract; these check what each function
writes for each dialect, without a server.
"""

from __future__ import annotations

import pytest

pytest.importorskip("sqlalchemy", reason="service tests need the [http] extra")

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from authmail_relay.db.schema import idempotency_keys, messages
from authmail_relay.db.sql import (
    fold_ascii_case,
    insert_unless_present,
    json_list_contains,
    migrates_at_open,
)

URLS = {
    "sqlite": "sqlite+aiosqlite:///unused.db",
    "postgresql": "postgresql+asyncpg://user@db.invalid/unused",
}


def _engine(dialect: str) -> AsyncEngine:
    return create_async_engine(URLS[dialect])  # lazy: nothing connects


def _sql(engine: AsyncEngine, statement: object) -> str:
    return str(statement.compile(dialect=engine.dialect))  # type: ignore[attr-defined]


def test_fold_ascii_case_folds_only_ascii_letters() -> None:
    assert fold_ascii_case("Ann.LEE@Example.COM") == "ann.lee@example.com"
    assert fold_ascii_case("ÄB@Ö.de") == "Äb@Ö.de"  # non-ASCII letters are left as they are


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_only_sqlite_migrates_at_open(dialect: str) -> None:
    assert migrates_at_open(_engine(dialect)) is (dialect == "sqlite")


@pytest.mark.parametrize(
    ("dialect", "function"),
    [("sqlite", "json_each"), ("postgresql", "jsonb_array_elements_text")],
)
def test_json_list_contains_uses_the_databases_json_functions(dialect: str, function: str) -> None:
    engine = _engine(dialect)
    query = select(messages.c.id).where(
        json_list_contains(engine, messages.c.tags, "otp", fold_case=False)
    )
    text = _sql(engine, query)
    assert function in text
    assert "otp" not in text  # the value is a bound parameter


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_insert_unless_present_does_nothing_on_conflict(dialect: str) -> None:
    engine = _engine(dialect)
    key = [idempotency_keys.c.scope, idempotency_keys.c.key]
    statement = insert_unless_present(engine, idempotency_keys, {"scope": "s", "key": "k"}, key=key)
    assert "ON CONFLICT (scope, key) DO NOTHING" in _sql(engine, statement).replace('"', "")


def test_the_outbox_defines_every_operation_itself() -> None:
    from authmail_relay.db.outbox import Outbox

    assert Outbox.__bases__ == (object,)
    public = [name for name in dir(Outbox) if not name.startswith("_")]
    assert {"enqueue", "claim", "mark_sent", "list_messages"} <= set(public)
    assert [name for name in public if name not in vars(Outbox)] == []
